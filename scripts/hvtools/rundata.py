"""Reading run directories (samples.csv, summary.json, matrix-summary.json) and the
published reference figures (experiments/*/published/*.csv)."""
import copy
import csv
import io
import json
import math
import os
import shlex
import statistics
import sys

from .hostcheck import option

EXIT_METRICS = ("exits", "exit_run_ns_median", "exit_handle_ns_median",
                "exit_roundtrip_ns_median")
# The guest nanobench's first operations, in the order tables and figures show them
# (Adams & Agesen's order); the others follow in the order the run holds them.
NANOBENCH_OPS = ("syscall", "in", "cr8wr", "callret", "pgfault", "divzero", "ptemod")
WORKLOADS = ("forkwait", "compute", "memwalk", "ptchurn", "ctxswitch", "locks", "tlbshoot")
# The segbase mode column (bt: how GS is written), fastest first.
SEGBASE_ORDER = ("wrgsbase", "shared", "arch_prctl")
# What tables say of an engine whose every cell was skipped: the host cannot run it.
NOT_ON_HOST = "not measured on this host"


class RunError(Exception):
    pass


def _num(v):
    try:
        x = float(v)
    except (TypeError, ValueError):
        return math.nan
    return x


def summarize(v):
    """{median, q1, q3 (quartiles), min, max, n} of a list of numbers, or None."""
    if not v:
        return None
    q1, _, q3 = statistics.quantiles(v, n=4, method="inclusive") if len(v) > 1 else v * 3
    return {"median": statistics.median(v), "q1": q1, "q3": q3, "min": min(v), "max": max(v),
            "n": len(v)}


def _label_flavour(rows):
    """Rows of a guest booted with a flavour other than full (pv: the paravirtual guest,
    hv-minimal/README.md) become "ENGINE (FLAVOUR)": the full flavour keeps the engine's
    name, which every comparison of an unmodified guest uses."""
    for r in rows:
        fl = r.get("flavour") or "-"
        if fl not in ("-", "full", ""):
            r["engine"] = f"{r['engine']} ({fl})"


def _guest_pagesize(notes, cmdline):
    """The user page size a run's guest booted with (its info record `pagesize`, in
    notes.guest) when it is a label: "2m"; "4k" only when the command line (cmdline, the
    run's guest_cmdline note) asked for it by name; else None (the default, or an older
    run that does not say)."""
    g = (notes or {}).get("guest")
    size = g.get("pagesize") if isinstance(g, dict) else None
    named = any(w.startswith("pagesize=") for w in str(cmdline or "").split())
    if size == "4k" and not named:
        return None
    return size


def _cell_label(notes, cmdline):
    """The label of a run's guest rows beside the engine's name, from what its command
    line named: the page size (_guest_pagesize), "full" for a guest that asked for
    the full flavour by name (flavour=full or pv=off): a cell of a pv-against-full
    comparison, whose full rows are measured beside its pv rows, in the same stretch of
    the run, and never pool with the default rows of other experiments; and the spinlock
    mode a guest named (spinlock=plain, pv-yield, pv-halt): a cell of the spinlock
    experiment, whose overcommitted runs must not pool with the default ones. None:
    none."""
    words = str(cmdline or "").split()
    spin = [w[len("spinlock="):] for w in words if w.startswith("spinlock=")]
    parts = [p for p in (_guest_pagesize(notes, cmdline),
                         "full" if "flavour=full" in words or "pv=off" in words else None,
                         spin[-1] if spin else None)
             if p]
    return " ".join(parts) or None


def _label_named(rows, label):
    """A run's guest rows under "ENGINE (LABEL)", label being what its command line
    named (_cell_label): rows of a guest booted with pagesize=2m become "ENGINE (2m)",
    those of one that asked for pagesize=4k, flavour=full or spinlock=MODE by name
    "ENGINE (4k)", "ENGINE (full)" or "ENGINE (MODE)". A cell that names its mode belongs to a comparison whose rows stand
    side by side and never pool with the default rows other experiments read under the
    bare engine name. The default keeps the engine's name; the host's native baseline
    has no guest mode and keeps its name."""
    if not label:
        return
    for r in rows:
        if r["engine"] != "native":
            r["engine"] = f"{r['engine']} ({label})"


def _label_memvirt(rows):
    """Where one engine's rows carry more than one memvirt in a run (bt with adaptive
    translation on, shadow-bt, and off, shadow-bt-traced), the shortest name keeps the
    engine's name and the others become "ENGINE (MEMVIRT)", as _label_segbase does."""
    seen = {}
    for r in rows:
        seen.setdefault(r["engine"], set()).add(r.get("memvirt") or "-")
    for engine, kinds in seen.items():
        if len(kinds) < 2 or "-" in kinds:
            continue
        first = min(kinds, key=lambda k: (len(k), k))
        for r in rows:
            if r["engine"] == engine and r.get("memvirt") != first:
                r["engine"] = f"{engine} ({r['memvirt']})"


def _label_segbase(rows):
    """Where one engine's rows were measured with more than one segbase (bt with
    wrgsbase and with arch_prctl), the fastest keeps the engine's name, which the
    published comparisons use, and the others become "ENGINE (SEGBASE)", so tables and
    figures set them side by side instead of mixing them."""
    seen = {}
    for r in rows:
        sb = r.get("segbase") or "-"
        if sb != "-":
            seen.setdefault(r["engine"], set()).add(sb)
    for engine, kinds in seen.items():
        if len(kinds) < 2:
            continue
        first = min(kinds, key=lambda k: SEGBASE_ORDER.index(k) if k in SEGBASE_ORDER
                    else len(SEGBASE_ORDER))
        for r in rows:
            if r["engine"] == engine and r.get("segbase") not in ("-", None, first):
                r["engine"] = f"{engine} ({r['segbase']})"


def _label_engines(rows):
    """Every renaming of an engine's rows by their mode columns, in one place: a whole
    run and each part of it (Run.by_host) are labelled alike."""
    _label_flavour(rows)
    _label_memvirt(rows)
    _label_segbase(rows)


def _read_samples(csv_path):
    """samples.csv's rows. A last line without its newline is a row torn by a kill
    mid-write (the kernel stops a write at a page boundary): it is dropped."""
    rows = []
    with open(csv_path, encoding="utf-8", newline="") as f:
        text = f.read()
    if text and not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
        print(f"{csv_path}: its last line is torn (the run was killed mid-write); "
              "it is left out", file=sys.stderr)
    for r in csv.DictReader(io.StringIO(text, newline="")):
        r["value"] = _num(r.get("value"))
        rows.append(r)
    return rows


class Run:
    """A run directory: one program's, or a matrix run's merged files. A matrix run
    whose cells were measured on several kinds of node (a Slurm run over a mixed
    cluster) is read per kind, by_host(): its ratios are taken within one kind."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        csv_path = os.path.join(self.path, "samples.csv")
        try:
            self.rows = _read_samples(csv_path)
        except FileNotFoundError:
            raise RunError(f"{csv_path}: no such file; give a run directory (one that holds "
                           "samples.csv), e.g. results/runs/<run>") from None
        self.summary = self._json("summary.json") or {}
        self.matrix = self._json("matrix-summary.json")
        self.context = self.summary.get("context") or {}
        self.notes = self.summary.get("notes") or {}
        self._label_named_cells()
        _label_engines(self.rows)
        self.is_fixture = bool(self.note("fixture"))
        # Kind of node -> its done cells (runner.host_kind); the kind this Run holds
        # the rows of, when it is one part of a run that spans several.
        self.hosts = (self.matrix or {}).get("hosts") or {}
        self.host_kind = next(iter(self.hosts)) if len(self.hosts) == 1 else None
        self.kinds_in_run = len(self.hosts)

    def _label_named_cells(self):
        """The labels (_label_named) of a run's rows: one run's from its notes; a matrix
        run's cell by cell, read again from the cells (the merged samples.csv does not
        say which cell a row came from), when a cell names a mode."""
        if self.matrix is None:
            _label_named(self.rows, _cell_label(self.notes, self.notes.get("guest_cmdline")))
            return
        labels = {k[:-len(".guest")]: _cell_label({"guest": v},
                                                  self.notes.get(k[:-len("guest")] +
                                                                 "guest_cmdline"))
                  for k, v in self.notes.items() if k.endswith(".guest")}
        if not any(labels.values()):
            return
        cells = [c for c in str(self.notes.get("merged_from", "")).split(", ")
                 if c and c != "none"]
        rows = []
        for name in cells:
            part = _read_samples(os.path.join(self.path, "cells", name, "samples.csv"))
            _label_named(part, labels.get(name))
            rows += part
        self.rows = rows

    def by_host(self):
        """[(kind of node, Run)]: [(kind, self)] when the run's cells were measured on one
        kind of node (kind None when the run does not say), else one part per kind,
        holding the rows, cells and context of that kind's cells alone."""
        if len(self.hosts) < 2:
            return [(self.host_kind, self)]
        return [(kind, self._part(kind, cells)) for kind, cells in self.hosts.items()]

    def _part(self, kind, cells):
        part = copy.copy(self)
        part.rows = []
        contexts = []
        for name in cells:
            d = os.path.join(self.path, "cells", name)
            try:
                cell_rows = _read_samples(os.path.join(d, "samples.csv"))
            except FileNotFoundError:
                raise RunError(f"{d}/samples.csv: no such file, but matrix-summary.json "
                               f"says cell {name} is done; run scripts/matrix.py --resume "
                               f"{self.path} to make the run agree with itself") from None
            with open(os.path.join(d, "summary.json"), encoding="utf-8") as f:
                cell_summary = json.load(f)
            cell_notes = cell_summary.get("notes") or {}
            _label_named(cell_rows, _cell_label(cell_notes, cell_notes.get("guest_cmdline")))
            part.rows += cell_rows
            ctx = cell_summary.get("context")
            if isinstance(ctx, dict):
                contexts.append(ctx)
        _label_engines(part.rows)
        part.context = contexts[0] if contexts else self.context
        part.matrix = dict(self.matrix)
        part.matrix["cells"] = [c for c in self.matrix.get("cells", [])
                                if c.get("host_kind") in (kind, None)]
        part.hosts = {kind: list(cells)}
        part.host_kind = kind
        return part

    def one_host(self):
        """Refuses a run that spans several kinds of node: what divides one value by
        another (ratios to native, figures, comparisons) takes one part of by_host()."""
        if len(self.hosts) > 1:
            raise RunError(f"{self.path} holds cells measured on {len(self.hosts)} kinds of "
                           f"node ({'; '.join(self.hosts)}); its values are compared within "
                           "one kind only: take the parts of Run.by_host()")

    def _json(self, name):
        p = os.path.join(self.path, name)
        try:
            with open(p, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except ValueError as e:
            raise RunError(f"{p} does not parse: {e}") from None

    def note(self, key):
        """A note by key, also as a matrix run's merged CELL.key; None when absent."""
        if key in self.notes:
            return self.notes[key]
        for k, v in self.notes.items():
            if k.endswith("." + key):
                return v
        return None

    def tsc_hz(self):
        v = self.context.get("tsc_hz")
        if isinstance(v, (int, float)) and v > 0:
            return float(v)
        v = self.note("tsc_hz")
        return float(v) if isinstance(v, (int, float)) and v > 0 else None

    def select(self, **f):
        out = []
        for r in self.rows:
            if all(r.get(k) == v for k, v in f.items()):
                out.append(r)
        return out

    def values(self, **f):
        return [r["value"] for r in self.select(**f) if math.isfinite(r["value"])]

    def stat(self, **f):
        """{median, q1, q3, min, max, n} of the finite values matching f, or None."""
        return summarize(self.values(**f))

    def engines(self, rows=None):
        seen = []
        for r in (self.rows if rows is None else rows):
            if r["engine"] not in seen:
                seen.append(r["engine"])
        return seen

    def has_engine(self, engine):
        """Whether the run holds samples of engine (also as "ENGINE (SEGBASE)")."""
        return any(r["engine"] == engine or r["engine"].startswith(engine + " (")
                   for r in self.rows)

    def engine_cells(self):
        """{engine: [its cells' records in matrix-summary.json]}, in plan order, for the
        engines the matrix asked for; empty without a matrix summary."""
        out = {}
        for c in (self.matrix or {}).get("cells", []):
            e = cell_engine(c.get("command"))
            if e:
                out.setdefault(e, []).append(c)
        return out

    def absence(self, engine):
        """None when the run holds samples of engine; else (label, why). The label is
        NOT_ON_HOST when the engine's cells were skipped, i.e. the host cannot run it
        (why: the first cell's reason), else "not measured" (its cells failed, did not
        run, or the run has none)."""
        if self.has_engine(engine):
            return None
        cells = self.engine_cells().get(engine)
        if not cells:
            return "not measured", f"this run has no {engine} cell"
        by = {}
        for c in cells:
            by.setdefault(c.get("status"), []).append(c)
        if "failed" in by:
            c = by["failed"][0]
            return "not measured", f"{len(by['failed'])} of {len(cells)} {engine} cells " \
                f"failed (first: {c['name']}: {c.get('reason') or 'no reason recorded'})"
        if "skipped" in by:
            return NOT_ON_HOST, skip_reason(by["skipped"][0].get("reason"))
        if "done" in by:
            return "not measured", f"its cells ({', '.join(c['name'] for c in by['done'])}) " \
                f"wrote no {engine} samples"
        return "not measured", f"the run stopped before its {engine} cells ran"

    def absent_engines(self):
        """[(engine, label, why)] for every engine the matrix asked for that has no
        samples here, in plan order."""
        out = []
        for e in self.engine_cells():
            a = self.absence(e)
            if a:
                out.append((e,) + a)
        return out

    def nanobench_ops(self):
        ops = []
        for r in self.rows:
            if r["experiment"] == "nanobench" and r["metric"] == "cycles_per_op" and \
                    r["workload"] not in ops:
                ops.append(r["workload"])
        return ops

    def exit_rows(self):
        return [r for r in self.rows
                if r["metric"] in EXIT_METRICS and r["params"].startswith("exit=")]


def cell_engine(command):
    """The engine a matrix cell's command measures: its --engine, "native" for
    nativebench, or None when the command does not say."""
    try:
        argv = shlex.split(command or "")
    except ValueError:
        return None
    if not argv:
        return None
    engine = option(argv, "--engine")
    if engine:
        return engine
    return "native" if os.path.basename(argv[0]) == "nativebench" else None


def skip_reason(reason):
    """A skipped cell's reason as a reader wants it: without the runner's "exit 77
    (skipped): " and the program's "PROGRAM: skipped: " in front."""
    r = (reason or "").strip()
    if r.startswith("exit 77 (skipped)"):
        r = r[len("exit 77 (skipped)"):].lstrip(": ")
    head, sep, rest = r.partition("skipped: ")
    if sep and len(head.split()) <= 1:           # "hvm: skipped: REASON"
        r = rest
    return r or "no reason recorded"


def cycles_per_op(run, op, engine):
    return run.stat(experiment="nanobench", workload=op, engine=engine, metric="cycles_per_op")


def guest_insns(run, op, where="kernel", engine=None):
    """Median guest instructions per operation of nanobenchmark op that an engine
    counted (engine: that one; None: whichever did), executed in the guest kernel
    (where="kernel") or in user mode ("user"): the samples guest_kernel_insns_per_op /
    guest_user_insns_per_op that nanobench's icount mode writes (under bt). None when
    the run has none."""
    f = {"engine": engine} if engine else {}
    v = run.values(experiment="nanobench", workload=op,
                   metric=f"guest_{where}_insns_per_op", **f)
    return statistics.median(v) if v else None


def ratio_to_native(run, op, engine):
    """(ratio, why-not) of engine's median cycles per op to native's, same run and same
    kind of node."""
    run.one_host()
    e = cycles_per_op(run, op, engine)
    n = cycles_per_op(run, op, "native")
    if e is None:
        return None, f"{engine} {op} not measured"
    if n is None:
        why = run.note(f"unavailable.{op}")
        return None, f"native {op} not measured" + (f" ({why})" if why else "")
    if n["median"] <= 0 or e["median"] <= 0:
        return None, (f"non-positive median ({engine} {e['median']:.1f}, native "
                      f"{n['median']:.1f} cycles): a measurement problem, no ratio")
    return e["median"] / n["median"], None


class Published:
    """One results/published/*.csv: its citation and rows. Every row names its own source
    (column source: the paper, where in it, and the page, or that the page or figure is
    not confirmed); a file with a row that does not is refused."""

    def __init__(self, path):
        self.path = path
        self.name = os.path.splitext(os.path.basename(path))[0]
        with open(path, encoding="utf-8", newline="") as f:
            first = f.readline()
            if not first.startswith("# citation:"):
                raise RunError(f"{path}: first line is not '# citation: ...'")
            self.citation = first[len("# citation:"):].strip()
            reader = csv.DictReader(f)
            if "source" not in (reader.fieldnames or []):
                raise RunError(f"{path}: no source column; every row must name its source "
                               "(paper, table or figure, page)")
            self.rows = list(reader)
        for i, r in enumerate(self.rows):
            if not (r.get("source") or "").strip():
                raise RunError(f"{path}: row {i + 1} ({r.get('workload', '?')}) names no "
                               "source; give the paper, table or figure and page, or say "
                               "what could not be confirmed")
            r["value"] = _num(r.get("value"))

    def source(self, **f):
        """The source of the first row matching f, or None."""
        for r in self.rows:
            if all(r.get(k) == v for k, v in f.items()):
                return r["source"]
        return None

    def value(self, **f):
        for r in self.rows:
            if all(r.get(k) == v for k, v in f.items()):
                return r["value"]
        return None


def load_published(directory):
    out = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".csv"):
            p = Published(os.path.join(directory, name))
            out[p.name] = p
    return out
