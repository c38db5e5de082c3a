#!/bin/sh
# Download (never install) the Debian packages the nested-Xen test boots, and
# unpack them into ${XDG_CACHE_HOME:-~/.cache}/pvio-xen/root.
#   fetch.sh            the set every nested test needs
#   fetch.sh PKG...     these too (an optional part: qemu-system-xen for HVM
#                       domUs), into the same root, each marked done alone
# Exit 0 when the root is complete, 1 with a reason on stderr otherwise.
set -u
cache=${PVIO_XEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvio-xen}
root=$cache/root
debs=$cache/debs
mkdir -p "$debs" "$root" || exit 1
if [ $# -gt 0 ]; then
	cd "$debs" || exit 1
	for p; do
		[ -f "$root/.complete-$p" ] && continue
		ls "$debs"/"${p}"_*.deb >/dev/null 2>&1 ||
			apt-get download "$p" >/dev/null 2>&1 ||
			{ echo "apt-get download $p failed" >&2; exit 1; }
		for d in "$debs"/"${p}"_*.deb; do
			dpkg-deb -x "$d" "$root" || { echo "dpkg-deb -x $d failed" >&2; exit 1; }
		done
		touch "$root/.complete-$p"
	done
	exit 0
fi
[ -f "$root/.complete" ] && exit 0
kpkg=${PVIO_XEN_KERNEL_PKG:-}
if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
	apt-get update >/dev/null 2>&1 || { echo "apt-get update failed" >&2; exit 1; }
fi
if [ -z "$kpkg" ]; then
	kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1)
	[ -n "$kpkg" ] || { echo "cannot resolve linux-image-amd64" >&2; exit 1; }
fi
pkgs="xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils
 libxenevtchn1 libxengnttab1 libxencall1 libxenforeignmemory1 libxenmisc4.17
 libxenstore4 libxentoollog1 libxendevicemodel1 libxenhypfs1 libxentoolcore1
 libyajl2 busybox-static $kpkg"
cd "$debs" || exit 1
for p in $pkgs; do
	ls "$debs"/"${p}"_*.deb >/dev/null 2>&1 && continue
	apt-get download "$p" >/dev/null 2>&1 || { echo "apt-get download $p failed" >&2; exit 1; }
done
for d in "$debs"/*.deb; do
	dpkg-deb -x "$d" "$root" || { echo "dpkg-deb -x $d failed" >&2; exit 1; }
done
touch "$root/.complete"
