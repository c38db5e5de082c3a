#!/bin/bash
# A throwaway single-node Ceph cluster for tests and benchmarks: one mon, one
# bluestore OSD on a sparse file, no mgr, no auth, pool "rbd" of size 1.
# Every file (config, stores, sockets, logs, pid files) lives inside DIR.
# From the measured facts in /work/shared/CEPH-NOTES.md (ceph 16.2, pacific).
#
#   ceph-cluster.sh start DIR       create and start; prints CEPH_CONF=DIR/ceph.conf
#   ceph-cluster.sh stop DIR        SIGKILL the daemons (by pid file), wait, rm -rf DIR
#   ceph-cluster.sh kill-osd DIR    SIGKILL the OSD only (a crash)
#   ceph-cluster.sh start-osd DIR   start the OSD again, wait until it is up
#   ceph-cluster.sh kill DIR        SIGKILL every daemon, keep DIR
#   ceph-cluster.sh restart DIR     start the daemons of a killed cluster again
#
# Every ceph command runs under `timeout` (CEPH_TIMEOUT, default 30 s):
# without a mgr some commands would hang for ever (the daemons detach with
# setsid, so the timeout only ever ends a starter that hangs). Daemons are
# ended by the pid in their pid file, and only after checking that the
# process is one of this cluster's (its command line names DIR/ceph.conf,
# DIR made absolute). After SIGKILL a
# daemon stays a zombie until init reaps it; kill -0 still succeeds then,
# so "gone" means no process or state Z.
# Environment: CEPH_PORT (default: a free one), CEPH_BLOCK_SIZE (bytes of
# the OSD's sparse block file, default 4 GiB), CEPH_POOL (default rbd).
set -u
TO=${CEPH_TIMEOUT:-30}

die() { echo "ceph-cluster: $*" >&2; exit 1; }

# daemon pids whose command line names this cluster's config
pid_of() {
	local f=$1 pid
	[ -f "$f" ] || return 1
	pid=$(cat "$f" 2>/dev/null) || return 1
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$D/ceph.conf" || return 1
	echo "$pid"
}

# gone PID: no such process, or a zombie (dead, waiting for its reaper)
gone() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
	[ -z "$st" ] || [[ "$st" == Z* ]]
}

# kill_daemon NAME: SIGKILL it by its pid file and wait (bounded) until gone
kill_daemon() {
	local pid i
	pid=$(pid_of "$D/run/$1.pid") || return 0
	kill -9 "$pid" 2>/dev/null
	for i in $(seq 1 200); do
		gone "$pid" && break
		sleep 0.02
	done
	gone "$pid" || die "$1 (pid $pid) did not die"
	rm -f "$D/run/$1.pid"
}

ceph_() { timeout "$TO" ceph -c "$D/ceph.conf" "$@"; }

free_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((20000 + RANDOM % 30000))
		ss -Hltn "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return 0; }
	done
	return 1
}

# wait_osd_up: poll the osd map until osd.0 is up (bounded by TO)
wait_osd_up() {
	local end=$((SECONDS + TO))
	while [ $SECONDS -le $end ]; do
		ceph_ osd dump 2>/dev/null | grep -q '^osd.0 up' && return 0
		if [ -s "$D/run/osd.0.pid" ] && ! pid_of "$D/run/osd.0.pid" >/dev/null; then
			die "the OSD exited: $(tail -n 5 "$D/log/osd.0.log")"
		fi
		sleep 0.1
	done
	die "osd.0 is not up after ${TO}s"
}

start_mon() {
	timeout "$TO" ceph-mon -c "$D/ceph.conf" -i a 2>>"$D/log/mon.a.err" ||
		die "ceph-mon: $(tail -n 3 "$D/log/mon.a.err")"
}

start_osd() {
	timeout "$TO" ceph-osd -c "$D/ceph.conf" -i 0 2>>"$D/log/osd.0.err" ||
		die "ceph-osd: $(tail -n 3 "$D/log/osd.0.err")"
	wait_osd_up
}

start() {
	local fsid uuid port id
	[ -e "$D/ceph.conf" ] && die "$D/ceph.conf exists (stop it first)"
	mkdir -p "$D"/{run,log,crash,mon.a,osd.0} || die "cannot create $D"
	D=$(cd "$D" && pwd)
	port=${CEPH_PORT:-$(free_port)} || die "no free port"
	fsid=$(cat /proc/sys/kernel/random/uuid)
	cat >"$D/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$port
auth cluster required = none
auth service required = none
auth client required = none
keyring = /dev/null
run dir = $D/run
pid file = $D/run/\$name.pid
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
crash dir = $D/crash
mon cluster log file = $D/log/cluster.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
osd crush chooseleaf type = 0
mon data avail crit = 0
mon data avail warn = 0
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
client mount timeout = 30

[mon]
mon data = $D/mon.\$id
paxos propose interval = 0.1
paxos min wait = 0.01

[osd]
public addr = 127.0.0.1
osd data = $D/osd.\$id
osd objectstore = bluestore
bluestore block path = $D/osd.\$id.block
bluestore block create = true
bluestore block size = ${CEPH_BLOCK_SIZE:-4294967296}
bluestore fsck on mkfs = false
bdev aio poll ms = 10
osd memory target = 1073741824

[client]
admin socket =
log file = $D/log/client.log
EOF
	timeout "$TO" monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$port]" \
		"$D/monmap" >/dev/null 2>"$D/log/monmaptool.err" ||
		die "monmaptool: $(cat "$D/log/monmaptool.err")"
	timeout "$TO" ceph-mon -c "$D/ceph.conf" --mkfs -i a --monmap "$D/monmap" \
		2>"$D/log/mon-mkfs.err" || die "ceph-mon --mkfs: $(tail -n 3 "$D/log/mon-mkfs.err")"
	start_mon
	uuid=$(cat /proc/sys/kernel/random/uuid)
	id=$(ceph_ osd new "$uuid" 2>"$D/log/osd-new.err") ||
		die "ceph osd new: $(tail -n 3 "$D/log/osd-new.err")"
	[ "$id" = 0 ] || die "ceph osd new gave id '$id', not 0"
	timeout "$TO" ceph-osd -c "$D/ceph.conf" -i 0 --mkfs --osd-uuid "$uuid" \
		>/dev/null 2>"$D/log/osd-mkfs.err" ||
		die "ceph-osd --mkfs: $(tail -n 3 "$D/log/osd-mkfs.err")"
	start_osd
	ceph_ osd pool create "${CEPH_POOL:-rbd}" 8 >/dev/null 2>"$D/log/pool.err" ||
		die "pool create: $(cat "$D/log/pool.err")"
	# absorbs the wait for the new PGs to go active
	timeout "$TO" rbd -c "$D/ceph.conf" pool init "${CEPH_POOL:-rbd}" 2>>"$D/log/pool.err" ||
		die "rbd pool init: $(cat "$D/log/pool.err")"
	echo "CEPH_CONF=$D/ceph.conf"
}

stop() {
	kill_all
	rm -rf "$D"
}

kill_all() {
	[ -d "$D" ] || return 0
	kill_daemon osd.0
	kill_daemon mon.a
	kill_daemon mgr.x
}

[ $# = 2 ] || die "usage: $0 start|stop|kill|restart|kill-osd|start-osd DIR"
D=$2
if [ "$1" != start ]; then
	[ -d "$D" ] || { [ "$1" = stop ] && exit 0; die "no cluster folder $D"; }
	D=$(cd "$D" && pwd)
fi
case $1 in
start) start ;;
stop) stop ;;
kill) kill_all ;;
kill-osd) kill_daemon osd.0 ;;
start-osd) start_osd ;;
restart) start_mon && start_osd ;;
*) die "unknown command '$1' (start, stop, kill, restart, kill-osd, start-osd)" ;;
esac
