"""Adams & Agesen's figures beside this run's: every engine's nanobenchmark and
workload ratios to native, next to their Pentium 4 ratios for BT and VT-x. Built with
the shared figure machinery (scripts/hvtools/figures.py)."""
from hvtools.compare import NATIVE_KERNEL_PATH, native_differs
from hvtools.figures import (NATIVE, Figure, positive, run_label, engine_title, finish,
                             ratio_figure, workload_ratios)
from hvtools.rundata import cycles_per_op, ratio_to_native

PUB_SERIES = ["A&A 2006 BT/native (P4)", "A&A 2006 VT-x/native (P4)"]


def nanobench_ratio(run, exp):
    """Ratio to native per nanobenchmark, every engine here beside A&A's Pentium 4."""
    aa = exp.module("compare")
    pub = exp.published.get("adams-agesen-2006")
    engines = [e for e in run.engines() if e != NATIVE and run.select(
        experiment="nanobench", engine=e, metric="cycles_per_op")]
    ops = list(aa.AA_OPS) + [o for o in run.nanobench_ops() if o not in aa.AA_OPS]
    series = PUB_SERIES + [f"{engine_title(run, e)}/native (here)" for e in engines]
    xlabels, values, left_out = [], [], []
    kernels = []
    for op in ops:
        other = native_differs(run, op)
        if other:
            # the two sides of the ratio are different operations: no bar of it is drawn
            left_out.append(f"{op}: not comparable (this run's native {op} is '{other}', "
                            "Adams and Agesen's a plain store)")
            continue
        row = [aa.aa_ratio(pub, op, "bt"), aa.aa_ratio(pub, op, "vtx")] if pub else \
            [None, None]
        for e in engines:
            r, why = ratio_to_native(run, op, e)
            row.append(r)
            if r is None and cycles_per_op(run, op, e) is not None:
                left_out.append(f"{op} ({e}): {why}")
        if any(positive(v) for v in row):
            diff = op in NATIVE_KERNEL_PATH and any(positive(v) for v in row[2:])
            if diff:
                kernels.append(op)
            xlabels.append(f"{op} (K)" if diff else op)
            values.append([v if positive(v) else None for v in row])
    if not xlabels:
        return None, "no nanobenchmark with a native baseline and no published ratio"
    caption = ("Nanobenchmarks as ratio of cycles per operation to native (log scale; the "
               "dashed line is native speed). Left: Adams and Agesen's Pentium 4 ratios "
               "(ASPLOS 2006); right: the engines measured in this run, each against the "
               "native baseline measured in the same run.")
    if kernels:
        caption += (" (K): different kernels: the native baseline of " + ", ".join(kernels) +
                    " runs Linux's kernel and the guest hvlab's, so the measured ratio is not "
                    "a virtualization overhead alone.")
    if not engines:
        caption += " This run holds no guest engine, so only the published ratios are drawn."
    return finish(Figure("nanobench-ratio", "Nanobenchmarks: ratio to native\n" +
                         run_label(run), "ratio to native (log scale)", xlabels, series,
                         values, refline=1.0, reflabel="native", caption=caption,
                         left_out=left_out))


def workloads_ratio(run, exp):
    """Workloads as ratio to their native run, beside A&A's forkwait ratios; None when
    the run has no workload with a native baseline (the shared workload figures say
    what the run lacks)."""
    xs, vals, engines, skipped = workload_ratios(run)
    if not xs:
        return None
    pub = exp.published.get("adams-agesen-2006")
    pubrows = []
    for x in xs:
        row = [None, None]
        if x.split(" ")[0] == "forkwait" and pub:
            n = pub.value(experiment="forkwait", cpu="pentium4-672", engine="native")
            b = pub.value(experiment="forkwait", cpu="pentium4-672", engine="bt")
            v = pub.value(experiment="forkwait", cpu="pentium4-672", engine="vtx")
            if n:
                row = [b / n if b else None, v / n if v else None]
        pubrows.append(row)
    kern = [x[:-4] for x in xs if x.endswith(" (K)")]
    caption = ("Workloads as ratio to their native run (log scale), beside Adams and "
               "Agesen's forkwait ratios on the Pentium 4." +
               ("" if not kern else " (K): different kernels: the native run of " +
                ", ".join(kern) + " runs Linux's kernel and the guest hvlab's, so the ratio "
                "is not a virtualization overhead alone."))
    return ratio_figure(run, "workloads-ratio", "Workloads: ratio to native", xs, PUB_SERIES,
                        pubrows, engines, [vals[x] for x in xs], caption, left_out=skipped)


def figures(run, exp):
    out = [nanobench_ratio(run, exp)]
    w = workloads_ratio(run, exp)
    if w:
        out.append(w)
    return out
