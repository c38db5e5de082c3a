#!/bin/bash
# pvio create FILE: xl's domain config file through the real CLI into a
# pviod. The disks and vifs it makes are the nodes `pvio create NAME` plus
# block-attach/network-attach make (compared with Xen's xenstore-ls, domid
# masked); xl options pvio has no use for are warned about once; the guest
# then uses its disk through pvio-blkback. Bad files fail with file:line and
# leave no domain behind; a device that fails to attach takes the new domain
# down (all or nothing); KEY=VALUE arguments override the file.
. "$(dirname "$0")/../blk/lib.sh"

# expect_fail RC TEXT CMD...: CMD exits RC and says TEXT on stderr
expect_fail() {
	local want=$1 text=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, want $want: $out"
	grep -qF -- "$text" <<<"$out" || fail "'$*' said '$out', want '$text'"
	echo "ok ($rc): $(grep -F -- "$text" <<<"$out" | head -1)"
}
no_domain() {
	"$PVIO" list | awk 'NR > 1 { print $1 }' | grep -qx "$1" && fail "domain $1 was left behind"
	return 0
}

start_pviod
make_image "$T/a.img" 16
make_image "$T/b.img" 16

cat >"$T/guest.cfg" <<EOF
# An xl config as people write them.
name = "cfg1"
memory = 64          # MiB
vcpus = 2
kernel = "/boot/vmlinuz-6.1"; on_crash = 'destroy'
disk = [ 'format=raw, vdev=xvda, access=rw, target=$T/a.img',
         # the deprecated form, as old configs carry it
         'file:$T/b.img,xvdb,r',
       ]
vif = [ "mac=00:16:3e:00:00:01, bridge=br0",
        'mac=00:16:3e:00:00:02',
]
vcpus = 4
memroy = 12
EOF
out=$("$PVIO" create "$T/guest.cfg" 2>"$T/create.err") || fail "create: $(cat "$T/create.err")"
cat "$T/create.err"
id=$out
[[ "$id" =~ ^[0-9]+$ ]] || fail "create printed '$id', want a domid"
grep -qF "guest.cfg:4: warning: 'vcpus' (an xl option) is not used by pvio: ignored" "$T/create.err" ||
	fail "no vcpus warning"
[ "$(grep -c "'vcpus'" "$T/create.err")" = 1 ] || fail "vcpus warned more than once"
grep -qF "guest.cfg:5: warning: 'kernel' (an xl option)" "$T/create.err" || fail "no kernel warning"
grep -qF "guest.cfg:5: warning: 'on_crash' (an xl option)" "$T/create.err" || fail "no on_crash warning"
grep -qF "guest.cfg:14: warning: 'memroy' is not an xl.cfg option: ignored" "$T/create.err" ||
	fail "no warning for an unknown key"
"$PVIO" list | grep -Eq "^cfg1 +$id +64$" || fail "cfg1 with 64 MiB: $("$PVIO" list)"
"$PVIO" block-list cfg1
"$PVIO" network-list cfg1

# The same devices through the flags, as a user would attach them by hand.
ref=$("$PVIO" create ref memory=64M) || fail "create ref"
"$PVIO" block-attach ref "format=raw, vdev=xvda, access=rw, target=$T/a.img" || fail "ref xvda"
"$PVIO" block-attach ref "$T/b.img,raw,xvdb,r" || fail "ref xvdb"
"$PVIO" network-attach ref "mac=00:16:3e:00:00:01,bridge=br0" || fail "ref vif 0"
"$PVIO" network-attach ref "mac=00:16:3e:00:00:02" || fail "ref vif 1"
if command -v xenstore-ls >/dev/null; then
	# Every node, value and permission, with the domid masked.
	dump() {
		local d=$1
		{
			xenstore-ls -f -p /local/domain/0/backend/vbd/$d
			xenstore-ls -f -p /local/domain/0/backend/vif/$d
			xenstore-ls -f -p /local/domain/$d/device
		} | sed -e "s#/local/domain/$d/#/local/domain/D/#g" \
			-e "s#/backend/\(vbd\|vif\)/$d/#/backend/\1/D/#g" \
			-e "s#\([nr]\)$d\([,)]\)#\1D\2#g" \
			-e "s#^\(.*/frontend-id = \)\"$d\"#\1\"D\"#"
	}
	dump "$id" >"$T/cfg.nodes"
	dump "$ref" >"$T/ref.nodes"
	[ "$(grep -c . "$T/cfg.nodes")" -ge 40 ] || fail "too few nodes: $(cat "$T/cfg.nodes")"
	diff -u "$T/ref.nodes" "$T/cfg.nodes" || fail "the config's devices differ from the flags'"
	echo "nodes as the flags make them: $(wc -l <"$T/cfg.nodes") lines"
else
	echo "xenstore-utils not installed: node comparison skipped"
fi
"$PVIO" destroy ref || fail "destroy ref"

# The guest uses its disks.
start_blkback
printf 'from an xl config' | guest cfg1 "$BLKIO" write xvda 8388608 || fail "write xvda: $(tail -5 "$T/blkback.log")"
got=$(guest cfg1 "$BLKIO" read xvda 8388608 512 | head -c 17)
[ "$got" = "from an xl config" ] || fail "read back '$got'"
[ "$(dd if="$T/a.img" bs=1 skip=8388608 count=17 status=none)" = "from an xl config" ] ||
	fail "not in the image"
guest cfg1 "$BLKIO" info xvdb | grep -qx "readonly 1" || fail "xvdb is not read-only"
printf 'x' | guest cfg1 "$BLKIO" write xvdb 0 2>/dev/null && fail "wrote to a read-only disk"
guest cfg1 "$BLKIO" verify xvda --ops 500 --qd 8 --region-mb 4 || fail "verify"

# Overrides on the command line (xl create FILE KEY=VALUE...).
id2=$("$PVIO" create "$T/guest.cfg" 'name="cfg2"' 'memory=32' 2>/dev/null) || fail "create with overrides"
"$PVIO" list | grep -Eq "^cfg2 +$id2 +32$" || fail "cfg2 with 32 MiB: $("$PVIO" list)"
"$PVIO" destroy cfg2 || fail "destroy cfg2"

# Bad files: file:line, exit 2, nothing created.
printf 'name = "bad1"\nmemory = 64\ndisk [ "x" ]\n' >"$T/bad1.cfg"
expect_fail 2 "bad1.cfg:3: expected '=' after 'disk'" "$PVIO" create "$T/bad1.cfg"
printf 'name = "bad2"\ndisk = [\n  "%s,raw,xvda,w",\n  "%s,qcow2,xvdb,w",\n]\n' "$T/a.img" "$T/b.img" >"$T/bad2.cfg"
expect_fail 2 "bad2.cfg:4: disk[1]: bad DISKSPEC" "$PVIO" create "$T/bad2.cfg"
expect_fail 2 "format: 'qcow2' is not supported" "$PVIO" create "$T/bad2.cfg"
printf 'memory = 64\n' >"$T/noname.cfg"
expect_fail 2 "noname.cfg: no name" "$PVIO" create "$T/noname.cfg"
printf 'name = "bad3"\nmemory = "lots"\n' >"$T/bad3.cfg"
expect_fail 2 "bad3.cfg:2: memory: 'lots' is not a number of MiB" "$PVIO" create "$T/bad3.cfg"
printf 'name = "bad4"\ndisk = "%s,raw,xvda,w"\n' "$T/a.img" >"$T/bad4.cfg"
expect_fail 2 "bad4.cfg:2: disk must be a list" "$PVIO" create "$T/bad4.cfg"
printf 'name = "bad5"\nvif = [ "mac=zz" ]\n' >"$T/bad5.cfg"
expect_fail 2 "bad5.cfg:2: vif[0]: bad VIFSPEC 'mac=zz': mac: 'zz'" "$PVIO" create "$T/bad5.cfg"
printf 'name = "bad6"\ndisk = [ "%s/missing.img,raw,xvda,w" ]\n' "$T" >"$T/bad6.cfg"
expect_fail 1 "missing.img: No such file or directory" "$PVIO" create "$T/bad6.cfg"
printf 'name = "cfg1"\n' >"$T/dup.cfg"
expect_fail 1 "a domain of that name exists" "$PVIO" create "$T/dup.cfg"
expect_fail 2 "$T/none.cfg: No such file or directory" "$PVIO" create "$T/none.cfg"
expect_fail 2 "command line:1: expected '='" "$PVIO" create "$T/guest.cfg" 'name'
# Found only by the store: the second vif asks for the first one's devid.
# The domain made for it goes away again.
printf 'name = "bad7"\nvif = [ "devid=3", "devid=3" ]\n' >"$T/bad7.cfg"
expect_fail 1 "bad7.cfg:2: vif[1]: that devid is taken" "$PVIO" create "$T/bad7.cfg"
for d in bad1 bad2 bad3 bad4 bad5 bad6 bad7 noname; do
	no_domain $d
done
# ...and its nodes with it: every vif directory belongs to a live domain.
if command -v xenstore-list >/dev/null; then
	live=$("$PVIO" list | awk 'NR > 1 { print $2 }')
	for d in $(xenstore-list /local/domain/0/backend/vif 2>/dev/null); do
		grep -qx "$d" <<<"$live" || fail "vif nodes of gone domain $d left"
	done
fi
"$PVIO" destroy cfg1 || fail "destroy cfg1"
echo "ok"
