#!/bin/bash
# A resource exhausted on purpose: pviod allows pvio-blkback pin
# registrations for 2 guests only (--max-pins 2). The third guest's disk
# fails to connect with a message naming the resource, the two connected
# guests keep moving verified data meanwhile, and once a registration is
# free again (a guest destroyed) the third disk connects when its frontend
# reinitialises.
. "$(dirname "$0")/lib.sh"
start_pviod_opts --max-pins 2
start_blkback_ready
for g in g1 g2 g3; do add_guest $g; done
connected() { grep -q "blkback: dom$1/51712: connected" "$T/blkback.log"; }

# g1 and g2: connected and busy for the whole test's first half.
guest_bg g1 "$BLKIO" --timeout-ms 60000 verify xvda --seconds 6 --qd 4 --region-mb 16 \
	>"$T/g1.out" 2>&1
P1=$!
guest_bg g2 "$BLKIO" --timeout-ms 60000 verify xvda --seconds 6 --qd 4 --region-mb 16 \
	>"$T/g2.out" 2>&1
P2=$!
PIDS+=($P1 $P2)
wait_for 60 connected 1 && wait_for 60 connected 2 || fail "g1, g2 did not connect: $(tail -5 "$T/blkback.log")"

# g3: refused, by name, and only g3.
out=$(guest g3 "$BLKIO" --timeout-ms 2000 info xvda 2>&1) && fail "g3 connected past --max-pins 2: $out"
msg="vbd: dom3/51712: queue 0: cannot map ring: pin registrations exhausted (limit 2, pviod --max-pins)"
grep -qF "$msg" "$T/blkback.log" || { cat "$T/blkback.log"; fail "no message naming the resource"; }
echo "g3 refused: $(grep -F "$msg" "$T/blkback.log" | head -1)"
grep -q "pin registrations exhausted (limit 2, --max-pins)" "$T/pviod.log" ||
	{ cat "$T/pviod.log"; fail "pviod did not say which limit"; }
alive $BLKBACK_PID || fail "pvio-blkback died"

wait $P1 || fail "g1 failed while g3 was refused: $(cat "$T/g1.out")"
wait $P2 || fail "g2 failed while g3 was refused: $(cat "$T/g2.out")"
echo "g1, g2 verified meanwhile: $(grep -h '^verify:' "$T/g1.out" "$T/g2.out" | cut -d';' -f2 | tr '\n' ';')"

# Free a registration: g1 goes away; g3's frontend reinitialises (each try
# is a new frontend run) and connects once the backend let g1's go.
"$PVIO" destroy g1 || fail "destroy g1"
ok=
for try in $(seq 1 20); do
	if guest g3 "$BLKIO" --timeout-ms 3000 verify xvda --seconds 2 --qd 4 --region-mb 16 \
		>"$T/g3.out" 2>&1; then
		ok=1
		break
	fi
done
[ -n "$ok" ] || fail "g3 never connected after g1 was destroyed: $(cat "$T/g3.out"; tail -5 "$T/blkback.log")"
connected 3 || fail "no connected line for g3"
echo "g3 connected and verified on try $try after a registration was freed"
# g2 still works (a round trip past the region verify used).
printf 'g2 after the exhaustion' | guest g2 "$BLKIO" write xvda 33554432 2>>"$T/g2b.out" ||
	fail "g2 cannot write after the exhaustion"
got=$(guest g2 "$BLKIO" read xvda 33554432 512 2>>"$T/g2b.out" | head -c 23)
[ "$got" = "g2 after the exhaustion" ] || fail "g2 read back '$got'"
alive $BLKBACK_PID || fail "pvio-blkback died"
grep -E "Sanitizer|runtime error" "$T"/*.log && fail "sanitizer report"
echo "ok"
