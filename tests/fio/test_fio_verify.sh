#!/bin/bash
# fio's own verification through the whole PV path, on each blkback engine:
# random writes of 4 KiB .. 1 MiB (bsrange), every block verified with
# crc32c -- at iodepth 1 (verified after the write pass) and at iodepth 32
# (verify_backlog: verified while writing) -- by 2 jobs on 2 blkfront
# queues (one each). fio exits 0 with no verify error; nothing but fio's
# own output on stderr.
. "$(dirname "$0")/lib.sh"
fio_setup
start_pviod
start_blkback --max-queues 2
"$PVIO" create g1 memory=256M >/dev/null || fail "create"

for e in io_uring libaio psync; do
	img=$T/$e.img
	make_image "$img" 128
	"$PVIO" block-attach g1 "engine=$e, vdev=xvda, access=rw, target=$img" || fail "attach $e"
	echo "== engine $e"
	pvfio g1 --filename=xvda --pvio_queues=2 --pvio_verbose=1 \
		--rw=randwrite --bsrange=4k-1m --verify=crc32c --numjobs=2 \
		--offset_increment=64M \
		--name=qd1 --iodepth=1 --size=16M \
		--name=qd32 --stonewall --iodepth=32 --size=48M --verify_backlog=16 \
		>"$T/$e.out" 2>"$T/$e.err"
	rc=$?
	grep -E '^fio-pvio|err=|WRITE:|READ:' "$T/$e.out" "$T/$e.err" | sed "s|^$T/||"
	[ $rc = 0 ] || fail "$e: fio exit $rc: $(tail -5 "$T/$e.err") // backend: $(tail -3 "$T/blkback.log")"
	no_verify_errors "$T/$e.out" && no_verify_errors "$T/$e.err" || fail "$e: verify errors"
	[ "$(grep -c 'err= 0' "$T/$e.out")" = 4 ] || fail "$e: not 4 jobs with err= 0"
	# every job verified what it wrote: reads issued = writes issued
	grep -q 'issued rwts: total=0,' "$T/$e.out" && fail "$e: a job verified nothing"
	for q in 0 1; do
		[ "$(grep -c "uses queue $q of 2" "$T/$e.out")" = 2 ] ||
			fail "$e: expected one job of each group on queue $q"
	done
	# stderr: fio's own "multiple writers" note at most; no frontend noise
	if grep -v '^fio: multiple writers' "$T/$e.err" | grep -q .; then
		cat "$T/$e.err"
		fail "$e: unexpected stderr"
	fi
	"$PVIO" block-detach g1 xvda || fail "detach $e"
done

# More jobs than queues: 4 jobs share 2 queues (each reaps the others'
# completions and hands them over).
make_image "$T/shared.img" 128
"$PVIO" block-attach g1 "vdev=xvda, access=rw, target=$T/shared.img" || fail "attach shared"
pvfio g1 --filename=xvda --pvio_queues=2 --pvio_verbose=1 --name=shared --numjobs=4 \
	--offset_increment=32M --size=24M --rw=randwrite --bsrange=4k-256k --iodepth=16 \
	--verify=crc32c --verify_backlog=16 >"$T/shared.out" 2>"$T/shared.err" ||
	fail "shared: $(tail -5 "$T/shared.err")"
no_verify_errors "$T/shared.out" && no_verify_errors "$T/shared.err" || fail "shared: verify errors"
[ "$(grep -c 'err= 0' "$T/shared.out")" = 4 ] || fail "shared: not 4 jobs with err= 0"
for q in 0 1; do
	[ "$(grep -c "uses queue $q of 2" "$T/shared.out")" = 2 ] || fail "shared: not 2 jobs on queue $q"
done
echo "shared: 4 jobs on 2 queues verified"
"$PVIO" block-detach g1 xvda || fail "detach shared"

# The check is live: a block changed behind fio's back fails verify_only.
make_image "$T/neg.img" 16
"$PVIO" block-attach g1 "vdev=xvda, access=rw, target=$T/neg.img" || fail "attach neg"
V="--filename=xvda --name=neg --rw=write --bs=64k --size=8M --verify=crc32c"
pvfio g1 $V --do_verify=0 >"$T/neg1.out" 2>&1 || fail "write pass: $(tail -3 "$T/neg1.out")"
pvfio g1 $V --verify_only >"$T/neg2.out" 2>&1 || fail "clean verify_only: $(tail -3 "$T/neg2.out")"
printf 'XXXX' | dd of="$T/neg.img" bs=1 seek=$((3 * 1048576 + 100)) conv=notrunc status=none
pvfio g1 $V --verify_only >"$T/neg3.out" 2>&1 && fail "verify_only missed a corrupted block"
grep -q 'crc32c: verify failed at file xvda offset 3145728' "$T/neg3.out" ||
	fail "corruption not reported at offset 3 MiB: $(tail -3 "$T/neg3.out")"
echo "ok: fio crc32c verification on io_uring, libaio and psync; corruption is caught"
