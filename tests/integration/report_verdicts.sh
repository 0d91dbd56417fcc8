#!/usr/bin/env bash
# The report's verdict logic and the published figures' sources, as Python unittest
# cases (tests/python/test_*.py, standard library only) over hand-made runs whose shapes
# must hold, must not hold, or are not comparable. One line per case; a runner that dies
# without reporting its cases is a failure, not fewer checks.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

if ! command -v python3 >/dev/null; then
	skip "report verdicts" "python3 is not installed (scripts/setup-deps.sh installs it)"
	exit 0
fi
out=$TMPDIR_IT/verdicts.out
python3 "$ROOT/tests/python/run_tests.py" >"$out" 2>"$TMPDIR_IT/verdicts.err"; rc=$?
cat "$out"
plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$out" | head -n 1)
ran=$(grep -cE '^(ok|not ok|skip) - ' "$out")
if [ -z "$plan" ] || [ "$ran" -ne "$plan" ]; then
	bad "python unit tests" "the runner reported ${ran} of ${plan:-?} cases (exit $rc): $(tail -n 3 "$TMPDIR_IT/verdicts.err" | tr '\n' ' ')"
elif [ $rc -ne 0 ] && ! grep -q '^not ok - ' "$out"; then
	bad "python unit tests" "the runner exited $rc without a failing case: $(tail -n 3 "$TMPDIR_IT/verdicts.err" | tr '\n' ' ')"
fi
status=0
if grep -q '^not ok - ' "$out" || [ -z "$plan" ] || [ "$ran" -ne "$plan" ] || [ $rc -ne 0 ]; then
	sed -n '1,60p' "$TMPDIR_IT/verdicts.err" >&2
	status=1
fi
exit $status
