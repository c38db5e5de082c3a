# tests/backend: the backend core's helpers (backend/backend.h).
TEST_BINS += tests/backend/test_poll_default
TEST_BINS += tests/backend/test_worker
TEST_BINS += tests/backend/test_pollwin
