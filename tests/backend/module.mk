# tests/backend: the backend core's helpers (backend/backend.h).
TEST_BINS += tests/backend/test_poll_default
TEST_BINS += tests/backend/test_worker
TEST_BINS += tests/backend/test_pollwin
# backend/throttle.h: xl rates and netback's credit; QEMU's throttling.
TEST_BINS += tests/backend/test_rate tests/backend/test_throttle
# The statistics shared memory (backend/stats.h): writer and reader.
TEST_BINS += tests/backend/test_stats
