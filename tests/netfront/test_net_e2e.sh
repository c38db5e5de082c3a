#!/bin/bash
# The network path end to end through processes: two guests, each running
# pvio-netfront-tap with its TAP in its own network namespace, joined by
# pvio-netback's L2 switch (bridge br0): the namespaces' kernel stacks ping
# (IPv4, IPv6, 8000-byte fragmented) and run iperf3 both ways across
# netfront -> netback -> netfront. Phases: both sides with TSO/checksum
# offload (2 queues on one side: frames copied from a buffer; one queue on
# the other: frames read straight into the tx pages, send_fill), one side
# without a vnet header (plain frames: the backend must segment and
# checksum for it), then
# network-detach under a running bridge (it exits 1, "gone") and SIGTERM
# (exit 0, vif Closed). Skips (77) without root, network namespaces,
# /dev/net/tun or pvio-netback (DPDK).
. "$(dirname "$0")/lib.sh"
NB=${NETBACK:-$B/netback/pvio-netback}   # NETBACK=: e.g. an unsanitized one
TAPB=$B/tools/pvio-netfront-tap
NS1=pvnf-a-$$
NS2=pvnf-b-$$
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
HAVE_IPERF=1
command -v iperf3 >/dev/null || HAVE_IPERF=0

dump_logs() {
	local f
	for f in "$T"/*.log; do
		echo "---- $f"
		tail -20 "$f"
	done
}

start_pviod
mkfifo "$T/nbready"
"$NB" --socket "$PVIO_SOCKET" --ready-fd 3 --verbose 3>"$T/nbready" 2>>"$T/netback.log" &
NBPID=$!
PIDS+=($NBPID)
read -r _ <"$T/nbready" || { dump_logs; skip "pvio-netback did not start (DPDK unusable here?)"; }

"$PVIO" create g1 memory=64M >/dev/null || fail "create g1"
"$PVIO" create g2 memory=64M >/dev/null || fail "create g2"
"$PVIO" network-attach g1 mac=00:16:3e:00:00:01,bridge=br0 || fail "attach g1"
"$PVIO" network-attach g2 mac=00:16:3e:00:00:02,bridge=br0 || fail "attach g2"

# bridge NAME NS EXTRA...: start pvio-netfront-tap for guest NAME, wait
# until its TAP is up; sets TAPPID
bridge() {
	local g=$1 ns=$2 fifo=$T/ready-$1-$RANDOM
	shift 2
	mkfifo "$fifo"
	"$PVIO" run --domain "$g" -- "$TAPB" --vif 0 --tap pv0 --netns "$ns" --ready-fd 3 \
		--verbose "$@" 3>"$fifo" 2>>"$T/tap-$g.log" &
	TAPPID=$!
	PIDS+=($TAPPID)
	read -r _ <"$fifo" || { dump_logs; fail "pvio-netfront-tap for $g did not come up"; }
}

addrs() {
	ip -n "$NS1" link set lo up
	ip -n "$NS2" link set lo up
	ip -n "$NS1" addr add 10.9.0.1/24 dev pv0 || fail "addr 1"
	ip -n "$NS2" addr add 10.9.0.2/24 dev pv0 || fail "addr 2"
	ip -n "$NS1" addr add fd00:9::1/64 dev pv0 nodad || fail "addr6 1"
	ip -n "$NS2" addr add fd00:9::2/64 dev pv0 nodad || fail "addr6 2"
}

traffic() {
	local phase=$1
	ip -n "$NS1" link show pv0 | grep -q "00:16:3e:00:00:01" || fail "$phase: mac of pv0"
	ip netns exec "$NS1" ping -c 3 -i 0.2 -W 3 10.9.0.2 >"$T/ping.out" ||
		{ cat "$T/ping.out"; dump_logs; fail "$phase: ping 1->2"; }
	ip netns exec "$NS2" ping -c 3 -i 0.2 -W 3 10.9.0.1 >"$T/ping.out" ||
		{ cat "$T/ping.out"; dump_logs; fail "$phase: ping 2->1"; }
	ip netns exec "$NS1" ping -c 2 -i 0.2 -W 3 -s 8000 10.9.0.2 >"$T/ping.out" ||
		{ cat "$T/ping.out"; dump_logs; fail "$phase: ping -s 8000"; }
	ip netns exec "$NS1" ping -6 -c 3 -i 0.2 -W 3 fd00:9::2 >"$T/ping.out" ||
		{ cat "$T/ping.out"; dump_logs; fail "$phase: ping -6"; }
	echo "$phase: ping ok (IPv4, 8000 bytes, IPv6)"
	md5_transfer "$phase" "$NS1" "$NS2" 10.9.0.2
	md5_transfer "$phase" "$NS2" "$NS1" 10.9.0.1
	[ "$HAVE_IPERF" = 1 ] || { echo "$phase: iperf3 not installed: skipped"; return; }
	local dir
	for dir in "" "-R"; do
		# the server is listening once it says so (blocking read, no sleeps)
		rm -f "$T/iperf-s.fifo"
		mkfifo "$T/iperf-s.fifo"
		ip netns exec "$NS2" iperf3 -s -1 -B 10.9.0.2 --forceflush >"$T/iperf-s.fifo" 2>&1 &
		local sp=$! line
		PIDS+=($sp)
		exec 5<"$T/iperf-s.fifo"
		while read -r -u 5 line; do
			[[ $line == *listening* ]] && break
		done
		[[ $line == *listening* ]] || fail "$phase: iperf3 server did not start"
		ip netns exec "$NS1" timeout 30 iperf3 -c 10.9.0.2 -t 2 -f m $dir >"$T/iperf.out" 2>&1 ||
			{ cat "$T/iperf.out"; dump_logs; fail "$phase: iperf3 $dir"; }
		wait $sp
		cat <&5 >/dev/null
		exec 5<&-
		echo "$phase: iperf3 ${dir:-(1->2)} $(grep -E 'receiver' "$T/iperf.out" |
			awk '{print $(NF-2), $(NF-1)}')"
		grep -q receiver "$T/iperf.out" || fail "$phase: iperf3 $dir: no result"
	done
}

# md5_transfer PHASE FROM_NS TO_NS TO_ADDR: 16 MiB of random bytes over one
# TCP connection (GSO segments where offloads are on), received by a small
# python3 server that says when it listens; the md5 must match.
md5_transfer() {
	local phase=$1 from=$2 to=$3 addr=$4 line sp
	command -v python3 >/dev/null || { echo "$phase: no python3: md5 transfer skipped"; return; }
	[ -f "$T/blob" ] || head -c $((16 << 20)) /dev/urandom >"$T/blob"
	rm -f "$T/rx.fifo" "$T/blob.rx"
	mkfifo "$T/rx.fifo"
	ip netns exec "$to" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5601)); s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
with open(sys.argv[2], "wb") as f:
    while True:
        d = c.recv(1 << 20)
        if not d:
            break
        f.write(d)
' "$addr" "$T/blob.rx" >"$T/rx.fifo" 2>&1 &
	sp=$!
	PIDS+=($sp)
	exec 6<"$T/rx.fifo"
	read -r -u 6 line
	[ "$line" = listening ] || fail "$phase: md5 receiver did not start: $line"
	ip netns exec "$from" timeout 30 bash -c 'cat "$1" >"/dev/tcp/$2/5601"' _ "$T/blob" "$addr" ||
		{ dump_logs; fail "$phase: md5 transfer to $addr: send failed"; }
	wait $sp || fail "$phase: md5 receiver failed"
	exec 6<&-
	[ "$(md5sum <"$T/blob")" = "$(md5sum <"$T/blob.rx")" ] ||
		fail "$phase: md5 transfer to $addr: content differs ($(stat -c %s "$T/blob.rx") bytes arrived)"
	echo "$phase: md5 transfer to $addr ok (16 MiB)"
}

stop_bridges() {
	kill -TERM "$T1" "$T2"
	wait "$T1"; local r1=$?
	wait "$T2"; local r2=$?
	[ $r1 = 0 ] && [ $r2 = 0 ] || { dump_logs; fail "$1: bridges exited $r1/$r2 on SIGTERM"; }
}

# Phase 1: offloads on both sides, two queues on g1.
bridge g1 "$NS1" --queues 2
T1=$TAPPID
bridge g2 "$NS2"
T2=$TAPPID
addrs
traffic "offload"
"$PVIO" network-list g1 | grep -Eq '^0 +00:16:3e:00:00:01 +br0 +Connected +Connected' ||
	fail "network-list while connected"
stop_bridges "offload"
"$PVIO" network-list g1 | grep -Eq '^0 .* Closed +Closed' || fail "vif not Closed after SIGTERM"

# Phase 2: g2 without a vnet header (plain frames, full checksums).
bridge g1 "$NS1"
T1=$TAPPID
bridge g2 "$NS2" --no-vnet-hdr
T2=$TAPPID
addrs
traffic "mixed"
stop_bridges "mixed"

# Phase 3: the toolstack takes g2's vif away under a running bridge.
bridge g1 "$NS1"
T1=$TAPPID
bridge g2 "$NS2"
T2=$TAPPID
"$PVIO" network-detach g2 0 || fail "detach"
wait "$T2"
r=$?
[ $r = 1 ] || { dump_logs; fail "bridge of a detached vif exited $r, want 1"; }
grep -q "is gone" "$T/tap-g2.log" || fail "no 'gone' message"
kill -TERM "$T1"
wait "$T1" || fail "bridge g1 on SIGTERM"
"$PVIO" destroy g1 || fail "destroy g1"
"$PVIO" destroy g2 || fail "destroy g2"
grep -E "netfront: .*(leaked|did not close)" "$T"/tap-*.log && fail "grants leaked"
echo "ok"
