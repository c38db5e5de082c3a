# Shared by the scale tests (sourced): many guests on one backend.
# Builds on tests/blk/lib.sh (pviod, pvio-blkback, cleanup by PID).
. "$(dirname "${BASH_SOURCE[0]}")/../blk/lib.sh"

# start_blkback_ready ARGS...: pvio-blkback, synchronised on --ready-fd
start_blkback_ready() {
	mkfifo "$T/bready"
	"$BLKBACK" --socket "$PVIO_SOCKET" --ready-fd 3 "$@" 3>"$T/bready" \
		2>>"$T/blkback.log" &
	BLKBACK_PID=$!
	PIDS+=($BLKBACK_PID)
	read -r _ <"$T/bready" || fail "pvio-blkback did not start: $(cat "$T/blkback.log")"
}

# start_pviod_opts ARGS...: pviod with extra options, synchronised on --ready-fd
start_pviod_opts() {
	mkfifo "$T/ready"
	"$PVIOD" --socket "$PVIO_SOCKET" --xs-socket "$XENSTORED_PATH" --ready-fd 3 "$@" \
		3>"$T/ready" 2>>"$T/pviod.log" &
	PIDS+=($!)
	read -r _ <"$T/ready" || fail "pviod did not start: $(cat "$T/pviod.log")"
}

fds() { ls /proc/$1/fd 2>/dev/null | wc -l; }
# mappings of guest memory (memfds pviod hands out) in process $1
gmaps() { grep -c 'memfd:pvio-' /proc/$1/maps 2>/dev/null; }
alive() { kill -0 "$1" 2>/dev/null; }

# wait_for SECONDS CMD...: until CMD succeeds (a bounded wait on a condition)
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.1
	done
}

# guest_bg NAME -- COMMAND...: run a command as the guest in the background;
# $! is the guest program itself (pvio run execs it), so killing $! stops
# it (a shell function put in the background would be a subshell).
guest_bg() {
	local name=$1
	shift
	"$PVIO" run --domain "$name" -- "$@" &
}

# add_guest NAME: a 32 MiB domain with one 64 MiB disk as xvda (io_uring
# registers a guest's whole memory as fixed buffers: 256 guests of 32 MiB
# pin 8 GiB)
add_guest() {
	"$PVIO" create "$1" memory=32M >/dev/null || fail "create $1"
	make_image "$T/$1.img" 64
	"$PVIO" block-attach "$1" "format=raw, vdev=xvda, access=rw, target=$T/$1.img" ||
		fail "attach $1"
}

# Replaces tests/blk/lib.sh's cleanup: also runs CLEANUP_HOOKS after the
# processes are gone, and KEEP_T=1 keeps the test's directory (logs).
CLEANUP_HOOKS=()
cleanup() {
	local p h i
	# Last started first: guests, then the backends, pviod last.
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill "${PIDS[i]}" 2>/dev/null
		wait "${PIDS[i]}" 2>/dev/null
	done
	for h in "${CLEANUP_HOOKS[@]}"; do $h; done
	if [ -n "${KEEP_T:-}" ]; then
		echo "kept $T"
	else
		rm -rf "$T"
	fi
}
