#!/bin/bash
# timeout: 180
# The verify workload (pvio-blkio verify: stamped random writes, reads that
# check every block's latest acknowledged stamp, flushes, discards that
# must read back as zeros, a full read-back pass at the end) on a Ceph RBD
# disk with 2 queues, while the cluster's only OSD is SIGKILLed mid-run and
# started again: librbd holds the I/O in flight until the OSD is back (the
# OSD op timeout, 30 s here, is longer than the outage), so the guest sees
# a stall, not an error. Asserted: no error, no corrupt block during the
# run or in the final pass (every acknowledged write is present), I/O
# resumes after the restart (the guest's progress counter moves on), and
# the image's exclusive lock is still ours afterwards.
. "$(dirname "$0")/lib.sh"
start_ceph
start_pviod
start_blkback --max-queues 2
rbd_ create --size 64M rbd/v || fail "rbd create"
"$PVIO" create g1 memory=128M >/dev/null || fail "create g1"
"$PVIO" block-attach g1 "vdev=xvda, access=rw, target=$(rbd_target v)" || fail "attach"

mkfifo "$T/vready"
guest g1 "$BLKIO" --queues 2 verify xvda --seconds 14 --qd 16 --region-mb 64 \
	--discard-pct 5 --flush-every 50 --progress --ready-fd 3 \
	3>"$T/vready" >"$T/verify.out" 2>"$T/verify.err" &
GUEST=$!
PIDS+=($GUEST)
read -r _ <"$T/vready" || fail "verify did not start: $(tail -n 3 "$T/verify.err")"

# ops N: the guest's I/O count in its progress line number N (from 1)
ops_at() { sed -n 's/.*verify: *[0-9.]* s *\([0-9]*\) I\/Os.*/\1/p' "$T/verify.err" | sed -n "$1p"; }
lines() { grep -c 'I/Os' "$T/verify.err"; }

# the outage: a random moment a few seconds in (randomness, not
# synchronisation), the OSD down for 2 s
sleep "$((RANDOM % 2 + 3)).$((RANDOM % 10))"
"$RBD_TESTS/ceph-cluster.sh" kill-osd "$CEPH_DIR" || fail "kill the OSD"
t_kill=$EPOCHREALTIME
echo "killed the OSD (SIGKILL) after $(lines) progress lines, $(ops_at "$(lines)") I/Os"
sleep 2
"$RBD_TESTS/ceph-cluster.sh" start-osd "$CEPH_DIR" || fail "restart the OSD"
n_back=$(lines)
before=$(ops_at "$n_back")
echo "the OSD is up again after $(awk -v a="$t_kill" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}') s; the guest had done $before I/Os"

wait "$GUEST"
rc=$?
grep -v '^blkfront' "$T/verify.out"
after=$(ops_at "$(lines)")
[ "$rc" = 0 ] || fail "verify failed (exit $rc): $(tail -n 3 "$T/verify.out")"
grep -q 'errors 0, mismatches 0, final pass bad blocks 0 of' "$T/verify.out" || fail "verification"
grep -q '^verify: 2 queue(s)' "$T/verify.out" || fail "not 2 queues"
[ -n "$after" ] && [ -n "$before" ] && [ "$after" -gt "$before" ] ||
	fail "no I/O after the OSD came back ($before, then $after)"
rbd_ lock ls rbd/v | grep -q 'client\.' || fail "the exclusive lock is gone: $(rbd_ lock ls rbd/v)"
kill -0 "$BLKBACK_PID" || fail "pvio-blkback exited"
echo "ok: OSD killed and restarted mid-run: 0 errors, 0 corrupt blocks, $before -> $after I/Os, lock still held"
