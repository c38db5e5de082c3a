#!/bin/bash
# pvio-netio reflect and echo, as test_netback_scale uses them, on one
# pvio-netback bridge:
# 1. A reflector's --idle time counts from the first real frame, not from
#    the announcements of guests that connect after it: g1 (reflect, --idle 1)
#    hears g2's and g3's announcements, and is still serving well after one
#    second of them (it stopped then, and its vif closed, before the fix:
#    the CI failure of test_netback_scale).
# 2. An echo counts only the answer of the guest it sent to: once g1 has gone
#    (its MAC forgotten, frames to it flooded to every port), g3's echo to
#    g1's MAC must find no answer, though g2 reflects whatever reaches it.
# Skips (77) when pvio-netback was not built or DPDK cannot start here.
. "$(dirname "$0")/../netfront/lib.sh"
NETIO=$B/tools/pvio-netio
mac() { printf '00:16:3e:02:00:%02x' "$1"; }

start_pviod
start_netback --workers 1
for i in 1 2 3; do
	"$PVIO" create "g$i" memory=16M >/dev/null || fail "create g$i"
	"$PVIO" network-attach "g$i" "mac=$(mac "$i"),bridge=br0" >/dev/null ||
		fail "network-attach g$i"
done

# reflector N IDLE: g<N> reflects; waits until it is connected and announced.
reflector() {
	mkfifo "$T/r$1"
	"$PVIO" run --domain "g$1" -- "$NETIO" reflect 0 --quiet --timeout 60 --idle "$2" \
		--ready-fd 3 3>"$T/r$1" >/dev/null 2>>"$T/refl-$1.log" &
	RPID[$1]=$!
	PIDS+=($!)
	read -r _ <"$T/r$1" || fail "reflector g$1 did not connect: $(tail -3 "$T/refl-$1.log")"
}

declare -a RPID
reflector 1 1
reflector 2 600
# g3 connects too (its echo announces nothing; its netfront's connection is
# what g1 must not mistake for traffic), then waits for "go".
mkfifo "$T/e3" "$T/go"
exec 5<>"$T/go"
"$PVIO" run --domain g3 -- "$NETIO" echo 0 --count 20 --size 200 --dst "$(mac 1)" \
	--timeout 10 --quiet --ready-fd 3 --start-fd 4 3>"$T/e3" 4<"$T/go" 5>&- \
	>"$T/echo1.json" 2>"$T/echo1.log" &
E3=$!
PIDS+=($E3)
read -r _ <"$T/e3" || fail "g3 did not connect: $(tail -3 "$T/echo1.log")"
# The time under test: twice g1's --idle since g2's announcement reached it.
sleep 2
kill -0 "${RPID[1]}" 2>/dev/null ||
	fail "g1's reflector stopped on idle before any real frame came: $(tail -3 "$T/refl-1.log")"
echo "ok: a reflector with --idle 1 still serves 2 s after the last announcement"
exec 5>&-
wait "$E3" || fail "echo to g1: $(tail -3 "$T/echo1.log")"
grep -q '"frames": 20\b' "$T/echo1.json" || fail "echo to g1: $(cat "$T/echo1.json")"
echo "ok: 20 frames echoed by g1"
# Now its idle time runs: g1 stops on its own, its vif closes.
wait "${RPID[1]}" || fail "g1's reflector: $(tail -3 "$T/refl-1.log")"
echo "ok: g1 stopped 1 s after the last frame"

# g1 is gone: frames to its MAC are flooded to g2, which reflects them.
"$PVIO" run --domain g3 -- "$NETIO" echo 0 --count 3 --size 200 --dst "$(mac 1)" \
	--timeout 2 --quiet >"$T/echo2.json" 2>"$T/echo2.log" &&
	fail "an echo to a guest that is gone was answered (by g2's reflection of the flood): $(cat "$T/echo2.json")"
grep -q "no answer" "$T/echo2.log" || fail "echo to a gone guest: $(tail -3 "$T/echo2.log")"
kill -0 "${RPID[2]}" 2>/dev/null || fail "g2's reflector stopped: $(tail -3 "$T/refl-2.log")"
echo "ok: an echo to a gone guest finds no answer, though g2 reflects the flood"
exit 0
