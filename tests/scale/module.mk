# tests/scale: many guests on one backend (issue 15): 256 disks on one
# pvio-blkback (make test-long: a 20 s workload), exhaustion on purpose,
# ports.
TEST_SCRIPTS += tests/scale/test_scale_blk.sh
TEST_SCRIPTS += tests/scale/test_scale_exhaust.sh
TEST_BINS += tests/scale/test_scale_ports
TEST_SCRIPTS += tests/scale/test_scale_netexhaust.sh
LONG_TESTS += tests/scale/test_scale_blk.sh
