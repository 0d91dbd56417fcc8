#!/usr/bin/env bash
# Tiny hand-written guests (hv-minimal/tools/stubguest), one behaviour each, under hw and
# under bt: hvm runs the well-behaved ones to their exit status and stops every
# misbehaving one with status 3, the reason and a register dump, leaving its run
# directory complete; a bad hypercall is refused with its code and the guest goes on. Where the host kinds differ, the table says how.
# san: yes
. "$(dirname "$0")/lib.sh"
STUBS=$HVLAB_BUILD/stubguest

# stub       key        status pattern                  why
TABLE='hello     *          0 stub.guest:.hello        serial output, one result record, exit 0
fail      *          1 stub.guest:.hello        the guest reports failure
hcall     *          0 console.hypercall        NOP and CONSOLE hypercalls through the doorbell
nullmmio  *          0 stub.guest:.hello        the null MMIO page reads all-ones
triple    *          3 triple|shutdown          ud2 with no IDT: a triple fault stops the guest
hang      *          3 watchdog|hang|timeout    the watchdog stops a guest spinning at CPL0
vmcall    kvm_pvm    3 watchdog|hang|timeout    vmcall livelocks inside KVM_RUN; the watchdog stops it
vmcall    kvm_intel  0 stub.guest:.hello        KVM returns -KVM_ENOSYS in rax and the stub exits 0
vmcall    kvm_amd    0 stub.guest:.hello        KVM returns -KVM_ENOSYS in rax and the stub exits 0
vmcall    bt         3 triple|shutdown          no VMX in the translated CPU: #UD with no IDT, a triple fault
emufail   kvm_pvm    3 emulation                int3 at CPL0: kvm_pvm'"'"'s instruction emulator gives up
emufail   *          3 triple|shutdown          int3 with no IDT: a triple fault
wildport  *          3 port                     a port with no device
wildmmio  *          3 mmio|MMIO                a write outside memory and every device
badhcnr   *          0 refused.with.-38         hypercall number 99: HV_HC_ENOSYS to the guest, which goes on
badhcptr  *          0 refused.with.-14         a console buffer outside guest memory: HV_HC_EFAULT
badhclen  *          0 refused.with.-22         a console length of 1 TiB: HV_HC_EINVAL
badresptr *          3 result                   a result record outside guest memory
badresmag *          3 result                   a result record with a wrong magic
badresstr *          3 result                   a result record name without its NUL
floodres  *          3 budget                   the same record forever: stopped at the record budget
manyops   *          3 32.operations            a 33rd nanobenchmark operation is the guest'"'"'s fault, not the host'"'"'s'
STUB_NAMES=$(printf '%s\n' "$TABLE" | awk '{ print $1 }' | uniq)
plan $((2 * $(echo $STUB_NAMES | wc -w)))

for engine in hw bt; do
	why=$(engine_unavailable "$engine")
	key=$(host_key "$engine")
	for stub in $STUB_NAMES; do
		label="stub $stub under $engine"
		k=$STUBS/$stub.elf
		if [ -n "$why" ]; then skip "$label" "$why"; continue; fi
		if [ ! -f "$k" ]; then bad "$label" "$k was not built"; continue; fi
		if ! expectation "$TABLE" "$stub" "$key"; then
			skip "$label" "no expectation declared for $key (add a row to the table)"
			continue
		fi
		out=$TMPDIR_IT/stub-$engine-$stub
		extra=()
		[ "$stub" = floodres ] && extra=(--max-records 2000)
		run_hvm "stub-$engine-$stub" 60 run --engine "$engine" --workload stub --kernel "$k" \
			--timeout 3 "${extra[@]}" --out "$out"
		if [ "$RC" -ne "$WANT_STATUS" ]; then
			bad "$label ($key)" "exit $RC, want $WANT_STATUS ($WANT_WHY): $(grep -m2 -i 'error\|stopp' "$OUT" | tr '\n' ' ')"
		elif ! grep -Eq "$WANT_PAT" "$OUT"; then
			bad "$label ($key)" "exit $RC, but nothing matches /$WANT_PAT/ ($WANT_WHY)"
		elif [ "$WANT_STATUS" -eq 3 ] && ! { grep -q RIP "$OUT" && [ -s "$out/regdump.txt" ]; }; then
			bad "$label ($key)" "stopped without a register dump"
		elif [ ! -s "$out/summary.json" ] || [ ! -f "$out/samples.csv" ]; then
			bad "$label ($key)" "run directory incomplete"
		else
			ok "$label ($key): exit $RC, $WANT_WHY"
		fi
	done
done
