#!/bin/bash
# Xen's own xenstore tools (Debian xenstore-utils) against pvio-xenstored:
# exact output and exit codes, errors included. The tools connect as dom0
# through the main socket; a second socket (--guest-socket 5:PATH) makes
# them domain 5, for permission-denied cases and relative paths.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-build}
[[ $build = /* ]] || build=$root/$build
xsd=$build/xenstore/pvio-xenstored

for t in xenstore-read xenstore-write xenstore-ls xenstore-list xenstore-exists \
	 xenstore-rm xenstore-chmod xenstore-watch; do
	command -v "$t" >/dev/null || { echo "$t not installed (apt install xenstore-utils)"; exit 77; }
done
[ -x "$xsd" ] || { echo "$xsd not built"; exit 77; }

tmp=$(mktemp -d /tmp/pvio-xs-tools.XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

mkfifo "$tmp/ready"
"$xsd" --socket "$tmp/sock" --guest-socket "5:$tmp/guest5" --ready-fd 3 \
	3>"$tmp/ready" 2>"$tmp/xsd.log" &
pid=$!
read -r -t 10 line <"$tmp/ready"
[ "${line:-}" = ready ] || { echo "pvio-xenstored did not start"; cat "$tmp/xsd.log"; exit 1; }
export XENSTORED_PATH=$tmp/sock

fails=0
# expect DESCRIPTION WANT_RC WANT_OUTPUT -- COMMAND...  (stdout+stderr compared)
expect() {
	local what=$1 want_rc=$2 want_out=$3 out rc
	shift 4
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" != "$want_rc" ] || [ "$out" != "$want_out" ]; then
		echo "FAIL: $what: $*"
		echo "  rc=$rc (want $want_rc)"
		echo "  got:  $(printf '%q' "$out")"
		echo "  want: $(printf '%q' "$want_out")"
		fails=$((fails + 1))
	fi
}
guest() { XENSTORED_PATH=$tmp/guest5 "$@"; }

expect "socket mode" 0 "600" -- stat -c %a "$tmp/sock"

# write / read / ls / list / exists
expect "write" 0 "" -- xenstore-write /a/b hello /a/c "with space"
expect "read" 0 "hello" -- xenstore-read /a/b
expect "read two" 0 $'hello\nwith space' -- xenstore-read /a/b /a/c
expect "read -p" 0 "/a/b: hello" -- xenstore-read -p /a/b
expect "read missing" 1 "xenstore-read: couldn't read path /nope" -- xenstore-read /nope
expect "parent made" 0 "" -- xenstore-read /a
expect "ls -f" 0 $'/a/b = "hello"\n/a/c = "with space"' -- xenstore-ls -f /a
expect "ls" 0 $'tool = ""\n xenstored = ""\na = ""\n b = "hello"\n c = "with space"' \
	-- xenstore-ls /
expect "ls -p" 0 "$(printf '%s\n%s' \
	'b = "hello"  . . . . . . . . . . . . . . . . . . . . . . . .  (n0)' \
	'c = "with space" . . . . . . . . . . . . . . . . . . . . . .  (n0)')" -- xenstore-ls -p /a
expect "ls missing" 1 "xenstore-ls: xs_directory (/nope): No such file or directory" \
	-- xenstore-ls /nope
expect "list" 0 $'b\nc' -- xenstore-list /a
expect "list -p" 0 $'/a/b\n/a/c' -- xenstore-list -p /a
expect "exists" 0 "" -- xenstore-exists /a/b
expect "exists missing" 1 "" -- xenstore-exists /a/x

# rm
expect "rm" 0 "" -- xenstore-rm /a/c
expect "after rm" 0 "b" -- xenstore-list /a
expect "rm gone" 0 "" -- xenstore-rm /a/c
expect "rm no parent" 1 "xenstore-rm: could not remove path /nope/deeper" \
	-- xenstore-rm /nope/deeper
expect "rm -t" 0 "" -- xenstore-write /t/x/y/z 1
expect "rm -t" 0 "" -- xenstore-rm -t /t/x/y/z
expect "rm -t left" 1 "" -- xenstore-exists /t

# values: binary (escaped), near the payload limit, over it
expect "binary" 0 "" -- xenstore-write /a/bin 'a\x01b'
expect "binary read" 0 'a\001b' -- xenstore-read /a/bin
big=$(printf 'v%.0s' {1..4000})
expect "big write" 0 "" -- xenstore-write /a/big "$big"
expect "big read" 0 "$big" -- xenstore-read /a/big
expect "too big" 1 "xenstore-write: could not write path /a/huge" \
	-- xenstore-write /a/huge "$big$big"

# chmod
expect "chmod" 0 "" -- xenstore-chmod /a/b n0 r5
expect "chmod shown" 0 '/a/b = "hello"   (n0,r5)' \
	-- bash -c 'xenstore-ls -f -p /a | grep "^/a/b "'
expect "mk t2" 0 "" -- xenstore-write /t2/u/v 1
expect "chmod -r" 0 "" -- xenstore-chmod -r /t2 n0 w7
expect "chmod -r shown" 0 $'/t2/u = ""   (n0,w7)\n/t2/u/v = "1"   (n0,w7)' \
	-- xenstore-ls -f -p /t2

# watch: the initial event, then one for the change (-n 2: exit after two)
mkfifo "$tmp/watch"
timeout 10 xenstore-watch -n 2 /a >"$tmp/watch" &
wpid=$!
exec 7<"$tmp/watch"
read -r -t 10 -u 7 ev1
expect "write watched" 0 "" -- xenstore-write /a/w 1
read -r -t 10 -u 7 ev2
wait "$wpid"
wrc=$?
exec 7<&-
expect "watch events" 0 $'/a\n/a/w' -- printf '%s\n%s' "${ev1:-}" "${ev2:-}"
expect "watch exit" 0 "" -- test "$wrc" = 0

# As domain 5: relative paths, permission denied. The home as libxl makes it.
expect "home" 0 "" -- xenstore-write /local/domain/5/data ""
expect "home perms" 0 "" -- xenstore-chmod /local/domain/5 n0 r5
expect "data perms" 0 "" -- xenstore-chmod /local/domain/5/data n5
expect "guest write rel" 0 "" -- guest xenstore-write data/x 1
expect "guest read rel" 0 "1" -- guest xenstore-read data/x
expect "dom0 sees" 0 'x = "1"  . . . . . . . . . . . . . . . . . . . . . . . . . .  (n5)' \
	-- xenstore-ls -p /local/domain/5/data
expect "guest read r5" 0 "hello" -- guest xenstore-read /a/b
expect "guest write r5" 1 "xenstore-write: could not write path /a/b" \
	-- guest xenstore-write /a/b x
expect "guest read n0" 1 "xenstore-read: couldn't read path /a/c" -- guest xenstore-read /a/c
expect "guest ls denied" 1 "xenstore-ls: xs_directory (/tool): Permission denied" \
	-- guest xenstore-ls /tool
expect "guest ls hidden" 1 "xenstore-ls: xs_directory (/nope): Permission denied" \
	-- guest xenstore-ls /nope
expect "guest ls own missing" 1 \
	"xenstore-ls: xs_directory (/local/domain/5/data/nope): No such file or directory" \
	-- guest xenstore-ls /local/domain/5/data/nope
expect "guest chmod" 1 "xenstore-chmod: Error occurred setting permissions on '/a/b': Permission denied" \
	-- guest xenstore-chmod /a/b b5
expect "guest chmod own" 0 "" -- guest xenstore-chmod data/x n5 r0
expect "guest give away" 1 "xenstore-chmod: Error occurred setting permissions on 'data/x': Operation not permitted" \
	-- guest xenstore-chmod data/x n0
expect "guest top" 1 "xenstore-write: could not write path /top" -- guest xenstore-write /top 1
expect "guest rm" 1 "xenstore-rm: could not remove path /a/b" -- guest xenstore-rm /a/b

# Still alive and serving; SIGTERM removes the sockets.
expect "alive" 0 "hello" -- xenstore-read /a/b
kill "$pid"
wait "$pid"
rc=$?
pid=
expect "exit status" 0 "" -- test "$rc" = 0
expect "socket removed" 1 "" -- test -e "$tmp/sock"
expect "guest socket removed" 1 "" -- test -e "$tmp/guest5"

# Quota flags: a second store with tiny quotas; guests are held to them,
# dom0 only with --quota-dom0.
start_quota_store() {
	rm -f "$tmp/ready"
	mkfifo "$tmp/ready"
	"$xsd" --socket "$tmp/qsock" --guest-socket "5:$tmp/qguest5" --quota-node-size 8 \
		--quota-nodes 4 "$@" --ready-fd 3 3>"$tmp/ready" 2>>"$tmp/xsd.log" &
	pid=$!
	read -r -t 10 line <"$tmp/ready"
	[ "${line:-}" = ready ] || { echo "quota store did not start"; exit 1; }
}
qguest() { XENSTORED_PATH=$tmp/qguest5 "$@"; }
start_quota_store
export XENSTORED_PATH=$tmp/qsock
expect "q home" 0 "" -- xenstore-write /local/domain/5/data ""
expect "q perms" 0 "" -- xenstore-chmod /local/domain/5/data n5
expect "q size ok" 0 "" -- qguest xenstore-write data/a 12345678
expect "q size over" 1 "xenstore-write: could not write path data/a" \
	-- qguest xenstore-write data/a 123456789
expect "q nodes" 0 "" -- qguest xenstore-write data/b 1 data/c 1
expect "q nodes over" 1 "xenstore-write: could not write path data/d" \
	-- qguest xenstore-write data/d 1
expect "q dom0 exempt" 0 "" -- xenstore-write /d0/x 123456789
kill "$pid"; wait "$pid"; pid=
start_quota_store --quota-dom0
expect "q dom0 held" 1 "xenstore-write: could not write path /d0/x" \
	-- xenstore-write /d0/x 123456789
kill "$pid"; wait "$pid"; pid=

if [ "$fails" != 0 ]; then
	echo "--- pvio-xenstored log"
	cat "$tmp/xsd.log"
	echo "$fails checks failed"
	exit 1
fi
echo "test_xs_tools: ok"
exit 0
