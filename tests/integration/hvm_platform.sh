#!/usr/bin/env bash
# What the host's CPU virtualization does with instructions a bare-metal kernel uses.
# Under kvm_pvm (guest CPL0 code emulated instruction by instruction) some fail, and hvm
# must stop the guest with the emulation failure reported; under a KVM that runs guest
# kernel code natively (VT-x/AMD-V) and under the translator they complete and the guest
# passes. The guest keeps bare-metal semantics either way; the table below says what
# each host kind does, so the suite passes on every kind.
. "$(dirname "$0")/lib.sh"

# case          key        status pattern              why
PLATFORM='rdtscp        kvm_pvm    3 [Ee]mulation          kvm_pvm emulates CPL0 code and lacks rdtscp: emulation failure, with registers
rdtscp        kvm_intel  0 rdtscp.completed      VT-x runs guest kernel code natively
rdtscp        kvm_amd    0 rdtscp.completed      AMD-V runs guest kernel code natively
rdtscp        bt         0 rdtscp.completed      the translator runs it (or calls out for it)
int           kvm_pvm    3 [Ee]mulation          kvm_pvm emulates CPL0 code and lacks int N: emulation failure, with registers
int           kvm_intel  0 int.completed         VT-x delivers the software interrupt through the guest IDT
int           kvm_amd    0 int.completed         AMD-V delivers the software interrupt through the guest IDT
int           bt         0 int.completed         the translator delivers it through the guest IDT
sse           kvm_pvm    3 [Ee]mulation          kvm_pvm emulates CPL0 code and lacks SSE: emulation failure, with registers
sse           kvm_intel  0 sse.completed         VT-x runs guest kernel code natively
sse           kvm_amd    0 sse.completed         AMD-V runs guest kernel code natively
sse           bt         0 sse.completed         the translator copies the instruction
sysgate       kvm_pvm    1 sysgate=ud2           kvm_pvm lands at LSTAR still at CPL3; the kernel says to boot with sysgate=ud2 and fails
sysgate       kvm_intel  0 gate.syscall          syscall/sysret work under VT-x
sysgate       kvm_amd    0 gate.syscall          syscall/sysret work under AMD-V
sysgate       bt         0 gate.syscall          the translator calls out for syscall/sysret'
plan 10

for engine in hw bt; do
	# rdtscp (0f 01 f9), int $0x20 (cd 20), pxor %xmm0,%xmm0 (66 0f ef c0) at CPL0
	for insn in rdtscp int sse; do
		expect_run "cpl0 $insn" "$engine" "$PLATFORM" "$insn" --workload "cpl0insn:$insn" \
			--timeout 20 --out "$TMPDIR_IT/cpl0-$engine-$insn"
	done
	# The syscall gate forced where hvm would pick another: it works, or fails naming
	# the alternative; either way the gate the guest booted with is what it reports.
	expect_run "forced syscall gate" "$engine" "$PLATFORM" sysgate --workload hello \
		--cmdline sysgate=syscall --timeout 20 --out "$TMPDIR_IT/sysgate-$engine"
done
python3 - "$TMPDIR_IT/sysgate-bt/summary.json" <<'PY' 2>/dev/null && ok "the forced gate is recorded as the guest booted with it (notes.guest.sysgate)" || bad "forced gate recorded" "notes.guest.sysgate is not syscall"
import json, sys
n = json.load(open(sys.argv[1]))["notes"]
sys.exit(0 if n["guest"]["sysgate"] == "syscall" else 1)
PY
# A typo on the command line stops the boot, naming the word: it must not run the
# workload under a mode nobody asked for.
run_hvm typo 30 run --engine bt --workload hello --cmdline 'kmem=user spinlok=pv' --out "$TMPDIR_IT/typo"
[ "$RC" -eq 1 ] && grep -q "cmdline: unknown word 'spinlok=pv'" "$OUT" && ! grep -q 'hello from user mode' "$OUT" &&
	ok "an unknown command-line word stops the boot, naming it" ||
	bad "unknown command-line word" "exit $RC: $(grep -m2 'cmdline\|hello' "$OUT" | tr '\n' ' ')"
