#!/bin/busybox sh
# /init of the nested-Xen dom0 (tests/xen/test_xen_blk.sh). The kernel
# command line picks the backend: pviomode=pvio (pvio-blkback --hv xen,
# xen-blkback NOT loaded) or pviomode=kernel (Linux xen-blkback, for
# reference). Every check prints one "RESULT <name> PASS|FAIL|SKIP <detail>"
# line; the host collects them from the console.
/bin/busybox --install -s /bin
export PATH=/usr/lib/xen-4.17/bin:/usr/sbin:/usr/bin:/bin LD_LIBRARY_PATH=/lib/x86_64-linux-gnu
mkdir -p /proc /sys /dev /tmp /run /var/run; mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm /dev/pts /data; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o size=200m tmpfs /data
mkdir -p /var/run/xen /var/run/xenstored /var/lib/xen /var/log/xen/console /var/lib/xenstored
up(){ echo "== [dom0 $(cut -d' ' -f1 /proc/uptime)] $*"; }
res(){ echo "RESULT $*"; }
mode=pvio; grep -q pviomode=kernel /proc/cmdline && mode=kernel
up "INIT mode=$mode"
MODS="xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc loop"
[ $mode = kernel ] && MODS="$MODS xen-blkback"
for m in $MODS; do insmod /mods/$m.ko || echo "insmod $m FAILED"; done
mount -t xenfs xenfs /proc/xen
echo "blkback module loaded: $(grep -c '^xen_blkback' /proc/modules)"

xenstored --pid-file /var/run/xen/xenstored.pid; echo "xenstored rc=$?"
i=0; while [ ! -s /var/run/xen/xenstored.pid ] && [ $i -lt 50 ]; do usleep 100000; i=$((i+1)); done
xen-init-dom0 >/dev/null; echo "xen-init-dom0 rc=$?"
xenconsoled --pid-file=/var/run/xen/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console
up "xenstored + xenconsoled up"

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
if [ $mode = pvio ]; then
	pvio-blkback --hv xen --verbose --max-queues 2 > /var/log/pvio-blkback.log 2>&1 &
	BPID=$!
	# Ready when its device watch is registered: poll for the process
	# and its xenstore socket (no fixed sleep).
	i=0; while [ $i -lt 50 ]; do
		ls -l /proc/$BPID/fd 2>/dev/null | grep -q socket && break
		usleep 100000; i=$((i+1))
	done
	kill -0 $BPID 2>/dev/null && res blkback_started PASS "pid=$BPID" || { res blkback_started FAIL; cat /var/log/pvio-blkback.log; }
	FD0=$(ls /proc/$BPID/fd | wc -l)
	echo "pvio-blkback fds before xl create: $FD0"
fi

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

if [ $mode = pvio ]; then
	FD1=$(ls /proc/$BPID/fd | wc -l)
	echo "pvio-blkback fds while connected: $FD1"
	ls -l /proc/$BPID/fd | sed 's/^/  fd: /'
fi
up "xl destroy"
xl destroy domu; echo "xl destroy rc=$?"
# The backend nodes go away when the backend has let go.
i=0; while [ $i -lt 240 ] && xenstore-read $BE/state >/dev/null 2>&1; do usleep 250000; i=$((i+1)); done
xenstore-read $BE/state >/dev/null 2>&1 && res backend_dir_removed FAIL "still there" \
	|| res backend_dir_removed PASS "after $((i/4))s"
if [ $mode = pvio ]; then
	i=0; while [ $i -lt 160 ]; do
		FD2=$(ls /proc/$BPID/fd 2>/dev/null | wc -l)
		[ "$FD2" = "$FD0" ] && break
		usleep 250000; i=$((i+1))
	done
	kill -0 $BPID 2>/dev/null && res blkback_survives_destroy PASS || res blkback_survives_destroy FAIL
	[ "$FD2" = "$FD0" ] && res no_fd_leak PASS "fds before=$FD0 connected=$FD1 after=$FD2" \
		|| { res no_fd_leak FAIL "fds before=$FD0 after=$FD2"; ls -l /proc/$BPID/fd; }
	kill -TERM $BPID; wait $BPID; echo "pvio-blkback exit status $?"
	echo "----- pvio-blkback log -----"; cat /var/log/pvio-blkback.log
fi
echo "----- hotplug log -----"; cat /var/log/xen/hotplug.log 2>/dev/null
echo "----- domU console log -----"; cat /var/log/xen/console/guest-domu.log
echo "----- end domU console log -----"
up "DOM0-DONE"
poweroff -f
