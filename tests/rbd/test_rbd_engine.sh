#!/bin/bash
# timeout: 180
# The rbd engine on its own, as pvio-blkback's poller drives it
# (rbd_engine_check): 4 KiB blocks stamped at QD32, read back at QD1 and
# at random depths that cross the wake-up batching threshold both ways.
# Asserted there: every completion reaches the poller (no sleep on the
# engine's fd outlasts the OSD op timeout with I/O in flight), deep queues
# take fewer wake-ups than completions, QD1 one per I/O, and the data.
. "$(dirname "$0")/lib.sh"
CHECKER=$B/tests/rbd/rbd_engine_check
[ -x "$CHECKER" ] || skip "no $CHECKER (built with librbd-dev: scripts/install-deps)"
start_ceph
rbd_ create --size 16M rbd/e || fail "rbd create"
"$CHECKER" "$(rbd_target e)" || fail "rbd_engine_check"
echo "ok: rbd engine wake-ups and data"
