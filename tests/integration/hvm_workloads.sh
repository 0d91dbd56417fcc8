#!/usr/bin/env bash
# The macro workloads on KVM: each runs, reports its figures and a checksum, the
# checksum is the same in every repetition, in a second run, with copy-on-write fork,
# and (compute, memwalk) in hvm's native run of the same core; the guest boots with 1,
# 2 and 4 vCPUs on this machine (more vCPUs than host CPUs included); --pin binds the
# vCPU threads and a malformed list is refused by name; TLB shootdowns to busy CPUs
# complete; a user program touching kernel memory still faults.
# san: yes
. "$(dirname "$0")/lib.sh"

# Small arguments: the whole suite takes well under a minute on a kvm_pvm host.
declare -A ARGS=(
	[forkwait]=n=20,reps=2
	[compute]=size=256K,rounds=8,reps=2
	[memwalk]=ws=8M,steps=200000,reps=2
	[ptchurn]=iters=8,pages=8,reps=2
	[ctxswitch]=n=50,reps=2
	[locks]=iters=300,reps=2
)
WORKLOADS="forkwait compute memwalk ptchurn ctxswitch locks"
# --pin refusal; each workload; compute again; 2 native columns; 2 copy-on-write; exec;
# 2 forktest; 3 vCPU counts; 2 --pin; 2 TLB shootdowns; usertouch
plan $((1 + $(echo $WORKLOADS | wc -w) + 1 + 2 + 2 + 1 + 2 + 3 + 2 + 2 + 1))

if [ -x "$HVM" ]; then
	run_hvm pin-bad 10 run --engine hw --workload hello --pin 0-x
	[ "$RC" -eq 2 ] && grep -q -- "--pin" "$OUT" && grep -q "0-x" "$OUT" &&
		ok "malformed --pin list refused naming it" || bad "malformed --pin" "exit $RC: $(head -n2 "$OUT" | tr '\n' ' ')"
else
	skip "option checks" "$HVM was not built"
fi

why=$(kvm_unavailable)
if [ -n "$why" ]; then skip_rest "workloads on KVM" "$why"; fi

# col FILE ENGINE METRIC: the values of METRIC for ENGINE in a samples.csv, one a line.
col() { awk -F, -v e="$2" -v m="$3" '$4 == e && $12 == m { print $13 }' "$1" 2>/dev/null; }

# wl NAME LABEL [hvm options...]: runs workload NAME with its small arguments; leaves
# the run directory in $TMPDIR_IT/LABEL and its single checksum in $CK ("" unless every
# repetition agreed).
wl() {
	local w=$1 label=$2; shift 2
	run_hvm "$label" 120 run --engine hw --workload "$w:${ARGS[$w]}" --out "$TMPDIR_IT/$label" "$@"
	CK=$(col "$TMPDIR_IT/$label/samples.csv" hw checksum | sort -u)
	[ "$(printf '%s\n' "$CK" | grep -c .)" -eq 1 ] || CK=
}

for w in $WORKLOADS; do
	vc=1
	[ "$w" = locks ] && vc=2
	wl "$w" "$w" --vcpus $vc
	n=$(col "$TMPDIR_IT/$w/samples.csv" hw cycles_per_op | grep -c .)
	if [ "$RC" -eq 0 ] && [ -n "$CK" ] && [ "$n" -ge 2 ]; then
		ok "$w runs on KVM: $n repetitions, checksum $CK in each"
	else
		bad "$w on KVM" "exit $RC, checksum '$CK', $n cycles_per_op rows: $(grep -E 'FAIL|panic|killed' "$OUT" | head -n2 | tr '\n' ' ')"
	fi
	eval "CK_$w=\$CK"
done

# The same input gives the same checksum: a second run, and hvm's native run.
wl compute compute2
[ -n "$CK" ] && [ "$CK" = "$CK_compute" ] && ok "compute checksum is the same in a second run" ||
	bad "compute rerun" "checksum '$CK' vs '$CK_compute'"
for w in compute memwalk; do
	nat=$(col "$TMPDIR_IT/$w/samples.csv" native checksum | sort -u)
	ratio=$(col "$TMPDIR_IT/$w/samples.csv" hw ratio_to_native)
	[ -n "$nat" ] && [ "$nat" = "$(eval echo \$CK_$w)" ] && [ -n "$ratio" ] &&
		ok "$w: hvm's native run of the same core gives the guest's checksum (ratio $ratio)" ||
		bad "$w native column" "native checksum '$nat', guest '$(eval echo \$CK_$w)', ratio '$ratio'"
done
for w in forkwait ctxswitch; do
	wl "$w" "$w-cow" --cmdline cow=1
	[ "$RC" -eq 0 ] && [ -n "$CK" ] && [ "$CK" = "$(eval echo \$CK_$w)" ] &&
		python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["notes"]["guest"]["fork"] != "cow")' \
			"$TMPDIR_IT/$w-cow/summary.json" 2>/dev/null &&
		ok "$w with copy-on-write fork: same checksum" ||
		bad "$w with cow=1" "exit $RC, checksum '$CK' vs '$(eval echo \$CK_$w)'"
done

# fork+exec+wait: the exec'd program exits with the status the child would have.
run_hvm forkexec 120 run --engine hw --workload "forkwait:${ARGS[forkwait]},exec=1" --out "$TMPDIR_IT/forkexec"
ck=$(col "$TMPDIR_IT/forkexec/samples.csv" hw checksum | sort -u)
[ "$RC" -eq 0 ] && [ -n "$ck" ] && [ "$ck" = "$CK_forkwait" ] && ok "forkwait with exec: same checksum" ||
	bad "forkwait exec=1" "exit $RC, checksum '$ck' vs '$CK_forkwait'"

# The process layer: fork (copied and copy-on-write) keeps every page of stack, heap
# and shared area right through page-table recycling; exec, wait, threads, sbrk, setcpu.
for c in 0 1; do
	run_hvm "forktest$c" 120 run --engine hw --vcpus 2 --workload forktest --cmdline cow=$c --out "$TMPDIR_IT/forktest$c"
	[ "$RC" -eq 0 ] && grep -q "forktest: PASS" "$OUT" && ok "process layer checks pass (cow=$c, 2 vCPUs)" ||
		bad "forktest cow=$c" "exit $RC: $(grep -E 'FAIL|panic|killed' "$OUT" | head -n2 | tr '\n' ' ')"
done

# 1, 2 and 4 vCPUs on this machine: every CPU starts, and a lock workload with one
# process per CPU keeps mutual exclusion (its checksum is the acquisition count).
for v in 1 2 4; do
	run_hvm "vcpus$v" 120 run --engine hw --vcpus $v --workload locks:iters=100,reps=1 --out "$TMPDIR_IT/vcpus$v"
	ck=$(col "$TMPDIR_IT/vcpus$v/samples.csv" hw checksum)
	[ "$RC" -eq 0 ] && grep -q "smp: $v CPU(s) online" "$OUT" && [ "$ck" = $((v * 100)) ] &&
		ok "boots with $v vCPU(s) on $(nproc) host CPUs; $v lock contenders agree" ||
		bad "$v vCPUs" "exit $RC, checksum '$ck': $(grep -E 'smp|FAIL|panic' "$OUT" | tr '\n' ' ')"
done

# --pin: every vCPU thread on the listed CPUs, recorded in the mode columns and notes.
run_hvm pin 60 run --engine hw --vcpus 2 --pin 0 --workload hello --out "$TMPDIR_IT/pin"
pc=$(awk -F, 'NR > 1 { print $10 "/" $11; exit }' "$TMPDIR_IT/pin/samples.csv" 2>/dev/null)
[ "$RC" -eq 0 ] && [ "$pc" = 2/1 ] && grep -q '"pin": *"0"' "$TMPDIR_IT/pin/summary.json" &&
	ok "--pin 0 runs 2 vCPUs on 1 host CPU (vcpus/pcpus $pc)" || bad "--pin 0" "exit $RC, vcpus/pcpus '$pc'"
run_hvm pin-absent 60 run --engine hw --pin 4095 --workload hello --out "$TMPDIR_IT/pin-absent"
[ "$RC" -eq 4 ] && grep -q 4095 "$OUT" && ok "--pin with a CPU this host lacks fails naming it" ||
	bad "--pin 4095" "exit $RC: $(grep -i pin "$OUT" | head -n2 | tr '\n' ' ')"

# TLB shootdowns to CPUs busy in user mode, with 2 vCPUs and overcommitted with 4.
for v in 2 4; do
	run_hvm "tlb$v" 120 run --engine hw --vcpus $v --workload tlbshoot:rounds=20 --out "$TMPDIR_IT/tlb$v"
	sd=$(col "$TMPDIR_IT/tlb$v/samples.csv" hw shootdowns)
	[ "$RC" -eq 0 ] && grep -q "tlbshoot: PASS" "$OUT" && [ "${sd:-0}" -ge $((20 * (v - 1))) ] &&
		ok "TLB shootdowns complete with $v vCPUs: $sd acknowledged ($(sed -n 's/.*IPIs (\([0-9]*\) re-sent).*/\1/p' "$OUT") IPIs re-sent)" ||
		bad "shootdown with $v vCPUs" "exit $RC, $sd shootdowns: $(grep -E 'tlbshoot|panic' "$OUT" | tail -n2 | tr '\n' ' ')"
done

run_hvm usertouch 60 run --engine hw --vcpus 2 --workload usertouch --out "$TMPDIR_IT/usertouch"
[ "$RC" -eq 0 ] && grep -q "usertouch: PASS" "$OUT" && ok "user access to kernel memory faults (2 vCPUs)" ||
	bad "usertouch" "exit $RC: $(tail -n 3 "$OUT" | tr '\n' ' ')"
