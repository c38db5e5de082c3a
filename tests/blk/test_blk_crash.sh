#!/bin/bash
# Backend crash: pvio-blkback is SIGKILLed five times at random moments in
# the middle of a verified write workload and restarted each time. blkfront
# walks the handshake again and re-issues what was in flight: the workload
# finishes, every block verifies, and nothing is answered twice (blkfront
# disables the device on a duplicate or unknown id, which would fail it).
. "$(dirname "$0")/lib.sh"
start_pviod
start_blkback
g1_with_disk 128 64

# wait_connected N: until the backend log shows N connections (bounded)
wait_connected() {
	local i
	for i in $(seq 1 400); do
		[ "$(grep -c ': connected:' "$T/blkback.log")" -ge "$1" ] && return 0
		kill -0 "$GUEST" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

guest g1 "$BLKIO" --timeout-ms 20000 verify xvda --seconds 12 --qd 16 --region-mb 32 \
	--discard-pct 0 >"$T/guest.out" 2>&1 &
GUEST=$!
PIDS+=($GUEST)
for k in 1 2 3 4 5; do
	wait_connected "$k" || fail "the frontend did not (re)connect (round $k): $(tail -3 "$T/guest.out")"
	# a random moment in the workload (this is the randomness of the
	# crash, not synchronisation)
	sleep "0.$((RANDOM % 8 + 2))"
	kill_blkback
	echo "killed pvio-blkback ($k)"
	start_blkback
done
wait "$GUEST"
rc=$?
cat "$T/guest.out" | grep -v '^blkfront' | tail -5
[ $rc = 0 ] || fail "the workload failed: $(tail -5 "$T/guest.out")"
grep -q 'mismatches 0, final pass bad blocks 0 ' "$T/guest.out" || fail "verification"
recon=$(sed -n 's/.* \([0-9]*\) reconnects.*/\1/p' "$T/guest.out")
[ "${recon:-0}" -ge 5 ] || fail "expected 5 reconnections, saw ${recon:-none}"
echo "ok: 5 crashes, $recon reconnections, every block verified"
