# tests/netback/: pvio-netback.
#  test_nb_*        unit tests of the DPDK-free parts (no EAL)
TEST_BINS += tests/netback/test_nb_tx tests/netback/test_nb_mactable \
	tests/netback/test_nb_ctrl tests/netback/test_nb_pkt
