# Shared by the lab checks (sourced): tests/integration/lib.sh's run_hvm, ok and bad,
# and a few readers of a run directory. A check prints exactly one line, "ok - NAME" or
# "not ok - NAME: why"; labs/grade.py gives its points when it prints ok and exits 0.
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/integration/lib.sh"

# metric DIR NAME: the value of metric NAME in DIR/samples.csv (the first row).
metric() { awk -F, -v m="$2" '$12 == m { print $13; exit }' "$1/samples.csv" 2>/dev/null; }
# note DIR NAME: a number from the run's notes (summary.json).
note() { grep -o "\"$2\": *[0-9.e+]*" "$1/summary.json" 2>/dev/null | head -n1 | sed 's/.*: *//'; }
# why: the lines of hvm's output that say what went wrong, on one line.
why() { grep -aE 'lab [0-9]: not implemented|error|stopp|panic|FAIL|WRONG|NOT REFUSED|Abort' "$OUT" 2>/dev/null | head -n 2 | tr '\n' ' ' | tr -cd '[:print:]'; }
# bt RUNNAME TIMEOUT ARGS...: hvm run under the translator, its run directory $D.
bt() { local n=$1 t=$2; shift 2; D=$TMPDIR_IT/$n; run_hvm "$n" "$t" run --engine bt --out "$D" "$@"; }
# unit NAME: a cmocka suite of the build, passing every case.
unit() {
	local t=$HVLAB_BUILD/tests/$1
	if [ ! -x "$t" ]; then bad "$1" "$t was not built"; return; fi
	OUT=$TMPDIR_IT/$1.out
	timeout -k 5 120 "$t" >"$OUT" 2>&1
	RC=$?
	if [ "$RC" -eq 0 ]; then
		ok "$1: $(grep -o '[0-9]* test(s) run' "$OUT")"
	else
		bad "$1" "exit $RC: $(grep -E '^\[  FAILED  \]|^\[  ERROR   \]|lab [0-9]' "$OUT" | head -n 3 | tr '\n' ' ')"
	fi
}
# emul_io WHAT: the emul-io check of labs 1 and 3: 48 requests through the emul block
# device's registers (port I/O exits under lab 1, 4-byte in/out call-outs under lab 3),
# read back intact; WHAT says which part the lab exercises.
emul_io() {
	bt emul 60 --workload io:count=48,qd=4,mix=50,reps=1,seed=7 --cmdline io=emul
	local req err
	req=$(metric "$D" device_requests) err=$(metric "$D" errors)
	if [ "$RC" -eq 0 ] && [ "${req%.*}" = 48 ] && [ "${err%.*}" = 0 ]; then
		ok "emul-io: 48 requests through $1, read back intact"
	else
		bad emul-io "exit $RC, device requests '$req', errors '$err': $(why)"
	fi
}
# unknown_check NAME: the check is not this lab's.
unknown_check() { echo "not ok - $1: no such check (labs/labs.txt lists them)"; exit 2; }
