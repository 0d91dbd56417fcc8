"""The five I/O paths side by side: IO/s and exits to the VMM per I/O, per path and
queue depth, one series per engine. Built with the shared figure machinery
(scripts/hvtools/figures.py)."""
from hvtools.figures import Figure, engine_title, finish, run_label


def _figure(run, exp, name, title, ylabel, metric, caption, logy=True):
    c = exp.module("compare")
    s = c.io_samples(run)
    engines = c.engines_of(s)
    if not engines:
        return None, "this run holds no io workload samples (experiments/io-paths/io-paths.matrix)"
    xlabels, values = [], []
    for qd in c.QDS:
        for p in c.PATHS:
            row = [c.med(s, (e, p, qd), metric) for e in engines]
            if any(v is not None for v in row):
                xlabels.append(f"{p} qd{qd}")
                values.append(row)
    if not xlabels:
        return None, f"no {metric} in this run"
    return finish(Figure(name, f"{title}\n{run_label(run)}", ylabel, xlabels,
                         [engine_title(run, e) for e in engines], values, logy=logy,
                         caption=caption))


def figures(run, exp):
    return [
        _figure(run, exp, "io-paths-iops", "I/O paths: 4 KiB requests per second",
                "IO/s (log scale)", "iops",
                "IO/s of the io workload (4 KiB, half writes) per I/O path and queue depth, "
                "median over every repetition of every cell; one series per engine."),
        _figure(run, exp, "io-paths-exits", "I/O paths: exits to the VMM per I/O",
                "exits per I/O (log scale)", "vmm_exits_per_io",
                "Exits that reached the VMM's device code per I/O (median; under bt served "
                "from the translator's call-out). poll takes none: "
                "its bar is absent on the log scale. Exits KVM completes itself (ioeventfd, "
                "irqfd) are not counted."),
    ]
