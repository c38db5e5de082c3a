# Shared by the network path's process-level tests (sourced). Starts pviod
# (and whatever else a test asks for) as separate processes, and kills and
# reaps everything it started, by PID, when the test exits.
set -u
B=${BUILD:-build}
PVIOD=$B/hv/pviod
PVIO=$B/tools/pvio
T=$(mktemp -d /tmp/pvio-test-XXXXXX)
export PVIO_SOCKET=$T/pviod.sock
export XENSTORED_PATH=$T/xenstored.sock
PIDS=()
CLEANUP_HOOKS=()

cleanup() {
	local p h
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
		kill -CONT "$p" 2>/dev/null   # one a test stopped takes its TERM
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	# after the processes: namespaces, runtime directories
	for h in "${CLEANUP_HOOKS[@]}"; do
		$h
	done
	# KEEP_LOGS=DIR keeps the logs of a run
	[ -n "${KEEP_LOGS:-}" ] && cp -r "$T" "$KEEP_LOGS"
	rm -rf "$T"
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

# start_netback [ARGS...]: pvio-netback ($NB, default the build's) on this
# pviod, synchronised on its --ready-fd; NBPID its pid, its DPDK runtime
# folder removed at exit. Skips (77) when it was not built or cannot start
# here (DPDK unusable).
NBPID=
del_nb_rt() { [ -n "$NBPID" ] && rm -rf "/var/run/dpdk/pvio-netback-$NBPID"; }
start_netback() {
	NB=${NB:-${NETBACK:-$B/netback/pvio-netback}}
	[ -x "$NB" ] || skip "pvio-netback was not built (libdpdk missing)"
	CLEANUP_HOOKS+=(del_nb_rt)
	mkfifo "$T/nbready"
	"$NB" --socket "$PVIO_SOCKET" --ready-fd 3 "$@" 3>"$T/nbready" 2>>"$T/netback.log" &
	NBPID=$!
	PIDS+=($NBPID)
	read -r _ <"$T/nbready" ||
		skip "pvio-netback did not start (DPDK unusable here?): $(tail -3 "$T/netback.log")"
}

# expect_fail RC PATTERN CMD...: CMD exits with RC and prints PATTERN
expect_fail() {
	local want=$1 pat=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, want $want: $out"
	grep -q -- "$pat" <<<"$out" || fail "'$*' said '$out', want '$pat'"
	echo "ok: $* -> $out"
}
