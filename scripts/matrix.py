#!/usr/bin/env python3
"""Runs a benchmark matrix: every cell of a matrix file in its own process, with a
timeout, into one run directory; resumes an interrupted run; or submits the cells to
Slurm as one job array (--slurm). See scripts/README.md."""
import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from hvtools import matrixfile, runner, slurm  # noqa: E402

EPILOG = """exit status: 0 every cell done or skipped (with --slurm and no --wait: the
cells were submitted); 1 some cell failed (with --slurm --wait: or has no outcome); 2
usage or matrix-file error; 3 the run directory cannot be used (also: a resume that would
mix cells of two builds, or while jobs of the run are still queued); 4 Slurm is not
there or refused the jobs; 128+N interrupted by signal N (continue with --resume DIR)."""
MATRIX_PY = os.path.join(ROOT, "scripts", "matrix.py")


def say(msg):
    print(msg, file=sys.stderr, flush=True)


def refuse_if_queued(r):
    """A run must not be resumed, here or on Slurm, while jobs of an earlier submission
    may still measure its cells. None, or the exit status after saying why."""
    left = slurm.queued(slurm.submitted_jobs(r))
    if not left:
        return None
    jobs = ",".join(left)
    say(f"matrix.py: Slurm jobs {jobs} of {r.dir} are still queued or running; wait for "
        f"them (squeue -j {jobs}) or cancel them (scancel {' '.join(left)}), then resume")
    return 3


def submit(r, a, retry_failed=False, rerun_changed=False):
    """The cells of r still to run, as a Slurm job array and its final job."""
    pending = r.prepare(retry_failed, rerun_changed)
    if pending is None:
        return 3
    if not pending:
        say("matrix: every cell has an outcome; nothing to submit")
        return r.finish()
    commit, dirty = runner.git_info(ROOT)
    opts = {"partition": a.partition, "account": a.account, "constraint": a.constraint,
            "max_running": a.max_running, "figures": a.figures}
    try:
        array_id, finish_id = slurm.submit(r, pending, opts, MATRIX_PY, commit)
    except slurm.SlurmError as e:
        r.journal.append("submit-failed", reason=str(e))
        say(f"matrix.py: {e}")
        say(f"matrix.py: nothing was submitted; the run directory is kept: submit its cells "
            f"with scripts/matrix.py --resume {r.dir} --slurm [options]")
        return 4
    submitted = r.journal.append("submitted", jobs=[array_id, finish_id],
                                 cells=[c.name for c in pending], commit=commit,
                                 git_dirty=dirty,
                                 **{k: v for k, v in opts.items() if v})
    say(f"matrix: {len(pending)} of {len(r.cells())} cells submitted as Slurm job array "
        f"{array_id}; job {finish_id} merges them once the array has ended -> {r.dir}")
    say(f"matrix: follow with squeue -j {array_id},{finish_id} and {r.path('journal.jsonl')}; "
        f"after it: scripts/matrix.py --resume {r.dir} --slurm runs what is left")
    if dirty is True:
        say(f"matrix: note: this tree has uncommitted changes; nodes are checked against "
            f"commit {commit[:12]} only")
    if not a.wait:
        return 0
    r.unlock()                  # the tasks take the run directory shared
    slurm.wait([array_id, finish_id], say)
    recs = r.journal.records()
    after = recs[recs.index(submitted) + 1:] if submitted in recs else recs
    if not any(x.get("event") == "summary" for x in after):
        say(f"matrix.py: job {finish_id} ended without writing the run's summary; see "
            f"{r.path('slurm', f'finish-{finish_id}.out')}")
        return 1
    with open(r.path("matrix-summary.json"), encoding="utf-8") as f:
        summary = json.load(f)
    r.say_outcome(summary)
    counts = summary["counts"]
    if counts["pending"]:
        say(f"matrix: {counts['pending']} cells have no outcome (a task was cancelled or "
            f"ran out of time); resubmit them with: scripts/matrix.py --resume {r.dir} --slurm")
    return 1 if counts["failed"] or counts["pending"] else 0


def finish(a):
    """The final job of a Slurm run: merge and summary, then figures when asked."""
    r = runner.Runner(a.slurm_finish, ROOT, out=sys.stdout)
    try:
        r.open_existing(wait_s=120)
    except (RuntimeError, OSError) as e:
        say(f"matrix.py: {e}")
        return 3
    status = r.finish()
    samples = r.path("samples.csv")
    if a.figures and os.path.exists(samples) and os.path.getsize(samples) > 0:
        print(f"== figures -> {r.path('figures')}", flush=True)
        if subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "plot.py"),
                           r.dir]).returncode != 0 and status == 0:
            status = 1
    return status


def task(a):
    """One array task of a Slurm run: the cell at the task's id."""
    index = os.environ.get("SLURM_ARRAY_TASK_ID", "")
    if not index.isdigit():
        say("matrix.py: --slurm-task runs inside a Slurm array task (SLURM_ARRAY_TASK_ID "
            "is not set); submit a run with: scripts/matrix.py MATRIX --slurm")
        return 2
    r = runner.Runner(a.slurm_task, ROOT, out=sys.stdout)
    try:
        r.open_existing(shared=True, wait_s=120)
    except (RuntimeError, OSError) as e:
        say(f"matrix.py: {e}")
        return 3
    return r.run_task(int(index), a.commit or "")


def main(argv):
    ap = argparse.ArgumentParser(
        prog="matrix.py", epilog=EPILOG,
        description="Runs the cells of a matrix file, each in its own process with a "
                    "timeout, into one run directory.")
    ap.add_argument("matrix", nargs="?", help="matrix file (e.g. scripts/matrices/default.matrix)")
    ap.add_argument("--out", metavar="DIR",
                    help="run directory (default results/runs/matrix-NAME-DATE-PID)")
    ap.add_argument("--resume", metavar="DIR",
                    help="continue the run in DIR: runs the cells that have no outcome yet")
    ap.add_argument("--retry-failed", action="store_true",
                    help="with --resume: run failed and skipped cells again too")
    ap.add_argument("--rerun-changed", action="store_true",
                    help="with --resume: run again the finished cells whose program or "
                         "guest image has changed since (without it, such a run is refused)")
    ap.add_argument("--set", metavar="NAME=VALUE", action="append", default=[],
                    help="give a variable this value, over the file's own assignments")
    ap.add_argument("--bin", metavar="DIR",
                    help="what {bin} stands for (default $BUILD/bin, BUILD=build)")
    ap.add_argument("--list", action="store_true",
                    help="print the expanded cells and stop")
    sl = ap.add_argument_group(
        "Slurm", "submit the cells as one job array, a cell per task, instead of running "
        "them here; the run directory must be on a file system every node shares, and "
        "every node must have hvlab built at this tree's commit at this same path")
    sl.add_argument("--slurm", action="store_true",
                    help="submit the cells still to run (with --resume: those without an "
                         "outcome) to Slurm, and a final job that merges them")
    sl.add_argument("--partition", metavar="NAME", help="sbatch --partition")
    sl.add_argument("--account", metavar="NAME", help="sbatch --account")
    sl.add_argument("--constraint", metavar="FEATURES",
                    help="sbatch --constraint for the cells' tasks (e.g. a node feature "
                         "naming hosts with EPT)")
    sl.add_argument("--max-running", metavar="N", type=int,
                    help="at most N cells running at once (the array's %%N)")
    sl.add_argument("--wait", action="store_true",
                    help="stay until the final job has ended and print the run's outcome")
    sl.add_argument("--figures", action="store_true",
                    help="the final job also draws the figures (as make bench does)")
    # What the submitted jobs run (slurm/task.sh, slurm/finish.sh in the run directory).
    sl.add_argument("--slurm-task", metavar="DIR", help=argparse.SUPPRESS)
    sl.add_argument("--commit", help=argparse.SUPPRESS)
    sl.add_argument("--slurm-finish", metavar="DIR", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.slurm_task:
        return task(a)
    if a.slurm_finish:
        return finish(a)
    if not a.slurm:
        given = [o for o, v in (("--partition", a.partition), ("--account", a.account),
                                ("--constraint", a.constraint),
                                ("--max-running", a.max_running), ("--wait", a.wait),
                                ("--figures", a.figures)) if v]
        if given:
            ap.error(f"{', '.join(given)} go{'es' if len(given) == 1 else ''} with --slurm")
    if a.max_running is not None and a.max_running < 1:
        ap.error(f"--max-running {a.max_running}: give a whole number of cells, 1 or more")

    if a.resume:
        if a.matrix or a.out or a.set or a.list:
            ap.error("--resume DIR takes no matrix file, --out, --set or --list: the run "
                     "directory holds its plan")
        r = runner.Runner(a.resume, ROOT)
        # Before the lock, which a running task holds shared: the jobs say more.
        refused = refuse_if_queued(r)
        if refused:
            return refused
        try:
            if a.slurm:
                slurm.check_site(a.partition)
            r.open_existing()
        except slurm.SlurmError as e:
            say(f"matrix.py: {e}")
            return 4
        except (RuntimeError, OSError) as e:
            print(f"matrix.py: {e}", file=sys.stderr)
            return 3
        if a.slurm:
            return submit(r, a, retry_failed=a.retry_failed, rerun_changed=a.rerun_changed)
        return r.run(retry_failed=a.retry_failed, rerun_changed=a.rerun_changed)

    if not a.matrix:
        ap.error("give a matrix file, or --resume DIR")
    if a.retry_failed or a.rerun_changed:
        ap.error("--retry-failed and --rerun-changed go with --resume DIR")
    overrides = {}
    for s in a.set:
        if "=" not in s:
            ap.error(f"--set {s}: expected NAME=VALUE")
        k, v = s.split("=", 1)
        overrides[k.strip()] = v
    bindir = a.bin or os.path.join(os.environ.get("BUILD", "build"), "bin")
    builtins = {"bin": os.path.abspath(os.path.join(ROOT, bindir)), "root": ROOT}
    try:
        m = matrixfile.parse(a.matrix, builtins, overrides)
        text = m.text()
    except matrixfile.MatrixError as e:
        print(e, file=sys.stderr)
        return 2
    if a.list:
        if a.slurm:
            ap.error("--list prints the cells and submits nothing; leave out --slurm")
        for c in m.cells:
            pin = f" [pin {c.pin}]" if c.pin else ""
            print(f"{c.name} (line {c.line}, timeout {c.timeout:g} s{pin}): {c.display()}")
        return 0

    out = a.out
    if not out:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        base = os.path.splitext(os.path.basename(a.matrix))[0]
        out = os.path.join(ROOT, "results", "runs", f"matrix-{base}-{stamp}-{os.getpid()}")
    command = shlex.join(["scripts/matrix.py", *argv])
    if a.slurm:
        try:                    # before the run directory exists: a typo costs nothing
            slurm.check_site(a.partition)
        except slurm.SlurmError as e:
            say(f"matrix.py: {e}")
            return 4
    r = runner.Runner(out, ROOT)
    try:
        r.create(m, text, command)
    except (RuntimeError, OSError) as e:
        print(f"matrix.py: {e}", file=sys.stderr)
        return 3
    if a.slurm:
        return submit(r, a)
    return r.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
