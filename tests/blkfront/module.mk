# tests/blkfront/: blkfront unit tests against an in-process fake backend
# (tests/blkfront/fake_backend.c) on the toolstack nodes of fake_toolstack.c.
BF_TEST_SRCS := tests/blkfront/fake_backend.c tests/blkfront/fake_toolstack.c
TEST_BINS += tests/blkfront/test_blkfront_data
SRCS_test_blkfront_data := $(BF_TEST_SRCS)
TEST_BINS += tests/blkfront/test_blkfront_hostile
SRCS_test_blkfront_hostile := $(BF_TEST_SRCS)
TEST_BINS += tests/blkfront/test_blkfront_reconnect
SRCS_test_blkfront_reconnect := $(BF_TEST_SRCS)
TEST_BINS += tests/blkfront/test_blkfront_api
SRCS_test_blkfront_api := $(BF_TEST_SRCS)
