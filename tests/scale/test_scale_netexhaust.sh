#!/bin/bash
# A resource exhausted on purpose, network side: pvio-netback with
# --max-ports 2 has switch ports for two vifs. The third guest's vif is
# refused with a message naming the limit while the two connected guests
# keep exchanging frames; once a port is free (a guest destroyed) the third
# vif connects when its frontend tries again, and carries frames.
. "$(dirname "$0")/lib.sh"
NB=${NETBACK:-$B/netback/pvio-netback}
NETIO=$B/tools/pvio-netio
[ -x "$NB" ] || skip "pvio-netback was not built (libdpdk missing)"
NBPID=
dpdk_dir() { [ -n "$NBPID" ] && rm -rf "/var/run/dpdk/pvio-netback-$NBPID"; }
CLEANUP_HOOKS+=(dpdk_dir)

start_pviod
mkfifo "$T/nbready"
"$NB" --socket "$PVIO_SOCKET" --ready-fd 3 --max-ports 2 3>"$T/nbready" 2>>"$T/netback.log" &
NBPID=$!
PIDS+=($NBPID)
read -r _ <"$T/nbready" || skip "pvio-netback did not start (DPDK unusable here?): $(tail -3 "$T/netback.log")"
for i in 1 2 3; do
	"$PVIO" create g$i memory=64M >/dev/null || fail "create g$i"
	"$PVIO" network-attach g$i mac=00:16:3e:00:00:0$i,bridge=br0 || fail "attach g$i"
done

# reflector NAME: a guest sending every frame back, connected; sets RPID
reflector() {
	local fifo=$T/ready-$1-$RANDOM
	mkfifo "$fifo"
	# (not guest_bg: the fifo must be opened by the background process)
	"$PVIO" run --domain $1 -- "$NETIO" reflect 0 --timeout 120 --idle 120 --ready-fd 3 \
		3>"$fifo" >/dev/null 2>>"$T/$1.log" &
	RPID=$!
	PIDS+=($RPID)
	read -r _ <"$fifo"
}
echo_ok() {  # echo_ok FROM TO_MAC: 100 round trips
	guest $1 "$NETIO" echo 0 --dst $2 --count 100 --timeout 5 >/dev/null 2>>"$T/$1.log"
}

reflector g1 || fail "g1 did not connect: $(tail -3 "$T/g1.log")"
R1=$RPID
# g2: ping-pong with g1 until we stop it (any frame without an answer
# within 5 s ends it with an error).
guest_bg g2 "$NETIO" echo 0 --dst 00:16:3e:00:00:01 --count 1000000000 --timeout 5 \
	>/dev/null 2>>"$T/g2.log"
P2=$!
PIDS+=($P2)
connected() { grep -q "vif: dom$1/0: connected" "$T/netback.log"; }
wait_for 30 connected 2 || fail "g2 did not connect: $(tail -3 "$T/g2.log")"

# g3: no port left. It waits for its backend; we wait for the refusal.
guest_bg g3 "$NETIO" reflect 0 --timeout 120 >/dev/null 2>>"$T/g3.log"
P3=$!
PIDS+=($P3)
msg="vif: dom3/0: switch ports exhausted (limit 2, pvio-netback --max-ports)"
refused() { grep -qF "$msg" "$T/netback.log"; }
wait_for 30 refused || fail "no message naming the limit: $(cat "$T/netback.log")"
echo "g3 refused: $msg"
# Meanwhile the connected guests carried on: g2's ping-pong never missed.
alive $P2 || fail "g2's ping-pong with g1 stopped: $(tail -3 "$T/g2.log")"
kill $P2
wait $P2 || fail "g2's ping-pong with g1 failed: $(tail -3 "$T/g2.log")"
grep -q "round trips" "$T/g2.log" || fail "g2: no round trips: $(tail -3 "$T/g2.log")"
echo "g1, g2 exchanged frames throughout: $(grep -o '[0-9]* round trips' "$T/g2.log" | head -1)"
alive $NBPID || fail "pvio-netback died"
kill $P3; wait $P3 2>/dev/null

# Free a port: g1 goes; g3's frontend tries again and connects.
kill $R1; wait $R1 2>/dev/null
"$PVIO" destroy g1 || fail "destroy g1"
ok=
for try in $(seq 1 10); do
	if reflector g3; then ok=1; break; fi
	kill $RPID 2>/dev/null; wait $RPID 2>/dev/null
done
[ -n "$ok" ] || fail "g3 never connected after g1 was destroyed: $(tail -5 "$T/g3.log")"
echo_ok g2 00:16:3e:00:00:03 || fail "g2 <-> g3 after the port was freed: $(tail -3 "$T/g2.log")"
echo "g3 connected on try $try and exchanges frames with g2"
alive $NBPID || fail "pvio-netback died"
echo "ok"
