#!/bin/bash
# Persistent grants past the cache: a workload whose buffers span more
# pages than blkfront's persistent-grant cache holds (16 x 1 MiB = 4096
# pages against 2112 per queue), against pvio-blkback, whose own cache
# (1056 per queue) keeps the grants it sees mapped. When no persistent
# grant can be had, blkfront uses one-off grants (revoked once the backend
# lets go) and goes on: it never holds requests back waiting for the
# backend's idle purge, which nothing would tell it about (that wait was a
# 1-2 s stall in every such workload). pvio-blkback, its cache full, maps
# such a grant for its request only (as Linux blkback past max_pgrants) and
# drops 5% of its idle cached grants every 100 ms. Checked through
# blkfront's counters: one-off grants were used, no issue waited for a
# grant, the grants still held at the end are no more than the backend's
# caches keep, and every block verifies; the exit is quiet (every grant
# given back at close).
. "$(dirname "$0")/lib.sh"
start_pviod
start_blkback
"$PVIO" create g1 memory=128M >/dev/null || fail "create"
for q in 1 2; do
	# a fresh disk each time (the workload expects unwritten blocks to be zeros)
	rm -f "$T/disk$q.img"
	make_image "$T/disk$q.img" 64
	vd=xvd$([ $q = 1 ] && echo a || echo b)
	"$PVIO" block-attach g1 "vdev=$vd, access=rw, target=$T/disk$q.img" || fail "attach"
	guest g1 "$BLKIO" --queues $q verify $vd --ops 3000 --qd 16 --min-size 524288 \
		--max-size 1048576 --region-mb 32 --discard-pct 0 >"$T/out" 2>"$T/err" ||
		fail "verify ($q queues): $(tail -3 "$T/out") $(tail -3 "$T/err")"
	cat "$T/out"
	grep -q 'mismatches 0, final pass bad blocks 0 ' "$T/out" || fail "verification ($q queues)"
	st=$(grep '^frontend:' "$T/out") || fail "no frontend counters"
	oneoff=$(sed -n 's/.* \([0-9]*\) one-off grants.*/\1/p' <<<"$st")
	waits=$(sed -n 's/.* \([0-9]*\) grant waits.*/\1/p' <<<"$st")
	[ "${oneoff:-0}" -gt 0 ] || fail "the workload never ran past the persistent-grant cache ($st)"
	[ "$waits" = 0 ] || fail "$waits issue(s) waited for a grant ($q queues): $st"
	# Grants still held at the end: at most what pvio-blkback's caches keep
	# (1056 per queue). A one-off grant is mapped for its request only, so
	# its revoke succeeds at completion; if the backend cached them (evicting
	# grants the frontend keeps) they would pile up on the deferred list.
	held=$(sed -n 's/.* \([0-9]*\) leaked refs.*/\1/p' <<<"$st")
	[ "${held:-0}" -le $((1056 * q)) ] || fail "$held grants still held by the backend ($q queues): $st"
	[ -s "$T/err" ] && fail "pvio-blkio wrote to stderr: $(cat "$T/err")"
	echo "ok: $q queue(s): $oneoff one-off grants, no grant wait, every block verified"
done
