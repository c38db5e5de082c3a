#!/bin/bash
# A disk's I/O limits through the toolstack and pvio-blkback's control
# plane: QEMU's throttling.* options in the disk spec (bad ones refused
# with QEMU's messages, nothing attached), the backend keys they become,
# pvio-blkback applying them at probe (throttling-applied, its log), a
# group of two disks, live changes with `pvio block-set-throttle` (picked
# up by the backend's watch), bad changes refused by the CLI and, written
# by hand into the store, by the backend, which keeps the limits in force;
# `none` lifts them; detaching does not leave keys behind. (The data path's
# rates are measured by the unit tests on a synthetic clock and by
# tests/blk/long_limits.sh.)
. "$(dirname "$0")/lib.sh"
command -v xenstore-read >/dev/null || skip "xenstore-utils not installed"

expect_fail() {
	local want=$1 pat=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, want $want: $out"
	grep -qF -- "$pat" <<<"$out" || fail "'$*' said '$out', want '$pat'"
	echo "ok: refused: $out"
}

# wait_key PATH VALUE: the store holds VALUE at PATH within 10 s.
wait_key() {
	local i v
	for i in $(seq 1 1000); do
		v=$(xenstore-read "$1" 2>/dev/null) && [ "$v" = "$2" ] && return 0
		sleep 0.01
	done
	fail "$1 is '$(xenstore-read "$1" 2>&1)', want '$2'"
}

# wait_log PATTERN: pvio-blkback logged PATTERN within 10 s.
wait_log() {
	local i
	for i in $(seq 1 1000); do
		grep -qF -- "$1" "$T/blkback.log" && return 0
		sleep 0.01
	done
	fail "blkback did not log '$1': $(cat "$T/blkback.log")"
}

start_pviod
mkfifo "$T/bready"
"$BLKBACK" --socket "$PVIO_SOCKET" --ready-fd 3 3>"$T/bready" 2>>"$T/blkback.log" &
PIDS+=($!)
read -r _ <"$T/bready" || fail "blkback did not start: $(cat "$T/blkback.log")"
g1=$("$PVIO" create g1 memory=64M) || fail "create g1"
g2=$("$PVIO" create g2 memory=64M) || fail "create g2"
make_image "$T/a.img" 16
make_image "$T/b.img" 16
be1=/local/domain/0/backend/vbd/$g1/51712
be2=/local/domain/0/backend/vbd/$g2/51712

# Bad limits in the disk spec: QEMU's rules and messages; nothing attached.
spec() { echo "vdev=xvda, access=rw, $1, target=$T/a.img"; }
expect_fail 2 "throttling.iops-total: '-5' is negative" \
	"$PVIO" block-attach g1 "$(spec throttling.iops-total=-5)"
expect_fail 2 "throttling.bps-total: '10M' is not a whole number" \
	"$PVIO" block-attach g1 "$(spec throttling.bps-total=10M)"
expect_fail 2 "throttling.iops-total: '99999999999999999999' is too large" \
	"$PVIO" block-attach g1 "$(spec throttling.iops-total=99999999999999999999)"
expect_fail 2 "unknown throttling option 'throttling.iops'" \
	"$PVIO" block-attach g1 "$(spec throttling.iops=5)"
expect_fail 2 "bps_max/iops_max cannot be lower than bps/iops" \
	"$PVIO" block-attach g1 "$(spec 'throttling.bps-total=100,throttling.bps-total-max=50')"
expect_fail 2 "bps/iops/max total values and read/write values cannot be used at the same time" \
	"$PVIO" block-attach g1 "$(spec 'throttling.iops-total=100,throttling.iops-read=5')"
expect_fail 2 "iops size requires an iops value to be set" \
	"$PVIO" block-attach g1 "$(spec 'throttling.bps-total=100,throttling.iops-size=4096')"
expect_fail 2 "bps/iops/max values must be within [0, 1000000000000000]" \
	"$PVIO" block-attach g1 "$(spec throttling.bps-write=1000000000000001)"
expect_fail 2 "burst length set without burst rate" \
	"$PVIO" block-attach g1 "$(spec 'throttling.iops-write=10,throttling.iops-write-max-length=5')"
[ "$("$PVIO" block-list g1 | wc -l)" = 1 ] || fail "a refused spec attached a disk"

# Limits at attach: the keys, and the backend applies them at probe.
"$PVIO" block-attach g1 "vdev=xvda, access=rw, throttling.iops-total=2000, \
throttling.iops-total-max=4000, throttling.iops-total-max-length=3, throttling.group=gold, \
target=$T/a.img" || fail "attach g1"
[ "$(xenstore-read $be1/throttling/iops-total)" = 2000 ] || fail "key iops-total"
[ "$(xenstore-read $be1/throttling/iops-total-max-length)" = 3 ] || fail "key max-length"
[ "$(xenstore-read $be1/throttling/group)" = gold ] || fail "key group"
want1="throttling.iops-total=2000,throttling.iops-total-max=4000,throttling.iops-total-max-length=3,throttling.group=gold"
wait_key $be1/throttling-applied "$want1"
wait_log "throttling: $want1 (group gold: 1 disk(s))"
# A second disk, another guest, same group: one budget for both.
"$PVIO" block-attach g2 "vdev=xvda, access=rw, throttling.iops-total=2000, \
throttling.iops-total-max=4000, throttling.iops-total-max-length=3, throttling.group=gold, \
target=$T/b.img" || fail "attach g2"
wait_key $be2/throttling-applied "$want1"
wait_log "(group gold: 2 disk(s))"
echo "ok: limits at attach applied, two disks in group gold"
# The disks work.
echo hello | guest g1 "$BLKIO" write xvda 0 || fail "write g1"
[ "$(guest g1 "$BLKIO" read xvda 0 512 | head -c 5)" = hello ] || fail "read g1"

# Live: a new set replaces the old one; the backend's watch picks it up.
out=$("$PVIO" block-set-throttle g1 xvda throttling.bps-total=20971520 \
	throttling.bps-total-max=41943040) || fail "set-throttle: $out"
echo "$out"
want2="throttling.bps-total=20971520,throttling.bps-total-max=41943040"
wait_key $be1/throttling-applied "$want2"
wait_log "throttling: $want2"
xenstore-read $be1/throttling/group >/dev/null 2>&1 && fail "old keys left"
echo "ok: live change applied"
# Bad changes from the CLI: refused, keys and limits unchanged.
expect_fail 2 "bps_max/iops_max cannot be lower than bps/iops (the disk keeps its limits)" \
	"$PVIO" block-set-throttle g1 xvda throttling.bps-total=100,throttling.bps-total-max=50
expect_fail 2 "throttling.iops-read: '-1' is negative" \
	"$PVIO" block-set-throttle g1 xvda throttling.iops-read=-1
expect_fail 2 "unknown throttling option 'iops'" "$PVIO" block-set-throttle g1 xvda iops=1
expect_fail 1 "no such disk" "$PVIO" block-set-throttle g1 xvdb throttling.iops-total=1
expect_fail 2 "expected NAME VDEV" "$PVIO" block-set-throttle g1 xvda
[ "$(xenstore-read $be1/throttling/bps-total)" = 20971520 ] || fail "refused set changed a key"
# Written by hand: the backend refuses it and keeps what is in force.
xenstore-write $be1/throttling/bps-total -- -7 || fail "xenstore-write"
wait_log "throttling refused: throttling.bps-total: '-7' is negative; the limits stay: $want2"
xenstore-write $be1/throttling/bps-total 20971520 || fail "xenstore-write"
xenstore-write $be1/throttling/bps-total-max 5 || fail "xenstore-write"
wait_log "throttling refused: bps_max/iops_max cannot be lower than bps/iops; the limits stay: $want2"
[ "$(xenstore-read $be1/throttling-applied)" = "$want2" ] || fail "applied changed"
echo "ok: bad values refused, the limits stay"
# Lifted.
"$PVIO" block-set-throttle g1 xvda none || fail "none"
wait_key $be1/throttling-applied ""
wait_log "throttling: none"
# g2 still in gold, alone now.
"$PVIO" block-set-throttle g2 xvda throttling.iops-total=500,throttling.group=gold >/dev/null ||
	fail "set g2"
wait_log "(group gold: 1 disk(s))"
# Detach: no throttling key resurrects the removed directory.
"$PVIO" block-detach g1 xvda || fail "detach g1"
"$PVIO" block-detach g2 xvda || fail "detach g2"
xenstore-read $be1/state >/dev/null 2>&1 && fail "backend dir of g1 left"
xenstore-ls /local/domain/0/backend/vbd 2>/dev/null | grep -q throttling &&
	fail "throttling keys left behind: $(xenstore-ls -f /local/domain/0/backend/vbd)"
echo "ok: detached cleanly"
exit 0
