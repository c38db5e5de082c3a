# tests/xenstore: the store, the client library, xenbus helpers, and interop
# with Xen's own xenstore tools and libxenstore.
TEST_BINS += tests/xenstore/test_xs_ops
TEST_BINS += tests/xenstore/test_xs_watch
TEST_BINS += tests/xenstore/test_xs_txn
TEST_BINS += tests/xenstore/test_xs_perms
TEST_BINS += tests/xenstore/test_xs_quota
ifneq ($(call have,xenstore),)
TEST_BINS += tests/xenstore/test_xs_libxenstore
LIBS_test_xs_libxenstore := $(shell pkg-config --libs xenstore)
endif
TEST_SCRIPTS += tests/xenstore/test_xs_tools.sh
TEST_BINS += tests/xenstore/test_xenbus
