#!/bin/busybox sh
# /init of the dom0 of tests/xen/test_xen_net.sh. pviomode=pvio (kernel
# command line): pvio-netback --hv xen (xen-netback NOT loaded) switches two
# PV domUs' unmodified xen-netfront and a DPDK net_tap uplink (pvtap0,
# 10.0.0.254 in dom0) on its bridge xenbr0. pviomode=kernel, the reference:
# Linux xen-netback, its vifs and dom0's 10.0.0.254 on a Linux bridge.
. /etc/dom0-common.sh
mode=pvio; grep -q pviomode=kernel /proc/cmdline && mode=kernel
up "INIT mode=$mode"
if [ $mode = kernel ]; then
	dom0_start llc stp bridge xen-netback
	brctl addbr xenbr0; dif=xenbr0
else
	dom0_start tun
	backend_start netback /var/log/pvio-netback.log pvio-netback --hv xen --verbose \
		--max-queues 1 --mbufs 2047 --default-bridge xenbr0 \
		--uplink xenbr0=net_tap0,iface=pvtap0 \
		-- --no-huge -m 64 --no-pci --no-telemetry --file-prefix=nb -d /usr/lib/dpdk
	dif=pvtap0
fi
if ip addr add 10.0.0.254/24 dev $dif && ip link set $dif up; then
	res dom0_if_up PASS "$(ip -o addr show dev $dif | awk '{print $2, $4}' | head -1)"
else
	res dom0_if_up FAIL; ip link
fi

# Transfers with dom0: domU1 sends its blob to port 5001 and fetches dom0's
# from port 5002. "idle" keeps nc's stdin open without sending anything.
mkfifo /run/idle; exec 4<>/run/idle
dd if=/dev/urandom of=/tmp/blob bs=1M count=4 2>/dev/null
BLOB=$(md5sum < /tmp/blob | cut -d' ' -f1)
nc -l -p 5001 <&4 > /tmp/from_domu1 &
nc -l -p 5002 < /tmp/blob &

for n in 1 2; do
	up "xl create domu$n"
	sed "s/@N@/$n/g" /etc/xen/net.cfg.in > /etc/xen/domu$n.cfg
	xl create /etc/xen/domu$n.cfg && res xl_create_$n PASS || res xl_create_$n FAIL
done
D1=$(xl domid domu1); D2=$(xl domid domu2)
C1=/var/log/xen/console/guest-domu1.log; C2=/var/log/xen/console/guest-domu2.log
dumped=0; i=0
while [ $i -lt 1200 ]; do
	if [ $dumped = 0 ] && [ "$(xenstore-read /local/domain/$D1/device/vif/0/state 2>/dev/null)" = 4 ]; then
		dumped=1
		echo "----- frontend -----"; xenstore-ls -f /local/domain/$D1/device/vif/0
		echo "----- backend -----"; xenstore-ls -f /local/domain/0/backend/vif/$D1/0
	fi
	grep -q NET-DONE $C1 2>/dev/null && grep -q RECV-MD5 $C2 2>/dev/null && break
	usleep 250000; i=$((i+1))
done
up "domUs done (or gave up after $((i/4)) s)"
for d in $D1 $D2; do
	f=$(xenstore-read /local/domain/$d/device/vif/0/state 2>/dev/null)
	b=$(xenstore-read /local/domain/0/backend/vif/$d/0/state 2>/dev/null)
	[ "$f$b" = 44 ] && res vif_connected_dom$d PASS "frontend 4, backend 4" \
		|| res vif_connected_dom$d FAIL "frontend '$f', backend '$b'"
done

# The blobs arrived intact (md5 printed by the sender and the receiver).
sent=$(sed -n 's/^SENT-MD5 \([0-9a-f]*\).*/\1/p' $C1 | head -1)
got2=$(sed -n 's/^RECV-MD5 \([0-9a-f]*\).*/\1/p' $C2 | head -1)
got0=$(md5sum < /tmp/from_domu1 | cut -d' ' -f1)
got1=$(sed -n 's/^FROM-DOM0-MD5 \([0-9a-f]*\).*/\1/p' $C1 | head -1)
sz=$(wc -c < /tmp/from_domu1)
[ -n "$sent" ] && [ "$got2" = "$sent" ] && res transfer_domu1_to_domu2 PASS "4 MiB md5 $sent" \
	|| res transfer_domu1_to_domu2 FAIL "sent '$sent' received '$got2'"
[ -n "$sent" ] && [ "$got0" = "$sent" ] && res transfer_domu1_to_dom0 PASS "4 MiB md5 $sent" \
	|| res transfer_domu1_to_dom0 FAIL "sent '$sent' received '$got0' ($sz bytes)"
[ "$got1" = "$BLOB" ] && res transfer_dom0_to_domu1 PASS "4 MiB md5 $BLOB" \
	|| res transfer_dom0_to_domu1 FAIL "sent '$BLOB' received '$got1'"
ping -c 3 -W 2 10.0.0.1 > /tmp/ping0 2>&1 && res dom0_pings_domu1 PASS "$(tail -1 /tmp/ping0)" \
	|| res dom0_pings_domu1 FAIL "$(cat /tmp/ping0)"

[ $mode = pvio ] && { backend_note_connected; kill -USR1 $BPID; }
up "xl destroy"
xl destroy domu1; xl destroy domu2
[ $mode = pvio ] && backend_check_idle netback

# Ready for the next domain: a third domU, created once both are gone,
# reaches dom0 and fetches 1 MiB from it intact; its teardown leaks nothing.
dd if=/dev/urandom of=/tmp/blob3 bs=1M count=1 2>/dev/null
B3=$(md5sum < /tmp/blob3 | cut -d' ' -f1)
nc -l -p 5003 < /tmp/blob3 &
up "xl create domu3"
sed "s/@N@/3/g" /etc/xen/net.cfg.in > /etc/xen/domu3.cfg
xl create /etc/xen/domu3.cfg && res xl_create_3 PASS || res xl_create_3 FAIL
C3=/var/log/xen/console/guest-domu3.log
console_wait $C3 NET-DONE
got3=$(sed -n 's/^THIRD-MD5 \([0-9a-f]*\).*/\1/p' $C3 | head -1)
[ "$got3" = "$B3" ] && res transfer_dom0_to_third_domu PASS "1 MiB md5 $B3" \
	|| res transfer_dom0_to_third_domu FAIL "sent '$B3' received '$got3' (after ${WAITED} s)"
[ $mode = pvio ] && backend_note_connected
xl destroy domu3
if [ $mode = pvio ]; then
	backend_check_idle netback _third
	backend_stop netback
	echo "----- pvio-netback log -----"; cat /var/log/pvio-netback.log
fi
echo "----- hotplug log -----"; cat /var/log/xen/hotplug.log 2>/dev/null
for n in 1 2 3; do
	echo "----- domU$n console log -----"; cat /var/log/xen/console/guest-domu$n.log
done
echo "----- end domU console log -----"
up "DOM0-DONE"
poweroff -f
