#!/bin/bash
# timeout: 900
# pvio-netback --hv xen switching the unmodified Linux xen-netfront of two
# PV domUs and a DPDK net_tap uplink into dom0, in a real Xen 4.17 nested
# under QEMU TCG: pings between the domUs and to dom0, 4 MiB transfers
# domU->domU, domU->dom0 and dom0->domU checked by md5, teardown leaves
# pvio-netback with the fds and grant mappings it started with, and a third
# domU created afterwards reaches dom0 and fetches 1 MiB intact.
# Debian's Xen, kernel and busybox are apt-get download'ed into a cache
# (nothing is installed); needs qemu-system-x86_64 (skips without it).
#   PVIO_XEN_BACKEND=kernel   the same checks against Linux xen-netback
#   PVIO_XEN_LOG=FILE         keep the console log there
set -u
mode=${PVIO_XEN_BACKEND:-pvio}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
nb=$BUILD/netback/pvio-netback
xen_setup "$nb"
# DPDK's mempool handler and the tap PMD are plugins (loaded with -d).
pmds=$(ls -d /usr/lib/x86_64-linux-gnu/dpdk/pmds-* 2>/dev/null | head -1)
[ -f "$pmds/librte_mempool_ring.so" ] && [ -f "$pmds/librte_net_tap.so" ] ||
	skip "DPDK's librte_mempool_ring/librte_net_tap plugins not found"

# ---- domU: busybox + xen-netfront
xen_domu "$work/domu" net-domU-init.sh drivers/net/xen-netfront
# ---- dom0: Xen's toolstack, pvio-netback and its libraries (from the host:
# DPDK, libxen*), tun for the tap uplink; xen-netback and the Linux bridge
# for the reference run
D=$work/dom0
xen_dom0 "$D" net-dom0-init.sh drivers/net/tun drivers/net/xen-netback/xen-netback \
	net/llc/llc net/802/stp net/bridge/bridge || exit 1
LD_LIBRARY_PATH= addbin "$D" usr/bin "$nb" || exit 1
LD_LIBRARY_PATH= addbin "$D" usr/lib/dpdk "$pmds/librte_mempool_ring.so" \
	"$pmds/librte_net_tap.so" || exit 1
cp "$here/vif-mini" "$D/etc/xen/scripts/"
cp "$here/net.cfg.in" "$D/etc/xen/"
mkcpio "$work/domu" "$D/boot/domunet.gz"
echo "domU image $(du -h "$D/boot/domunet.gz" | cut -f1)"

# ---- boot
xen_boot "$D" "pviomode=$mode"

echo "---------------- vif keys (xenstore, once domu1's frontend was Connected)"
grep -a -E '^/local/domain/[0-9]+/(device|backend)/vif/' "$log.txt" |
	grep -v -E '/(mac|handle|uuid|script|frontend|backend|online|bridge|type|hotplug-status|backend-id|frontend-id) = '
echo "---------------- keys: the Linux personality's (tests/netback/linux-netfront.keys) against the real ones"
fe=$(grep -a -m1 -o '^/local/domain/[0-9]*/device/vif/0' "$log.txt")
be=$(grep -a -m1 -o '^/local/domain/0/backend/vif/[0-9]*/0' "$log.txt")
xen_keys_check "$top/tests/netback/linux-netfront.keys" "$fe" "$be" linux_netfront | tee -a "$log.txt"
echo "---------------- $mode backend log"
sed -n '/^----- pvio-netback log/,/^----- domU1 console/p' "$log.txt" | grep -v '^EAL' | head -80
grep -a 'transfer times' "$log.txt"
need="linux_netfront_keys dom0_if_up xl_create_1 xl_create_2 vif_connected_dom1 vif_connected_dom2 first_ping
 ping_20x1400 ping_dom0_tap dom0_pings_domu1 transfer_domu1_to_domu2 transfer_domu1_to_dom0
 transfer_dom0_to_domu1 xl_create_3 third_domu_pings_dom0 transfer_dom0_to_third_domu"
[ "$mode" = pvio ] && need="$need netback_started netback_survives_destroy netback_no_fd_leak
 netback_no_mapping_leak netback_no_spin_one_cpu netback_survives_destroy_third
 netback_no_fd_leak_third netback_no_mapping_leak_third netback_clean_exit"
xen_judge "two unmodified Linux xen-netfronts and dom0 switched by the $mode backend" $need
