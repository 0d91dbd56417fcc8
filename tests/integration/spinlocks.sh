#!/usr/bin/env bash
# Spinlock modes (spinlock=plain|pv-yield|pv-halt): a lock torture of 4 vCPUs on 2 host
# CPUs under each mode and engine finds no lost update (locks checks its counter, the
# SMP forkwait its processes' checksums) and no hang, with the same checksums under
# every mode; a low spin threshold makes the enlightened modes really take their slow
# paths (counted by the VMM); kicks to vCPUs that are not waiting and bad arguments to
# the spin hypercalls are answered and harmless (wildspin); the threshold reaches the
# guest from --spin-threshold (CPUID) and spinthreshold= overrides it; bad values are
# refused naming them.
# san: yes
. "$(dirname "$0")/lib.sh"

MODES="plain pv-yield pv-halt"
ENGINES="bt hw"
# per engine: locks and forkwait per mode (6), equal checksums (2), slow paths (1),
# wildspin (1); then the threshold (2) and the refusals (2)
plan $(( $(echo $ENGINES | wc -w) * 10 + 5 ))

col() { awk -F, -v m="$2" '$12 == m { print $13 }' "$1" 2>/dev/null; }
note() { grep -o "\"$2\": *[0-9.e+]*" "$1" 2>/dev/null | head -n1 | sed 's/.*: *//'; }
# the spinlock mode column of the workload's rows
mode_col() { awk -F, -v w="$2" '$2 == w && $4 != "native" { print $7 }' "$1" 2>/dev/null | sort -u | tr '\n' ' '; }

for e in $ENGINES; do
	if [ "$e" = hw ]; then
		why=$(kvm_unavailable)
		if [ -n "$why" ]; then skip_n 10 "spinlock modes under hw" "$why"; continue; fi
	fi
	declare -A LCK=() FCK=()
	for m in $MODES; do
		# threshold 64: the enlightened modes leave the spin loop after ~4k cycles, so
		# the torture goes through their slow paths and kicks thousands of times
		d=$TMPDIR_IT/$e-locks-$m
		run_hvm "$e-locks-$m" 240 run --engine "$e" --vcpus 4 --pin 0-1 --spin-threshold 64 \
			--workload locks:iters=400,think=500,reps=2 --cmdline "spinlock=$m" --out "$d"
		LCK[$m]=$(col "$d/samples.csv" checksum | sort -u | tr '\n' ' ')
		mc=$(mode_col "$d/samples.csv" locks)
		if [ "$RC" -eq 0 ] && [ "$(echo ${LCK[$m]} | wc -w)" -eq 1 ] && [ "$mc" = "$m " ]; then
			ok "locks under $e, $m, 4 vCPUs on 2 host CPUs: no lost update, checksum ${LCK[$m]}"
		else
			bad "locks under $e, $m" "exit $RC, checksums '${LCK[$m]}', mode column '$mc': $(grep -m2 -E 'FAIL|error' "$TMPDIR_IT/$e-locks-$m.out")"
		fi
		n=20; [ "$e" = hw ] && n=6
		d=$TMPDIR_IT/$e-fw-$m
		run_hvm "$e-fw-$m" 240 run --engine "$e" --vcpus 4 --pin 0-1 --spin-threshold 64 \
			--workload forkwait:n=$n,procs=4,reps=2 --cmdline "spinlock=$m" --out "$d"
		FCK[$m]=$(col "$d/samples.csv" checksum | sort -u | tr '\n' ' ')
		if [ "$RC" -eq 0 ] && [ "$(echo ${FCK[$m]} | wc -w)" -eq 1 ]; then
			ok "SMP forkwait under $e, $m (4 processes): checksum ${FCK[$m]}"
		else
			bad "SMP forkwait under $e, $m" "exit $RC, checksums '${FCK[$m]}': $(grep -m2 -E 'FAIL|error' "$TMPDIR_IT/$e-fw-$m.out")"
		fi
	done
	for w in locks forkwait; do
		if [ "$w" = locks ]; then a=${LCK[plain]}; b=${LCK[pv-yield]}; c=${LCK[pv-halt]};
		else a=${FCK[plain]}; b=${FCK[pv-yield]}; c=${FCK[pv-halt]}; fi
		if [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ]; then
			ok "$w under $e: every spinlock mode gives checksum $a"
		else
			bad "$w under $e: checksums by mode" "plain '$a', pv-yield '$b', pv-halt '$c'"
		fi
	done
	# long enough (400 ms) for the host to preempt vCPUs mid-run
	for m in pv-yield pv-halt; do
		run_hvm "$e-slow-$m" 120 run --engine "$e" --vcpus 4 --pin 0-1 --spin-threshold 64 \
			--workload locks:ms=400,think=500,reps=1 --cmdline "spinlock=$m" --out "$TMPDIR_IT/$e-slow-$m"
	done
	sy=$TMPDIR_IT/$e-slow-pv-yield/summary.json; sh=$TMPDIR_IT/$e-slow-pv-halt/summary.json
	nt=$(note "$sy" hcall_spin_notify); wt=$(note "$sh" hcall_spin_wait); kk=$(note "$sh" hcall_spin_kick)
	pn=$(note "$TMPDIR_IT/$e-locks-plain/summary.json" hcall_spin_wait)
	if [ "${nt:-0}" != 0 ] && [ "${wt:-0}" != 0 ] && [ "${kk:-0}" != 0 ] && [ -z "$pn" ]; then
		ok "under $e the slow paths ran: pv-yield $nt notifications, pv-halt $wt waits and $kk kicks, plain none"
	else
		bad "slow paths under $e" "notify '$nt', wait '$wt', kick '$kk', plain's waits '$pn'"
	fi
	run_hvm "$e-wildspin" 60 run --engine "$e" --vcpus 2 --workload wildspin --out "$TMPDIR_IT/$e-wildspin"
	if [ "$RC" -eq 0 ] && grep -q "every call answered as it should" "$OUT" &&
	   [ "$(note "$TMPDIR_IT/$e-wildspin/summary.json" hcall_spin_kick_refused)" = 2 ]; then
		ok "wildspin under $e: kicks to vCPUs not waiting are harmless, bad arguments refused and counted"
	else
		bad "wildspin under $e" "exit $RC: $(grep -E 'wildspin:|error' "$OUT" | tail -n3 | tr '\n' ' ')"
	fi
done

# The threshold: the VMM's CPUID leaf, and the guest's own word over it.
e=bt
run_hvm thr-cpuid 60 run --engine $e --vcpus 2 --spin-threshold 777 --workload locks:iters=10,reps=1 \
	--cmdline spinlock=pv-halt --out "$TMPDIR_IT/thr-cpuid"
if [ "$RC" -eq 0 ] && grep -q "threshold 777," "$OUT"; then
	ok "--spin-threshold 777 reaches the guest through CPUID leaf 0x40000104"
else
	bad "--spin-threshold" "exit $RC: $(grep -m1 'locks:' "$OUT")"
fi
run_hvm thr-cmdline 60 run --engine $e --vcpus 2 --spin-threshold 777 --workload locks:iters=10,reps=1 \
	--cmdline "spinlock=pv-halt spinthreshold=555" --out "$TMPDIR_IT/thr-cmdline"
if [ "$RC" -eq 0 ] && grep -q "threshold 555," "$OUT"; then
	ok "spinthreshold=555 on the boot line overrides the VMM's 777"
else
	bad "spinthreshold=" "exit $RC: $(grep -m1 'locks:' "$OUT")"
fi

# The time-bounded SMP forkwait: as many forks as fit in the time, checksum = processes.
run_hvm fw-ms 60 run --engine $e --vcpus 2 --workload forkwait:ms=300,procs=2,reps=2 \
	--out "$TMPDIR_IT/fw-ms"
ops=$(col "$TMPDIR_IT/fw-ms/samples.csv" ops | sort -u | head -n1)
if [ "$RC" -eq 0 ] && [ "$(col "$TMPDIR_IT/fw-ms/samples.csv" checksum | sort -u)" = 2 ] &&
   [ "${ops%.*}" -gt 0 ] 2>/dev/null; then
	ok "forkwait ms=300,procs=2 forks for the time given ($ops forks and more), checksum 2"
else
	bad "forkwait ms=" "exit $RC, ops '$ops': $(grep -m2 -E 'FAIL|error|bad' "$OUT")"
fi

# Refusals name what is wrong.
run_hvm bad-mode 60 run --engine $e --workload locks:iters=10,reps=1 --cmdline spinlock=mcs \
	--out "$TMPDIR_IT/bad-mode"
if [ "$RC" -ne 0 ] && grep -q "spinlock=mcs" "$OUT" && grep -q "pv-halt" "$OUT"; then
	ok "spinlock=mcs stops the boot naming the word and the modes there are"
else
	bad "spinlock=mcs" "exit $RC: $(tail -n2 "$OUT" | tr '\n' ' ')"
fi
run_hvm bad-thr 60 run --engine $e --workload locks --spin-threshold 0 --out "$TMPDIR_IT/bad-thr"
if [ "$RC" -ne 0 ] && grep -q -- "--spin-threshold" "$OUT" && [ ! -e "$TMPDIR_IT/bad-thr" ]; then
	ok "--spin-threshold 0 is refused naming the option, before any run directory"
else
	bad "--spin-threshold 0" "exit $RC: $(tail -n2 "$OUT" | tr '\n' ' ')"
fi
