#!/bin/bash
# timeout: 900
# pvio-netback (PVIO_HV=xen) switching the unmodified Linux xen-netfront of
# two PV domUs (ping), in a real Xen 4.17 nested under QEMU TCG.
# Debian's Xen, kernel and busybox are apt-get download'ed into a cache
# (nothing is installed); needs qemu-system-x86_64 (skips without it).
#   PVIO_XEN_LOG=FILE         keep the console log there
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
skip() { echo "SKIP: $*"; exit 77; }

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
blk=$BUILD/netback/pvio-netback
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

# ---- domU: busybox + xen-netfront
U=$work/domu
mkdir -p "$U/bin" "$U/mods"
cp "$BB" "$U/bin/busybox"
cp "$here/net-domU-init.sh" "$U/init"
cp "$M/drivers/net/xen-netfront.ko" "$U/mods/"

# ---- dom0: busybox, Xen toolstack, pvio-netback, modules, the domU's boot files
D=$work/dom0
mkdir -p "$D/bin" "$D/mods" "$D/boot" "$D/etc/xen/scripts" "$D/usr/bin"
cp "$BB" "$D/bin/busybox"
cp "$here/net-dom0-init.sh" "$D/init"
for m in drivers/xen/xen-privcmd drivers/xen/xenfs/xenfs drivers/xen/xen-evtchn \
	 drivers/xen/xen-gntdev drivers/xen/xen-gntalloc; do
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
# pvio-netback and its libraries (from the host: DPDK, libxen*)
LD_LIBRARY_PATH= addbin "$D" usr/bin "$blk" || exit 1
# DPDK's mempool handler is a plugin (loaded with -d by net-dom0-init.sh)
pmd=$(ls /usr/lib/x86_64-linux-gnu/dpdk/pmds-*/librte_mempool_ring.so.[0-9]* 2>/dev/null | head -1)
[ -n "$pmd" ] || skip "DPDK's librte_mempool_ring plugin not found"
LD_LIBRARY_PATH= addbin "$D" usr/lib/dpdk "$pmd" || exit 1
cp "$here/vif-mini" "$D/etc/xen/scripts/"
cp "$here/net.cfg.in" "$D/etc/xen/"
cp "$R/boot/vmlinuz-$kver" "$D/boot/vmlinuz"
mkcpio "$U" "$D/boot/domunet.gz"
mkcpio "$D" "$work/dom0.gz"
gunzip -c "$R"/boot/xen-4.17-amd64.gz > "$work/xen"
cp "$R/boot/vmlinuz-$kver" "$work/vmlinuz"
echo "images: dom0 $(du -h "$work/dom0.gz" | cut -f1), domU $(du -h "$D/boot/domunet.gz" | cut -f1)"

# ---- boot (one QEMU, one vCPU: the machine is shared)
log=${PVIO_XEN_LOG:-$work/console.log}
start=$(date +%s)
(cd "$work" && exec timeout 600 qemu-system-x86_64 -accel tcg -cpu max,-smap -m 2048 -smp 1 \
	-nographic -no-reboot -kernel xen \
	-append 'console=com1 dom0_mem=1024M,max:1024M dom0_max_vcpus=1' \
	-initrd "vmlinuz console=hvc0,dom0.gz") < /dev/null > "$log" 2>&1 &
qpid=$!
wait "$qpid"; qrc=$?
qpid=
echo "QEMU exited with $qrc after $(( $(date +%s) - start ))s"
tr -d '\r' < "$log" > "$log.txt"

echo "---------------- vif keys (xenstore, once domu1's frontend was Connected)"
grep -a -E '^/local/domain/[0-9]+/(device|backend)/vif/' "$log.txt" | grep -v -E '/(mac|handle|uuid|script|frontend|backend|online|bridge|type|hotplug-status|backend-id|frontend-id) = '
echo "---------------- pvio-netback log"
sed -n '/^----- pvio-netback log/,/^----- domU1 console/p' "$log.txt" | head -60
echo "---------------- results"
grep -a '^RESULT' "$log.txt" | sort -u | tee "$work/results"

need="netback_started xl_create_1 xl_create_2 first_ping ping_20x1400 netback_survives_destroy
 net_no_fd_leak"
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
	echo "FAIL: nested Xen net test: missing or failed:$why"
	exit 1
fi
echo "PASS: two unmodified Linux xen-netfronts switched by pvio-netback in Xen $(grep -a -o 'Xen version [0-9.]*' "$log.txt" | head -1)"
exit 0
