#!/bin/bash
# Disk limits measured in wall time (not in the default suite: run with
# PVIO_LONG_TESTS=1 BUILD=build tests/run tests/blk/long_limits.sh).
# Over LONG_SECONDS (default 10) of pvio-blkio bench at QD8:
#   - throttling.iops-total=2000, 4 KiB random reads: 2000 IOPS +-5%
#   - throttling.bps-total=20971520, 64 KiB random reads: 20 MiB/s +-5%
#   - two disks of two guests in one group at 2000 IOPS, both loaded: 2000
#     IOPS together +-5%, each about half
#   - a burst (iops-total=500, -max=2000, -max-length=2): QEMU's schedule,
#     2000 IOPS until 2000 x 2 ops above the average were done, then 500
#   - a live change (pvio block-set-throttle) from 1000 to 3000 IOPS half
#     way through a run: the run's average is about 2000
# Needs pvio-blkback's data path to ask backend/throttle.h (vbd_limits.h).
. "$(dirname "$0")/lib.sh"
[ "${PVIO_LONG_TESTS:-0}" = 1 ] || skip "PVIO_LONG_TESTS=1 runs the wall-time measurements"
S=${LONG_SECONDS:-10}

# bench NAME VDEV BS [SECONDS]: print the run's IOPS and MiB/s
bench() {
	guest "$1" "$BLKIO" bench "$2" --rw randread --bs "$3" --qd 8 --seconds "${4:-$S}" |
		sed -E 's/.*"iops": ([0-9.]+), "mibps": ([0-9.]+).*/\1 \2/'
}
# within GOT WANT PCT
within() {
	awk -v g="$1" -v w="$2" -v p="$3" 'BEGIN { exit !(g >= w * (1 - p / 100) && g <= w * (1 + p / 100)) }'
}

start_pviod
start_blkback
"$PVIO" create g1 memory=64M >/dev/null || fail "create g1"
"$PVIO" create g2 memory=64M >/dev/null || fail "create g2"
for d in a b c d; do make_image "$T/$d.img" 64; done

"$PVIO" block-attach g1 "vdev=xvda, access=rw, throttling.iops-total=2000, target=$T/a.img" ||
	fail "attach a"
read -r iops mib < <(bench g1 xvda 4096)
echo "iops-total=2000: $iops IOPS"
within "$iops" 2000 5 || fail "iops-total=2000 gave $iops IOPS"

"$PVIO" block-attach g1 "vdev=xvdb, access=rw, throttling.bps-total=20971520, target=$T/b.img" ||
	fail "attach b"
read -r iops mib < <(bench g1 xvdb 65536)
echo "bps-total=20MiB/s: $mib MiB/s"
within "$mib" 20 5 || fail "bps-total=20MiB/s gave $mib MiB/s"

"$PVIO" block-attach g1 "vdev=xvdc, access=rw, throttling.iops-total=2000, throttling.group=shared, \
target=$T/c.img" || fail "attach c"
"$PVIO" block-attach g2 "vdev=xvda, access=rw, throttling.iops-total=2000, throttling.group=shared, \
target=$T/d.img" || fail "attach d"
bench g1 xvdc 4096 >"$T/g1" &
p1=$!
bench g2 xvda 4096 >"$T/g2" &
p2=$!
wait $p1 $p2
read -r i1 _ <"$T/g1"
read -r i2 _ <"$T/g2"
sum=$(awk -v a="$i1" -v b="$i2" 'BEGIN { print a + b }')
echo "group of two at 2000 IOPS: $i1 + $i2 = $sum IOPS"
within "$sum" 2000 5 || fail "group gave $sum IOPS"
within "$i1" 1000 25 || fail "group shares unevenly: $i1 and $i2"

"$PVIO" block-set-throttle g1 xvda throttling.iops-total=500,throttling.iops-total-max=2000,throttling.iops-total-max-length=2 >/dev/null ||
	fail "set burst"
read -r iops _ < <(bench g1 xvda 4096)
# QEMU's schedule: 200 at once (the burst bucket's tenth of a second), then
# 2000/s while the level (leaking at 500/s) climbs to 2000 x 2: for
# t = (4000 - 200) / 1500 s; then 500/s.
want=$(awk -v s="$S" 'BEGIN { t = 3800 / 1500; if (t > s) t = s; print (200 + 2000 * t + 500 * (s - t)) / s }')
echo "burst 500/2000 for 2 s: $iops IOPS over $S s (QEMU's schedule: $want)"
within "$iops" "$want" 5 || fail "burst gave $iops IOPS, want $want"

"$PVIO" block-set-throttle g1 xvda throttling.iops-total=1000 >/dev/null || fail "set 1000"
bench g1 xvda 4096 >"$T/live" &
p1=$!
sleep "$(awk -v s="$S" 'BEGIN { print s / 2 }')"
"$PVIO" block-set-throttle g1 xvda throttling.iops-total=3000 >/dev/null || fail "set 3000"
wait $p1
read -r iops _ <"$T/live"
echo "1000 then 3000 IOPS half way: $iops IOPS"
within "$iops" 2000 10 || fail "live change gave $iops IOPS"
echo ok
