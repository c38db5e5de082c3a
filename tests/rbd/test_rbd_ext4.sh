#!/bin/bash
# timeout: 180
# An ext4 file system through the whole path both ways, on a Ceph RBD image
# served by the rbd engine (blkfront -> ring -> pvio-blkback -> librbd):
#   - made in dom0 (mkfs.ext4 -d with files) and put into the image with
#     `rbd import`, it reads back in a guest byte for byte, and what the
#     guest read is e2fsck-clean with every file intact;
#   - a second one written by the guest comes out of `rbd export` byte for
#     byte, e2fsck-clean, every file intact.
# (A guest here is a process with blkfront, not a kernel: it moves the
# file system's blocks, it cannot mount it.) Also: the guest sees the
# image's size; `pvio block-list` shows the rbd target; access=ro and a
# snapshot open the image read-only (no lock taken, writes refused); bad rbd
# targets are refused naming what is wrong, by the toolstack (syntax) or by
# pvio-blkback (no such image, unknown Ceph option).
. "$(dirname "$0")/lib.sh"
for c in mkfs.ext4 e2fsck debugfs; do
	command -v "$c" >/dev/null || skip "no $c (e2fsprogs)"
done
start_ceph
start_pviod
start_blkback
"$PVIO" create g1 memory=128M >/dev/null || fail "create g1"

# mkfs_dir NAME: a few files in $T/NAME.d and an ext4 image of them, $T/NAME.img
mkfs_dir() {
	mkdir -p "$T/$1.d/sub"
	head -c 3000000 /dev/urandom >"$T/$1.d/random.bin"
	seq 1 "$((20000 + RANDOM))" >"$T/$1.d/sub/numbers.txt"
	echo "hello from $1" >"$T/$1.d/hello.txt"
	mkfs.ext4 -q -F -b 4096 -d "$T/$1.d" "$T/$1.img" 24M || fail "mkfs.ext4 $1"
}

# check_fs IMG NAME: e2fsck finds IMG clean; every file of NAME.d reads
# back from it (debugfs) identical
check_fs() {
	local f
	e2fsck -fn "$1" >"$T/fsck.out" 2>&1 || fail "e2fsck on $1: $(tail -n 3 "$T/fsck.out")"
	for f in random.bin sub/numbers.txt hello.txt; do
		rm -f "$T/dumped"
		debugfs -R "dump /$f $T/dumped" "$1" >/dev/null 2>&1
		cmp -s "$T/dumped" "$T/$2.d/$f" || fail "/$f is not intact in $1"
	done
	echo "ok: $1: e2fsck clean, 3 files intact"
}

# wait_log PATTERN: until pvio-blkback's log shows it (bounded: 20 s)
wait_log() {
	local i
	for i in $(seq 1 200); do
		grep -q -- "$1" "$T/blkback.log" && return 0
		sleep 0.1
	done
	return 1
}

# dom0 -> image -> guest
mkfs_dir a
rbd_ import --no-progress "$T/a.img" rbd/fs || fail "rbd import"
size=$(stat -c %s "$T/a.img")
"$PVIO" block-attach g1 "vdev=xvda, access=rw, target=$(rbd_target fs)" || fail "attach"
"$PVIO" block-list g1 | tee "$T/list.out"
grep -q "^xvda .* w .*rbd:rbd/fs:conf=" "$T/list.out" || fail "block-list does not show the rbd target"
guest g1 "$BLKIO" info xvda >"$T/info.out" || fail "info: $(cat "$T/info.out")"
grep -q "^size $size bytes" "$T/info.out" || fail "the guest sees $(head -n 1 "$T/info.out"), the image has $size bytes"
echo "ok: the guest sees the image's $size bytes"
guest g1 "$BLKIO" read xvda 0 "$size" >"$T/a.read" || fail "guest read"
cmp "$T/a.img" "$T/a.read" || fail "what the guest read differs from what rbd import put"
echo "ok: rbd import -> guest read: $size bytes identical"
check_fs "$T/a.read" a

# guest -> image -> dom0
mkfs_dir b
guest g1 "$BLKIO" write xvda 0 <"$T/b.img" || fail "guest write"
guest g1 "$BLKIO" flush xvda || fail "guest flush"
rbd_ export --no-progress rbd/fs "$T/b.export" || fail "rbd export"
cmp "$T/b.img" "$T/b.export" || fail "rbd export differs from what the guest wrote"
echo "ok: guest write -> rbd export: $size bytes identical"
check_fs "$T/b.export" b
"$PVIO" block-detach g1 xvda || fail "detach"

# read-only: the image opened read-only, no lock, writes refused
"$PVIO" block-attach g1 "vdev=xvdb, access=ro, target=$(rbd_target fs)" || fail "attach ro"
guest g1 "$BLKIO" read xvdb 0 1048576 >"$T/ro.read" || fail "read-only read"
cmp -n 1048576 "$T/ro.read" "$T/b.img" || fail "read-only read differs"
grep -q "rbd image rbd/fs: .*read-only" "$T/blkback.log" || fail "not opened read-only: $(grep 'rbd image' "$T/blkback.log")"
rbd_ lock ls rbd/fs | grep -q . && fail "a read-only disk holds a lock: $(rbd_ lock ls rbd/fs)"
head -c 4096 /dev/urandom | guest g1 "$BLKIO" write xvdb 0 2>"$T/ro.err" &&
	fail "a write to a read-only rbd disk succeeded"
echo "ok: access=ro: opened read-only, no lock, write refused ($(tail -n 1 "$T/ro.err"))"
"$PVIO" block-detach g1 xvdb || fail "detach ro"

# a snapshot: read-only without asking
rbd_ snap create rbd/fs@s1 || fail "snap create"
"$PVIO" block-attach g1 "vdev=xvdc, target=rbd:rbd/fs@s1:conf=$CEPH_CONF" || fail "attach snapshot"
"$PVIO" block-list g1 | grep -q "^xvdc .* r .*rbd:rbd/fs@s1" || fail "the snapshot is not listed read-only"
guest g1 "$BLKIO" read xvdc 0 1048576 >"$T/snap.read" || fail "snapshot read"
cmp -n 1048576 "$T/snap.read" "$T/b.img" || fail "snapshot read differs"
head -c 4096 /dev/urandom | guest g1 "$BLKIO" write xvdc 0 2>/dev/null &&
	fail "a write to a snapshot succeeded"
echo "ok: a snapshot is read-only (mode r, write refused)"
"$PVIO" block-detach g1 xvdc || fail "detach snapshot"

# bad targets: the toolstack names what is wrong
bad() {
	local out
	out=$("$PVIO" block-attach g1 "vdev=xvdd, $1" 2>&1) && fail "accepted: $1"
	grep -q -- "$2" <<<"$out" || fail "'$1': unclear message: $out"
	echo "refused: $1: ${out#*DISKSPEC: }"
}
bad "target=rbd:fs" "no image name"
bad "target=rbd:/fs" "empty pool name"
bad "target=rbd:rbd/fs@" "empty snapshot name"
bad "target=rbd:rbd/fs:oops" "option 'oops' is not KEY=VALUE"
bad "target=rbd:rbd/fs:conf=relative.conf" "not an absolute path"
bad "target=rbd:rbd/fs:rbd_disable_zero_copy_writes=false" "is refused"
bad "engine=io_uring, target=rbd:rbd/fs" "cannot serve an rbd: target"
bad "engine=rbd, target=$T/a.img" "engine=rbd needs target=rbd:"
# ... and pvio-blkback what it finds out at open
"$PVIO" block-attach g1 "vdev=xvde, target=$(rbd_target nosuch)" || fail "attach nosuch"
wait_log "rbd/nosuch: no such image" || fail "no message for a missing image: $(tail -n 3 "$T/blkback.log")"
"$PVIO" block-attach g1 "vdev=xvdf, target=$(rbd_target fs no_such_option=1)" || fail "attach bad option"
wait_log "unknown Ceph option 'no_such_option'" ||
	fail "no message for an unknown option: $(tail -n 3 "$T/blkback.log")"
grep -E "no such image|unknown Ceph option" "$T/blkback.log" | sed 's/^/pvio-blkback: /'
kill -0 "$BLKBACK_PID" || fail "pvio-blkback exited"
echo "ok: ext4 both ways through the rbd engine; read-only, snapshot and bad targets as expected"
