# tests/netback/: pvio-netback.
#  test_nb_*        unit tests of the DPDK-free parts (no EAL)
TEST_BINS += tests/netback/test_nb_tx tests/netback/test_nb_mactable \
	tests/netback/test_nb_ctrl tests/netback/test_nb_pkt
#  test_netback_*   end to end: pviod + pvio-netback processes, raw test
#                   frontends (nbfront.c) on vif nodes written by nbtest.c
NB_E2E_SRCS := tests/netback/nbfront.c tests/netback/nbtest.c
TEST_BINS += tests/netback/test_netback_switch
SRCS_test_netback_switch := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_offload
SRCS_test_netback_offload := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_hostile tests/netback/test_netback_hostile_pg
SRCS_test_netback_hostile := $(NB_E2E_SRCS)
SRCS_test_netback_hostile_pg := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_backlog
SRCS_test_netback_backlog := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_kill
SRCS_test_netback_kill := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_mq
SRCS_test_netback_mq := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_uplink
SRCS_test_netback_uplink := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_gen
SRCS_test_netback_gen := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_memif
SRCS_test_netback_memif := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_faults
SRCS_test_netback_faults := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_rate
SRCS_test_netback_rate := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_mcast tests/netback/test_netback_hash \
	tests/netback/test_netback_xdp
SRCS_test_netback_mcast := $(NB_E2E_SRCS)
SRCS_test_netback_hash := $(NB_E2E_SRCS)
SRCS_test_netback_xdp := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_personalities
SRCS_test_netback_personalities := $(NB_E2E_SRCS)
LONG_TESTS += $(BUILD)/tests/netback/test_netback_rate

TEST_SCRIPTS += tests/netback/test_netback_scale.sh
TEST_SCRIPTS += tests/netback/test_netio_reflect.sh
# guests on two hosts (namespaces) over VXLAN: net_tap uplinks, kernel guests
TEST_SCRIPTS += tests/netback/test_vxlan_hosts.sh
