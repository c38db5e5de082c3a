#!/bin/bash
# timeout: 400
# Many guests on one pvio-netback: PVIO_SCALE_VIFS guests (default 128), one
# vif each on one bridge, all connected at once, served by --workers 2.
# Half reflect, half ping-pong PVIO_SCALE_FRAMES 1000-byte frames
# (default 100) off their partner, each frame checked (sequence and payload)
# when it comes back. While all are connected pvio-netback runs exactly its
# two worker threads (no thread per vif or queue); after every domain is
# destroyed its fds and mappings are back at their start values and it is
# still alive.
. "$(dirname "$0")/../netfront/lib.sh"
NB=${NETBACK:-$B/netback/pvio-netback}
NETIO=$B/tools/pvio-netio
NV=${PVIO_SCALE_VIFS:-128}
FRAMES=${PVIO_SCALE_FRAMES:-100}
NBPID=

[ -x "$NB" ] || skip "pvio-netback was not built (libdpdk missing)"
command -v xenstore-ls >/dev/null || skip "no xenstore-ls (xenstore-utils)"
[ $((NV % 2)) = 0 ] && [ "$NV" -ge 2 ] || fail "PVIO_SCALE_VIFS must be even and >= 2"
del_rt() { [ -n "$NBPID" ] && rm -rf "/var/run/dpdk/pvio-netback-$NBPID"; }
CLEANUP_HOOKS+=(del_rt)

nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
nmaps() { wc -l <"/proc/$1/maps" 2>/dev/null; }
nworkers() { cat /proc/"$1"/task/*/comm 2>/dev/null | grep -c '^nb-worker'; }
nthreads() { ls "/proc/$1/task" 2>/dev/null | wc -l; }
mac() { printf '00:16:3e:01:%02x:%02x' $(($1 / 256)) $(($1 % 256)); }

start_pviod
mkfifo "$T/nbready"
"$NB" --socket "$PVIO_SOCKET" --ready-fd 3 --workers 2 --max-queues 1 \
	3>"$T/nbready" 2>>"$T/netback.log" &
NBPID=$!
PIDS+=($NBPID)
# Until end of file, not just the line: netback closes its end of the fifo
# after writing, and the fd count below must not include it.
[ "$(cat "$T/nbready")" = ready ] || skip "pvio-netback did not start (DPDK unusable here?): $(tail -3 "$T/netback.log")"
FD0=$(nfds $NBPID)
MAP0=$(nmaps $NBPID)
TH0=$(nthreads $NBPID)
[ "$(nworkers $NBPID)" = 2 ] || fail "pvio-netback runs $(nworkers $NBPID) workers, want 2"

for i in $(seq 1 "$NV"); do
	"$PVIO" create "g$i" memory=16M >/dev/null || fail "create g$i"
	"$PVIO" network-attach "g$i" "mac=$(mac "$i"),bridge=br0" >/dev/null ||
		fail "network-attach g$i"
done
# Progress lines: a run cut short by the runner's timeout shows its phase.
echo "ok: $NV domains created, a vif each"

# Reflectors: the odd guests; each says ready once connected and announced.
RPIDS=()
for i in $(seq 1 2 "$NV"); do
	mkfifo "$T/r$i"
	"$PVIO" run --domain "g$i" -- "$NETIO" reflect 0 --quiet --timeout 120 \
		--idle 600 --poll-us 0 --ready-fd 3 3>"$T/r$i" >/dev/null 2>>"$T/refl-$i.log" &
	RPIDS+=($!)
	PIDS+=($!)
done
for i in $(seq 1 2 "$NV"); do
	read -r _ <"$T/r$i" || fail "reflector g$i did not connect: $(tail -3 "$T/refl-$i.log")"
done
echo "ok: $((NV / 2)) reflectors connected"

# Pingers: the even guests, each against the reflector before it. They
# start together once all are connected: each waits for end of file on the
# "go" fifo, which this script holds open until then.
mkfifo "$T/go"
exec 5<>"$T/go"
EPIDS=()
for i in $(seq 2 2 "$NV"); do
	mkfifo "$T/e$i"
	"$PVIO" run --domain "g$i" -- "$NETIO" echo 0 --count "$FRAMES" --size 1000 \
		--dst "$(mac $((i - 1)))" --timeout 60 --poll-us 0 --quiet \
		--ready-fd 3 --start-fd 4 3>"$T/e$i" 4<"$T/go" 5>&- \
		>"$T/echo-$i.json" 2>>"$T/echo-$i.log" &
	EPIDS+=($!)
	PIDS+=($!)
done
for i in $(seq 2 2 "$NV"); do
	read -r _ <"$T/e$i" || fail "pinger g$i did not connect: $(tail -3 "$T/echo-$i.log")"
done
echo "ok: $((NV / 2)) pingers connected"
# Every vif connected at once.
# (Nothing changes while the pingers wait for "go": a listing that did not
# show all NV state nodes is read again, bounded, and what it said kept.)
for _ in 1 2 3; do
	xenstore-ls /local/domain/0/backend/vif >"$T/vifs.ls" 2>"$T/vifs.err"
	[ "$(grep -c '^ *state = ' "$T/vifs.ls")" = "$NV" ] && break
	echo "xenstore-ls listed $(grep -c '^ *state = ' "$T/vifs.ls") state nodes, not $NV:" \
		"$(tail -2 "$T/vifs.err")"
done
connected=$(grep -c '^ *state = "4"' "$T/vifs.ls")
if [ "$connected" != "$NV" ]; then
	# What the next failure needs to be understood (seen twice in CI, in
	# none of 40 runs here): which vifs, what their frontends and
	# pvio-netback said.
	echo "backend states: $(grep -o '^ *state = "[0-9]*"' "$T/vifs.ls" | sort | uniq -c | tr -s ' \n' ' ')"
	xenstore-ls -f /local/domain/0/backend/vif 2>&1 | grep '/state = ' | grep -v '"4"$' | head -8
	grep -v '^EAL\|connected to bridge' "$T/netback.log" | head -20
	for f in "$T"/refl-*.log "$T"/echo-*.log; do
		[ -s "$f" ] && grep -v '^pvio-netio echo: ' "$f" | sed "s|^|${f##*/}: |" | head -5
	done
fi
WORKERS_BUSY=$(nworkers $NBPID)
THREADS_BUSY=$(nthreads $NBPID)
exec 5>&-
bad=0
for k in "${!EPIDS[@]}"; do
	i=$((2 * k + 2))
	if ! wait "${EPIDS[$k]}"; then
		echo "echo g$i failed: $(tail -3 "$T/echo-$i.log")"
		bad=$((bad + 1))
	elif ! grep -q "\"frames\": $FRAMES\b" "$T/echo-$i.json"; then
		echo "echo g$i: $(cat "$T/echo-$i.json")"
		bad=$((bad + 1))
	fi
done
[ "$bad" = 0 ] || fail "$bad of $((NV / 2)) ping-pong guests failed"
echo "ok: $((NV / 2)) guests ping-ponged $FRAMES verified frames each through $((NV / 2)) reflectors"
[ "$connected" = "$NV" ] || fail "$connected of $NV vifs Connected while the pingers ran"
echo "ok: $connected vifs connected at once"
[ "$WORKERS_BUSY" = 2 ] || fail "$WORKERS_BUSY worker threads under load, want 2"
[ "$THREADS_BUSY" = "$TH0" ] || fail "pvio-netback had $TH0 threads idle, $THREADS_BUSY with $NV vifs"
echo "ok: $THREADS_BUSY threads with $NV vifs (2 workers), as with none"

# Every reflector still serving: one that had stopped would have left its
# vif before the count above, or answered nothing.
for k in "${!RPIDS[@]}"; do
	kill -0 "${RPIDS[$k]}" 2>/dev/null ||
		fail "reflector g$((2 * k + 1)) exited early: $(tail -3 "$T/refl-$((2 * k + 1)).log")"
done
for p in "${RPIDS[@]}"; do
	kill "$p" 2>/dev/null
done
for p in "${RPIDS[@]}"; do
	wait "$p" 2>/dev/null
done
for i in $(seq 1 "$NV"); do
	"$PVIO" destroy "g$i" >/dev/null || fail "destroy g$i"
done
kill -0 $NBPID 2>/dev/null || fail "pvio-netback died: $(tail -5 "$T/netback.log")"
# Teardown is asynchronous: wait (bounded) for the counts to come back.
for _ in $(seq 1 200); do
	[ "$(nfds $NBPID)" = "$FD0" ] && [ "$(nmaps $NBPID)" = "$MAP0" ] && break
	sleep 0.1   # polling the counts above, bounded
done
[ "$(nfds $NBPID)" = "$FD0" ] || fail "fds: $FD0 before, $(nfds $NBPID) after"
[ "$(nmaps $NBPID)" = "$MAP0" ] || fail "mappings: $MAP0 before, $(nmaps $NBPID) after"
[ "$(nthreads $NBPID)" = "$TH0" ] || fail "threads: $TH0 before, $(nthreads $NBPID) after"
echo "ok: fds $FD0, mappings $MAP0, threads $TH0 after all $NV domains were destroyed"
kill $NBPID
wait $NBPID
rc=$?
[ "$rc" = 0 ] || fail "pvio-netback exited $rc: $(tail -5 "$T/netback.log")"
exit 0
