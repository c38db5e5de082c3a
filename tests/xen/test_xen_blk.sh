#!/bin/bash
# timeout: 900
# pvio-blkback --hv xen serving the unmodified Linux xen-blkfront of a PV
# domU, in a real Xen 4.17 nested under QEMU TCG (no KVM needed).
# Debian's Xen, kernel and busybox are apt-get download'ed into a cache
# (nothing is installed); needs qemu-system-x86_64 (skips without it).
#   PVIO_XEN_BACKEND=kernel   the same checks against Linux xen-blkback
#   PVIO_XEN_LOG=FILE         keep the console log there
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
mode=${PVIO_XEN_BACKEND:-pvio}
# Linux blkfront module parameters (colon-separated); default: a 4-page
# ring (blkfront allocates ring entries x (indirect segments + 2) pages
# per queue for persistent grants: keep the default 32 segments).
bfp=${PVIO_XEN_BLKFRONT_PARAMS-max_ring_page_order=2}; bfp=${bfp:-none}
skip() { echo "SKIP: $*"; exit 77; }

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
blk=$BUILD/blkback/pvio-blkback
[ -x "$blk" ] || skip "$blk not built"
ldd "$blk" | grep -q libxengnttab || skip "pvio built without libxengnttab/libxenevtchn (hv/xen is a stub)"
"$here/fetch.sh" || skip "cannot fetch the Debian Xen/kernel/busybox packages"
cache=${PVIO_XEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvio-xen}
R=$cache/root
kver=$(ls "$R/lib/modules" | head -1)
M=$R/lib/modules/$kver/kernel
BB=$R/bin/busybox

work=$(mktemp -d /tmp/pvio-xen.XXXXXX)
qpid=
cleanup() {
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

export LD_LIBRARY_PATH=$R/usr/lib/x86_64-linux-gnu:$R/lib/x86_64-linux-gnu
# Copy binaries and every shared library they need (ldd) into a root.
addbin() {   # root dest-dir file...
	local root=$1 dir=$2; shift 2
	mkdir -p "$root/$dir" "$root/lib/x86_64-linux-gnu" "$root/lib64"
	for f; do
		cp -L "$f" "$root/$dir/" || return 1
		ldd "$f" | awk '/=> \//{print $3} /^\t\/lib64/{print $1}' | while read -r l; do
			case $l in
			*/ld-linux-x86-64.so.2) cp -Ln "$l" "$root/lib64/" ;;
			*) cp -Ln "$l" "$root/lib/x86_64-linux-gnu/" ;;
			esac
		done
	done
}
mkcpio() { (cd "$1" && find . | "$BB" cpio -o -H newc 2>/dev/null | gzip -1) > "$2"; }

# ---- domU: busybox + xen-blkfront
U=$work/domu
mkdir -p "$U/bin" "$U/mods"
cp "$BB" "$U/bin/busybox"
cp "$here/domU-init.sh" "$U/init"
cp "$M/drivers/block/xen-blkfront.ko" "$U/mods/"

# ---- dom0: busybox, Xen toolstack, pvio-blkback, modules, the domU's boot files
D=$work/dom0
mkdir -p "$D/bin" "$D/mods" "$D/boot" "$D/etc/xen/scripts" "$D/usr/bin"
cp "$BB" "$D/bin/busybox"
cp "$here/dom0-init.sh" "$D/init"
for m in drivers/xen/xen-privcmd drivers/xen/xenfs/xenfs drivers/xen/xen-evtchn \
	 drivers/xen/xen-gntdev drivers/xen/xen-gntalloc drivers/block/loop \
	 drivers/block/xen-blkback/xen-blkback; do
	cp "$M/$m.ko" "$D/mods/" || skip "module $m missing from $kver"
done
X=$R/usr/lib/xen-4.17/bin
addbin "$D" usr/lib/xen-4.17/bin "$X/xenstored" "$X/xen-init-dom0" "$X/xenconsoled" "$X/xl" \
	"$X/libxl-save-helper" || exit 1
addbin "$D" usr/bin "$R/usr/bin/xenstore" || exit 1
for t in read write ls list rm exists; do ln -sf xenstore "$D/usr/bin/xenstore-$t"; done
gcc_s=$(gcc -print-file-name=libgcc_s.so.1 2>/dev/null)
[ -f "$gcc_s" ] || gcc_s=/lib/x86_64-linux-gnu/libgcc_s.so.1
cp -L "$gcc_s" "$D/lib/x86_64-linux-gnu/"   # xl's pthread_cancel needs it
# pvio-blkback and its libraries (from the host: liburing, libaio, libxen*)
LD_LIBRARY_PATH= addbin "$D" usr/bin "$blk" || exit 1
cp "$here/block-mini" "$D/etc/xen/scripts/"
cp "$here/domu.cfg.in" "$D/etc/xen/"
cp "$R/boot/vmlinuz-$kver" "$D/boot/vmlinuz"
mkcpio "$U" "$D/boot/domu.gz"
mkcpio "$D" "$work/dom0.gz"
gunzip -c "$R"/boot/xen-4.17-amd64.gz > "$work/xen"
cp "$R/boot/vmlinuz-$kver" "$work/vmlinuz"
echo "images: dom0 $(du -h "$work/dom0.gz" | cut -f1), domU $(du -h "$D/boot/domu.gz" | cut -f1); backend: $mode"

# ---- boot (one QEMU, one vCPU: the machine is shared)
log=${PVIO_XEN_LOG:-$work/console.log}
start=$(date +%s)
(cd "$work" && exec timeout 600 qemu-system-x86_64 -accel tcg -cpu max,-smap -m 2048 -smp 1 \
	-nographic -no-reboot -kernel xen \
	-append 'console=com1 dom0_mem=1024M,max:1024M dom0_max_vcpus=1' \
	-initrd "vmlinuz console=hvc0 pviomode=$mode blkfront_params=$bfp,dom0.gz") < /dev/null > "$log" 2>&1 &
qpid=$!
wait "$qpid"; qrc=$?
qpid=
echo "QEMU exited with $qrc after $(( $(date +%s) - start ))s"
tr -d '\r' < "$log" > "$log.txt"

echo "---------------- negotiated (xenstore, once the frontend was Connected)"
# from dom0's xenstore-ls -f of both directories, taken once Connected
fe=$(grep -a -m1 -o '^/local/domain/[0-9]*/device/vbd/51712' "$log.txt")
be=$(grep -a -m1 -o '^/local/domain/0/backend/vbd/[0-9]*/51712' "$log.txt")
for k in protocol ring-page-order multi-queue-num-queues feature-persistent \
	 feature-large-sector-size; do
	v=$(grep -a -m1 "^$fe/$k = " "$log.txt" | sed 's/.* = //')
	echo "frontend $k=${v:-(absent)}"
done
for k in max-ring-page-order multi-queue-max-queues feature-persistent \
	 feature-max-indirect-segments feature-flush-cache feature-barrier feature-discard \
	 discard-granularity sector-size physical-sector-size sectors info; do
	v=$(grep -a -m1 "^$be/$k = " "$log.txt" | sed 's/.* = //')
	echo "backend  $k=${v:-(absent)}"
done
echo "---------------- domU view"
grep -a -E '^(SYSFS|insmod|xvdb)|blkfront: xvd' "$log.txt"
echo "---------------- pvio-blkback log"
sed -n '/^----- pvio-blkback log/,/^----- hotplug log/p' "$log.txt" | head -60
echo "---------------- results"
grep -a '^RESULT' "$log.txt" | sort -u | tee "$work/results"

need="xl_create xvda_present size sector_size domu_reads_dom0_mark domu_write_mark
 image_sees_domu_write indirect_segments direct_1MiB_writes image_sees_direct_writes flush
 discard ro_disk_readable ro_disk_refuses_write ro_image_untouched domu_finished backend_dir_removed"
[ "$mode" = pvio ] && need="$need blkback_started blkback_survives_destroy no_fd_leak"
fail=0; why=
for n in $need; do
	grep -q "^RESULT $n \(PASS\|SKIP\)" "$work/results" || { why="$why $n"; fail=1; }
done
grep -q '^RESULT [a-z_0-9]* FAIL' "$work/results" && fail=1
grep -a -q 'DOM0-DONE' "$log.txt" || { why="$why dom0-did-not-finish"; fail=1; }
if [ $fail != 0 ]; then
	echo "---------------- console (last 150 lines)"
	tail -150 "$log.txt"
	echo "---------------- failed"
	grep '^RESULT [a-z_0-9]* FAIL' "$work/results"
	echo "FAIL: nested Xen block test ($mode backend): missing or failed:$why"
	exit 1
fi
echo "PASS: unmodified Linux xen-blkfront against the $mode backend in Xen $(grep -a -o 'Xen version [0-9.]*' "$log.txt" | head -1)"
exit 0
