# ring/: the shared-ring engine and the wire ABIs (headers); ring.c holds the
# few non-inline helpers.
LIB_SRCS += ring/ring.c
