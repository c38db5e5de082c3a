#!/bin/bash
# pvio-blkback registers a guest's memory with io_uring (fixed buffers)
# chunk by chunk, as I/O first uses it, not all of it at connect:
# registering pins, so every page of a 512 MiB guest was allocated (and
# cleared) by the backend for a disk that moved a few MiB. After a verify
# over 8 MiB of a disk, the guest's memory (its memfd, held by pviod) must
# have most of its pages never allocated (test_blkengine_fixed checks that
# the chunks used do go through fixed buffers).
. "$(dirname "$0")/lib.sh"
start_pviod
PVIOD_PID=${PIDS[0]}
start_blkback
g1_with_disk 512 64 "engine=io_uring, "
out=$(guest g1 "$BLKIO" verify xvda --ops 300 --qd 8 --region-mb 8 --max-size 65536 2>&1) ||
	fail "verify: $(echo "$out" | tail -3) // backend: $(tail -3 "$T/blkback.log")"
echo "$out" | grep -E '^verify'

# g1's memory: the one guest-memory memfd pviod holds (st_blocks: 512-byte
# blocks allocated).
mem_kib() {
	local f
	for f in /proc/"$PVIOD_PID"/fd/*; do
		case $(readlink "$f") in
		*memfd:pvio-guest-mem*) echo $(($(stat -L -c %b "$f") / 2)); return 0 ;;
		esac
	done
	return 1
}
kib=$(mem_kib) || fail "no guest memory among pviod's fds: $(ls -l /proc/$PVIOD_PID/fd | grep memfd)"
echo "g1's memory: $kib KiB of 524288 allocated"
[ "$kib" -lt $((128 * 1024)) ] ||
	fail "g1's memory is $kib KiB resident after I/O over 8 MiB: the backend pinned all of it"
