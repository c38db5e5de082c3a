#!/bin/bash
# pvio top against pviod and pvio-blkback: the backend's stats file is
# found beside pviod's socket; each vbd shows up under its domain's name
# from the moment the backend discovers it; while guests run, the
# backend's workers get CPU time; --batch --iterations 2 prints two
# refreshes; every --json line parses; counters a backend does not keep are
# null ("-"), those it keeps move with the load; a detached disk and a
# destroyed domain disappear; a backend killed with -9 is not shown and the
# next one removes its file; bad options are refused.
. "$(dirname "$0")/../blk/lib.sh"
. "$(dirname "$0")/top-lib.sh"

expect_fail() {
	local want=$1 text=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, want $want: $out"
	grep -qF -- "$text" <<<"$out" || fail "'$*' said '$out', want '$text'"
}
GPIDS=()
stop_guests() {
	local p
	for p in "${GPIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${GPIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	GPIDS=()
}

start_pviod
start_blkback
top_wait "be('pvio-blkback') and be('pvio-blkback')['pid'] == $BLKBACK_PID" ||
	fail "the backend is not shown: $(ls -la "$T/stats" 2>&1) $(tail -3 "$T/blkback.log")"
[ -f "$T/stats/vbd-$BLKBACK_PID.stats" ] || fail "no stats file beside pviod's socket"

"$PVIO" create g1 memory=64M >/dev/null || fail "create g1"
"$PVIO" create g2 memory=64M >/dev/null || fail "create g2"
for f in a b c; do make_image "$T/$f.img" 16; done
"$PVIO" block-attach g1 "format=raw, vdev=xvda, access=rw, target=$T/a.img" || fail "attach"
"$PVIO" block-attach g1 "format=raw, vdev=xvdb, access=rw, target=$T/b.img" || fail "attach"
"$PVIO" block-attach g2 "format=raw, vdev=xvda, access=rw, target=$T/c.img" || fail "attach"
# Shown from discovery on, before any guest connects.
top_wait "dom('g1')['vbds'] == 2 and dom('g2')['vbds'] == 1 and \
sorted(d['devid'] for d in dom('g1')['devices']) == [51712, 51728] and \
be('pvio-blkback')['devices'] == 3" || fail "devices not shown"

# Load: the backend's pollers run.
guest g1 "$BLKIO" verify xvda --seconds 120 --qd 4 --region-mb 4 >"$T/g1.out" 2>&1 &
GPIDS+=($!)
guest g2 "$BLKIO" verify xvda --seconds 120 --qd 4 --region-mb 4 >"$T/g2.out" 2>&1 &
GPIDS+=($!)
top_wait "any(w['cpu_s'] > 0 and w['tid'] != $BLKBACK_PID for w in be('pvio-blkback')['workers'])" ||
	fail "no worker CPU time"
counts=$(top_get "be('pvio-blkback')['counts_io']")
if [ "$counts" = True ]; then
	top_wait "dom('g1')['vbd_wr'] > 0 and dom('g1')['vbd_rd'] > 0 and \
dom('g1')['vbd_wsect'] >= 8 * dom('g1')['vbd_wr'] and dom('g2')['vbd_wr'] > 0" ||
		fail "vbd counters do not move"
	echo "vbd counters move with the load"
else
	# Not kept (yet): null in JSON, "-" on screen, never a made-up 0.
	top_wait "dom('g1')['vbd_rd'] is None and dom('g1')['vbd_wsect'] is None and \
all(d['rd'] is None for d in dom('g1')['devices'])" || fail "uncounted columns not null"
	echo "pvio-blkback does not count I/O into its stats yet: columns are null / '-'"
fi

out=$("$PVIO" top --batch --iterations 2 --delay 0.2) || fail "top --batch"
echo "$out"
[ "$(grep -c '^pvio top - ' <<<"$out")" = 2 ] || fail "want two refreshes"
[ "$(grep -Ec '^ +g1 +[0-9]+ +2 ' <<<"$out")" = 2 ] || fail "g1's line"
[ "$(grep -Ec '^ +g2 +[0-9]+ +1 ' <<<"$out")" = 2 ] || fail "g2's line"
grep -Eq "^pvio-blkback +$BLKBACK_PID " <<<"$out" || fail "the backend's workers"
if [ "$counts" != True ]; then
	grep -Eq '^ +g1 +[0-9]+ +2 +- +- ' <<<"$out" || fail "uncounted columns not '-'"
fi
"$PVIO" top --json --iterations 3 --delay 0.1 | python3 -c '
import json, sys
n = 0
for line in sys.stdin:
    json.loads(line)
    n += 1
sys.exit(0 if n == 3 else 1)' || fail "--json lines do not parse"
stop_guests
grep -q "errors 0, mismatches 0" "$T/g1.out" 2>/dev/null || true

# A detached disk disappears, the other stays; a destroyed domain goes.
"$PVIO" block-detach g1 xvdb || fail "detach"
top_wait "dom('g1')['vbds'] == 1 and [d['devid'] for d in dom('g1')['devices']] == [51712]" ||
	fail "detached disk still shown"
"$PVIO" destroy g2 || fail "destroy g2"
top_wait "dom('g2') is None and be('pvio-blkback')['devices'] == 1" || fail "g2 still shown"

# kill -9: the file stays behind, top does not show a dead backend; the
# next backend removes the stale file.
old=$BLKBACK_PID
kill_blkback
top_wait "be('pvio-blkback') is None" || fail "a dead backend is shown"
start_blkback
top_wait "be('pvio-blkback') and be('pvio-blkback')['pid'] == $BLKBACK_PID and dom('g1')['vbds'] == 1" ||
	fail "the new backend is not shown"
[ -e "$T/stats/vbd-$old.stats" ] && fail "the dead backend's file was not removed"

expect_fail 2 "--iterations: '0'" "$PVIO" top --iterations 0
expect_fail 2 "--delay: 'abc'" "$PVIO" top --delay abc
expect_fail 2 "--delay: '0'" "$PVIO" top -d 0
expect_fail 2 "unexpected argument 'x'" "$PVIO" top x
"$PVIO" top --stats-dir "$T/none" --batch -i 1 | grep -q '0 backend(s)' || fail "empty dir"
echo "ok"
