#!/bin/bash
# timeout: 240
# Many guests on one pvio-blkback at once (issue 15's reproducer): N guests
# (PVIO_SCALE_GUESTS, default 64), one 64 MiB disk each, all running a
# verified workload together. Every guest must pass, the backend must stay
# up, and once every guest is destroyed its fds and guest-memory mappings
# are back to their start values.
. "$(dirname "$0")/lib.sh"
N=${PVIO_SCALE_GUESTS:-64}
SECS=${PVIO_SCALE_SECONDS:-3}
start_pviod
PVIOD_PID=${PIDS[0]}
start_blkback_ready ${PVIO_SCALE_BLKBACK_OPTS:-}
FD0=$(fds $BLKBACK_PID); MAP0=$(gmaps $BLKBACK_PID); DFD0=$(fds $PVIOD_PID)
echo "blkback fds=$FD0 guest mappings=$MAP0, pviod fds=$DFD0 before the guests"
for i in $(seq 1 $N); do
	add_guest g$i
done
# All at once: each guest connects and moves verified data.
GP=()
for i in $(seq 1 $N); do
	guest_bg g$i "$BLKIO" --timeout-ms 100000 verify xvda --seconds $SECS --qd 4 --region-mb 16 \
		>"$T/g$i.out" 2>&1
	GP+=($!)
done
PIDS+=("${GP[@]}")
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
		[ "$(fds $PVIOD_PID)" = "$DFD0" ]
}
wait_for 30 back || fail "after destroy: blkback fds $(fds $BLKBACK_PID) (start $FD0)," \
	"mappings $(gmaps $BLKBACK_PID) (start $MAP0), pviod fds $(fds $PVIOD_PID) (start $DFD0)"
alive $BLKBACK_PID || fail "pvio-blkback died during teardown"
echo "after destroy: blkback fds=$(fds $BLKBACK_PID) mappings=$(gmaps $BLKBACK_PID)," \
	"pviod fds=$(fds $PVIOD_PID) (start values)"
grep -E "Sanitizer|runtime error" "$T"/*.log && fail "sanitizer report"
echo "ok"
