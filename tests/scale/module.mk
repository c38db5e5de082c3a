# tests/scale: many guests on one backend (issue 15). PVIO_SCALE_GUESTS=256
# tests/scale/test_scale_blk.sh runs the long version (not in `make test`).
TEST_SCRIPTS += tests/scale/test_scale_blk.sh
TEST_SCRIPTS += tests/scale/test_scale_exhaust.sh
TEST_BINS += tests/scale/test_scale_ports
TEST_SCRIPTS += tests/scale/test_scale_netexhaust.sh
