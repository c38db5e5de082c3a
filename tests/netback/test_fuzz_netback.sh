#!/bin/bash
# A bounded libFuzzer run of netback's DPDK-free parts (fuzz_netback.c:
# tx request parsing, header parsing/checksums/segmentation headers, the
# ctrl ring, the MAC table). Skips (77) when clang's libFuzzer is missing.
B=${BUILD:-build}
F=$B/tests/netback/fuzz_netback
[ -x "$F" ] || { echo "fuzz_netback was not built (clang with libFuzzer missing)"; exit 77; }
d=$(mktemp -d /tmp/pvio-test-XXXXXX) || exit 1
trap 'rm -rf "$d"' EXIT
mkdir "$d/corpus"
"$F" -runs=300000 -max_total_time=15 -seed=1 -rss_limit_mb=1024 -artifact_prefix="$d/" \
	"$d/corpus" >"$d/log" 2>&1
rc=$?
tail -n 4 "$d/log"
if [ $rc != 0 ]; then
	echo "FAIL: the fuzzer found a crash or an invariant violation (exit $rc)"
	grep -A30 -E "ERROR|runtime error|deadly signal" "$d/log" | head -60
	exit 1
fi
exit 0
