#!/bin/bash
# pvio network-attach / network-list / network-detach against a pviod: xl
# VIFSPECs (one word or several, defaults, random Xen-OUI macs), the nodes
# and permissions as libxl writes them (checked with Xen's own xenstore
# tools when installed), errors for bad specs and clashes, detach by devid
# and by mac, lowest free devid, removal with the domain.
. "$(dirname "$0")/lib.sh"
start_pviod
g=$("$PVIO" create g1 memory=16M) || fail "create"
"$PVIO" network-attach g1 'mac=00:16:3e:01:02:03,bridge=br0' || fail "attach 0"
"$PVIO" network-attach g1 bridge=br1 ip=10.0.0.2 || fail "attach 1 (spec in two words)"
"$PVIO" network-attach g1 || fail "attach 2 (all defaults)"
out=$("$PVIO" network-list g1) || fail "list"
echo "$out"
[ "$(grep -c '^[0-9]' <<<"$out")" = 3 ] || fail "want 3 vifs"
grep -Eq '^0 +00:16:3e:01:02:03 +br0 +Initialising +Initialising +-$' <<<"$out" || fail "vif 0"
grep -Eq '^1 +00:16:3e:[0-7][0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2} +br1 +Initialising +Initialising +10\.0\.0\.2$' \
	<<<"$out" || fail "vif 1"
grep -Eq '^2 +00:16:3e:[0-9a-f:]{8} +xenbr0 ' <<<"$out" || fail "vif 2"
mac1=$(awk '$1 == 1 { print $2 }' <<<"$out")

expect_fail 2 "bad VIFSPEC: mac: 'zz'" "$PVIO" network-attach g1 mac=zz
expect_fail 2 "bad VIFSPEC: unknown key 'colour'" "$PVIO" network-attach g1 colour=red
expect_fail 2 "bad VIFSPEC: type: 'ioemu'" "$PVIO" network-attach g1 type=ioemu
expect_fail 2 "multicast" "$PVIO" network-attach g1 mac=01:00:5e:00:00:01
expect_fail 1 "already used by another vif" "$PVIO" network-attach g1 mac=00:16:3e:01:02:03
expect_fail 1 "devid 1: already attached" "$PVIO" network-attach g1 devid=1
expect_fail 1 "no domain named 'nope'" "$PVIO" network-attach nope bridge=br0
expect_fail 2 "missing NAME" "$PVIO" network-list
expect_fail 2 "expected NAME DEVID|MAC" "$PVIO" network-detach g1

if command -v xenstore-read >/dev/null && command -v xenstore-ls >/dev/null; then
	be=/local/domain/0/backend/vif/$g/0
	fe=/local/domain/$g/device/vif/0
	[ "$(xenstore-read $be/mac)" = 00:16:3e:01:02:03 ] || fail "be mac"
	[ "$(xenstore-read $be/bridge)" = br0 ] || fail "be bridge"
	[ "$(xenstore-read $be/online)" = 1 ] || fail "be online"
	[ "$(xenstore-read $be/state)" = 1 ] || fail "be state"
	[ "$(xenstore-read $be/handle)" = 0 ] || fail "be handle"
	[ "$(xenstore-read $be/frontend)" = "$fe" ] || fail "be frontend"
	[ "$(xenstore-read $be/frontend-id)" = "$g" ] || fail "be frontend-id"
	[ "$(xenstore-read $fe/backend)" = "$be" ] || fail "fe backend"
	[ "$(xenstore-read $fe/backend-id)" = 0 ] || fail "fe backend-id"
	[ "$(xenstore-read $fe/state)" = 1 ] || fail "fe state"
	[ "$(xenstore-read $fe/handle)" = 0 ] || fail "fe handle"
	[ "$(xenstore-read $fe/mac)" = 00:16:3e:01:02:03 ] || fail "fe mac"
	[ "$(xenstore-read /local/domain/0/backend/vif/$g/1/ip)" = 10.0.0.2 ] || fail "be ip"
	# permissions as libxl sets them: backend dom0's, readable by the guest;
	# frontend the guest's, readable by dom0
	perms=$(xenstore-ls -p /local/domain/0/backend/vif/$g | grep -E '^ *0 = ')
	grep -q "(n0,r$g)" <<<"$perms" || fail "backend perms: $perms"
	perms=$(xenstore-ls -p /local/domain/$g/device/vif | grep -E '^ *0 = ')
	grep -q "(n$g,r0)" <<<"$perms" || fail "frontend perms: $perms"
	echo "nodes and permissions ok"
else
	echo "xenstore-utils not installed: node checks skipped"
fi

# xl's rate=: the backend key libxl writes for netback, "<bytes>,<usec>";
# changed live with network-set-rate (by devid or mac), lifted with none;
# bad rates refused with a message naming the fault, the key unchanged.
"$PVIO" network-attach g1 mac=00:16:3e:01:02:05 devid=5 rate=10Mb/s@20ms || fail "attach rate"
expect_fail 2 "bad VIFSPEC: rate: '10Tb/s': unknown unit" "$PVIO" network-attach g1 rate=10Tb/s
expect_fail 2 "rate: '-5Mb/s' is not RATE" "$PVIO" network-set-rate g1 5 -5Mb/s
expect_fail 2 "rate: '99999999999Mb/s': rate overflow (at most 4294967295 before the unit) (the vif keeps its rate)" \
	"$PVIO" network-set-rate g1 5 99999999999Mb/s
expect_fail 2 "unknown interval unit 'h'" "$PVIO" network-set-rate g1 5 10Mb/s@1h
expect_fail 2 "expected NAME DEVID|MAC RATE|none" "$PVIO" network-set-rate g1 5
expect_fail 1 "no such vif" "$PVIO" network-set-rate g1 9 10Mb/s
expect_fail 1 "no vif with that mac" "$PVIO" network-set-rate g1 00:16:3e:99:99:99 10Mb/s
if command -v xenstore-read >/dev/null; then
	rk=/local/domain/0/backend/vif/$g/5/rate
	[ "$(xenstore-read $rk)" = 25000,20000 ] || fail "rate key at attach"
	out=$("$PVIO" network-set-rate g1 5 50Mb/s) || fail "set-rate"
	[ "$out" = "vif 5: tx rate 50 Mbit/s (312500 bytes every 50000 us)" ] || fail "said: $out"
	[ "$(xenstore-read $rk)" = 312500,50000 ] || fail "rate key after set-rate"
	"$PVIO" network-set-rate g1 00:16:3e:01:02:05 1GB/s@1ms >/dev/null || fail "set-rate by mac"
	[ "$(xenstore-read $rk)" = 1000000,1000 ] || fail "rate key after set-rate by mac"
	"$PVIO" network-set-rate g1 5 none >/dev/null || fail "set-rate none"
	xenstore-read $rk 2>/dev/null && fail "rate key left after none"
	echo "rate keys ok"
fi
"$PVIO" network-detach g1 5 || fail "detach 5"

"$PVIO" network-detach g1 00:16:3e:01:02:03 || fail "detach by mac"
"$PVIO" network-detach g1 "$mac1" || fail "detach by random mac"
expect_fail 1 "no such vif" "$PVIO" network-detach g1 7
expect_fail 1 "no vif with that mac" "$PVIO" network-detach g1 00:16:3e:99:99:99
expect_fail 2 "neither a devid nor a mac" "$PVIO" network-detach g1 xyz
out=$("$PVIO" network-list g1) || fail "list 2"
[ "$(grep -c '^[0-9]' <<<"$out")" = 1 ] || fail "want 1 vif: $out"
grep -q '^2 ' <<<"$out" || fail "vif 2 stays: $out"
"$PVIO" network-attach g1 mac=00:16:3e:01:02:04 || fail "attach again"
"$PVIO" network-list g1 | grep -Eq '^0 +00:16:3e:01:02:04 ' || fail "lowest free devid"
"$PVIO" network-detach g1 2 || fail "detach by devid"
"$PVIO" destroy g1 || fail "destroy"
if command -v xenstore-read >/dev/null; then
	xenstore-read /local/domain/0/backend/vif/$g/0/mac 2>/dev/null && fail "nodes outlive the domain"
fi
expect_fail 1 "no domain named 'g1'" "$PVIO" network-list g1
echo "ok"
