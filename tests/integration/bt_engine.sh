#!/usr/bin/env bash
# The bt engine runs the same guest image, workloads and nanobenchmarks as hw, through
# the same VMM core: every workload that computes a checksum gives the same one under bt
# as under hw (the hw half skips with a reason where /dev/kvm is unusable; bt itself
# needs no KVM); a workload declared to give a checksum and giving none fails; every
# nanobenchmark reports under bt, its values positive and ordered where physics orders
# them. (Misbehaving guests under bt: hvm_hostile.sh and hvm_stubs.sh.)
# san: yes
. "$(dirname "$0")/lib.sh"
OPS="syscall in cr8wr callret pgfault divzero ptemod cpuid hypercall mmio rdtsc ioeventfd"

# workload  vCPUs  checksum  arguments (small: the suite takes a minute)
WORKLOADS='forkwait   1  yes  n=20,reps=2
compute    1  yes  size=256K,rounds=8,reps=2
memwalk    1  yes  ws=8M,steps=200000,reps=2
ptchurn    1  yes  iters=8,pages=8,reps=2
ctxswitch  1  yes  n=50,reps=2
locks      2  yes  iters=300,reps=2
tlbshoot   2  yes  rounds=10
forktest   1  no   -'
NW=$(printf '%s\n' "$WORKLOADS" | grep -c .)
NCK=$(printf '%s\n' "$WORKLOADS" | awk '$3 == "yes"' | grep -c .)
if [ ! -x "$HVM" ]; then skip_all "$HVM was not built"; fi
plan $((NW + NCK + 1 + $(echo $OPS | wc -w) + 2 + 1 + $(nb_order_count bt) + 1 + 4))
kvm_why=$(kvm_unavailable)

col() { awk -F, -v e="$2" -v m="$3" '$4 == e && $12 == m { print $13 }' "$1" 2>/dev/null; }

while read -r w vc has_ck args; do
	wa=$w
	[ "$args" != - ] && wa=$w:$args
	run_hvm "bt-$w" 120 run --engine bt --workload "$wa" --vcpus "$vc" --out "$TMPDIR_IT/bt-$w"
	bt_ck=$(col "$TMPDIR_IT/bt-$w/samples.csv" bt checksum | sort -u)
	nck=$(printf '%s' "$bt_ck" | grep -c .)
	if [ "$RC" -ne 0 ]; then
		bad "$w under bt" "exit $RC: $(grep -Ei 'error|FAIL|panic' "$OUT" | head -n2 | tr '\n' ' ')"
	elif [ "$has_ck" = yes ] && [ "$nck" -ne 1 ]; then
		bad "$w under bt" "declared to report one checksum, its repetitions gave $nck: '$(echo $bt_ck)'"
	else
		ok "$w runs under bt${bt_ck:+ (checksum $bt_ck)}"
	fi
	[ "$has_ck" = yes ] || continue
	if [ -n "$kvm_why" ]; then skip "$w checksum bt = hw" "$kvm_why"; continue; fi
	if [ "$nck" -ne 1 ]; then bad "$w checksum bt = hw" "bt gave no single checksum to compare"; continue; fi
	run_hvm "hw-$w" 120 run --engine hw --workload "$wa" --vcpus "$vc" --out "$TMPDIR_IT/hw-$w"
	hw_ck=$(col "$TMPDIR_IT/hw-$w/samples.csv" hw checksum | sort -u)
	[ "$bt_ck" = "$hw_ck" ] && ok "$w checksum under bt equals hw" ||
		bad "$w checksum" "bt '$bt_ck' hw '$hw_ck'"
done <<<"$WORKLOADS"

run_hvm bt-nb 300 run --engine bt --workload nanobench:reps=2,mincycles=2000000 --out "$TMPDIR_IT/bt-nb"
[ "$RC" -eq 0 ] && ok "nanobench under bt exits 0" || bad "nanobench under bt" "exit $RC"
for op in $OPS; do
	n=$(awk -F, -v op="$op" '$2 == op && $4 == "bt" && $12 == "cycles_per_op" && $3 ~ /iters=[1-9]/' "$TMPDIR_IT/bt-nb/samples.csv" 2>/dev/null | grep -c .)
	[ "$n" -ge 2 ] && ok "bt nanobench $op has values and iterations" || bad "bt nanobench $op" "$n rows"
done
python3 - "$TMPDIR_IT/bt-nb/summary.json" <<'PY' && ok "bt records its memvirt and translator counters" || bad "bt summary" "memvirt shadow-bt or engine counters missing"
import json, sys
s = json.load(open(sys.argv[1]))
g = [x for x in s["groups"] if x["engine"] == "bt"]
assert g and all(x["memvirt"] == "shadow-bt" for x in g)
assert any(k.startswith("engine_") for k in s["notes"]), "no engine_* notes"
PY
nanobench_physics "$TMPDIR_IT/bt-nb/samples.csv" bt
# Device exits are served from the call-out (hv-minimal/README.md, "Exits served inside
# the engine") and counted as exits of their kind.
python3 - "$TMPDIR_IT/bt-nb/summary.json" <<'PY' && ok "bt serves device exits from its call-out and counts them" || bad "bt direct exits" "exits_direct is 0, above exits_total, or the in/mmio exits are not counted"
import json, sys
s = json.load(open(sys.argv[1]))
n = s["notes"]
assert 0 < n["exits_direct"] <= n["exits_total"], (n.get("exits_direct"), n.get("exits_total"))
assert n["engine_bt_direct_calls"] == n["exits_direct"]
ex = {g["params"]: g["median"] for g in s["groups"] if g["metric"] == "exits"}
assert any("io-in:0x80" in k and v > 1000 for k, v in ex.items()), ex
assert any("mmio-" in k and v > 1000 for k, v in ex.items()), ex
PY
# How GS was written is recorded with the run, with its count: HVLAB_BT_GS when the
# suite forces it, else what the host offers.
want=${HVLAB_BT_GS:-}
if [ -z "$want" ]; then
	"$HVM" host | grep -q 'user-mode FSGSBASE yes' && want=wrgsbase || want=shared
fi
python3 - "$TMPDIR_IT/bt-nb/summary.json" "$want" <<'PY' && ok "bt records its GS write ($want) and counts the writes" || bad "bt GS write" "bt_gs_write is not $want, or engine_bt_gs_writes is 0"
import json, sys
n = json.load(open(sys.argv[1]))["notes"]
assert n["bt_gs_write"] == sys.argv[2], n.get("bt_gs_write")
assert n["bt_gs_write_reason"]
assert n["engine_bt_gs_writes"] > 0
PY
run_hvm bt-gs-bad 20 run --engine bt --workload hello --bt-gs fast --out "$TMPDIR_IT/bt-gs-bad"
[ "$RC" -eq 2 ] && grep -q -- "--bt-gs" "$OUT" && ok "--bt-gs with an unknown way is refused by name" ||
	bad "--bt-gs fast" "exit $RC: $(head -n2 "$OUT" | tr '\n' ' ')"
# Adaptive translation (engines/bt/README.md): on by default, where the page-table
# writes and page faults of nanobench make instructions hot; off, none is.
python3 - "$TMPDIR_IT/bt-nb/summary.json" <<'PY' && ok "adaptive translation is on by default and retranslates hot instructions" || bad "bt adaptive on" "bt_adaptive is not on, or no hot retranslation"
import json, sys
n = json.load(open(sys.argv[1]))["notes"]
assert n["bt_adaptive"] == "on", n.get("bt_adaptive")
assert n["engine_bt_hot_retranslations"] > 0
# ptemod's table goes out of sync (unsync.c) and is compared at flushes
assert n["engine_bt_unsync_tables"] > 0 and n["engine_bt_resyncs"] > 0, n
PY
run_hvm bt-adaptive-off 120 run --engine bt --bt-adaptive off \
	--workload nanobench:only=pgfault+ptemod,reps=2,mincycles=2000000 --out "$TMPDIR_IT/bt-adaptive-off"
python3 - "$TMPDIR_IT/bt-adaptive-off/summary.json" <<'PY' && ok "--bt-adaptive off is recorded and retranslates nothing" || bad "bt adaptive off" "exit $RC; bt_adaptive is not off, or an instruction was retranslated"
import json, sys
n = json.load(open(sys.argv[1]))["notes"]
assert n["bt_adaptive"] == "off", n.get("bt_adaptive")
assert n["engine_bt_hot_retranslations"] == 0
assert n["engine_bt_unsync_tables"] == 0
g = [x for x in json.load(open(sys.argv[1]))["groups"] if x["engine"] == "bt"]
assert g and all(x["memvirt"] == "shadow-bt-traced" for x in g)
assert n["engine_bt_trap_guest_pf"] > 0
PY
run_hvm bt-adaptive-bad 20 run --engine bt --workload hello --bt-adaptive maybe --out "$TMPDIR_IT/bt-adaptive-bad"
[ "$RC" -eq 2 ] && grep -q -- "--bt-adaptive" "$OUT" && ok "--bt-adaptive with another word is refused by name" ||
	bad "--bt-adaptive maybe" "exit $RC: $(head -n2 "$OUT" | tr '\n' ' ')"
