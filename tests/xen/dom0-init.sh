#!/bin/busybox sh
# /init of the nested-Xen dom0 (tests/xen/test_xen_blk.sh). The kernel
# command line picks the backend: pviomode=pvio (pvio-blkback --hv xen,
# xen-blkback NOT loaded) or pviomode=kernel (Linux xen-blkback, for
# reference).
. /etc/dom0-common.sh
mkdir -p /data; mount -t tmpfs -o size=200m tmpfs /data
mode=pvio; grep -q pviomode=kernel /proc/cmdline && mode=kernel
up "INIT mode=$mode"
if [ $mode = kernel ]; then dom0_start loop xen-blkback; else dom0_start loop; fi
echo "blkback module loaded: $(grep -c '^xen_blkback' /proc/modules)"

# The disks: a 32 MiB read-write image and a 4 MiB read-only one, with
# markers dom0 wrote for the domU to find.
dd if=/dev/zero of=/data/disk.img bs=1M count=32 2>/dev/null
echo "DOM0-MARK-AT-1MiB" | dd of=/data/disk.img bs=512 seek=2048 conv=notrunc 2>/dev/null
yes DISCARD-ME-PLEASE | head -c 1048576 | dd of=/data/disk.img bs=1M seek=12 conv=notrunc 2>/dev/null
dd if=/dev/zero of=/data/ro.img bs=1M count=4 2>/dev/null
echo "RO-DISK-MARK" | dd of=/data/ro.img conv=notrunc 2>/dev/null
if [ $mode = kernel ]; then
	losetup /dev/loop0 /data/disk.img; losetup -r /dev/loop1 /data/ro.img
	t0=/dev/loop0; t1=/dev/loop1
else
	t0=/data/disk.img; t1=/data/ro.img
fi
bp=$(sed -n 's/.*blkfront_params=\([^ ]*\).*/\1/p' /proc/cmdline)
sed -e "s|@T0@|$t0|" -e "s|@T1@|$t1|" -e "s|@BP@|${bp:-none}|" /etc/xen/domu.cfg.in > /etc/xen/domu.cfg

BPID=
[ $mode = pvio ] && backend_start blkback /var/log/pvio-blkback.log \
	pvio-blkback --hv xen --verbose --max-queues 2

up "xl create"
xl create /etc/xen/domu.cfg; rc=$?
[ $rc = 0 ] && res xl_create PASS || res xl_create FAIL "rc=$rc"
DOMID=$(xl domid domu 2>/dev/null)
FE=/local/domain/$DOMID/device/vbd/51712
BE=/local/domain/0/backend/vbd/$DOMID/51712
up "domu is domain $DOMID"

dumped=0; done_seen=0; gone=0; i=0
while [ $i -lt 1000 ]; do
	if [ $dumped = 0 ] && [ "$(xenstore-read $FE/state 2>/dev/null)" = 4 ]; then
		dumped=1
		echo "----- frontend $FE -----"; xenstore-ls -f $FE
		echo "----- backend $BE -----"; xenstore-ls -f $BE
		echo "----- read-only disk backend -----"; xenstore-ls -f ${BE%/*}/51728
	fi
	grep -q DOMU-CHECKS-DONE /var/log/xen/console/guest-domu.log 2>/dev/null && { done_seen=1; break; }
	# Gone (twice in a row: xl can fail while another xl holds its lock)?
	if xl list domu >/dev/null 2>&1; then gone=0; else gone=$((gone+1)); [ $gone -ge 8 ] && break; fi
	usleep 250000; i=$((i+1))
done
[ $done_seen = 1 ] && res domu_finished PASS || res domu_finished FAIL "waited $((i/4))s"

# Patterns the domU wrote, found at the right offsets in the image.
got=$(dd if=/data/disk.img bs=512 skip=6144 count=1 2>/dev/null | head -c 17)
[ "$got" = DOMU-MARK-AT-3MiB ] && res image_sees_domu_write PASS "offset 3 MiB: $got" \
	|| res image_sees_domu_write FAIL "offset 3 MiB: '$got'"
want=$(yes PVIO-DIRECT-1MiB-WRITES | head -c 4194304 | md5sum | cut -d' ' -f1)
got=$(dd if=/data/disk.img bs=1M skip=4 count=4 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$got" = "$want" ] && res image_sees_direct_writes PASS "4 MiB at 4 MiB md5 $got" \
	|| res image_sees_direct_writes FAIL "md5 $got want $want"
if grep -q "DISCARD-ISSUED" /var/log/xen/console/guest-domu.log; then
	z=$(dd if=/data/disk.img bs=1M skip=12 count=1 2>/dev/null | md5sum | cut -d' ' -f1)
	zz=$(head -c 1048576 /dev/zero | md5sum | cut -d' ' -f1)
	[ "$z" = "$zz" ] && res image_discarded PASS "12 MiB..13 MiB reads zero in the image" \
		|| res image_discarded FAIL "discarded range not zero ($z)"
fi
got=$(head -c 12 /data/ro.img)
[ "$got" = RO-DISK-MARK ] && res ro_image_untouched PASS || res ro_image_untouched FAIL "'$got'"

[ $mode = pvio ] && backend_note_connected
up "xl destroy"
xl destroy domu; echo "xl destroy rc=$?"
# The backend nodes go away when the backend has let go.
backend_dir_gone backend_dir_removed $BE
[ $mode = pvio ] && backend_check_idle blkback

# Ready for the next domain: a second domU on the same disks finds what the
# first wrote and writes its own; its teardown leaks nothing either.
up "xl create domu2"
sed -e 's/^name = "domu"/name = "domu2"/' -e 's/^extra = "/extra = "pviopass=2 /' \
	/etc/xen/domu.cfg > /etc/xen/domu2.cfg
xl create /etc/xen/domu2.cfg && res xl_create_second PASS || res xl_create_second FAIL
D2=$(xl domid domu2 2>/dev/null); C2=/var/log/xen/console/guest-domu2.log
console_wait $C2 DOMU-CHECKS-DONE
got=$(dd if=/data/disk.img bs=512 skip=10240 count=1 2>/dev/null | head -c 18)
[ "$got" = DOMU2-MARK-AT-5MiB ] && res image_sees_second_domu_write PASS "offset 5 MiB: $got" \
	|| res image_sees_second_domu_write FAIL "offset 5 MiB: '$got' (domU2 done after ${WAITED}s)"
[ $mode = pvio ] && backend_note_connected
xl destroy domu2; echo "xl destroy domu2 rc=$?"
backend_dir_gone second_backend_dir_removed /local/domain/0/backend/vbd/$D2/51712
if [ $mode = pvio ]; then
	backend_check_idle blkback _second
	backend_stop blkback
	echo "----- pvio-blkback log -----"; cat /var/log/pvio-blkback.log
fi
echo "----- hotplug log -----"; cat /var/log/xen/hotplug.log 2>/dev/null
echo "----- domU console log -----"; cat /var/log/xen/console/guest-domu.log
echo "----- domU2 console log -----"; cat $C2
echo "----- end domU console log -----"
up "DOM0-DONE"
poweroff -f
