#!/bin/bash
# The engine's error paths end with a clear fio error, never a hang:
#   - a bad filename, a disk the domain does not have, a disk whose backend
#     never connects: the job fails at setup naming the disk
#   - writes to a read-only disk: EPERM, as fio reports an io_u error
#   - a request past the end of the disk (the disk shrank under the job:
#     backend restarted on a truncated image): EINVAL (or EIO for a request
#     that was in flight), and the job stops
#   - fio's jobs as processes instead of threads: refused with the reason
. "$(dirname "$0")/lib.sh"
fio_setup
start_pviod
start_blkback
"$PVIO" create g1 memory=128M >/dev/null || fail "create"
make_image "$T/rw.img" 64
make_image "$T/ro.img" 16
"$PVIO" block-attach g1 "vdev=xvda, access=rw, target=$T/rw.img" || fail "attach xvda"
"$PVIO" block-attach g1 "vdev=xvdb, access=r, target=$T/ro.img" || fail "attach xvdb"

# expect_fail NAME PATTERN FIO-ARGS...: fio fails (bounded) and says PATTERN
expect_fail() {
	local name=$1 pat=$2
	shift 2
	timeout 60 "$PVIO" run --domain g1 -- "$FIO" --thread --ioengine=external:"$ENG" \
		--name="$name" "$@" >"$T/$name.out" 2>&1
	local rc=$?
	[ $rc = 124 ] && fail "$name: fio hung"
	[ $rc = 0 ] && fail "$name: fio succeeded: $(tail -3 "$T/$name.out")"
	grep -qE "$pat" "$T/$name.out" || fail "$name: no '$pat' in: $(tail -5 "$T/$name.out")"
	echo "$name: $(grep -E "$pat" "$T/$name.out" | head -1)"
}

expect_fail badname "filename 'sda9x' is not a PV disk name" --filename=sda9x --rw=read --size=1M
expect_fail nodisk "xvdc: no such disk in this domain" --filename=xvdc --rw=read --size=1M
expect_fail readonly "err= *1 .*Operation not permitted" --filename=xvdb --rw=write --size=1M
grep -q 'fio-pvio: xvdb is read-only' "$T/readonly.out" || fail "readonly: no engine message"
# reads of the read-only disk work
pvfio g1 --name=roread --filename=xvdb --rw=read --bs=64k --size=4M >"$T/roread.out" 2>&1 ||
	fail "read of the read-only disk: $(tail -3 "$T/roread.out")"
timeout 60 "$PVIO" run --domain g1 -- "$FIO" --ioengine=external:"$ENG" --name=procs \
	--filename=xvda --rw=read --size=1M >"$T/procs.out" 2>&1 && fail "procs: fio succeeded"
grep -q 'needs thread=1' "$T/procs.out" || fail "procs: $(tail -3 "$T/procs.out")"

# Past the end: the job runs on 64 MiB; the backend comes back with 16.
nconn=$(grep -c ': connected:' "$T/blkback.log")
pvfio g1 --name=shrink --filename=xvda --rw=randwrite --bs=4k --iodepth=8 --time_based \
	--runtime=60 --pvio_timeout_ms=20000 >"$T/shrink.out" 2>&1 &
FIOPID=$!
PIDS+=($FIOPID)
connected() { [ "$(grep -c ': connected:' "$T/blkback.log")" -gt "$nconn" ]; }
for i in $(seq 1 200); do
	connected && break
	sleep 0.05
done
connected || fail "shrink: the job did not connect"
kill_blkback
truncate -s 16M "$T/rw.img"
start_blkback
# bounded: fio's own runtime is 60 s, the test's limit is the runner's
for i in $(seq 1 600); do
	kill -0 $FIOPID 2>/dev/null || break
	sleep 0.05
done
kill -0 $FIOPID 2>/dev/null && fail "shrink: fio still running 30 s after the disk shrank"
wait $FIOPID && fail "shrink: fio succeeded"
grep -E 'err=|fio-pvio' "$T/shrink.out" | head -3
grep -qE 'err= *(22|5) ' "$T/shrink.out" || fail "shrink: no EINVAL/EIO: $(tail -5 "$T/shrink.out")"
if grep -q 'err= *22 ' "$T/shrink.out"; then
	grep -q 'past the end of the disk (16777216 bytes)' "$T/shrink.out" ||
		fail "shrink: EINVAL without the engine's message"
fi

# A disk whose backend never answers (no pvio-blkback at all).
kill_blkback
expect_fail noconnect "xvda: the backend did not connect within 1500 ms" \
	--filename=xvda --rw=read --size=1M --pvio_timeout_ms=1500
echo "ok"
