# tests/fuzz/: libFuzzer harnesses (clang, ASan + UBSan), one per trust
# boundary, each driving the product code itself (README.md here).
#
#   fuzz_NAME.c          the harness; linked against an instrumented copy of
#                        libpvio built by fuzz.mk (clang, -fsanitize=
#                        fuzzer-no-link,address,undefined)
#   corpus/NAME/         its committed seed corpus and regression inputs
#   FUZZ_LIBS_NAME       extra link flags of a harness (module.mk here)
#
# `make test` runs test_fuzz.sh (each harness a few seconds over its
# corpus); `make fuzz FUZZ_SECONDS=N` runs each for N seconds (default 60)
# and keeps what it found under $(BUILD)/fuzz/corpus/NAME/.
TEST_SCRIPTS += tests/fuzz/test_fuzz.sh
# Harness-only compile flags (FUZZ_CFLAGS_NAME; link flags: FUZZ_LIBS_NAME).
# No comparison tracing in the two slowest harnesses' own code (15-30% more
# executions; the product's comparisons still guide the mutations).
FUZZ_CFLAGS_frontends := -fno-sanitize-coverage=trace-cmp
FUZZ_CFLAGS_xenstore := -fno-sanitize-coverage=trace-cmp
