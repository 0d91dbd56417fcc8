"""Lock-holder preemption under vCPU overcommit: the guest's ticket lock spinning
(plain), telling the VMM after a threshold of spins and giving the host CPU away
(pv-yield, Hyper-V's long-spin-wait notice), or sleeping in the VMM until the releaser
kicks it (pv-halt, KVM's pv ticketlocks). Set beside the KVM postings' gains of pv
ticketlocks and directed yield (pv-spinlocks.csv), each row tagged: a lock
microbenchmark is not dbench, kernbench or ebizzy.

Figures come from the locks workload (hv-minimal/guest/user/locks.c: ops/s, wasted
cycles, preemptions per repetition) and SMP forkwait (procs=N), read per program run
from the summary's groups: the rows give engine, spinlock mode, vCPUs and host CPUs,
the run's command the spin threshold (hvm --spin-threshold, or the guest's
spinthreshold=; hvm's default otherwise). A run is this experiment's when its guest
command line names its spinlock mode (rundata labels its rows "ENGINE (MODE)")."""
import json
import math
import os
import shlex
import statistics

from hvtools.compare import (HYPOTHESIS, MEASURED, PUBLISHED, MeasuredTable, Row, Table,
                             fmt_ratio, no_verdict, unmeasured, verdict_part)
from hvtools.hostcheck import option
from hvtools.rundata import load_published, summarize
from hvtools.verdict import Rule, judge

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "experiment.json"), encoding="utf-8") as _f:
    META = json.load(_f)
MODES = tuple(META["modes"])              # plain first: the reference
PLAIN, PV_MODES = MODES[0], MODES[1:]
THRESHOLD = META["threshold"]             # the overcommit cells' threshold
DEFAULT_THRESHOLD = META["default_threshold"]
SWEEP_ENGINE, SWEEP_VCPUS = META["sweep"]["engine"], META["sweep"]["vcpus"]
WORKLOADS = ("locks", "forkwait")
# Which of hvlab's modes stands for which published technique.
KVM_PV = "pv-halt"          # KVM's pv ticketlocks: sleep until the releaser kicks
YIELD = "pv-yield"          # gives the host CPU away after a long spin, as directed yield


# -- reading ------------------------------------------------------------------------

def _commands(run):
    """{cell: its command} of a matrix run; {None: the command} of one program's run."""
    if run.matrix:
        return {c.get("name"): c.get("command") or "" for c in run.matrix.get("cells", [])}
    return {None: str(run.context.get("command") or "")}


def _note(run, cell, key):
    return run.notes.get(f"{cell}.{key}" if cell else key)


def threshold_of(command, guest_cmdline):
    """The spins before the slow path a run's guest used: its own spinthreshold=, else
    hvm's --spin-threshold, else hvm's default; None when the command is unknown."""
    words = str(guest_cmdline or "").split()
    try:
        argv = shlex.split(command or "")
    except ValueError:
        argv = []
    words += str(option(argv, "--cmdline") or "").split()
    for w in reversed(words):
        if w.startswith("spinthreshold=") and w[len("spinthreshold="):].isdigit():
            return int(w[len("spinthreshold="):])
    t = option(argv, "--spin-threshold")
    if t and t.isdigit():
        return int(t)
    return DEFAULT_THRESHOLD if argv else None


def _int(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def samples(run):
    """{(workload, engine, vcpus, pcpus, mode, threshold): {"metrics": {metric: [every
    sample]}, "counters": {counter: [one value per run]}, "cells": [cells]}} of the runs
    whose guest named its spinlock mode; threshold is None for plain, which has no slow
    path. Several trials of one configuration pool."""
    commands = _commands(run)
    # a part of a run measured on several kinds of node holds its own cells only
    allowed = {c for cs in run.hosts.values() for c in cs} if run.hosts else None
    out = {}
    for g in run.summary.get("groups") or []:
        cell = g.get("cell")
        if allowed is not None and cell is not None and cell not in allowed:
            continue
        exp, wl = g.get("experiment"), g.get("workload")
        if wl not in WORKLOADS or exp not in (wl, "counters"):
            continue
        if str(g.get("params") or "").startswith("exit="):
            continue
        cmdline = _note(run, cell, "guest_cmdline")
        if not any(w.startswith("spinlock=") for w in str(cmdline or "").split()):
            continue
        mode = g.get("spinlock")
        if mode not in MODES:
            continue
        v, p = _int(g.get("vcpus")), _int(g.get("pcpus"))
        if not v or not p:
            continue
        t = None if mode == PLAIN else threshold_of(commands.get(cell), cmdline)
        key = (wl, g.get("engine"), v, p, mode, t)
        d = out.setdefault(key, {"metrics": {}, "counters": {}, "cells": []})
        vals = [x for x in g.get("samples") or [] if isinstance(x, (int, float)) and
                math.isfinite(x)]
        kind = "counters" if exp == "counters" else "metrics"
        d[kind].setdefault(g.get("metric"), []).extend(vals)
        if cell not in d["cells"]:
            d["cells"].append(cell)
    return out


def stat(s, key, metric, kind="metrics"):
    """{median, q1, q3, min, max, n} of a configuration's samples, or None."""
    return summarize((s.get(key) or {}).get(kind, {}).get(metric) or [])


def med(s, key, metric, kind="metrics"):
    st = stat(s, key, metric, kind)
    return st["median"] if st else None


def key(workload, engine, v, p, mode, threshold=THRESHOLD):
    return (workload, engine, v, p, mode, None if mode == PLAIN else threshold)


def engines_of(s, workload="locks"):
    seen = []
    for k in s:
        if k[0] == workload and k[1] not in seen:
            seen.append(k[1])
    return seen


def points(s, workload, engine):
    """[(vcpus, pcpus)] of engine's runs of workload, by overcommit ratio."""
    return sorted({(k[2], k[3]) for k in s if k[0] == workload and k[1] == engine},
                  key=lambda vp: (vp[0] / vp[1], vp[0]))


def ratio_label(v, p):
    return f"{v / p:g}x ({v} vCPUs)"


def ratio_of(a, b):
    return a / b if a is not None and b and a > 0 and b > 0 else None


def apart(s, k1, k2, metric):
    """1 when k1's interquartile range lies wholly above k2's, -1 wholly below, 0 when
    they overlap or one is missing."""
    a, b = stat(s, k1, metric), stat(s, k2, metric)
    if not a or not b:
        return 0
    return 1 if a["q1"] > b["q3"] else -1 if a["q3"] < b["q1"] else 0


# -- formatting ---------------------------------------------------------------------

def si(v):
    """A number in three digits with k, M or G: table cells stay short."""
    if v is None or not math.isfinite(v):
        return "--"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}"


def spread(st):
    """median (first-third quartile), the quartiles' unit said once: "44k (19-71k)";
    or "--"."""
    if not st:
        return "--"
    lo, hi = si(st["q1"]), si(st["q3"])
    if lo[-1:].isalpha() and lo[-1:] == hi[-1:]:
        lo = lo[:-1]
    return f"{si(st['median'])} ({lo}-{hi})"


def _pair(a, b):
    return f"{a}, {b}"


# -- tables of this run's figures -----------------------------------------------------

def _overcommit_rows(s, metric, inverse=False):
    """Per engine and overcommit ratio: every mode's median (interquartile range) of
    metric at the fixed threshold, and the pv modes against plain (pv/plain, or
    plain/pv with inverse: a reduction) in one cell."""
    rows = []
    for e in engines_of(s):
        for v, p in points(s, "locks", e):
            sts = {m: stat(s, key("locks", e, v, p, m), metric) for m in MODES}
            if not any(sts.values()):
                continue
            base = sts[PLAIN]["median"] if sts[PLAIN] else None
            rel = []
            for m in PV_MODES:
                x = sts[m]["median"] if sts[m] else None
                rel.append(fmt_ratio(ratio_of(base, x) if inverse else ratio_of(x, base)))
            rows.append([f"{e}, {ratio_label(v, p)}"] + [spread(sts[m]) for m in MODES] +
                        [", ".join(rel)])
    return rows


def _per_rep(s, k, metric):
    m = med(s, k, metric)
    return "--" if m is None else f"{m:.3g}"


def _locks_configs(s):
    """(label, key) of every locks configuration measured: engine, ratio, mode."""
    for e in engines_of(s):
        for v, p in points(s, "locks", e):
            for m in MODES:
                k = key("locks", e, v, p, m)
                if k in s:
                    yield f"{e}, {v / p:g}x, {m}", k


def _preemption_rows(s):
    return [[label] + [_per_rep(s, k, x) for x in
                       ("holder_preemptions", "waiter_preemptions", "slow_per_op",
                        "hypercalls_per_op")] + [si(med(s, k, "wait_cycles_per_op"))]
            for label, k in _locks_configs(s)]


COUNTERS = ("hcall_spin_notify", "hcall_spin_wait", "hcall_spin_kick",
            ("spin_wait_woken_kick", "spin_wait_woken_changed", "spin_wait_woken_timeout"),
            "spin_kicks_idle", "host_vcpu_preemptions", "host_vcpu_blocks")
COUNTER_HEAD = ("notify", "wait", "kick", "woken k/c/t", "idle", "preempt.", "blocks")


def _counter(s, k, c):
    """The median over a configuration's runs of counter c; a run that never
    incremented it has no row of it: zero."""
    got = s[k]["counters"].get(c) or []
    n = len(s[k]["cells"])
    return statistics.median(got + [0] * (n - len(got))) if n else None


def _counter_rows(s):
    return [[label] + ["/".join(si(_counter(s, k, x)) for x in c) if isinstance(c, tuple)
                       else si(_counter(s, k, c)) for c in COUNTERS]
            for label, k in _locks_configs(s)]


def sweep_thresholds(s, engine=SWEEP_ENGINE, vcpus=SWEEP_VCPUS):
    """The thresholds engine's pv modes ran at with vcpus vCPUs, ascending."""
    return sorted({k[5] for k in s if k[0] == "locks" and k[1] == engine and
                   k[2] == vcpus and k[4] != PLAIN and k[5] is not None})


def _sweep_rows(s):
    """[threshold, mode, ops/s, wasted, slow/op] of the sweep, plain first."""
    e, v = SWEEP_ENGINE, SWEEP_VCPUS
    ps = [p for vv, p in points(s, "locks", e) if vv == v]
    if not ps:
        return []
    p = ps[0]
    rows = []
    pk = key("locks", e, v, p, PLAIN)
    if pk in s:
        rows.append(["(none)", PLAIN, spread(stat(s, pk, "ops_per_s")),
                     si(med(s, pk, "wasted_cycles_per_op")), "--"])
    for t in sweep_thresholds(s, e, v):
        label = f"{t:,}" + (" (Linux)" if t == DEFAULT_THRESHOLD else "") + \
            (" (fixed)" if t == THRESHOLD else "")
        for m in PV_MODES:
            k = key("locks", e, v, p, m, t)
            if k in s:
                rows.append([label, m, spread(stat(s, k, "ops_per_s")),
                             si(med(s, k, "wasted_cycles_per_op")), _per_rep(s, k, "slow_per_op")])
    return rows


def _default_rows(s):
    rows = []
    for e in engines_of(s):
        for v, p in points(s, "locks", e):
            ks = [key("locks", e, v, p, m, DEFAULT_THRESHOLD) for m in PV_MODES]
            if not any(k in s for k in ks) or DEFAULT_THRESHOLD == THRESHOLD:
                continue
            rows.append([f"{e}, {ratio_label(v, p)}",
                         si(med(s, key("locks", e, v, p, PLAIN), "ops_per_s"))] +
                        [si(med(s, k, "ops_per_s")) for k in ks] +
                        [", ".join(_per_rep(s, k, "slow_per_op") for k in ks)])
    return rows


def _forkwait_rows(s):
    """[engine, ratio, mode; cycles/op; plain/mode; hypercalls/op] per configuration."""
    rows = []
    for e in engines_of(s, "forkwait"):
        for v, p in points(s, "forkwait", e):
            base = med(s, key("forkwait", e, v, p, PLAIN), "cycles_per_op")
            for m in MODES:
                k = key("forkwait", e, v, p, m)
                if k not in s:
                    continue
                rows.append([f"{e}, {v / p:g}x, {m}", spread(stat(s, k, "cycles_per_op")),
                             "--" if m == PLAIN else
                             fmt_ratio(ratio_of(base, med(s, k, "cycles_per_op"))),
                             _per_rep(s, k, "hypercalls_per_op")])
    return rows


def measured(run, exp):
    s = samples(run)
    if not any(k[0] == "locks" for k in s):
        return [MeasuredTable(
            "spinlock throughput", "Lock acquisitions per second under vCPU overcommit",
            ["engine, overcommit"] + list(MODES),
            [["(none)"] + ["--"] * len(MODES)],
            ["This run holds no locks workload of a guest that named its spinlock mode "
             "(experiments/spinlock-enlight/spinlock-enlight.matrix)."])]
    n_note = (f"Medians over every repetition of every trial, in brackets the first and "
              f"third quartiles; the pv modes spin {THRESHOLD:,} times before their slow "
              f"path. Overcommit is vCPUs over the host CPUs they are pinned to.")
    pv = ", ".join(m[len("pv-"):] if m.startswith("pv-") else m for m in PV_MODES)
    out = [
        MeasuredTable(
            "spinlock throughput", "Lock acquisitions per second under vCPU overcommit",
            ["engine, overcommit"] + list(MODES) + [f"pv/plain ({pv})"],
            _overcommit_rows(s, "ops_per_s"),
            [n_note, "pv/plain divides the medians: above 1, the enlightened lock got more "
                     "done."]),
        MeasuredTable(
            "spinlock waste", "CPU cycles burnt spinning per acquisition",
            ["engine, overcommit"] + list(MODES) + [f"plain/pv ({pv})"],
            _overcommit_rows(s, "wasted_cycles_per_op", inverse=True),
            [n_note, "Wasted cycles are the waiter's spins times the cycles one turn of the "
                     "spin loop took, calibrated when the workload starts: time asleep or "
                     "yielded in the VMM, or descheduled by the host, is not in them. "
                     "plain/pv is the reduction."]),
        MeasuredTable(
            "spinlock preemptions", "Preemptions inferred from stalls, slow paths and "
            "waiting, per repetition (medians)",
            ["engine, ratio, mode", "holder/rep", "waiter/rep", "slow/op", "hcalls/op",
             "wait cycles/op"], _preemption_rows(s),
            ["A holder preemption is a hold that took longer than 200 us (the hold itself "
             "is a few hundred cycles): its vCPU lost the host CPU meanwhile. A waiter "
             "preemption is a hand-over that took longer than 200 us from one release to "
             "the next acquisition: the ticket lock's next waiter had lost its CPU while "
             "nobody held the lock. Both are inferred from the guest's TSC, per "
             "repetition."]),
        MeasuredTable(
            "spinlock counters", "The VMM's spin hypercalls and host scheduling, per run "
            "(medians over trials)",
            ["engine, ratio, mode"] + list(COUNTER_HEAD), _counter_rows(s),
            ["Counted by the VMM over the whole run, boot included: notify = "
             "HV_HC_SPIN_NOTIFY (pv-yield), wait and kick = HV_HC_SPIN_WAIT and "
             "HV_HC_SPIN_KICK (pv-halt); a waiter woke by a kick (k), because the lock "
             "word had changed before it slept (c), or by its timeout (t); idle: kicks "
             "that found nobody asleep. preempt. and blocks: the vCPU threads' involuntary "
             "and voluntary context switches on the host."]),
    ]
    sw = _sweep_rows(s)
    if sw:
        out.append(MeasuredTable(
            "spinlock threshold sweep", f"Spins before the slow path, {SWEEP_ENGINE} at "
            f"{SWEEP_VCPUS} vCPUs",
            ["threshold", "mode", "ops/s", "wasted/op", "slow/op"], sw,
            ["ops/s as median (quartiles); wasted cycles and slow paths per acquisition as "
             "medians. (Linux) marks Linux's SPIN_THRESHOLD, hvm's default; (fixed) the "
             "threshold of the overcommit tables."]))
    df = _default_rows(s)
    if df:
        out.append(MeasuredTable(
            "spinlock default threshold", f"The pv modes at Linux's threshold "
            f"({DEFAULT_THRESHOLD:,} spins): ops/s and slow paths per acquisition, medians",
            ["engine, overcommit", "plain"] + list(PV_MODES) + [f"slow/op ({pv})"], df,
            ["A slow path per acquisition near 0 means the waits were shorter than the "
             "threshold: the mode behaves as plain."]))
    fw = _forkwait_rows(s)
    if fw:
        out.append(MeasuredTable(
            "spinlock forkwait", "SMP forkwait: cycles per fork+wait with one forking "
            "process per vCPU",
            ["engine, ratio, mode", "cycles/op", "plain/mode", "hcalls/op"], fw,
            ["The processes contend for the guest kernel's own spinlocks, which take the "
             "boot's mode and threshold; plain/mode above 1: the pv mode forked faster. "
             "Medians (quartiles) over every repetition of every trial."]))
    return out


# -- published comparisons ------------------------------------------------------------

# A pv lock's throughput against plain's, as a gain: about equal within 10%.
GAIN = Rule("pv against plain throughput",
            lambda r: "a gain" if r > 1.1 else ("a loss" if r < 0.9 else "about equal"))


def _gain_row(run, s, pub, engine, ratio, mode, workload, config, label, pub_text, tag,
              extra=()):
    g = pub.value(workload=workload, config=config) if pub else None
    p = 1 + g / 100 if g is not None and math.isfinite(g) else None
    src = pub.source(workload=workload, config=config) if pub else None
    parts = [(PUBLISHED, pub_text.format(g=g))] + list(extra)
    vp = [(v, pp) for v, pp in points(s, "locks", engine) if v / pp == ratio]
    if not vp:
        return unmeasured(run, label, fmt_ratio(p), parts, engine,
                          f"no locks run of {engine} at {ratio:g}x overcommit", source=src)
    v, pp = vp[0]
    kp, kb = key("locks", engine, v, pp, mode), key("locks", engine, v, pp, PLAIN)
    a, b = med(s, kp, "ops_per_s"), med(s, kb, "ops_per_s")
    m = ratio_of(a, b)
    if m is None:
        return Row(label, fmt_ratio(p), "not measured",
                   no_verdict(f"{mode} or plain not measured at {ratio:g}x"),
                   parts + [(MEASURED, f"{mode} or plain has no locks run of {engine} at "
                                       f"{ratio:g}x in this run")], source=src)
    ap = apart(s, kp, kb, "ops_per_s")
    v_ = judge(p, m, GAIN)
    return Row(label, fmt_ratio(p), fmt_ratio(m), v_, parts + [
        (MEASURED, f"{mode} {si(a)} ops/s against plain {si(b)} ops/s under {engine} at "
                   f"{ratio:g}x ({v} vCPUs on {pp} host CPUs; medians of "
                   f"{stat(s, kp, 'ops_per_s')['n']} and {stat(s, kb, 'ops_per_s')['n']} "
                   f"repetitions, interquartile ranges "
                   f"{'apart' if ap else 'overlapping'})"),
        verdict_part(v_)], tag=tag, source=src)


def tables(run, exp):
    pub = exp.published.get("pv-spinlocks")
    s = samples(run)
    # the experiment's engines always (a row says why one was not measured), then others
    engines = list(META["engines"]) + [e for e in engines_of(s) if e not in META["engines"]]
    rows_pv, rows_dy = [], []
    for e in engines:
        for k in (1, 2, 3, 4):
            rows_pv.append(_gain_row(
                run, s, pub, e, k, KVM_PV, "dbench-pv-ticketlocks", f"overcommit-step-{k}",
                f"step {k} / {k}x ({e})",
                "the KVM pv-ticketlock postings report dbench on a 32-vCPU guest gaining "
                "{g}% at overcommit step " + str(k) + " of four; this table sets step k "
                "beside kx overcommit, which the source does not confirm",
                "different programs",
                [(HYPOTHESIS, "a loop that does nothing but take one lock contends far "
                              "more than dbench, whose time is mostly elsewhere, so the "
                              "gains of any lock change are larger in it")]))
        for bench in ("kernbench", "ebizzy"):
            for k in (1, 2):
                rows_dy.append(_gain_row(
                    run, s, pub, e, k, YIELD, f"{bench}-directed-yield-ple", f"{k}x",
                    f"{bench} {k}x ({e})",
                    "the KVM directed-yield pause-loop-exit posting reports " + bench +
                    " gaining {g}% at " + str(k) + "x",
                    "different mechanism",
                    [(HYPOTHESIS, "pv-yield is the closest of hvlab's modes: both give the "
                                  "host CPU away after a long spin, but pause-loop exiting "
                                  "detects the spin in hardware and yields to a chosen "
                                  "vCPU, while pv-yield is the guest's own notice after "
                                  "its threshold and the host scheduler picks who runs")]))
    cite = pub.citation if pub else ""
    return [
        Table("pv ticketlocks", "KVM's pv ticketlocks against plain ticket locks under "
              "overcommit (pv-halt/plain ops/s)", cite, "published gain",
              "pv-halt/plain", rows_pv, GAIN),
        Table("directed yield", "Directed-yield pause-loop exiting against plain spinning "
              "(pv-yield/plain ops/s)", cite, "published gain", "pv-yield/plain", rows_dy,
              GAIN),
    ]


# -- how to read, and the closing note --------------------------------------------------

def _pub():
    return load_published(os.path.join(HERE, "published")).get("pv-spinlocks")


def notes(run):
    pub = _pub()
    if pub is None or not any(k[0] == "locks" for k in samples(run)):
        return []

    def val(w, c):
        return pub.value(workload=w, config=c)

    def src(w, c):
        return pub.source(workload=w, config=c)
    items = [
        (MEASURED, "wasted cycles per acquisition are the spins a waiter counted times "
                   "the cost of one turn of the spin loop, calibrated in the guest when the "
                   "workload starts: CPU burnt spinning. A waiter asleep in the VMM "
                   "(pv-halt), yielded (pv-yield) or descheduled by the host burns none, "
                   "though it still waits (wait cycles/op)"),
        (MEASURED, "holder and waiter preemptions are inferred from stalls longer than "
                   "200 us, not observed: the guest cannot see the host's scheduler. The "
                   "VMM's own counts of its vCPU threads' context switches (host preempt., "
                   "host blocks) are beside them"),
        (PUBLISHED, f"Linux's pv spinlocks spin {val('pv-spinlock-block-threshold', 'linux-pv'):g} "
                    "times before a waiter considers blocking, hvm's default threshold "
                    f"({src('pv-spinlock-block-threshold', 'linux-pv')})"),
        (PUBLISHED, "98% of locks are taken within 2^16 iterations, a second-hand figure "
                    f"({src('locks-taken-within-2^16-iterations', 'friebel-2008-second-hand')})"),
        (PUBLISHED, "Ouyang and Lange's preemptable ticket locks improved their benchmarks "
                    f"{val('preemptable-ticket-locks', 'no-pv'):g}x on average without and "
                    f"{val('preemptable-ticket-locks', 'pv'):g}x with a paravirtual "
                    "interface. Their lock lets a waiter take it out of turn; hvlab's modes "
                    "keep the ticket order, so these are not judged here. The waiter "
                    "preemptions column counts the stall they address "
                    f"({src('preemptable-ticket-locks', 'pv')})"),
        (PUBLISHED, f"KVM's pause-loop exiting defaults: gap {val('ple-gap', 'kvm-vmx-default'):g} "
                    f"cycles and window {val('ple-window', 'kvm-vmx-default'):g} cycles on "
                    f"Intel, pause filter {val('pause-filter', 'kvm-svm-default'):g} on AMD: "
                    "the hardware's own detection of a spinning vCPU, which hvlab's modes do "
                    "not use"),
    ]
    return [("How to read the spinlock tables.",
             "The locks workload runs one process per vCPU on one ticket lock, with the "
             "vCPUs on two host CPUs. Each statement below says how it is known.", items)]


def _engine_sentences(s, e):
    out = []
    pts = points(s, "locks", e)
    one = [(v, p) for v, p in pts if v == p]
    over = [(v, p) for v, p in pts if v > p]
    if not one or not over:
        return out
    v1, p1 = one[0]
    base = med(s, key("locks", e, v1, p1, PLAIN), "ops_per_s")
    falls = [(v / p, ratio_of(med(s, key("locks", e, v, p, PLAIN), "ops_per_s"), base))
             for v, p in over]
    if base and all(f is not None for _, f in falls):
        collapse = all(f < 0.5 for _, f in falls)
        out.append(f"Plain ticket locks under {e} (measured): {si(base)} acquisitions/s at "
                   f"1x, and at " + ", ".join(f"{r:g}x {fmt_ratio(f)}" for r, f in falls) +
                   " of that; the expected collapse past 1x (each below half of 1x) "
                   f"{'holds' if collapse else 'does not hold'} here.")
    gains = {}
    for m in PV_MODES:
        gains[m] = [(v / p, ratio_of(med(s, key("locks", e, v, p, m), "ops_per_s"),
                                     med(s, key("locks", e, v, p, PLAIN), "ops_per_s")),
                     apart(s, key("locks", e, v, p, m), key("locks", e, v, p, PLAIN),
                           "ops_per_s"))
                    for v, p in pts]
    mid = [(m, r, g, a) for m in PV_MODES for r, g, a in gains[m] if r in (2, 3) and g]
    if mid:
        rec = {m: all(g >= 1.1 for mm, r, g, a in mid if mm == m) for m in PV_MODES
               if any(mm == m for mm, _, _, _ in mid)}
        out.append(f"Enlightenment at 2x and 3x under {e} (measured, pv/plain ops/s): " +
                   "; ".join(f"{m} {r:g}x {fmt_ratio(g)}" + (" (quartiles apart)" if a else "")
                             for m, r, g, a in mid) +
                   ". The expected recovery of tens of percent (at least 1.1x at each) " +
                   "; ".join(f"{'holds' if ok else 'does not hold'} for {m}"
                             for m, ok in rec.items()) + ".")
    at1 = [(m, g) for m in PV_MODES for r, g, _ in gains[m] if r == 1 and g]
    if at1:
        out.append(f"At 1x under {e} (measured): " +
                   ", ".join(f"{m}/plain {fmt_ratio(g)}" for m, g in at1) +
                   "; the expected cost of about nothing (within 0.9x-1.1x) " +
                   "; ".join(f"{'holds' if 0.9 <= g <= 1.1 else 'does not hold'} for {m}"
                             for m, g in at1) + ".")
    vmax, pmax = max(pts, key=lambda vp: vp[0] / vp[1])
    w = {m: med(s, key("locks", e, vmax, pmax, m), "wasted_cycles_per_op") for m in MODES}
    if w[PLAIN]:
        out.append(f"Wasted cycles per acquisition under {e} at {vmax / pmax:g}x (measured): "
                   f"plain {si(w[PLAIN])}" + "".join(
                       f", {m} {si(w[m])} (plain/{m} {fmt_ratio(ratio_of(w[PLAIN], w[m]))})"
                       for m in PV_MODES if w[m] is not None) + ".")
    return out


def _forkwait_sentence(s, e):
    # the highest ratio with a plain run to set the pv modes against
    pts = [(v, p) for v, p in points(s, "forkwait", e)
           if key("forkwait", e, v, p, PLAIN) in s]
    if not pts:
        return []
    v, p = max(pts, key=lambda vp: vp[0] / vp[1])
    base = med(s, key("forkwait", e, v, p, PLAIN), "cycles_per_op")
    got = [(m, ratio_of(base, med(s, key("forkwait", e, v, p, m), "cycles_per_op")))
           for m in PV_MODES]
    got = [(m, r) for m, r in got if r]
    if not base or not got:
        return []
    return [f"SMP forkwait under {e} at {v / p:g}x (measured): plain takes {si(base)} cycles "
            "per fork+wait; " + ", ".join(f"plain/{m} {fmt_ratio(r)}" for m, r in got) +
            " (above 1: the pv mode forked faster)."]


def closing(run, tables_):
    s = samples(run)
    out = []
    for e in engines_of(s):
        out += _engine_sentences(s, e)
    for e in engines_of(s, "forkwait"):
        out += _forkwait_sentence(s, e)
    if out:
        out.append(f"{HYPOTHESIS}: with more vCPUs than host CPUs a vCPU loses its CPU at "
                   "the host's time slice, holding the lock or next in the ticket order; a "
                   "plain waiter then spins through the rest of its own slice, while a pv "
                   "waiter gives its CPU away after its threshold, so that the holder or "
                   "the next waiter runs sooner.")
    return out
