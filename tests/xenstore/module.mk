# tests/xenstore: the store, the client library, xenbus helpers, and interop
# with Xen's own xenstore tools and libxenstore.
TEST_BINS += tests/xenstore/test_xs_ops
TEST_BINS += tests/xenstore/test_xs_watch
TEST_BINS += tests/xenstore/test_xs_txn
TEST_BINS += tests/xenstore/test_xs_perms
TEST_BINS += tests/xenstore/test_xs_quota
