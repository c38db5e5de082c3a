# tests/xen: the backends against real Xen. test_hv_xen_absent checks the
# xen implementation fails cleanly off Xen; test_xen_blk.sh, test_xen_net.sh
# and test_xen_save.sh (xl save + restore, live migration, under disk and
# network load) boot Xen nested under QEMU TCG (they skip when
# qemu-system-x86_64 or the Debian packages are missing). `make test-xen`
# runs the nested tests alone. test_xen_save.sh saves and restores a PV
# domU in make test (about 65 s of TCG); make test-long runs it with
# PVIO_LONG_TESTS=1: PV, PVH and HVM save/restore and PVH migrations, about
# 10 minutes, kept out of make test's 20 minutes on 2 CPUs.
TEST_BINS += tests/xen/test_hv_xen_absent
TEST_SCRIPTS += tests/xen/test_xen_blk.sh tests/xen/test_xen_net.sh tests/xen/test_xen_save.sh
LONG_TESTS += tests/xen/test_xen_save.sh

.PHONY: test-xen
test-xen: build-all
	$(Q)BUILD=$(BUILD) tests/run tests/xen/test_xen_blk.sh tests/xen/test_xen_net.sh \
		tests/xen/test_xen_save.sh
