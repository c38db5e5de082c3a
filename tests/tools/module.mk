# tests/tools/: the pvio CLI.
#  test_xlcfg        xl's config file syntax and DISKSPEC forms (unit)
#  test_create_cfg   pvio create FILE against pviod and pvio-blkback
TEST_BINS += tests/tools/test_xlcfg
TEST_SCRIPTS += tests/tools/test_create_cfg.sh
TEST_SCRIPTS += tests/tools/test_top_blk.sh
TEST_SCRIPTS += tests/tools/test_top_blk_io.sh
TEST_SCRIPTS += tests/tools/test_top_net.sh
TEST_SCRIPTS += tests/tools/test_netio_fill.sh
