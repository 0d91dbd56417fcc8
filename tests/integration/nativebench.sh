#!/usr/bin/env bash
# The native baseline harness writes a complete run directory.
# san: yes
. "$(dirname "$0")/lib.sh"
NB=$HVLAB_BUILD/bin/nativebench
out=$TMPDIR_IT/native
OPS="syscall pgfault protfault divzero callret ptemod cpuid rdtsc"
CONTEXT="date host cpu_model cores caches kernel kvm.flavour kvm.paging host_vm.is_vm
host_vm.how host_vm.cpuid_hypervisor_bit host_vm.cpuid_vendor host_vm.dmi tsc_hz
tsc_source compiler cflags git_commit git_dirty command seed papi freq_scaling measured_on"
plan $(( 4 + $(echo $OPS | wc -w) + $(echo $CONTEXT | wc -w) ))

"$NB" --reps 2 --min-cycles 200000 --out "$out" >"$TMPDIR_IT/nb.log" 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then
	bad "nativebench runs" "exit $rc ($(tail -n 3 "$TMPDIR_IT/nb.log" | tr '\n' ' '))"
	skip_rest "nativebench results" "nativebench did not run"
fi
ok "nativebench runs"

csv=$out/samples.csv
[ -f "$csv" ] && head -n1 "$csv" | grep -q '^experiment,workload,params,engine' &&
	ok "nativebench writes samples.csv with its header" || bad "nativebench samples.csv" "missing or no header"
for op in $OPS; do
	n=$(awk -F, -v op="$op" '$2 == op && $12 == "cycles_per_op" && $13 > 0' "$csv" | wc -l)
	[ "$n" -eq 2 ] && ok "nativebench measures $op twice" || bad "nativebench $op" "$n positive cycles_per_op rows, expected 2"
done
s=$out/summary.json
if [ -f "$s" ] && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$s" 2>/dev/null; then
	ok "summary.json is valid JSON"
else
	bad "summary.json" "missing or not valid JSON"
fi
for f in $CONTEXT; do
	python3 - "$s" "$f" <<'PY' && ok "context has $f" || bad "context $f" "missing or empty"
import json, sys
c = json.load(open(sys.argv[1]))["context"]
v, absent = c, object()
for k in sys.argv[2].split("."):
    v = v.get(k, absent) if isinstance(v, dict) else absent
# a fact or "unavailable: reason"; a boolean may be null (not known), never absent
sys.exit(0 if v is not absent and v != "" and (v is not None or k == "is_vm") else 1)
PY
done
# The recorded flags are the ones the build used; a sanitizer build names both
# sanitizers (a lost comma once recorded -fsanitize=addressundefined).
cflags=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["context"]["cflags"])' "$s" 2>/dev/null)
case $cflags in
*-fsanitize=address,undefined*) ok "cflags of this sanitizer build: $cflags" ;;
*fsanitize*) bad "cflags" "sanitizer flags recorded wrongly: $cflags" ;;
*) ok "cflags of this build (no sanitizer): $cflags" ;;
esac
