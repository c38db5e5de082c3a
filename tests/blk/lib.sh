# Shared by the block path's end-to-end tests (sourced). Starts pviod and
# pvio-blkback as separate processes, and kills and reaps everything it
# started, by PID, when the test exits.
set -u
B=${BUILD:-build}
PVIOD=$B/hv/pviod
BLKBACK=$B/blkback/pvio-blkback
PVIO=$B/tools/pvio
BLKIO=$B/tools/pvio-blkio
T=$(mktemp -d /tmp/pvio-test-XXXXXX)
export PVIO_SOCKET=$T/pviod.sock
export XENSTORED_PATH=$T/xenstored.sock
PIDS=()
BLKBACK_PID=

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	[ -n "${KEEP_T:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "$*"; exit 77; }

# pviod, synchronised on its --ready-fd (no sleeps).
start_pviod() {
	mkfifo "$T/ready"
	"$PVIOD" --socket "$PVIO_SOCKET" --xs-socket "$XENSTORED_PATH" --ready-fd 3 \
		3>"$T/ready" 2>>"$T/pviod.log" &
	PIDS+=($!)
	read -r _ <"$T/ready" || fail "pviod did not start: $(cat "$T/pviod.log")"
}

start_blkback() {
	"$BLKBACK" --socket "$PVIO_SOCKET" "$@" 2>>"$T/blkback.log" &
	BLKBACK_PID=$!
	PIDS+=($BLKBACK_PID)
}

# kill -9 the backend (crash) and reap it
kill_blkback() {
	kill -9 "$BLKBACK_PID" 2>/dev/null
	wait "$BLKBACK_PID" 2>/dev/null
}

# make_image PATH SIZE_MB: a sparse image
make_image() {
	truncate -s "$2M" "$1" || fail "cannot create $1"
}

# g1_with_disk MEM_MB DISK_MB [OPTS]: guest g1 with MEM_MB of memory and a
# sparse DISK_MB image, $T/disk.img, attached read-write as xvda (OPTS: more
# of the disk's settings, "engine=io_uring, " say).
g1_with_disk() {
	"$PVIO" create g1 memory="$1M" >/dev/null || fail "create"
	make_image "$T/disk.img" "$2"
	"$PVIO" block-attach g1 "${3:-}vdev=xvda, access=rw, target=$T/disk.img" || fail "attach"
}

# guest NAME -- COMMAND...: run a command as the guest
guest() {
	local name=$1
	shift
	"$PVIO" run --domain "$name" -- "$@"
}
