# frontend/: guest-side drivers. blkfront: data path (blkfront.c) and
# control plane (blkfront_xenbus.c).
LIB_SRCS += frontend/blkfront.c frontend/blkfront_xenbus.c
# netfront: data path (netfront.c) and control plane (netfront_xenbus.c).
LIB_SRCS += frontend/netfront.c frontend/netfront_xenbus.c
# What both share: logging, wake-ups, the store and the xenbus steps.
LIB_SRCS += frontend/fe_common.c
