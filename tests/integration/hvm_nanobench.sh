#!/usr/bin/env bash
# hvm boots the guest on KVM and every nanobenchmark reports a value and iterations.
. "$(dirname "$0")/lib.sh"
why=$(kvm_unavailable)
if [ -n "$why" ]; then skip "hvm nanobench" "$why"; exit 0; fi

out=$TMPDIR_IT/nb
run_hvm nanobench 300 run --engine hw --workload nanobench:reps=2,mincycles=2000000 --out "$out"
if [ "$RC" -ne 0 ]; then
	bad "hvm nanobench exits 0" "exit $RC: $(tail -n 5 "$OUT" | tr '\n' ' ')"
else
	ok "hvm nanobench exits 0"
fi
csv=$out/samples.csv
for op in syscall in cr8wr callret pgfault divzero ptemod cpuid hypercall mmio rdtsc ioeventfd; do
	rows=$(awk -F, -v op="$op" '$2 == op && $4 == "hw" && $12 == "cycles_per_op"' "$csv" 2>/dev/null)
	n=$(printf '%s' "$rows" | grep -c .)
	iters_ok=$(printf '%s\n' "$rows" | awk -F, '$3 ~ /iters=[1-9]/' | grep -c .)
	if [ "$n" -ge 2 ] && [ "$iters_ok" -eq "$n" ]; then
		ok "nanobench $op has a value and an iteration count per repetition"
	else
		bad "nanobench $op" "$n rows ($iters_ok with iters) in $csv"
	fi
done
python3 - "$out/summary.json" <<'PY' && ok "summary records KVM flavour, paging and syscall gate" || bad "summary context" "kvm flavour/paging/sysgate missing"
import json, sys
s = json.load(open(sys.argv[1]))
c, n = s["context"], s.get("notes", {})
assert c["kvm"]["flavour"] not in ("", None) and c["kvm"]["paging"] not in ("", None)
assert "sysgate" in n
PY
