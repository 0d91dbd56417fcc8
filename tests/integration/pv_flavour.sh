#!/usr/bin/env bash
# The paravirtual guest flavour (pv=on): every workload gives the same checksum as the
# full flavour under each engine this host has; the pv guest really makes the
# hypercalls the VMM offers it (counted by the VMM), and on an engine that offers no
# page-table hypercalls it makes none; the boot line names the flavour.
# san: yes
. "$(dirname "$0")/lib.sh"

declare -A ARGS=(
	[forkwait]=n=20,reps=2
	[ptchurn]=iters=8,pages=8,reps=2
	[ctxswitch]=n=50,reps=2
	[tlbshoot]=rounds=10
	[memwalk]=ws=1M,steps=50000,reps=2
)
WORKLOADS="forkwait ptchurn ctxswitch tlbshoot memwalk"
ENGINES="bt hw"
# per engine: each workload's checksum; the hypercall count check
plan $(( $(echo $ENGINES | wc -w) * ($(echo $WORKLOADS | wc -w) + 1) ))

# col FILE METRIC: the values of METRIC in a samples.csv, one a line.
col() { awk -F, -v m="$2" '$12 == m { print $13 }' "$1" 2>/dev/null; }
# note FILE KEY: a number from the run's summary.json notes
note() { grep -o "\"$2\": *[0-9.e+]*" "$1" 2>/dev/null | head -n1 | sed 's/.*: *//'; }

for e in $ENGINES; do
	if [ "$e" = hw ]; then
		why=$(kvm_unavailable)
		if [ -n "$why" ]; then skip_n $(( $(echo $WORKLOADS | wc -w) + 1 )) "pv under hw" "$why"; continue; fi
	fi
	for w in $WORKLOADS; do
		vc=1
		[ "$w" = tlbshoot ] && vc=2
		for fl in off on; do
			run_hvm "$e-$w-pv$fl" 240 run --engine "$e" --vcpus $vc --workload "$w:${ARGS[$w]}" \
				--cmdline "pv=$fl" --out "$TMPDIR_IT/$e-$w-pv$fl"
			eval "RC_$fl=\$RC"
			eval "CK_$fl=\$(col \"\$TMPDIR_IT/$e-$w-pv$fl/samples.csv\" checksum | sort -u | tr '\n' ' ')"
		done
		if [ "$RC_off" -eq 0 ] && [ "$RC_on" -eq 0 ] && [ -n "$CK_on" ] && [ "$CK_on" = "$CK_off" ] &&
		   [ "$(echo $CK_on | wc -w)" -eq 1 ]; then
			ok "$w under $e: checksum $CK_on with pv=on and pv=off"
		else
			bad "$w under $e" "exit $RC_off/$RC_on, checksums full '$CK_off' pv '$CK_on'"
		fi
	done
	s=$TMPDIR_IT/$e-forkwait-pvon/summary.json
	boot=$(grep -c "flavour pv" "$TMPDIR_IT/$e-forkwait-pvon/console.log" 2>/dev/null)
	feat=$(grep -o "pv: by hypercall:[^;]*" "$TMPDIR_IT/$e-forkwait-pvon/console.log" 2>/dev/null | head -n1)
	upd=$(note "$s" hcall_mmu_update); cr3=$(note "$s" hcall_new_baseptr)
	# the workload's headline stays its first metric (readers take the first as its figure)
	first=$(awk -F, '$2 == "forkwait" && $4 != "native" { print $12; exit }' "$TMPDIR_IT/$e-forkwait-pvon/samples.csv")
	full=$(note "$TMPDIR_IT/$e-forkwait-pvoff/summary.json" hcall_mmu_update)
	if [ "$boot" -ge 1 ] && [ -z "$full" ] && [ -n "$cr3" ] && [ "$first" = cycles_per_op ] &&
	   { { echo "$feat" | grep -q "page tables" && [ -n "$upd" ]; } ||
	     { ! echo "$feat" | grep -q "page tables" && [ -z "$upd" ]; }; }; then
		ok "forkwait under $e: pv makes the offered hypercalls ($feat: mmu_update ${upd:-0}, new_baseptr $cr3), full none"
	else
		bad "pv hypercalls under $e" "boot '$boot', '$feat', mmu_update '$upd' (full '$full'), new_baseptr '$cr3', first metric '$first'"
	fi
done
