#!/bin/bash
# A backend killed mid-job: pvio-blkback is SIGKILLed twice while 2 fio
# jobs (one blkfront queue each) write and verify (crc32c, verify_backlog
# and the final pass), and restarted each time. blkfront reconnects and
# re-issues what was in flight; fio ends with exit 0 and no verify error,
# and the engine counted the reconnections.
. "$(dirname "$0")/lib.sh"
fio_setup
start_pviod
start_blkback --max-queues 2
"$PVIO" create g1 memory=256M >/dev/null || fail "create"
make_image "$T/d.img" 96
"$PVIO" block-attach g1 "vdev=xvda, access=rw, target=$T/d.img" || fail "attach"

# wait_connected N: until the backend log shows N connections (bounded)
wait_connected() {
	local i
	for i in $(seq 1 400); do
		[ "$(grep -c ': connected:' "$T/blkback.log")" -ge "$1" ] && return 0
		kill -0 "$FIOPID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# ~6 s of writes (rate-limited so the kills land mid-job), then the final
# verification pass.
pvfio g1 --filename=xvda --pvio_queues=2 --pvio_verbose=1 --pvio_timeout_ms=20000 \
	--name=crash --numjobs=2 --offset_increment=48M --size=40M \
	--rw=randwrite --bsrange=4k-256k --iodepth=16 --rate=7m \
	--verify=crc32c --verify_backlog=64 >"$T/fio.out" 2>"$T/fio.err" &
FIOPID=$!
PIDS+=($FIOPID)
for k in 1 2; do
	wait_connected "$k" || fail "the frontend did not (re)connect (round $k): $(tail -3 "$T/fio.err")"
	# a random moment in the job (the randomness of the crash, not
	# synchronisation)
	sleep "1.$((RANDOM % 9))"
	kill_blkback
	echo "killed pvio-blkback ($k)"
	start_blkback --max-queues 2
done
wait "$FIOPID"
rc=$?
grep -E '^fio-pvio|err=|WRITE:|READ:' "$T/fio.out"
[ $rc = 0 ] || fail "fio exit $rc: $(grep -v '^blkfront' "$T/fio.err" | tail -5)"
no_verify_errors "$T/fio.out" && no_verify_errors "$T/fio.err" || fail "verify errors"
[ "$(grep -c 'err= 0' "$T/fio.out")" = 2 ] || fail "not 2 jobs with err= 0"
recon=$(sed -n 's/^fio-pvio: xvda: .* \([0-9]*\) reconnects.*/\1/p' "$T/fio.out")
[ "${recon:-0}" -ge 2 ] || fail "expected 2 reconnections, the engine saw ${recon:-none}"
echo "ok: 2 backend crashes, $recon reconnections, fio verified everything"
