#!/bin/bash
# timeout: 180
# One RBD image, two "hosts" (each its own pviod and pvio-blkback, both
# clients of the same Ceph cluster), as when a guest moves between hosts:
#   - a guest on host A writes the image; while A has it attached, a
#     writable attach on host B is refused by B's pvio-blkback with a clear
#     message (RBD's exclusive lock, taken at open: rbd.h), and B's guest
#     cannot open the disk; a read-only attach on B is allowed and reads
#     A's data;
#   - A detaches (the lock goes with it); B attaches the image writable,
#     its guest reads A's data byte for byte and writes its own, which
#     `rbd export` shows; now A's writable attach is the one refused.
. "$(dirname "$0")/lib.sh"
start_ceph
start_pviod
start_blkback
# host B
mkdir "$T/b"
mkfifo "$T/b/ready"
"$PVIOD" --socket "$T/b/pviod.sock" --xs-socket "$T/b/xs.sock" --ready-fd 3 \
	3>"$T/b/ready" 2>>"$T/b/pviod.log" &
PIDS+=($!)
read -r _ <"$T/b/ready" || fail "host B's pviod did not start: $(cat "$T/b/pviod.log")"
PVIO_SOCKET=$T/b/pviod.sock "$BLKBACK" --socket "$T/b/pviod.sock" 2>>"$T/b/blkback.log" &
BLKBACK_B=$!
PIDS+=($BLKBACK_B)
B() { PVIO_SOCKET=$T/b/pviod.sock "$@"; }

# wait_log FILE PATTERN: until the log shows it (bounded: 30 s)
wait_log() {
	local i
	for i in $(seq 1 300); do
		grep -q -- "$2" "$1" && return 0
		sleep 0.1
	done
	return 1
}

rbd_ create --size 32M rbd/shared || fail "rbd create"
TGT=$(rbd_target shared)
head -c 4194304 /dev/urandom >"$T/data.a"
head -c 1048576 /dev/urandom >"$T/data.b"

"$PVIO" create ga memory=128M >/dev/null || fail "create ga"
B "$PVIO" create gb memory=128M >/dev/null || fail "create gb"
"$PVIO" block-attach ga "vdev=xvda, access=rw, target=$TGT" || fail "attach on A"
guest ga "$BLKIO" write xvda 0 <"$T/data.a" || fail "A's guest write"
guest ga "$BLKIO" flush xvda || fail "A's guest flush"
echo "host A: the guest wrote 4 MiB; lock: $(rbd_ lock ls rbd/shared | tail -n 1)"

# a second writer while A has the image: refused, with a message
B "$PVIO" block-attach gb "vdev=xvda, access=rw, target=$TGT" || fail "attach on B"
wait_log "$T/b/blkback.log" "is in use by another writer" ||
	fail "host B did not refuse a second writer: $(tail -n 3 "$T/b/blkback.log")"
grep -m 1 "is in use by another writer" "$T/b/blkback.log" | sed 's/^/host B: /'
B guest gb "$BLKIO" --timeout-ms 3000 info xvda >/dev/null 2>&1 &&
	fail "host B's guest opened a disk whose image another host writes"
echo "ok: host B's writable attach refused while host A writes"

# read-only is fine meanwhile
B "$PVIO" block-attach gb "vdev=xvdb, access=ro, target=$TGT" || fail "ro attach on B"
B guest gb "$BLKIO" read xvdb 0 4194304 >"$T/b.ro" || fail "B's read-only read"
cmp "$T/b.ro" "$T/data.a" || fail "B's read-only view differs from what A wrote"
B "$PVIO" block-detach gb xvdb || fail "detach ro on B"
echo "ok: host B reads A's data read-only meanwhile"

# A lets go; B takes over
"$PVIO" block-detach ga xvda || fail "detach on A"
B "$PVIO" block-detach gb xvda || fail "detach the refused disk on B"
B "$PVIO" block-attach gb "vdev=xvda, access=rw, target=$TGT" || fail "attach on B"
B guest gb "$BLKIO" read xvda 0 4194304 >"$T/b.read" || fail "B's guest read"
cmp "$T/b.read" "$T/data.a" || fail "host B's guest does not read what host A's wrote"
echo "ok: after A detached, host B's guest reads A's 4 MiB byte for byte"
B guest gb "$BLKIO" write xvda 0 <"$T/data.b" || fail "B's guest write"
B guest gb "$BLKIO" flush xvda || fail "B's guest flush"
rbd_ export --no-progress rbd/shared "$T/export" || fail "rbd export"
cmp -n 1048576 "$T/export" "$T/data.b" || fail "rbd export lacks B's write"
cmp -i 1048576 -n 3145728 "$T/export" "$T/data.a" || fail "rbd export lost A's data"
echo "ok: B's write is in the image (rbd export), A's data around it"

# and now A is the second writer
"$PVIO" block-attach ga "vdev=xvda, access=rw, target=$TGT" || fail "attach on A again"
wait_log "$T/blkback.log" "is in use by another writer" ||
	fail "host A did not refuse a second writer: $(tail -n 3 "$T/blkback.log")"
echo "ok: host A's writable attach refused while host B writes"
kill -0 "$BLKBACK_PID" && kill -0 "$BLKBACK_B" || fail "a pvio-blkback exited"
