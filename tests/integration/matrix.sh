#!/usr/bin/env bash
# The matrix runner, figures and report: matrix-file errors name file, line and reason;
# failed, timed-out and skipped cells are recorded and the matrix goes on; a run killed
# with SIGKILL or stopped with SIGTERM resumes to exactly one outcome per cell; figures
# and the report build from the committed fixture run directory.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MATRIX=$ROOT/scripts/matrix.py
case $HVLAB_BUILD in
/*) NB=$HVLAB_BUILD/bin/nativebench ;;
*) NB=$ROOT/$HVLAB_BUILD/bin/nativebench ;;
esac
T=$TMPDIR_IT

if ! command -v python3 >/dev/null; then
	skip_all "python3 is not installed (scripts/setup-deps.sh installs it)"
fi
# Checks per section: matrix-file errors; runs of nativebench cells (quick matrix,
# kill -9, SIGTERM, binaries that change between sessions, provenance, a Slurm array
# task run by hand); figures and the report.
N_ERRORS=12 N_RUNS=29 N_FIGURES=25
plan $((N_ERRORS + N_RUNS + N_FIGURES))

# --- matrix-file errors: FILE:LINE: reason, exit status 2 -----------------------------
# expect_error NAME LINE PATTERN: the matrix file $T/NAME.matrix must be refused with
# "$T/NAME.matrix:LINE: " and a reason matching PATTERN.
expect_error() {
	local name=$1 line=$2 pat=$3 f=$T/$1.matrix err rc
	err=$(python3 "$MATRIX" "$f" --list 2>&1 >/dev/null); rc=$?
	if [ $rc -eq 2 ] && printf '%s\n' "$err" | grep -q -- "^$f:$line: .*$pat"; then
		ok "matrix error $name: $f:$line: names the reason"
	else
		bad "matrix error $name" "exit $rc, expected 2 and '$f:$line: ...$pat': $err"
	fi
}
printf '# comment\nreps = 2\ncel native: x {out}\n' >"$T/typo.matrix"
expect_error typo 3 "expected 'NAME = VALUES', 'cell NAME: COMMAND'"
printf 'reps = 2\n\ncell a: run {reps} {nosuch} {out}\n' >"$T/undefined.matrix"
expect_error undefined 3 "{nosuch} is not defined"
printf 'cell a: true\n' >"$T/noout.matrix"
expect_error noout 1 "never uses {out}"
printf 'engine = hw bt\n# the name lacks {engine}\ncell x: hvm --engine {engine} {out}\n' >"$T/dup.matrix"
expect_error dup 3 "defined twice.*put {engine} in the cell name"
printf 'cell a: x {out}\ntimeout = soon\n' >"$T/timeout.matrix"
expect_error timeout 2 "timeout = soon: not a number"
printf 'pin = 4096\ncell a: x {out}\n' >"$T/pin.matrix"
expect_error pin 1 "CPU 4096 is not available here"
printf 'x = 1\ncell a{x: y {out}\n' >"$T/brace.matrix"
expect_error brace 2 "unclosed '{'"
printf "cell a: sh -c 'echo {out}\n" >"$T/quote.matrix"
expect_error quote 1 "No closing quotation"
printf '# nothing but a comment\n\n' >"$T/empty.matrix"
expect_error empty 2 "defines no cells"
printf 'cell a: first {out} \\\n\t--more\ncell a: again {out}\n' >"$T/twice.matrix"
expect_error twice 3 "cell 'a' is defined twice (first at line 1)"
out=$(python3 "$MATRIX" "$T/nosuchfile.matrix" 2>&1); rc=$?
[ $rc -eq 2 ] && printf '%s' "$out" | grep -q "nosuchfile.matrix:0: cannot read" &&
	ok "a missing matrix file is refused by name" || bad "missing matrix file" "exit $rc: $out"

# Expansion: the cross product of the lists a cell uses, named by its values.
printf 'a = x y\nb = 1 2 3\ncell c-{a}-{b}: echo {a}{b} {out}\n' >"$T/cross.matrix"
n=$(python3 "$MATRIX" "$T/cross.matrix" --list 2>&1 | grep -c '^c-[xy]-[123] ')
[ "$n" -eq 6 ] && ok "a cell expands over the cross product of its lists (6 cells)" ||
	bad "cross product" "$n cells listed, expected 6"

if [ ! -x "$NB" ]; then
	skip_n $N_RUNS "matrix runs" "$NB was not built (make)"
else
# --- a matrix whose cells succeed, fail, time out and skip ---------------------------
fake=$T/fakebin
mkdir -p "$fake"
printf '#!/bin/sh\necho "hvlab: error: engine '"'"'bt'"'"' is not built yet" >&2\nexit 2\n' >"$fake/hvm"
chmod +x "$fake/hvm"
cat >"$T/quick.matrix" <<EOF
reps = 2
timeout = 20
nb = $NB
cell native: {nb} --reps {reps} --min-cycles 20000 --only rdtsc,callret --out {out}
cell boom: sh -c 'echo boom >&2; exit 3' sh {out}
cell noprog: {root}/no/such/program {out}
cell skip77: sh -c 'echo "feature absent here"; exit 77' sh {out}
cell bt: $fake/hvm run --engine bt --workload hello --out {out}
cell empty: sh -c 'exit 0' sh {out}
timeout = 1
cell slow: sh -c 'sleep 30' sh {out}
timeout = 20
cell after: {nb} --reps {reps} --min-cycles 20000 --only rdtsc --out {out}
EOF
run=$T/quick-run
start=$(date +%s)
python3 "$MATRIX" "$T/quick.matrix" --out "$run" >"$T/quick.log" 2>&1; rc=$?
took=$(( $(date +%s) - start ))
[ $rc -eq 1 ] && ok "a matrix with failed cells runs to its end and exits 1" ||
	bad "quick matrix exit" "exit $rc: $(tail -n 5 "$T/quick.log" | tr '\n' ' ')"
status_of() { # status_of RUN CELL -> "status|reason"
	python3 - "$1" "$2" <<'PY'
import json, sys
s = json.load(open(sys.argv[1] + "/matrix-summary.json"))
c = [c for c in s["cells"] if c["name"] == sys.argv[2]]
print(f"{c[0]['status']}|{c[0]['reason'] or '-'}" if c else "absent|")
PY
}
check_cell() { # check_cell CELL STATUS REASON-PATTERN
	local got; got=$(status_of "$run" "$1")
	if [ "${got%%|*}" = "$2" ] && printf '%s' "${got#*|}" | grep -q -- "$3"; then
		ok "cell $1 is $2: ${got#*|}"
	else
		bad "cell $1" "got '$got', expected $2 with reason matching '$3'"
	fi
}
check_cell native done "^-$"
check_cell boom failed "exit 3: boom"
check_cell noprog failed "does not exist"
check_cell skip77 skipped "exit 77.*feature absent here"
check_cell bt skipped "not built yet"
check_cell empty failed "incomplete: no samples.csv"
check_cell slow failed "timed out after 1 s"
check_cell after done "^-$"
[ "$took" -lt 15 ] && ok "the timed-out cell was stopped at its timeout (matrix took ${took} s)" ||
	bad "timeout" "the matrix took $took s"
grep -q '^\[8/8\] after: done' "$T/quick.log" && grep -q 'elapsed' "$T/quick.log" &&
	ok "progress lines count cells done of total, with elapsed time" ||
	bad "progress line" "$(grep after "$T/quick.log")"
grep -q '"event": "failed".*"cell": "boom"\|"cell": "boom".*"event": "failed"' "$run/journal.jsonl" &&
	ok "the journal records the failure" || bad "journal" "no failed record for boom"
[ -f "$run/logs/boom.log" ] && grep -q boom "$run/logs/boom.log" && [ -d "$run/failed/boom" ] &&
	ok "a failed cell keeps its log and directory" || bad "failed cell" "no log or failed/boom"

# merged_matches RUN: samples.csv == header + every done cell's rows in plan order.
merged_matches() {
	python3 - "$1" <<'PY'
import csv, json, os, sys
run = sys.argv[1]
plan = json.load(open(run + "/plan.json"))
merged = list(csv.reader(open(run + "/samples.csv")))
rows = [merged[0]]
for c in plan["cells"]:
    d = os.path.join(run, "cells", c["name"])
    if os.path.isdir(d):
        rows += list(csv.reader(open(d + "/samples.csv")))[1:]
if merged != rows:
    sys.exit(f"merged {len(merged) - 1} rows, cells hold {len(rows) - 1}")
print(len(rows) - 1)
PY
}
n=$(merged_matches "$run" 2>&1) && ok "merged samples.csv holds every done cell's rows once ($n rows)" ||
	bad "merged samples" "$n"

# --- kill -9 mid-cell, then --resume -------------------------------------------------
cat >"$T/kill.matrix" <<EOF
reps = 2
timeout = 30
nb = $NB
op = rdtsc callret
cell first-{op}: {nb} --reps {reps} --min-cycles 20000 --only {op} --out {out}
cell slow: sh -c 'sleep 2; exec "\$0" --reps 2 --min-cycles 20000 --only rdtsc --out "\$1"' {nb} {out}
cell last: {nb} --reps {reps} --min-cycles 20000 --only callret --out {out}
EOF
run=$T/kill-run
python3 "$MATRIX" "$T/kill.matrix" --out "$run" >"$T/kill1.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
	grep -q '"cell": "slow".*"event": "start"' "$run/journal.jsonl" 2>/dev/null && break
	sleep 0.1
done
sleep 0.3
kill -9 "$pid"; wait "$pid" 2>/dev/null
pg=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("cell") == "slow" and r["event"] == "start": print(r["pid"])' "$run/journal.jsonl")
if [ -d "$run/cells/slow" ] || [ -f "$run/matrix-summary.json" ]; then
	bad "kill -9 mid-cell" "the runner was not killed during cell slow"
else
	ok "runner killed with SIGKILL during cell slow"
fi
python3 "$MATRIX" --resume "$run" >"$T/kill2.log" 2>&1; rc=$?
[ $rc -eq 0 ] && ok "--resume completes the killed run" ||
	bad "resume" "exit $rc: $(tail -n 3 "$T/kill2.log" | tr '\n' ' ')"
exact=$(python3 - "$run" <<'PY'

import json, os, sys
run = sys.argv[1]
plan = [c["name"] for c in json.load(open(run + "/plan.json"))["cells"]]
recs = [json.loads(l) for l in open(run + "/journal.jsonl")]
done = [r["cell"] for r in recs if r["event"] == "done"]
ok = sorted(done) == sorted(plan) and sorted(os.listdir(run + "/cells")) == sorted(plan)
disc = [r for r in recs if r["event"] == "discarded" and r.get("cell") == "slow"]
att = [r["attempt"] for r in recs if r["event"] == "done" and r["cell"] == "slow"]
ok = ok and len(disc) == 1 and att == [2] and not os.path.exists(run + "/work")
s = json.load(open(run + "/matrix-summary.json"))
ok = ok and s["state"] == "complete" and s["counts"]["done"] == len(plan)
if not ok:
    print(f"done={done} cells={os.listdir(run + '/cells')} discarded={len(disc)} attempts={att}")
sys.exit(0 if ok else 1)
PY
) && ok "after resume every cell is done exactly once; the half-done attempt was discarded" ||
	bad "resume exactness" "$exact"
n=$(merged_matches "$run" 2>&1) && ok "merged rows after resume == sum of the cells' rows ($n)" ||
	bad "merged after resume" "$n"
if [ -n "$pg" ] && pgrep -g "$pg" >/dev/null 2>&1; then
	bad "orphans" "processes of the killed cell's group $pg still run"
else
	ok "nothing of the killed cell outlives the resume"
fi

# --- SIGTERM: the runner stops the cell, says how to resume, and resumes -------------
run=$T/term-run
python3 "$MATRIX" "$T/kill.matrix" --out "$run" >"$T/term1.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
	grep -q '"cell": "slow".*"event": "start"' "$run/journal.jsonl" 2>/dev/null && break
	sleep 0.1
done
kill -TERM "$pid"; wait "$pid"; rc=$?
st=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["state"])' "$run/matrix-summary.json" 2>/dev/null)
[ $rc -eq 143 ] && [ "$st" = interrupted ] && grep -q -- "--resume $run" "$T/term1.log" &&
	ok "SIGTERM stops the run (exit 143, state interrupted, resume command printed)" ||
	bad "SIGTERM" "exit $rc, state '$st'"
python3 "$MATRIX" --resume "$run" >"$T/term2.log" 2>&1; rc=$?
n=$(merged_matches "$run" 2>&1)
[ $rc -eq 0 ] && [ "$(ls "$run/cells" | wc -l)" -eq 4 ] && [ -n "$n" ] &&
	ok "the interrupted run resumes to all 4 cells ($n rows)" || bad "resume after SIGTERM" "exit $rc, $n"
out=$(python3 "$MATRIX" --resume "$T" 2>&1); rc=$?
[ $rc -eq 3 ] && printf '%s' "$out" | grep -q "not a matrix run directory" &&
	ok "--resume refuses a directory that holds no run" || bad "resume non-run" "exit $rc: $out"

# --- a program rebuilt between sessions: the resumed run refuses to mix builds --------
# Cell a is measured with a copy of nativebench; the copy then changes (as a rebuild
# would change it) before cell b, which failed the first time, is retried.
cp "$NB" "$T/nb-copy"
cat >"$T/build.matrix" <<MATRIX_END
timeout = 20
cell a: $T/nb-copy --reps 2 --min-cycles 20000 --only rdtsc --out {out}
cell b: sh -c 'test -e "\$0" && exec "\$1" --reps 2 --min-cycles 20000 --only rdtsc --out "\$2"' $T/b-may-run $NB {out}
MATRIX_END
run=$T/build-run
python3 "$MATRIX" "$T/build.matrix" --out "$run" >"$T/build1.log" 2>&1
first=$(python3 -c 'import json,sys
c = {c["name"]: c for c in json.load(open(sys.argv[1]))["cells"]}
print(c["a"]["status"], c["a"]["build_id"] or "-", c["b"]["status"])' "$run/matrix-summary.json" 2>&1)
[ "${first%% *}" = done ] && [ "$(echo "$first" | cut -d' ' -f2)" != - ] &&
	[ "${first##* }" = failed ] &&
	ok "each finished cell records the build id of what it ran: $first" ||
	bad "build id recorded" "$first"
printf 'rebuilt' >>"$T/nb-copy"
touch "$T/b-may-run"
out=$(python3 "$MATRIX" --resume "$run" --retry-failed 2>&1); rc=$?
[ $rc -eq 3 ] && printf '%s' "$out" | grep -q "refusing to resume: finished cells were built from other binaries" &&
	printf '%s' "$out" | grep -q "^  a: measured with build" && [ ! -d "$run/cells/b" ] &&
	ok "a resume that would merge cells of two builds is refused (exit 3), naming the cell" ||
	bad "mixed builds" "exit $rc: $out"
python3 "$MATRIX" --resume "$run" --retry-failed --rerun-changed >"$T/build3.log" 2>&1; rc=$?
n=$(merged_matches "$run" 2>&1)
[ $rc -eq 0 ] && [ -d "$run/cells/a" ] && [ -d "$run/cells/b" ] && [ -n "$n" ] &&
	grep -q 'rerun-changed: measured with build' "$run/journal.jsonl" &&
	ok "--rerun-changed measures the changed cell again and completes the run ($n rows)" ||
	bad "--rerun-changed" "exit $rc: $(tail -n 3 "$T/build3.log" | tr '\n' ' ')"

# --- provenance, and a Slurm array task run by hand (tests/integration/slurm.sh runs
# real ones) ----------------------------------------------------------------------------
prov=$(python3 - "$T/quick-run" <<'PY'
import json, os, sys
run = sys.argv[1]
bad = [f"{r['event']} {r['cell']}" for r in map(json.loads, open(run + "/journal.jsonl"))
       if r["event"] in ("start", "done", "failed", "skipped")
       and (not r.get("node") or not r.get("host_kind") or "slurm" in r)]
p = json.load(open(run + "/cells/native/provenance.json"))
if p["node"] != p["context"]["host"] or not p["context"].get("git_commit") or "kvm" not in p["context"]:
    bad.append("cells/native/provenance.json")
print("; ".join(bad) or p["host_kind"])
PY
)
grep -qF "\"host_kind\": \"$prov\"" "$T/quick-run/journal.jsonl" &&
	ok "a local run journals each attempt's node and kind of node ($prov), and each cell keeps its node's context" ||
	bad "local provenance" "$prov"
printf 'timeout = 20\ncell one: %s --reps 2 --min-cycles 20000 --only rdtsc --out {out}\n' "$NB" >"$T/task.matrix"
make_run() { # make_run DIR: a run of task.matrix that nothing has measured yet
	python3 - "$ROOT" "$T/task.matrix" "$1" <<'PY'
import sys
root, matrix, run = sys.argv[1:4]
sys.path.insert(0, root + "/scripts")
from hvtools import matrixfile, runner
m = matrixfile.parse(matrix, {"bin": root + "/build/bin", "root": root}, {})
runner.Runner(run, root).create(m, m.text(), "tests/integration/matrix.sh")
PY
}
commit=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
make_run "$T/task-run"
SLURM_JOB_ID=41 SLURM_ARRAY_JOB_ID=40 SLURM_ARRAY_TASK_ID=0 \
	python3 "$MATRIX" --slurm-task "$T/task-run" --commit "$commit" >"$T/task.log" 2>&1; rc=$?
rec=$(grep '"event": "done"' "$T/task-run/journal.jsonl")
[ $rc -eq 0 ] && [ -d "$T/task-run/cells/one" ] &&
	[[ $rec == *'"slurm": {"array_job_id": "40", "array_task_id": "0", "job_id": "41"}'* ]] &&
	ok "an array task at the submitting commit measures its cell with the local runner's code, journalling its Slurm ids" ||
	bad "array task" "exit $rc: $(tail -n 2 "$T/task.log" | tr '\n' ' ') $rec"
SLURM_JOB_ID=41 SLURM_ARRAY_JOB_ID=40 SLURM_ARRAY_TASK_ID=0 \
	python3 "$MATRIX" --slurm-task "$T/task-run" --commit "$commit" >"$T/task2.log" 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(grep -c '"event": "start"' "$T/task-run/journal.jsonl")" -eq 1 ] &&
	grep -q 'already done; nothing to do' "$T/task2.log" &&
	ok "a task whose cell is already done measures nothing (a cell is measured once)" ||
	bad "task of a done cell" "exit $rc: $(cat "$T/task2.log")"
make_run "$T/task-other"
SLURM_JOB_ID=43 SLURM_ARRAY_JOB_ID=42 SLURM_ARRAY_TASK_ID=0 \
	python3 "$MATRIX" --slurm-task "$T/task-other" --commit 0123456789abcdef0123456789abcdef01234567 \
	>"$T/task3.log" 2>&1; rc=$?
why=$(grep '"event": "failed"' "$T/task-other/journal.jsonl")
[ $rc -eq 1 ] && [ ! -d "$T/task-other/cells/one" ] && [ ! -d "$T/task-other/work/one.1" ] &&
	[[ $why == *"node $(hostname) "*"submitted from commit 0123456789ab"* ]] &&
	[[ $why == *"every node must build the same commit"* || $why == *"build that commit there"* ]] &&
	ok "a task on a node whose hvlab is at another commit records the cell failed, naming node and both commits" ||
	bad "commit check" "exit $rc: $why"
fi

# --- figures and the report from the fixture -----------------------------------------
FIX=$ROOT/tests/fixtures/run-small
if ! command -v gnuplot >/dev/null; then
	skip_n $N_FIGURES "figures from the fixture" "gnuplot is not installed (Debian package gnuplot-nox)"
else
	figs=$T/figs
	if python3 "$ROOT/scripts/plot.py" "$FIX" --out "$figs" >"$T/plot.log" 2>&1; then
		ok "plot.py draws the fixture's figures"
	else
		bad "plot.py on the fixture" "$(tail -n 5 "$T/plot.log" | tr '\n' ' ')"
	fi
	for f in nanobench-ratio nanobench-cycles exit-costs workloads-ratio workload-forkwait; do
		if [ -s "$figs/$f.png" ] && [ -s "$figs/$f.svg" ] &&
		   head -c 8 "$figs/$f.png" | od -An -c | grep -q 'P   N   G' &&
		   grep -q '<svg' "$figs/$f.svg"; then
			ok "figure $f: PNG and SVG"
		else
			bad "figure $f" "missing or not PNG/SVG in $figs"
		fi
	done
	grep -q '"A&A 2006 VT-x/native (P4)"' "$figs/nanobench-ratio.dat" &&
		grep -q '^"syscall (K)" [0-9.]* 1.01653 ' "$figs/nanobench-ratio.dat" &&
		ok "the ratio figure carries A&A's published VT-x/native ratios (syscall 246/242), syscall marked (K): different kernels" ||
		bad "published ratios" "$(head -n 2 "$figs/nanobench-ratio.dat" | tr '\n' ' ')"
	! grep -q '^"ptemod' "$figs/nanobench-ratio.dat" && grep -q 'ptemod: not comparable' "$T/plot.log" &&
		ok "the ratio figure leaves out ptemod (native is mprotect, not A&A's store), with a note" ||
		bad "ptemod in the ratio figure" "$(grep ptemod "$figs/nanobench-ratio.dat" "$T/plot.log" | head -n 2 | tr '\n' ' ')"
	mkdir -p "$T/noexit" && grep -v 'exit=' "$FIX/samples.csv" >"$T/noexit/samples.csv"
	python3 "$ROOT/scripts/plot.py" "$T/noexit" >"$T/noexit.log" 2>&1 &&
		grep -q "no exit statistics" "$T/noexit.log" && [ ! -e "$T/noexit/figures/exit-costs.png" ] &&
		ok "without exit statistics the exit figure is skipped with a message" ||
		bad "no exit stats" "$(cat "$T/noexit.log")"
	rep=$T/paper
	if python3 "$ROOT/scripts/report.py" "$FIX" --out "$rep" >"$T/report.log" 2>&1 &&
	   [ -s "$rep/report.tex" ]; then
		ok "report.py writes report.tex from the fixture"
	else
		bad "report.py on the fixture" "$(tail -n 5 "$T/report.log" | tr '\n' ' ')"
	fi
	tex=$rep/report.tex
	grep -q 'Not a measurement' "$tex" && ok "the report says it was built from the fixture" ||
		bad "fixture notice" "no notice in $tex"
	missing=$(python3 - "$FIX/summary.json" "$tex" <<'PY'
import json, sys
def keys(d, p=""):
    for k, v in d.items():
        yield from keys(v, p + k + ".") if isinstance(v, dict) else [p + k]
tex = open(sys.argv[2]).read().replace(r"\allowbreak{}", "").replace(r"\_", "_")
print(" ".join(k for k in keys(json.load(open(sys.argv[1]))["context"])
               if r"\texttt{" + k + "} &" not in tex))
PY
)
	[ -z "$missing" ] && ok "the context table lists every context field" ||
		bad "context table" "missing: $missing"
	for f in nanobench-ratio nanobench-cycles exit-costs; do
		grep -q "figures/$f" "$tex" || { bad "report figure $f" "not included"; continue; }
		ok "the report includes figure $f"
	done
	grep -q 'texttt{syscall}\\newline{\\scriptsize different kernels} & 1.0x & 443x & 435x & \\fails{\\scriptsize\\newline direction}' "$tex" &&
		ok "comparison row: syscall published 1.0x, measured 443x, factor 435x, different kernels, direction fails" ||
		bad "comparison row syscall" "$(grep 'texttt{syscall}' "$tex" | head -n 1 | cut -c1-160)"
	grep -q 'texttt{pgfault}\\newline{\\scriptsize different kernels} & 10x & 88x & 8.6x & \\fails{\\scriptsize\\newline magnitude}' "$tex" &&
		ok "comparison row: pgfault 10x against 88x keeps the direction but fails the magnitude (factor 8.6x)" ||
		bad "comparison row pgfault" "$(grep 'texttt{pgfault}' "$tex" | head -n 1 | cut -c1-160)"
	grep -q 'texttt{ptemod} & 12,733x & not comparable & -- & \\notcomparable' "$tex" &&
		ok "comparison row: ptemod is not comparable, no verdict and no factor" ||
		bad "comparison row ptemod" "$(grep 'texttt{ptemod}' "$tex" | head -n 1 | cut -c1-160)"
	! grep -q 'twenty years\|keeps A\&A' "$tex" && ! grep -q 'calls the hypervisor instead' "$tex" &&
		ok "the report states no unmeasured mechanism as a finding (no 'twenty years', 'keeps A&A's shape', 'calls the hypervisor')" ||
		bad "unmeasured findings" "$(grep -o 'twenty years.\{0,60\}\|keeps A.\{0,40\}\|calls the hypervisor.\{0,30\}' "$tex" | head -n 2)"
	# The fixture's bt cell was skipped (bt not built): its rows say so.
	grep -q 'texttt{syscall} & 9.5x & not measured on this host & -- & \\notmeasured' "$tex" &&
		ok "a row of an engine whose cells were skipped says not measured on this host" ||
		bad "not measured row" "$(grep 'texttt{syscall} & 9.5x' "$tex" | head -n 1 | cut -c1-120)"
	grep -q 'texttt{in} & 4.9x & not measured & -- & \\notmeasured & .*not measured here: native in not measured' "$tex" &&
		ok "a row of a measured engine without the data it needs says not measured and why" ||
		bad "not measured row (hw in)" "$(grep 'texttt{in} & 4.9x' "$tex" | head -n 1 | cut -c1-120)"
	# The same fixture with bt, qemu-tcg and pv rows added: the tables those engines
	# fill are filled, not "not measured".
	wb=$T/withbt
	mkdir -p "$wb" && cp "$FIX/summary.json" "$FIX/matrix-summary.json" "$wb/"
	python3 - "$FIX/samples.csv" "$wb/samples.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
out = list(rows)
v = rows[0].index("value")
for r in rows[1:]:
    if r[3] == "hw" and r[0] in ("nanobench", "forkwait") and not r[2].startswith("exit="):
        out.append(r[:3] + ["bt", "shadow-bt"] + r[5:v] + [repr(float(r[v]) * 0.02)] + r[v + 1:])
    if r[0] == "compute" and r[3] == "hw":
        out.append(r[:3] + ["qemu-tcg"] + r[4:v] + [repr(float(r[v]) * 1.8)] + r[v + 1:])
csv.writer(open(sys.argv[2], "w"), lineterminator="\n").writerows(out)
PY
	if python3 "$ROOT/scripts/report.py" "$wb" --out "$T/paper-bt" >"$T/report-bt.log" 2>&1; then
		t=$T/paper-bt/report.tex
		grep -q 'texttt{syscall} & 9.4x & 0.02x & 0.0021x & \\fails' "$t" &&
			grep -q 'texttt{in} & 0.07x & not measured' "$t" &&
			grep -q 'int vs compute}\\newline{\\scriptsize different programs} & 6.0x & 1.8x & 0.31x & \\fails{\\scriptsize\\newline magnitude}' "$t" &&
			ok "with bt and qemu-tcg rows the BT and QEMU comparisons are filled" ||
			bad "bt comparisons" "$(grep 'texttt{syscall} & 9.4x' "$t" | cut -c1-100)"
	else
		bad "report.py with bt rows" "$(tail -n 5 "$T/report-bt.log" | tr '\n' ' ')"
	fi
	# qemu-tcg nanobenchmarks: the report says how to read their cycles, each statement
	# labelled by how it is known, with this run's guest-clock check when the run has one.
	wt=$T/withtcg
	mkdir -p "$wt" && cp "$FIX/matrix-summary.json" "$wt/"
	python3 - "$FIX" "$wt" <<'PY'
import csv, json, sys
fix, out = sys.argv[1], sys.argv[2]
rows = list(csv.reader(open(fix + "/samples.csv")))
add = {"cpuid": (15.0, 10.2), "ptemod": (2.7, 1.5), "syscall": (520.0, 3.0)}
for op, (c, h) in add.items():
    for rep in range(3):
        for metric, v in (("cycles_per_op", c + rep / 10), ("harness_cycles_per_op", h)):
            rows.append(["nanobench", op, "iters=1048576", "qemu-tcg", "softmmu", "full",
                         "plain", "emul", "1", "2", metric, repr(v), "cycles", str(rep)])
csv.writer(open(out + "/samples.csv", "w"), lineterminator="\n").writerows(rows)
s = json.load(open(fix + "/summary.json"))
s["notes"].update({"qemu-tcg-nanobench-1.engine": "qemu-tcg",
                   "qemu-tcg-nanobench-1.guest_tsc_vs_host_clock": 1.0012,
                   "qemu-tcg-nanobench-1.host_clock_span_s": 1.23,
                   "qemu-tcg-nanobench-1.guest_tsc_khz": 2445430,
                   "qemu-tcg-nanobench-2.engine": "qemu-tcg",
                   "qemu-tcg-nanobench-2.guest_tsc_vs_host_clock": 0.9987,
                   "qemu-tcg-nanobench-2.host_clock_span_s": 1.31})
json.dump(s, open(out + "/summary.json", "w"))
PY
	if python3 "$ROOT/scripts/report.py" "$wt" --out "$T/paper-tcg" >"$T/report-tcg.log" 2>&1; then
		t=$T/paper-tcg/report.tex
		grep -q "How to read qemu-tcg's cycles" "$t" &&
			grep -q 'Measured in this run:} between the guest kernel' "$t" &&
			grep -q 'each of the 2 qemu-tcg runs: guest over host 0.999 to 1.001 over 1.23 to 1.31 s' "$t" &&
			grep -q 'cpuid nets 15 cycles after an empty-loop harness of 10 cycles per operation (one cpuid per turn of a user-mode loop; the harness is 68\\% of the figure)' "$t" &&
			grep -q 'Measured once, not in this run:}' "$t" &&
			grep -q "From QEMU's source:}" "$t" && grep -q 'Hypothesis, not measured:}' "$t" &&
			ok "qemu-tcg nanobenchmarks: the report explains their cycles, with this run's clock check" ||
			bad "qemu-tcg cycles note" "$(grep -A3 'How to read' "$t" | cut -c1-160 | tr '\n' ' ')"
		# The same run without the check's notes: the report says it was not checked.
		python3 - "$wt/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["notes"] = {k: v for k, v in s["notes"].items() if "clock" not in k}
json.dump(s, open(sys.argv[1], "w"))
PY
		python3 "$ROOT/scripts/report.py" "$wt" --out "$T/paper-tcg2" >"$T/report-tcg2.log" 2>&1 &&
			grep -q 'Not checked in this run:} its qemu-tcg runs carry no guest' "$T/paper-tcg2/report.tex" &&
			! grep -q 'Measured in this run:} between' "$T/paper-tcg2/report.tex" &&
			ok "without the clock check's notes the report says the clock was not checked" ||
			bad "qemu-tcg unchecked clock" "$(grep -A2 'How to read' "$T/paper-tcg2/report.tex" | cut -c1-160 | tr '\n' ' ')"
	else
		bad "report.py with qemu-tcg nanobenchmarks" "$(tail -n 5 "$T/report-tcg.log" | tr '\n' ' ')"
		skip "qemu-tcg unchecked clock" "report.py failed on the run with qemu-tcg rows"
	fi
	if command -v latexmk >/dev/null; then
		if (cd "$rep" && timeout 120 latexmk -pdf -interaction=nonstopmode -halt-on-error report.tex \
			>"$T/latex.log" 2>&1) && [ -s "$rep/report.pdf" ]; then
			ok "the report PDF builds with latexmk"
		else
			bad "report PDF" "$(grep -m3 '^!' "$rep/report.log")"
		fi
	else
		skip "report PDF" "latexmk is not installed (Debian packages latexmk texlive-latex-base texlive-latex-recommended)"
	fi
fi
