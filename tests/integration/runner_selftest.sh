#!/usr/bin/env bash
# The test runner itself (tests/runner-lib.sh, what tests/run-all.sh counts with): each
# fixture suite in tests/fixtures/suites is run through run_suite, as make test runs a
# real suite, and the tally must be what the fixture deserves. A suite that dies
# midway, exits non-zero, prints no plan or more checks than planned, or hangs, counts
# as a failure; one that skips with a reason counts as skipped; and a tally holding a
# failure ends the run with a non-zero status and "N passed, N failed, N skipped". Also
# lib.sh's expectation tables: a case's row for this host's key, else its "*" row.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FIX=$ROOT/tests/fixtures/suites
T=$TMPDIR_IT

# fixture  passed failed skipped  what the first failure must say ("-": no failure)
CASES='passes.sh        2 0 0  -
fails-a-check.sh 1 1 0  second: the value was wrong
dies-midway.sh   1 1 0  planned 3 checks but printed 1
exits-nonzero.sh 1 1 0  exited with status 2
no-plan.sh       2 1 0  printed no plan line
too-many.sh      2 1 0  planned 1 checks but printed 2
two-plans.sh     1 1 0  a second plan line
hangs.sh         0 1 0  still running after 5 s
skips-all.sh     0 0 1  -
skips-rest.sh    1 0 2  -'
plan $(( $(printf '%s\n' "$CASES" | grep -c .) + 3 + 4 ))

# tally FIXTURE: run_suite on it in a fresh tally; prints "P F S|first failure" and
# leaves the runner's output in $T/FIXTURE.log.
tally() {
	(
		. "$ROOT/tests/runner-lib.sh"
		SUITE_TIMEOUT=5
		run_suite "$FIX/$1" >"$T/$1.log" 2>&1
		echo "$passed $failed $skipped|${failures[0]:-}"
	)
}

while read -r f p fl s want; do
	got=$(tally "$f")
	counts=${got%%|*} first=${got#*|}
	if [ "$counts" != "$p $fl $s" ]; then
		bad "runner on $f" "counted '$counts' (passed failed skipped), expected '$p $fl $s': $(tail -n 3 "$T/$f.log" | tr '\n' ' ')"
	elif [ "$want" = - ] && [ -n "$first" ]; then
		bad "runner on $f" "recorded a failure: $first"
	elif [ "$want" != - ] && [[ $first != *"$want"* ]]; then
		bad "runner on $f" "the failure says '$first', not '$want'"
	else
		ok "runner on $f: $p passed, $fl failed, $s skipped${first:+ ($first)}"
	fi
done <<<"$CASES"

# The fixture's own output reaches the log, and the skip says why.
grep -q '^skip - .*skips-all.sh: this host has no widget (fixture)$' "$T/skips-all.sh.log" &&
	ok "a suite that skips everything is one skip with its reason" ||
	bad "skip-all line" "$(tr '\n' ' ' <"$T/skips-all.sh.log")"

# What make test prints at its end: a broken suite makes the closing tally fail.
out=$(
	. "$ROOT/tests/runner-lib.sh"
	SUITE_TIMEOUT=20
	run_suite "$FIX/passes.sh" >/dev/null 2>&1
	run_suite "$FIX/dies-midway.sh" >/dev/null 2>&1
	summary
); rc=$?
[ "$rc" -ne 0 ] && [ "$(printf '%s\n' "$out" | tail -n 1)" = "3 passed, 1 failed, 0 skipped" ] &&
	ok "a suite that dies midway fails the run: '$(printf '%s\n' "$out" | tail -n 1)', status $rc" ||
	bad "summary after a broken suite" "status $rc: $(printf '%s' "$out" | tr '\n' ' ')"
out=$(
	. "$ROOT/tests/runner-lib.sh"
	run_suite "$FIX/passes.sh" >/dev/null 2>&1
	run_suite "$FIX/skips-all.sh" >/dev/null 2>&1
	summary
); rc=$?
[ "$rc" -eq 0 ] && [ "$(printf '%s\n' "$out" | tail -n 1)" = "2 passed, 0 failed, 1 skipped" ] &&
	ok "suites that keep their plans leave the run passing: '$(printf '%s\n' "$out" | tail -n 1)'" ||
	bad "summary of good suites" "status $rc: $(printf '%s' "$out" | tr '\n' ' ')"

# Expectation tables (lib.sh): the row of the host's key wins over "*", wherever it is.
TABLE='vmcall  kvm_pvm   3 watchdog     livelocks
vmcall  *         0 returned     the CPU returns
vmcall  bt        1 #UD          no VMX
other   kvm_intel 0 x            only Intel'
expect_row() { # expect_row CASE KEY WANT: WANT is "STATUS PATTERN", or "none"
	local got=none
	expectation "$TABLE" "$1" "$2" && got="$WANT_STATUS $WANT_PAT"
	[ "$got" = "$3" ] && ok "expectation $1 on $2: $3" || bad "expectation $1 on $2" "got '$got', want '$3'"
}
expect_row vmcall kvm_pvm "3 watchdog"
expect_row vmcall bt "1 #UD"
expect_row vmcall kvm_amd "0 returned"
expect_row other kvm_amd none
