# tests/blkengine: the block I/O engines (blkback/engine.h) across the matrix
# io_uring (defer/coop/plain setup) x libaio x psync (4 and 1 threads), on
# ext4 buffered, ext4 O_DIRECT and tmpfs files, and a loop block device.
#   rw       random I/O against a model (fixed region, plain, multi-iovec, EOF)
#   api      argument checks, depth/-EBUSY, reap, fd readiness, close, threads
#   discard  DISCARD/FLUSH: st_blocks, zeros, BLKDISCARD on a loop device
#   fixed    io_uring fixed buffers past 1 GiB, and the memlock fallback
#   fault    the fault engine (engine_fault.c) around each engine
TEST_BINS += tests/blkengine/test_blkengine_rw
TEST_BINS += tests/blkengine/test_blkengine_api
TEST_BINS += tests/blkengine/test_blkengine_discard
TEST_BINS += tests/blkengine/test_blkengine_fixed
TEST_BINS += tests/blkengine/test_blkengine_fault
