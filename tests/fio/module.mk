# tests/fio/: the fio ioengine (tools/fio/) through the whole PV path, with
# the fio that scripts/fetch-fio builds (each test fetches/builds it on
# first use, then it is cached; they skip when it cannot be had).
TEST_SCRIPTS += tests/fio/test_fio_verify.sh tests/fio/test_fio_errors.sh
TEST_SCRIPTS += tests/fio/test_fio_trim.sh tests/fio/test_fio_crash.sh
