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
import hashlib
import csv
import ctypes
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
from .hostcheck import engine_unavailable
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


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_atomic(path, data):
    """Whole or absent: temporary file in the same directory, fsync, rename."""
    tmp = f"{path}.tmp-{os.getpid()}"
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

    def open_existing(self):
        try:
            with open(self.path("plan.json"), encoding="utf-8") as f:
                self.plan = json.load(f)
        except FileNotFoundError:
            raise RuntimeError(f"{self.dir} is not a matrix run directory (no plan.json); "
                               "start a run with: scripts/matrix.py MATRIX --out DIR") from None
        except ValueError as e:
            raise RuntimeError(f"{self.path('plan.json')} does not parse: {e}") from None
        self._lock()

    def _lock(self):
        self.lock_fd = os.open(self.path(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another matrix runner is using {self.dir}") from None
        os.ftruncate(self.lock_fd, 0)
        os.write(self.lock_fd, f"{os.getpid()}\n".encode())

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
            pid, started = rec.get("pid"), rec.get("pid_start")
            if pid and started is not None and group_members(pid, started):
                kill_group(pid, grace=1.0)
                self.journal.append("discarded", name, attempt=rec.get("attempt"),
                                    reason=f"runner stopped during the attempt; its process "
                                           f"group {pid} was still running and was killed")
            else:
                self.journal.append("discarded", name, attempt=rec.get("attempt"),
                                    reason="runner stopped during the attempt")
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

    def run(self, retry_failed=False, rerun_changed=False):
        """Runs every cell without a final outcome. Returns the process exit status."""
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            return self._run(retry_failed, rerun_changed)
        finally:
            for s, h in old.items():
                signal.signal(s, h)

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

    def _run(self, retry_failed, rerun_changed=False):
        self.recover(retry_failed)
        cells = self.cells()
        final, attempts, _ = self.state()
        pending = [c for c in cells if c.name not in final]
        why = self._refuse_mixed_builds(final, pending, rerun_changed)
        if why:
            self._say(f"matrix: {why}")
            self.journal.append("refused", reason=why.splitlines()[0])
            return 3
        if rerun_changed:
            final, attempts, _ = self.state()
            pending = [c for c in cells if c.name not in final]
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
        self.merge()
        try:
            os.rmdir(self.path("work"))         # only when no attempt is left in it
        except OSError:
            pass
        summary = self.write_summary(interrupted=bool(self.stop_signal))
        counts = summary["counts"]
        self._say(f"matrix: {counts['done']} done, {counts['failed']} failed, "
                  f"{counts['skipped']} skipped, {counts['pending']} not run, "
                  f"of {counts['total']} cells")
        for cs in summary["cells"]:
            if cs["status"] in ("failed", "skipped"):
                self._say(f"  {cs['name']}: {cs['status']}: {cs['reason']}")
        if self.stop_signal:
            self._say(f"matrix: interrupted; continue with: scripts/matrix.py --resume "
                      f"{self.dir}")
            return 128 + self.stop_signal
        return 1 if counts["failed"] else 0

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
            if self.catalog is None:
                self.catalog = engines.load(self.path(engines.FILE)) or engines.Catalog()
            self.catalog.add(got)
            if got.names():
                engines.save(self.catalog, self.path(engines.FILE))
        return self.described[path]

    def run_cell(self, c, attempt):
        """Runs one attempt of a cell and journals its outcome; returns the record."""
        why = engine_unavailable(c.argv, catalog=self.engines_of(c.argv[0]))
        if why:
            return self.journal.append("skipped", c.name, attempt=attempt, reason=why)
        why = missing_program(c.argv[0], self.root)
        if why:
            return self.journal.append("failed", c.name, attempt=attempt, reason=why,
                                       seconds=None)
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
                                           reason=f"cannot start {argv[0]}: {e.strerror}")
            self.journal.append("start", c.name, attempt=attempt, pid=p.pid,
                                pid_start=proc_start_time(p.pid), command=c.display(),
                                dir=os.path.relpath(work, self.dir), build_id=bid)
            timed_out = False
            while True:
                try:
                    rc = p.wait(timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if self.stop_signal:
                    kill_group(p.pid, proc=p)
                    shutil.rmtree(work, ignore_errors=True)
                    return self.journal.append(
                        "interrupted", c.name, attempt=attempt,
                        reason=f"runner got {signal.Signals(self.stop_signal).name}; the cell "
                               "was stopped and its directory removed")
                if time.monotonic() - t0 > c.timeout:
                    timed_out = True
                    kill_group(p.pid, proc=p)
                    rc = p.returncode
                    break
            try:        # nothing the cell started outlives it
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            secs = time.monotonic() - t0
        reason, event = self._judge(c, rc, timed_out, work, log_path, offset)
        if event == "done":
            dest = self.path("cells", c.name)
            os.makedirs(self.path("cells"), exist_ok=True)
            shutil.rmtree(dest, ignore_errors=True)
            os.rename(work, dest)
            return self.journal.append("done", c.name, attempt=attempt, seconds=round(secs, 3),
                                       rows=len(read_rows(dest)), build_id=bid)
        if event == "skipped":
            shutil.rmtree(work, ignore_errors=True)
            return self.journal.append("skipped", c.name, attempt=attempt, reason=reason,
                                       seconds=round(secs, 3))
        dest = self.path("failed", c.name)
        os.makedirs(self.path("failed"), exist_ok=True)
        shutil.rmtree(dest, ignore_errors=True)
        os.rename(work, dest)
        return self.journal.append("failed", c.name, attempt=attempt, reason=reason,
                                   seconds=round(secs, 3), exit=rc,
                                   log=os.path.relpath(log_path, self.dir))

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
        commit, dirty = git_info(self.root)
        ctx = {"date": self.plan.get("created", utcnow()), "host": socket.gethostname(),
               "kernel": f"{platform.system()} {platform.release()} {platform.version()}",
               "git_commit": commit, "git_dirty": dirty,
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
                          "dir": f"cells/{c.name}" if status == "done" else
                                 (f"failed/{c.name}" if status == "failed" else None)})
        state = "complete" if counts["pending"] == 0 else \
            ("interrupted" if interrupted else "incomplete")
        s = {"format": "hvlab-matrix-1", "matrix": self.plan.get("matrix"),
             "command": self.plan.get("command"), "created": self.plan.get("created"),
             "updated": utcnow(), "state": state, "counts": counts, "cells": cells}
        write_atomic(self.path("matrix-summary.json"), json.dumps(s, indent=1) + "\n")
        self.journal.append("summary", state=state, **counts)
        return s
