#!/usr/bin/env bash
# Malformed kernels and misbehaving guests are stopped and reported; hvm exits cleanly
# (never by a signal), with the documented status, and dumps the guest's registers.
# The guests run under hw and under bt (the engine with the most hand-written decoding);
# what differs between host kinds is declared in the table below.
# san: yes
. "$(dirname "$0")/lib.sh"

CASES="triplefault hang hangtimer spinhang vmcall wildhcall wildpv pvfuzz wildio usertouch hello records"
plan $((6 + 2 + 2 * $(echo $CASES | wc -w)))

# Malformed ELF files: refused before any guest runs, naming the file. No KVM needed.
KERNEL=$HVLAB_BUILD/guest/kernel.elf
mk_bad() { # name: writes $TMPDIR_IT/name.elf
	local f=$TMPDIR_IT/$1.elf
	case $1 in
	empty) : >"$f" ;;
	truncated) head -c 40 "$KERNEL" >"$f" ;;
	notelf) head -c 4096 /dev/urandom >"$f" ;;
	badmachine) cp "$KERNEL" "$f"; printf '\x03\x00' | dd of="$f" bs=1 seek=18 conv=notrunc status=none ;;
	badphoff) cp "$KERNEL" "$f"; printf '\xff\xff\xff\xff\xff\xff\xff\x7f' | dd of="$f" bs=1 seek=32 conv=notrunc status=none ;;
	esac
	echo "$f"
}
if [ -f "$KERNEL" ] && [ -x "$HVM" ]; then
	for b in empty truncated notelf badmachine badphoff; do
		f=$(mk_bad $b)
		run_hvm "elf-$b" 30 run --engine hw --workload hello --kernel "$f"
		if [ "$RC" -ne 0 ] && [ "$RC" -lt 128 ] && [ "$RC" -ne 124 ] && grep -q "$f" "$OUT"; then
			ok "malformed kernel ($b) refused with a message naming it"
		else
			bad "malformed kernel ($b)" "exit $RC; $(head -n 3 "$OUT" | tr '\n' ' ')"
		fi
	done
	run_hvm missing 30 run --engine hw --workload hello --kernel "$TMPDIR_IT/no-such-file"
	[ "$RC" -ne 0 ] && [ "$RC" -lt 128 ] && grep -q no-such-file "$OUT" &&
		ok "missing kernel refused with a message naming it" || bad "missing kernel" "exit $RC"
else
	skip_n 6 "malformed kernels" "$HVM or $KERNEL not built"
fi

if [ -x "$HVM" ]; then
	run_hvm badopt 10 run --engine hw --workload hello --no-such-option
	[ "$RC" -eq 2 ] && grep -q -- --no-such-option "$OUT" && ok "unknown option rejected by name" || bad "unknown option" "exit $RC"
	run_hvm badmem 10 run --engine hw --workload hello --mem 12Q
	[ "$RC" -eq 2 ] && grep -q 12Q "$OUT" && ok "malformed --mem rejected by value" || bad "malformed --mem" "exit $RC"
else
	skip_n 2 "option checks" "$HVM was not built"
fi

# Misbehaving guests (guest/kernel/hostile.c) under every engine: stopped with the
# documented status and their registers, or, where the host's CPU runs the instruction
# as a CPU would, ending as the guest kernel then does.
# case        key        status pattern                       why
HOSTILE='triplefault *          3 triple.fault|shutdown         an empty IDT, then ud2: the guest is stopped
hang        *          3 hang|timeout|watchdog         the watchdog stops a kernel spinning with interrupts off
hangtimer   *          3 hang|timeout|watchdog         the same spin with the timer at 5000 Hz (bt lost the stop request in a race with the timer once)
spinhang    *          3 hang|timeout|watchdog         a kernel asleep in HV_HC_SPIN_WAIT on a lock nobody releases: each wait ends within 10 ms, the watchdog stops it
vmcall      kvm_pvm    3 hang|timeout|watchdog         vmcall at CPL0 livelocks inside KVM_RUN; the watchdog stops it (PLATFORM.md)
vmcall      kvm_intel  0 rax.=.0xfffffffffffffc18      KVM returns -KVM_ENOSYS (-1000) to the guest, which goes on and passes
vmcall      kvm_amd    0 rax.=.0xfffffffffffffc18      KVM returns -KVM_ENOSYS (-1000) to the guest, which goes on and passes
vmcall      bt         1 #UD                           the translated CPU has no VMX: #UD, and the guest kernel panics
wildhcall   *          3 hypercall                     bad hypercall numbers, addresses and lengths are refused with codes; the doorbell rung for vCPU 4096 stops it
wildpv      *          0 wildpv:.all.refused           bad paravirtual calls (batches, frames, tables of another process) get error codes; the VM goes on
pvfuzz      *          0 pvfuzz:.(survived|nothing.to.fuzz) 20,000 random page-table calls on scratch frames: answered, the VM stays up (none offered under shadow paging)
wildio      *          3 port                          a port with no device stops the guest
usertouch   *          0 usertouch:.PASS               a user program touching kernel memory faults in the guest
hello       *          0 hello:.exit.status.0          the well-behaved guest boots and exits 0
records     *          3 more.than.5.result.records    past the record budget (--max-records 5) the guest is stopped'

for engine in hw bt; do
	for c in $CASES; do
		case $c in
		hang*|spinhang|vmcall) t=3 ;;
		*) t=20 ;;
		esac
		w=$c extra=()
		[ "$c" = records ] && w=hello extra=(--max-records 5)
		[ "$c" = hangtimer ] && w=hang extra=(--cmdline hz=5000)
		[ "$c" = spinhang ] && w=wildspin:forever
		[ "$c" = wildpv ] && extra=(--cmdline pv=on)
		[ "$c" = pvfuzz ] && t=60
		expect_run "$c guest" "$engine" "$HOSTILE" "$c" --workload "$w" --timeout "$t" \
			"${extra[@]}" --out "$TMPDIR_IT/run-$engine-$c"
	done
done
