# netback/: the network backend, pvio-netback (a DPDK application).
#
# The DPDK-free parts go into libpvio, so that tests and fuzzers use them
# without EAL: tx request parsing and validation (nb_tx.c), the MAC learning
# table (nb_mactable.c), Toeplitz hashing and the ctrl ring (nb_hash.c), and
# header parsing, checksums and segmentation headers (nb_pkt.c).
LIB_SRCS += netback/nb_pkt.c netback/nb_tx.c netback/nb_mactable.c netback/nb_hash.c

# The daemon: the switch and uplinks (switch.c), the vif data path
# (netback.c), the vif control plane (xenbus.c), the poller threads
# (backend/worker.c). Only these objects see
# DPDK's cflags (-march=corei7, -include rte_config.h).
ifneq ($(call have,libdpdk),)
NB_DPDK_CFLAGS := $(shell pkg-config --cflags libdpdk)
BINS += netback/pvio-netback
SRCS_pvio-netback := netback/switch.c netback/netback.c netback/xenbus.c
LIBS_pvio-netback := $(shell pkg-config --libs libdpdk)
CFLAGS_netback_pvio-netback := $(NB_DPDK_CFLAGS)
CFLAGS_netback_switch := $(NB_DPDK_CFLAGS)
CFLAGS_netback_netback := $(NB_DPDK_CFLAGS)
CFLAGS_netback_xenbus := $(NB_DPDK_CFLAGS)
endif
