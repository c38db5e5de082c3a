#!/bin/busybox sh
# /init of the domU of tests/xen/test_xen_save.sh: a verified write
# workload on xvda that runs across `xl save` + `xl restore`. Writes are
# O_DIRECT, one 512-byte block each, write n stamped "W%08d" n into slot
# n % 1024 of a 512 KiB region at 4 MiB; a write counts as acknowledged when
# its dd returned. It measures the longest gap between two acknowledged
# writes (domU uptime), says when I/O came back after a gap over a second,
# and at the end reads the region back: every slot must hold the last
# acknowledged write that went there. eth0 (xen-netfront) answers dom0's
# pings and takes dom0's TCP transfers across the steps meanwhile.
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp; mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
res(){ echo "RESULT $*"; }
cs(){ read u _ < /proc/uptime; echo $(( ${u%.*} * 100 + 1${u#*.} - 100 )); }   # centiseconds
# What Xen made of this domain (PV, PVH or HVM), for dom0 to check.
echo "GUEST-TYPE $(cat /sys/hypervisor/guest_type 2>/dev/null || echo unknown)"
insmod /mods/xen-blkfront.ko || echo "insmod xen-blkfront FAILED"
i=0; while [ ! -b /dev/xvda ] && [ $i -lt 60 ]; do usleep 250000; i=$((i+1)); done
[ -b /dev/xvda ] && res save_xvda_present PASS || res save_xvda_present FAIL
# The network: xen-netfront's eth0 is 10.0.0.1; dom0 (10.0.0.254) pings it
# through each step and sends it a blob over TCP across each step, to ports
# 5001..5003 (one per step): the md5 of what arrived goes to the console.
insmod /mods/xen-netfront.ko || echo "insmod xen-netfront FAILED"
i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 120 ]; do usleep 250000; i=$((i+1)); done
ip link set lo up; ip link set eth0 up && ip addr add 10.0.0.1/24 dev eth0 &&
	res save_eth0_present PASS "$(cat /sys/class/net/eth0/address)" || res save_eth0_present FAIL
mkdir -p /run; mkfifo /run/idle; exec 4<>/run/idle
for p in 5001 5002 5003; do
	(nc -l -p $p <&4 > /tmp/rx$p; echo "RECV-MD5 port=$p $(md5sum < /tmp/rx$p | cut -d' ' -f1) $(wc -c < /tmp/rx$p) bytes") &
done
secs=$(sed -n 's/.*savetest_secs=\([0-9]*\).*/\1/p' /proc/cmdline); secs=${secs:-40}
BASE=8192 SLOTS=1024
n=0 fail=0 t0=$(cs) last=$(cs) gap=0 gap_at=0
end=$((t0 + secs * 100))
echo "WORKLOAD-RUNNING secs=$secs"
while [ "$(cs)" -lt $end ]; do
	if printf 'W%08d' $n | dd of=/dev/xvda bs=512 seek=$((BASE + n % SLOTS)) conv=sync,notrunc \
		oflag=direct 2>/dev/null; then
		now=$(cs); d=$((now - last)); last=$now
		[ $d -gt $gap ] && { gap=$d; gap_at=$n; }
		[ $d -gt 100 ] && echo "IO-BACK write=$n after_gap_ms=$((d * 10))"
		n=$((n + 1))
		[ $((n % 500)) = 0 ] && echo "PROGRESS writes=$n"
	else
		fail=$((fail + 1)); echo "WRITE-FAILED $n"
		[ $fail -gt 20 ] && break
	fi
done
echo "WORKLOAD-END writes=$n failed=$fail longest_gap_ms=$((gap * 10)) at_write=$gap_at"
[ $fail = 0 ] && res save_writes_ok PASS "$n acknowledged, none failed" \
	|| res save_writes_ok FAIL "$fail failed writes"
want=$(awk -v n=$n -v k=$SLOTS 'BEGIN { for (s = 0; s < k && s < n; s++) printf "W%08d", (n - 1) - ((n - 1 - s) % k) }')
got=$(dd if=/dev/xvda bs=512 skip=$BASE count=$SLOTS iflag=direct 2>/dev/null | tr -d '\000')
[ "$got" = "$want" ] && res save_domu_readback PASS "all $SLOTS slots hold their last acknowledged write" \
	|| res save_domu_readback FAIL "region differs ($(echo "$got" | head -c 60)... want $(echo "$want" | head -c 60)...)"
echo "DOMU-CHECKS-DONE writes=$n"
while true; do sleep 60; done
