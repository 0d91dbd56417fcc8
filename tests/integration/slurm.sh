#!/usr/bin/env bash
# The matrix runner on Slurm (scripts/matrix.py --slurm) on a single-node cluster that
# this suite starts itself: munged, slurmctld and slurmd as root, configured in a
# temporary directory, on ports of their own, and stopped when the suite ends however it
# ends. A small matrix gives the same cells, outcomes and samples through Slurm as
# locally; a task cancelled with scancel leaves the run resumable, and the resume
# measures every cell exactly once; a partition Slurm does not have is named.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MATRIX=$ROOT/scripts/matrix.py
case $HVLAB_BUILD in
/*) BIN=$HVLAB_BUILD/bin ;;
*) BIN=$ROOT/$HVLAB_BUILD/bin ;;
esac
T=$TMPDIR_IT
C=$T/cluster

# A Slurm job of the caller (make test run by a batch job) must not leak into ours.
for v in $(compgen -e SLURM_); do unset "$v"; done

missing=
for p in munged slurmctld slurmd sbatch squeue scontrol scancel python3; do
	command -v "$p" >/dev/null || missing="$missing $p"
done
[ -z "$missing" ] ||
	skip_all "no${missing} (Debian packages slurm-wlm and munge: scripts/setup-deps.sh installs them)"
[ "$(id -u)" -eq 0 ] ||
	skip_all "starting a Slurm cluster (slurmd runs jobs as their users) needs root; this is $(id -un)"
[ -x "$BIN/nativebench" ] && [ -x "$BIN/hvm" ] && [ -x "$BIN/hvpeer" ] ||
	skip_all "$BIN/nativebench, hvm or hvpeer was not built (make)"

# --- the cluster ---------------------------------------------------------------------
PIDS=()
stop_cluster() {
	local i p
	if [ -n "${SLURM_CONF:-}" ] && [ ${#PIDS[@]} -gt 0 ]; then
		squeue -h -o %A 2>/dev/null | xargs -r scancel 2>/dev/null
		for i in $(seq 1 50); do
			[ -z "$(squeue -h -o %A 2>/dev/null)" ] && break
			sleep 0.2
		done
	fi
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	PIDS=()
}
trap 'stop_cluster; rm -rf "$TMPDIR_IT"' EXIT
# A suite stopped by a signal (the test runner's timeout, ^C) still stops its cluster.
trap 'exit 143' TERM
trap 'exit 130' INT

mkdir -p "$C/munge" "$C/state" "$C/spool" "$C/log"
chmod 700 "$C/munge"
head -c 1024 /dev/urandom >"$C/munge/munge.key" && chmod 400 "$C/munge/munge.key"
munged -F --force --socket="$C/munge/socket" --key-file="$C/munge/munge.key" \
	--pid-file="$C/munge/pid" --seed-file="$C/munge/seed" --log-file="$C/log/munged.log" \
	>"$C/log/munged.out" 2>&1 &
PIDS+=($!)
read -r PORT_CTLD PORT_SLURMD < <(python3 -c 'import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
NODE=$(hostname -s)
cat >"$C/slurm.conf" <<EOF
ClusterName=hvlabtest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT_CTLD
SlurmdPort=$PORT_SLURMD
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$C/munge/socket
StateSaveLocation=$C/state
SlurmdSpoolDir=$C/spool
SlurmctldPidFile=$C/slurmctld.pid
SlurmdPidFile=$C/slurmd.pid
SlurmctldLogFile=$C/log/slurmctld.log
SlurmdLogFile=$C/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Start dependent jobs and fill the node within a second, not Slurm's default 30.
SchedulerParameters=bf_interval=1
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=600
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$C/slurm.conf
for _ in $(seq 1 50); do [ -S "$C/munge/socket" ] && break; sleep 0.1; done
slurmctld -D -i >"$C/log/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -N "$NODE" >"$C/log/slurmd.out" 2>&1 &
PIDS+=($!)
state=
for _ in $(seq 1 100); do
	state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null)
	[ "$state" = idle ] && break
	sleep 0.2
done
if [ "$state" != idle ]; then
	why=$(cat "$C/log/munged.out" "$C/log/slurmctld.out" "$C/log/slurmd.out" 2>/dev/null |
		grep -iE 'error|fatal' | grep -v pmix | head -n 2 | tr '\n' ' ')
	skip_all "the single-node Slurm cluster did not come up (node state '${state:-none}'): ${why:-no error logged}"
fi

# Checks per section: local against Slurm; scancel and resume; a bad partition.
N_SAME=9 N_CANCEL=5 N_PARTITION=3
plan $((N_SAME + N_CANCEL + N_PARTITION))

# --- the same matrix locally and through Slurm -----------------------------------------
# Cells that need no KVM: two nativebench operations, hello under bt, a qemu-tcg cell
# whose QEMU is absent (skipped by the runner's engine check), one that fails, and one
# with a longer timeout (so its task's time limit differs).
cat >"$T/same.matrix" <<EOF
reps = 2
timeout = 20
op = rdtsc callret
cell native-{op}: {bin}/nativebench --reps {reps} --min-cycles 20000 --only {op} --out {out}
cell bt-hello: {bin}/hvm run --engine bt --workload hello --out {out}
cell tcg-noqemu: {bin}/hvpeer run --engine qemu-tcg --qemu /nonexistent/qemu-system-x86_64 \\
	--workload hello --out {out}
cell boom: sh -c 'echo boom >&2; exit 3' sh {out}
timeout = 100
cell native-long: {bin}/nativebench --reps {reps} --min-cycles 20000 --only rdtsc --out {out}
EOF
local_run=$T/local slurm_run=$T/slurm
start=$EPOCHREALTIME
python3 "$MATRIX" "$T/same.matrix" --bin "$BIN" --out "$local_run" >"$T/local.log" 2>&1
local_rc=$?
local_s=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
start=$EPOCHREALTIME
figures=
command -v gnuplot >/dev/null && figures=--figures
python3 "$MATRIX" "$T/same.matrix" --bin "$BIN" --out "$slurm_run" --slurm --wait $figures \
	>"$T/slurm.log" 2>&1
slurm_rc=$?
slurm_s=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
[ $local_rc -eq 1 ] && [ $slurm_rc -eq 1 ] &&
	ok "the matrix exits 1 (a cell failed) locally and with --slurm --wait (${local_s} s locally, ${slurm_s} s through Slurm)" ||
	bad "exit statuses" "local $local_rc, slurm $slurm_rc: $(tail -n 3 "$T/slurm.log" | tr '\n' ' ')"

outcomes() { # outcomes RUN: "cell status reason" per cell, in plan order
	python3 -c 'import json, sys
for c in json.load(open(sys.argv[1] + "/matrix-summary.json"))["cells"]:
    print(c["name"], c["status"], c["reason"] or "-")' "$1" 2>&1
}
a=$(outcomes "$local_run") b=$(outcomes "$slurm_run")
[ -n "$a" ] && [ "$a" = "$b" ] &&
	ok "the same cells with the same outcomes and reasons: $(echo "$b" | awk '{printf "%s%s %s", s, $1, $2; s=", "}')" ||
	bad "outcomes" "local: $(echo "$a" | tr '\n' ';') slurm: $(echo "$b" | tr '\n' ';')"
echo "$b" | grep -q '^tcg-noqemu skipped engine qemu-tcg needs /nonexistent/qemu-system-x86_64' &&
	ok "a cell whose engine the node cannot run is skipped with the engine check's reason" ||
	bad "engine skip" "$(echo "$b" | grep tcg-noqemu)"

# same_samples A B: every done cell holds the same rows in both runs, value aside (a
# measurement differs from run to run, its experiment, workload, mode columns, metric,
# unit and repetition do not), and the merged samples.csv is those rows in plan order.
same=$(python3 - "$local_run" "$slurm_run" <<'PY'
import csv, json, os, sys
def cells(run):
    out = {}
    for c in json.load(open(run + "/plan.json"))["cells"]:
        d = os.path.join(run, "cells", c["name"])
        if os.path.isdir(d):
            rows = list(csv.reader(open(d + "/samples.csv")))
            v = rows[0].index("value")
            out[c["name"]] = [r[:v] + r[v + 1:] for r in rows[1:]]
    return out
def merged(run):
    rows = list(csv.reader(open(run + "/samples.csv")))
    v = rows[0].index("value")
    return [r[:v] + r[v + 1:] for r in rows[1:]]
a, b = cells(sys.argv[1]), cells(sys.argv[2])
if a != b or not a:
    sys.exit(f"cells differ: local {sorted(a)}, slurm {sorted(b)}")
flat = [r for name in a for r in b[name]]
if merged(sys.argv[2]) != flat or merged(sys.argv[1]) != flat:
    sys.exit("the merged samples.csv is not the cells' rows in plan order")
print(f"{len(a)} cells, {len(flat)} rows")
PY
)
[ $? -eq 0 ] && ok "the same samples: $same, merged by the final job" || bad "samples" "$same"

prov=$(python3 - "$slurm_run" <<'PY'
import json, os, sys
run = sys.argv[1]
plan = [c["name"] for c in json.load(open(run + "/plan.json"))["cells"]]
array = [r for r in map(json.loads, open(run + "/journal.jsonl"))
         if r["event"] == "submitted"][0]["jobs"][0]
bad = []
for r in map(json.loads, open(run + "/journal.jsonl")):
    if r["event"] in ("start", "done", "failed", "skipped"):
        s = r.get("slurm") or {}
        if not r.get("node") or not r.get("host_kind") or s.get("array_job_id") != array \
                or s.get("array_task_id") != str(plan.index(r["cell"])) or not s.get("job_id"):
            bad.append(f"{r['event']} {r['cell']}")
for name in os.listdir(run + "/cells"):
    p = json.load(open(f"{run}/cells/{name}/provenance.json"))
    if p["slurm"]["array_job_id"] != array or p["context"].get("git_commit") is None:
        bad.append(f"cells/{name}/provenance.json")
print("; ".join(bad) if bad else f"array {array}")
PY
)
[[ $prov == array* ]] &&
	ok "every attempt records its node, kind of node and Slurm ids (task id = plan position; $prov), each cell its node's context" ||
	bad "provenance" "$prov"

array=${prov#array }
limits=$(scontrol -o show job "$array" 2>/dev/null | sed -n 's/.*ArrayTaskId=\([0-9]*\) .*TimeLimit=\([0-9:]*\) .*/\1=\2/p' | sort -n | tr '\n' ' ')
[ "$limits" = "0=00:01:00 1=00:01:00 2=00:01:00 3=00:01:00 4=00:01:00 5=00:02:00 " ] &&
	ok "each task's time limit is its cell's timeout in whole minutes with the runner's margin ($limits)" ||
	bad "time limits" "got '$limits', want 1 min for the 20 s cells and 2 for the 100 s one"
hosts=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["hosts"])' "$slurm_run/matrix-summary.json" 2>&1)
[[ $hosts == *native-rdtsc*bt-hello*native-long* ]] &&
	ok "matrix-summary.json groups the done cells by kind of node: $hosts" || bad "hosts" "$hosts"
if [ -n "$figures" ]; then
	[ -s "$slurm_run/figures/index.json" ] && grep -q 'figures' "$slurm_run/slurm"/finish-*.out &&
		ok "the final job drew the figures (--figures)" ||
		bad "figures" "$(tail -n 3 "$slurm_run"/slurm/finish-*.out | tr '\n' ' ')"
else
	skip "the final job draws the figures" "gnuplot is not installed (Debian package gnuplot-nox)"
fi
grep -q 'submitted as Slurm job array' "$T/slurm.log" && grep -q '^matrix: 4 done, 1 failed, 1 skipped, 0 not run, of 6 cells' "$T/slurm.log" &&
	ok "--wait prints the submission and, once the final job has ended, the run's outcome" ||
	bad "--wait output" "$(tr '\n' ' ' <"$T/slurm.log")"

# --- a task cancelled mid-cell, then --resume --slurm ----------------------------------
cat >"$T/cancel.matrix" <<EOF
timeout = 30
op = rdtsc callret
cell first-{op}: {bin}/nativebench --reps 2 --min-cycles 20000 --only {op} --out {out}
cell slow: sh -c 'sleep 4; exec "\$0" --reps 2 --min-cycles 20000 --only rdtsc --out "\$1"' {bin}/nativebench {out}
cell last: {bin}/nativebench --reps 2 --min-cycles 20000 --only callret --out {out}
EOF
run=$T/cancel
python3 "$MATRIX" "$T/cancel.matrix" --bin "$BIN" --out "$run" --slurm >"$T/cancel1.log" 2>&1
jobs=$(python3 -c 'import json, sys
print(*[r for r in map(json.loads, open(sys.argv[1])) if r["event"] == "submitted"][0]["jobs"])' \
	"$run/journal.jsonl" 2>/dev/null)
array=${jobs%% *} finisher=${jobs##* }
out=$(python3 "$MATRIX" --resume "$run" 2>&1); rc=$?
[ $rc -eq 3 ] && [[ $out == *"Slurm jobs"*"$array"*"still queued or running"* ]] &&
	ok "a resume while the run's jobs are queued is refused (exit 3), naming them" ||
	bad "resume while queued" "exit $rc: $out"
for _ in $(seq 1 150); do
	grep -q '"cell": "slow".*"event": "start"' "$run/journal.jsonl" 2>/dev/null && break
	sleep 0.1
done
scancel "${array}_2"
for _ in $(seq 1 300); do
	[ -z "$(squeue -h -j "$array,$finisher" -o %A 2>/dev/null)" ] && break
	sleep 0.1
done
left=$(python3 - "$run" <<'PY'
import json, os, sys
run = sys.argv[1]
s = json.load(open(run + "/matrix-summary.json"))
st = {c["name"]: c["status"] for c in s["cells"]}
ev = [r["event"] for r in map(json.loads, open(run + "/journal.jsonl")) if r.get("cell") == "slow"]
print(f"state={s['state']} slow={st['slow']} others={sorted(set(v for k, v in st.items() if k != 'slow'))} "
      f"slow-events={','.join(ev)} work={os.path.exists(run + '/work/slow.1')}")
PY
)
[[ $left == "state=incomplete slow=pending others=['done'] slow-events=start,interrupted work=False" ]] &&
	ok "scancel of the slow cell's task leaves it without an outcome, the others done: $left" ||
	bad "after scancel" "$left"
python3 "$MATRIX" --resume "$run" --slurm --wait >"$T/cancel2.log" 2>&1; rc=$?
[ $rc -eq 0 ] && ok "--resume --slurm --wait completes the run (exit 0)" ||
	bad "resume" "exit $rc: $(tail -n 3 "$T/cancel2.log" | tr '\n' ' ')"
exact=$(python3 - "$run" <<'PY'
import json, os, sys
run = sys.argv[1]
plan = [c["name"] for c in json.load(open(run + "/plan.json"))["cells"]]
recs = [json.loads(l) for l in open(run + "/journal.jsonl")]
done = sorted(r["cell"] for r in recs if r["event"] == "done")
sub = [r["cells"] for r in recs if r["event"] == "submitted"]
slow = [r["attempt"] for r in recs if r["event"] == "done" and r["cell"] == "slow"]
s = json.load(open(run + "/matrix-summary.json"))
fine = done == sorted(plan) and sorted(os.listdir(run + "/cells")) == sorted(plan) and \
    slow == [2] and s["state"] == "complete" and len(sub) == 2 and sub[1] == ["slow"]
print(("" if fine else "NOT ") + f"done={done} resubmitted={sub[1:]} slow attempts={slow} "
      f"state={s['state']}")
PY
)
[[ $exact != NOT* ]] &&
	ok "every cell is done exactly once; the resume resubmitted only the cancelled cell ($exact)" ||
	bad "exactly once" "$exact"
rows=$(python3 -c 'import csv, sys; print(len(list(csv.reader(open(sys.argv[1])))) - 1)' "$run/samples.csv" 2>&1)
[ "$rows" = 16 ] && ok "the merged samples.csv holds the 4 cells' 16 rows" ||
	bad "merged after resume" "$rows rows, want 16"

# --- a partition Slurm does not have, a feature no node has ----------------------------
out=$(python3 "$MATRIX" "$T/cancel.matrix" --bin "$BIN" --out "$T/nopart" --slurm --partition nosuch 2>&1); rc=$?
[ $rc -eq 4 ] && [[ $out == *"--partition nosuch: Slurm has no partition 'nosuch'"*"partitions here: debug"* ]] &&
	ok "a bad partition is refused (exit 4) by name, with the partitions there are" ||
	bad "bad partition" "exit $rc: $out"
[ ! -e "$T/nopart" ] && ok "nothing is created for a submission refused before it starts" ||
	bad "bad partition run dir" "$T/nopart exists"
out=$(python3 "$MATRIX" "$T/cancel.matrix" --bin "$BIN" --out "$T/nofeature" --slurm --constraint nosuchfeature 2>&1); rc=$?
[ $rc -eq 4 ] && [[ $out == *"--constraint nosuchfeature: Slurm refused the job array"* ]] &&
	[[ $out == *"--resume $T/nofeature --slurm"* ]] && [ -z "$(squeue -h -o %A)" ] &&
	ok "a constraint sbatch refuses is named, nothing is queued, and the run says how to submit it again" ||
	bad "bad constraint" "exit $rc: $out"
