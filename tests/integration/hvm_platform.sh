#!/usr/bin/env bash
# What this host's KVM does with instructions a bare-metal kernel uses. Under kvm_pvm
# (guest CPL0 code emulated instruction by instruction) these fail, and hvm must stop
# the guest with the emulation failure reported; under a KVM that runs guest kernel
# code natively (VT-x/AMD-V) they complete and the guest passes. The guest keeps
# bare-metal semantics either way.
. "$(dirname "$0")/lib.sh"
why=$(kvm_unavailable)
if [ -n "$why" ]; then skip "host instruction checks" "$why"; exit 0; fi
flavour=none
for f in kvm_pvm kvm_intel kvm_amd; do [ -d /sys/module/$f ] && flavour=$f; done

# Each: rdtscp (0f 01 f9), int $0x20 (cd 20), pxor %xmm0,%xmm0 (66 0f ef c0) at CPL0.
for insn in rdtscp int sse; do
	run_hvm "cpl0-$insn" 60 run --engine hw --workload "cpl0insn:$insn" --timeout 20 --out "$TMPDIR_IT/cpl0-$insn"
	if [ "$flavour" = kvm_pvm ]; then
		[ "$RC" -eq 3 ] && grep -qi 'emulation' "$OUT" && grep -q RIP "$OUT" &&
			ok "cpl0 $insn: kvm_pvm emulation failure is reported with registers" ||
			bad "cpl0 $insn" "exit $RC; $(grep -i -m2 'error\|emulation' "$OUT" | tr '\n' ' ')"
	else
		[ "$RC" -eq 0 ] && ok "cpl0 $insn completes under $flavour" || bad "cpl0 $insn under $flavour" "exit $RC"
	fi
done

# syscall from CPL3: kvm_pvm lands at LSTAR still at CPL3 (#PF, error 0x15 at LSTAR), so
# hvm picks the ud2 gate there. Forcing the syscall gate must fail cleanly, saying so.
run_hvm sysgate 60 run --engine hw --workload hello --cmdline sysgate=syscall --timeout 20 --out "$TMPDIR_IT/sysgate"
if [ "$flavour" = kvm_pvm ]; then
	[ "$RC" -ne 0 ] && [ "$RC" -lt 128 ] && grep -q 'sysgate=ud2' "$OUT" &&
		ok "syscall gate on kvm_pvm fails and names the alternative" ||
		bad "syscall gate on kvm_pvm" "exit $RC; $(tail -n 3 "$OUT" | tr '\n' ' ')"
else
	[ "$RC" -eq 0 ] && ok "syscall gate works under $flavour" || bad "syscall gate under $flavour" "exit $RC"
fi
python3 - "$TMPDIR_IT/sysgate/summary.json" <<'PY' 2>/dev/null && ok "forced gate is recorded with the result" || bad "forced gate recorded" "sysgate note is not syscall"
import json, sys
n = json.load(open(sys.argv[1]))["notes"]
sys.exit(0 if n.get("sysgate") == "syscall" else 1)
PY
