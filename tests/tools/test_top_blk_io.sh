#!/bin/bash
# pvio top's VBD counters against pvio-blkback: a guest's reads, writes,
# flushes and discards show up in its domain's line (at least as many
# requests and sectors as the guest made), and survive the guest's
# disconnection. Skips (77) while pvio-blkback's data path does not count
# into its stats file (it then says counts_io false; see backend/stats.h).
. "$(dirname "$0")/../blk/lib.sh"
. "$(dirname "$0")/top-lib.sh"

start_pviod
start_blkback
"$PVIO" create g1 memory=64M >/dev/null || fail "create g1"
make_image "$T/a.img" 16
"$PVIO" block-attach g1 "format=raw, vdev=xvda, access=rw, target=$T/a.img" || fail "attach"
top_wait "dom('g1')['vbds'] == 1" || fail "device not shown"
[ "$(top_get "be('pvio-blkback')['counts_io']")" = True ] ||
	skip "pvio-blkback does not count I/O into its stats file yet (counts_io false)"
top_wait "dom('g1')['vbd_rd'] == 0 and dom('g1')['vbd_wr'] == 0" || fail "not zero at first"

head -c 4096 /dev/urandom | guest g1 "$BLKIO" write xvda 8388608 || fail "write"
guest g1 "$BLKIO" read xvda 8388608 8192 >/dev/null || fail "read"
guest g1 "$BLKIO" flush xvda || fail "flush"
guest g1 "$BLKIO" discard xvda 1048576 65536 || fail "discard"
top_wait "dom('g1')['vbd_wr'] >= 1 and dom('g1')['vbd_wsect'] >= 8 and \
dom('g1')['vbd_rd'] >= 1 and dom('g1')['vbd_rsect'] >= 16 and \
dom('g1')['vbd_flush'] >= 1 and dom('g1')['vbd_discard'] >= 1 and \
dom('g1')['devices'][0]['errors'] == 0" || fail "vbd counters"
before=$(top_get "dom('g1')['vbd_wr']")
guest g1 "$BLKIO" verify xvda --ops 500 --qd 8 --region-mb 4 >"$T/v.out" 2>&1 || fail "verify: $(cat "$T/v.out")"
W=$(sed -n 's/.* \([0-9]*\) writes, .*/\1/p' "$T/v.out")
[ -n "$W" ] || fail "verify output: $(cat "$T/v.out")"
top_wait "dom('g1')['vbd_wr'] >= $before + $W" || fail "writes of the verify run not counted"
"$PVIO" top --batch --iterations 2 --delay 0.2
echo "ok"
