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

# The data path (blkback.c), the control plane (xenbus.c), the daemon.
LIB_SRCS += blkback/blkback.c blkback/xenbus.c
BINS += blkback/pvio-blkback
