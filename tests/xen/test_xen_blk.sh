#!/bin/bash
# timeout: 900
# pvio-blkback --hv xen serving the unmodified Linux xen-blkfront of a PV
# domU, in a real Xen 4.17 nested under QEMU TCG (no KVM needed); after
# `xl destroy` a second domU on the same disks finds the first one's data and
# writes its own, and the backend leaks nothing either time.
# Debian's Xen, kernel and busybox are apt-get download'ed into a cache
# (nothing is installed); needs qemu-system-x86_64 (skips without it).
#   PVIO_XEN_BACKEND=kernel   the same checks against Linux xen-blkback
#   PVIO_XEN_LOG=FILE         keep the console log there
set -u
here=$(cd "$(dirname "$0")" && pwd)
mode=${PVIO_XEN_BACKEND:-pvio}
# Linux blkfront module parameters (colon-separated); default: a 16-page
# ring, the most pvio offers (Linux's default is one page). blkfront
# allocates ring entries x (indirect segments + 2) pages per queue for
# persistent grants (~70 MiB a queue here): the domU has 768 MiB, and
# blkfront keeps its default 32 indirect segments (pvio offers 256).
bfp=${PVIO_XEN_BLKFRONT_PARAMS-max_ring_page_order=4}; bfp=${bfp:-none}
. "$here/lib.sh"
xen_setup "$BUILD/blkback/pvio-blkback"

# ---- domU: busybox + xen-blkfront
xen_domu "$work/domu" domU-init.sh drivers/block/xen-blkfront
# ---- dom0: Xen's toolstack, pvio-blkback (and its libraries, from the host:
# liburing, libaio, libxen*), loop + xen-blkback for the reference run
D=$work/dom0
xen_dom0 "$D" dom0-init.sh drivers/block/loop drivers/block/xen-blkback/xen-blkback || exit 1
LD_LIBRARY_PATH= addbin "$D" usr/bin "$BUILD/blkback/pvio-blkback" || exit 1
cp "$here/block-mini" "$D/etc/xen/scripts/"
cp "$here/domu.cfg.in" "$D/etc/xen/"
mkcpio "$work/domu" "$D/boot/domu.gz"
echo "domU image $(du -h "$D/boot/domu.gz" | cut -f1); backend: $mode"

# ---- boot
xen_boot "$D" "pviomode=$mode blkfront_params=$bfp"

echo "---------------- negotiated (xenstore, once the frontend was Connected)"
# from dom0's xenstore-ls -f of both directories, taken once Connected
fe=$(grep -a -m1 -o '^/local/domain/[0-9]*/device/vbd/51712' "$log.txt")
be=$(grep -a -m1 -o '^/local/domain/0/backend/vbd/[0-9]*/51712' "$log.txt")
for k in protocol ring-page-order multi-queue-num-queues feature-persistent \
	 feature-large-sector-size; do
	v=$(grep -a -m1 "^$fe/$k = " "$log.txt" | sed 's/.* = //')
	echo "frontend $k=${v:-(absent)}"
done
for k in max-ring-page-order multi-queue-max-queues feature-persistent \
	 feature-max-indirect-segments feature-flush-cache feature-barrier feature-discard \
	 discard-granularity sector-size physical-sector-size sectors info; do
	v=$(grep -a -m1 "^$be/$k = " "$log.txt" | sed 's/.* = //')
	echo "backend  $k=${v:-(absent)}"
done
echo "---------------- keys: the Linux personality's (tests/blk/linux-blkfront.keys) against the real ones"
xen_keys_check "$top/tests/blk/linux-blkfront.keys" "$fe" "$be" linux_blkfront | tee -a "$log.txt"
echo "---------------- domU view"
grep -a -E '^(SYSFS|insmod|xvdb)|blkfront: xvd' "$log.txt"
echo "---------------- pvio-blkback log"
sed -n '/^----- pvio-blkback log/,/^----- hotplug log/p' "$log.txt" | head -60
need="linux_blkfront_keys xl_create xvda_present size sector_size domu_reads_dom0_mark domu_write_mark
 image_sees_domu_write indirect_segments direct_1MiB_writes image_sees_direct_writes flush
 discard ro_disk_readable ro_disk_refuses_write ro_image_untouched domu_finished backend_dir_removed
 xl_create_second second_xvda_present second_domu_reads_first second_domu_write
 image_sees_second_domu_write second_backend_dir_removed"
[ "$mode" = pvio ] && need="$need blkback_started blkback_survives_destroy blkback_no_fd_leak
 blkback_no_mapping_leak blkback_no_spin_one_cpu blkback_survives_destroy_second
 blkback_no_fd_leak_second blkback_no_mapping_leak_second"
xen_judge "unmodified Linux xen-blkfront against the $mode backend" $need
