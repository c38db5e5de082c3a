# tests/xen: the backends against real Xen. test_hv_xen_absent checks the
# xen implementation fails cleanly off Xen; test_xen_blk.sh, test_xen_net.sh
# and test_xen_save.sh (xl save + restore under disk load) boot Xen nested
# under QEMU TCG (they skip when qemu-system-x86_64 or the Debian packages
# are missing). `make test-xen` runs the nested tests alone. test_xen_save.sh
# (about 80 s of TCG) is in make test-xen and make test-long, not in
# make test, to keep the suite within its 20 minutes on 2 CPUs.
TEST_BINS += tests/xen/test_hv_xen_absent
TEST_SCRIPTS += tests/xen/test_xen_blk.sh tests/xen/test_xen_net.sh
LONG_TESTS += tests/xen/test_xen_save.sh

.PHONY: test-xen
test-xen: build-all
	$(Q)BUILD=$(BUILD) tests/run tests/xen/test_xen_blk.sh tests/xen/test_xen_net.sh \
		tests/xen/test_xen_save.sh
