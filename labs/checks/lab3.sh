#!/usr/bin/env bash
# Lab 3, binary translation: the memory-operand encoder (em_rm), guest memory operands
# rewritten through %gs: with a 32-bit address (emit_rewritten), and in/out as call-outs
# (translate_sensitive). test_bt_diff runs snippets natively and translated and compares
# registers, flags and memory; the guest runs checks of its own on top.
. "$(dirname "$0")/lib.sh"

case $1 in
bt-diff) unit test_bt_diff ;;
hello)
	bt hello 30 --workload hello
	if [ "$RC" -eq 0 ] && grep -q "^hello: exit status 0" "$OUT"; then
		ok "hello: the kernel boots and runs a user program under the translator"
	else
		bad hello "exit $RC: $(why)"
	fi ;;
compute)
	# hvm runs the same core natively in the same run and compares the checksums
	bt compute 60 --workload compute:size=256K,rounds=4
	if [ "$RC" -eq 0 ] && grep -q "equal to the guest's" "$OUT"; then
		ok "compute: checksum $(metric "$D" checksum), the native build's"
	else
		bad compute "exit $RC: $(why) $(grep -m1 -i checksum "$OUT")"
	fi ;;
port-io)
	bt pio 60 --workload nanobench:only=in+in.cpl0+ioeventfd+ioeventfd.cpl0,reps=3,mincycles=100000
	n=$(awk -F, '$2 ~ /^(in|ioeventfd)/ && $12 == "cycles_per_op"' "$D/samples.csv" 2>/dev/null | grep -c .)
	if [ "$RC" -eq 0 ] && [ "$n" -ge 4 ]; then
		ok "port-io: inb from port 0x80 and outl to the ioeventfd port, at CPL3 and CPL0 ($n results)"
	else
		bad port-io "exit $RC, $n results: $(why)"
	fi ;;
emul-io)
	emul_io "4-byte in/out to the block device's registers" ;;
*) unknown_check "$1" ;;
esac
