"""One figure: hvlab's translator over QEMU's, per nanobenchmark and workload, with the
range compare.ratios() gives (interquartile ranges crossed)."""
from hvtools.figures import Figure, run_label, engine_title, finish


def figures(run, exp):
    c = exp.module("compare")
    rows = [r for r in c.ratios(run) if r[1] is not None]
    missing = [f"{r[0]}: {r[8]}" for r in c.ratios(run) if r[1] is None]
    if not rows:
        return [(None, f"bt-vs-tcg: no row measured under both {c.OURS} and {c.PEER}"
                       + (f" ({'; '.join(missing)})" if missing else ""))]
    ours, peer = engine_title(run, c.OURS), engine_title(run, c.PEER)
    values = [[(r, lo if lo and lo > 0 else r, hi if hi and hi > 0 else r)]
              for _, r, lo, hi, *_ in rows]
    caption = (f"{ours} over {peer}: the ratio of their medians per nanobenchmark (cycles "
               "per operation) and workload (its first metric), log scale; below the line "
               f"at 1, {c.OURS} took less. Whiskers cross the interquartile ranges.")
    return [finish(Figure("bt-vs-tcg", f"{c.OURS} over {c.PEER}\n" + run_label(run),
                          f"{c.OURS}/{c.PEER} (log scale)", [r[0] for r in rows],
                          [f"{c.OURS}/{c.PEER} (here)"], values, errorbars=True,
                          refline=1.0, reflabel="equal", caption=caption,
                          left_out=missing))]
