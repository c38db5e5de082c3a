# tests/xen: the backends against real Xen. test_hv_xen_absent checks the
# xen implementation fails cleanly off Xen; test_xen_blk.sh boots Xen nested
# under QEMU TCG (skips when qemu-system-x86_64 or the Debian packages are
# missing). `make test-xen` runs the nested test alone.
TEST_BINS += tests/xen/test_hv_xen_absent
TEST_SCRIPTS += tests/xen/test_xen_blk.sh

.PHONY: test-xen
test-xen: build-all
	$(Q)BUILD=$(BUILD) tests/run tests/xen/test_xen_blk.sh
