# Shared by the fio engine's tests (sourced): the block test harness
# (pviod, pvio-blkback, guests; everything killed by PID at exit) plus the
# fio that scripts/fetch-fio builds from Debian's source and the engine
# built against it. Skips (77) with the reason when either cannot be had.
. "$(dirname "$0")/../blk/lib.sh"

fio_setup() {
	local src
	src=$(scripts/fetch-fio 2>"$T/fetch.err") ||
		skip "fio build unavailable: $(tail -n 1 "$T/fetch.err")"
	FIO=$src/fio
	make --no-print-directory -s BUILD="$B" fio >"$T/make.out" 2>&1 ||
		skip "cannot build fio-pvio.so: $(tail -n 1 "$T/make.out")"
	ENG=$(cd "$B" && pwd)/tools/fio/fio-pvio.so
	[ -f "$ENG" ] || skip "no $ENG after make fio"
}

# pvfio GUEST ARGS...: the built fio, as a guest, with the engine (and no
# verify state files left in the working directory).
pvfio() {
	local g=$1
	shift
	guest "$g" "$FIO" --thread --ioengine=external:"$ENG" --verify_state_save=0 "$@"
}

# no_verify_errors FILE: fio's output shows no verification failure.
no_verify_errors() {
	! grep -qiE 'verify.*(fail|bad|mismatch)|bad magic|crc32c.*wanted' "$1"
}
