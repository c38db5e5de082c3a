#!/bin/bash
# trim -> blkif DISCARD: what fio trims reads back as zeros, through fio's
# own checks, and what it did not trim keeps its data.
#   1. write 8 MiB of pattern 0xa5 (verified)
#   2. rw=trim over [2 MiB, 6 MiB)
#   3. read back: verify_pattern=0 over the trimmed range, 0xa5 around it;
#      the image file holds zeros there too, and reading it as 0xa5 fails
# (fio's own trim_percentage/trim_verify_zero cannot be used: fio 3.33
# asserts in td_io_queue on a trim issued by a write job, for any engine.)
. "$(dirname "$0")/lib.sh"
fio_setup
start_pviod
start_blkback
"$PVIO" create g1 memory=128M >/dev/null || fail "create"
make_image "$T/d.img" 32
"$PVIO" block-attach g1 "vdev=xvda, access=rw, target=$T/d.img" || fail "attach"

run() {
	local name=$1
	shift
	pvfio g1 --name="$name" --filename=xvda "$@" >"$T/$name.out" 2>&1 ||
		fail "$name: $(grep -E 'err=|verify|fio-pvio' "$T/$name.out" | head -5)"
	no_verify_errors "$T/$name.out" || fail "$name: verify errors"
	echo "$name: $(grep -oE 'issued rwts: total=[0-9,]*' "$T/$name.out")"
}
run fill --rw=write --bs=256k --size=8M --verify=pattern --verify_pattern=0xa5
run trim --rw=trim --bs=64k --offset=2M --size=4M --iodepth=8
run zeros --rw=read --bs=128k --offset=2M --size=4M --verify=pattern --verify_pattern=0x00
run before --rw=read --bs=128k --offset=0 --size=2M --verify=pattern --verify_pattern=0xa5
run after --rw=read --bs=128k --offset=6M --size=2M --verify=pattern --verify_pattern=0xa5
grep -q 'issued rwts: total=0,0,64,' "$T/trim.out" || fail "trim: not 64 trims"
# the negative control: the trimmed range does not read back as 0xa5
pvfio g1 --name=notrimmed --filename=xvda --rw=read --bs=128k --offset=2M --size=4M \
	--verify=pattern --verify_pattern=0xa5 >"$T/neg.out" 2>&1 && fail "trimmed range still 0xa5"
cmp -s <(dd if="$T/d.img" bs=1M skip=2 count=4 status=none) <(head -c 4194304 /dev/zero) ||
	fail "the image is not zero over the trimmed range"

echo "ok"
