#!/bin/bash
# timeout: 120
# Guests on two hosts, one L2 network over VXLAN. Each "host" is a network
# namespace (hA, hB) running its own pviod and its own pvio-netback, whose
# bridge br0 has a net_tap uplink (up0); in the host's kernel, up0 and a
# VXLAN device (vx0, VNI 42, UDP 4789) are ports of a Linux bridge (kbr0),
# and the VXLAN's underlay (uw0, 10.99.0.1 / 10.99.0.2) is one end of a veth
# pair standing for the wire between the hosts. On each host a guest runs
# pvio-netfront-tap with its TAP in a namespace of its own (gA 10.9.0.1,
# gB 10.9.0.2), its vif's mtu 1450 (1500 less VXLAN's 50 bytes).
#   guest gA -> netfront -> netback A -> up0 -> kbr0 -> vx0 -> uw0 ~~ wire
#   ~~ uw0 -> vx0 -> kbr0 -> up0 -> netback B -> netfront -> guest gB
# Checks: ping both ways; a 1450-byte IP packet (the overlay's largest)
# crosses with DF; 32 MiB over TCP each way with equal md5; a guest whose
# MTU is forced to 1500 sends frames the overlay cannot carry: pvio-netback
# drops each at the uplink (its MTU 1450, --uplink-mtu) and counts it
# (uplink.net_tap0.tx_too_big), nothing truncated reaches the other guest,
# and frames that fit, sent between the big ones, all arrive (none lost
# behind a big one: tx_drops 0); at the edge, raw frames of 1464 bytes
# (1468 with an 802.1Q tag) cross, 1465 (1469) are counted. Then every process stops on SIGTERM with
# status 0 (netback: every mbuf back) and its TAP is gone; the trap kills
# what is left by PID and deletes the namespaces (and with them every link).
# Skips (77) without root, /dev/net/tun, ip(8), ping, python3, network
# namespaces, the bridge, vxlan or veth link types, or pvio-netback (DPDK).
. "$(dirname "$0")/../netfront/lib.sh"
NB=${NETBACK:-$B/netback/pvio-netback}
TAPB=$B/tools/pvio-netfront-tap
HA=pvvx-ha-$$
HB=pvvx-hb-$$
GA=pvvx-ga-$$
GB=pvvx-gb-$$
NSS=()
NBPIDS=()
# killed (the runner's timeout): exit, so that lib.sh's EXIT trap cleans up
trap 'exit 143' TERM INT HUP

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, TAP, VXLAN)"
[ -x "$NB" ] || skip "pvio-netback was not built (libdpdk missing)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v ip >/dev/null || skip "no ip(8) (iproute2)"
command -v python3 >/dev/null || skip "no python3 (the TCP and UDP ends)"
command -v ping >/dev/null || skip "no ping (iputils-ping)"

del_all() {
	local n p
	for n in "${NSS[@]}"; do
		ip netns del "$n" 2>/dev/null
	done
	for p in "${NBPIDS[@]}"; do
		rm -rf "/var/run/dpdk/pvio-netback-$p"
	done
}
CLEANUP_HOOKS+=(del_all)
for n in "$HA" "$HB" "$GA" "$GB"; do
	ip netns add "$n" 2>/dev/null || skip "cannot create network namespaces"
	NSS+=("$n")
	ip -n "$n" link set lo up || fail "lo up in $n"
done
ip -n "$HA" link add kbr0 type bridge 2>/dev/null || skip "no bridge link type (bridge module)"
# the wire: a veth pair, uw0 in each host
ip link add uw0 netns "$HA" type veth peer name uw0 netns "$HB" 2>/dev/null ||
	skip "no veth link type (veth module)"
ip -n "$HA" addr add 10.99.0.1/24 dev uw0 || fail "uw0 address on A"
ip -n "$HB" addr add 10.99.0.2/24 dev uw0 || fail "uw0 address on B"
ip -n "$HA" link set uw0 up || fail "uw0 up on A"
ip -n "$HB" link set uw0 up || fail "uw0 up on B"
ip -n "$HA" link add vx0 type vxlan id 42 local 10.99.0.1 remote 10.99.0.2 dstport 4789 \
	dev uw0 2>/dev/null || skip "no vxlan link type (vxlan module)"
ip -n "$HB" link add vx0 type vxlan id 42 local 10.99.0.2 remote 10.99.0.1 dstport 4789 \
	dev uw0 || fail "vx0 on B"
ip -n "$HB" link add kbr0 type bridge || fail "kbr0 on B"
for h in "$HA" "$HB"; do
	ip -n "$h" link set vx0 master kbr0 || fail "vx0 into kbr0 ($h)"
	ip -n "$h" link set vx0 up || fail "vx0 up ($h)"
	ip -n "$h" link set kbr0 up || fail "kbr0 up ($h)"
done
mtu=$(ip -n "$HA" -o link show vx0 | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')
[ "$mtu" = 1450 ] || fail "vx0's mtu is '$mtu', want 1450 (1500 less 50 of VXLAN)"
echo "wire: veth 10.99.0.1 <-> 10.99.0.2, vx0 (VNI 42) mtu $mtu on each host"

dump_logs() {
	local f
	for f in "$T"/*/*.log; do
		echo "---- $f"
		tail -20 "$f"
	done
}

# host X NS: pviod and pvio-netback of host X, in namespace NS, with a
# net_tap uplink up0 on br0, enslaved to NS's kbr0. Sets SOCK_X, NB_X.
host() {
	local x=$1 ns=$2 d=$T/$1
	mkdir -p "$d"
	mkfifo "$d/ready" "$d/nbready"
	ip netns exec "$ns" "$PVIOD" --socket "$d/pviod.sock" --ready-fd 3 \
		3>"$d/ready" 2>>"$d/pviod.log" &
	PIDS+=($!)
	read -r _ <"$d/ready" || fail "pviod of host $x did not start: $(cat "$d/pviod.log")"
	ip netns exec "$ns" "$NB" --socket "$d/pviod.sock" --uplink br0=net_tap0,iface=up0 \
		--uplink-mtu 1450 --stats-file "$d/nb.stats" --ready-fd 3 --verbose \
		3>"$d/nbready" 2>>"$d/netback.log" &
	local p=$!
	PIDS+=("$p")
	NBPIDS+=("$p")
	read -r _ <"$d/nbready" ||
		{ dump_logs; skip "pvio-netback did not start (DPDK unusable here?)"; }
	ip -n "$ns" link set up0 master kbr0 || fail "up0 into kbr0 ($x)"
	ip -n "$ns" link set up0 up || fail "up0 up ($x)"
	printf -v "SOCK_$x" %s "$d/pviod.sock"
	printf -v "NB_$x" %s "$p"
}

# guest X NAME MAC GNS ADDR: create guest NAME on host X with a vif (mtu
# 1450) on br0, run pvio-netfront-tap for it with its TAP pv0 in GNS, give
# it ADDR. Sets TAP_X.
guest() {
	local x=$1 g=$2 mac=$3 gns=$4 addr=$5 d=$T/$1 sock
	sock=SOCK_$x
	sock=${!sock}
	PVIO_SOCKET=$sock "$PVIO" create "$g" memory=64M >/dev/null || fail "create $g"
	PVIO_SOCKET=$sock "$PVIO" network-attach "$g" "mac=$mac,bridge=br0,mtu=1450" ||
		fail "network-attach $g"
	mkfifo "$d/tapready"
	PVIO_SOCKET=$sock "$PVIO" run --domain "$g" -- "$TAPB" --vif 0 --tap pv0 --netns "$gns" \
		--ready-fd 3 --verbose 3>"$d/tapready" 2>>"$d/tap.log" &
	local p=$!
	PIDS+=("$p")
	read -r _ <"$d/tapready" || { dump_logs; fail "pvio-netfront-tap for $g did not come up"; }
	ip -n "$gns" addr add "$addr/24" dev pv0 || fail "address of $g"
	printf -v "TAP_$x" %s "$p"
}

host A "$HA"
host B "$HB"
guest A gA 00:16:3e:00:00:0a "$GA" 10.9.0.1
guest B gB 00:16:3e:00:00:0b "$GB" 10.9.0.2
for g in "$GA" "$GB"; do
	m=$(ip -n "$g" -o link show pv0 | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')
	[ "$m" = 1450 ] || fail "pv0 in $g has mtu '$m', want the vif's 1450"
done
echo "hosts up: pviod + pvio-netback each, guests gA (10.9.0.1) and gB (10.9.0.2), mtu 1450"

# nbstat X KEY: netback X's counter KEY, from its statistics file (which
# SIGUSR1 rewrites; it is also rewritten every second)
nbstat() {
	local f=$T/$1/nb.stats nb=NB_$1 v i
	rm -f "$f"
	kill -USR1 "${!nb}"
	for ((i = 0; i < 50; i++)); do
		[ -s "$f" ] && break
		sleep 0.1
	done
	v=$(awk -v k="$2" '$1 == k { print $2 }' "$f" 2>/dev/null)
	echo "${v:-missing}"
}
# nbstat_wait X KEY WANT: KEY once it is WANT (the frames are counted as
# netback's worker gets to them), or what it is after 5 s
nbstat_wait() {
	local v end=$((SECONDS + 5))
	while :; do
		v=$(nbstat "$1" "$2")
		if [ "$v" = "$3" ] || [ $SECONDS -ge $end ]; then
			break
		fi
		sleep 0.1
	done
	echo "$v"
}
# snmp NS GROUP FIELD: a counter of /proc/net/snmp or netstat in namespace NS
snmp() {
	ip netns exec "$1" awk -v p="$2:" -v f="$3" '$1 == p {
		if (!n) { for (i = 2; i <= NF; i++) if ($i == f) c = i; n = 1 }
		else print c ? $c : "missing" }' /proc/net/snmp /proc/net/netstat
}
# forget PID: a process this script has waited for is no longer cleanup's
forget() {
	local i
	for i in "${!PIDS[@]}"; do
		[ "${PIDS[$i]}" = "$1" ] && unset "PIDS[$i]"
	done
}

[ "$(nbstat A uplink.net_tap0.mtu)" = 1450 ] || fail "netback A's uplink mtu is not 1450"
m=$(ip -n "$HA" -o link show up0 | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')
[ "$m" = 1450 ] || fail "--uplink-mtu 1450 did not reach the TAP: up0 has mtu '$m'"
echo "uplink net_tap0: mtu 1450 in netback and on its TAP up0"

ip netns exec "$GA" ping -c 3 -i 0.2 -W 3 10.9.0.2 >"$T/ping.out" ||
	{ cat "$T/ping.out"; dump_logs; fail "ping gA -> gB"; }
ip netns exec "$GB" ping -c 3 -i 0.2 -W 3 10.9.0.1 >"$T/ping.out" ||
	{ cat "$T/ping.out"; dump_logs; fail "ping gB -> gA"; }
echo "ping gA <-> gB across the VXLAN ok"
# 1422 bytes of ICMP data + 28 of headers: the 1450 the overlay carries
ip netns exec "$GA" ping -c 2 -i 0.2 -W 3 -M do -s 1422 10.9.0.2 >"$T/ping.out" ||
	{ cat "$T/ping.out"; dump_logs; fail "ping -M do -s 1422 (1450-byte packets)"; }
echo "1450-byte packets with DF cross"

# md5_transfer FROM_NS TO_NS TO_ADDR: 32 MiB of random bytes over one TCP
# connection, received by a small python3 server that says when it
# listens; the md5 must match.
md5_transfer() {
	local from=$1 to=$2 addr=$3 line sp t0 t1
	[ -f "$T/blob" ] || head -c $((32 << 20)) /dev/urandom >"$T/blob"
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
	PIDS+=("$sp")
	exec 6<"$T/rx.fifo"
	read -r -u 6 line
	[ "$line" = listening ] || fail "receiver in $to did not start: $line"
	t0=$EPOCHREALTIME
	ip netns exec "$from" timeout 30 bash -c 'cat "$1" >"/dev/tcp/$2/5601"' _ "$T/blob" "$addr" ||
		{ dump_logs; fail "32 MiB to $addr: send failed"; }
	wait $sp || fail "receiver in $to failed"
	t1=$EPOCHREALTIME
	forget $sp
	exec 6<&-
	[ "$(md5sum <"$T/blob")" = "$(md5sum <"$T/blob.rx")" ] ||
		fail "32 MiB to $addr: content differs ($(stat -c %s "$T/blob.rx") bytes arrived)"
	echo "32 MiB over TCP to $addr: md5 equal ($(awk -v a="$t0" -v b="$t1" \
		'BEGIN { printf "%.0f Mbit/s", 32 * 8 * 1.048576 / (b - a) }'))"
}
md5_transfer "$GA" "$GB" 10.9.0.2
md5_transfer "$GB" "$GA" 10.9.0.1

# Too big for the overlay: gA's MTU forced to 1500 (the vif's is 1450).
# 1500-byte packets with DF are 1514-byte frames: netback A drops each at
# the uplink and counts it; none reaches gB (its kernel sees no echo
# request, no truncated or bad header).
big0=$(nbstat A uplink.net_tap0.tx_too_big)
[ "$big0" = 0 ] || fail "tx_too_big is '$big0' before any frame too big"
echos0=$(snmp "$GB" Icmp InEchos)
trunc0=$(snmp "$GB" IpExt InTruncatedPkts)/$(snmp "$GB" Ip InHdrErrors)
ip -n "$GA" link set pv0 mtu 1500 || fail "mtu 1500 on gA's pv0"
ip netns exec "$GA" ping -c 3 -i 0.2 -W 1 -M do -s 1472 10.9.0.2 >"$T/ping.out" &&
	{ cat "$T/ping.out"; fail "1500-byte packets crossed an overlay of 1450"; }
big1=$(nbstat_wait A uplink.net_tap0.tx_too_big 3)
[ "$big1" = 3 ] || { dump_logs; fail "3 frames too big: tx_too_big is '$big1', want 3"; }
[ "$(snmp "$GB" Icmp InEchos)" = "$echos0" ] || fail "an echo request too big reached gB"
echo "3 pings of 1500 bytes (1514-byte frames) dropped at netback A's uplink, counted (tx_too_big 3)"

# Frames too big between frames that fit, back to back in the same bursts:
# the small ones all arrive (the big ones block nothing), no big one does.
rm -f "$T/udp.fifo"
mkfifo "$T/udp.fifo"
ip netns exec "$GB" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 5602)); s.settimeout(10)
print("listening", flush=True)
small = big = 0
try:
    while True:
        d = s.recv(65536)
        if d == b"end":
            break
        if len(d) > 1000:
            big += 1
        else:
            small += 1
except socket.timeout:
    print("timeout", flush=True)
print("small %d big %d" % (small, big), flush=True)
' 10.9.0.2 >"$T/udp.fifo" 2>&1 &
sp=$!
PIDS+=("$sp")
exec 7<"$T/udp.fifo"
read -r -u 7 line
[ "$line" = listening ] || fail "UDP receiver in gB did not start: $line"
ip netns exec "$GA" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER, IP_PMTUDISC_DO: DF
for i in range(20):
    s.sendto(b"B" * 1472, (sys.argv[1], 5602))
    s.sendto(b"s" * 100, (sys.argv[1], 5602))
s.sendto(b"end", (sys.argv[1], 5602))
' 10.9.0.2 || fail "UDP sender in gA"
wait $sp
forget $sp
res=$(cat <&7)
exec 7<&-
[ "$res" = "small 20 big 0" ] || fail "20 small + 20 too big datagrams: gB got '$res'"
big2=$(nbstat_wait A uplink.net_tap0.tx_too_big 23)
[ "$big2" = 23 ] || fail "20 more frames too big: tx_too_big is '$big2', want 23"
[ "$(nbstat A uplink.net_tap0.tx_drops)" = 0 ] || fail "uplink tx_drops: frames that fit were lost"
trunc1=$(snmp "$GB" IpExt InTruncatedPkts)/$(snmp "$GB" Ip InHdrErrors)
[ "$trunc1" = "$trunc0" ] || fail "gB saw truncated packets or bad headers ($trunc0 -> $trunc1)"
echo "20 datagrams of 1500 bytes between 20 of 128: the 20 small ones arrive, the big ones are counted (tx_too_big 23), tx_drops 0"

# The edge, in raw frames from gA (AF_PACKET on pv0, gA's source MAC, an
# experimental ethertype): 1464 bytes (1450 + 14) pass, 1465 are counted;
# with an 802.1Q tag 4 bytes more: 1468 pass, 1469 are counted.
rm -f "$T/raw.fifo"
mkfifo "$T/raw.fifo"
ip netns exec "$GB" python3 -c '
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind(("pv0", 0)); s.settimeout(10)
print("listening", flush=True)
got = []
try:
    while True:
        d = s.recv(65536)
        # the kernel takes the 802.1Q tag off: the ethertype is at 12
        if len(d) < 15 or d[12:14] != b"\x88\xb5":
            continue
        got.append("%d:%d" % (d[14], len(d)))
        if d[14] == 9:
            break
except socket.timeout:
    got.append("timeout")
print(" ".join(got), flush=True)
' >"$T/raw.fifo" 2>&1 &
sp=$!
PIDS+=("$sp")
exec 7<"$T/raw.fifo"
read -r -u 7 line
[ "$line" = listening ] || fail "raw receiver in gB did not start: $line"
ip netns exec "$GA" python3 -c '
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("pv0", 0))
dst, src = bytes.fromhex("00163e00000b"), bytes.fromhex("00163e00000a")
for n, tag, mark in ((1464, 0, 1), (1465, 0, 2), (1468, 1, 3), (1469, 1, 4), (60, 0, 9)):
    h = dst + src + (b"\x81\x00\x00\x05" if tag else b"") + b"\x88\xb5"
    s.send(h + bytes([mark]) * (n - len(h)))
' || fail "raw sender in gA"
wait $sp
forget $sp
res=$(cat <&7)
exec 7<&-
big3=$(nbstat_wait A uplink.net_tap0.tx_too_big 25)
[ "$big3" = 25 ] || fail "frames of 1465 and 1469 (tagged) bytes: tx_too_big is '$big3', want 25"
[ "$res" = "1:1464 3:1464 9:60" ] ||
	fail "raw frames 1464, 1465, 1468 (tagged), 1469 (tagged): gB got '$res', want 1, 3 and the end"
echo "the edge: 1464 bytes (and 1468 tagged) cross, 1465 (and 1469 tagged) are counted (tx_too_big 25)"
ip -n "$GA" link set pv0 mtu 1450 || fail "mtu 1450 on gA's pv0"
ip netns exec "$GA" ping -c 2 -i 0.2 -W 3 10.9.0.2 >"$T/ping.out" ||
	{ cat "$T/ping.out"; dump_logs; fail "ping gA -> gB after the drops"; }

# Everything stops cleanly: the bridges (vif closed), then the netbacks
# (exit 1 if an mbuf is missing); their TAPs go with them.
for p in "$TAP_A" "$TAP_B" "$NB_A" "$NB_B"; do
	kill -TERM "$p"
	wait "$p"
	r=$?
	forget "$p"
	[ $r = 0 ] || { dump_logs; fail "process $p exited $r on SIGTERM"; }
done
ip -n "$HA" link show up0 >/dev/null 2>&1 && fail "up0 left in host A after netback stopped"
ip -n "$GA" link show pv0 >/dev/null 2>&1 && fail "pv0 left in gA after its bridge stopped"
grep -E "netfront: .*(leaked|did not close)" "$T"/*/tap.log && fail "grants leaked"
echo "ok"
