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
TEST_BINS += tests/netback/test_netback_hostile
SRCS_test_netback_hostile := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_backlog
SRCS_test_netback_backlog := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_kill
SRCS_test_netback_kill := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_mq
SRCS_test_netback_mq := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_uplink
SRCS_test_netback_uplink := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_memif
SRCS_test_netback_memif := $(NB_E2E_SRCS)
TEST_BINS += tests/netback/test_netback_rate
SRCS_test_netback_rate := $(NB_E2E_SRCS)
LONG_TESTS += $(BUILD)/tests/netback/test_netback_rate

#  fuzz_netback     libFuzzer harness of the DPDK-free parts (clang), run
#                   for a bounded time by test_fuzz_netback.sh
NB_CLANG := $(shell command -v clang 2>/dev/null)
ifneq ($(NB_CLANG),)
NB_FUZZ := $(BUILD)/tests/netback/fuzz_netback
NB_FUZZ_SRCS := tests/netback/fuzz_netback.c netback/nb_pkt.c netback/nb_tx.c \
	netback/nb_mactable.c netback/nb_hash.c
$(NB_FUZZ): $(NB_FUZZ_SRCS) $(wildcard netback/nb_*.h)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(NB_CLANG) -std=gnu11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I. \
		-fsanitize=fuzzer,address,undefined -o $@ $(NB_FUZZ_SRCS)
build-all: $(NB_FUZZ)
endif
TEST_SCRIPTS += tests/netback/test_fuzz_netback.sh
TEST_SCRIPTS += tests/netback/test_netback_scale.sh
