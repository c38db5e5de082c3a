# xenstore/: the store daemon (library: xsd*.c, program: pvio-xenstored),
# the client library (xs.c) and the xenbus helpers (xenbus.c).
LIB_SRCS += xenstore/xs_common.c xenstore/xsd_store.c xenstore/xsd_ops.c xenstore/xsd.c \
	xenstore/xs.c xenstore/xenbus.c
BINS += xenstore/pvio-xenstored
