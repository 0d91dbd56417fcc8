"""hvlab's translator against QEMU's, on every nanobenchmark operation and workload
both ran: per row the two medians, their ratio and its spread, a figure of the ratios,
and how to read the peer's small cycle counts (each statement labelled by how it is
known). No published figure: the table states measured values, and says which rows
this run or this host could not measure. Which engines are compared is
experiment.json's rule ("engines")."""
import json
import os

from hvtools.compare import MeasuredTable, fmt_cycles, num_notes
from hvtools.rundata import NANOBENCH_OPS, WORKLOADS, cycles_per_op, summarize

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "experiment.json"), encoding="utf-8") as _f:
    META = json.load(_f)
OURS = META["engines"]["translator"]     # hvm's translator
PEER = META["engines"]["peer"]           # QEMU's


def _rows_of(run, item):
    """(kind, stat per engine name, metric, unit) of one nanobenchmark op or workload;
    a workload's figure is its first metric, as in the shared workload figures."""
    kind, name = item
    if kind == "op":
        rows = [r for r in run.select(experiment="nanobench", workload=name,
                                      metric="cycles_per_op")]
        metric, unit = "cycles_per_op", "cycles"
    else:
        rows = [r for r in run.rows if (r["workload"] == name or r["experiment"] == name)
                and r["experiment"] not in ("counters", "nanobench")
                and not r["params"].startswith("exit=") and r["metric"] != "exits"]
        if not rows:
            return None
        metric, unit = rows[0]["metric"], rows[0]["unit"]
        rows = [r for r in rows if r["metric"] == metric]
    return {e: summarize([r["value"] for r in rows if r["engine"] == e and
                          r["value"] == r["value"]]) for e in (OURS, PEER)}, metric, unit


def items(run):
    """Every nanobenchmark op and workload either engine ran, in the shared order."""
    ops = [o for o in NANOBENCH_OPS if o in run.nanobench_ops()] + \
        [o for o in run.nanobench_ops() if o not in NANOBENCH_OPS]
    return [("op", o) for o in ops] + [("workload", w) for w in WORKLOADS]


def ratios(run):
    """[(label, ratio, low, high, n_ours, n_peer, stats, unit, why)] per item either
    engine measured; ratio None with why when one of the two did not. low and high
    cross the interquartile ranges: OURS's first quartile over PEER's third, and
    OURS's third over PEER's first."""
    out = []
    for item in items(run):
        got = _rows_of(run, item)
        if got is None:
            continue
        st, metric, unit = got
        a, b = st[OURS], st[PEER]
        if a is None and b is None:
            continue
        label = item[1] if metric == "cycles_per_op" else f"{item[1]} ({metric})"
        why = None
        if a is None or b is None:
            miss = OURS if a is None else PEER
            absent = run.absence(miss)
            why = f"{miss}: {absent[0]} ({absent[1]})" if absent else \
                f"{miss} has no {item[1]} samples in this run"
        elif a["median"] <= 0 or b["median"] <= 0:
            why = "a median that is not positive: a measurement problem, no ratio"
        if why:
            out.append((label, None, None, None, (a or {}).get("n", 0),
                        (b or {}).get("n", 0), st, unit, why))
            continue
        lo = a["q1"] / b["q3"] if b["q3"] > 0 else None
        hi = a["q3"] / b["q1"] if b["q1"] > 0 else None
        out.append((label, a["median"] / b["median"], lo, hi, a["n"], b["n"], st, unit,
                    None))
    return out


def _num(v, unit):
    if v is None:
        return "--"
    return fmt_cycles(v).replace(" cycles", "") if unit == "cycles" else f"{v:.4g}"


def _ratio(r):
    if r is None:
        return "--"
    return f"{r:.3g}"


def measured(run, exp):
    rows = []
    for label, r, lo, hi, na, nb, st, unit, why in ratios(run):
        a, b = st[OURS], st[PEER]
        rows.append([label, _num(a["median"] if a else None, unit),
                     _num(b["median"] if b else None, unit), unit,
                     _ratio(r) if why is None else why,
                     f"{_ratio(lo)} to {_ratio(hi)}" if why is None else "--",
                     f"{na} / {nb}"])
    if not rows:
        absent = [f"{e}: {a[0]} ({a[1]})" for e in (OURS, PEER) for a in [run.absence(e)]
                  if a]
        rows.append(["(none)", "--", "--", "--", "not measured: " + (
            "; ".join(absent) or f"this run holds no samples of {OURS} or {PEER}"),
            "--", "--"])
    notes = [f"Median per row over every repetition of every cell; {OURS}/{PEER} is the "
             f"ratio of the medians (below 1, {OURS} took less), and its range crosses the "
             f"interquartile ranges ({OURS}'s first quartile over {PEER}'s third, to its "
             f"third over {PEER}'s first); n: samples of each. A workload's figure is its "
             "first metric. A row one engine did not measure says why."]
    return [MeasuredTable(f"{OURS} vs {PEER}", f"{OURS} against {PEER}: every nanobenchmark "
                          "and workload", ["row", f"{OURS} median", f"{PEER} median", "unit",
                                           f"{OURS}/{PEER}", "range", "n"], rows, notes)]


def tables(run, exp):
    return []


def notes(run):
    """[(title, intro, [(label, sentence)])]: how to read the peer's cycles."""
    items_ = peer_cycles_notes(run, PEER)
    if not items_:
        return []
    have = [(op, cycles_per_op(run, op, PEER)) for op in ("cpuid", "ptemod", "syscall")]
    have = [f"{op} {fmt_cycles(c['median'])}" for op, c in have if c]
    return [(f"How to read {PEER}'s cycles.",
             f"Under QEMU's translator this run measured {', '.join(have)} per operation. "
             "Each statement below says how it is known.", items_)]


# What hv-minimal/tools/tcg-clock-check.py measured when qemu-tcg's small figures were
# checked (hv-minimal/tools/README.md has the commands and every number).
TCG_CHECKED_ONCE = (
    "on a 2-vCPU AMD EPYC host (TSC 2.445 GHz, shared with other work), "
    "hv-minimal/tools/tcg-clock-check.py found (a) the guest TSC cycles of 48 extra "
    "repetitions of the cpuid, ptemod and syscall loops against the host's clock over the "
    "same runs: ratios 0.992, 0.994 and 1.004 (medians of 5 pairs of runs); (b) with each "
    "operation timed as its loop with each body twice against once (nanobench "
    "harness=marginal), so that no empty loop is subtracted, the usual empty-loop figure "
    "is 0.66 to 0.70 of the marginal one for cpuid, 0.78 to 0.87 for ptemod, 0.69 to 0.87 "
    "for rdtsc and 0.72 to 0.93 for callret (three sessions of 90 repetitions each; cpuid "
    "15 to 30 cycles by subtraction and 22 to 45 marginal, the host's load moving both "
    "twofold between sessions). The empty-loop subtraction thus understates qemu-tcg's "
    "smallest operations by up to a third; they stay tens of cycles (cpuid, rdtsc, "
    "callret) and a few cycles (ptemod)")

TCG_SOURCE = (
    "in QEMU's TCG (the same before and after 7.2), rdtsc in translated code calls a "
    "helper that returns cpu_get_ticks(), "
    "the host's TSC plus an offset unless QEMU runs with -icount (hvpeer does not); cpuid "
    "is a call from the translated block to a C helper that reads the leaf from QEMU's CPU "
    "model, without leaving translated code (no exit, no VMM); and a store to a guest "
    "page-table entry is an ordinary softmmu store, because QEMU does not write-protect "
    "guest page tables (it refills its TLB on invlpg and CR3 writes), so ptemod costs a "
    "store, as it did natively for Adams and Agesen (1 cycle)")

TCG_HYPOTHESIS = (
    "the empty loop (10 to 15 cycles per turn on the host above) is translated code "
    "chaining blocks and computing flags, and the host's out-of-order core overlaps part "
    "of it with the operation's own work, so the empty loop costs more than the loop adds "
    "beside an operation. A host with a faster core shrinks every one of these figures together "
    "(cpuid about 6 and ptemod about 0.7 cycles have been reported from such a host); "
    "neither was measured")


def peer_cycles_notes(run, engine):
    """(label, sentence) pairs on how to read the engine's nanobenchmark cycles, each
    label saying whether the sentence was measured in this run, measured once
    elsewhere, read from QEMU's source, or a hypothesis. Empty when the run holds no
    nanobenchmarks of the engine."""
    if not run.select(experiment="nanobench", engine=engine, metric="cycles_per_op"):
        return []
    out = []
    ratios = num_notes(run, engine, "guest_tsc_vs_host_clock")
    spans = num_notes(run, engine, "host_clock_span_s")
    khz = num_notes(run, engine, "guest_tsc_khz")
    if ratios:
        def rng(v, f):
            return f"{min(v):{f}}" if f"{min(v):{f}}" == f"{max(v):{f}}" else \
                f"{min(v):{f}} to {max(v):{f}}"
        rate = f" (at {khz[0]:,.0f} kHz)" if khz else ""
        span = f" over {rng(spans, '.2f')} s" if spans else ""
        runs = f"the {engine} run" if len(ratios) == 1 else \
            f"each of the {len(ratios)} {engine} runs"
        out.append(("Measured in this run", f"between the guest kernel's first and last "
                    f"records, the guest's TSC{rate} and the host's CLOCK_MONOTONIC advanced "
                    f"alike in {runs}: guest over host {rng(ratios, '.3f')}{span}. A guest "
                    "TSC cycle is a host TSC cycle of real time; the small figures are not "
                    "a slow or scaled clock"))
    else:
        out.append(("Not checked in this run", f"its {engine} runs carry no "
                    "guest_tsc_vs_host_clock note (an older hvpeer or guest image, or runs "
                    "that did not end normally)"))
    parts = []
    for op, shape in (("cpuid", "one cpuid per turn of a user-mode loop"),
                      ("ptemod", "eight stores per turn of a kernel loop")):
        c = cycles_per_op(run, op, engine)
        h = run.stat(experiment="nanobench", workload=op, engine=engine,
                     metric="harness_cycles_per_op")
        if c and h and c["median"] > 0:
            parts.append(f"{op} nets {fmt_cycles(c['median'])} after an empty-loop harness "
                         f"of {fmt_cycles(h['median'])} per operation ({shape}; the "
                         f"harness is {h['median'] / c['median']:.0%} of the figure)")
    if parts:
        nat = cycles_per_op(run, "cpuid", "native")
        natxt = f"; native cpuid costs {fmt_cycles(nat['median'])} because it executes the " \
                "host's cpuid instruction (an exit to the hypervisor when the host is itself " \
                "a virtual machine), which TCG never does" if nat else ""
        out.append(("Measured in this run", "; ".join(parts) + natxt))
    out.append(("Measured once, not in this run", TCG_CHECKED_ONCE))
    out.append(("From QEMU's source", TCG_SOURCE))
    out.append(("Hypothesis, not measured", TCG_HYPOTHESIS))
    return out
