"""A matrix run as a Slurm job array (scripts/matrix.py --slurm; scripts/README.md,
"Running a matrix on a cluster").

One array task per cell still to run, its task id the cell's position in plan.json, so
that a resubmission names the same cells by the same ids. Each task runs
`matrix.py --slurm-task RUN --commit C`: the runner's own run_cell, on the node, into
the shared run directory. A final job, dependent on the array with afterany (it runs
however the tasks ended), merges the cells and writes matrix-summary.json
(`--slurm-finish`), as a local run does at its end."""
import math
import os
import shlex
import shutil
import subprocess
import time

from .matrixfile import format_ranges
from .runner import KILL_GRACE_S, write_atomic

# Besides the cell's timeout, the runner's grace before SIGKILL and the time to start
# Python, check the commit and record the outcome: the runner enforces the cell's own
# timeout and Slurm's limit is the backstop behind it.
RECORD_S = 15
FINISH_MINUTES = 15          # merging and figures


class SlurmError(Exception):
    pass


def _tool(name):
    path = shutil.which(name)
    if not path:
        raise SlurmError(f"{name} is not on PATH: --slurm needs Slurm's client commands "
                         "on the submitting host (Debian package slurm-client)")
    return path


def _call(argv, timeout=60):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SlurmError(f"{shlex.join(argv)}: {e}") from None


def _said(r):
    return (r.stderr.strip() or r.stdout.strip() or f"exit {r.returncode}").replace("\n", "; ")


def check_site(partition=None):
    """Refuses early, naming the input: Slurm absent or unreachable, or a partition it
    does not have."""
    for t in ("sbatch", "scontrol", "squeue"):
        _tool(t)
    if partition is None:
        return
    r = _call(["scontrol", "show", "partition", partition])
    if r.returncode == 0:
        return
    known = _call(["sinfo", "-h", "-o", "%R"]) if shutil.which("sinfo") else None
    names = sorted(set(known.stdout.split())) if known and known.returncode == 0 else []
    raise SlurmError(f"--partition {partition}: Slurm has no partition '{partition}' "
                     f"({_said(r)}); partitions here: {', '.join(names) or 'none listed'}. "
                     "Give one of them, or leave --partition out for the cluster's default")


def time_limit_minutes(timeout_s):
    """A cell's Slurm time limit in whole minutes (Slurm's unit): its timeout, plus the
    grace the runner gives a cell it stops and the time to record the outcome."""
    return max(1, math.ceil((timeout_s + KILL_GRACE_S + RECORD_S) / 60))


def array_spec(indices, max_running=None):
    """Task ids as Slurm's --array wants them: "0-3,7,9-10", with "%N" for at most N
    tasks running at once."""
    return format_ranges(indices) + (f"%{max_running}" if max_running else "")


def _script(path, comment, argv):
    write_atomic(path, f"#!/bin/sh\n# {comment}\nexec {shlex.join(argv)}\n")
    os.chmod(path, 0o755)


# Words in sbatch's refusals, and the option of ours each points at.
BLAME = (("partition", "partition"), ("feature", "constraint"), ("constraint", "constraint"),
         ("account", "account"), ("time limit", "time"))


def _blame(said, opts, longest):
    """Which of the options given sbatch's refusal is about, as "--option VALUE: "."""
    low = said.lower()
    for word, key in BLAME:
        if word in low:
            if key == "time":
                return (f"the longest cell's time limit, {longest} min (its timeout with the "
                        "runner's margin), is more than the partition allows: ")
            if opts.get(key):
                return f"--{key} {opts[key]}: "
    return ""


def _site_options(opts, with_constraint=True):
    out = []
    if opts.get("partition"):
        out += ["--partition", opts["partition"]]
    if opts.get("account"):
        out += ["--account", opts["account"]]
    if with_constraint and opts.get("constraint"):
        out += ["--constraint", opts["constraint"]]
    return out


def submit(runner, pending, opts, matrix_py, commit):
    """Submits the pending cells as one job array, held until each task's time limit is
    set, and the final job behind it. Returns (array job id, final job id)."""
    plan_index = {c["name"]: i for i, c in enumerate(runner.plan["cells"])}
    indices = [plan_index[c.name] for c in pending]
    limits = {plan_index[c.name]: time_limit_minutes(c.timeout) for c in pending}
    longest = max(limits.values())
    os.makedirs(runner.path("slurm"), exist_ok=True)
    name = f"hvlab-{os.path.basename(runner.dir)}"[:64]
    task_sh, finish_sh = runner.path("slurm", "task.sh"), runner.path("slurm", "finish.sh")
    _script(task_sh, "One cell of this run per array task (scripts/matrix.py --slurm).",
            ["python3", matrix_py, "--slurm-task", runner.dir, "--commit", commit])
    finish = ["python3", matrix_py, "--slurm-finish", runner.dir]
    if opts.get("figures"):
        finish.append("--figures")
    _script(finish_sh, "Merges the cells and writes the run's summary, once the array "
            "has ended.", finish)
    # Each task gets a node of its own: cells measure, and must not share CPUs (a local
    # run runs them one after another for the same reason).
    argv = ["sbatch", "--parsable", "--hold", "--job-name", name,
            "--array", array_spec(indices, opts.get("max_running")),
            "--time", str(longest), "--nodes", "1", "--ntasks", "1", "--exclusive",
            "--chdir", runner.root, "--output", runner.path("slurm", "%A_%a.out"),
            *_site_options(opts), task_sh]
    r = _call(argv)
    if r.returncode != 0:
        raise SlurmError(f"{_blame(_said(r), opts, longest)}Slurm refused the job array "
                         f"({_said(r)}); command: {shlex.join(argv)}")
    array_id = r.stdout.strip().split(";")[0]
    try:
        # One time limit per array: lower it for each task whose cell has a shorter
        # timeout (a user may lower a limit, not raise it) before the array is released.
        for i, minutes in sorted(limits.items()):
            if minutes < longest:
                u = _call(["scontrol", "update", f"JobId={array_id}_{i}",
                           f"TimeLimit={minutes}"])
                if u.returncode != 0:
                    raise SlurmError(f"cannot set the time limit of task {array_id}_{i} to "
                                     f"{minutes} min: {_said(u)}")
        fargv = ["sbatch", "--parsable", "--job-name", f"{name}-finish",
                 "--dependency", f"afterany:{array_id}", "--time", str(FINISH_MINUTES),
                 "--nodes", "1", "--ntasks", "1", "--chdir", runner.root,
                 "--output", runner.path("slurm", "finish-%j.out"),
                 *_site_options(opts, with_constraint=False), finish_sh]
        f = _call(fargv)
        if f.returncode != 0:
            raise SlurmError(f"Slurm refused the final job ({_said(f)}); command: "
                             f"{shlex.join(fargv)}")
        finish_id = f.stdout.strip().split(";")[0]
        rel = _call(["scontrol", "release", array_id])
        if rel.returncode != 0:
            _call(["scancel", finish_id])
            raise SlurmError(f"cannot release job array {array_id}: {_said(rel)}")
    except SlurmError:
        _call(["scancel", array_id])
        raise
    return array_id, finish_id


def queued(job_ids):
    """The ones of job_ids (array or plain job ids) that Slurm still has queued or
    running; None when squeue cannot tell (no Slurm here)."""
    if not job_ids or not shutil.which("squeue"):
        return None
    r = _call(["squeue", "-h", "-o", "%F %A"])
    if r.returncode != 0:
        return None
    mine = set(str(j) for j in job_ids)
    left = []
    for line in r.stdout.splitlines():
        for field in line.split():
            if field in mine and field not in left:
                left.append(field)
    return left


def wait(job_ids, say, poll_s=1.0):
    """Until none of job_ids is queued or running."""
    said = None
    while True:
        left = queued(job_ids)
        if not left:
            return
        if left != said:
            say(f"matrix: waiting for Slurm job{'s' if len(left) > 1 else ''} "
                f"{', '.join(left)}")
            said = left
        time.sleep(poll_s)


def submitted_jobs(runner):
    """Every job id the run's submissions recorded in its journal."""
    out = []
    for rec in runner.journal.records():
        if rec.get("event") == "submitted":
            out += [str(j) for j in rec.get("jobs", [])]
    return out
