#!/bin/bash
# timeout: 600
# Many guests on one pvio-blkback at once (issue 15's reproducer): N guests
# (PVIO_SCALE_GUESTS, default 256), one 64 MiB disk each, served by
# --workers 2; PVIO_LONG_TESTS=1 runs the workload 20 s instead of 3.
# All connect first (pvio-blkio verify --ready-fd), the store must then show N vbds Connected at once and the
# backend must run exactly its 2 worker threads (no thread per guest or
# queue); then all start together (--start-fd) and move verified data.
# Every guest must pass, the backend must stay up, and once every guest is
# destroyed its fds, guest-memory mappings and threads are back to their
# start values.
. "$(dirname "$0")/lib.sh"
N=${PVIO_SCALE_GUESTS:-256}
SECS=${PVIO_SCALE_SECONDS:-3}
[ "${PVIO_LONG_TESTS:-0}" = 1 ] && [ -z "${PVIO_SCALE_SECONDS:-}" ] && SECS=20
start_pviod
PVIOD_PID=${PIDS[0]}
start_blkback_ready --workers 2 ${PVIO_SCALE_BLKBACK_OPTS:-}
# Our own threads (io_uring's iou-wrk helpers come and go with the load).
threads() { cat /proc/"$1"/task/*/comm 2>/dev/null | grep -vc '^iou-'; }
workers() { cat /proc/"$1"/task/*/comm 2>/dev/null | grep -c '^blk-worker'; }
FD0=$(fds $BLKBACK_PID); MAP0=$(gmaps $BLKBACK_PID); DFD0=$(fds $PVIOD_PID)
TH0=$(threads $BLKBACK_PID)
echo "blkback fds=$FD0 guest mappings=$MAP0, pviod fds=$DFD0 before the guests"
for i in $(seq 1 $N); do
	add_guest g$i
done
# All connect, then all start together and move verified data.
mkfifo "$T/go"
exec 5<>"$T/go"
GP=()
for i in $(seq 1 $N); do
	mkfifo "$T/r$i"
	# (not guest_bg: the redirections must be the background job's own,
	# or opening the fifo would block this shell)
	"$PVIO" run --domain g$i -- "$BLKIO" --timeout-ms 100000 verify xvda --seconds $SECS \
		--qd 4 --region-mb 16 --ready-fd 3 --start-fd 4 \
		3>"$T/r$i" 4<"$T/go" 5>&- >"$T/g$i.out" 2>&1 &
	GP+=($!)
done
PIDS+=("${GP[@]}")
for i in $(seq 1 $N); do
	read -r _ <"$T/r$i" || fail "g$i did not connect: $(tail -3 "$T/g$i.out")"
done
connected=$(XENSTORED_PATH=$XENSTORED_PATH xenstore-ls /local/domain/0/backend/vbd 2>/dev/null |
	grep -c '^ *state = "4"')
[ "$connected" = "$N" ] || fail "$connected of $N vbds Connected at once"
[ "$(workers $BLKBACK_PID)" = 2 ] || fail "$(workers $BLKBACK_PID) worker threads, want 2"
[ "$(threads $BLKBACK_PID)" = "$TH0" ] ||
	fail "pvio-blkback runs $(threads $BLKBACK_PID) threads with $N guests, $TH0 with none"
echo "$N vbds connected at once; pvio-blkback runs $TH0 threads (2 workers), as with none"
exec 5>&-
bad=0
for i in $(seq 1 $N); do
	if ! wait "${GP[$((i - 1))]}"; then
		bad=$((bad + 1))
		echo "g$i failed: $(tail -3 "$T/g$i.out")"
	fi
done
alive $BLKBACK_PID || { tail -20 "$T/blkback.log"; fail "pvio-blkback died"; }
[ $bad -eq 0 ] || { tail -20 "$T/blkback.log"; fail "$bad of $N guests failed"; }
echo "$N guests passed verify together"
echo "blkback fds=$(fds $BLKBACK_PID) guest mappings=$(gmaps $BLKBACK_PID)," \
	"threads=$(ls /proc/$BLKBACK_PID/task | wc -l), pviod fds=$(fds $PVIOD_PID) once the $N runs ended"
for i in $(seq 1 $N); do
	"$PVIO" destroy g$i || fail "destroy g$i"
done
back() {
	[ "$(fds $BLKBACK_PID)" = "$FD0" ] && [ "$(gmaps $BLKBACK_PID)" = "$MAP0" ] &&
		[ "$(fds $PVIOD_PID)" = "$DFD0" ] && [ "$(threads $BLKBACK_PID)" = "$TH0" ]
}
wait_for 30 back || fail "after destroy: blkback fds $(fds $BLKBACK_PID) (start $FD0)," \
	"mappings $(gmaps $BLKBACK_PID) (start $MAP0), pviod fds $(fds $PVIOD_PID) (start $DFD0)"
alive $BLKBACK_PID || fail "pvio-blkback died during teardown"
echo "after destroy: blkback fds=$(fds $BLKBACK_PID) mappings=$(gmaps $BLKBACK_PID)," \
	"pviod fds=$(fds $PVIOD_PID) (start values)"
grep -E "Sanitizer|runtime error" "$T"/*.log && fail "sanitizer report"
echo "ok"
