#!/bin/bash
# timeout: 600
# Faults below the backend (the disk spec's fault-inject=, blkback's fault
# engine around each real engine), seen by a guest running the verify
# workload (pvio-blkio verify: stamped random writes, read back, a full
# pass at the end), while a second guest runs the same workload on a clean
# disk of the same backend. For every fault x engine:
#   - the faulted guest's verify reports exactly the injected errors, on the
#     operation injected (an I/O error, never EOPNOTSUPP for a read/write),
#     and no mismatch, during the run or in the final pass: no write that
#     failed was acknowledged, nothing landed elsewhere;
#   - transient faults (submit refused, a completion late by seconds) cost
#     no error at all;
#   - the other guest's verify passes, and the backend is still running.
# A bad fault-inject spec is refused by the toolstack naming what is wrong.
. "$(dirname "$0")/lib.sh"
start_pviod
start_blkback
"$PVIO" create g1 memory=128M >/dev/null || fail "create g1"
"$PVIO" create g2 memory=128M >/dev/null || fail "create g2"

out=$("$PVIO" block-attach g1 "vdev=xvdb, fault-inject=eio:op=sideways, target=$T/x.img" 2>&1) &&
	fail "a bad fault-inject spec was accepted"
grep -q "fault-inject: op=sideways" <<<"$out" || fail "bad spec: unclear message: $out"

# Verify options: one queue (fault counts are per queue), requests small
# enough to be one ring request each (one engine I/O each).
VOPTS=(--qd 8 --min-size 4096 --max-size 32768 --region-mb 8 --flush-every 10)

# summary FILE: "errors E mismatches M bad B"
summary() {
	sed -n 's/.*errors \([0-9]*\), mismatches \([0-9]*\), final pass bad blocks \([0-9]*\).*/errors \1 mismatches \2 bad \3/p' "$1"
}

# case ENGINE NAME SPEC ERRORS PATTERN: g1 verifies a fresh disk with SPEC
# while g2 verifies its clean one. ERRORS: the exact count, or "some".
n=0
LETTERS=(b c d e f g h i j k l m n o p q r s t u v w x y z)
run_case() {
	local eng=$1 name=$2 spec=$3 want=$4 pat=$5 vdev s g1rc g2rc
	n=$((n + 1))
	vdev=xvd${LETTERS[$(((n - 1) % 25))]}
	make_image "$T/f$n.img" 16
	make_image "$T/c$n.img" 16
	# verify expects a fresh disk: the other guest gets one each time too
	"$PVIO" block-attach g2 "vdev=$vdev, access=rw, engine=$eng, target=$T/c$n.img" ||
		fail "$eng/$name: attach g2"
	"$PVIO" block-attach g1 "vdev=$vdev, access=rw, engine=$eng, fault-inject=$spec, target=$T/f$n.img" ||
		fail "$eng/$name: attach"
	guest g2 "$BLKIO" verify "$vdev" --ops 400 --seed $((n + 1000)) "${VOPTS[@]}" >"$T/g2-$n.out" 2>&1 &
	local g2=$!
	guest g1 "$BLKIO" --queues 1 verify "$vdev" --ops 300 --seed "$n" "${VOPTS[@]}" >"$T/g1-$n.out" 2>&1
	g1rc=$?
	wait $g2
	g2rc=$?
	[ $g2rc = 0 ] || fail "$eng/$name: the other guest's verify failed: $(tail -3 "$T/g2-$n.out")"
	s=$(summary "$T/g1-$n.out")
	[ -n "$s" ] || fail "$eng/$name: verify gave no summary (exit $g1rc): $(tail -5 "$T/g1-$n.out")"
	read -r _ e _ m _ b <<<"$s"
	[ "$m" = 0 ] || fail "$eng/$name: $m mismatches: $(grep 'first error' "$T/g1-$n.out")"
	if [ "$want" = some ]; then
		[ "$e" -gt 0 ] || fail "$eng/$name: no error reported"
	else
		[ "$e" = "$want" ] || fail "$eng/$name: $e errors, expected $want: $(grep 'first error' "$T/g1-$n.out")"
		[ "$b" = 0 ] || fail "$eng/$name: $b bad blocks in the final pass"
		if [ "$want" = 0 ]; then
			[ $g1rc = 0 ] || fail "$eng/$name: verify failed: $(tail -3 "$T/g1-$n.out")"
		fi
	fi
	if [ -n "$pat" ]; then
		grep -q "first error: $pat" "$T/g1-$n.out" ||
			fail "$eng/$name: first error is not '$pat': $(grep 'first error' "$T/g1-$n.out")"
	fi
	kill -0 "$BLKBACK_PID" 2>/dev/null || fail "$eng/$name: pvio-blkback exited: $(tail -5 "$T/blkback.log")"
	"$PVIO" block-detach g1 "$vdev" || fail "$eng/$name: detach"
	"$PVIO" block-detach g2 "$vdev" || fail "$eng/$name: detach g2"
	rm -f "$T/f$n.img" "$T/c$n.img"
	printf '%-9s %-14s %-44s errors %-3s mismatches %s bad %s\n' "$eng" "$name" "$spec" "$e" "$m" "$b"
}

engines=(io_uring psync)
[ -e /usr/include/libaio.h ] && engines+=(libaio)
for eng in "${engines[@]}"; do
	run_case "$eng" eio-write   "eio:op=write:after=20:count=3"  3 "write .*Input/output error"
	run_case "$eng" eio-read    "eio:op=read:after=20:count=3"   3 "read .*Input/output error"
	run_case "$eng" enospc      "enospc:after=10:count=2"        2 "write .*Input/output error"
	run_case "$eng" eio-flush   "eio:op=flush:after=2:count=2"   2 "flush .*Input/output error"
	run_case "$eng" short-read  "short:after=5:count=2"          2 "read .*Input/output error"
	run_case "$eng" eagain      "submit-eagain:after=5:count=40" 0 ""
	run_case "$eng" ebusy       "submit-ebusy:after=5:count=40"  0 ""
	run_case "$eng" delay       "delay:ms=1500:after=30:count=2" 0 ""
	run_case "$eng" fd-gone     "ebadf:after=100"                some ""
done
grep -q "fault: " "$T/blkback.log" || fail "the backend logged no injected fault"
echo "fault matrix: ${#engines[@]} engines x 9 faults passed"
