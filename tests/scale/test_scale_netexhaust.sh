#!/bin/bash
# A resource exhausted on purpose, network side: pvio-netback with
# --max-ports 2 has switch ports for two vifs. g1 and g2 run
# pvio-netfront-tap (their TAPs in two network namespaces) and ping each
# other; g3's vif is refused with a message naming the limit, and g1 and g2
# still ping; once g1 is destroyed, g3's frontend tries again, connects,
# and g2 pings it. Skips (77) without root, network namespaces,
# /dev/net/tun or pvio-netback (DPDK).
. "$(dirname "$0")/lib.sh"
NB=${NETBACK:-$B/netback/pvio-netback}
TAPB=$B/tools/pvio-netfront-tap
NS1=pvsc-a-$$
NS2=pvsc-b-$$
NBPID=
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, TAP)"
[ -x "$NB" ] || skip "pvio-netback was not built (libdpdk missing)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v ip >/dev/null || skip "no ip(8)"
ip netns add "$NS1" 2>/dev/null || skip "cannot create network namespaces"
del_ns() {
	ip netns del "$NS1" 2>/dev/null
	ip netns del "$NS2" 2>/dev/null
	[ -n "$NBPID" ] && rm -rf "/var/run/dpdk/pvio-netback-$NBPID"
}
CLEANUP_HOOKS+=(del_ns)
ip netns add "$NS2" || fail "netns $NS2"

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

# bridge NAME NS ADDR: pvio-netfront-tap for guest NAME, its TAP pv0 up in
# NS with ADDR; returns 1 if the vif did not connect. Sets TAPPID.
bridge() {
	local fifo=$T/ready-$1-$RANDOM
	mkfifo "$fifo"
	"$PVIO" run --domain "$1" -- "$TAPB" --vif 0 --tap pv0 --netns "$2" --ready-fd 3 \
		3>"$fifo" 2>>"$T/tap-$1.log" &
	TAPPID=$!
	PIDS+=($TAPPID)
	read -r _ <"$fifo" || return 1
	ip -n "$2" addr add "$3"/24 dev pv0 || fail "address $3"
}
ping_ok() {  # ping_ok NS ADDR
	ip netns exec "$1" ping -c 3 -i 0.2 -W 3 "$2" >"$T/ping.out" ||
		{ cat "$T/ping.out"; fail "ping $2 from $1"; }
}

bridge g1 "$NS1" 10.8.0.1 || fail "g1 did not connect: $(tail -3 "$T/tap-g1.log")"
T1=$TAPPID
bridge g2 "$NS2" 10.8.0.2 || fail "g2 did not connect: $(tail -3 "$T/tap-g2.log")"
ping_ok "$NS1" 10.8.0.2
echo "g1 and g2 connected, ping ok"

# g3: no port left. Its frontend waits; we wait for the refusal.
"$PVIO" run --domain g3 -- "$TAPB" --vif 0 --tap pv0 2>>"$T/tap-g3.log" &
P3=$!
PIDS+=($P3)
msg="vif: dom3/0: switch ports exhausted (limit 2, pvio-netback --max-ports)"
refused() { grep -qF "$msg" "$T/netback.log"; }
wait_for 30 refused || fail "no message naming the limit: $(cat "$T/netback.log")"
echo "g3 refused: $msg"
ping_ok "$NS1" 10.8.0.2
ping_ok "$NS2" 10.8.0.1
echo "g1 and g2 still ping each other"
alive $NBPID || fail "pvio-netback died"
kill $P3
wait $P3

# Free a port: g1 goes. g3's frontend tries again and connects.
kill $T1
wait $T1
"$PVIO" destroy g1 || fail "destroy g1"
ok=
for try in $(seq 1 10); do
	if bridge g3 "$NS1" 10.8.0.3; then ok=1; break; fi
	wait $TAPPID
done
[ -n "$ok" ] || fail "g3 never connected after g1 was destroyed: $(tail -5 "$T/tap-g3.log")"
ping_ok "$NS2" 10.8.0.3
echo "g3 connected on try $try; g2 pings it"
alive $NBPID || fail "pvio-netback died"
echo "ok"
