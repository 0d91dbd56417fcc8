#!/usr/bin/env bash
# Tiny hand-written guests (hv-minimal/tools/stubguest), one behaviour each: hvm runs the
# well-behaved ones to their exit status and stops every misbehaving one with status 3,
# the reason and a register dump, leaving its run directory complete.
# san: yes
. "$(dirname "$0")/lib.sh"
why=$(kvm_unavailable)
if [ -n "$why" ]; then skip "stub guests" "$why"; exit 0; fi
STUBS=$HVLAB_BUILD/stubguest

# stub  expected-status  pattern-in-output
while read -r stub want pat; do
	k=$STUBS/$stub.elf
	if [ ! -f "$k" ]; then bad "stub $stub" "$k was not built"; continue; fi
	out=$TMPDIR_IT/stub-$stub
	run_hvm "stub-$stub" 60 run --workload stub --kernel "$k" --timeout 3 --out "$out"
	if [ "$RC" -ne "$want" ]; then
		bad "stub $stub" "exit $RC, want $want: $(grep -m2 -i 'error\|stopp' "$OUT" | tr '\n' ' ')"
	elif [ "$want" -eq 3 ] && ! { grep -q RIP "$OUT" && grep -Eqi "$pat" "$OUT" && [ -s "$out/regdump.txt" ]; }; then
		bad "stub $stub" "stopped without reason /$pat/ or register dump"
	elif [ ! -s "$out/summary.json" ] || [ ! -f "$out/samples.csv" ]; then
		bad "stub $stub" "run directory incomplete"
	else
		ok "stub $stub: exit $RC$([ "$want" -eq 3 ] && echo ", stopped and reported")"
	fi
done <<'LIST'
hello 0 .
fail 1 .
hcall 0 .
nullmmio 0 .
triple 3 triple|shutdown
hang 3 watchdog|hang|timeout
vmcall 3 watchdog|hang|timeout
emufail 3 emulation|triple|shutdown
wildport 3 port
wildmmio 3 mmio
badhcnr 3 hypercall
badhcptr 3 hypercall
badhclen 3 hypercall
badresptr 3 result
badresmag 3 result
badresstr 3 result
LIST
