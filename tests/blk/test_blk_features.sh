#!/bin/bash
# Flush means durable, discard frees blocks and reads back as zeros,
# read-only disks refuse writes and discards; both with a buffered and an
# O_DIRECT backend file.
. "$(dirname "$0")/lib.sh"
start_pviod
start_blkback
"$PVIO" create g1 memory=64M >/dev/null || fail "create"

pattern() { head -c "$1" /dev/zero | tr '\0' "$2"; }

for direct in 0 1; do
	img=$T/d$direct.img
	# O_DIRECT needs a filesystem that supports it: /tmp may be tmpfs.
	if [ $direct = 1 ]; then
		VIMG=$(mktemp /var/tmp/pvio-test-XXXXXX.img)
		trap 'rm -f "$VIMG"; cleanup' EXIT
		img=$VIMG
	fi
	make_image "$img" 32
	"$PVIO" block-attach g1 "direct=$direct, vdev=xvda, access=rw, target=$img" || fail "attach"

	# Flush: after FLUSH completes, another process reading the file with
	# O_DIRECT sees the data.
	pattern 65536 A | guest g1 "$BLKIO" write xvda 1048576 || fail "write"
	guest g1 "$BLKIO" flush xvda || fail "flush"
	got=$(dd if="$img" iflag=direct bs=65536 skip=16 count=1 status=none | tr -d 'A' | wc -c)
	[ "$got" = 0 ] || fail "direct=$direct: flushed data not on the file ($got bytes differ)"

	# Discard: offered in the file system's blocks (st_blksize, clamped to
	# 512..64 KiB); st_blocks drops, the range reads back as zeros.
	gran=$(stat -c %o "$img"); [ "$gran" -le 65536 ] || gran=512
	guest g1 "$BLKIO" info xvda | grep -qx "discard-granularity $gran" ||
		fail "direct=$direct: discard-granularity is not $gran"
	pattern 1048576 B | guest g1 "$BLKIO" write xvda 4194304 || fail "write B"
	guest g1 "$BLKIO" flush xvda || fail "flush B"
	before=$(stat -c %b "$img")
	guest g1 "$BLKIO" discard xvda 4194304 1048576 || fail "discard"
	after=$(stat -c %b "$img")
	[ "$after" -lt "$before" ] || fail "direct=$direct: st_blocks $before -> $after after discard"
	nz=$(guest g1 "$BLKIO" read xvda 4194304 1048576 | tr -d '\0' | wc -c)
	[ "$nz" = 0 ] || fail "direct=$direct: discarded range reads $nz non-zero bytes"
	# The flushed pattern elsewhere is intact.
	got=$(guest g1 "$BLKIO" read xvda 1048576 65536 | tr -d 'A' | wc -c)
	[ "$got" = 0 ] || fail "direct=$direct: data next to the discard damaged"
	"$PVIO" block-detach g1 xvda || fail "detach"
	echo "direct=$direct: flush and discard ok (st_blocks $before -> $after)"
done

# Read-only: reads work, writes and discards are refused, the file is untouched.
img=$T/ro.img
pattern 8192 C > "$img"
truncate -s 8M "$img"
sum=$(md5sum < "$img")
"$PVIO" block-attach g1 "$img,raw,xvdb,r" || fail "attach ro"
info=$(guest g1 "$BLKIO" info xvdb) || fail "info ro"
grep -qx "readonly 1" <<<"$info" || fail "not reported read-only"
grep -qx "discard 0" <<<"$info" || fail "discard offered on a read-only disk"
[ "$(guest g1 "$BLKIO" read xvdb 0 8192 | tr -d 'C' | wc -c)" = 0 ] || fail "ro read"
if pattern 512 D | guest g1 "$BLKIO" write xvdb 0 2>/dev/null; then fail "write accepted"; fi
if guest g1 "$BLKIO" discard xvdb 0 4096 2>/dev/null; then fail "discard accepted"; fi
[ "$(md5sum < "$img")" = "$sum" ] || fail "read-only image changed"
echo "read-only ok"

# 4096-byte sectors: the frontend sees them; unaligned I/O is refused.
img=$T/4k.img
make_image "$img" 16
"$PVIO" block-attach g1 "sector-size=4096, vdev=xvdc, access=rw, target=$img" || fail "attach 4k"
info=$(guest g1 "$BLKIO" info xvdc) || fail "info 4k"
grep -qx "sector-size 4096" <<<"$info" || fail "sector size: $info"
grep -qx "sectors 4096" <<<"$info" || fail "sectors: $info"
if pattern 512 E | guest g1 "$BLKIO" write xvdc 512 2>/dev/null; then
	fail "unaligned write accepted on a 4096-byte-sector disk"
fi
pattern 4096 F | guest g1 "$BLKIO" write xvdc 8192 || fail "4k write"
[ "$(guest g1 "$BLKIO" read xvdc 8192 4096 | tr -d 'F' | wc -c)" = 0 ] || fail "4k read"
echo "4096-byte sectors ok"

# A toolstack writing the device's keys one at a time (xenstore-write, as by
# hand; "frontend" last): the backend takes the disk once its keys are there.
if command -v xenstore-write >/dev/null && command -v xenstore-chmod >/dev/null; then
	dom=$("$PVIO" list | awk '$1 == "g1" { print $2 }')
	[ -n "$dom" ] || fail "no domid for g1: $("$PVIO" list)"
	img=$T/byhand.img
	make_image "$img" 8
	be=/local/domain/0/backend/vbd/$dom/51792
	fe=/local/domain/$dom/device/vbd/51792
	xs() { xenstore-write "$@" || fail "xenstore-write $*"; }
	xs "$be/params" "$img"
	xenstore-chmod "$be" n0 "r$dom" || fail "chmod $be"
	xs "$be/mode" w
	xs "$be/type" file
	xs "$fe/backend" "$be"
	xenstore-chmod "$fe" "n$dom" r0 || fail "chmod $fe"
	xs "$fe/backend-id" 0
	xs "$fe/virtual-device" 51792
	xs "$fe/device-type" disk
	xs "$fe/state" 1
	xs "$be/frontend-id" "$dom"
	xs "$be/state" 1
	xs "$be/frontend" "$fe"
	info=$(guest g1 "$BLKIO" info xvdf) || fail "a disk whose keys came one at a time: $(tail -3 "$T/blkback.log")"
	grep -qx "sectors 16384" <<<"$info" || fail "by hand: $info"
	echo "keys written one at a time ok"
else
	echo "keys written one at a time: skipped (no xenstore-write)"
fi
