#!/bin/bash
# Data integrity across the configuration matrix, through the whole path
# (guest process -> pviod -> pvio-blkback process -> engine -> file):
# random writes of random sizes (512 B .. 1 MiB) and discards, verified by
# reads (every block stamped with lba, generation and a checksum) and a
# final full pass.
#
# Dimensions: queues {1,2} x ring order {0,4} x persistent {on,off} x
# indirect {on,off} x engine {io_uring,libaio,psync} x sector size
# {512,4096} x protocol {x86_64,x86_32}. The 192 combinations are covered
# pairwise (every pair of values of any two dimensions appears in at least
# one run) by the 12 rows below; PVIO_MATRIX=full runs all 192. Then an
# O_DIRECT disk on each engine.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tools/top-lib.sh"
start_pviod
start_blkback
"$PVIO" create g1 memory=128M >/dev/null || fail "create"
OPS=${PVIO_MATRIX_OPS:-600}

#      queues order persistent indirect engine  sector proto
ROWS="1 0 on  on  io_uring 512  x86_64
2 4 off off io_uring 4096 x86_32
1 4 on  off libaio   4096 x86_64
2 0 off on  libaio   512  x86_32
1 0 off off psync    4096 x86_64
2 4 on  on  psync    512  x86_32
2 0 on  off io_uring 4096 x86_64
1 4 off on  io_uring 512  x86_32
2 4 off on  libaio   4096 x86_64
1 0 on  off libaio   512  x86_32
1 4 on  on  psync    4096 x86_32
2 0 off off psync    512  x86_64"

if [ "${PVIO_MATRIX:-}" = full ]; then
	ROWS=$(for q in 1 2; do for o in 0 4; do for p in on off; do for i in on off; do
		for e in io_uring libaio psync; do for s in 512 4096; do for pr in x86_64 x86_32; do
		echo "$q $o $p $i $e $s $pr"; done; done; done; done; done; done; done)
fi

n=0
while read -r q o p i e s pr; do
	n=$((n + 1))
	img=$T/disk$n.img
	make_image "$img" 48
	"$PVIO" block-attach g1 "engine=$e, sector-size=$s, vdev=xvda, access=rw, target=$img" ||
		fail "attach row $n"
	opts="--queues $q --ring-order $o --protocol $pr-abi"
	[ "$p" = off ] && opts="$opts --no-persistent"
	[ "$i" = off ] && opts="$opts --no-indirect"
	echo "== row $n: queues=$q order=$o persistent=$p indirect=$i engine=$e sector=$s proto=$pr"
	out=$(guest g1 "$BLKIO" $opts verify xvda --ops "$OPS" --qd 8 --region-mb 32 --seed $n 2>&1)
	rc=$?
	echo "$out" | grep -E '^(verify|frontend|first error)'
	[ $rc = 0 ] || fail "row $n: $(echo "$out" | tail -3) // backend: $(tail -3 "$T/blkback.log")"
	info=$(guest g1 "$BLKIO" $opts info xvda) || fail "row $n: info"
	grep -qx "sector-size $s" <<<"$info" || fail "row $n: sector size not $s"
	grep -qx "queues $q" <<<"$info" || fail "row $n: not $q queue(s)"
	grep -qx "ring-order $o" <<<"$info" || fail "row $n: ring order not $o"
	grep -qx "protocol $pr-abi" <<<"$info" || fail "row $n: protocol not $pr"
	"$PVIO" block-detach g1 xvda || fail "detach row $n"
done <<<"$ROWS"

# new_row DESC ATTACH_OPTS: the next row, a fresh image attached as xvda.
new_row() {
	n=$((n + 1))
	img=$T/disk$n.img
	make_image "$img" 48
	"$PVIO" block-attach g1 "$2, vdev=xvda, access=rw, target=$img" || fail "attach $1"
	echo "== row $n: $1"
}
# io_counts: rd, wr and sub, g1's disk's reads, writes and engine submits
# (pvio top).
io_counts() {
	local c
	c=$(top_get "[(d['rd'], d['wr'], d['submits']) for d in dom('g1')['devices']]")
	read -r rd wr sub < <(tr -d '[](),' <<<"$c")
	echo "reads $rd, writes $wr, engine submits $sub"
}

# A buffered disk takes at most BLKBACK_BUF_TAKE (16) requests a round (one
# submit each round: the copies of a round are done before its responses
# go out), however deep the guest's queue: 4k reads at QD 64 for a second,
# then pvio top's submits against the reads.
new_row "buffered, 4k reads at QD 64" "engine=io_uring"
out=$(guest g1 "$BLKIO" --ring-order 2 bench xvda --rw randread --bs 4096 --qd 64 --seconds 1 \
	--size-mb 32 2>&1) || fail "buffered QD 64: $(echo "$out" | tail -3)"
io_counts
[ -n "$sub" ] && [ "$rd" -gt 0 ] && [ "$((sub * 16))" -ge "$rd" ] ||
	fail "buffered QD 64: $sub submits for $rd reads (want at most 16 reads a submit)"
"$PVIO" block-detach g1 xvda || fail "detach buffered QD 64"

# O_DIRECT disks on each engine: the same verification, and each request
# handed to the engine on its own as it is taken (blkback.c take_requests):
# pvio top's submits count at least the reads and writes.
if dd if=/dev/zero of="$T/odirect.probe" bs=4096 count=1 oflag=direct 2>/dev/null; then
	for e in io_uring libaio psync; do
		new_row "O_DIRECT, engine=$e" "engine=$e, direct=1"
		out=$(guest g1 "$BLKIO" verify xvda --ops "$OPS" --qd 8 --region-mb 32 --seed $n 2>&1) ||
			fail "O_DIRECT $e: $(echo "$out" | tail -3) // backend: $(tail -3 "$T/blkback.log")"
		echo "$out" | grep -E '^(verify|frontend|first error)'
		io_counts
		[ -n "$sub" ] && [ "$((rd + wr))" -gt 0 ] && [ "$sub" -ge "$((rd + wr))" ] ||
			fail "O_DIRECT $e: $sub submits for $rd reads and $wr writes (want one each)"
		"$PVIO" block-detach g1 xvda || fail "detach O_DIRECT $e"
	done
else
	echo "O_DIRECT rows skipped: $T does not take O_DIRECT"
fi
echo "$n configurations verified"
