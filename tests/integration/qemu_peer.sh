#!/usr/bin/env bash
# The QEMU peers (hvpeer): the guest image under QEMU TCG and QEMU on KVM gives a run
# directory in hvm's format (same header, same rows for the same records, context and
# notes), with hvm's compute checksum and the boot command line hvm chooses for this
# host; a QEMU that does not finish is stopped at the timeout with what it reported
# kept; a missing QEMU is a skip (77); malformed @hvr lines are rejected by line number
# without a crash. Also hvm's forkwait run and its native column (a small host process
# doing the same fork+wait pairs), which the A&A forkwait comparison divides by.
# san: yes
. "$(dirname "$0")/lib.sh"
QEMU=${QEMU:-qemu-system-x86_64}
HVPEER=$HVLAB_BUILD/bin/hvpeer
ARGS=size=65536,rounds=8,reps=2
T=$TMPDIR_IT
HEADER='experiment,workload,params,engine,memvirt,flavour,spinlock,iopath,segbase,vcpus,pcpus,metric,value,unit,rep'

if [ ! -x "$HVPEER" ]; then skip_all "$HVPEER was not built (make)"; fi
# Checks per section: hvpeer parse, a missing QEMU, the clock check and the peers'
# descriptions (no QEMU needed);
# runs under QEMU.
N_PARSE=10 N_QEMU=11
plan $((N_PARSE + N_QEMU))

# peer NAME TIMEOUT args... : runs hvpeer, output in $OUT, exit status in $RC.
peer() {
	local name=$1 t=$2; shift 2
	OUT=$T/$name.out
	timeout "$t" "$HVPEER" "$@" >"$OUT" 2>&1
	RC=$?
}
# col FILE ENGINE METRIC: that engine's values of METRIC, one a line.
col() { awk -F, -v e="$2" -v m="$3" '$4 == e && $12 == m { print $13 }' "$1" 2>/dev/null; }
# shape FILE ENGINE: the rows' (experiment, workload, params, metric, unit), exit
# statistics and engine counters (experiment counters: KVM's or the translator's; hvm's
# alone) left out, sorted and unique.
shape() { awk -F, -v e="$2" '$4 == e && $3 !~ /^exit=/ && $1 != "counters" { print $1, $2, $3, $12, $14 }' "$1" | sort -u; }
note() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["notes"].get(sys.argv[2], ""))' "$1/summary.json" "$2" 2>/dev/null; }
# gnote RUN KEY: a note the guest reported (notes.guest).
gnote() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["notes"].get("guest", {}).get(sys.argv[2], ""))' "$1/summary.json" "$2" 2>/dev/null; }
# ctx RUN KEY: a field of the context block.
ctx() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["context"].get(sys.argv[2], ""))' "$1/summary.json" "$2" 2>/dev/null; }

# --- a malformed @hvr line is rejected by number, the rest recorded ------------------
cat >"$T/fake.log" <<'EOF'
hvlab guest: a console log with result lines, good and bad
@hvr kind=info workload=compute name=sysgate value=syscall
@hvr kind=value workload=compute name=checksum value=2105074943 unit=- rep=0 vcpu=0
@hvr kind=value workload=compute name=checksum value=12abc unit=- rep=1 vcpu=0
@hvr kind=nanobench workload=nanobench name=syscall iters=8 cycles=2029 baseline=104 unit=cycles rep=0 vcpu=0
@hvr kind=value workload=compute name=cycles_per_op value=1.5 unit=cycles rep=0
@hvr kind=bogus workload=compute name=x
@hvr kind=value workload=compute name=%4 value=1 unit=- rep=0 vcpu=0
@hvr kind=value workload=compute name=x value=1 unit=- rep=0 vcpu=5
EOF
printf '@hvr kind=value workload=compute name=%s value=1 unit=- rep=0 vcpu=0\n' "$(printf 'a%.0s' $(seq 1 300))" >>"$T/fake.log"
printf '@hvr kind=value workload=compute name=esc\033[2J value=1 unit=- rep=0 vcpu=0\n' >>"$T/fake.log"
peer parse 20 parse --out "$T/parsed" "$T/fake.log"
rej=$(note "$T/parsed" records_rejected)
if [ "$RC" -eq 1 ] && [ "$rej" = 7 ] && grep -q 'fake.log:4: result line rejected' "$OUT" &&
	grep -q 'fake.log:10: result line rejected (field name is longer' "$OUT" &&
	[ "$(col "$T/parsed/samples.csv" qemu-tcg checksum)" = 2105074943 ] &&
	[ "$(col "$T/parsed/samples.csv" qemu-tcg cycles_per_op)" = 253.625 ] &&
	[ "$(gnote "$T/parsed" sysgate)" = syscall ] && ! grep -q $'\033' "$OUT"; then
	ok "hvpeer parse: 7 malformed @hvr lines rejected by line number, 3 good ones recorded"
else
	bad "hvpeer parse" "exit $RC, $rej rejected: $(grep -v 'rejected' "$OUT" | head -n 3 | tr '\n' ' ')"
fi
peer parse-none 20 parse --out "$T/parsed-none" /dev/null
[ "$RC" -eq 1 ] && grep -q 'no well-formed @hvr' "$OUT" &&
	ok "hvpeer parse: a log without result lines is an error that says so" ||
	bad "parse of an empty log" "exit $RC: $(head -c 200 "$OUT")"

# --- a log captured elsewhere: the context says so instead of describing this host ----
m=$(ctx "$T/parsed" measured_on); h=$(ctx "$T/parsed" host)
[[ $m == "elsewhere: hvpeer parse read the console log $T/fake.log"* ]] &&
	[[ $h == "unavailable: measured on another host"* ]] &&
	[ "$(awk -F, 'NR > 1 { print $11; exit }' "$T/parsed/samples.csv")" = 0 ] &&
	ok "hvpeer parse: the context says the log may come from another host, and no host's facts" ||
	bad "parse context" "measured_on '$m', host '$h'"
peer parse-here 20 parse --captured-here --out "$T/parsed-here" "$T/fake.log"
[ "$(ctx "$T/parsed-here" measured_on)" = "this host" ] && [ "$(ctx "$T/parsed-here" host)" = "$(hostname)" ] &&
	ok "hvpeer parse --captured-here records this host's context" ||
	bad "parse --captured-here" "measured_on '$(ctx "$T/parsed-here" measured_on)', host '$(ctx "$T/parsed-here" host)'"

# --- the guest's rules hold for a log too: mode columns from its report, faults (3) ----
{
	echo "@hvr kind=info workload=nanobench name=flavour value=full"
	echo "@hvr kind=info workload=nanobench name=spinlock value=plain"
	echo "@hvr kind=info workload=nanobench name=iopath value=emul"
	echo "@hvr kind=info workload=nanobench name=engine value=evil"
	for i in $(seq 1 33); do
		echo "@hvr kind=nanobench workload=nanobench name=op$i iters=8 cycles=80 baseline=8 unit=cycles rep=0 vcpu=0"
	done
} >"$T/manyops.log"
peer manyops 20 parse --out "$T/manyops" "$T/manyops.log"
if [ "$RC" -eq 3 ] && grep -q 'manyops.log:37: .*32 operations' "$OUT" &&
	[ "$(awk -F, '$12 == "cycles_per_op"' "$T/manyops/samples.csv" | wc -l)" -eq 32 ] &&
	[ "$(note "$T/manyops" engine)" = qemu-tcg ] && [ "$(gnote "$T/manyops" engine)" = evil ]; then
	ok "hvpeer parse: a 33rd nanobenchmark is the guest's fault (exit 3); a guest note cannot overwrite the host's"
else
	bad "parse of 33 operations" "exit $RC, engine note '$(note "$T/manyops" engine)': $(grep -m2 'error' "$OUT" | tr '\n' ' ')"
fi
modes=$(awk -F, 'NR > 1 { print $6 "/" $7 "/" $8 }' "$T/manyops/samples.csv" | sort -u)
[ "$modes" = full/plain/emul ] && ok "the mode columns are the guest's report: $modes" ||
	bad "mode columns from the log" "'$(echo $modes)'"
printf '%s\n' "@hvr kind=info workload=compute name=flavour value=full" \
	"@hvr kind=value workload=compute name=checksum value=7 unit=- rep=0 vcpu=0" \
	"@hvr kind=info workload=compute name=flavour value=pv" >"$T/flip.log"
peer flip 20 parse --out "$T/flip" "$T/flip.log"
[ "$RC" -eq 3 ] && grep -q 'flip.log:3: mode report flavour=pv after flavour=full' "$OUT" &&
	ok "hvpeer parse: a guest whose reported mode changes mid-run misbehaves (exit 3)" ||
	bad "parse of a mode change" "exit $RC: $(grep -m2 'error' "$OUT" | tr '\n' ' ')"

# --- QEMU missing: a skip with the reason ----------------------------------------------
peer noqemu 20 run --engine qemu-tcg --workload hello --qemu "$T/no/such/qemu" --out "$T/noqemu"
[ "$RC" -eq 77 ] && grep -q 'skipped: engine qemu-tcg needs QEMU' "$OUT" &&
	ok "a missing QEMU makes hvpeer skip (77) with the reason" ||
	bad "missing QEMU" "exit $RC: $(head -c 200 "$OUT")"

# --- the peers describe themselves as hvm's engines do (hvpeer engines --json) ----------
"$HVPEER" engines --json >"$T/engines.json" 2>&1
if python3 - "$T/engines.json" "$(command -v qemu-system-x86_64 || true)" >"$T/engines.chk" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
es = {e["name"]: e for e in d["engines"]}
assert d["program"] == "hvpeer" and set(es) == {"qemu-tcg", "qemu-kvm"}, es.keys()
assert es["qemu-tcg"]["family"] == "translator" and es["qemu-kvm"]["family"] == "hardware"
assert es["qemu-tcg"]["needs"] == ["qemu"] and es["qemu-kvm"]["needs"] == ["qemu", "kvm"]
for e in es.values():
    assert e["kind"] == "peer" and (e["skip_reason"] is None) == e["available"], e
# qemu-tcg needs only QEMU: available exactly where it is on PATH
assert es["qemu-tcg"]["available"] == bool(sys.argv[2]), es["qemu-tcg"]
assert not es["qemu-tcg"]["available"] or es["qemu-tcg"]["memvirt"] == "softmmu"
PY
then
	ok "hvpeer engines --json describes qemu-tcg and qemu-kvm (kind peer, family, needs), qemu-tcg available where QEMU is"
else
	bad "hvpeer engines --json" "$(tail -n 2 "$T/engines.chk" | tr '\n' ' ')"
fi

# --- the guest TSC against the host clock: a guest TSC far faster than the host's ---
# A stand-in for QEMU prints the kernel's tsc_start and tsc_end records 0.6 s apart but
# 1.5e11 TSC cycles apart (30 s at 5 GHz or less), and exits as isa-debug-exit does for
# status 0.
cat >"$T/fastclock-qemu" <<'EOF'
#!/bin/sh
[ "$1" = -version ] && { echo "QEMU emulator version 0.0 (hvlab test stand-in)"; exit 0; }
echo "@hvr kind=info workload=hello name=tsc_start value=1000000"
sleep 0.6
echo "@hvr kind=info workload=hello name=tsc_end value=150001000000"
exit 1
EOF
chmod +x "$T/fastclock-qemu"
peer fastclock 30 run --engine qemu-tcg --workload hello --qemu "$T/fastclock-qemu" --out "$T/fastclock"
r=$(note "$T/fastclock" guest_tsc_vs_host_clock)
if [ "$RC" -eq 0 ] && grep -q "guest's TSC and the host's clock disagree" "$OUT" &&
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 5 else 1)' "$r" 2>/dev/null; then
	ok "a guest TSC running far faster than the host's clock is caught (ratio $r, warned)"
else
	bad "guest clock check" "exit $RC, ratio '$r': $(grep -i 'warn\|error' "$OUT" | head -n 2 | tr '\n' ' ')"
fi

if ! command -v "$QEMU" >/dev/null; then
	skip_rest "QEMU peer runs" "$QEMU is not installed (Debian package qemu-system-x86)"
fi
if [ ! -f "$HVLAB_BUILD/guest/kernel.elf" ]; then
	skip_rest "QEMU peer runs" "$HVLAB_BUILD/guest/kernel.elf was not built"
fi

# --- qemu-tcg: compute into hvm's format ------------------------------------------------
tcg=$T/tcg
peer tcg 60 run --engine qemu-tcg --workload "compute:$ARGS" --out "$tcg"
tsum=$(col "$tcg/samples.csv" qemu-tcg checksum | sort -u)
if [ "$RC" -eq 0 ] && [ "$(head -n1 "$tcg/samples.csv")" = "$HEADER" ] &&
	[ "$(awk -F, 'NR > 1 && NF != 15' "$tcg/samples.csv" | wc -l)" -eq 0 ] &&
	[ "$(col "$tcg/samples.csv" qemu-tcg cycles_per_op | wc -l)" -eq 2 ] &&
	awk -F, '$4 == "qemu-tcg" && $5 != "softmmu" { exit 1 }' "$tcg/samples.csv" &&
	[ -n "$(col "$tcg/samples.csv" qemu-tcg ratio_to_native)" ] &&
	[ "$(col "$tcg/samples.csv" native checksum | sort -u)" = "$tsum" ] &&
	[ -s "$tcg/console.log" ] && [ -e "$tcg/qemu.log" ]; then
	ok "qemu-tcg compute: hvm's header and columns, memvirt softmmu, native rows and ratio"
else
	bad "qemu-tcg compute" "exit $RC: $(grep -E 'error|warning' "$OUT" | head -n 3 | tr '\n' ' ')"
fi
python3 - "$tcg/summary.json" <<'PY' && ok "qemu-tcg run: libhvlab's context block, the QEMU notes, the mode the guest reported" ||
import json, sys
s = json.load(open(sys.argv[1]))
c, n = s["context"], s["notes"]
need_c = ("date", "host", "cpu_model", "kernel", "kvm", "tsc_hz", "compiler", "git_commit", "command")
need_n = ("qemu_version", "qemu_command", "guest_cmdline", "sysgate", "stop_kind", "guest_records")
g = n["guest"]
sys.exit(0 if all(k in c for k in need_c) and all(k in n for k in need_n) and
         n["engine"] == "qemu-tcg" and n["guest_status"] == "0" and
         c["measured_on"] == "this host" and
         all((x["flavour"], x["spinlock"], x["iopath"]) == (g["flavour"], g["spinlock"], g["iopath"])
             for x in s["groups"] if x["engine"] == "qemu-tcg") and
         any(g["engine"] == "qemu-tcg" for g in s["groups"]) else 1)
PY
	bad "qemu-tcg summary.json" "context or notes incomplete: $(head -c 300 "$tcg/summary.json")"

# nanobench harness=marginal: each body twice against once; pgfault cannot be doubled.
# (2^27 cycles per timed run: the whole run takes about a second, long enough for the
# clock check below.)
peer marginal 60 run --engine qemu-tcg --out "$T/marginal" \
	--workload nanobench:only=cpuid+ptemod+pgfault,reps=2,mincycles=134217728,harness=marginal
# rows OP FILE: qemu-tcg's cycles_per_op rows of OP (columns found by the header's names).
rows() { awk -F, -v op="$1" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
	$c["engine"] == "qemu-tcg" && $c["workload"] == op && $c["metric"] == "cycles_per_op"' "$2"; }
if [ "$RC" -eq 0 ] && [ "$(gnote "$T/marginal" harness)" = marginal ] &&
	[ "$(rows cpuid "$T/marginal/samples.csv" | wc -l)" -eq 2 ] &&
	[ "$(rows ptemod "$T/marginal/samples.csv" | wc -l)" -eq 2 ] &&
	[ "$(rows pgfault "$T/marginal/samples.csv" | wc -l)" -eq 0 ] &&
	grep -q 'pgfault: harness=marginal does not apply' "$T/marginal/console.log"; then
	ok "nanobench harness=marginal: cpuid and ptemod measured, pgfault skipped with the reason"
else
	bad "nanobench harness=marginal" "exit $RC, harness '$(gnote "$T/marginal" harness)': $(grep '^nanobench' "$T/marginal/console.log" | tail -n 3 | tr '\n' ' ')"
fi
# Under TCG the guest's TSC is the host's (QEMU's cpu_get_ticks() without -icount):
# the kernel's tsc_start and tsc_end span as much host time as guest TSC time, within
# the few milliseconds that printing and reading a line take (5% of half a second).
r=$(note "$T/marginal" guest_tsc_vs_host_clock); span=$(note "$T/marginal" host_clock_span_s)
[ -n "$(gnote "$T/marginal" tsc_start)" ] && [ -n "$(gnote "$T/marginal" tsc_end)" ] &&
	python3 -c 'import sys; r, s = float(sys.argv[1]), float(sys.argv[2])
sys.exit(0 if s >= 0.5 and abs(r - 1) < 0.05 else 1)' "$r" "$span" 2>/dev/null &&
	ok "qemu-tcg: the guest's TSC keeps the host's time (guest_tsc_vs_host_clock $r over $span s)" ||
	bad "qemu-tcg guest clock" "guest_tsc_vs_host_clock '$r' over '$span' s (tsc_start '$(gnote "$T/marginal" tsc_start)', tsc_end '$(gnote "$T/marginal" tsc_end)')"
peer badharness 60 run --engine qemu-tcg --out "$T/badharness" --workload nanobench:harness=none
[ "$RC" -eq 1 ] && grep -q "bad argument at 'harness=none'" "$T/badharness/console.log" &&
	ok "nanobench refuses an unknown harness" ||
	bad "nanobench harness=none" "exit $RC: $(grep '^nanobench' "$T/badharness/console.log" | head -n 2 | tr '\n' ' ')"

# hvm on KVM with the same arguments: the checksum and the shape of the rows.
why=$(kvm_unavailable)
if [ -z "$why" ]; then
	run_hvm hvm-compute 120 run --engine hw --workload "compute:$ARGS" --out "$T/hw"
	hsum=$(col "$T/hw/samples.csv" hw checksum | sort -u)
	[ -n "$tsum" ] && [ "$tsum" = "$hsum" ] &&
		ok "qemu-tcg compute checksum equals hvm's: $tsum" ||
		bad "qemu-tcg vs hvm checksum" "qemu-tcg '$tsum', hvm '$hsum'"
	if [ -n "$(shape "$T/hw/samples.csv" hw)" ] &&
		[ "$(shape "$tcg/samples.csv" qemu-tcg)" = "$(shape "$T/hw/samples.csv" hw)" ]; then
		ok "qemu-tcg and hvm write the same rows for the same workload"
	else
		bad "row shapes" "$(diff <(shape "$tcg/samples.csv" qemu-tcg) <(shape "$T/hw/samples.csv" hw) | head -n 4 | tr '\n' ' ')"
	fi
else
	nsum=$("$HVLAB_BUILD/bin/native-compute" "$ARGS" 2>/dev/null |
		sed -n 's/.*checksum \(0x[0-9a-f]*\).*/\1/p' | sort -u | while read -r h; do printf '%d\n' "$h"; done)
	[ -n "$tsum" ] && [ "$tsum" = "$nsum" ] &&
		ok "qemu-tcg compute checksum equals native-compute's ($why)" ||
		bad "qemu-tcg vs native checksum" "qemu-tcg '$tsum', native '$nsum'"
	skip "row shapes of qemu-tcg and hvm" "$why"
fi

# --- the timeout: QEMU stopped, what was reported kept, exit 3 ---------------------------
start=$(date +%s)
peer hang 30 run --engine qemu-tcg --workload hang --timeout 2 --out "$T/hang"
took=$(( $(date +%s) - start ))
recs=$(note "$T/hang" guest_records)
if [ "$RC" -eq 3 ] && [ "$took" -le 10 ] && [ "$(note "$T/hang" stop_kind)" = "guest hung (watchdog)" ] &&
	[ "${recs:-0}" -ge 1 ] && grep -q 'hang: spinning' "$T/hang/console.log" &&
	grep -q 'terminating on signal 15' "$T/hang/qemu.log"; then
	ok "a QEMU that does not finish is stopped at the timeout (exit 3, $recs records kept, ${took} s)"
else
	bad "QEMU timeout" "exit $RC after ${took} s, stop '$(note "$T/hang" stop_kind)', records '$recs'"
fi

# --- a guest that fails: its status through isa-debug-exit -----------------------------
peer fail 30 run --engine qemu-tcg --workload true:3 --out "$T/fail"
[ "$RC" -eq 1 ] && [ "$(note "$T/fail" stop_kind)" = "guest exit" ] &&
	[ "$(note "$T/fail" guest_status)" = 1 ] &&
	ok "a failing guest's status reaches hvpeer through isa-debug-exit (exit 1)" ||
	bad "guest failure status" "exit $RC, stop '$(note "$T/fail" stop_kind)', status '$(note "$T/fail" guest_status)'"

# --- hvm's forkwait and its native column ------------------------------------------------
if [ -z "$why" ]; then
	run_hvm forkwait 120 run --engine hw --workload forkwait:n=20,reps=2 --out "$T/fw"
	g=$(col "$T/fw/samples.csv" hw checksum | sort -u)
	n=$(col "$T/fw/samples.csv" native checksum | sort -u)
	r=$(col "$T/fw/samples.csv" hw ratio_to_native)
	[ "$RC" -eq 0 ] && [ -n "$g" ] && [ "$g" = "$n" ] && [ -n "$r" ] &&
		[ "$(col "$T/fw/samples.csv" native cycles_per_op | wc -l)" -eq 2 ] &&
		ok "hvm forkwait: native forkwait with the guest's checksum, ratio $r" ||
		bad "hvm forkwait native column" "exit $RC, guest '$g', native '$n', ratio '$r'"
else
	skip "hvm forkwait native column" "$why"
fi

# --- qemu-kvm: the guest command line and memvirt hvm chooses for this host -------------
if [ -n "$why" ]; then
	skip "qemu-kvm" "$why"; exit 0
fi
kvm=$T/kvm
peer kvm 120 run --engine qemu-kvm --workload "compute:$ARGS" --out "$kvm"
ksum=$(col "$kvm/samples.csv" qemu-kvm checksum | sort -u)
kmv=$(awk -F, '$4 == "qemu-kvm" { print $5; exit }' "$kvm/samples.csv")
hmv=$(awk -F, '$4 == "hw" { print $5; exit }' "$T/hw/samples.csv")
hline=$(note "$T/hw" guest_cmdline); kline=$(note "$kvm" guest_cmdline)
if [ "$RC" -eq 0 ] && [ -n "$ksum" ] && [ "$ksum" = "$hsum" ] && [ "$kmv" = "$hmv" ] &&
	[ -n "$hline" ] && [ "$kline" = "$hline" ]; then
	ok "qemu-kvm compute: hvm's checksum, memvirt $kmv and guest command line '$kline'"
else
	bad "qemu-kvm compute" "exit $RC, checksum '$ksum' vs '$hsum', memvirt '$kmv' vs '$hmv', cmdline '$kline' vs '$hline'"
fi
