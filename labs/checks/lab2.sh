#!/usr/bin/env bash
# Lab 2, shadow paging in the translator: the shadow fill (bt_shadow_fill) and the
# page-table write trap (bt_pt_written). The guest checks its own memory: a stale or
# too permissive window mapping shows as a wrong checksum, a fault the guest did not
# expect or one it expected and did not get.
. "$(dirname "$0")/lib.sh"

case $1 in
bt-events) unit test_bt_events ;;
usertouch)
	# GS by arch_prctl: a window per CPL on every host, so the user window is the one
	# the fill maps user pages into (the shared layout emulates some of these)
	bt usertouch 30 --workload usertouch --bt-gs arch_prctl --timeout 20
	if [ "$RC" -eq 0 ] && grep -q "usertouch: PASS" "$OUT"; then
		ok "usertouch: a user program's reads and writes of kernel memory fault in the guest"
	else
		bad usertouch "exit $RC: $(why) $(grep -m2 'usertouch:' "$OUT" | tr '\n' ' ')"
	fi ;;
forkwait)
	bt forkwait 60 --workload forkwait:n=100,reps=2 --bt-adaptive off
	ck=$(awk -F, '$12 == "checksum" { print $13 }' "$D/samples.csv" 2>/dev/null | sort -u | grep -c .)
	traps=$(note "$D" engine_bt_pt_write_traps)
	if [ "$RC" -eq 0 ] && [ "$ck" -eq 1 ] && [ "${traps%.*}" -gt 0 ] 2>/dev/null; then
		ok "forkwait: 100 forks, one checksum, ${traps%.*} page-table writes trapped"
	else
		bad forkwait "exit $RC, $ck distinct checksums, page-table write traps '$traps': $(why)"
	fi ;;
cow)
	bt cow 60 --workload forkwait:n=100,heap=64K,reps=2 --cmdline cow=1
	ck=$(awk -F, '$12 == "checksum" { print $13 }' "$D/samples.csv" 2>/dev/null | sort -u | grep -c .)
	if [ "$RC" -eq 0 ] && [ "$ck" -eq 1 ]; then
		ok "cow: copy-on-write forks with a 64 KiB heap each, one checksum"
	else
		bad cow "exit $RC, $ck distinct checksums: $(why)"
	fi ;;
tlbshoot)
	bt tlbshoot 60 --workload tlbshoot --vcpus 2
	if [ "$RC" -eq 0 ] && grep -q "tlbshoot:.*PASS" "$OUT"; then
		ok "tlbshoot: two vCPUs see each other's page-table changes"
	else
		bad tlbshoot "exit $RC: $(why) $(grep -m2 'tlbshoot:' "$OUT" | tr '\n' ' ')"
	fi ;;
*) unknown_check "$1" ;;
esac
