#!/bin/busybox sh
# /init of the domUs of tests/xen/test_xen_net.sh (unmodified xen-netfront).
# domU n is 10.0.0.n (n = its MAC's last byte). domU2 receives a blob from
# domU1 on port 5000; domU1 pings domU2 and dom0 (10.0.0.254), sends its
# blob to domU2 and dom0 and fetches dom0's. Checksums go to the console,
# where dom0 compares them.
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp /run; mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
res(){ echo "RESULT $*"; }
insmod /mods/xen-netfront.ko || echo "insmod xen-netfront FAILED"
i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 120 ]; do usleep 250000; i=$((i+1)); done
mac=$(cat /sys/class/net/eth0/address); n=${mac##*:}; n=${n#0}
ip link set lo up; ip link set eth0 up; ip addr add 10.0.0.$n/24 dev eth0
echo "domU $n: eth0 $mac 10.0.0.$n"
mkfifo /run/idle; exec 4<>/run/idle

# send HOST PORT FILE: retried while the peer is not listening yet.
send() {
	local t=0
	while [ $t -lt 60 ]; do
		nc "$1" "$2" < "$3" && return 0
		sleep 1; t=$((t+1))
	done
	return 1
}

# domU 3 comes after the others were destroyed: dom0 and 1 MiB from it.
if [ "$n" = 3 ]; then
	ok=0; i=0
	while [ $i -lt 120 ]; do ping -c 1 -W 1 10.0.0.254 >/dev/null 2>&1 && { ok=1; break; }; i=$((i+1)); done
	[ $ok = 1 ] && res third_domu_pings_dom0 PASS "after $i tries" || res third_domu_pings_dom0 FAIL
	nc 10.0.0.254 5003 <&4 > /tmp/from0 || echo "fetch from dom0 failed"
	echo "THIRD-MD5 $(md5sum < /tmp/from0 | cut -d' ' -f1) $(wc -c < /tmp/from0) bytes"
	echo "NET-DONE"
	while true; do sleep 60; done
fi
if [ "$n" = 2 ]; then
	nc -l -p 5000 <&4 > /tmp/rx
	echo "RECV-MD5 $(md5sum < /tmp/rx | cut -d' ' -f1) $(wc -c < /tmp/rx) bytes"
	while true; do sleep 60; done
fi

ok=0; i=0
while [ $i -lt 120 ]; do ping -c 1 -W 1 10.0.0.2 >/dev/null 2>&1 && { ok=1; break; }; i=$((i+1)); done
[ $ok = 1 ] && res first_ping PASS "after $i tries" || res first_ping FAIL
out=$(ping -c 20 -i 0.2 -s 1400 10.0.0.2 2>&1 | tail -2)
echo "$out"
echo "$out" | grep -q ' 0% packet loss' && res ping_20x1400 PASS "$(echo "$out" | tail -1)" \
	|| res ping_20x1400 FAIL "$out"
out=$(ping -c 5 -W 2 10.0.0.254 2>&1 | tail -2)
echo "$out" | grep -q ' 0% packet loss' && res ping_dom0_tap PASS "$(echo "$out" | tail -1)" \
	|| res ping_dom0_tap FAIL "$out"

dd if=/dev/urandom of=/tmp/blob bs=1M count=4 2>/dev/null
echo "SENT-MD5 $(md5sum < /tmp/blob | cut -d' ' -f1)"
t0=$(cut -d' ' -f1 /proc/uptime)
send 10.0.0.2 5000 /tmp/blob || echo "send to domU2 failed"
t1=$(cut -d' ' -f1 /proc/uptime)
send 10.0.0.254 5001 /tmp/blob || echo "send to dom0 failed"
t2=$(cut -d' ' -f1 /proc/uptime)
nc 10.0.0.254 5002 <&4 > /tmp/from0 || echo "fetch from dom0 failed"
t3=$(cut -d' ' -f1 /proc/uptime)
echo "FROM-DOM0-MD5 $(md5sum < /tmp/from0 | cut -d' ' -f1) $(wc -c < /tmp/from0) bytes"
echo "transfer times (s, TCG): to domU2 $t0..$t1, to dom0 ..$t2, from dom0 ..$t3"
echo "NET-DONE"
while true; do sleep 60; done
