#!/usr/bin/env bash
# The bt engine runs the same guest image, workloads and nanobenchmarks as hw, through
# the same VMM core: every workload gives the same checksum under bt as under hw (the
# hw half skips with a reason where /dev/kvm is unusable; bt itself needs no KVM), every
# nanobenchmark reports under bt, and misbehaving guests are stopped as under hw.
# san: yes
. "$(dirname "$0")/lib.sh"
if [ ! -x "$HVM" ]; then skip "bt engine" "$HVM was not built"; exit 0; fi
kvm_why=$(kvm_unavailable)

declare -A ARGS=(
	[forkwait]=n=20,reps=2
	[compute]=size=256K,rounds=8,reps=2
	[memwalk]=ws=8M,steps=200000,reps=2
	[ptchurn]=iters=8,pages=8,reps=2
	[ctxswitch]=n=50,reps=2
	[locks]=iters=300,reps=2
	[tlbshoot]=rounds=10
	[forktest]=
)
col() { awk -F, -v e="$2" -v m="$3" '$4 == e && $12 == m { print $13 }' "$1" 2>/dev/null; }

for w in forkwait compute memwalk ptchurn ctxswitch locks tlbshoot forktest; do
	vc=1
	case $w in locks|tlbshoot) vc=2 ;; esac
	wa=$w${ARGS[$w]:+:${ARGS[$w]}}
	run_hvm "bt-$w" 120 run --engine bt --workload "$wa" --vcpus $vc --out "$TMPDIR_IT/bt-$w"
	bt_ck=$(col "$TMPDIR_IT/bt-$w/samples.csv" bt checksum | sort -u)
	if [ "$RC" -ne 0 ]; then
		bad "$w under bt" "exit $RC: $(grep -Ei 'error|FAIL|panic' "$OUT" | head -n2 | tr '\n' ' ')"
		continue
	fi
	ok "$w runs under bt${bt_ck:+ (checksum $bt_ck)}"
	[ -z "$bt_ck" ] && continue
	if [ -n "$kvm_why" ]; then skip "$w checksum bt = hw" "$kvm_why"; continue; fi
	run_hvm "hw-$w" 120 run --engine hw --workload "$wa" --vcpus $vc --out "$TMPDIR_IT/hw-$w"
	hw_ck=$(col "$TMPDIR_IT/hw-$w/samples.csv" hw checksum | sort -u)
	[ "$bt_ck" = "$hw_ck" ] && ok "$w checksum under bt equals hw" ||
		bad "$w checksum" "bt '$bt_ck' hw '$hw_ck'"
done

run_hvm bt-nb 300 run --engine bt --workload nanobench:reps=2,mincycles=2000000 --out "$TMPDIR_IT/bt-nb"
[ "$RC" -eq 0 ] && ok "nanobench under bt exits 0" || bad "nanobench under bt" "exit $RC"
for op in syscall in cr8wr callret pgfault divzero ptemod cpuid hypercall mmio rdtsc ioeventfd; do
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
# How GS was written is recorded with the run, with its count: HVLAB_BT_GS when the
# suite forces it, else what the host offers.
want=${HVLAB_BT_GS:-}
if [ -z "$want" ]; then
	"$HVM" host | grep -q 'user-mode FSGSBASE yes' && want=wrgsbase || want=arch_prctl
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

# Misbehaving guests under bt: stopped, reported with registers, exit 3.
for spec in "triplefault:triple fault|shutdown" "hang:watchdog|hang|timeout" "wildhcall:hypercall" "wildio:port"; do
	w=${spec%%:*} pat=${spec#*:}
	run_hvm "bt-$w" 60 run --engine bt --workload "$w" --timeout 3 --out "$TMPDIR_IT/bt-$w"
	[ "$RC" -eq 3 ] && grep -q RIP "$OUT" && grep -Eqi "$pat" "$OUT" &&
		ok "$w under bt stopped with a register dump" || bad "$w under bt" "exit $RC: $(grep -Ei "$pat|error" "$OUT" | head -n2 | tr '\n' ' ')"
done
run_hvm bt-usertouch 60 run --engine bt --workload usertouch --out "$TMPDIR_IT/bt-usertouch"
[ "$RC" -eq 0 ] && ok "user access to kernel memory faults under bt" || bad "usertouch under bt" "exit $RC"
