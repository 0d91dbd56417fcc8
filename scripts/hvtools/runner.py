"""Runs the cells of a matrix, each in its own process, into one run directory.

Layout of a matrix run directory:

    plan.json            the expanded cells (written once; --resume reads it, not the
                         matrix file, so a resumed run is the run that was started)
    matrix.txt           the matrix file as it was read
    journal.jsonl        one JSON record per event (start, done, failed, skipped,
                         interrupted, discarded, recovered), each a single O_APPEND
                         write followed by fsync
    work/NAME.ATTEMPT/   a cell while it runs (its {out})
    cells/NAME/          a finished cell: renamed from work/ only once its directory is
                         complete, so the rename is what makes a cell count as done
    failed/NAME/         what a failed cell left behind
    logs/NAME.log        every attempt's stdout and stderr
    samples.csv          all cells' rows under one header, in plan order
    summary.json         merged context, notes and groups (each group names its cell)
    matrix-summary.json  the outcome of every cell; written when the runner stops

A cell's directory is complete when its command exited 0 and left a samples.csv with
the hvlab header and whole rows, and a summary.json that parses.

Every attempt records the build id of the files it measured with (build_id below: its
program, the guest image, any file named on its command line). A resumed run that would
measure further cells refuses while a finished cell's files have changed since it ran:
merging them would put two builds into one set of figures. --rerun-changed runs such
cells again instead.
"""
import contextlib
import csv
import ctypes
import hashlib
import datetime
import fcntl
import io
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

from . import engines
from .hostcheck import engine_unavailable, kvm_mode
from .matrixfile import OUT_MARK, Cell, parse_cpulist

CSV_HEADER = ["experiment", "workload", "params", "engine", "memvirt", "flavour", "spinlock",
              "iopath", "segbase", "vcpus", "pcpus", "metric", "value", "unit", "rep"]
# Cells written before the segbase mode column: read as if it said "-".
CSV_HEADER_NO_SEGBASE = [c for c in CSV_HEADER if c != "segbase"]
EXIT_SKIP = 77
# hvm's exit statuses (hvm run --help), used to say why a cell failed.
HVM_STATUS = {1: "guest reported failure", 2: "usage error", 3: "guest misbehaved or was "
              "stopped", 4: "host error", 77: "guest skipped its workload"}
# Programs that exit with hvm's statuses: hvm, and hvpeer (the QEMU peers).
HVM_LIKE = ("hvm", "hvpeer")
KILL_GRACE_S = 5.0
FINAL = ("done", "failed", "skipped")
# In each cell's directory: where it ran (node, Slurm ids) and that node's context.
PROVENANCE = "provenance.json"


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_atomic(path, data):
    """Whole or absent: temporary file in the same directory, fsync, rename."""
    tmp = f"{path}.tmp-{socket.gethostname()}-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def proc_start_time(pid):
    """Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat),
    or None when it is gone; tells a process apart from a later one with the same id."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])


class Journal:
    def __init__(self, path):
        self.path = path

    def append(self, event, cell=None, **fields):
        rec = {"time": utcnow(), "event": event}
        if cell is not None:
            rec["cell"] = cell
        rec.update(fields)
        line = (json.dumps(rec, sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            # O_APPEND alone does not keep the lines of Slurm tasks on several NFS
            # clients apart; a POSIX lock does (closing the file releases it).
            fcntl.lockf(fd, fcntl.LOCK_EX)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return rec

    def records(self):
        """Every whole record; a line that does not parse (a torn write) is skipped."""
        out = []
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(rec, dict):
                        out.append(rec)
        except FileNotFoundError:
            pass
        return out


def check_cell_dir(d):
    """None when d is a complete cell directory, else what is missing."""
    samples = os.path.join(d, "samples.csv")
    try:
        with open(samples, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        return "no samples.csv"
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        return f"samples.csv unreadable ({e})"
    if not rows or rows[0] not in (CSV_HEADER, CSV_HEADER_NO_SEGBASE):
        return "samples.csv does not start with the hvlab header"
    for i, r in enumerate(rows[1:], 2):
        if len(r) != len(rows[0]):
            return f"samples.csv line {i} has {len(r)} fields, not {len(rows[0])}"
    try:
        with open(os.path.join(d, "summary.json"), encoding="utf-8") as f:
            s = json.load(f)
    except FileNotFoundError:
        return "no summary.json"
    except (OSError, ValueError) as e:
        return f"summary.json does not parse ({e})"
    if not isinstance(s, dict) or not isinstance(s.get("groups"), list):
        return "summary.json has no groups"
    return None


def read_rows(d):
    """A cell's rows in CSV_HEADER's columns."""
    with open(os.path.join(d, "samples.csv"), encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if rows and rows[0] == CSV_HEADER_NO_SEGBASE:
        at = CSV_HEADER.index("segbase")
        return [r[:at] + ["-"] + r[at:] for r in rows[1:]]
    return rows[1:]


def cell_inputs(argv, cwd):
    """The files a cell measures with: its program (found on PATH when it has no '/'),
    every argument that names an existing file (also as --opt=FILE), and for hvm and
    hvpeer without --kernel the guest image they boot by default (bin/../guest/kernel.elf)."""
    def resolve(p):
        return p if os.path.isabs(p) else os.path.join(cwd, p)
    prog = argv[0]
    files = [resolve(prog) if "/" in prog else (shutil.which(prog) or prog)]
    for a in argv[1:]:
        if OUT_MARK in a:
            continue
        for cand in (a, a.split("=", 1)[1] if a.startswith("--") and "=" in a else None):
            if cand and os.path.isfile(resolve(cand)):
                files.append(resolve(cand))
    if os.path.basename(prog) in HVM_LIKE and not any(
            a == "--kernel" or a.startswith("--kernel=") for a in argv):
        files.append(os.path.join(os.path.dirname(files[0]), "..", "guest", "kernel.elf"))
    out = []
    for f in files:
        f = os.path.realpath(f) if os.path.exists(f) else f
        if f not in out:
            out.append(f)
    return out


def build_id(argv, cwd):
    """A short hash over the contents of cell_inputs (a missing file counts by name):
    the same id means the cell would measure with the same bytes."""
    h = hashlib.sha256()
    for f in cell_inputs(argv, cwd):
        h.update(f.encode() + b"\0")
        try:
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        except OSError as e:
            h.update(f"unreadable: {e.strerror}".encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def missing_program(prog, cwd):
    if "/" in prog:
        p = prog if os.path.isabs(prog) else os.path.join(cwd, prog)
        if not os.path.exists(p):
            return f"{prog} does not exist (build it: make)"
        if not os.access(p, os.X_OK):
            return f"{prog} is not executable"
        return None
    return None if shutil.which(prog) else f"{prog} is not on PATH"


def group_members(pgid, since):
    """Processes of process group pgid started at or after `since` (clock ticks since
    boot): what is left of a cell whose runner was killed. A group id is not reused
    while any member lives, and the start time rules out a later group of that id."""
    members = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open(f"/proc/{e}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and int(fields[19]) >= since:
            members.append(int(e))
    return members


def _child_setup(cpus):
    """Runs in the cell's process before exec: CPU pinning, and death with the runner
    (so that a runner killed with SIGKILL does not leave its cell running)."""
    def setup():
        if cpus:
            os.sched_setaffinity(0, cpus)
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)          # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    return setup


def kill_group(pgid, grace=KILL_GRACE_S, proc=None):
    """SIGTERM to the process group, SIGKILL to what is left after grace seconds."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + grace
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc is not None:
        proc.wait()


CAUSE = re.compile(r"^(no |unknown |cannot |invalid )|not found|no such", re.I)


def _log_text(log_path, offset):
    """What the cell's attempt wrote to its log (from offset on); None when unreadable."""
    try:
        with open(log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


def last_line(log_path, offset):
    """The output line that best says why a cell ended: the last one that reports an
    error, else the first that says something is missing or unknown, else the last."""
    text = _log_text(log_path, offset)
    if text is None:
        return ""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    errors = [l for l in lines if "error" in l.lower()]
    causes = [l for l in lines if CAUSE.search(l)]
    best = errors[-1] if errors else (causes[0] if causes else (lines[-1] if lines else ""))
    return best[:300]


SKIP_WORD = re.compile(r"\bskip(ped|s|ping)?\b", re.I)


def skip_line(log_path, offset):
    """The output line in which a program that exited 77 says why it skipped: the last
    one that says "skipped" (hvm and hvpeer print "PROGRAM: skipped: REASON"), else the
    line last_line picks; "" when the program printed nothing."""
    text = _log_text(log_path, offset)
    if text is None:
        return ""
    said = [l.strip() for l in text.splitlines() if SKIP_WORD.search(l)]
    return said[-1][:300] if said else last_line(log_path, offset)


def find_line(log_path, offset, needle):
    text = _log_text(log_path, offset)
    if text is None:
        return None
    for l in text.splitlines():
        if needle in l:
            return l.strip()[:300]
    return None


def fmt_dur(s):
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else \
        f"{s // 60}:{s % 60:02d}"


def git_info(root):
    def git(*args):
        try:
            r = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True,
                               timeout=10)
        except (OSError, subprocess.TimeoutExpired) as e:
            return None, str(e)
        return (r.stdout.strip(), None) if r.returncode == 0 else (None, r.stderr.strip())
    commit, why = git("rev-parse", "HEAD")
    status, _ = git("status", "--porcelain", "--untracked-files=no")
    return (commit or f"unavailable: {why}",
            (status != "") if status is not None else "unavailable: git status failed")


def cpu_model():
    """The CPU's model name as libhvlab's context reads it (/proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() in ("model name", "Processor", "cpu model"):
                    return value.strip()
    except OSError as e:
        return f"unavailable: /proc/cpuinfo: {e.strerror}"
    return "unavailable: no model name in /proc/cpuinfo"


def node_context(root):
    """The context block of the node the runner runs on: the run's own context (merged
    with the cells') and each cell's provenance. Its fields are named as in a program's
    context (libhvlab), so the two can be compared."""
    commit, dirty = git_info(root)
    flavour, paging = kvm_mode()
    return {"host": socket.gethostname(),
            "kernel": f"{platform.system()} {platform.release()} {platform.version()}",
            "cpu_model": cpu_model(), "cpus": os.cpu_count(),
            "kvm": {"flavour": flavour, "paging": paging},
            "git_commit": commit, "git_dirty": dirty}


def host_kind(ctx):
    """The kind of node a context describes: CPU model and KVM paging. Cells measured on
    nodes of one kind may share a native baseline and be compared; the report never
    divides values of one kind by another's (rundata.Run.by_host)."""
    kvm = ctx.get("kvm") if isinstance(ctx.get("kvm"), dict) else {}
    flavour = kvm.get("flavour") or "?"
    paging = kvm.get("paging") or "?"
    mode = "no KVM" if flavour == "none" else f"{flavour} ({paging})"
    return f"{ctx.get('cpu_model') or '?'}, {mode}"


def slurm_ids(env=None):
    """The Slurm job and array task this process runs in, and the node's name as Slurm
    knows it (which may differ from its host name), or None outside Slurm."""
    env = os.environ if env is None else env
    ids = {k: env[v] for k, v in (("job_id", "SLURM_JOB_ID"),
                                  ("array_job_id", "SLURM_ARRAY_JOB_ID"),
                                  ("array_task_id", "SLURM_ARRAY_TASK_ID"),
                                  ("node_name", "SLURMD_NODENAME")) if env.get(v)}
    return ids or None


def commit_mismatch(root, expected):
    """Why this node's hvlab (at root) cannot measure cells of a run submitted from
    commit `expected`, or None. A run whose submitting tree had no commit to compare
    with is not checked."""
    if not expected or expected.startswith("unavailable"):
        return None
    here, _ = git_info(root)
    node = socket.gethostname()
    if here == expected:
        return None
    if here.startswith("unavailable"):
        return (f"node {node} cannot tell the commit of its hvlab at {root} ({here}); the "
                f"run was submitted from commit {expected[:12]}: build that commit there")
    return (f"node {node} has hvlab at commit {here[:12]}, but the run was submitted from "
            f"commit {expected[:12]}; every node must build the same commit (on {node}: "
            f"git -C {root} checkout {expected[:12]} && make)")


@contextlib.contextmanager
def file_lock(path):
    """An exclusive POSIX lock on path (created if absent) while the block runs."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class Runner:
    """One session of a matrix run: a new run, or the resumption of an earlier one."""

    def __init__(self, run_dir, root, out=sys.stderr):
        self.dir = os.path.abspath(run_dir)
        self.root = root
        self.out = out
        self.journal = Journal(os.path.join(self.dir, "journal.jsonl"))
        self.stop_signal = None
        self.lock_fd = None
        self.plan = None
        self.catalog = None          # engines.Catalog of the cells' programs
        self.described = {}          # program path -> engines.Catalog
        self.node = None             # node_context of this session's node
        self._where = None

    # -- set-up -------------------------------------------------------------------
    def path(self, *p):
        return os.path.join(self.dir, *p)

    def create(self, matrix, matrix_text, command):
        if os.path.exists(self.path("plan.json")):
            raise RuntimeError(f"{self.dir} already holds a matrix run; continue it with "
                               f"--resume {self.dir}")
        os.makedirs(self.dir, exist_ok=True)
        self._lock()
        plan = {"format": "hvlab-matrix-plan-1", "matrix": matrix.path, "created": utcnow(),
                "command": command, "cells": [c.to_json() for c in matrix.cells]}
        write_atomic(self.path("matrix.txt"), matrix_text)
        write_atomic(self.path("plan.json"), json.dumps(plan, indent=1) + "\n")
        self.journal.append("created", cells=len(matrix.cells), matrix=matrix.path,
                            command=command)
        self.plan = plan

    def open_existing(self, shared=False, wait_s=0.0):
        """Opens a run directory. shared: beside other sessions that hold it shared (the
        Slurm tasks of one run, each committing its own cell), never beside an exclusive
        one (a local runner, a submission, the final merge)."""
        try:
            with open(self.path("plan.json"), encoding="utf-8") as f:
                self.plan = json.load(f)
        except FileNotFoundError:
            raise RuntimeError(f"{self.dir} is not a matrix run directory (no plan.json); "
                               "start a run with: scripts/matrix.py MATRIX --out DIR") from None
        except ValueError as e:
            raise RuntimeError(f"{self.path('plan.json')} does not parse: {e}") from None
        self._lock(shared, wait_s)

    def _lock(self, shared=False, wait_s=0.0):
        self.lock_fd = os.open(self.path(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        end = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(self.lock_fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) |
                            fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= end:
                    os.close(self.lock_fd)
                    self.lock_fd = None
                    raise RuntimeError(f"another matrix runner is using {self.dir}") from None
                time.sleep(0.2)
        if not shared:
            os.ftruncate(self.lock_fd, 0)
            os.write(self.lock_fd, f"{os.getpid()}\n".encode())

    def unlock(self):
        """Lets other sessions in (a submission that then waits for its tasks)."""
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None

    def where(self):
        """Where this session measures: node name and kind, and the Slurm job and array
        task when it is one; journalled with every attempt (provenance)."""
        if self._where is None:
            self.node = node_context(self.root)
            self._where = {"node": self.node["host"], "host_kind": host_kind(self.node)}
            ids = slurm_ids()
            if ids:
                self._where["slurm"] = ids
        return self._where

    def cells(self):
        return [Cell.from_json(c) for c in self.plan["cells"]]

    # -- state --------------------------------------------------------------------
    def state(self):
        """{cell: last final record or None}, with the attempts counted per cell, and the
        start records that have no outcome (attempts cut short by a killed runner)."""
        final, attempts, open_starts = {}, {}, {}
        self.last_build = {}
        for rec in self.journal.records():
            name = rec.get("cell")
            if name is None:
                continue
            ev = rec.get("event")
            if ev == "start":
                attempts[name] = max(attempts.get(name, 0), int(rec.get("attempt", 0)))
                open_starts[name] = rec
                self.last_build[name] = rec.get("build_id")
            elif ev in FINAL or ev in ("interrupted", "discarded"):
                open_starts.pop(name, None)
                if ev in FINAL:
                    final[name] = rec
                elif ev == "discarded":     # the cell is to be run again
                    final.pop(name, None)
        return final, attempts, open_starts

    def recover(self, retry_failed=False):
        """Makes the directory agree with itself after an interruption: the cell of an
        attempt cut short is stopped if it still runs and its partial directory is
        removed; a cell directory that is complete but has no journal record is
        recorded; failed/skipped cells are reopened when asked to."""
        final, _, open_starts = self.state()
        for name, rec in open_starts.items():
            self._discard_open(name, rec)
        for c in self.cells():
            for w in self._work_dirs(c.name):
                shutil.rmtree(w, ignore_errors=True)
            done_dir = self.path("cells", c.name)
            rec = final.get(c.name)
            if os.path.isdir(done_dir):
                if rec is None or rec.get("event") != "done":
                    self.journal.append("recovered", c.name, reason="cell directory complete "
                                        "but its outcome was not journalled")
                    self.journal.append("done", c.name, seconds=None,
                                        rows=len(read_rows(done_dir)), recovered=True,
                                        build_id=self.last_build.get(c.name))
            elif rec is not None and rec.get("event") == "done":
                self.journal.append("discarded", c.name,
                                    reason="journal said done but cells/ has no directory")
            elif rec is not None and retry_failed:
                self.journal.append("discarded", c.name,
                                    reason=f"--retry-failed: was {rec.get('event')}")

    def _discard_open(self, name, rec):
        """Journals an attempt cut short (its runner killed, its Slurm task cancelled or
        out of time) as discarded, stopping what is left of it when it ran on this node
        (a process id means nothing on another)."""
        pid, started = rec.get("pid"), rec.get("pid_start")
        node = rec.get("node")
        if node and node != socket.gethostname():
            how = f" on node {node}" + (f" (Slurm job {rec['slurm'].get('job_id')})"
                                        if isinstance(rec.get("slurm"), dict) else "")
            self.journal.append("discarded", name, attempt=rec.get("attempt"),
                                reason=f"runner stopped during the attempt{how}")
        elif pid and started is not None and group_members(pid, started):
            kill_group(pid, grace=1.0)
            self.journal.append("discarded", name, attempt=rec.get("attempt"),
                                reason=f"runner stopped during the attempt; its process "
                                       f"group {pid} was still running and was killed")
        else:
            self.journal.append("discarded", name, attempt=rec.get("attempt"),
                                reason="runner stopped during the attempt")

    def _work_dirs(self, name):
        w = self.path("work")
        try:
            entries = os.listdir(w)
        except FileNotFoundError:
            return []
        return [os.path.join(w, e) for e in entries
                if e.rsplit(".", 1)[0] == name and e.rsplit(".", 1)[-1].isdigit()]

    # -- running ------------------------------------------------------------------
    def _on_signal(self, signum, _frame):
        self.stop_signal = signum

    @contextlib.contextmanager
    def _signals(self):
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def run(self, retry_failed=False, rerun_changed=False):
        """Runs every cell without a final outcome. Returns the process exit status."""
        with self._signals():
            return self._run(retry_failed, rerun_changed)

    def changed_cells(self, final):
        """[(cell, recorded build id, current build id)] for the finished cells whose
        files are no longer the ones they were measured with."""
        out = []
        for c in self.cells():
            rec = final.get(c.name)
            if rec is None or rec.get("event") != "done":
                continue
            now = build_id(c.argv, self.root)
            if rec.get("build_id") != now:
                out.append((c, rec.get("build_id"), now))
        return out

    def _refuse_mixed_builds(self, final, pending, rerun_changed):
        """Before measuring more cells: a finished cell built from other binaries is run
        again (rerun_changed) or the session refuses. Returns an error message or None."""
        changed = self.changed_cells(final) if pending else []
        if not changed:
            return None
        if rerun_changed:
            for c, was, now in changed:
                shutil.rmtree(self.path("cells", c.name), ignore_errors=True)
                self.journal.append("discarded", c.name,
                                    reason=f"--rerun-changed: measured with build "
                                           f"{was or 'not recorded'}, now {now}")
            return None
        def shown(f):
            rel = os.path.relpath(f, self.root)
            return f if rel.startswith("..") else rel
        lines = [f"  {c.name}: measured with build {was or '(not recorded)'}, its files "
                 f"({', '.join(shown(f) for f in cell_inputs(c.argv, self.root))}) "
                 f"are now build {now}" for c, was, now in changed]
        return ("refusing to resume: finished cells were built from other binaries than "
                "the cells still to run would be, and one run must not mix two builds:\n" +
                "\n".join(lines) + f"\nrebuild what they ran with (their summary.json "
                f"names the git commit), or run them again with: scripts/matrix.py "
                f"--resume {self.dir} --rerun-changed")

    def prepare(self, retry_failed=False, rerun_changed=False):
        """What a session does before it measures, locally or by submitting to Slurm:
        makes the directory agree with itself and refuses to mix builds. Returns the
        cells still to run, or None after saying why it refuses."""
        self.recover(retry_failed)
        final, _, _ = self.state()
        pending = [c for c in self.cells() if c.name not in final]
        why = self._refuse_mixed_builds(final, pending, rerun_changed)
        if why:
            self._say(f"matrix: {why}")
            self.journal.append("refused", reason=why.splitlines()[0])
            return None
        if rerun_changed:
            final, _, _ = self.state()
            pending = [c for c in self.cells() if c.name not in final]
        return pending

    def _run(self, retry_failed, rerun_changed=False):
        pending = self.prepare(retry_failed, rerun_changed)
        if pending is None:
            return 3
        cells = self.cells()
        final, attempts, _ = self.state()
        total = len(cells)
        t0 = time.monotonic()
        durations = [r["seconds"] for r in final.values()
                     if r.get("event") in ("done", "failed") and r.get("seconds")]
        self.journal.append("session", pid=os.getpid(), pending=len(pending))
        self._say(f"matrix: {total} cells, {total - len(pending)} finished before, "
                  f"{len(pending)} to run -> {self.dir}")
        for c in pending:
            if self.stop_signal:
                break
            ndone = len(self.state()[0])
            self._say(f"[{ndone + 1}/{total}] {c.name}: running (timeout {c.timeout:g} s)")
            attempt = attempts.get(c.name, 0) + 1
            rec = self.run_cell(c, attempt)
            if rec["event"] in ("done", "failed") and rec.get("seconds"):
                durations.append(rec["seconds"])
            if rec["event"] == "done":
                self.merge()
            ndone = len(self.state()[0])
            left = total - ndone
            eta = ""
            if left and durations:
                eta = f", ~{fmt_dur(left * sum(durations) / len(durations))} left"
            secs = f" ({rec['seconds']:.1f} s)" if rec.get("seconds") is not None else ""
            why = f": {rec['reason']}" if rec.get("reason") else ""
            self._say(f"[{ndone}/{total}] {c.name}: {rec['event']}{secs}{why} | elapsed "
                      f"{fmt_dur(time.monotonic() - t0)}{eta}")
        return self.finish()

    def finish(self):
        """What ends a session: the merged files, matrix-summary.json and the outcome of
        every cell. The end of a local run, and the final job of a Slurm one."""
        self.merge()
        try:
            os.rmdir(self.path("work"))         # only when no attempt is left in it
        except OSError:
            pass
        summary = self.write_summary(interrupted=bool(self.stop_signal))
        self.say_outcome(summary)
        if self.stop_signal:
            self._say(f"matrix: interrupted; continue with: scripts/matrix.py --resume "
                      f"{self.dir}")
            return 128 + self.stop_signal
        return 1 if summary["counts"]["failed"] else 0

    def say_outcome(self, summary):
        counts = summary["counts"]
        self._say(f"matrix: {counts['done']} done, {counts['failed']} failed, "
                  f"{counts['skipped']} skipped, {counts['pending']} not run, "
                  f"of {counts['total']} cells")
        for cs in summary["cells"]:
            if cs["status"] in ("failed", "skipped"):
                self._say(f"  {cs['name']}: {cs['status']}: {cs['reason']}")

    def run_task(self, index, commit):
        """One cell as a Slurm array task: the cell at plan position `index`, measured by
        the code a local run uses (run_cell), once this node's hvlab is found to be at
        the submitting commit. Returns the process exit status."""
        cells = self.cells()
        if not 0 <= index < len(cells):
            self._say(f"matrix: array task {index}: the plan of {self.dir} has cells 0 to "
                      f"{len(cells) - 1}; submit with scripts/matrix.py --slurm")
            return 2
        c = cells[index]
        final, attempts, open_starts = self.state()
        if c.name in final:         # a cell is measured once, whatever is resubmitted
            self._say(f"matrix: {c.name} is already {final[c.name]['event']}; nothing to do")
            return 0
        if c.name in open_starts:
            self._discard_open(c.name, open_starts[c.name])
        for w in self._work_dirs(c.name):
            shutil.rmtree(w, ignore_errors=True)
        attempt = attempts.get(c.name, 0) + 1
        with self._signals():
            why = commit_mismatch(self.root, commit)
            if why:
                rec = self.journal.append("failed", c.name, attempt=attempt, reason=why,
                                          seconds=None, **self.where())
            else:
                self._say(f"matrix: {c.name} on {self.where()['node']} (timeout "
                          f"{c.timeout:g} s)")
                rec = self.run_cell(c, attempt)
        secs = f" ({rec['seconds']:.1f} s)" if rec.get("seconds") is not None else ""
        self._say(f"matrix: {c.name}: {rec['event']}{secs}"
                  + (f": {rec['reason']}" if rec.get("reason") else ""))
        if self.stop_signal:
            return 128 + self.stop_signal
        return 1 if rec["event"] == "failed" else 0

    def _say(self, msg):
        print(msg, file=self.out, flush=True)

    def engines_of(self, program):
        """What a cell's program (hvm, hvpeer) says of its engines, asked once per run
        and kept in engines.json, which the report reads; an empty catalog for any
        other program."""
        path = program if os.path.isabs(program) else (
            os.path.join(self.root, program) if "/" in program else shutil.which(program))
        if not path or os.path.basename(path) not in engines.PROGRAMS:
            return engines.Catalog()
        if path not in self.described:
            got = engines.Catalog(engines.describe_program(path))
            self.described[path] = got
            # Slurm tasks add to engines.json at once: read it again under a lock.
            with file_lock(self.path(".engines.lock")):
                self.catalog = engines.load(self.path(engines.FILE)) or engines.Catalog()
                self.catalog.add(got)
                if got.names():
                    engines.save(self.catalog, self.path(engines.FILE))
        return self.described[path]

    def run_cell(self, c, attempt):
        """Runs one attempt of a cell and journals its outcome, with where it ran;
        returns the record. The one piece of code that measures a cell, in a local run
        and in a Slurm task alike."""
        where = self.where()
        why = engine_unavailable(c.argv, catalog=self.engines_of(c.argv[0]))
        if why:
            return self.journal.append("skipped", c.name, attempt=attempt, reason=why,
                                       **where)
        why = missing_program(c.argv[0], self.root)
        if why:
            return self.journal.append("failed", c.name, attempt=attempt, reason=why,
                                       seconds=None, **where)
        bid = build_id(c.argv, self.root)
        work = self.path("work", f"{c.name}.{attempt}")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        os.makedirs(self.path("logs"), exist_ok=True)
        log_path = self.path("logs", f"{c.name}.log")
        argv = [a.replace(OUT_MARK, work) for a in c.argv]
        cpus = parse_cpulist(c.pin) if c.pin else None
        with open(log_path, "ab") as log:
            log.write(f"==== {utcnow()} attempt {attempt}: {c.display()}\n".encode())
            log.flush()
            offset = log.tell()
            t0 = time.monotonic()
            try:
                p = subprocess.Popen(argv, cwd=self.root, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True, preexec_fn=_child_setup(cpus))
            except OSError as e:
                shutil.rmtree(work, ignore_errors=True)
                return self.journal.append("failed", c.name, attempt=attempt, seconds=None,
                                           reason=f"cannot start {argv[0]}: {e.strerror}",
                                           **where)
            self.journal.append("start", c.name, attempt=attempt, pid=p.pid,
                                pid_start=proc_start_time(p.pid), command=c.display(),
                                dir=os.path.relpath(work, self.dir), build_id=bid, **where)
            timed_out = False
            while True:
                try:
                    rc = p.wait(timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if self.stop_signal:
                    break
                if time.monotonic() - t0 > c.timeout:
                    timed_out = True
                    kill_group(p.pid, proc=p)
                    rc = p.returncode
                    break
            # A cell that did not finish while the runner was being stopped is
            # interrupted, not failed, also when the signal reached it first (Slurm
            # signals every process of a cancelled task), so a resume runs it again.
            if self.stop_signal and (p.poll() is None or p.returncode != 0):
                kill_group(p.pid, proc=p)
                shutil.rmtree(work, ignore_errors=True)
                return self.journal.append(
                    "interrupted", c.name, attempt=attempt, **where,
                    reason=f"runner got {signal.Signals(self.stop_signal).name}; the cell "
                           "was stopped and its directory removed")
            rc = p.returncode
            try:        # nothing the cell started outlives it
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            secs = time.monotonic() - t0
        reason, event = self._judge(c, rc, timed_out, work, log_path, offset)
        if event != "skipped":
            write_atomic(os.path.join(work, PROVENANCE),
                         json.dumps({"attempt": attempt, **where, "context": self.node},
                                    indent=1) + "\n")
        if event == "done":
            dest = self.path("cells", c.name)
            os.makedirs(self.path("cells"), exist_ok=True)
            shutil.rmtree(dest, ignore_errors=True)
            os.rename(work, dest)
            return self.journal.append("done", c.name, attempt=attempt, seconds=round(secs, 3),
                                       rows=len(read_rows(dest)), build_id=bid, **where)
        if event == "skipped":
            shutil.rmtree(work, ignore_errors=True)
            return self.journal.append("skipped", c.name, attempt=attempt, reason=reason,
                                       seconds=round(secs, 3), **where)
        dest = self.path("failed", c.name)
        os.makedirs(self.path("failed"), exist_ok=True)
        shutil.rmtree(dest, ignore_errors=True)
        os.rename(work, dest)
        return self.journal.append("failed", c.name, attempt=attempt, reason=reason,
                                   seconds=round(secs, 3), exit=rc,
                                   log=os.path.relpath(log_path, self.dir), **where)

    def _judge(self, c, rc, timed_out, work, log_path, offset):
        is_hvm = os.path.basename(c.argv[0]) in HVM_LIKE
        if timed_out:
            return f"timed out after {c.timeout:g} s (process group killed)", "failed"
        if rc == 0:
            problem = check_cell_dir(work)
            if problem:
                return f"exit 0 but the cell directory is incomplete: {problem}", "failed"
            return None, "done"
        if rc == EXIT_SKIP:
            # A skip counts as one only with its reason: the run's report says why the
            # engine was not measured on this host, and "skipped" alone tells no one.
            why = skip_line(log_path, offset)
            if why:
                return f"exit 77 (skipped): {why}", "skipped"
            return "exit 77 (skipped) but the program printed no reason; a cell that " \
                   "skips must say why", "failed"
        tail = last_line(log_path, offset)
        if is_hvm and rc == 2:
            line = find_line(log_path, offset, "not built yet")
            if line:
                return line, "skipped"
        if rc < 0:
            return f"killed by {signal.Signals(-rc).name}" + (f"; last output: {tail}"
                                                              if tail else ""), "failed"
        meaning = f" ({HVM_STATUS[rc]})" if is_hvm and rc in HVM_STATUS else ""
        return f"exit {rc}{meaning}" + (f": {tail}" if tail else ""), "failed"

    # -- merged outputs ----------------------------------------------------------
    def done_cells(self):
        return [c for c in self.cells() if os.path.isdir(self.path("cells", c.name))]

    def merge(self):
        """Rewrites samples.csv and summary.json from the finished cells."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(CSV_HEADER)
        groups, notes, contexts = [], {}, []
        for c in self.done_cells():
            d = self.path("cells", c.name)
            for row in read_rows(d):
                w.writerow(row)
            with open(os.path.join(d, "summary.json"), encoding="utf-8") as f:
                s = json.load(f)
            for g in s.get("groups", []):
                g = dict(g)
                g["cell"] = c.name
                groups.append(g)
            for k, v in (s.get("notes") or {}).items():
                notes[f"{c.name}.{k}"] = v
            if isinstance(s.get("context"), dict):
                contexts.append((c.name, s["context"]))
        write_atomic(self.path("samples.csv"), buf.getvalue())
        context = self.merged_context(contexts)
        notes = {"matrix": self.plan.get("matrix", ""),
                 "matrix_cells": len(self.plan["cells"]),
                 "merged_from": ", ".join(c.name for c in self.done_cells()) or "none", **notes}
        summary = {"format": "hvlab-summary-1", "context": context, "notes": notes,
                   "groups": groups}
        write_atomic(self.path("summary.json"), json.dumps(summary, indent=1) + "\n")

    def merged_context(self, contexts):
        """The runner's own context, overlaid with the cells' when they agree; a field
        on which cells differ keeps the first cell's value and says so."""
        ctx = {"date": self.plan.get("created", utcnow()), **node_context(self.root),
               "command": self.plan.get("command", "")}
        keys = []
        for _, c in contexts:
            for k in c:
                if k not in keys:
                    keys.append(k)
        for k in keys:
            if k in ("date", "command"):
                continue
            vals = [c[k] for _, c in contexts if k in c]
            first = vals[0]
            if all(v == first for v in vals):
                ctx[k] = first
            elif isinstance(first, (str, int, float, bool)):
                ctx[k] = f"{first} (first cell; cells differ: see cells/*/summary.json)"
            else:
                ctx[k] = first
        return ctx

    def write_summary(self, interrupted=False):
        final, attempts, _ = self.state()
        cells = []
        counts = {"total": 0, "done": 0, "failed": 0, "skipped": 0, "pending": 0}
        for c in self.cells():
            rec = final.get(c.name)
            status = rec["event"] if rec else "pending"
            counts["total"] += 1
            counts[status] += 1
            cells.append({"name": c.name, "command": c.display(), "axes": c.axes,
                          "status": status, "reason": (rec or {}).get("reason"),
                          "seconds": (rec or {}).get("seconds"),
                          "rows": (rec or {}).get("rows"), "attempts": attempts.get(c.name, 0),
                          "build_id": (rec or {}).get("build_id"),
                          "node": (rec or {}).get("node"),
                          "host_kind": (rec or {}).get("host_kind"),
                          "slurm": (rec or {}).get("slurm"),
                          "dir": f"cells/{c.name}" if status == "done" else
                                 (f"failed/{c.name}" if status == "failed" else None)})
        state = "complete" if counts["pending"] == 0 else \
            ("interrupted" if interrupted else "incomplete")
        hosts = {}                  # kind of node -> the cells measured on it
        for cs in cells:
            if cs["status"] == "done" and cs["host_kind"]:
                hosts.setdefault(cs["host_kind"], []).append(cs["name"])
        s = {"format": "hvlab-matrix-1", "matrix": self.plan.get("matrix"),
             "command": self.plan.get("command"), "created": self.plan.get("created"),
             "updated": utcnow(), "state": state, "counts": counts, "hosts": hosts,
             "cells": cells}
        write_atomic(self.path("matrix-summary.json"), json.dumps(s, indent=1) + "\n")
        self.journal.append("summary", state=state, **counts)
        return s
