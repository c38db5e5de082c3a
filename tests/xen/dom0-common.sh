# Sourced by the dom0 /init scripts of tests/xen (busybox sh): mounts, Xen's
# modules, xenstored, xen-init-dom0, xenconsoled; helpers for the checks.
# Every check prints one "RESULT <name> PASS|FAIL|SKIP <detail>" line; the
# host collects them from the console.
/bin/busybox --install -s /bin
export PATH=/usr/lib/xen-4.17/bin:/usr/sbin:/usr/bin:/bin LD_LIBRARY_PATH=/lib/x86_64-linux-gnu
mkdir -p /proc /sys /dev /tmp /run /var/run; mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm /dev/pts; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
mkdir -p /var/run/xen /var/run/xenstored /var/lib/xen /var/log/xen/console /var/lib/xenstored
up(){ echo "== [dom0 $(cut -d' ' -f1 /proc/uptime)] $*"; }
res(){ echo "RESULT $*"; }

# dom0_start [MODULE...]: Xen's modules (and these), xenstored, consoles.
dom0_start() {
	for m in xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc "$@"; do
		insmod /mods/$m.ko || echo "insmod $m FAILED"
	done
	mount -t xenfs xenfs /proc/xen
	xenstored --pid-file /var/run/xen/xenstored.pid; echo "xenstored rc=$?"
	i=0; while [ ! -s /var/run/xen/xenstored.pid ] && [ $i -lt 50 ]; do usleep 100000; i=$((i+1)); done
	xen-init-dom0 >/dev/null; echo "xen-init-dom0 rc=$?"
	xenconsoled --pid-file=/var/run/xen/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console
	up "xenstored + xenconsoled up"
	# A line every 20 s while dom0 runs: the host's watchdog (lib.sh)
	# takes a console silent for minutes for a hung nested system.
	( while sleep 20; do up heartbeat; done ) &
}

# backend_start NAME LOG PROGRAM ARG...: start a pvio backend with
# --ready-fd and wait for its "ready" (its device watch is set); sets BPID,
# FD0, MAP0.
backend_start() {
	local name=$1 logf=$2 prog=$3 line=; shift 3
	rm -f /run/ready; mkfifo /run/ready
	"$prog" --ready-fd 3 "$@" 3>/run/ready > "$logf" 2>&1 &
	BPID=$!
	read -t 60 line < /run/ready
	if [ "$line" = ready ] && kill -0 $BPID 2>/dev/null; then
		res ${name}_started PASS "pid=$BPID"
	else
		res ${name}_started FAIL "no ready line"; cat "$logf"
	fi
	FD0=$(fds $BPID); MAP0=$(gntmaps $BPID)
	echo "$name fds=$FD0 grant mappings=$MAP0 before xl create"
	# dom0 has one vCPU (shared with the domUs: QEMU gives Xen one CPU):
	# without --poll-us the backend must not spin.
	if [ "$(nproc)" = 1 ]; then
		grep -q 'one CPU online: adaptive polling off' "$logf" &&
			res ${name}_no_spin_one_cpu PASS || res ${name}_no_spin_one_cpu FAIL
	fi
}
fds() { ls /proc/$1/fd 2>/dev/null | wc -l; }
# console_wait FILE WORD [SECONDS]: wait up to SECONDS (default 150) for
# WORD in a domU's console log; sets WAITED (seconds).
console_wait() {
	local i=0 n=$(( ${3:-150} * 4 ))
	while [ $i -lt $n ] && ! grep -q "$2" "$1" 2>/dev/null; do usleep 250000; i=$((i+1)); done
	WAITED=$((i/4))
}
# backend_dir_gone RESULT-NAME PATH: the backend let go of a destroyed
# domain's device, i.e. its directory PATH went away (waits up to 60 s).
backend_dir_gone() {
	local i=0
	while [ $i -lt 240 ] && xenstore-read "$2/state" >/dev/null 2>&1; do usleep 250000; i=$((i+1)); done
	xenstore-read "$2/state" >/dev/null 2>&1 && res "$1" FAIL "still there" \
		|| res "$1" PASS "after $((i/4))s"
}
# Mappings of granted pages (gntdev) in the process.
gntmaps() { grep -c /dev/xen/gntdev /proc/$1/maps 2>/dev/null; }

# backend_check_idle NAME [SUFFIX]: after the domains are gone, the backend
# is still running and holds the fds and grant mappings it had before
# (waits up to 40 s for the teardown); SUFFIX ends the RESULT names.
backend_check_idle() {
	local name=$1 s=${2:-} i=0 fd map
	while [ $i -lt 160 ]; do
		fd=$(fds $BPID); map=$(gntmaps $BPID)
		[ "$fd" = "$FD0" ] && [ "$map" = "$MAP0" ] && break
		usleep 250000; i=$((i+1))
	done
	kill -0 $BPID 2>/dev/null && res ${name}_survives_destroy$s PASS || res ${name}_survives_destroy$s FAIL
	[ "$fd" = "$FD0" ] && res ${name}_no_fd_leak$s PASS "fds before=$FD0 connected=$FD1 after=$fd" \
		|| { res ${name}_no_fd_leak$s FAIL "fds before=$FD0 after=$fd"; ls -l /proc/$BPID/fd; }
	[ "$map" = "$MAP0" ] && res ${name}_no_mapping_leak$s PASS "grant mappings before=$MAP0 connected=$MAP1 after=$map" \
		|| { res ${name}_no_mapping_leak$s FAIL "grant mappings before=$MAP0 after=$map"; cat /proc/$BPID/maps; }
}

# backend_note_connected: fds and mappings while the domains run, and the
# CPU time each of the backend's threads used so far (clock ticks).
backend_note_connected() {
	FD1=$(fds $BPID); MAP1=$(gntmaps $BPID)
	echo "backend fds while connected: $FD1, grant mappings: $MAP1"
	ls -l /proc/$BPID/fd | sed 's/^/  fd: /'
	for t in /proc/$BPID/task/*; do
		echo "  thread $(cat $t/comm): utime+stime $(awk '{print $14 + $15}' $t/stat) ticks"
	done
}

# backend_stop NAME: SIGTERM; it must exit 0 (netback: no mbuf missing).
backend_stop() {
	local rc
	kill -TERM $BPID; wait $BPID; rc=$?
	[ $rc = 0 ] && res ${1}_clean_exit PASS || res ${1}_clean_exit FAIL "exit status $rc"
}
