# backend/: the backend core (device discovery, xenbus state machine).
LIB_SRCS += backend/backend.c backend/worker.c
