# Shared by the rbd engine's end-to-end tests (sourced): the block test
# harness (pviod, pvio-blkback, guests, all killed by PID at exit) plus a
# throwaway Ceph cluster (ceph-cluster.sh: one mon, one OSD, no mgr), which
# is stopped after everything else. Skips (77) with the reason when
# pvio-blkback was built without librbd or Ceph is not installed.
. "$(dirname "$0")/../blk/lib.sh"
RBD_TESTS=$(cd "$(dirname "$0")" && pwd)
CEPH_DIR=

rbd_cleanup() {
	local keep=${KEEP_T:-}
	KEEP_T=1 cleanup
	if [ -n "$CEPH_DIR" ]; then
		if [ -n "$keep" ]; then
			"$RBD_TESTS/ceph-cluster.sh" kill "$CEPH_DIR"
		else
			"$RBD_TESTS/ceph-cluster.sh" stop "$CEPH_DIR"
		fi
	fi
	[ -n "$keep" ] || rm -rf "$T"
}
trap rbd_cleanup EXIT

[ -x "$BLKBACK" ] || skip "no $BLKBACK (make build-all)"
ldd "$BLKBACK" | grep -q 'librbd\.so' ||
	skip "pvio-blkback was built without librbd (install librbd-dev: scripts/install-deps, then rebuild)"
for c in ceph-mon ceph-osd ceph rbd monmaptool; do
	command -v "$c" >/dev/null ||
		skip "no $c (scripts/install-deps installs ceph-mon ceph-osd ceph-common)"
done

# start_ceph: the cluster in $T/ceph; sets CEPH_CONF (exported: rbd, fio).
start_ceph() {
	local out
	CEPH_DIR=$T/ceph
	out=$("$RBD_TESTS/ceph-cluster.sh" start "$CEPH_DIR" 2>&1) ||
		fail "the Ceph cluster did not start: $out"
	export CEPH_CONF=$CEPH_DIR/ceph.conf
}

# rbd_ ARGS...: the rbd CLI on the test cluster, bounded
rbd_() { timeout 60 rbd -c "$CEPH_CONF" "$@"; }

# disk target of image NAME (extra :KEY=VALUE options may follow)
rbd_target() {
	local img=$1
	shift
	local t="rbd:rbd/$img:conf=$CEPH_CONF" o
	for o in "$@"; do t="$t:$o"; done
	echo "$t"
}
