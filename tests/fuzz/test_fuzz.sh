#!/bin/bash
# timeout: 900
# Runs every libFuzzer harness (tests/fuzz/fuzz_*.c, built into
# $BUILD/fuzz/) over its committed corpus (tests/fuzz/corpus/NAME/: seeds and
# the inputs of every crash found so far), then fuzzes on:
#   make test   FUZZ_TEST_SECONDS each (default 4), in a scratch corpus;
#   make fuzz   FUZZ_MODE=long, FUZZ_SECONDS each (default 60), corpus kept in
#               $BUILD/fuzz/corpus/NAME/, crashes in $BUILD/fuzz/crashes/;
#               executions and coverage go to $BUILD/fuzz/stats.json.
# Any crash, sanitizer report, leak, or input running over 10 s fails.
# FUZZ_ONLY=NAME runs one harness. Skips (77) when clang's libFuzzer is
# missing.
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
mode=${FUZZ_MODE:-test}
only=${FUZZ_ONLY:-}
if [ "$mode" = long ]; then
	secs=${FUZZ_SECONDS:-60}
else
	secs=${FUZZ_TEST_SECONDS:-4}
fi
command -v clang >/dev/null || { echo "clang is not installed: no libFuzzer harnesses"; exit 77; }
harnesses=()
for c in tests/fuzz/fuzz_*.c; do
	n=${c#tests/fuzz/fuzz_}
	n=${n%.c}
	[ -n "$only" ] && [ "$n" != "$only" ] && continue
	[ -x "$B/fuzz/fuzz_$n" ] || { echo "FAIL: $B/fuzz/fuzz_$n was not built"; exit 1; }
	harnesses+=("$n")
done
[ ${#harnesses[@]} -gt 0 ] || { echo "FAIL: no harness${only:+ named $only}"; exit 1; }

tmp=$(mktemp -d /tmp/pvio-fuzz-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
failed=0
json="["
for n in "${harnesses[@]}"; do
	seeds=tests/fuzz/corpus/$n
	if [ "$mode" = long ]; then
		work=$B/fuzz/corpus/$n
		art=$B/fuzz/crashes/$n-
		mkdir -p "$work" "$B/fuzz/crashes"
	else
		work=$tmp/corpus-$n
		art=$tmp/$n-
		mkdir -p "$work"
	fi
	dirs=("$work")
	[ -d "$seeds" ] && dirs+=("$seeds")
	log=$tmp/$n.log
	"$B/fuzz/fuzz_$n" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art" "${dirs[@]}" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	printf '%-12s %3ss  %10s execs  %6s/s  cov %5s  ft %6s  %s\n' "$n" "$secs" \
		"${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$([ $rc = 0 ] && echo ok || echo "FAILED (exit $rc)")"
	json+="$([ "$json" = "[" ] || echo ,){\"harness\":\"$n\",\"seconds\":$secs,\"execs\":${execs:-0},\"execs_per_s\":${rate:-0},\"cov\":${cov:-0},\"ft\":${ft:-0},\"ok\":$([ $rc = 0 ] && echo true || echo false)}"
	if [ $rc != 0 ]; then
		failed=1
		grep -A40 -E "ERROR|runtime error|deadly signal|timeout after|out-of-memory" "$log" | head -60
		ls "${art}"* 2>/dev/null | sed 's/^/  input: /'
		[ "$mode" = long ] || cp "${art}"* "${TMPDIR:-/tmp}/" 2>/dev/null
	fi
done
json+="]"
[ "$mode" = long ] && echo "$json" >"$B/fuzz/stats.json"
[ $failed = 0 ] || { echo "FAIL: a harness found a crash (add its input to tests/fuzz/corpus/NAME/ once fixed)"; exit 1; }
exit 0
