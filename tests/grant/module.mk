# tests/grant/: grant-table semantics, batches, concurrency, persistent cache.
TEST_BINS += tests/grant/test_gnttab_flags
TEST_BINS += tests/grant/test_gnttab_ops
TEST_BINS += tests/grant/test_gnttab_concurrency
TEST_BINS += tests/grant/test_pgrant
TEST_BINS += tests/grant/test_gnttab_hostile
