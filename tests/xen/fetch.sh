#!/bin/sh
# Download (never install) the Debian packages the nested-Xen test boots, and
# unpack them into $1 (default: ${XDG_CACHE_HOME:-~/.cache}/pvio-xen/root).
# Exit 0 when $1 is complete, 1 with a reason on stderr otherwise.
set -u
cache=${PVIO_XEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvio-xen}
root=$cache/root
debs=$cache/debs
[ -f "$root/.complete" ] && exit 0
mkdir -p "$debs" "$root" || exit 1
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
