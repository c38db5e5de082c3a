# backend/: the backend core (device discovery, xenbus state machine) and
# the I/O limits both backends use (throttle.c: xl rates and netback's
# credit, QEMU's throttling).
LIB_SRCS += backend/backend.c backend/throttle.c
