#!/usr/bin/env bash
# Lab 5, spinlock enlightenment: pv-halt, the guest's slow path and kick (halt_slow,
# halt_kick in guest/kernel/spinlock.c) and the VMM's wait and kick (hc_spin_wait,
# hc_spin_kick in vmm/devices/hcall_spin.c). 4 vCPUs on 2 host CPUs, a spin threshold of
# 64 (the slow path is taken thousands of times).
. "$(dirname "$0")/lib.sh"

over() { # NAME TIMEOUT WORKLOAD SPINLOCK: 4 vCPUs on host CPUs 0-1
	bt "$1" "$2" --vcpus 4 --pin 0-1 --spin-threshold 64 --workload "$3" --cmdline "spinlock=$4"
	CK=$(awk -F, '$12 == "checksum" { print $13 }' "$D/samples.csv" 2>/dev/null | sort -u | tr '\n' ' ')
}

case $1 in
locks)
	over plain 120 locks:iters=400,think=500,reps=2 plain; plain=$CK
	over halt 120 locks:iters=400,think=500,reps=2 pv-halt
	if [ "$RC" -eq 0 ] && [ "$(echo $CK | wc -w)" -eq 1 ] && [ "$CK" = "$plain" ]; then
		ok "locks: pv-halt loses no update, checksum ${CK% } as plain's"
	else
		bad locks "exit $RC, checksums pv-halt '$CK' plain '$plain': $(why)"
	fi ;;
forkwait)
	over fw 120 forkwait:n=20,procs=4,reps=2 pv-halt
	if [ "$RC" -eq 0 ] && [ "$(echo $CK | wc -w)" -eq 1 ]; then
		ok "forkwait: 4 processes forking at once under pv-halt, checksum ${CK% }"
	else
		bad forkwait "exit $RC, checksums '$CK': $(why)"
	fi ;;
slow-path)
	# 300 ms: long enough for the host to preempt lock holders
	over slow 120 locks:ms=300,think=500,reps=1 pv-halt
	w=$(note "$D" hcall_spin_wait) k=$(note "$D" hcall_spin_kick) bk=$(note "$D" spin_wait_woken_kick)
	if [ "$RC" -eq 0 ] && [ "${w%.*}" -gt 0 ] && [ "${k%.*}" -gt 0 ] && [ "${bk%.*}" -gt 0 ] 2>/dev/null; then
		ok "slow-path: ${w%.*} waits, ${k%.*} kicks, ${bk%.*} waits ended by a kick"
	else
		bad slow-path "exit $RC, waits '$w', kicks '$k', ended by a kick '$bk': $(why)"
	fi ;;
wildspin)
	bt wildspin 60 --vcpus 2 --workload wildspin
	if [ "$RC" -eq 0 ] && grep -q "every call answered as it should" "$OUT" &&
	   [ "$(note "$D" hcall_spin_kick_refused)" = 2 ]; then
		ok "wildspin: kicks to vCPUs not waiting are harmless, 2 bad kicks refused"
	else
		bad wildspin "exit $RC, kicks refused '$(note "$D" hcall_spin_kick_refused)': $(why) $(grep -E 'wildspin:.*(WRONG|NOT)' "$OUT" | head -n 2 | tr '\n' ' ')"
	fi ;;
*) unknown_check "$1" ;;
esac
