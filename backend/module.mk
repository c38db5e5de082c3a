# backend/: the backend core (device discovery, xenbus state machine), the
# shared poller threads (worker.c) and the I/O limits both backends use
# (throttle.c: xl rates and netback's credit, QEMU's throttling).
LIB_SRCS += backend/backend.c backend/worker.c backend/throttle.c
# Counters in shared memory for pvio top (stats.c).
LIB_SRCS += backend/stats.c
