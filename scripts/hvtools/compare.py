"""Shared machinery of the published comparisons (each experiment's compare.py holds its
own rules): per row the published ratio, the measured ratio, the factor between them,
the verdict (verdict.py: a direction and a magnitude, each of which can fail), and a
sentence built in labelled parts:

    Published   the published figure and where in the paper it is (the CSV's source)
    Measured    this run's figure
    Verdict     what verdict.judge() found, or why there is none
    Different kernels   where native ran Linux's kernel and the guest hvlab's: the ratio
                is not a virtualization overhead alone (with the guest kernel's own
                instruction count per operation when an engine counted it)
    Paper's explanation   a mechanism the paper gives, cited
    Hypothesis, not measured in this run   any other mechanism

Nothing else states a mechanism: a comparing sentence comes from a measured or a
published value."""
import math
import statistics

from . import engines, rundata, verdict
from .rundata import cycles_per_op, guest_insns
from .verdict import fmt_factor

# what the native side does (the run's what.OP note, when present, says it exactly).
NATIVE_KERNEL_PATH = {
    "syscall": "Linux's getppid system call",
    "pgfault": "Linux's page-fault handler (a first write to a fresh anonymous page)",
    "divzero": "Linux's SIGFPE delivery to a handler and the signal return",
    "forkwait": "Linux's fork and wait, from a small host process",
    "ctxswitch": "Linux's process switch",
}
DIFFERENT_KERNELS = "different kernels"

# Labels of a row's parts.
PUBLISHED, MEASURED, VERDICT = "Published", "Measured", "Verdict"
PAPER = "Paper's explanation"
HYPOTHESIS = "Hypothesis, not measured in this run"


def fmt_ratio(r):
    if r is None or not math.isfinite(r):
        return "--"
    if r < 0.01:
        return f"{r:.2g}x"              # two significant digits, not "0.00x"
    if r >= 100:
        return f"{r:,.0f}x"
    if r >= 10:
        return f"{r:.0f}x"
    if r >= 1:
        return f"{r:.1f}x"
    return f"{r:.2f}x"


def fmt_cycles(c):
    return f"{c:,.0f} cycles" if c >= 10 else f"{c:.1f} cycles"


def fmt_insns(n):
    return f"{n:,.0f}" if n >= 10 else f"{n:.1f}"


class Row:
    """One comparison: label, the published and measured figures as text, the verdict
    (verdict.Verdict), a tag shown under the label (e.g. "different kernels"), and the
    labelled parts of its sentence [(label, text)]."""

    def __init__(self, label, published, measured, v, parts, tag="", source=None):
        self.label, self.published, self.measured = label, published, measured
        self.verdict, self.parts, self.tag = v, parts, tag
        self.source = source               # where the published figure is (the CSV's)

    @property
    def holds(self):
        return self.verdict.holds          # True, False or None

    @property
    def factor(self):
        return fmt_factor(self.verdict.factor)

    @property
    def sentence(self):
        src = f" Source: {self.source}." if self.source else ""
        return " ".join(f"{k}: {t}." for k, t in self.parts) + src


def table_sources(rows):
    """The distinct sources of a table's rows, in order: printed once with the table."""
    out = []
    for r in rows:
        if r.source and r.source not in out:
            out.append(r.source)
    return out


class Table:
    def __init__(self, key, title, source, pub_head, meas_head, rows, rule=None,
                 explained=()):
        # key: a short name of the comparison, used in the closing note; source: the
        # citation; explained: where the paper's explanations in the rows are
        self.key, self.title, self.source = key, title, source
        self.pub_head, self.meas_head, self.rows = pub_head, meas_head, rows
        self.rule, self.explained = rule, list(explained)


class MeasuredTable:
    """A table of this run's figures alone, with no published figure and so no verdict:
    head (column titles), rows (lists of text, first the row's name), and notes said
    under it. An experiment's compare.measured(run, exp) returns these."""

    def __init__(self, key, title, head, rows, notes=()):
        self.key, self.title, self.head, self.rows = key, title, head, rows
        self.notes = list(notes)


def host_kind(run):
    """How this run's KVM ran guest kernel code: "cpl0-emulated" (kvm_pvm), "hardware",
    or "none" when the host had no usable KVM (a kvm_pvm module may still be loaded)."""
    kvm = run.context.get("kvm") if isinstance(run.context.get("kvm"), dict) else {}
    if kvm.get("usable") is False or kvm.get("present") is False:
        return "none"
    return "cpl0-emulated" if kvm.get("flavour") == "kvm_pvm" else "hardware"


# Where the report says why an engine was not measured on this host (once, not per row).
SEE_ENGINES = "the Engines section says why"


def no_verdict(why):
    return verdict.Verdict(verdict.NOT_MEASURED, None, why)


def unmeasured(run, label, published, pub_parts, engine, why, source=None):
    """The row of a comparison this run cannot make. When the run holds no samples of
    engine at all, the row says so: NOT_ON_HOST when the host could not run it (the
    reason is given once, in the report's Engines section), else "not measured" and
    why; otherwise "not measured" with why."""
    absent = run.absence(engine) if engine else None
    if absent and absent[0] == rundata.NOT_ON_HOST:
        return Row(label, published, rundata.NOT_ON_HOST,
                   no_verdict(f"{engine} was {rundata.NOT_ON_HOST}"),
                   pub_parts + [(MEASURED, f"{engine} was {rundata.NOT_ON_HOST} "
                                           f"({SEE_ENGINES})")], source=source)
    if absent:
        return Row(label, published, absent[0], no_verdict(absent[1]),
                   pub_parts + [(MEASURED, f"not measured here: {absent[1]}")], source=source)
    return Row(label, published, "not measured", no_verdict(why),
               pub_parts + [(MEASURED, f"not measured here: {why}")], source=source)


def mode_of(run, engine, col):
    for r in run.rows:
        if r["engine"] == engine and r.get(col) not in (None, "", "-"):
            return r[col]
    return None


def io_exit_us(run, engine):
    """(median round trip in us, exits, label) of the most frequent port-I/O exit."""
    best = None
    for r in run.exit_rows():
        if r["engine"] != engine or r["metric"] != "exits" or \
                not r["params"].startswith("exit=io-"):
            continue
        if best is None or r["value"] > best[1]:
            best = (r["params"], r["value"])
    if best is None:
        return None
    v = [r["value"] for r in run.exit_rows() if r["engine"] == engine and
         r["params"] == best[0] and r["metric"] == "exit_roundtrip_ns_median" and
         math.isfinite(r["value"])]
    if not v:
        return None
    return statistics.median(v) / 1000.0, int(best[1]), best[0][len("exit="):]


def abs_note(run, op, engine):
    s = cycles_per_op(run, op, engine)
    if s is None or s["median"] <= 0:
        return ""
    return f" ({engine} {op} alone costs {fmt_cycles(s['median'])})"


def native_differs(run, op):
    """What this run's native baseline of op measured, when that is not the operation
    A&A's native column timed: their ptemod native is a plain store to a PTE, hvlab's
    an mprotect call (the run's what.ptemod note says which)."""
    if op != "ptemod":
        return None
    what = run.note("what.ptemod")
    if what and "store" in what and "mprotect" not in what:
        return None
    return what or "mprotect of one page (a system call)"


def kernel_parts(run, op):
    """The "different kernels" part of a row whose native baseline runs Linux's kernel,
    with the guest kernel's instruction count per operation when the run has it; []
    for an operation that stays out of the kernel natively."""
    if op not in NATIVE_KERNEL_PATH:
        return []
    what = run.note(f"what.{op}")
    native = f"'{what}' in Linux's kernel" if what else NATIVE_KERNEL_PATH[op]
    text = f"native ran {native}, the guest hvlab's own kernel, so the ratio is not a " \
           "virtualization overhead alone"
    n = guest_insns(run, op, "kernel")
    if n is not None:
        u = guest_insns(run, op, "user")
        utxt = f", and {fmt_insns(u)} user-mode ones against its harness" \
            if u is not None else ""
        text += f"; hvlab's kernel executes {fmt_insns(n)} instructions per operation" \
                f"{utxt} (counted by the bt engine, nanobench icount=1)"
    return [(DIFFERENT_KERNELS.capitalize(), text)]


def verdict_part(v):
    return (VERDICT, v.text)


def workload_median(run, w, engine):
    rows = [r for r in run.rows if (r["workload"] == w or r["experiment"] == w) and
            r["experiment"] != "counters" and             # the engine's own counters
            not r["params"].startswith("exit=") and r["metric"] != "exits"]
    if not rows:
        return None, None
    metric = rows[0]["metric"]
    v = [r["value"] for r in rows if r["engine"] == engine and r["metric"] == metric and
         math.isfinite(r["value"])]
    return (statistics.median(v) if v else None), metric


def _tags(rows):
    return ", ".join(rows) or "none"


def closing(run, tables, middle=()):
    """Sentences for the closing note, each from the verdicts of the rows above or from a
    measured value; a mechanism only as a labelled hypothesis. middle: the experiments'
    own sentences (their compare.closing), said before what was not measured."""
    by = {k: [] for k in (verdict.HOLDS, verdict.MAGNITUDE_FAILS, verdict.DIRECTION_FAILS,
                          verdict.NOT_COMPARABLE, verdict.NOT_MEASURED)}
    tagged = []
    for t in tables:
        for r in t.rows:
            tag = f"{r.label} ({t.key})"
            by[r.verdict.kind].append(tag)
            if r.tag and r.holds is not None:
                tagged.append(f"{tag}: {r.tag}")
    out = []
    judged = len(by[verdict.HOLDS]) + len(by[verdict.MAGNITUDE_FAILS]) + \
        len(by[verdict.DIRECTION_FAILS])
    if judged == 0:
        out.append("No published shape could be checked: this run measured none of the "
                   "compared quantities.")
    else:
        out.append(f"Of the {judged} published shapes this run could check (a direction and "
                   f"a magnitude within a factor of {verdict.MAGNITUDE:g} each), "
                   f"{len(by[verdict.HOLDS])} hold: {_tags(by[verdict.HOLDS])}; "
                   f"{len(by[verdict.MAGNITUDE_FAILS])} keep the direction but not the "
                   f"magnitude: {_tags(by[verdict.MAGNITUDE_FAILS])}; "
                   f"{len(by[verdict.DIRECTION_FAILS])} do not hold: "
                   f"{_tags(by[verdict.DIRECTION_FAILS])}.")
    if tagged:
        out.append(f"Of these, {len(tagged)} compare unlike things and say so in their rows "
                   f"({'; '.join(tagged)}). Different kernels: native ran Linux's kernel and "
                   "the guest hvlab's, so the ratio is not a virtualization overhead alone; "
                   "different programs: the published benchmark and hvlab's workload are "
                   "not the same program.")
    if by[verdict.NOT_COMPARABLE]:
        out.append(f"Not comparable, so not judged: {_tags(by[verdict.NOT_COMPARABLE])} (the "
                   "native baseline measured another operation than the paper's).")
    out += list(middle)
    on_host = [(e, why) for e, label, why in run.absent_engines()
               if label == rundata.NOT_ON_HOST]
    if on_host:
        out.append(f"Not measured on this host: {', '.join(e for e, _ in on_host)} "
                   "(" + "; ".join(f"{e}: {why}" for e, why in on_host) + "); these "
                   "engines are absent from the figures, and the rows that need them say so.")
    if by[verdict.NOT_MEASURED]:
        absent = [e for e in engines.for_run(run).names() if not run.has_engine(e)
                  and e not in dict(on_host)]
        extra = f" (engines absent from this run: {', '.join(absent)})" if absent else ""
        out.append(f"Not measured in this run: {len(by[verdict.NOT_MEASURED])} comparisons"
                   f"{extra}; their rows say what is missing.")
    return out


def engine_notes(run, engine, key):
    """The value of note key in every program run of engine in this run: the run's own
    notes, or each matrix cell's (merged as CELL.key) whose engine note is engine."""
    out = []
    if run.notes.get("engine") == engine and key in run.notes:
        out.append(run.notes[key])
    for k, v in run.notes.items():
        cell, _, rest = k.partition(".")
        if rest == key and run.notes.get(f"{cell}.engine") == engine:
            out.append(v)
    return out


def num_notes(run, engine, key):
    return [v for v in engine_notes(run, engine, key)
            if isinstance(v, (int, float)) and math.isfinite(v)]
