#!/usr/bin/env bash
# hvm boots the guest on KVM and every nanobenchmark reports a value and iterations;
# the values are positive and ordered where physics orders them (an exit costs more than
# a call/ret; a port write KVM completes itself less than one handed to the VMM); the
# summary records the KVM flavour, paging, syscall gate and the mode the guest reported.
. "$(dirname "$0")/lib.sh"
OPS="syscall in cr8wr callret pgfault divzero ptemod cpuid hypercall mmio rdtsc ioeventfd"
why=$(kvm_unavailable)
if [ -n "$why" ]; then skip_all "$why"; fi
plan $((1 + $(echo $OPS | wc -w) + 2 + 1 + $(nb_order_count hw)))

out=$TMPDIR_IT/nb
run_hvm nanobench 300 run --engine hw --workload nanobench:reps=2,mincycles=2000000 --out "$out"
if [ "$RC" -ne 0 ]; then
	bad "hvm nanobench exits 0" "exit $RC: $(tail -n 5 "$OUT" | tr '\n' ' ')"
else
	ok "hvm nanobench exits 0"
fi
csv=$out/samples.csv
for op in $OPS; do
	rows=$(awk -F, -v op="$op" '$2 == op && $4 == "hw" && $12 == "cycles_per_op"' "$csv" 2>/dev/null)
	n=$(printf '%s' "$rows" | grep -c .)
	iters_ok=$(printf '%s\n' "$rows" | awk -F, '$3 ~ /iters=[1-9]/' | grep -c .)
	if [ "$n" -ge 2 ] && [ "$iters_ok" -eq "$n" ]; then
		ok "nanobench $op has a value and an iteration count per repetition"
	else
		bad "nanobench $op" "$n rows ($iters_ok with iters) in $csv"
	fi
done
python3 - "$out/summary.json" <<'PY' && ok "summary records KVM flavour, paging, host VM and syscall gate" || bad "summary context" "kvm flavour/paging, host_vm or sysgate missing"
import json, sys
s = json.load(open(sys.argv[1]))
c, n = s["context"], s.get("notes", {})
assert c["kvm"]["flavour"] not in ("", None) and c["kvm"]["paging"] not in ("", None)
assert c["host_vm"]["is_vm"] in (True, False, None) and c["host_vm"]["how"]
# a KVM on a host that is itself a VM does not call its paging plain ept or npt
assert not (c["host_vm"]["is_vm"] and c["kvm"]["paging"] in ("ept", "npt", "shadow-kvm"))
assert "sysgate" in n and n["guest"]["sysgate"] in ("syscall", "ud2")
PY
# The mode columns are what the guest reported it booted with.
python3 - "$csv" "$out/summary.json" <<'PY' && ok "the rows' flavour, spinlock and iopath are the guest's report" || bad "mode columns" "rows and the guest's report differ"
import csv, json, sys
g = json.load(open(sys.argv[2]))["notes"]["guest"]
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["engine"] == "hw"]
assert rows and all((r["flavour"], r["spinlock"], r["iopath"]) ==
                    (g["flavour"], g["spinlock"], g["iopath"]) for r in rows)
PY
nanobench_physics "$csv" hw
