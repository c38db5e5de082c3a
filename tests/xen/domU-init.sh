#!/bin/busybox sh
# /init of the nested-Xen domU: the unmodified Linux xen-blkfront against
# whatever dom0 serves (pvio-blkback --hv xen, or xen-blkback).
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp /run /var/run; mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
res(){ echo "RESULT $*"; }
echo "DOMU-UP $(cut -d' ' -f1 /proc/uptime)s kernel=$(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo)"
# Unmodified driver; module parameters from the kernel command line
# (blkfront_params=...), e.g. a multi-page ring and 256 indirect segments.
bp=$(sed -n 's/.*blkfront_params=\([^ ]*\).*/\1/p' /proc/cmdline | tr : ' '); [ "$bp" = none ] && bp=
echo "insmod xen-blkfront $bp"
insmod /mods/xen-blkfront.ko $bp || echo "insmod xen-blkfront FAILED"
i=0; while { [ ! -b /dev/xvda ] || [ ! -b /dev/xvdb ]; } && [ $i -lt 60 ]; do usleep 250000; i=$((i+1)); done
# pviopass=2: the second domU on the same disks, after the first was
# destroyed: it finds what the first wrote and writes its own marker.
if grep -q pviopass=2 /proc/cmdline; then
	[ -b /dev/xvda ] && res second_xvda_present PASS || res second_xvda_present FAIL
	got=$(dd if=/dev/xvda bs=512 skip=6144 count=1 2>/dev/null | head -c 17)
	[ "$got" = DOMU-MARK-AT-3MiB ] && res second_domu_reads_first PASS "offset 3 MiB: $got" \
		|| res second_domu_reads_first FAIL "'$got'"
	echo "DOMU2-MARK-AT-5MiB" | dd of=/dev/xvda bs=512 seek=10240 conv=sync,fsync 2>/dev/null \
		&& res second_domu_write PASS || res second_domu_write FAIL
	echo "DOMU-CHECKS-DONE"
	while true; do sleep 60; done
fi
[ -b /dev/xvda ] && res xvda_present PASS || res xvda_present FAIL
Q=/sys/block/xvda/queue
echo "SYSFS size=$(cat /sys/block/xvda/size) logical_block_size=$(cat $Q/logical_block_size) physical_block_size=$(cat $Q/physical_block_size) max_segments=$(cat $Q/max_segments) max_hw_sectors_kb=$(cat $Q/max_hw_sectors_kb) max_sectors_kb=$(cat $Q/max_sectors_kb) write_cache=$(cat $Q/write_cache 2>/dev/null) discard_max_bytes=$(cat $Q/discard_max_bytes) discard_granularity=$(cat $Q/discard_granularity) nr_hw_queues=$(ls /sys/block/xvda/mq 2>/dev/null | wc -l) ro=$(cat /sys/block/xvda/ro)"
[ "$(cat /sys/block/xvda/size)" = 65536 ] && res size PASS "65536 sectors (32 MiB)" || res size FAIL "$(cat /sys/block/xvda/size)"
[ "$(cat $Q/logical_block_size)" = 512 ] && res sector_size PASS 512 || res sector_size FAIL "$(cat $Q/logical_block_size)"

# dom0 -> domU: the marker dom0 wrote at 1 MiB.
got=$(dd if=/dev/xvda bs=512 skip=2048 count=1 2>/dev/null | head -c 17)
[ "$got" = DOM0-MARK-AT-1MiB ] && res domu_reads_dom0_mark PASS "offset 1 MiB: $got" \
	|| res domu_reads_dom0_mark FAIL "'$got'"
# domU -> dom0: a marker at 3 MiB (checked by dom0 in the image).
echo "DOMU-MARK-AT-3MiB" | dd of=/dev/xvda bs=512 seek=6144 conv=sync,fsync 2>/dev/null \
	&& res domu_write_mark PASS || res domu_write_mark FAIL

# 1 MiB O_DIRECT writes: with indirect descriptors a request carries up to
# max_segments pages (11 without them).
ms=$(cat $Q/max_segments)
[ "$ms" -gt 11 ] && res indirect_segments PASS "max_segments=$ms" || res indirect_segments FAIL "max_segments=$ms"
yes PVIO-DIRECT-1MiB-WRITES | head -c 4194304 > /tmp/pat
if dd if=/tmp/pat of=/dev/xvda bs=1M seek=4 count=4 oflag=direct 2>/tmp/dd.err; then
	a=$(dd if=/dev/xvda bs=1M skip=4 count=4 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
	b=$(md5sum < /tmp/pat | cut -d' ' -f1)
	[ "$a" = "$b" ] && res direct_1MiB_writes PASS "4 x 1 MiB oflag=direct, read back iflag=direct md5 $a" \
		|| res direct_1MiB_writes FAIL "read back $a want $b"
else
	res direct_1MiB_writes FAIL "$(cat /tmp/dd.err)"
fi
cat /sys/block/xvda/stat | sed 's/^/xvda stat: /'

# Flush: fsync on the block device issues a cache flush when the backend
# offers feature-flush-cache (write_cache "write back").
wc=$(cat $Q/write_cache 2>/dev/null)
if dd if=/tmp/pat of=/dev/xvda bs=64k count=1 seek=300 conv=fsync 2>/dev/null; then
	res flush PASS "write_cache=$wc, dd conv=fsync ok"
else
	res flush FAIL "write_cache=$wc"
fi

# Discard.
if ! command -v blkdiscard >/dev/null; then
	res discard SKIP "no blkdiscard in busybox"
elif [ "$(cat $Q/discard_max_bytes)" = 0 ]; then
	res discard SKIP "backend offers no discard"
else
	if blkdiscard -o 12582912 -l 1048576 /dev/xvda; then
		echo "DISCARD-ISSUED"
		z=$(dd if=/dev/xvda bs=1M skip=12 count=1 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
		zz=$(head -c 1048576 /dev/zero | md5sum | cut -d' ' -f1)
		[ "$z" = "$zz" ] && res discard PASS "blkdiscard 1 MiB at 12 MiB, reads back zero" \
			|| res discard PASS "blkdiscard accepted (reads back non-zero: discard need not zero)"
	else
		res discard FAIL "blkdiscard failed"
	fi
fi

# The read-only disk.
if [ -b /dev/xvdb ]; then
	echo "xvdb ro=$(cat /sys/block/xvdb/ro) size=$(cat /sys/block/xvdb/size)"
	got=$(head -c 12 /dev/xvdb)
	[ "$got" = RO-DISK-MARK ] && res ro_disk_readable PASS || res ro_disk_readable FAIL "'$got'"
	if echo X | dd of=/dev/xvdb bs=512 seek=10 conv=sync,fsync oflag=direct 2>/tmp/ro.err; then
		res ro_disk_refuses_write FAIL "write succeeded"
	else
		res ro_disk_refuses_write PASS "$(head -1 /tmp/ro.err)"
	fi
else
	res ro_disk_readable FAIL "no /dev/xvdb"
fi
cat /sys/block/xvda/stat | sed 's/^/xvda stat at end: /'
echo "DOMU-CHECKS-DONE"
# dom0 tears the domain down with xl destroy.
while true; do sleep 60; done
