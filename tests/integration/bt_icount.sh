#!/usr/bin/env bash
# The bt engine's counting mode through the guest (nanobench icount=1): each operation's
# guest instructions per operation, in the kernel and in user mode, as samples. The
# operations whose instructions are known must count them (callret: a call and a return
# in user mode; cr8wr: one kernel instruction; cpuid: xor, xor, cpuid; divzero: one user
# instruction fewer than its harness, since the faulting division does not retire), to
# within what the loop and its harness differ by outside the operations (a few
# instructions per loop of 1,024 operations); an ordinary run counts nothing; an engine
# without the counters skips (exit 77) saying so.
# san: yes
. "$(dirname "$0")/lib.sh"
# the suite's exit status says whether any check failed
failures=0
bad() { CHECKS_DONE=$((CHECKS_DONE + 1)); echo "not ok - $1: $2"; failures=$((failures + 1)); }
if [ ! -x "$HVM" ]; then skip_all "$HVM was not built"; fi
if ! command -v python3 >/dev/null; then
	skip_all "python3 is not installed (scripts/setup-deps.sh installs it)"
fi
# the counting run; 6 known counts; 3 kernel counts; samples; no cycles; off by default;
# hw without the counters
plan $((1 + 6 + 3 + 1 + 1 + 1 + 1))

# median OUTDIR OP METRIC: the median of the samples, or "none"
median() {
	python3 - "$1/samples.csv" "$2" "$3" <<'PY'
import csv, statistics, sys
v = [float(r["value"]) for r in csv.DictReader(open(sys.argv[1]))
     if r["engine"] == "bt" and r["workload"] == sys.argv[2] and r["metric"] == sys.argv[3]]
print(f"{statistics.median(v):g}" if v else "none")
PY
}

out=$TMPDIR_IT/icount
run_hvm icount 120 run --engine bt --workload \
	nanobench:icount=1,reps=3,only=syscall+callret+cr8wr+cpuid+divzero+pgfault --out "$out"
if [ "$RC" -ne 0 ]; then
	bad "nanobench icount=1 under bt" "exit $RC: $(tail -n 3 "$OUT" | tr '\n' ' ')"
	skip_rest "bt counting mode" "the counting run failed"
fi
ok "nanobench icount=1 runs under bt"
check() { # check OP METRIC EXPECTED WHY: the median within 0.01 of EXPECTED
	got=$(median "$out" "$1" "$2")
	if [ "$got" != none ] && python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) - float(sys.argv[2])) <= 0.01 else 1)' "$got" "$3"; then
		ok "$1: $2 = $got ($4: $3)"
	else
		bad "$1 $2" "expected $3 ($4), got $got"
	fi
}
check callret guest_user_insns_per_op 2 "call and ret"
check callret guest_kernel_insns_per_op 0 "no kernel code"
check cr8wr guest_kernel_insns_per_op 1 "one mov to CR8 per operation"
check cr8wr guest_user_insns_per_op 0 "timed in the kernel"
check cpuid guest_user_insns_per_op 3 "xor, xor, cpuid"
check divzero guest_user_insns_per_op -1 "the faulting division does not retire"
for op in syscall divzero pgfault; do
	k=$(median "$out" $op guest_kernel_insns_per_op)
	if [ "$k" != none ] && python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 10 else 1)" "$k"; then
		ok "$op runs $k guest kernel instructions per operation"
	else
		bad "$op kernel instructions" "expected at least 10, got $k"
	fi
done
n=$(grep -c ',guest_kernel_insns_per_op,' "$out/samples.csv")
[ "$n" -eq 18 ] && ok "three kernel-count samples per operation (18)" ||
	bad "kernel-count samples" "expected 18, got $n"
! grep -q ',cycles_per_op,' "$out/samples.csv" &&
	ok "a counting run reports no cycles (its blocks carry the counting code)" ||
	bad "cycles in a counting run" "$(grep -c ',cycles_per_op,' "$out/samples.csv") cycle samples"

# Off by default: an ordinary run has neither counts nor the engine's counters.
plain=$TMPDIR_IT/plain
run_hvm plain 120 run --engine bt --workload nanobench:reps=1,mincycles=100000,only=callret --out "$plain"
if [ "$RC" -eq 0 ] && ! grep -q 'insns_per_op' "$plain/samples.csv" &&
   ! grep -q 'bt_icount' "$plain/summary.json"; then
	ok "without icount=1 nothing is counted"
else
	bad "counting off by default" "exit $RC; $(grep -o 'bt_icount[a-z_]*' "$plain/summary.json" | head -n 1)"
fi

# An engine without the counters: the guest's probe faults, and nanobench skips.
why=$(kvm_unavailable)
if [ -n "$why" ]; then
	skip "icount=1 under hw" "$why"
else
	run_hvm hw-icount 60 run --engine hw --workload nanobench:icount=1,reps=1,only=callret \
		--timeout 30 --out "$TMPDIR_IT/hw-icount"
	[ "$RC" -eq 77 ] && grep -q 'offers no guest instruction counter' "$OUT" &&
		ok "icount=1 under hw skips (exit 77): no guest instruction counter" ||
		bad "icount=1 under hw" "exit $RC: $(grep -i 'icount\|rdpmc' "$OUT" | head -n 2 | tr '\n' ' ')"
fi
[ "$failures" -eq 0 ]
