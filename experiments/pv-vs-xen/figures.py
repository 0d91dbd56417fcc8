"""Barham et al.'s lmbench ratios under Xen beside this run's full and pv guests (ratio
to native), and the pv guest against the full one per operation and engine. Built with
the shared figure machinery (scripts/hvtools/figures.py)."""
from hvtools.figures import Figure, engine_title, finish, run_label


def vs_xen(run, exp):
    cmp = exp.module("compare")
    pub = exp.published.get("barham-2003")
    engines = cmp.pv_engines(run)
    if not engines:
        return None, "no run of the pv guest: the pv-vs-xen figures are skipped"
    series = ["Xen/native (Barham et al. 2003)"]
    for e in engines:
        series += [f"{engine_title(run, e)} full/native (here)",
                   f"{engine_title(run, e)} pv/native (here)"]
    xlabels, values, left_out = [], [], []
    for lm, ours in cmp.BARHAM:
        x = pub.value(experiment="lmbench", workload=lm, engine="xen") if pub else None
        n = pub.value(experiment="lmbench", workload=lm, engine="native") if pub else None
        row = [x / n if x and n else None]
        nat = cmp.median(run, ours, "native")
        for e in engines:
            row += [cmp._ratio(cmp.median(run, ours, cmp.full_of(run, e)), nat),
                    cmp._ratio(cmp.median(run, ours, e + cmp.PV), nat)]
        if nat is None:
            left_out.append(f"{lm} ({ours}): no native run here, so no ratio")
        xlabels.append(f"{lm} ({ours})")
        values.append(row)
    return finish(Figure("pv-vs-xen", "lmbench rows: ratio to native\n" + run_label(run),
                         "ratio to native (log scale)", xlabels, series, values,
                         refline=1.0, reflabel="native",
                         caption="Barham et al.'s lmbench rows under Xen beside this run's "
                                 "full and pv guests on each engine, each as a ratio to "
                                 "native (log scale).", left_out=left_out))


def vs_full(run, exp):
    cmp = exp.module("compare")
    engines = cmp.pv_engines(run)
    if not engines:
        return None, "no run of the pv guest: the pv-vs-full figure is skipped"
    rows = {e: {r[0]: r[3] for r in cmp.pv_full_rows(run, e)} for e in engines}
    ops = [op for op in cmp.OPS if any(rows[e].get(op) for e in engines)]
    return finish(Figure("pv-vs-full", "The pv guest against the full guest\n" +
                         run_label(run), "pv/full (log scale)", ops,
                         [f"{engine_title(run, e)} pv/full (here)" for e in engines],
                         [[rows[e].get(op) for e in engines] for op in ops], refline=1.0,
                         reflabel="full",
                         caption="Median cycles per operation of the pv guest over the full "
                                 "guest's, per engine, both in this run (below 1: pv is "
                                 "cheaper)."))


def figures(run, exp):
    return [vs_xen(run, exp), vs_full(run, exp)]
