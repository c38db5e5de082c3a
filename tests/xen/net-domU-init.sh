#!/bin/busybox sh
# /init of the domUs of tests/xen/test_xen_net.sh (unmodified xen-netfront).
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp; mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
res(){ echo "RESULT $*"; }
insmod /mods/xen-netfront.ko || echo "insmod xen-netfront FAILED"
i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 120 ]; do usleep 250000; i=$((i+1)); done
mac=$(cat /sys/class/net/eth0/address); n=${mac##*:}; n=${n#0}
ip link set lo up; ip link set eth0 up; ip addr add 10.0.0.$n/24 dev eth0
echo "domU $n: eth0 $mac 10.0.0.$n"
if [ "$n" = 1 ]; then
	ok=0; i=0
	while [ $i -lt 120 ]; do ping -c 1 -W 1 10.0.0.2 >/dev/null 2>&1 && { ok=1; break; }; i=$((i+1)); done
	[ $ok = 1 ] && res first_ping PASS "after $i tries" || res first_ping FAIL
	out=$(ping -c 20 -i 0.2 -s 1400 10.0.0.2 2>&1 | tail -2)
	echo "$out"
	echo "$out" | grep -q ' 0% packet loss' && res ping_20x1400 PASS "$(echo "$out" | tail -1)" || res ping_20x1400 FAIL "$out"
	echo "NET-DONE"
fi
while true; do sleep 60; done
