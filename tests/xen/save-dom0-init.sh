#!/bin/busybox sh
# /init of the dom0 of tests/xen/test_xen_save.sh: `xl save` and `xl
# restore` of a PV domU, then of a PVH one, each while it runs a verified
# write workload (save-domU-init.sh) on a disk served by pvio-blkback --hv
# xen, answers pings every 20 ms and receives a TCP transfer across the
# step on a vif served by pvio-netback --hv xen (pviomode=pvio), or by Linux
# xen-blkback and xen-netback (pviomode=kernel, the referee).
# RESULT names end in _pv / _pvh; one SAVE-FIGURES line per type.
. /etc/dom0-common.sh
mkdir -p /data /var/lock; mount -t tmpfs -o size=400m tmpfs /data
mode=pvio; grep -q pviomode=kernel /proc/cmdline && mode=kernel
secs=$(sed -n 's/.*savetest_secs=\([0-9]*\).*/\1/p' /proc/cmdline)
types=$(sed -n 's/.*savetest_types=\([a-z:]*\).*/\1/p' /proc/cmdline | tr : ' ')
up "INIT mode=$mode types=${types:=pv pvh}"
if [ $mode = kernel ]; then dom0_start loop xen-blkback llc stp bridge xen-netback; else dom0_start loop tun; fi
ms(){ read u _ < /proc/uptime; echo $(( (${u%.*} * 100 + 1${u#*.} - 100) * 10 )); }
dd if=/dev/zero of=/data/disk.img bs=1M count=16 2>/dev/null
if [ $mode = kernel ]; then losetup /dev/loop0 /data/disk.img; t0=/dev/loop0; else t0=/data/disk.img; fi
# Each backend's pid, fds and grant mappings at the start: sel NAME makes
# them the ones dom0-common.sh's backend_* helpers look at.
sel() { eval "BPID=\$${1}_PID FD0=\$${1}_FD0 MAP0=\$${1}_MAP0"; }
if [ $mode = pvio ]; then
	backend_start blkback /var/log/pvio-blkback.log pvio-blkback --hv xen --verbose
	blk_PID=$BPID blk_FD0=$FD0 blk_MAP0=$MAP0
	backend_start netback /var/log/pvio-netback.log pvio-netback --hv xen --verbose \
		--max-queues 1 --mbufs 2047 --default-bridge xenbr0 \
		--uplink xenbr0=net_tap0,iface=pvtap0 \
		-- --no-huge -m 64 --no-pci --no-telemetry --file-prefix=nb -d /usr/lib/dpdk
	net_PID=$BPID net_FD0=$FD0 net_MAP0=$MAP0
	dif=pvtap0
else
	brctl addbr xenbr0; dif=xenbr0
fi
if ip addr add 10.0.0.254/24 dev $dif && ip link set $dif up; then
	res dom0_if_up PASS "$dif 10.0.0.254"
else
	res dom0_if_up FAIL; ip link
fi
# backends_connected / backends_idle SUFFIX: backend_note_connected and
# backend_check_idle for each pvio backend.
backends_connected() { [ $mode = pvio ] || return 0; sel blk; backend_note_connected; sel net; backend_note_connected; }
backends_idle() {
	[ $mode = pvio ] || return 0
	sel blk; backend_check_idle blkback $1
	sel net; backend_check_idle netback $1
}
# 2.5 MiB that dom0 sends to the domU across each step.
dd if=/dev/urandom of=/tmp/blob bs=64k count=40 2>/dev/null
BLOB=$(md5sum < /tmp/blob | cut -d' ' -f1)

# net_start PORT: ping the domU every 20 ms (each line of ping's, stamped
# with dom0's uptime, into /tmp/ping.PORT: a busy dom0 sends late, so the
# sequence numbers alone would understate a gap) and send it the blob over
# TCP to PORT, 64 KiB every 200 ms (about 8 s), so that both go on across
# the step that follows.
net_start() {
	rm -f /run/ping.$1; mkfifo /run/ping.$1
	while read -r l; do read u _ < /proc/uptime; echo "$u $l"; done < /run/ping.$1 > /tmp/ping.$1 &
	STAMPPID=$!
	ping -i 0.02 10.0.0.1 > /run/ping.$1 2>&1 &
	PINGPID=$!
	( i=0; while [ $i -lt 40 ]; do
		dd if=/tmp/blob bs=65536 skip=$i count=1 2>/dev/null; usleep 200000; i=$((i+1))
	  done ) | nc 10.0.0.1 $1 > /dev/null 2>&1 &
	NCPID=$!
	sleep 1   # a moment of both before the step (not synchronisation)
}
# net_check NAME PORT CONSOLE...: the domU's md5 of what arrived on PORT
# (waits up to 120 s) equals the blob's: RESULT save_tcp_across_NAME; then
# the pings stop: RESULT save_pings_NAME, pgap = the longest time between
# two replies (ms, by dom0's uptime: 10 ms steps).
net_check() {
	local nm=$1 port=$2 i=0 got; shift 2
	while [ $i -lt 480 ] && ! cat "$@" 2>/dev/null | grep -q "^RECV-MD5 port=$port "; do
		usleep 250000; i=$((i+1))
	done
	got=$(cat "$@" 2>/dev/null | sed -n "s/^RECV-MD5 port=$port \([0-9a-f]*\) .*/\1/p" | head -1)
	[ "$got" = "$BLOB" ] && res save_tcp_across_$nm PASS "2.5 MiB md5 $got" \
		|| res save_tcp_across_$nm FAIL "sent $BLOB, the domU got '${got:-nothing}' $(cat "$@" | grep "^RECV-MD5 port=$port ")"
	kill $NCPID 2>/dev/null
	kill $PINGPID; wait $PINGPID 2>/dev/null; wait $STAMPPID 2>/dev/null
	set -- $(awk '/ seq=[0-9]/ { t = $1 * 1000; if (n++ && t - p > g) g = t - p; p = t }
		END { printf "%d %d\n", g, n }' /tmp/ping.$port)
	pgap=$1
	[ "${2:-0}" -gt 0 ] && res save_pings_$nm PASS "$2 replies, longest gap $1 ms" \
		|| res save_pings_$nm FAIL "no reply: $(tail -3 /tmp/ping.$port)"
}

# domu_checks SUFFIX CONSOLE: once the domU finished (DOMU-CHECKS-DONE in
# CONSOLE), its own RESULTs with SUFFIX, and dom0's view of the image: every
# slot holds the last acknowledged write. Sets n (writes) and gap (ms).
domu_checks() {
	local sfx=$1 C=$2 r want got
	console_wait $C DOMU-CHECKS-DONE
	for r in save_writes_ok save_domu_readback; do
		grep -a "^RESULT $r " $C | tail -1 | sed "s/^RESULT $r /RESULT ${r}_$sfx /"
	done
	n=$(sed -n 's/.*DOMU-CHECKS-DONE writes=\([0-9]*\).*/\1/p' $C | tail -1)
	gap=$(sed -n 's/.*longest_gap_ms=\([0-9]*\).*/\1/p' $C | tail -1)
	if [ -n "$n" ]; then
		want=$(awk -v n=$n -v k=1024 'BEGIN { for (s = 0; s < k && s < n; s++) printf "W%08d", (n - 1) - ((n - 1 - s) % k) }')
		got=$(dd if=/data/disk.img bs=512 skip=8192 count=1024 2>/dev/null | tr -d '\000')
		[ "$got" = "$want" ] && res save_image_has_every_write_$sfx PASS "$n writes, 1024 slots" \
			|| res save_image_has_every_write_$sfx FAIL "the image's region differs"
	else
		res save_image_has_every_write_$sfx FAIL "the domU did not finish"
	fi
}

# destroy_checks NAME SUFFIX DOMID: the domU's end: xl destroy, both of its
# backend directories go, the pvio backends are back to their start.
destroy_checks() {
	backends_connected
	xl destroy $1; echo "xl destroy $1 rc=$?"
	backend_dir_gone save_new_backend_dir_removed_$2 /local/domain/0/backend/vbd/$3/51712
	backend_dir_gone save_new_vif_dir_removed_$2 /local/domain/0/backend/vif/$3/0
	backends_idle _save_$2
}

# mkcfg TYPE NAME SECS: /etc/xen/NAME.cfg, a domU of TYPE (pv, pvh, hvm)
# whose workload runs SECS seconds. An HVM domU boots the bzImage straight
# from its device model (QEMU's -kernel, under hvmloader and SeaBIOS), with
# no display and no emulated NIC (type=vif: the vif only), and its Linux
# unplugs the emulated IDE disk for xen-blkfront (xen_emul_unplug=all): the
# "PV drivers in an HVM guest" case.
mkcfg() {
	local f=/etc/xen/$2.cfg
	sed -e "s|@T0@|$t0|" -e "s|@SECS@|$3|" -e "s|@TYPE@|$1|" -e "s|@NAME@|$2|" \
		/etc/xen/save.cfg.in > $f
	[ $1 = hvm ] || return 0
	sed -i -e 's|^kernel = .*|kernel = "/boot/vmlinuz"|' \
		-e 's|^extra = "|extra = "xen_emul_unplug=all |' \
		-e "s|\[ 'mac=|[ 'type=vif, mac=|" $f
	printf 'vga = "none"\nvnc = 0\nsdl = 0\nxen_platform_pci = 1\n' >> $f
}
# stamped FILE CMD...: run CMD, each line it prints stamped with dom0's
# uptime into FILE (where its time goes); CMD's exit status.
stamped() {
	local f=$1; shift
	{ "$@" 2>&1; echo "EXIT $?"; } | while read -r l; do
		read u _ < /proc/uptime; echo "$u $l"
		[ -n "${MIGLIVE:-}" ] && echo "MIG $u $l" > /dev/console
	done > $f
	return $(sed -n 's/^[0-9.]* EXIT \([0-9]*\)$/\1/p' $f | tail -1)
}
# dm_logs NAME: the end of an HVM domU's device model logs.
dm_logs() {
	local i
	for i in /var/log/xen/qemu-dm-$1*.log; do
		[ -f $i ] && { echo "----- $i (the device model) -----"; tail -30 $i; }
	done
}
# guest_type RESULT-NAME TYPE CONSOLE: the domU says it is a TYPE guest
# (its /sys/hypervisor/guest_type: an HVM one really is HVM, with its PV
# drivers in it).
guest_type() {
	local want got
	want=$(echo $2 | tr a-z A-Z)
	got=$(sed -n 's/^GUEST-TYPE \([A-Za-z]*\).*/\1/p' $3 | head -1)
	[ "$got" = "$want" ] && res $1 PASS "$got" || res $1 FAIL "the domU says '${got:-nothing}', not $want"
}
# How long a domU of TYPE may take from xl create to its workload: an HVM
# one runs its firmware and unpacks its kernel under TCG first.
boot_secs() { [ $1 = hvm ] && echo 600 || echo 150; }

# save_restore TYPE: one domU of TYPE (pv, pvh, hvm), named domu-TYPE.
save_restore() {
	local ty=$1 name=domu-$1 t rc save_ms rest_ms first_ms n n0 gap i D1 D2
	local C=/var/log/xen/console/guest-domu-$1.log
	# The workload's region starts empty (an earlier type wrote there).
	dd if=/dev/zero of=/data/disk.img bs=512 seek=8192 count=1024 conv=notrunc 2>/dev/null
	mkcfg $ty $name ${secs:-40}
	if ! xl create /etc/xen/$name.cfg > /tmp/create.log 2>&1; then
		res save_xl_create_$ty FAIL; tail -30 /tmp/create.log; dm_logs $name
		return
	fi
	res save_xl_create_$ty PASS
	D1=$(xl domid $name 2>/dev/null)
	console_wait $C WORKLOAD-RUNNING $(boot_secs $ty)
	guest_type save_guest_type_$ty $ty $C
	grep -q 'RESULT save_xvda_present PASS' $C && res save_xvda_present_$ty PASS \
		|| res save_xvda_present_$ty FAIL
	up "$name ($D1) writing (after ${WAITED}s); let it run 3 s"
	sleep 3
	backends_connected
	net_start 5001

	# Save: libxl suspends the domU, writes its memory, destroys it; the
	# backend must let go of the old domain's device.
	t=$(ms); stamped /tmp/save.log xl -vvv save $name /data/domu.save; rc=$?; save_ms=$(( $(ms) - t ))
	[ $rc = 0 ] && res save_xl_save_$ty PASS "${save_ms} ms, $(du -m /data/domu.save | cut -f1) MiB" \
		|| { res save_xl_save_$ty FAIL "rc=$rc"; tail -20 /tmp/save.log; }
	backend_dir_gone save_old_backend_dir_removed_$ty /local/domain/0/backend/vbd/$D1/51712
	backend_dir_gone save_old_vif_dir_removed_$ty /local/domain/0/backend/vif/$D1/0
	# Restore: a new domain (new domid) whose blkfront reconnects at once
	# and re-issues what had no response.
	n0=$(grep -c IO-BACK $C)
	t=$(ms); xl -v restore /data/domu.save > /tmp/restore.log 2>&1; rc=$?; rest_ms=$(( $(ms) - t ))
	[ $rc = 0 ] && res save_xl_restore_$ty PASS "${rest_ms} ms" \
		|| { res save_xl_restore_$ty FAIL "rc=$rc"; tail -20 /tmp/restore.log; }
	rm -f /data/domu.save
	D2=$(xl domid $name 2>/dev/null)
	# The first write the domU completes after the restore: its IO-BACK line.
	t=$(ms); i=0
	while [ $i -lt 1200 ] && [ "$(grep -c IO-BACK $C)" = "$n0" ]; do usleep 50000; i=$((i+1)); done
	first_ms=$(( $(ms) - t ))
	[ "$(grep -c IO-BACK $C)" != "$n0" ] && res save_io_after_restore_$ty PASS "${first_ms} ms after xl restore returned" \
		|| res save_io_after_restore_$ty FAIL "no write completed in 60 s"
	net_check $ty 5001 $C
	domu_checks $ty $C
	echo "SAVE-FIGURES type=$ty mode=$mode save_ms=$save_ms restore_ms=$rest_ms first_io_ms=$first_ms longest_write_gap_ms=${gap:-?} longest_ping_gap_ms=${pgap:-?} writes=${n:-?}"
	destroy_checks $name $ty $D2
	echo "----- xl save of $name (dom0 uptime) -----"
	awk '!/Frames: / || / 100%$/' /tmp/save.log   # (one progress line per 1024 pages)
	echo "----- xl restore of $name -----"; tail -12 /tmp/restore.log
	echo "----- $name console log -----"; cat $C
	echo "----- end $name console log -----"
	dm_logs $name
}

# save_before_migrate: migrate()'s domain saved and restored (its variables
# name, sfx, D, L; sets D and k0, the console lines before the migrations).
save_before_migrate() {
	n0=$(grep -c IO-BACK $L/guest-$name.log)
	t=$(ms); xl -v save $name /data/mig.save > /tmp/presave.log 2>&1 &&
		xl -v restore /data/mig.save >> /tmp/presave.log 2>&1; rc=$?
	rm -f /data/mig.save
	[ $rc = 0 ] && res save_restore_before_migrate_$sfx PASS "$(( $(ms) - t )) ms" \
		|| { res save_restore_before_migrate_$sfx FAIL "rc=$rc"; tail -20 /tmp/presave.log; }
	backend_dir_gone save_presave_backend_dir_removed_$sfx /local/domain/0/backend/vbd/$D/51712
	D=$(xl domid $name 2>/dev/null)
	i=0
	while [ $i -lt 1200 ] && [ "$(grep -c IO-BACK $L/guest-$name.log)" = "$n0" ]; do
		usleep 50000; i=$((i+1))
	done
	k0=$(wc -l < $L/guest-$name.log)
}

# migrate TYPE [sr]: one domU of TYPE (pvh; Debian's Xen cannot
# live-migrate a PV domU: no shadow paging, see
# shared/XEN-MIGRATION-NOTES.md), named domu-TYPE-mig (sr: saved and
# restored first, domu-TYPEsr-mig), migrated twice to this host (`xl
# migrate` through a stand-in for ssh) while it runs the verified write
# workload, then once more with its receiver killed half-way. RESULT names
# end in _TYPE[sr]-mig; one SAVE-FIGURES line (type=TYPE[sr]-mig).
migrate() {
	local ty=$1 sr=${2:-} sfx=$1${2:-}-mig name t rc figs= n n0 gap i D D3 k k0=0
	local L=/var/log/xen/console
	name=domu-$sfx
	dd if=/dev/zero of=/data/disk.img bs=512 seek=8192 count=1024 conv=notrunc 2>/dev/null
	# Three migrations (each about a minute of TCG, with the pings and the
	# transfer) take longer than one save and restore: 150 s more (and 40 s
	# for a save and restore first).
	k=150; [ -n "$sr" ] && k=190
	mkcfg $ty $name $((${secs:-40} + k))
	xl create /etc/xen/$name.cfg && res save_xl_create_$sfx PASS || res save_xl_create_$sfx FAIL
	D=$(xl domid $name 2>/dev/null)
	console_wait $L/guest-$name.log WORKLOAD-RUNNING $(boot_secs $ty)
	guest_type save_guest_type_$sfx $ty $L/guest-$name.log
	grep -q 'RESULT save_xvda_present PASS' $L/guest-$name.log && res save_xvda_present_$sfx PASS \
		|| res save_xvda_present_$sfx FAIL
	up "$name ($D) writing (after ${WAITED}s); let it run 3 s"
	sleep 3
	# sr: saved and restored first, so that the migrations move a restored
	# domain (a new domid, its devices made afresh). Its gap is not the
	# migrations': their longest is taken from the IO-BACK lines (gaps over
	# 1 s) that come after the restored domain's first write.
	[ -n "$sr" ] && save_before_migrate
	backends_connected
	for k in 1 2; do
		net_start 500$k
		# The incoming domain's console goes to guest-NAME--incoming.log
		# (appended to on the second migration): count over every log.
		n0=$(cat $L/guest-$name*.log | grep -c -e IO-BACK -e PROGRESS)
		# (a migration that hangs fails here, with xl's log, instead of
		# at QEMU's timeout with nothing)
		# (xl's lines go to the console as they come, stamped, up to a
		# hang of the nested system: where it stopped)
		t=$(ms); MIGLIVE=1 stamped /tmp/mig.log timeout 240 xl -vv migrate \
			-s /etc/xen/scripts/mig-ssh -e $name localhost
		rc=$?; i=$(( $(ms) - t )); figs="$figs migrate${k}_ms=$i"
		grep -q 'Migration successful' /tmp/mig.log || rc="$rc, no 'Migration successful'"
		[ "$rc" = 0 ] && res save_xl_migrate${k}_$sfx PASS "$i ms" \
			|| { res save_xl_migrate${k}_$sfx FAIL "rc=$rc"; tail -20 /tmp/mig.log; xl list
			     for i in $L/guest-$name*.log; do echo "--- $i"; tail -15 $i; done; }
		backend_dir_gone save_old_backend_dir_removed${k}_$sfx /local/domain/0/backend/vbd/$D/51712
		backend_dir_gone save_old_vif_dir_removed${k}_$sfx /local/domain/0/backend/vif/$D/0
		D=$(xl domid $name 2>/dev/null)
		# A write completed after xl migrate returned: an IO-BACK (after a
		# gap over 1 s) or PROGRESS (every 500 writes) line appears.
		t=$(ms); i=0
		while [ $i -lt 1200 ] && [ "$(cat $L/guest-$name*.log | grep -c -e IO-BACK -e PROGRESS)" = "$n0" ]; do
			usleep 50000; i=$((i+1))
		done
		i=$(( $(ms) - t )); figs="$figs first_io${k}_ms=$i"
		[ "$(cat $L/guest-$name*.log | grep -c -e IO-BACK -e PROGRESS)" != "$n0" ] \
			&& res save_io_after_migrate${k}_$sfx PASS "within ${i} ms after xl migrate returned" \
			|| res save_io_after_migrate${k}_$sfx FAIL "no write completed in 60 s"
		net_check migrate${k}_$sfx 500$k $L/guest-$name*.log
		figs="$figs ping_gap${k}_ms=$pgap"
	done
	# A third migration whose target dies half-way: once the domain being
	# received has its disk's backend directory (xl creates the target's
	# devices before the memory arrives), its xl migrate-receive is killed,
	# as a target host that fails, and the half-made domain destroyed (xl
	# destroy cannot do it earlier: the receiver holds xl's lock until it
	# is done). xl migrate fails, the sender keeps the domU running and
	# writing, and the backend lets go of a device whose frontend never ran.
	n0=$(cat $L/guest-$name*.log | grep -c -e IO-BACK -e PROGRESS)
	xl -v migrate -s /etc/xen/scripts/mig-ssh -e $name localhost > /tmp/mig3.log 2>&1 &
	k=$!; i=0
	while [ $i -lt 600 ] && ! xl domid $name--incoming >/dev/null 2>&1; do usleep 50000; i=$((i+1)); done
	D3=$(xl domid $name--incoming 2>/dev/null)
	i=0
	while [ -n "$D3" ] && [ $i -lt 600 ] &&
	      ! xenstore-read /local/domain/0/backend/vbd/$D3/51712/state >/dev/null 2>&1; do
		usleep 50000; i=$((i+1))
	done
	for i in $(ps | grep '[m]igrate-receive' | awk '{ print $1 }'); do kill -9 $i; done
	wait $k; rc=$?
	[ -n "$D3" ] && xl destroy $D3
	[ -n "$D3" ] && [ $rc != 0 ] && [ "$(xl domid $name 2>/dev/null)" = "$D" ] \
		&& res save_migrate_aborted_$sfx PASS "receiver killed, target domain $D3 destroyed: xl migrate rc=$rc, domain $D runs on" \
		|| { res save_migrate_aborted_$sfx FAIL "target=${D3:-none} rc=$rc now=$(xl domid $name 2>/dev/null)"; tail -20 /tmp/mig3.log; }
	[ -n "$D3" ] && backend_dir_gone save_aborted_backend_dir_removed_$sfx /local/domain/0/backend/vbd/$D3/51712
	[ -n "$D3" ] && backend_dir_gone save_aborted_vif_dir_removed_$sfx /local/domain/0/backend/vif/$D3/0
	i=0
	while [ $i -lt 1200 ] && [ "$(cat $L/guest-$name*.log | grep -c -e IO-BACK -e PROGRESS)" = "$n0" ]; do
		usleep 50000; i=$((i+1))
	done
	[ "$(cat $L/guest-$name*.log | grep -c -e IO-BACK -e PROGRESS)" != "$n0" ] \
		&& res save_io_after_aborted_migrate_$sfx PASS \
		|| res save_io_after_aborted_migrate_$sfx FAIL "no write completed in 60 s"

	domu_checks $sfx $L/guest-$name--incoming.log
	# sr: the migrations' longest gap, the save and restore before them left
	# out (1000 when none was over a second).
	[ -n "$sr" ] && gap=$( (tail -n +$((k0 + 1)) $L/guest-$name.log; cat $L/guest-$name--incoming.log) |
		sed -n 's/^IO-BACK .*after_gap_ms=\([0-9]*\).*/\1/p' | sort -n | tail -1) && gap=${gap:-1000}
	echo "SAVE-FIGURES type=$sfx mode=$mode$figs longest_write_gap_ms=${gap:-?} writes=${n:-?}"
	destroy_checks $name $sfx $D
	echo "----- xl migrate of $name -----"; tail -12 /tmp/mig.log
	echo "----- the aborted xl migrate -----"; tail -12 /tmp/mig3.log
	echo "----- $name console logs -----"; cat $L/guest-$name*.log
	echo "----- end $name console logs -----"
}

printf '#!/bin/sh\nshift\nexec sh -c "$*"\n' > /etc/xen/scripts/mig-ssh   # stands in for ssh
chmod +x /etc/xen/scripts/mig-ssh
for ty in $types; do
	case $ty in
	*srmig) migrate ${ty%srmig} sr ;;
	*mig) migrate ${ty%mig} ;;
	*) save_restore $ty ;;
	esac
done
if [ $mode = pvio ]; then
	sel blk; backend_stop blkback
	sel net; backend_stop netback
	echo "----- pvio-blkback log -----"; cat /var/log/pvio-blkback.log
	echo "----- end pvio-blkback log -----"
	echo "----- pvio-netback log -----"; cat /var/log/pvio-netback.log
	echo "----- end pvio-netback log -----"
fi
echo "----- hotplug log -----"; cat /var/log/xen/hotplug.log 2>/dev/null
up "DOM0-DONE"
poweroff -f
