#!/bin/bash
# timeout: 300
# Hybrid polling in blkfront (evtchn/pollwin.h) through the real path: a
# disk whose every completion the backend's fault engine holds back 100 us,
# so each wait (about 200 us) is longer than blkfront's 50 us spin window
# and within hybrid polling's 500 us. The guest
# (pvio-blkio verify at QD1: stamped writes, reads checked, a full pass at
# the end) must
#   - lose nothing: no error, no mismatch, every block right at the end;
#   - sleep on its timer (half the usual wait, the backend not asked for an
#     event) rather than only on the event channel: timer sleeps counted;
#   - with --poll-us 0 (polling off), never sleep on a timer, and still
#     lose nothing.
. "$(dirname "$0")/lib.sh"
start_pviod
start_blkback
"$PVIO" create g1 memory=64M >/dev/null || fail "create g1"
VOPTS=(--qd 1 --ops 300 --min-size 4096 --max-size 16384 --region-mb 4 --flush-every 25)

# run NAME VDEV [FRONTEND OPTIONS]: verify on a fresh delayed disk; prints
# the frontend's counters line.
run() {
	local name=$1 vdev=$2 out
	shift 2
	make_image "$T/$name.img" 8
	"$PVIO" block-attach g1 "vdev=$vdev, access=rw, fault-inject=delay:us=100, target=$T/$name.img" ||
		fail "$name: attach"
	out=$(guest g1 "$BLKIO" --queues 1 "$@" verify "$vdev" --seed 7 "${VOPTS[@]}" 2>&1) ||
		fail "$name: verify failed: $(tail -5 <<<"$out")"
	grep -q "errors 0, mismatches 0, final pass bad blocks 0 of" <<<"$out" ||
		fail "$name: verify found errors: $(grep '^verify' <<<"$out")"
	grep '^frontend:' <<<"$out"
}

sleeps() { sed -n "s/.* \([0-9]*\) $1 sleeps.*/\1/p" <<<"$2"; }

st=$(run hybrid xvdb) || exit 1
ts=$(sleeps timer "$st")
[ -n "$ts" ] || fail "no timer sleeps counter in: $st"
# Under the sanitizers the waits may pass 500 us: only counted there.
[ "$ts" -gt 0 ] || [ -n "${PVIO_SANITIZED:-}" ] ||
	fail "waits of ~200 us never slept on the timer: $st"
echo "100 us delays: $st"

st=$(run nopoll xvdc --poll-us 0) || exit 1
ts=$(sleeps timer "$st")
ev=$(sleeps event "$st")
[ "$ts" = 0 ] || fail "--poll-us 0 still slept on the timer: $st"
[ "$ev" -gt 0 ] || fail "--poll-us 0: no event sleeps counted: $st"
echo "--poll-us 0: $st"
grep -q "fault" "$T/blkback.log" || fail "the fault engine logged no injection: $(tail -3 "$T/blkback.log")"
kill -0 "$BLKBACK_PID" || fail "pvio-blkback died"
echo ok
