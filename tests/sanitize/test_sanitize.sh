#!/bin/bash
# timeout: 1200
# The foundation, hypervisor, store and block tests again, built with
# SANITIZE=address,undefined (into build-san/): any ASan or UBSan report
# fails the test (halt_on_error), as does any test failure. Only what those
# tests run is built (the network programs, which pull in DPDK, are not).
set -u
cd "$(dirname "$0")/../.."
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# The normal build runs the long loops that look for races (100M messages
# per ring order, 5M interop messages, 1M event-channel ping-pongs, 1000
# connect/disconnect cycles); here each loop runs long enough to drive
# every path through the instrumented code, not to find rare interleavings.
export PVIO_STRESS_MSGS=${PVIO_STRESS_MSGS:-5000000}
export PVIO_INTEROP_MSGS=${PVIO_INTEROP_MSGS:-1000000}
export PVIO_HV_PINGPONGS=${PVIO_HV_PINGPONGS:-100000}
export PVIO_CTRLFAULTS_CYCLES=${PVIO_CTRLFAULTS_CYCLES:-200}
# Tests that hold a scheduling property (tests/blk/test_blk_fair.sh) check
# it only where it is the code's, not ASan's, doing.
export PVIO_SANITIZED=1
san=(BUILD=build-san SANITIZE=address,undefined)
tests=$(make -s print-tests "${san[@]}" |
	tr ' ' '\n' | grep -E '/(ring|grant|hv|xenstore|blkengine|blkfront|blk|abi|backend)/')
[ -n "$tests" ] || { echo "FAIL: no tests found"; exit 1; }
bins=$(make -s print-bins "${san[@]}" | tr ' ' '\n' | grep -v -E '/(pvio-netback|pvio-netfront-tap|pvio-netio)$')
if ! make -j"$(nproc)" "${san[@]}" $bins $(grep '^build-san/' <<<"$tests") >build-san.log 2>&1; then
	tail -30 build-san.log
	echo "FAIL: the sanitizer build failed"
	exit 1
fi
rm -f build-san.log
BUILD=build-san TEST_TIMEOUT=600 tests/run $tests
