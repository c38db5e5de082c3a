#!/bin/bash
# timeout: 1200
# The foundation, hypervisor, store and block tests again, built with
# SANITIZE=address,undefined (into build-san/): any ASan or UBSan report
# fails the test (halt_on_error), as does any test failure.
set -u
cd "$(dirname "$0")/../.."
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# The two-thread stress runs its full 100M messages per ring order in the
# normal build; instrumented, 20M per order keeps this test in minutes.
export PVIO_STRESS_MSGS=${PVIO_STRESS_MSGS:-20000000}
# Tests that hold a scheduling property (tests/blk/test_blk_fair.sh) check
# it only where it is the code's, not ASan's, doing.
export PVIO_SANITIZED=1
if ! make -j"$(nproc)" BUILD=build-san SANITIZE=address,undefined build-all >build-san.log 2>&1; then
	tail -30 build-san.log
	echo "FAIL: the sanitizer build failed"
	exit 1
fi
rm -f build-san.log
tests=$(make -s print-tests BUILD=build-san SANITIZE=address,undefined |
	tr ' ' '\n' | grep -E '/(ring|grant|hv|xenstore|blkengine|blkfront|blk|abi|backend)/')
[ -n "$tests" ] || { echo "FAIL: no tests found"; exit 1; }
BUILD=build-san TEST_TIMEOUT=600 tests/run $tests
