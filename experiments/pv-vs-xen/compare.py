"""Barham et al. 2003 (Xen) beside a run: lmbench's null call, page fault, fork, exec and
context switch under Xen, against hvlab's pv guest flavour, each as a ratio to native;
and, with no published figure, the pv flavour against the full one on each engine (both
in this run): cycles per operation, their ratio, and the hypercalls the pv guest made
per operation.

Rows of the pv guest carry the engine name "ENGINE (pv)" (rundata: flavour column); the
full guest's rows this experiment measures beside them (its cells name flavour=full,
and run next to the pv ones) "ENGINE (full)". Where a run has no such rows, the
engine's default rows stand for the full guest."""
import math
import statistics

from hvtools.rundata import summarize

from hvtools.compare import (DIFFERENT_KERNELS, HYPOTHESIS, MEASURED, PAPER, PUBLISHED,
                             MeasuredTable, Row, Table, fmt_cycles, fmt_ratio, kernel_parts,
                             no_verdict, verdict_part)
from hvtools.verdict import VS_NATIVE, judge

BARHAM_SHORT = "Barham et al. 2003"
BARHAM_CITE = "Barham et al. 2003, the virtual machine interface's handling of exceptions; " \
              "section and page not confirmed"

# lmbench row -> (hvlab's operation, nanobenchmark op or workload)
BARHAM = (("null-call", "syscall"), ("page-fault", "pgfault"), ("fork", "forkwait"),
          ("exec", "forkexec"), ("ctxsw-2p-0k", "ctxswitch"))
# what the pv-against-full table shows: the kernel operations and the workloads
OPS = ("syscall", "pgfault", "ptemod", "cr8wr", "hypercall", "forkwait", "forkexec",
       "ctxswitch", "ptchurn")
PV = " (pv)"
FULL = " (full)"


def _values(run, op, engine, metric="cycles_per_op"):
    return [r["value"] for r in run.rows if r["workload"] == op and r["engine"] == engine and
            r["metric"] == metric and r["experiment"] != "counters" and
            not r["params"].startswith("exit=") and math.isfinite(r["value"])]


def median(run, op, engine, metric="cycles_per_op"):
    v = _values(run, op, engine, metric)
    return statistics.median(v) if v else None


def pv_engines(run):
    """The engines with rows of the pv guest, by their plain names ("bt", "hw")."""
    return [e[:-len(PV)] for e in run.engines() if e.endswith(PV)]


def full_of(run, engine):
    """The engine name of the full guest's rows to set beside the pv ones."""
    return engine + FULL if engine + FULL in run.engines() else engine


def _ratio(a, b):
    return a / b if a is not None and b and b > 0 and a > 0 else None


def barham(run, pub, engine):
    rows = []
    for lm, ours in BARHAM:
        x = pub.value(experiment="lmbench", workload=lm, engine="xen")
        n = pub.value(experiment="lmbench", workload=lm, engine="native")
        w = pub.value(experiment="lmbench", workload=lm, engine="vmware-ws")
        p = x / n if x and n else None
        src = pub.source(experiment="lmbench", workload=lm, engine="xen") or pub.citation
        pub_parts = [(PUBLISHED, f"Barham et al. measured lmbench {lm} under Xen at "
                                 f"{fmt_ratio(p)} native, VMware Workstation at "
                                 f"{fmt_ratio(w / n if w and n else None)}")]
        if lm == "null-call":
            pub_parts.append((f"{PAPER} ({BARHAM_SHORT})",
                              "a guest registers a fast handler for system calls, which the "
                              "processor enters directly: the call goes to the guest's own "
                              "handler without entering Xen"))
        label = f"{lm} ({ours})"
        pv = median(run, ours, engine + PV)
        full = median(run, ours, full_of(run, engine))
        nat = median(run, ours, "native")
        if pv is None:
            rows.append(Row(label, fmt_ratio(p), "not measured",
                            no_verdict(f"no {ours} of the pv guest under {engine}"),
                            pub_parts + [(MEASURED, f"not measured here: no {ours} of the "
                                                    f"pv guest under {engine} in this run")],
                            source=src))
            continue
        m = _ratio(pv, nat)
        if m is None:
            pf = _ratio(pv, full)
            rows.append(Row(label, fmt_ratio(p), "no native",
                            no_verdict(f"{ours} has no native counterpart in this run"),
                            pub_parts + [(MEASURED, f"{ours} has no native run here; the pv "
                                                    f"guest takes {fmt_cycles(pv)} per "
                                                    f"operation under {engine}, "
                                                    f"{fmt_ratio(pf)} the full guest's")],
                            source=src))
            continue
        v = judge(p, m, VS_NATIVE)
        kp = kernel_parts(run, ours)
        rows.append(Row(label, fmt_ratio(p), fmt_ratio(m), v,
                        pub_parts + [(MEASURED, f"the pv guest is {fmt_ratio(m)} native under "
                                                f"{engine} here (the full guest "
                                                f"{fmt_ratio(_ratio(full, nat))})"),
                                     verdict_part(v)] + kp,
                        tag=DIFFERENT_KERNELS if kp else "", source=src))
    return rows


def tables(run, exp):
    pub = exp.published.get("barham-2003")
    if not pub:
        return []
    engines = pv_engines(run) or ["bt"]
    return [Table(f"pv vs Xen ({e})", f"Barham et al. 2003: paravirtualization (Xen) against "
                  f"the pv guest under {e}, ratio to native", pub.citation, "Xen/native",
                  f"pv/native ({e}, here)", barham(run, pub, e), VS_NATIVE,
                  [f"{BARHAM_SHORT}: {BARHAM_CITE}"]) for e in engines]


def pv_full_rows(run, engine):
    """[(op, full median, pv median, pv/full, hypercalls per op (pv), full/native,
    pv/native)] for every operation both flavours ran under engine."""
    out = []
    for op in OPS:
        full, pv = median(run, op, full_of(run, engine)), median(run, op, engine + PV)
        if full is None and pv is None:
            continue
        nat = median(run, op, "native")
        out.append((op, full, pv, _ratio(pv, full),
                    median(run, op, engine + PV, "hypercalls_per_op"),
                    _ratio(full, nat), _ratio(pv, nat)))
    return out


def _c(v):
    return fmt_cycles(v) if v is not None else "--"


def measured(run, exp):
    out = []
    for e in pv_engines(run):
        rows = [[op, _c(f), _c(p), fmt_ratio(r), "--" if h is None else f"{h:.2f}",
                 fmt_ratio(fn), fmt_ratio(pn)]
                for op, f, p, r, h, fn, pn in pv_full_rows(run, e)]
        out.append(MeasuredTable(
            f"pv vs full ({e})", f"The pv guest against the full guest under {e}: median "
            "cycles per operation, both in this run",
            ["operation", "full", "pv", "pv/full", "hypercalls/op (pv)", "full/native",
             "pv/native"], rows,
            ["The pv guest makes a hypercall only for what the VMM offers under the engine "
             "(hv-minimal/README.md, \"Hypercall ABI\"); hypercalls/op is counted by the "
             "guest kernel over one extra pass (nanobenchmarks) or each repetition "
             "(workloads)."]))
    return out


def apart(run, op, engine):
    """-1 when the pv guest's interquartile range lies wholly below the full guest's,
    1 wholly above, 0 when they overlap (no difference this run can tell)."""
    a = summarize(_values(run, op, engine + PV))
    b = summarize(_values(run, op, full_of(run, engine)))
    if not a or not b:
        return 0
    return -1 if a["q3"] < b["q1"] else 1 if a["q1"] > b["q3"] else 0


def closing(run, tables):
    """Sentences from this run's numbers: where pv beats full on each engine beyond the
    spread, and by how much; the why only as a labelled hypothesis."""
    out = []
    for e in pv_engines(run):
        rows = [r for r in pv_full_rows(run, e) if r[3] is not None]
        if not rows:
            continue
        better = [f"{op} {fmt_ratio(r)}" for op, _, _, r, _, _, _ in rows
                  if apart(run, op, e) < 0]
        worse = [f"{op} {fmt_ratio(r)}" for op, _, _, r, _, _, _ in rows
                 if apart(run, op, e) > 0]
        out.append(f"Under {e}, beyond the interquartile ranges, the pv guest is cheaper "
                   "than the full guest on " + (", ".join(better) or "no operation")
                   + " and dearer on " + (", ".join(worse) or "none")
                   + " (pv/full of the medians); the other operations' ranges overlap.")
        if e == "hw" and worse:
            out.append(f"{HYPOTHESIS}: under hw on this host every hypercall is a port-I/O "
                       "exit to the VMM process and a CR3 load by hypercall adds two "
                       "register ioctls, while the native instructions it replaces are "
                       "handled inside KVM.")
    return out
