#!/bin/bash
# Block path end to end through processes: guest (pvio-blkio) -> pviod ->
# pvio-blkback -> io_uring -> file, and back: info, write/read round trip,
# a short verified workload, detach.
. "$(dirname "$0")/lib.sh"
start_pviod
start_blkback
g1_with_disk 64 64 "format=raw, "
info=$(guest g1 "$BLKIO" info xvda) || fail "info: $info $(tail -5 $T/blkback.log)"
echo "$info"
grep -qx "size 67108864 bytes" <<<"$info" || fail "size"
grep -qx "sector-size 512" <<<"$info" || fail "sector size"
printf 'hello, pv world' | guest g1 "$BLKIO" write xvda 33554432 || fail "write"
got=$(guest g1 "$BLKIO" read xvda 33554432 512 | head -c 15)
[ "$got" = "hello, pv world" ] || fail "read back '$got'"
# the bytes are in the file, at that offset
[ "$(dd if="$T/disk.img" bs=1 skip=33554432 count=15 status=none)" = "hello, pv world" ] || fail "file"
guest g1 "$BLKIO" ${FEOPTS:-} verify xvda --ops 2000 --qd 16 --region-mb 16 2>"$T/verify.err" ||
	fail "verify: $(tail -3 "$T/verify.err")"
# A normal exit is quiet: the frontend closes the device (Closing/Closed
# handshake) before it ends grant access, so nothing is left to the backend
# and pvio-blkio's stderr holds nothing but its own words.
if [ -s "$T/verify.err" ]; then
	cat "$T/verify.err"
	fail "pvio-blkio verify wrote to stderr on a normal run"
fi
printf 'quiet' | guest g1 "$BLKIO" write xvda 0 2>"$T/write.err" || fail "write 2"
[ -s "$T/write.err" ] && fail "pvio-blkio write wrote to stderr: $(cat "$T/write.err")"
"$PVIO" block-list g1
"$PVIO" block-detach g1 xvda || fail "detach"
"$PVIO" destroy g1 || fail "destroy"
# A stop signal ends pvio-blkback cleanly (its workers take no signals).
kill -TERM "$BLKBACK_PID"
wait "$BLKBACK_PID"
rc=$?
[ "$rc" = 0 ] || fail "pvio-blkback exited $rc on SIGTERM: $(tail -3 "$T/blkback.log")"
echo "ok"
