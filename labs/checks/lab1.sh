#!/usr/bin/env bash
# Lab 1, trap and emulate: the VMM's port-I/O and MMIO exits through the device bus, and
# the emul block device's registers. Every check runs the guest under the translator
# (no /dev/kvm needed); its exits reach vcpu_handle_io and vcpu_handle_mmio as KVM's do.
. "$(dirname "$0")/lib.sh"

case $1 in
console)
	# the kernel prints with rep outsb, 16 bytes at a time: every byte must arrive
	bt console 30 --workload hello
	if [ "$RC" -eq 0 ] && grep -q "^hello from user mode: pid 1, gate" "$OUT" &&
	   grep -q "^hello: exit status 0" "$OUT"; then
		ok "console: the guest's lines arrive whole through the serial port (rep outsb)"
	else
		bad console "exit $RC; want the lines 'hello from user mode: pid 1, gate ...' and 'hello: exit status 0': $(why)"
	fi ;;
wild-port)
	bt wildio 30 --workload wildio --timeout 20
	if [ "$RC" -eq 3 ] && grep -q "wild port access" "$OUT" && grep -q RIP "$OUT"; then
		ok "wild-port: a port no device holds stops the guest with its registers (exit 3)"
	else
		bad wild-port "exit $RC, want 3 with 'wild port access' and a register dump: $(why)"
	fi ;;
mmio)
	# the null MMIO page: writes vanish, reads give all ones, from CPL3 and CPL0
	bt mmio 60 --workload nanobench:only=mmio+mmio.cpl0,reps=3,mincycles=100000
	n=$(awk -F, '$2 ~ /^mmio/ && $12 == "cycles_per_op"' "$D/samples.csv" 2>/dev/null | grep -c .)
	if [ "$RC" -eq 0 ] && [ "$n" -ge 2 ]; then
		ok "mmio: the MMIO nanobenchmarks run to the end ($n results)"
	else
		bad mmio "exit $RC, $n results: $(why)"
	fi ;;
emul-io)
	emul_io "the block device's registers" ;;
*) unknown_check "$1" ;;
esac
