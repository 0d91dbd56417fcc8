#!/usr/bin/env bash
# Lab 4, paravirtualization: HV_HC_MMU_UPDATE, the guest's batched page-table updates
# (pv_pte_set, pv_flush in guest/kernel/pv.c) and the VMM's validation of each batch and
# entry (hc_mmu_update, update_one in vmm/devices/hcall_pv.c). Under the translator the
# VMM offers the call (HV_PV_MMU).
. "$(dirname "$0")/lib.sh"

fw() { # NAME CMDLINE: forkwait with a heap; its checksum in $CK
	bt "$1" 60 --workload forkwait:n=60,heap=64K,reps=2 --cmdline "$2"
	CK=$(awk -F, '$12 == "checksum" { print $13 }' "$D/samples.csv" 2>/dev/null | sort -u | tr '\n' ' ')
}

case $1 in
pv-forkwait)
	fw full "pv=off"; full=$CK
	fw pv "pv=on"; upd=$(note "$D" hcall_mmu_update)
	if [ "$RC" -eq 0 ] && [ -n "$CK" ] && [ "$CK" = "$full" ] && [ "${upd%.*}" -gt 0 ] 2>/dev/null; then
		ok "pv-forkwait: checksum ${CK% } as the full guest's, ${upd%.*} mmu_update calls"
	else
		bad pv-forkwait "exit $RC, checksum pv '$CK' full '$full', mmu_update calls '$upd': $(why)"
	fi ;;
pv-batch)
	fw pv "pv=on"; big=$(note "$D" hcall_mmu_update) bigck=$CK
	fw pv1 "pv=on pvbatch=1"; one=$(note "$D" hcall_mmu_update)
	if [ "$RC" -eq 0 ] && [ -n "$CK" ] && [ "$CK" = "$bigck" ] &&
	   [ "${one%.*}" -gt "${big%.*}" ] 2>/dev/null; then
		ok "pv-batch: pvbatch=1 gives the same checksum with ${one%.*} calls against ${big%.*}"
	else
		bad pv-batch "exit $RC, checksums '$CK' and '$bigck', calls pvbatch=1 '$one', 2048 '$big': $(why)"
	fi ;;
wildpv)
	bt wildpv 30 --workload wildpv --cmdline pv=on --timeout 20
	if [ "$RC" -eq 0 ] && grep -q "wildpv: all refused" "$OUT"; then
		ok "wildpv: every bad call refused with its code, the VM goes on"
	else
		bad wildpv "exit $RC: $(why) $(grep -E 'NOT REFUSED|WRONG CODE' "$OUT" | head -n 3 | tr '\n' ' ')"
	fi ;;
pvfuzz)
	bt pvfuzz 90 --workload pvfuzz --cmdline pv=on --timeout 60
	if [ "$RC" -eq 0 ] && grep -Eq "pvfuzz:.survived" "$OUT"; then
		ok "$(grep -m1 -o 'pvfuzz: survived.*' "$OUT")"
	else
		bad pvfuzz "exit $RC: $(why) $(grep -m2 'pvfuzz:' "$OUT" | tr '\n' ' ')"
	fi ;;
*) unknown_check "$1" ;;
esac
