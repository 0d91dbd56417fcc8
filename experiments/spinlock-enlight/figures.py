"""Lock throughput and wasted spinning against vCPU overcommit, one series per engine
and spinlock mode; the pv modes' throughput against their spin threshold; SMP forkwait
per mode. Built with the shared figure machinery (scripts/hvtools/figures.py): bars
are medians, whiskers the interquartile range."""
from hvtools.figures import Figure, engine_title, finish, run_label


def _bar(st):
    """(median, q1, q3) of a summary for an error-bar figure on a log axis (a first
    quartile of zero draws from the median), or (None, None, None)."""
    if not st or st["median"] <= 0:
        return (None, None, None)
    return (st["median"], st["q1"] if st["q1"] > 0 else st["median"], st["q3"])


def _series(run, c, s, workload):
    """[(engine, mode, title)] of workload's runs: each engine's modes, plain first."""
    return [(e, m, engine_title(run, f"{e} ({m})")) for e in c.engines_of(s, workload)
            for m in c.MODES]


def _vs_overcommit(run, exp, workload, metric, name, title, ylabel, caption):
    c = exp.module("compare")
    s = c.samples(run)
    series = _series(run, c, s, workload)
    if not series:
        return None, (f"{name}: this run holds no {workload} runs of a guest that named its "
                      "spinlock mode (experiments/spinlock-enlight/spinlock-enlight.matrix)")
    ratios = sorted({(k[2] / k[3]) for k in s if k[0] == workload})
    xlabels, values = [], []
    for r in ratios:
        row = []
        for e, m, _ in series:
            vp = [(v, p) for v, p in c.points(s, workload, e) if v / p == r]
            row.append(_bar(c.stat(s, c.key(workload, e, vp[0][0], vp[0][1], m), metric))
                       if vp else (None, None, None))
        xlabels.append(f"{r:g}x")
        values.append(row)
    return finish(Figure(name, f"{title}\n{run_label(run)}", ylabel, xlabels,
                         [t for _, _, t in series], values, errorbars=True,
                         caption=caption))


def throughput(run, exp):
    c = exp.module("compare")
    return _vs_overcommit(
        run, exp, "locks", "ops_per_s", "spinlock-throughput",
        "Ticket lock: acquisitions per second against vCPU overcommit",
        "acquisitions per second (log scale)",
        f"The locks workload's acquisitions per second, one process per vCPU, the vCPUs on "
        f"two host CPUs (overcommit = vCPUs / host CPUs), per engine and spinlock mode: "
        f"plain spins, pv-yield tells the VMM and yields after {c.THRESHOLD:,} spins, "
        f"pv-halt sleeps in the VMM until kicked. Bars are medians over every repetition "
        f"of every trial, whiskers the interquartile range.")


def wasted(run, exp):
    return _vs_overcommit(
        run, exp, "locks", "wasted_cycles_per_op", "spinlock-wasted",
        "Ticket lock: cycles burnt spinning per acquisition against vCPU overcommit",
        "wasted cycles per acquisition (log scale)",
        "Spins per acquisition times the calibrated cost of one spin: CPU time burnt "
        "spinning, per engine and spinlock mode (time asleep or yielded in the VMM is not "
        "in it). Medians, whiskers the interquartile range; log scale.")


def sweep(run, exp):
    c = exp.module("compare")
    s = c.samples(run)
    e, v = c.SWEEP_ENGINE, c.SWEEP_VCPUS
    ts = c.sweep_thresholds(s, e, v)
    ps = [p for vv, p in c.points(s, "locks", e) if vv == v]
    if not ts or not ps:
        return None, (f"spinlock-threshold: no threshold sweep of {e} at {v} vCPUs in this "
                      "run")
    p = ps[0]
    plain = c.med(s, c.key("locks", e, v, p, c.PLAIN), "ops_per_s")
    xlabels = [f"{t:,}" for t in ts]
    values = [[_bar(c.stat(s, c.key("locks", e, v, p, m, t), "ops_per_s"))
               for m in c.PV_MODES] for t in ts]
    return finish(Figure(
        "spinlock-threshold", f"Spins before the slow path: {engine_title(run, e)}, "
        f"{v} vCPUs on {p} host CPUs\n{run_label(run)}",
        "acquisitions per second (log scale)", xlabels,
        [engine_title(run, f"{e} ({m})") for m in c.PV_MODES], values, errorbars=True,
        refline=plain if plain and plain > 0 else None, reflabel="plain (median)",
        caption=f"The locks workload's acquisitions per second at {v / p:g}x overcommit "
                f"against the spin threshold (hvm --spin-threshold: spins before the pv "
                f"modes' slow path; {c.DEFAULT_THRESHOLD:,} is Linux's SPIN_THRESHOLD), "
                f"medians with interquartile whiskers; the dashed line is plain's median."))


def forkwait(run, exp):
    return _vs_overcommit(
        run, exp, "forkwait", "cycles_per_op", "spinlock-forkwait",
        "SMP forkwait: cycles per fork+wait against vCPU overcommit",
        "cycles per fork+wait (log scale)",
        "One forking process per vCPU, the vCPUs on two host CPUs: the guest kernel's own "
        "spinlocks in each mode. Medians over every repetition, whiskers the interquartile "
        "range; lower is better.")


def figures(run, exp):
    return [throughput(run, exp), wasted(run, exp), sweep(run, exp), forkwait(run, exp)]
