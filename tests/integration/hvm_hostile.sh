#!/usr/bin/env bash
# Malformed kernels and misbehaving guests are stopped and reported; hvm exits cleanly
# (never by a signal), with the documented status, and dumps the guest's registers.
# san: yes
. "$(dirname "$0")/lib.sh"

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
	skip "malformed kernels" "$HVM or $KERNEL not built"
fi

if [ -x "$HVM" ]; then
	run_hvm badopt 10 run --engine hw --workload hello --no-such-option
	[ "$RC" -eq 2 ] && grep -q -- --no-such-option "$OUT" && ok "unknown option rejected by name" || bad "unknown option" "exit $RC"
	run_hvm badmem 10 run --engine hw --workload hello --mem 12Q
	[ "$RC" -eq 2 ] && grep -q 12Q "$OUT" && ok "malformed --mem rejected by value" || bad "malformed --mem" "exit $RC"
else
	skip "option checks" "$HVM was not built"
fi

why=$(kvm_unavailable)
if [ -n "$why" ]; then skip "hostile guests" "$why"; exit 0; fi

# expect NAME STATUS TIMEOUT-ARG PATTERN : the guest is stopped with STATUS and a dump.
expect_stopped() {
	local w=$1 want=$2 t=$3 pat=$4
	run_hvm "$w" 90 run --engine hw --workload "$w" --timeout "$t" --out "$TMPDIR_IT/run-$w"
	if [ "$RC" -eq "$want" ] && grep -q "RIP" "$OUT" && grep -Eqi "$pat" "$OUT"; then
		ok "$w guest stopped (exit $RC) with a register dump"
	else
		bad "$w guest" "exit $RC (want $want); $(grep -Ei "$pat|error|RIP" "$OUT" | head -n 3 | tr '\n' ' ')"
	fi
}
expect_stopped triplefault 3 20 'triple fault|shutdown'
expect_stopped hang 3 3 'hang|timeout|watchdog'
expect_stopped vmcall 3 3 'hang|timeout|watchdog'
expect_stopped wildhcall 3 20 'hypercall'
expect_stopped wildio 3 20 'port'

run_hvm usertouch 90 run --engine hw --workload usertouch --out "$TMPDIR_IT/run-usertouch"
[ "$RC" -eq 0 ] && ok "user access to kernel memory faults" || bad "usertouch" "exit $RC: $(tail -n 3 "$OUT" | tr '\n' ' ')"
run_hvm hello 60 run --engine hw --workload hello --out "$TMPDIR_IT/run-hello"
[ "$RC" -eq 0 ] && ok "hello guest boots and exits 0" || bad "hello" "exit $RC: $(tail -n 3 "$OUT" | tr '\n' ' ')"
