#!/usr/bin/env bash
# The guest image boots under QEMU TCG through its PVH entry (qemu -kernel), runs the
# compute workload with the checksum hvm gets for the same arguments, prints its result
# records on the serial console in a form `hvpeer parse` turns into hvm's run format, and
# starts a second CPU with INIT/SIPI as it does under hvm.
. "$(dirname "$0")/lib.sh"
QEMU=${QEMU:-qemu-system-x86_64}
KERNEL=$HVLAB_BUILD/guest/kernel.elf
HVPEER=$HVLAB_BUILD/bin/hvpeer
ARGS=size=65536,rounds=8,reps=2

if ! command -v "$QEMU" >/dev/null; then
	skip_all "$QEMU is not installed (Debian package qemu-system-x86)"
fi
if [ ! -f "$KERNEL" ]; then skip_all "$KERNEL was not built"; fi
plan 5

# run_qemu NAME SMP CMDLINE : console in $TMPDIR_IT/NAME.log, QEMU's status in $RC.
# isa-debug-exit makes QEMU exit with (guest status << 1) | 1: 1 means the guest passed.
run_qemu() {
	local name=$1 smp=$2; shift 2
	LOG=$TMPDIR_IT/$name.log
	timeout 120 "$QEMU" -accel tcg -cpu max -m 256M -smp "$smp" -display none -monitor none \
		-serial "file:$LOG" -no-reboot -device isa-debug-exit,iobase=0x501,iosize=4 \
		-kernel "$KERNEL" -append "$*" </dev/null >"$TMPDIR_IT/$name.qemu" 2>&1
	RC=$?
}

run_qemu compute 1 "workload=compute wargs=$ARGS"
if [ "$RC" -eq 1 ] && grep -q 'compute: exit status 0' "$LOG"; then
	ok "guest boots under QEMU TCG (PVH) and runs compute"
else
	bad "guest under QEMU TCG" "qemu exit $RC: $(tail -n 3 "$LOG" "$TMPDIR_IT/compute.qemu" 2>/dev/null | tr '\n' ' ')"
fi

csv=$TMPDIR_IT/parsed/samples.csv
if "$HVPEER" parse --engine qemu-tcg --out "$TMPDIR_IT/parsed" "$LOG" >"$TMPDIR_IT/parse.err" 2>&1 &&
	head -n1 "$csv" | grep -q '^experiment,workload,params,engine,memvirt,flavour,spinlock,iopath,segbase,vcpus,pcpus,metric,value,unit,rep$' &&
	[ "$(awk -F, '$4 == "qemu-tcg" && $12 == "cycles_per_op"' "$csv" | wc -l)" -eq 2 ]; then
	ok "hvpeer parse turns the console records into hvm's rows"
else
	bad "hvpeer parse" "$(head -c 300 "$TMPDIR_IT/parse.err") $(head -n 3 "$csv" 2>/dev/null | tr '\n' ' ')"
fi
qsums=$(awk -F, '$12 == "checksum" { print $13 }' "$csv" | sort -u)
if [ -n "$qsums" ] && [ "$(printf '%s\n' "$qsums" | wc -l)" -eq 1 ]; then
	ok "QEMU repetitions agree on the checksum ($qsums)"
else
	bad "QEMU checksum" "repetitions gave '$(echo $qsums)'"
fi

# The reference: hvm on KVM with the same arguments where it can run, else the same
# core built natively (which hvm's own test compares with the guest).
why=$(kvm_unavailable)
if [ -z "$why" ]; then
	run_hvm hvm-compute 120 run --engine hw --workload "compute:$ARGS" --out "$TMPDIR_IT/hvm-compute"
	hsum=$(awk -F, '$4 == "hw" && $12 == "checksum" { print $13 }' "$TMPDIR_IT/hvm-compute/samples.csv" 2>/dev/null | sort -u)
	ref="hvm (KVM)"
else
	hsum=$("$HVLAB_BUILD/bin/native-compute" "$ARGS" 2>/dev/null |
		sed -n 's/.*checksum \(0x[0-9a-f]*\).*/\1/p' | sort -u | while read -r h; do printf '%d\n' "$h"; done)
	ref="native-compute ($why)"
fi
if [ -n "$qsums" ] && [ "$qsums" = "$hsum" ]; then
	ok "compute under QEMU TCG has the checksum of $ref: $qsums"
else
	bad "QEMU vs $ref checksum" "qemu '$qsums', reference '$hsum'"
fi

# Two CPUs: INIT/SIPI through QEMU's LAPIC, CPUs found in the ACPI MADT, and TLB
# shootdowns between them.
run_qemu smp 2 "workload=tlbshoot wargs=rounds=10"
if [ "$RC" -eq 1 ] && grep -q 'smp: 2 CPU(s) online' "$LOG" && grep -q 'tlbshoot: PASS' "$LOG"; then
	ok "two CPUs start under QEMU TCG and complete TLB shootdowns"
else
	bad "SMP under QEMU" "qemu exit $RC: $(grep -E 'smp|tlbshoot|panic' "$LOG" | tr '\n' ' ')"
fi
