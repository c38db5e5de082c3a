#!/bin/bash
# pvio top against pviod and pvio-netback: two guests' vifs show up under
# their names when the backend discovers them; after g2 sends N frames to
# g1 (pvio-netio), g2's NET tx and g1's NET rx counters hold at least
# what g1 received (netback publishes its vif counters at least
# every second); its worker counted wake-ups and rounds with work; the
# lines parse; destroyed domains disappear. Skips (77)
# when pvio-netback was not built or DPDK cannot start here.
. "$(dirname "$0")/../netfront/lib.sh"
. "$(dirname "$0")/top-lib.sh"
NETIO=$B/tools/pvio-netio
N=500

start_pviod
start_netback
mkfifo "$T/rxready"

"$PVIO" create g1 memory=64M >/dev/null || fail "create g1"
"$PVIO" create g2 memory=64M >/dev/null || fail "create g2"
"$PVIO" network-attach g1 mac=00:16:3e:00:00:01,bridge=br0 || fail "attach g1"
"$PVIO" network-attach g2 mac=00:16:3e:00:00:02,bridge=br0 || fail "attach g2"
top_wait "dom('g1')['vifs'] == 1 and dom('g2')['vifs'] == 1 and be('pvio-netback')['pid'] == $NBPID \
and be('pvio-netback')['counts_io'] and dom('g1')['net_rx_pkts'] == 0" || fail "vifs not shown"

"$PVIO" run --domain g1 -- "$NETIO" recv 0 --count $N --timeout 30 --quiet --ready-fd 3 \
	3>"$T/rxready" >"$T/rx.json" 2>"$T/rx.err" &
RX=$!
PIDS+=($RX)
read -r _ <"$T/rxready" || fail "g1's netfront did not connect: $(tail -3 "$T/rx.err")"
"$PVIO" run --domain g2 -- "$NETIO" send 0 --dst 00:16:3e:00:00:01 --count $N --size 100 \
	--batch 1 --quiet >"$T/tx.json" 2>"$T/tx.err" || fail "send: $(tail -3 "$T/tx.err")"
wait "$RX" || fail "recv: $(tail -3 "$T/rx.err") $(cat "$T/rx.json")"
R=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frames"])' "$T/rx.json") ||
	fail "recv output: $(cat "$T/rx.json")"
echo "g2 sent $N frames, g1 received $R"
[ "$R" -gt 0 ] || fail "nothing received"

# g2's tx counts at least what reached g1: frames still in g2's tx ring
# when its pvio-netio exits are dropped by the close (netfront.h).
top_wait "dom('g2')['net_tx_pkts'] >= $R and dom('g2')['net_tx_bytes'] >= $R * 100 and \
dom('g1')['net_rx_pkts'] >= $R and dom('g1')['net_rx_bytes'] >= $R * 100 and \
dom('g1')['vbd_rd'] is None" || fail "net counters do not match the guests'"
# Its worker counted rounds with work (the frames) and wake-ups (it
# sleeps between the guests' runs: each started with an event).
top_wait "sum(w['rounds'] for w in be('pvio-netback')['workers']) > 0 and \
sum(w['wakeups'] for w in be('pvio-netback')['workers']) > 0" || fail "worker counters"
top_get "[(w['name'], w['wakeups'], w['rounds']) for w in be('pvio-netback')['workers']]"
out=$("$PVIO" top --batch --iterations 2 --delay 0.2) || fail "top --batch"
echo "$out"
grep -Eq '^ +g2 +[0-9]+ +0 .* 1 +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+$' <<<"$out" || fail "g2's line"
"$PVIO" top --json --iterations 2 --delay 0.1 | python3 -c '
import json, sys
sys.exit(0 if sum(1 for l in sys.stdin if json.loads(l)) == 2 else 1)' || fail "--json"

"$PVIO" destroy g1 || fail "destroy g1"
"$PVIO" destroy g2 || fail "destroy g2"
top_wait "dom('g1') is None and dom('g2') is None and be('pvio-netback')['devices'] == 0" ||
	fail "destroyed domains still shown"
echo "ok"
