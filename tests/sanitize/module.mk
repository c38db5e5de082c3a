# The suite's core again under ASan + UBSan (builds build-san/ itself).
TEST_SCRIPTS += tests/sanitize/test_sanitize.sh
