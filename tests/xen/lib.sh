# Shared by the nested-Xen tests (tests/xen/test_xen_*.sh; sourced, bash):
# fetch the Debian packages, build the dom0/domU initramfs images, boot Xen
# under QEMU TCG, and judge the RESULT lines the guests print.
#   PVIO_XEN_LOG=FILE   keep the console log there
#   PVIO_XEN_CACHE=DIR  where the downloaded packages are unpacked
#   PVIO_XEN_CPU=MODEL  QEMU's virtual CPU (default below)
#   PVIO_XEN_ACCEL=A    QEMU's -accel (default tcg; e.g. tcg,thread=single)
#   PVIO_XEN_ARGS=...   more of Xen's command line (e.g. max_cstate=1)
#   PVIO_XEN_HANG_SECS=N  the watchdog's limit (default 120 s)
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
skip() { echo "SKIP: $*"; exit 77; }

# xen_setup BACKEND-BINARY: skip unless everything is here; then set R (the
# unpacked packages), kver, M (its modules), BB (busybox) and work (a
# temporary directory removed at exit, with QEMU if still running).
xen_setup() {
	command -v qemu-system-x86_64 >/dev/null ||
		skip "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
	[ -x "$1" ] || skip "$1 not built"
	ldd "$1" | grep -q libxengnttab ||
		skip "pvio built without libxengnttab/libxenevtchn (hv/xen is a stub)"
	"$here/fetch.sh" || skip "cannot fetch the Debian Xen/kernel/busybox packages"
	cache=${PVIO_XEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvio-xen}
	R=$cache/root
	kver=$(ls "$R/lib/modules" | head -1)
	M=$R/lib/modules/$kver/kernel
	BB=$R/bin/busybox
	work=$(mktemp -d /tmp/pvio-xen.XXXXXX)
	qpid=
	trap xen_cleanup EXIT
	trap 'exit 1' INT TERM
	export LD_LIBRARY_PATH=$R/usr/lib/x86_64-linux-gnu:$R/lib/x86_64-linux-gnu
}

xen_cleanup() {
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null
	fi
	rm -rf "$work"
}

# addbin ROOT DIR FILE...: copy binaries and every shared library they need.
addbin() {
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

# xen_mods ROOT MODULE...: copy kernel modules (paths under kernel/, no .ko).
xen_mods() {
	local root=$1; shift
	mkdir -p "$root/mods"
	for m; do
		cp "$M/$m.ko" "$root/mods/" || skip "module $m missing from $kver"
	done
}

# xen_domu ROOT INIT MODULE...: a domU initramfs tree (busybox, /init).
xen_domu() {
	local root=$1 init=$2; shift 2
	mkdir -p "$root/bin"
	cp "$BB" "$root/bin/busybox"
	cp "$here/$init" "$root/init"
	xen_mods "$root" "$@"
}

# xen_dom0 ROOT INIT MODULE...: a dom0 initramfs tree: busybox, /init and
# dom0-common.sh, Xen's modules and toolstack, the domU kernel.
xen_dom0() {
	local root=$1 init=$2 X=$R/usr/lib/xen-4.17/bin gcc_s; shift 2
	mkdir -p "$root/bin" "$root/boot" "$root/etc/xen/scripts" "$root/usr/bin"
	cp "$BB" "$root/bin/busybox"
	cp "$here/$init" "$root/init"
	cp "$here/dom0-common.sh" "$root/etc/"
	xen_mods "$root" drivers/xen/xen-privcmd drivers/xen/xenfs/xenfs drivers/xen/xen-evtchn \
		drivers/xen/xen-gntdev drivers/xen/xen-gntalloc "$@"
	addbin "$root" usr/lib/xen-4.17/bin "$X/xenstored" "$X/xen-init-dom0" "$X/xenconsoled" \
		"$X/xl" "$X/libxl-save-helper" || return 1
	addbin "$root" usr/bin "$R/usr/bin/xenstore" || return 1
	for t in read write ls list rm exists; do ln -sf xenstore "$root/usr/bin/xenstore-$t"; done
	gcc_s=$(gcc -print-file-name=libgcc_s.so.1 2>/dev/null)
	[ -f "$gcc_s" ] || gcc_s=/lib/x86_64-linux-gnu/libgcc_s.so.1
	cp -L "$gcc_s" "$root/lib/x86_64-linux-gnu/"   # xl's pthread_cancel needs it
	xen_domu_kernel "$root/boot/vmlinux" || return 1
}

# xen_domu_kernel DEST: the domU kernel as a plain ELF image (the payload of
# Debian's bzImage, unpacked once into the cache). libxl then loads it
# without decompressing: libxc's in-dom0 XZ decompression failed now and
# then here ("unable to XZ decompress kernel") on the same file that had
# just booted another domU.
xen_domu_kernel() {
	local z=$R/boot/vmlinuz-$kver elf=$cache/vmlinux-$kver off
	if [ ! -s "$elf" ]; then
		off=$(LC_ALL=C grep -abo -m1 "$(printf '\3757zXZ')" "$z" | head -1 | cut -d: -f1)
		[ -n "$off" ] || { echo "no XZ payload in $z" >&2; return 1; }
		tail -c +$((off + 1)) "$z" | xz -dc --single-stream > "$elf.tmp" 2>/dev/null &&
			mv "$elf.tmp" "$elf" || { echo "cannot unpack $z" >&2; rm -f "$elf.tmp"; return 1; }
	fi
	cp "$elf" "$1"
}

# xen_boot DOM0-ROOT CMDLINE-EXTRA: pack the dom0 image, boot Xen with it
# (one vCPU: the machine is shared) until dom0 powers off; the console is
# then in $log.txt.
xen_boot() {
	local start qrc cpu=${PVIO_XEN_CPU:-Nehalem}
	mkcpio "$1" "$work/dom0.gz"
	gunzip -c "$R"/boot/xen-4.17-amd64.gz > "$work/xen"
	cp "$R/boot/vmlinuz-$kver" "$work/vmlinuz"
	echo "images: dom0 $(du -h "$work/dom0.gz" | cut -f1)"
	log=${PVIO_XEN_LOG:-$work/console.log}
	start=$(date +%s)
	(cd "$work" && exec timeout "${PVIO_XEN_QEMU_TIMEOUT:-600}" qemu-system-x86_64 -accel "${PVIO_XEN_ACCEL:-tcg}" -cpu "$cpu" -m 2048 -smp 1 \
		-nographic -no-reboot -kernel xen \
		-append "console=com1 dom0_mem=1024M,max:1024M dom0_max_vcpus=1 ${PVIO_XEN_ARGS:-}" \
		-initrd "vmlinuz console=hvc0 $2,dom0.gz") < /dev/null > "$log" 2>&1 &
	qpid=$!
	xen_watchdog "$qpid" "$log" "$work/hung" &
	wpid=$!
	wait "$qpid"; qrc=$?
	kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null
	qpid=
	echo "QEMU exited with $qrc after $(( $(date +%s) - start ))s"
	[ -f "$work/hung" ] && cat "$work/hung"
	tr -d '\r' < "$log" > "$log.txt"
}

# xen_watchdog PID LOG FILE: the nested system hangs now and then under
# TCG with every vCPU halted for good (QEMU idle, the console silent; with
# pvio's backends and Linux's alike: shared/XEN-MIGRATION-NOTES.md). dom0
# prints a heartbeat every 20 s (dom0-common.sh), so a console LOG that did
# not grow for 2 minutes (PVIO_XEN_HANG_SECS) means a hang: say so in FILE
# and stop QEMU (PID: the timeout(1) that runs it), instead of waiting for
# its timeout. (QEMU's CPU time cannot tell: an idle but healthy nested
# system uses almost none.)
xen_watchdog() {
	local last=-1 idle=0 t limit=${PVIO_XEN_HANG_SECS:-120}
	rm -f "$3.tick"; mkfifo "$3.tick" || return 0
	# (read's timeout, a builtin: no sleep left behind when this is killed)
	while ! read -r -t 15 t <> "$3.tick"; do
		kill -0 "$1" 2>/dev/null || return 0
		t=$(stat -c %s "$2" 2>/dev/null) || t=0
		if [ "$t" = "$last" ]; then
			idle=$((idle + 15))
		else
			idle=0
		fi
		last=$t
		if [ $idle -ge "$limit" ]; then
			echo "the nested system hung: its console was silent for ${idle} s (stopped)" > "$3"
			kill "$1" 2>/dev/null
			return 0
		fi
	done
}

# xen_judge WHAT NEEDED-RESULT...: every needed RESULT passed (or skipped),
# none failed, dom0 finished. Prints the console's tail on failure.
xen_judge() {
	local what=$1 fail=0 why= n; shift
	echo "---------------- results"
	grep -a '^RESULT' "$log.txt" | sort -u | tee "$work/results"
	for n; do
		grep -q "^RESULT $n \(PASS\|SKIP\)" "$work/results" || { why="$why $n"; fail=1; }
	done
	grep -q '^RESULT [a-z_0-9]* FAIL' "$work/results" && fail=1
	grep -a -q 'DOM0-DONE' "$log.txt" || { why="$why dom0-did-not-finish"; fail=1; }
	[ -f "$work/hung" ] && why="$why (hung: $(cat "$work/hung"))"
	if [ $fail != 0 ]; then
		echo "---------------- console (last 150 lines)"
		tail -150 "$log.txt"
		echo "---------------- failed"
		grep '^RESULT [a-z_0-9]* FAIL' "$work/results"
		echo "FAIL: $what: missing or failed:$why"
		exit 1
	fi
	echo "PASS: $what in $(grep -a -o 'Xen version [0-9.]*' "$log.txt" | head -1)"
	exit 0
}

# xen_keys_check SPEC FE-DIR BE-DIR: check the store directories a real
# frontend and backend wrote (from a `xenstore-ls -f` dump in the console
# log) against SPEC, the keys a pvio frontend personality writes and reads
# (tests/*/linux-*.keys, which the personality's own test holds it to).
# Key names are normalised: "queue-N/" dropped, the number of a numbered
# key turned into %u (ring-ref3 -> ring-ref%u, queue-0 -> queue-%u). SPEC lines, # comments:
#   fe  K[|K2]  the frontend writes K (or K2)      fe? K  it may
#   ts  K...    the toolstack writes these          be  K  it reads K: the
#   backend must have it                            be? K  read, with a default
# Prints one RESULT line per check; returns 1 if one failed.
xen_keys_check() {
	local spec=$1 fe=$2 be=$3 name=$4 f b bad=0 k alts line kind
	f=$(grep -a "^$fe/[^ ]* = " "$log.txt" | sed "s|^$fe/||; s| = .*||" | xen_keys_norm)
	b=$(grep -a "^$be/[^ ]* = " "$log.txt" | sed "s|^$be/||; s| = .*||" | xen_keys_norm)
	[ -n "$f" ] && [ -n "$b" ] || { echo "RESULT ${name}_keys FAIL no store dump of $fe / $be"; return 1; }
	while read -r kind line; do
		case $kind in
		fe)	alts=$(echo "$line" | tr '|' ' ')
			printf '%s\n' $alts | grep -qxF -f - <(echo "$f") ||
				{ echo "RESULT ${name}_keys_fe FAIL the real frontend did not write $line"; bad=1; } ;;
		be)	for k in $line; do
				echo "$b" | grep -qxF "$k" ||
					{ echo "RESULT ${name}_keys_be FAIL the real backend has no $k"; bad=1; }
			done ;;
		esac
	done < <(sed 's/#.*//' "$spec" | grep -v '^[[:space:]]*$')
	for k in $f; do
		sed 's/#.*//' "$spec" | awk '$1=="fe"||$1=="fe?"||$1=="ts"' | tr '|' ' ' |
			awk '{ for (i = 2; i <= NF; i++) print $i }' | grep -qxF "$k" ||
			{ echo "RESULT ${name}_keys_fe FAIL the real frontend wrote $k, $spec does not name it"; bad=1; }
	done
	[ $bad = 0 ] && echo "RESULT ${name}_keys PASS frontend: $(echo $f); backend has every key read"
	return $bad
}
xen_keys_norm() { sed -E 's#^queue-[0-9]+/##; s#^(.*ref|queue-)[0-9]+$#\1%u#' | sort -u; }
