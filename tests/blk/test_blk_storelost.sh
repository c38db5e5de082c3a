#!/bin/bash
# pviod (the hypervisor broker and the store) killed while a guest runs the
# verify workload on its disk: the ring goes on (it is shared memory and
# eventfds between guest and backend), so the workload finishes with no
# error, no mismatch and a clean final pass; the guest says once that the
# store connection failed; pvio-blkback keeps serving, then exits (status
# 1, naming the store) once the guest has closed. README: Failure model.
. "$(dirname "$0")/lib.sh"
start_pviod
PVIOD_PID=${PIDS[0]}
start_blkback
g1_with_disk 128 32
mkfifo "$T/vready"
guest g1 "$BLKIO" --timeout-ms 5000 verify xvda --seconds 4 --qd 16 --region-mb 16 \
	--ready-fd 3 3>"$T/vready" >"$T/verify.out" 2>&1 &
VPID=$!
PIDS+=($VPID)
read -r _ <"$T/vready" || fail "verify did not start: $(cat "$T/verify.out")"
kill -9 "$PVIOD_PID"
wait "$PVIOD_PID" 2>/dev/null
wait "$VPID"
rc=$?
cat "$T/verify.out"
[ $rc = 0 ] || fail "verify failed after the store went away (exit $rc)"
grep -q "errors 0, mismatches 0, final pass bad blocks 0" "$T/verify.out" || fail "verify reported errors"
grep -q "the store connection failed" "$T/verify.out" || fail "the guest did not notice the store going"
# The backend goes once its last frontend has closed (bounded wait on its exit).
timeout 20 tail --pid="$BLKBACK_PID" -f /dev/null || fail "pvio-blkback still running: $(tail -3 "$T/blkback.log")"
wait "$BLKBACK_PID"
brc=$?
[ $brc = 1 ] || fail "pvio-blkback exit status $brc, want 1: $(tail -3 "$T/blkback.log")"
grep -q "store" "$T/blkback.log" || fail "pvio-blkback did not name the store: $(tail -3 "$T/blkback.log")"
echo "store lost: the guest's I/O went on and verified; the backend exited once it closed"
