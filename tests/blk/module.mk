TEST_BINS += tests/blk/test_blk_hostile tests/blk/test_blk_local
# Windows (xenvbd), Linux, FreeBSD and MiniOS blkfronts reproduced key for
# key and state for state; 512- and 4096-byte sectors.
TEST_BINS += tests/blk/test_blk_personalities
# Control-plane faults: 1000 connect/disconnect cycles (5000 with PVIO_LONG_TESTS=1),
# mute guests, directories removed, the store cut under the backend.
TEST_BINS += tests/blk/test_blk_ctrlfaults
LONG_TESTS += $(BUILD)/tests/blk/test_blk_ctrlfaults
TEST_SCRIPTS += tests/blk/test_blk_smoke.sh
TEST_SCRIPTS += tests/blk/test_blk_matrix.sh
TEST_SCRIPTS += tests/blk/test_blk_resident.sh
TEST_SCRIPTS += tests/blk/test_blk_crash.sh
TEST_SCRIPTS += tests/blk/test_blk_features.sh
TEST_SCRIPTS += tests/blk/test_blk_limits.sh
LONG_TESTS += tests/blk/long_limits.sh
TEST_SCRIPTS += tests/blk/test_blk_fair.sh
TEST_SCRIPTS += tests/blk/test_blk_faults.sh
TEST_SCRIPTS += tests/blk/test_blk_storelost.sh
TEST_SCRIPTS += tests/blk/test_blk_pgrant.sh
# blkfront hybrid polling on a disk slower than the spin window.
TEST_SCRIPTS += tests/blk/test_blk_hybrid.sh
LONG_TESTS += tests/blk/test_blk_fair.sh

