#!/bin/busybox sh
# /init of the dom0 of tests/xen/test_xen_net.sh: pvio-netback (PVIO_HV=xen,
# xen-netback NOT loaded) switches two PV domUs' unmodified xen-netfront.
/bin/busybox --install -s /bin
export PATH=/usr/lib/xen-4.17/bin:/usr/sbin:/usr/bin:/bin LD_LIBRARY_PATH=/lib/x86_64-linux-gnu
mkdir -p /proc /sys /dev /tmp /run /var/run; mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm /dev/pts; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
mkdir -p /var/run/xen /var/run/xenstored /var/lib/xen /var/log/xen/console /var/lib/xenstored
up(){ echo "== [dom0 $(cut -d' ' -f1 /proc/uptime)] $*"; }
res(){ echo "RESULT $*"; }
for m in xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc; do insmod /mods/$m.ko || echo "insmod $m FAILED"; done
mount -t xenfs xenfs /proc/xen
xenstored --pid-file /var/run/xen/xenstored.pid
i=0; while [ ! -s /var/run/xen/xenstored.pid ] && [ $i -lt 50 ]; do usleep 100000; i=$((i+1)); done
xen-init-dom0 >/dev/null; echo "xen-init-dom0 rc=$?"
xenconsoled --pid-file=/var/run/xen/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console
PVIO_HV=xen pvio-netback --verbose --max-queues 1 --mbufs 2047 -- --no-huge -m 64 --no-pci \
	--no-telemetry --file-prefix=nb -d /usr/lib/dpdk/$(ls /usr/lib/dpdk | head -1) > /var/log/pvio-netback.log 2>&1 &
NPID=$!
i=0; while [ $i -lt 100 ]; do
	ls -l /proc/$NPID/fd 2>/dev/null | grep -q socket && break
	usleep 100000; i=$((i+1))
done
kill -0 $NPID 2>/dev/null && res netback_started PASS "pid=$NPID" || { res netback_started FAIL; cat /var/log/pvio-netback.log; poweroff -f; }
FD0=$(ls /proc/$NPID/fd | wc -l); ls -l /proc/$NPID/fd; free -m
for n in 1 2; do
	up "xl create domu$n"
	sed "s/@N@/$n/g" /etc/xen/net.cfg.in > /etc/xen/domu$n.cfg
	xl create /etc/xen/domu$n.cfg && res xl_create_$n PASS || res xl_create_$n FAIL
done
D1=$(xl domid domu1); FE=/local/domain/$D1/device/vif/0; BE=/local/domain/0/backend/vif/$D1/0
dumped=0; i=0
while [ $i -lt 1000 ]; do
	if [ $dumped = 0 ] && [ "$(xenstore-read $FE/state 2>/dev/null)" = 4 ]; then
		dumped=1
		echo "----- frontend $FE -----"; xenstore-ls -f $FE
		echo "----- backend $BE -----"; xenstore-ls -f $BE
	fi
	grep -q NET-DONE /var/log/xen/console/guest-domu1.log 2>/dev/null && break
	usleep 250000; i=$((i+1))
done
FD1=$(ls /proc/$NPID/fd | wc -l)
up "xl destroy"
xl destroy domu1; xl destroy domu2
i=0; while [ $i -lt 160 ]; do
	FD2=$(ls /proc/$NPID/fd 2>/dev/null | wc -l)
	[ "$FD2" = "$FD0" ] && break
	usleep 250000; i=$((i+1))
done
kill -0 $NPID 2>/dev/null && res netback_survives_destroy PASS || res netback_survives_destroy FAIL
[ "$FD2" = "$FD0" ] && res net_no_fd_leak PASS "fds before=$FD0 connected=$FD1 after=$FD2" \
	|| { res net_no_fd_leak FAIL "fds before=$FD0 after=$FD2"; ls -l /proc/$NPID/fd; }
kill -TERM $NPID; wait $NPID; echo "pvio-netback exit status $?"
echo "----- pvio-netback log -----"; cat /var/log/pvio-netback.log
for n in 1 2; do
	echo "----- domU$n console log -----"; cat /var/log/xen/console/guest-domu$n.log
done
echo "----- end domU console log -----"
up "DOM0-DONE"
poweroff -f
