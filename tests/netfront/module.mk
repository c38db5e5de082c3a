# tests/netfront/: netfront against an in-process fake netback
# (tests/netfront/fake_netback.c) on nodes written by the toolstack library;
# the toolstack's VIFSPEC parser; the network CLI against a pviod.
NF_TEST_SRCS := tests/netfront/fake_netback.c
TEST_BINS += tests/netfront/test_netfront_loop
SRCS_test_netfront_loop := $(NF_TEST_SRCS)
TEST_BINS += tests/netfront/test_vifspec
TEST_SCRIPTS += tests/netfront/test_net_cli.sh
TEST_BINS += tests/netfront/test_netfront_hostile
SRCS_test_netfront_hostile := $(NF_TEST_SRCS)
TEST_SCRIPTS += tests/netfront/test_net_e2e.sh
