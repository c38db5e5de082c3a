# blkback/: the block backend. engine*.c are its I/O engines (engine.h):
# io_uring (liburing, found with pkg-config), libaio (Debian ships no .pc:
# found by its header) and psync (always built).
LIB_SRCS += blkback/engine.c
LIB_SRCS += blkback/engine_psync.c
