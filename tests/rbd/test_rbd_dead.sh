#!/bin/bash
# timeout: 180
# The whole Ceph cluster (mon and OSD) SIGKILLed under a guest that runs
# the verify workload on an RBD disk whose target bounds the OSD and mon op
# timeouts at 5 s: the guest gets I/O errors within the timeout (not a
# hang), while a second guest's verify on a file-backed disk of the same
# pvio-blkback runs on and passes. Then the cluster is started again and
# the first guest's new I/O succeeds without reattaching; its final
# read-back pass finds no corrupt block (blocks whose writes failed are not
# checked: their content is undefined), and the backend still runs.
. "$(dirname "$0")/lib.sh"
start_ceph
start_pviod
start_blkback
rbd_ create --size 32M rbd/d || fail "rbd create"
make_image "$T/file.img" 32
"$PVIO" create g1 memory=128M >/dev/null || fail "create g1"
"$PVIO" create g2 memory=128M >/dev/null || fail "create g2"
"$PVIO" block-attach g1 "vdev=xvda, access=rw, target=$(rbd_target d rados_osd_op_timeout=5 rados_mon_op_timeout=5)" ||
	fail "attach g1"
"$PVIO" block-attach g2 "vdev=xvda, access=rw, target=$T/file.img" || fail "attach g2"

mkfifo "$T/r1" "$T/r2"
guest g1 "$BLKIO" --queues 1 verify xvda --seconds 20 --qd 8 --region-mb 32 --max-size 65536 \
	--discard-pct 0 --progress --ready-fd 3 3>"$T/r1" >"$T/g1.out" 2>"$T/g1.err" &
G1=$!
PIDS+=($G1)
guest g2 "$BLKIO" verify xvda --seconds 20 --qd 8 --region-mb 32 --max-size 65536 \
	--progress --ready-fd 3 3>"$T/r2" >"$T/g2.out" 2>"$T/g2.err" &
G2=$!
PIDS+=($G2)
read -r _ <"$T/r1" || fail "g1's verify did not start: $(tail -n 3 "$T/g1.err")"
read -r _ <"$T/r2" || fail "g2's verify did not start: $(tail -n 3 "$T/g2.err")"

# the guest's error count and I/O count in its last progress line
errs() { sed -n 's/.* \([0-9]*\) errors.*/\1/p' "$1" | tail -n 1; }
ops() { sed -n 's/.*verify: *[0-9.]* s *\([0-9]*\) I\/Os.*/\1/p' "$1" | tail -n 1; }

sleep 2     # some I/O first (a moment in the workload, not synchronisation)
[ "$(errs "$T/g1.err")" = 0 ] || fail "g1 has errors before the cluster died"
"$RBD_TESTS/ceph-cluster.sh" kill "$CEPH_DIR" || fail "kill the cluster"
t0=$EPOCHREALTIME
echo "killed the cluster (mon and OSD) at $(ops "$T/g1.err") I/Os"
# the first error, within the 5 s timeout (plus librbd's slack): bounded poll
got=
for i in $(seq 1 300); do
	[ "$(errs "$T/g1.err")" -gt 0 ] 2>/dev/null && { got=1; break; }
	sleep 0.05
done
dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
[ -n "$got" ] || fail "no I/O error in g1 within $dt s of the cluster's death"
echo "g1's first I/O errors $dt s after the cluster died (op timeout 5 s)"
awk -v d="$dt" 'BEGIN{exit !(d <= 12)}' || fail "the errors took $dt s (timeout 5 s)"
g2_mid=$(ops "$T/g2.err")
sleep 3     # the cluster stays dead a while (failing I/O keeps coming)
g2_now=$(ops "$T/g2.err")
[ "$g2_now" -gt "$g2_mid" ] || fail "g2 (a file disk) made no progress while the cluster was dead"
echo "g2 (file disk) meanwhile: $g2_mid -> $g2_now I/Os"

"$RBD_TESTS/ceph-cluster.sh" restart "$CEPH_DIR" >/dev/null || fail "restart the cluster"
e_back=$(errs "$T/g1.err")
o_back=$(ops "$T/g1.err")
echo "cluster back $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}') s after it died: g1 at $o_back I/Os, $e_back errors"

wait "$G2" || fail "g2's verify failed: $(tail -n 3 "$T/g2.out")"
grep -q 'errors 0, mismatches 0, final pass bad blocks 0 of' "$T/g2.out" || fail "g2's verification"
wait "$G1"
grep -v '^blkfront' "$T/g1.out"
s=$(sed -n 's/.*errors \([0-9]*\), mismatches \([0-9]*\), final pass bad blocks \([0-9]*\).*/\1 \2 \3/p' "$T/g1.out")
[ -n "$s" ] || fail "g1's verify gave no summary: $(tail -n 5 "$T/g1.out")"
read -r e m b <<<"$s"
[ "$e" -gt 0 ] || fail "g1 saw no error"
[ "$m" = 0 ] || fail "g1: $m mismatches: $(grep 'first error' "$T/g1.out")"
[ "$b" = 0 ] || fail "g1: $b bad blocks in the final pass (after the cluster came back)"
grep -q 'first error: .*Input/output error' "$T/g1.out" || fail "g1's first error is not an I/O error"
o_end=$(ops "$T/g1.err")
e_end=$(errs "$T/g1.err")
[ "$o_end" -gt "$((o_back + e_end - e_back))" ] ||
	fail "no successful I/O after the cluster came back ($o_back -> $o_end I/Os, $e_back -> $e_end errors)"
grep -q "rbd rbd/d: .*Connection timed out" "$T/blkback.log" ||
	fail "pvio-blkback did not log the errors naming the image"
grep -m 1 "rbd rbd/d: " "$T/blkback.log" | sed 's/^/pvio-blkback: /'
kill -0 "$BLKBACK_PID" || fail "pvio-blkback exited"
echo "ok: dead cluster -> I/O errors in $dt s; the file disk's guest unaffected; cluster back -> I/O succeeds again ($o_back -> $o_end I/Os, $e_end errors)"
