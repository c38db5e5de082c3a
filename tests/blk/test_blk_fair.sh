#!/bin/bash
# timeout: 240
# Fair shares among guests on one worker: 8 equal guests (a 32 MiB
# page-cached disk each) on a pvio-blkback with --workers 1, all connected,
# then started together (pvio-blkio bench --ready-fd/--start-fd), each
# running 4k random reads at QD32 for FAIR_SECONDS (default 4): Jain's
# index of their IOPS, (sum x)^2 / (n sum x^2), must be >= 0.95 (equal
# service), and every guest must have done I/O.
# With PVIO_LONG_TESTS=1 (make test-long): 10 s, and the latency of a quiet
# guest: one guest at QD1 alone, then the same guest at QD1 next to 7 guests
# at QD32: its p99 must stay within 5x of its p99 alone (on a machine with
# a CPU for each guest and the worker, as Xen guests have vCPUs of their
# own; with fewer, the guests' own scheduling decides and that part says so
# and is left out).
. "$(dirname "$0")/lib.sh"
N=8
S=${FAIR_SECONDS:-4}
[ "${PVIO_LONG_TESTS:-0}" = 1 ] && S=10

start_pviod
start_blkback --workers 1
for i in $(seq 1 $N); do
	head -c $((32 << 20)) /dev/urandom >"$T/d$i.img" || fail "image $i"
	"$PVIO" create "g$i" memory=64M >/dev/null || fail "create g$i"
	"$PVIO" block-attach "g$i" "vdev=xvda, access=rw, target=$T/d$i.img" >/dev/null ||
		fail "block-attach g$i"
done

# run_together QD1 QDREST: guest 1 at QD1, the others at QDREST (0: idle);
# each guest's JSON line in $T/out-$i.
run_together() {
	local qd1=$1 qdr=$2 i qd pids=() n=0
	rm -f "$T/go"
	mkfifo "$T/go"
	exec 5<>"$T/go"
	for i in $(seq 1 $N); do
		qd=$qdr
		[ "$i" = 1 ] && qd=$qd1
		[ "$qd" = 0 ] && continue
		rm -f "$T/r$i"
		mkfifo "$T/r$i"
		guest "g$i" "$BLKIO" --queues 1 bench xvda --rw randread --bs 4096 --qd "$qd" \
			--seconds "$S" --size-mb 32 --ready-fd 3 --start-fd 4 \
			3>"$T/r$i" 4<"$T/go" 5>&- >"$T/out-$i" 2>"$T/err-$i" &
		pids+=($!)
		PIDS+=($!)
	done
	for i in $(seq 1 $N); do
		[ -p "$T/r$i" ] || continue
		read -r _ <"$T/r$i" || fail "guest g$i did not connect: $(cat "$T/err-$i")"
		rm -f "$T/r$i"
	done
	exec 5>&-
	for p in "${pids[@]}"; do
		wait "$p" || fail "a guest's bench failed: $(cat "$T"/err-*)"
	done
}
field() { sed -E "s/.*\"$2\": ([0-9.]+).*/\1/" "$T/out-$1"; }

run_together 32 32
iops=()
for i in $(seq 1 $N); do
	iops+=("$(field "$i" iops)")
done
echo "per-guest IOPS over $S s: ${iops[*]}"
jain=$(printf '%s\n' "${iops[@]}" | awk '{ s += $1; s2 += $1 * $1; n++; if ($1 <= 0) z++ }
	END { if (z) print -1; else printf "%.4f", s * s / (n * s2) }')
echo "Jain's index: $jain"
[ "$jain" = -1 ] && fail "a guest did no I/O (starved): IOPS ${iops[*]}"
if [ "${PVIO_SANITIZED:-0}" = 1 ]; then
	# Under ASan every process's user-space cost grows several-fold (85k
	# -> 45k IOPS a guest here) and the kernel's placement of 8 busy
	# guests and the worker on 2 CPUs sways their shares (0.93-0.995
	# seen) more than the worker's round-robin this test is about:
	# starvation is still checked above.
	echo "sanitizer build: Jain's index reported, not held to 0.95"
else
	awk -v j="$jain" 'BEGIN { exit !(j >= 0.95) }' || fail "Jain's index $jain < 0.95 (IOPS: ${iops[*]})"
fi

if [ "${PVIO_LONG_TESTS:-0}" = 1 ] && [ "$(nproc)" -lt $((N + 1)) ]; then
	echo "latency part left out: $N guests and the worker need $((N + 1)) CPUs, this machine has $(nproc)"
elif [ "${PVIO_LONG_TESTS:-0}" = 1 ]; then
	run_together 1 0
	alone=$(field 1 p99_us)
	run_together 1 32
	loaded=$(field 1 p99_us)
	echo "QD1 guest p99: ${alone} us alone, ${loaded} us next to 7 guests at QD32"
	awk -v a="$alone" -v l="$loaded" 'BEGIN { exit !(l <= 5 * a) }' ||
		fail "the QD1 guest's p99 grew from $alone to $loaded us (> 5x)"
fi
echo ok
