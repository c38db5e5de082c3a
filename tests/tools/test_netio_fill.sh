#!/bin/bash
# pvio-netio send builds its frames in place (pvio_netfront_send_fill: a
# header per frame, the payload only where a tx page lacks it) or copies
# them (--copy, send_burst). Either way, through pvio-netback's switch to
# another guest, every frame must arrive whole: g1's recv checks each
# frame's payload checksum against its sequence number, at 64, 1500 and
# 9000 bytes (one page, and several). A sender whose backend stops taking
# frames gives up after --timeout, saying why. Skips (77) when pvio-netback was not
# built or DPDK cannot start here.
. "$(dirname "$0")/../netfront/lib.sh"
NETIO=$B/tools/pvio-netio
N=20000

start_pviod
start_netback

"$PVIO" create g1 memory=64M >/dev/null || fail "create g1"
"$PVIO" create g2 memory=64M >/dev/null || fail "create g2"
"$PVIO" network-attach g1 mac=00:16:3e:00:00:01,bridge=br0 || fail "attach g1"
"$PVIO" network-attach g2 mac=00:16:3e:00:00:02,bridge=br0 || fail "attach g2"

# field JSON NAME: one number from pvio-netio's result line.
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

i=0
for mode in fill copy; do
	for size in 64 1500 9000; do
		i=$((i + 1))
		extra=()
		[ $mode = copy ] && extra=(--copy)
		mkfifo "$T/rxready$i"
		"$PVIO" run --domain g1 -- "$NETIO" recv 0 --count $N --idle 1 --timeout 30 --quiet \
			--ready-fd 3 3>"$T/rxready$i" >"$T/rx$i.json" 2>"$T/rx$i.err" &
		RX=$!
		PIDS+=($RX)
		read -r _ <"$T/rxready$i" || fail "g1's netfront did not connect: $(tail -3 "$T/rx$i.err")"
		"$PVIO" run --domain g2 -- "$NETIO" send 0 --dst 00:16:3e:00:00:01 --count $N \
			--size $size "${extra[@]}" --quiet >"$T/tx$i.json" 2>"$T/tx$i.err" ||
			fail "send $mode $size: $(tail -3 "$T/tx$i.err")"
		wait "$RX"
		rc=$?
		got=$(field "$T/rx$i.json" frames) || fail "recv output: $(cat "$T/rx$i.json")"
		bad=$(field "$T/rx$i.json" bad_csum)
		other=$(field "$T/rx$i.json" other)
		echo "$mode $size B: sent $N, received $got, bad checksums $bad, other $other (recv rc $rc)"
		[ "$rc" = 0 ] || fail "recv $mode $size: $(tail -3 "$T/rx$i.err")"
		[ "$bad" = 0 ] && [ "$other" = 0 ] || fail "$mode $size: damaged or foreign frames"
		# The switch drops what g1 cannot take in time. More frames than
		# g2's tx pages (256) must come: some from pages used before.
		[ "$got" -ge 300 ] || fail "$mode $size: only $got of $N frames arrived"
	done
done

# A backend that stops taking frames: the sender's ring fills, and after
# --timeout without room it gives up with an error naming that (it does
# not wait for ever).
mkfifo "$T/txready" "$T/txerr"
# (stderr's fifo is opened before the ready one, in the same order below)
"$PVIO" run --domain g2 -- "$NETIO" send 0 --dst 00:16:3e:00:00:01 --count 1000000000 \
	--timeout 1 --quiet --ready-fd 3 >/dev/null 2>"$T/txerr" 3>"$T/txready" &
TX=$!
PIDS+=($TX)
exec 7<"$T/txerr"
read -r _ <"$T/txready" || fail "g2's netfront did not connect: $(cat <&7)"
kill -STOP "$NBPID"
msg=
while read -r -u 7 l; do
	[[ $l == *"no room on the tx ring for 1 s"* ]] && { msg=$l; break; }
	echo "send said: $l"
done
# The backend resumes: the sender's close completes (it waits for the
# backend's Closed).
kill -CONT "$NBPID"
exec 7<&-
wait "$TX"
rc=$?
[ -n "$msg" ] || fail "send with a stopped backend ended (rc $rc) without saying why"
[ "$rc" != 0 ] || fail "send said '$msg' and exited 0"
echo "ok: a stopped backend: $msg (rc $rc)"
kill -0 "$NBPID" || fail "pvio-netback died"
echo "ok"
