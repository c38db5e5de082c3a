#!/bin/busybox sh
# /init of the dom0 of tests/xen/test_xen_save.sh: `xl save` and `xl
# restore` of a PV domU, then of a PVH one, each while it runs a verified
# write workload (save-domU-init.sh) on a disk served by pvio-blkback --hv
# xen (pviomode=pvio) or Linux xen-blkback (pviomode=kernel, the referee).
# RESULT names end in _pv / _pvh; one SAVE-FIGURES line per type.
. /etc/dom0-common.sh
mkdir -p /data /var/lock; mount -t tmpfs -o size=400m tmpfs /data
mode=pvio; grep -q pviomode=kernel /proc/cmdline && mode=kernel
secs=$(sed -n 's/.*savetest_secs=\([0-9]*\).*/\1/p' /proc/cmdline)
types=$(sed -n 's/.*savetest_types=\([a-z:]*\).*/\1/p' /proc/cmdline | tr : ' ')
up "INIT mode=$mode types=${types:=pv pvh}"
if [ $mode = kernel ]; then dom0_start loop xen-blkback; else dom0_start loop; fi
ms(){ read u _ < /proc/uptime; echo $(( (${u%.*} * 100 + 1${u#*.} - 100) * 10 )); }
dd if=/dev/zero of=/data/disk.img bs=1M count=16 2>/dev/null
if [ $mode = kernel ]; then losetup /dev/loop0 /data/disk.img; t0=/dev/loop0; else t0=/data/disk.img; fi
[ $mode = pvio ] && backend_start blkback /var/log/pvio-blkback.log \
	pvio-blkback --hv xen --verbose

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

# save_restore TYPE: one domU of TYPE (pv, pvh), named domu-TYPE.
save_restore() {
	local ty=$1 name=domu-$1 t rc save_ms rest_ms first_ms n n0 gap i D1 D2
	local C=/var/log/xen/console/guest-domu-$1.log
	# The workload's region starts empty (an earlier type wrote there).
	dd if=/dev/zero of=/data/disk.img bs=512 seek=8192 count=1024 conv=notrunc 2>/dev/null
	sed -e "s|@T0@|$t0|" -e "s|@SECS@|${secs:-40}|" -e "s|@TYPE@|$ty|" -e "s|@NAME@|$name|" \
		/etc/xen/save.cfg.in > /etc/xen/$name.cfg
	xl create /etc/xen/$name.cfg && res save_xl_create_$ty PASS || res save_xl_create_$ty FAIL
	D1=$(xl domid $name 2>/dev/null)
	console_wait $C WORKLOAD-RUNNING
	grep -q 'RESULT save_xvda_present PASS' $C && res save_xvda_present_$ty PASS \
		|| res save_xvda_present_$ty FAIL
	up "$name ($D1) writing (after ${WAITED}s); let it run 3 s"
	sleep 3
	[ $mode = pvio ] && backend_note_connected

	# Save: libxl suspends the domU, writes its memory, destroys it; the
	# backend must let go of the old domain's device.
	t=$(ms); xl -v save $name /data/domu.save > /tmp/save.log 2>&1; rc=$?; save_ms=$(( $(ms) - t ))
	[ $rc = 0 ] && res save_xl_save_$ty PASS "${save_ms} ms, $(du -m /data/domu.save | cut -f1) MiB" \
		|| { res save_xl_save_$ty FAIL "rc=$rc"; tail -20 /tmp/save.log; }
	backend_dir_gone save_old_backend_dir_removed_$ty /local/domain/0/backend/vbd/$D1/51712
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
	domu_checks $ty $C
	echo "SAVE-FIGURES type=$ty mode=$mode save_ms=$save_ms restore_ms=$rest_ms first_io_ms=$first_ms longest_write_gap_ms=${gap:-?} writes=${n:-?}"
	[ $mode = pvio ] && backend_note_connected
	xl destroy $name; echo "xl destroy $name rc=$?"
	backend_dir_gone save_new_backend_dir_removed_$ty /local/domain/0/backend/vbd/$D2/51712
	[ $mode = pvio ] && backend_check_idle blkback _save_$ty
	echo "----- xl save / restore of $name -----"; cat /tmp/save.log /tmp/restore.log | tail -12
	echo "----- $name console log -----"; cat $C
	echo "----- end $name console log -----"
}

# migrate TYPE: one domU of TYPE (pvh; Debian's Xen cannot live-migrate a
# PV domU: no shadow paging, see shared/XEN-MIGRATION-NOTES.md), named
# domu-TYPE-mig, migrated twice to this host (`xl migrate` through a stand-in
# for ssh) while it runs the verified write workload, then once more with
# its receiver killed half-way. RESULT names end in
# _TYPE-mig; one SAVE-FIGURES line (type=TYPE-mig).
migrate() {
	local ty=$1 name=domu-$1-mig sfx=$1-mig t rc figs= n n0 gap i D D3 k
	local L=/var/log/xen/console
	dd if=/dev/zero of=/data/disk.img bs=512 seek=8192 count=1024 conv=notrunc 2>/dev/null
	# Three migrations take longer than one save and restore: 70 s more.
	sed -e "s|@T0@|$t0|" -e "s|@SECS@|$((${secs:-40} + 70))|" -e "s|@TYPE@|$ty|" \
		-e "s|@NAME@|$name|" /etc/xen/save.cfg.in > /etc/xen/$name.cfg
	xl create /etc/xen/$name.cfg && res save_xl_create_$sfx PASS || res save_xl_create_$sfx FAIL
	D=$(xl domid $name 2>/dev/null)
	console_wait $L/guest-$name.log WORKLOAD-RUNNING
	grep -q 'RESULT save_xvda_present PASS' $L/guest-$name.log && res save_xvda_present_$sfx PASS \
		|| res save_xvda_present_$sfx FAIL
	up "$name ($D) writing (after ${WAITED}s); let it run 3 s"
	sleep 3
	[ $mode = pvio ] && backend_note_connected
	for k in 1 2; do
		# The incoming domain's console goes to guest-NAME--incoming.log
		# (appended to on the second migration): count over every log.
		n0=$(cat $L/guest-$name*.log | grep -c -e IO-BACK -e PROGRESS)
		t=$(ms); xl -v migrate -s /etc/xen/scripts/mig-ssh -e $name localhost > /tmp/mig.log 2>&1
		rc=$?; i=$(( $(ms) - t )); figs="$figs migrate${k}_ms=$i"
		grep -q 'Migration successful' /tmp/mig.log || rc="$rc, no 'Migration successful'"
		[ "$rc" = 0 ] && res save_xl_migrate${k}_$sfx PASS "$i ms" \
			|| { res save_xl_migrate${k}_$sfx FAIL "rc=$rc"; tail -20 /tmp/mig.log; }
		backend_dir_gone save_old_backend_dir_removed${k}_$sfx /local/domain/0/backend/vbd/$D/51712
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
	i=0
	while [ $i -lt 1200 ] && [ "$(cat $L/guest-$name*.log | grep -c -e IO-BACK -e PROGRESS)" = "$n0" ]; do
		usleep 50000; i=$((i+1))
	done
	[ "$(cat $L/guest-$name*.log | grep -c -e IO-BACK -e PROGRESS)" != "$n0" ] \
		&& res save_io_after_aborted_migrate_$sfx PASS \
		|| res save_io_after_aborted_migrate_$sfx FAIL "no write completed in 60 s"

	domu_checks $sfx $L/guest-$name--incoming.log
	echo "SAVE-FIGURES type=$sfx mode=$mode$figs longest_write_gap_ms=${gap:-?} writes=${n:-?}"
	[ $mode = pvio ] && backend_note_connected
	xl destroy $name; echo "xl destroy $name rc=$?"
	backend_dir_gone save_new_backend_dir_removed_$sfx /local/domain/0/backend/vbd/$D/51712
	[ $mode = pvio ] && backend_check_idle blkback _save_$sfx
	echo "----- xl migrate of $name -----"; tail -12 /tmp/mig.log
	echo "----- the aborted xl migrate -----"; tail -12 /tmp/mig3.log
	echo "----- $name console logs -----"; cat $L/guest-$name*.log
	echo "----- end $name console logs -----"
}

printf '#!/bin/sh\nshift\nexec sh -c "$*"\n' > /etc/xen/scripts/mig-ssh   # stands in for ssh
chmod +x /etc/xen/scripts/mig-ssh
for ty in $types; do
	case $ty in
	*mig) migrate ${ty%mig} ;;
	*) save_restore $ty ;;
	esac
done
if [ $mode = pvio ]; then
	backend_stop blkback
	echo "----- pvio-blkback log -----"; cat /var/log/pvio-blkback.log
	echo "----- end pvio-blkback log -----"
fi
up "DOM0-DONE"
poweroff -f
