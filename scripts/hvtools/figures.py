"""What each figure shows, computed from a run: the series, the values, the caption
and what had to be left out and why. Drawing is scripts/plot.py's job (gnuplot). The
figures here are every run's (cycles, exits, workloads); an experiment's own figures,
set beside its published figures, are in its folder's figures.py, built with the same
Figure, finish() and ratio_figure()."""
import math
import statistics

from . import engines
from .compare import NATIVE_KERNEL_PATH
from .rundata import NANOBENCH_OPS, WORKLOADS, cycles_per_op, summarize

NATIVE = engines.NATIVE


def engine_title(run, e):
    """A legend title: what the engine calls itself (engines.py)."""
    return engines.for_run(run).title(e)


class Figure:
    def __init__(self, name, title, ylabel, xlabels, series, values, logy=True,
                 errorbars=False, refline=None, reflabel="", caption="", left_out=None):
        self.name, self.title, self.ylabel = name, title, ylabel
        self.xlabels, self.series, self.values = xlabels, series, values
        self.logy, self.errorbars = logy, errorbars
        self.refline, self.reflabel = refline, reflabel
        self.caption = caption
        self.left_out = left_out or []

    def data_text(self):
        """The gnuplot data file: header of series titles, one line per x position."""
        def q(s):
            return '"' + str(s).replace('"', "'") + '"'
        head = [q("x")]
        for s in self.series:
            head += [q(s)] + ([q(s + " low"), q(s + " high")] if self.errorbars else [])
        lines = [" ".join(head)]
        for x, row in zip(self.xlabels, self.values):
            cells = [q(x)]
            for v in row:
                vals = v if self.errorbars else (v,)
                cells += ["NaN" if v is None or not math.isfinite(v) else f"{v:.6g}"
                          for v in vals]
            lines.append(" ".join(cells))
        return "\n".join(lines) + "\n"


def positive(v):
    return v is not None and math.isfinite(v) and v > 0


def _drawn(fig, v):
    """Whether one value of fig draws a bar: a positive median (the first of value, low,
    high with error bars), since every figure's axis may be logarithmic."""
    return positive(v[0] if fig.errorbars and v else v)


def finish(fig):
    """(fig, None) with what cannot be drawn taken out, or (None, why) when nothing is
    left. A series with no value to draw (an engine whose every ratio lacks a baseline,
    a published column with no figure for these rows) would leave an empty legend entry
    and an x position with none a gap, and gnuplot refuses a plot with no point at all;
    each removal is said in fig.left_out."""
    keep = [i for i, _ in enumerate(fig.series)
            if any(_drawn(fig, row[i]) for row in fig.values)]
    for i, name in enumerate(fig.series):
        if i not in keep:
            fig.left_out.append(f"{name}: no value to draw")
    fig.series = [fig.series[i] for i in keep]
    fig.values = [[row[i] for i in keep] for row in fig.values]
    rows = [(x, row) for x, row in zip(fig.xlabels, fig.values)
            if any(_drawn(fig, v) for v in row)]
    for x, row in zip(fig.xlabels, fig.values):
        if not any(_drawn(fig, v) for v in row) and fig.series:
            fig.left_out.append(f"{x}: no value to draw")
    if not fig.series or not rows:
        why = "; ".join(fig.left_out) or "no series"
        return None, f"{fig.name}: nothing to draw ({why}); figure skipped"
    fig.xlabels = [x for x, _ in rows]
    fig.values = [row for _, row in rows]
    return fig, None


def run_label(run):
    c = run.context
    kvm = c.get("kvm") if isinstance(c.get("kvm"), dict) else {}
    flavour = str(kvm.get("flavour", "")).strip()
    if kvm.get("usable") is False or kvm.get("present") is False:
        flavour = "no usable KVM"       # a kvm module may be loaded without a device
    bits = [str(c.get("cpu_model", "")).strip(), flavour]
    label = ", ".join(b for b in bits if b and not b.startswith("unavailable"))
    if run.is_fixture:
        label = "FIXTURE (not measured)" + (f", {label}" if label else "")
    return label


def nanobench_cycles(run):
    """Absolute cycles per operation per engine, median with min-max bars."""
    engines = [e for e in run.engines() if run.select(experiment="nanobench", engine=e,
                                                      metric="cycles_per_op")]
    engines.sort(key=lambda e: e != NATIVE)     # native first, the rest as they came
    if not engines:
        return None, "no nanobenchmark samples (experiment nanobench, metric cycles_per_op)"
    ops = [o for o in NANOBENCH_OPS if o in run.nanobench_ops()] + \
        [o for o in run.nanobench_ops() if o not in NANOBENCH_OPS]
    xlabels, values, left_out = [], [], []
    for op in ops:
        row = []
        for e in engines:
            s = cycles_per_op(run, op, e)
            if s is None:
                row.append((None, None, None))
            elif s["median"] <= 0:
                left_out.append(f"{op} ({e}): median {s['median']:.1f} cycles is not positive")
                row.append((None, None, None))
            else:
                lo = s["q1"] if s["q1"] > 0 else s["median"]
                row.append((s["median"], lo, s["q3"]))
        if any(v[0] is not None for v in row):
            xlabels.append(op)
            values.append(row)
    caption = ("Cycles per operation (TSC cycles, log scale) of every nanobenchmark per "
               "engine: bars are medians of all repetitions in the run, whiskers span the "
               "interquartile range.")
    return finish(Figure("nanobench-cycles", "Nanobenchmarks: cycles per operation\n" +
                         run_label(run), "TSC cycles per operation (log scale)", xlabels,
                         [engine_title(run, e) for e in engines], values, errorbars=True,
                         caption=caption, left_out=left_out))


def exit_costs(run, top=14):
    """Median round trip per exit kind (port, MMIO address, hlt...), per engine and
    workload; the label carries the count."""
    rows = run.exit_rows()
    if not rows:
        return None, ("no exit statistics in this run (samples with params exit=KIND and "
                      "metric exit_roundtrip_ns_median); exit-cost figure skipped")
    combos, counts = [], {}
    for r in rows:
        key = (r["engine"], r["workload"])
        if key not in combos:
            combos.append(key)
        if r["metric"] == "exits" and math.isfinite(r["value"]):
            label = r["params"][len("exit="):]
            counts[label] = counts.get(label, 0) + r["value"]
    labels = sorted(counts, key=lambda l: -counts[l])[:top]
    left_out = [f"{len(counts) - len(labels)} rarer exit kinds"] if len(counts) > top else []
    xlabels, values = [], []
    for label in labels:
        row = []
        for eng, wl in combos:
            v = [r["value"] for r in rows if r["engine"] == eng and r["workload"] == wl and
                 r["params"] == "exit=" + label and r["metric"] == "exit_roundtrip_ns_median"
                 and math.isfinite(r["value"])]
            row.append(statistics.median(v) / 1000.0 if v and statistics.median(v) > 0
                       else None)
        if any(v is not None for v in row):
            xlabels.append(f"{label} (n={int(counts[label])})")
            values.append(row)
    if not xlabels:
        return None, "exit statistics hold no round-trip times; exit-cost figure skipped"
    caption = ("Exit costs per exit kind: median round trip in microseconds (host TSC, from "
               "the exit back into the guest: the run call that ended in the exit plus the "
               "VMM's handling), per engine and workload; n is the number of exits.")
    return finish(Figure("exit-costs", "Exit round trip per exit kind\n" + run_label(run),
                         "median round trip, us (log scale)", xlabels,
                         [f"{engine_title(run, e)}: {w}" for e, w in combos], values,
                         caption=caption, left_out=left_out))


def _workload_rows(run, w):
    return [r for r in run.rows if (r["workload"] == w or r["experiment"] == w)
            and r["experiment"] != "counters"             # the engine's own counters
            and not r["params"].startswith("exit=") and r["metric"] not in ("exits",)]


def workloads(run):
    """One figure per workload present (forkwait, compute, ...): its first metric per
    engine. [(Figure or None, why not)], or ([], why) when the run has no workload
    samples."""
    figs = []
    for w in WORKLOADS:
        rows = _workload_rows(run, w)
        if not rows:
            continue
        metric, unit = rows[0]["metric"], rows[0]["unit"]
        engines_, row = _workload_medians(run, rows)
        figs.append(Figure(
            f"workload-{w}", f"{w}: {metric}\n" + run_label(run),
            f"{metric} ({unit}, log scale)",
            [engine_title(run, e) for e in engines_], ["median (interquartile range)"],
            [[r] if r[0] is not None and r[0] > 0 else [(None, None, None)] for r in row],
            errorbars=True,
            caption=f"Workload {w}: {metric} in {unit} per engine (log scale), median "
                    f"over repetitions, whiskers spanning the interquartile range."))
    if not figs:
        return [], "no " + ", ".join(WORKLOADS[:-1]) + f" or {WORKLOADS[-1]} samples; " \
                   "workload figures skipped"
    return [finish(f) for f in figs], None


def _workload_medians(run, rows):
    """(engines, [(median, q1, q3)] per engine) of the first metric of rows."""
    metric = rows[0]["metric"]
    mrows = [r for r in rows if r["metric"] == metric]
    engines_ = run.engines(mrows)
    out = []
    for e in engines_:
        st = summarize([r["value"] for r in mrows if r["engine"] == e and
                        math.isfinite(r["value"])])
        out.append((st["median"], st["q1"], st["q3"]) if st else (None, None, None))
    return engines_, out


def workload_ratios(run):
    """(workloads, {workload: {engine: ratio to native}}, engines, skipped) for every
    workload with a native run; a workload whose native baseline runs Linux's kernel is
    marked "(K)" in its label."""
    xs, vals, engines_, skipped = [], {}, [], []
    for w in WORKLOADS:
        rows = _workload_rows(run, w)
        if not rows:
            continue
        es, row = _workload_medians(run, rows)
        if NATIVE not in es:
            skipped.append(f"{w}: no native baseline, so no ratio")
            continue
        nat = row[es.index(NATIVE)][0]
        if not nat or nat <= 0:
            continue
        x = f"{w} (K)" if w in NATIVE_KERNEL_PATH else w
        xs.append(x)
        vals[x] = {e: (r[0] / nat if r[0] else None) for e, r in zip(es, row) if e != NATIVE}
        engines_ += [e for e in es if e != NATIVE and e not in engines_]
    return xs, vals, engines_, skipped


def ratio_figure(run, name, title, xlabels, pub_series, pub_values, engines_, values,
                 caption, left_out=None, measured="native"):
    """A ratio figure: published series (pub_values[i] per x) beside each engine's
    measured ratio (values[i][engine]), log scale with a reference line at 1."""
    series = list(pub_series) + [f"{engine_title(run, e)}/{measured} (here)"
                                 for e in engines_]
    rows = [list(p) + [v.get(e) for e in engines_] for p, v in zip(pub_values, values)]
    return finish(Figure(name, title + "\n" + run_label(run), "ratio (log scale)"
                         if measured != "native" else "ratio to native (log scale)",
                         xlabels, series, rows, refline=1.0, reflabel=measured,
                         caption=caption, left_out=left_out))


def all_figures(run, exps=()):
    """[(Figure or None, message)] in the order the report shows them: every run's
    figures, then each experiment's (experiments.py)."""
    run.one_host()
    out = [nanobench_cycles(run), exit_costs(run)]
    figs, why = workloads(run)
    if figs:
        out += figs
    else:
        out.append((None, why))
    for e in exps:
        out += e.figures(run)
    return out
