# The counting half of tests/run-all.sh, sourced by it and by the runner's own test
# (tests/integration/runner_selftest.sh). Every suite adds to one tally, printed at the
# end as "N passed, N failed, N skipped".
#
# An integration suite speaks kselftest's TAP (tests/integration/lib.sh): first a plan
# line "1..N" saying how many checks it will print, then one line per check, "ok - NAME",
# "not ok - NAME: why" or "skip - NAME: reason"; a suite that can run none of its checks
# prints "1..0 # SKIP reason" alone. A suite fails as a whole, besides its own "not ok"
# lines, when it prints no plan, prints more or fewer checks than it planned (it died
# midway, or lost checks), exits non-zero, or outlives SUITE_TIMEOUT seconds.
# shellcheck shell=bash

# The last element of a pipeline runs in this shell (run_suite's loop keeps its counts);
# this holds in a script, where job control is off.
shopt -s lastpipe

passed=0 failed=0 skipped=0
failures=()
SUITE_TIMEOUT=${SUITE_TIMEOUT:-1800}

count() { # count pass|fail|skip NAME
	case $1 in
	pass) passed=$((passed + 1)) ;;
	fail) failed=$((failed + 1)); failures+=("$2") ;;
	skip) skipped=$((skipped + 1)) ;;
	esac
}

# A cmocka binary: add its own summary ("[  PASSED  ] N test(s)." etc.) to the totals.
# A binary that dies without a summary, or exits non-zero, counts as a failure.
run_cmocka() { # run_cmocka LABEL BINARY
	local label=$1 bin=$2 out rc p f s
	out=$(timeout 300 "$bin" 2>&1); rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\..*/\1/p' | tail -n1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s).*/\1/p' | tail -n1)
	s=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s).*/\1/p' | tail -n1)
	p=${p:-0} f=${f:-0} s=${s:-0}
	if [ -z "$(printf '%s\n' "$out" | grep -E '^\[  (PASSED|FAILED)  \]')" ] || { [ $rc -ne 0 ] && [ "$f" -eq 0 ]; }; then
		echo "not ok - $label: exited $rc without a cmocka summary of its failure"
		f=$((f + 1)); failures+=("$label (exit $rc)")
	elif [ "$f" -gt 0 ]; then
		failures+=("$label ($f failed)")
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# One integration suite: its check lines are counted as they come, then the suite as a
# whole is judged by its plan and its exit status (see the top of this file).
run_suite() { # run_suite SCRIPT [VAR=VALUE...]
	local script=$1 line plan="" skip_all="" n=0 rc why=""; shift
	echo "=== integration: $script $*"
	timeout -k 10 "$SUITE_TIMEOUT" env "$@" bash "$script" 2>&1 |
	while IFS= read -r line; do
		printf '%s\n' "$line"
		case $line in
		"ok - "*) n=$((n + 1)); count pass "$line" ;;
		"not ok - "*) n=$((n + 1)); count fail "$script: ${line#not ok - }" ;;
		"skip - "*) n=$((n + 1)); count skip "$line" ;;
		1..*)
			if [ -n "$plan" ]; then
				why="a second plan line '$line'"
			elif [[ $line =~ ^1\.\.0\ \#\ SKIP\ (.+)$ ]]; then
				plan=0 skip_all=${BASH_REMATCH[1]}
			elif [[ $line =~ ^1\.\.([0-9]+)$ ]]; then
				plan=${BASH_REMATCH[1]}
			fi
			;;
		esac
	done
	rc=${PIPESTATUS[0]}
	if [ -z "$why" ]; then
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			why="still running after ${SUITE_TIMEOUT} s (stopped)"
		elif [ -z "$plan" ]; then
			why="printed no plan line (1..N) before its checks"
		elif [ "$n" -ne "$plan" ]; then
			why="planned $plan checks but printed $n (it died midway or lost checks)"
		elif [ "$rc" -ne 0 ]; then
			why="exited with status $rc"
		fi
	fi
	if [ -n "$why" ]; then
		echo "not ok - $script: $why"
		count fail "$script: $why"
	elif [ -n "$skip_all" ]; then
		echo "skip - $script: $skip_all"
		count skip "$script: $skip_all"
	fi
}

# The closing lines; returns non-zero when anything failed.
summary() {
	if [ ${#failures[@]} -gt 0 ]; then
		echo "Failures:"
		printf '  %s\n' "${failures[@]}"
	fi
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
}
