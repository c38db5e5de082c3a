# tests/netfront/: netfront against an in-process fake netback
# (tests/netfront/fake_netback.c) on nodes written by the toolstack library;
# the toolstack's VIFSPEC parser; the network CLI against a pviod.
TEST_BINS += tests/netfront/test_vifspec
TEST_SCRIPTS += tests/netfront/test_net_cli.sh
