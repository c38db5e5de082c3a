# blkback/: the block backend. engine*.c are its I/O engines (engine.h):
# io_uring (liburing, found with pkg-config), libaio (Debian ships no .pc:
# found by its header) and psync (always built).
LIB_SRCS += blkback/engine.c
LIB_SRCS += blkback/engine_psync.c
LIB_SRCS += blkback/engine_fault.c

ifneq ($(call have,liburing),)
LIB_SRCS += blkback/engine_uring.c
LIB_LIBS += $(shell pkg-config --libs liburing)
CFLAGS_blkback_engine_uring := $(shell pkg-config --cflags liburing)
CFLAGS_blkback_engine += -DPVIO_HAVE_URING
endif

ifneq ($(wildcard /usr/include/libaio.h),)
LIB_SRCS += blkback/engine_aio.c
LIB_LIBS += -laio
CFLAGS_blkback_engine += -DPVIO_HAVE_AIO
endif

# rbd (librbd; Debian ships no .pc for librbd/librados: found by the
# header). rbd.c (the target parser, the entry points) is always built;
# engine_rbd.c only into pvio-blkback, since librbd and librados cost ~14 ms
# and ~20 MB in each process that links them (rbd.h).
LIB_SRCS += blkback/rbd.c
ifneq ($(wildcard /usr/include/rbd/librbd.h),)
CFLAGS_blkback_rbd += -DPVIO_HAVE_RBD
SRCS_pvio-blkback += blkback/engine_rbd.c
LIBS_pvio-blkback += -lrbd -lrados
endif

# The data path (blkback.c), the control plane (xenbus.c), the daemon.
LIB_SRCS += blkback/blkback.c blkback/xenbus.c
BINS += blkback/pvio-blkback
