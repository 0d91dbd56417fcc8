"""ptwalk-sim's predictions (sim/, run by this experiment's matrix) beside Bhargava et
al.'s two-dimensional walk figures and VMware's RVI/EPT gains over shadow paging, and
a table of the predictions per workload and page size. Everything here is a model's
output, and every row says so: the simulator's reference counts are structural, its
cycles follow the latency parameters of sim/README.md. Which simulated workload stands
for which published benchmark class is experiment.json's rule ("vmware")."""
import json
import math
import os

from hvtools.compare import (MEASURED, PUBLISHED, MeasuredTable, Row, Table, fmt_ratio,
                             no_verdict, unmeasured, verdict_part)
from hvtools.verdict import VS_NATIVE, Rule, judge

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "experiment.json"), encoding="utf-8") as _f:
    META = json.load(_f)
SIM = META["simulator"]["engine"]           # the engine column of the simulator's rows
EXP = META["simulator"]["experiment"]       # and its experiment column
VMWARE = META["vmware"]                     # published class -> simulated workload
PAGE_CONFIGS = ("page=4k host=4k", "page=2m host=4k", "page=2m host=2m")
WORKLOADS = ("ptchurn", "forkwait", "ctxswitch")

# Direction classes of a shadow/nested ratio (above 1, nested is faster), of a gain
# (a ratio of cycles before over after a step), and of a reference count.
SHADOW_VS_NESTED = Rule("shadow against nested", lambda r: "nested wins" if r > 1.25 else
                        ("shadow wins" if r < 0.8 else "a tie"))
GAIN = Rule("gain of a step", lambda r: "a gain" if r > 1.01 else "no gain")
COUNT = Rule("reference count", lambda r: f"{r:.0f} references", factor=1.0 + 1e-9)

MODEL = "ptwalk-sim's prediction (a model: experiments/shadow-vs-ept/sim/README.md)"


def sim_value(run, workload, params, memvirt, metric):
    v = run.values(experiment=EXP, engine=SIM, workload=workload, params=params,
                   memvirt=memvirt, metric=metric)
    return v[0] if v else None


def _range(pub, **f):
    """(low, high, midpoint) of a published range given as _low/_high rows, as ratios."""
    low, high = f.pop("low"), f.pop("high")
    lo, hi = pub.value(metric=low, **f), pub.value(metric=high, **f)
    if lo is None or hi is None:
        return None
    return lo, hi, (lo + hi) / 2


def _row(run, label, published_text, p, m, rule, pub_parts, what, source):
    if m is None:
        return unmeasured(run, label, published_text, pub_parts, None,
                          "no ptwalk-sim rows in this run (the experiment's matrix runs "
                          "`ptwalk-sim predict`)", source=source)
    v = judge(p, m, rule)
    return Row(label, published_text, what(m), v, pub_parts + [
        (MEASURED, f"{MODEL}: {what(m)}"), verdict_part(v)], source=source)


def bhargava(run, pub):
    rows = []
    src = pub.citation
    refs = pub.value(workload="2d-walk-references")
    m = sim_value(run, "sim-walkcache", "4x4", "nested", "cold_walk_refs")
    rows.append(_row(run, "2-D walk references, 4x4", f"{refs:.0f}" if refs else "--", refs,
                     m, COUNT, [(PUBLISHED, f"a 4-level guest on 4-level host tables walks "
                                            f"up to {refs:.0f} entries")],
                     lambda x: f"{x:.0f}", pub.source(workload="2d-walk-references") or src))

    r = _range(pub, workload="2d-walk-latency-uncached", low="ratio_low", high="ratio_high")
    m = sim_value(run, "sim-walkcache", "none", "-", "walk_latency_ratio_uncached")
    if r:
        rows.append(_row(run, "uncached 2-D walk / native walk", f"{r[0]:g}-{r[1]:g}x",
                         r[2], m, VS_NATIVE,
                         [(PUBLISHED, f"an uncached 2-D walk takes {r[0]:g}-{r[1]:g}x a "
                                      "native walk's latency (the midpoint is judged)")],
                         fmt_ratio, pub.source(workload="2d-walk-latency-uncached") or src))

    none = sim_value(run, "sim-walkcache", "none", "nested", "cycles_per_access")
    pwc = sim_value(run, "sim-walkcache", "pwc", "nested", "cycles_per_access")
    ntlb = sim_value(run, "sim-walkcache", "pwc+ntlb", "nested", "cycles_per_access")
    big = sim_value(run, "sim-walkcache", "pwc+ntlb+2m-host", "nested", "cycles_per_access")
    native = sim_value(run, "sim-walkcache", "default", "native", "cycles_per_access")

    def gain(a, b):
        return a / b if a and b else None
    steps = (("2-D page-walk cache", "2d-page-walk-cache", gain(none, pwc)),
             ("nested TLB, further", "nested-tlb", gain(pwc, ntlb)),
             ("2 MiB nested pages, further", "2mb-nested-pages", gain(ntlb, big)))
    for label, w, m in steps:
        r = _range(pub, workload=w, low="percent_low", high="percent_high")
        if not r:
            continue
        p = 1 + r[2] / 100
        rows.append(_row(run, label, f"+{r[0]:g}-{r[1]:g}%", p, m, GAIN,
                         [(PUBLISHED, f"the step gains {r[0]:g}-{r[1]:g}% (the midpoint, "
                                      f"as the ratio {fmt_ratio(p)}, is judged)")],
                         lambda x: f"+{(x - 1) * 100:.0f}%", pub.source(workload=w) or src))
    r = _range(pub, workload="native-vs-best-hw", low="percent_low", high="percent_high")
    if r:
        p = 1 + r[2] / 100
        rows.append(_row(run, "best nested / native", f"{1 + r[0] / 100:.2f}-"
                         f"{1 + r[1] / 100:.2f}x", p, gain(big, native), VS_NATIVE,
                         [(PUBLISHED, f"native stays {r[0]:g}-{r[1]:g}% ahead of the best "
                                      "hardware configuration")],
                         fmt_ratio, pub.source(workload="native-vs-best-hw") or src))
    return rows


def vmware(run, pub):
    rows = []
    for r in pub.rows:
        w = VMWARE.get(r["workload"])
        if not w:
            continue
        p = 1 + r["value"] / 100               # "up to X% faster" as shadow/nested
        m = sim_value(run, f"sim-{w}", PAGE_CONFIGS[0], "-", "shadow_over_nested")
        label = f"{r['config']}: {r['workload']}"
        rows.append(_row(run, label, fmt_ratio(p), p, m, SHADOW_VS_NESTED,
                         [(PUBLISHED, f"nested paging up to {r['value']:g}% faster than "
                                      f"shadow paging ({r['config']}), i.e. shadow/nested "
                                      f"up to {fmt_ratio(p)}"),
                          ("Stands for it here", f"the simulated {w} with 4 KiB pages "
                                                 "(experiment.json, \"vmware\"); an "
                                                 "\"up to\" figure is judged as if reached")],
                         fmt_ratio, r["source"]))
    return rows


def tables(run, exp):
    out = []
    b = exp.published.get("bhargava-2008")
    v = exp.published.get("vmware-rvi-ept-2009")
    if b:
        out.append(Table("2-D walks", "Bhargava et al. 2008: two-dimensional walks and their "
                         "caches, against ptwalk-sim", b.citation, "published",
                         "ptwalk-sim", bhargava(run, b), VS_NATIVE))
    if v:
        out.append(Table("nested vs shadow", "VMware's RVI and EPT studies: nested paging's "
                         "gain over shadow paging, against ptwalk-sim's shadow/nested",
                         v.citation, "shadow/nested (published)", "shadow/nested (model)",
                         vmware(run, v), SHADOW_VS_NESTED))
    return out


def _fmt(x, f="{:.2f}"):
    if x is None:
        return "--"
    if isinstance(x, float) and math.isinf(x):
        return "any"
    return f.format(x)


def measured(run, exp):
    """The predictions per workload and page configuration, and memwalk's series."""
    rows = []
    for pc in PAGE_CONFIGS:
        for w in WORKLOADS:
            wl = f"sim-{w}"
            if sim_value(run, wl, pc, "-", "shadow_over_nested") is None:
                continue
            be = sim_value(run, wl, pc, "-", "break_even_cycles_per_exit")
            rows.append([f"{w} ({pc})",
                         _fmt(sim_value(run, wl, pc, "shadow", "slowdown"), "{:.2f}x"),
                         _fmt(sim_value(run, wl, pc, "nested", "slowdown"), "{:.2f}x"),
                         _fmt(sim_value(run, wl, pc, "-", "shadow_over_nested"), "{:.2f}"),
                         _fmt(sim_value(run, wl, pc, "shadow", "exits_whole_run"), "{:,.0f}"),
                         _fmt(sim_value(run, wl, pc, "nested", "exits_whole_run"), "{:,.0f}"),
                         "none" if be is not None and be <= 0 else _fmt(be, "{:.3g}")])
    for pc in PAGE_CONFIGS:
        for ws in memwalk_sizes(run, pc):
            p = f"{pc} ws={ws}"
            rows.append([f"memwalk {ws >> 10} KiB ({pc})",
                         _fmt(sim_value(run, "sim-memwalk", p, "shadow", "slowdown"), "{:.2f}x"),
                         _fmt(sim_value(run, "sim-memwalk", p, "nested", "slowdown"), "{:.2f}x"),
                         _fmt(sim_value(run, "sim-memwalk", p, "-", "shadow_over_nested")),
                         _fmt(sim_value(run, "sim-memwalk", p, "shadow", "exits_whole_run"),
                              "{:,.0f}"),
                         _fmt(sim_value(run, "sim-memwalk", p, "nested", "exits_whole_run"),
                              "{:,.0f}"),
                         "any"])
    out = recorded(run)
    if not rows:
        return out
    return out + [MeasuredTable("ptwalk-sim", "ptwalk-sim's predictions: the timed part of each "
                          "workload, ratio to native; exits over the whole trace",
                          ["workload (guest/host pages)", "shadow", "nested", "shadow/nested",
                           "shadow exits", "nested exits", "break-even cycles per exit"],
                          rows, notes=[
                              "A model's output (sim/README.md): shadow/nested above 1 means "
                              "nested paging is faster; break-even: shadow is faster while "
                              "one of its exits costs less than this many cycles (none: not "
                              "even at no cost; any: at every cost).",
                              "memwalk's timed part is the chase alone, after the working "
                              "set is mapped, as the guest times it."])]


def recorded(run):
    """The traces the bt engine recorded of real guest workloads (hvm --bt-trace,
    replayed by ptwalk-sim run --name bt-WORKLOAD): their exits under shadow and nested
    paging beside the synthetic traces' predictions."""
    names = sorted({r["workload"] for r in run.select(experiment=EXP)
                    if r["workload"].startswith("sim-bt-")})
    rows = []
    for wl in names:
        rs = [r for r in run.select(experiment=EXP, workload=wl)]
        trace = rs[0]["params"] if rs else "-"

        def v(memvirt, metric, f):
            x = [r["value"] for r in rs if r["memvirt"] == memvirt and r["metric"] == metric]
            return _fmt(x[0] if x else None, f)
        rows.append([wl[len("sim-bt-"):], trace, v("shadow", "exits_whole_run", "{:,.0f}"),
                     v("shadow", "pte_trap", "{:,.0f}"), v("shadow", "shadow_fill", "{:,.0f}"),
                     v("nested", "exits_whole_run", "{:,.0f}"), v("-", "shadow_over_nested", "{:.2f}")])
    if not rows:
        return []
    return [MeasuredTable("ptwalk-sim traces", "Real workloads under the translator, replayed: "
                          "the page-table traces the bt engine recorded (hvm --bt-trace)",
                          ["workload", "trace", "shadow exits", "of them PTE traps",
                           "shadow fills", "nested exits", "shadow/nested"], rows, notes=[
                              "A recorded trace holds what the translator sees: CR3 loads, "
                              "page-table writes, guest page faults, invlpg and each page's "
                              "first touch in a window, not every access; so its TLB figures "
                              "are of page touches, and its exits are the comparison's point."])]


def memwalk_sizes(run, pc):
    out = set()
    for r in run.select(experiment=EXP, workload="sim-memwalk", metric="shadow_over_nested"):
        if r["params"].startswith(pc + " ws="):
            out.add(int(r["params"].split("ws=")[1]))
    return sorted(out)


def closing(run, tables):
    out = []
    pc = PAGE_CONFIGS[0]
    preds = [(w, sim_value(run, f"sim-{w}", pc, "-", "shadow_over_nested")) for w in WORKLOADS]
    preds = [(w, r) for w, r in preds if r is not None]
    if preds:
        out.append("ptwalk-sim predicts nested paging faster than shadow paging on the "
                   "page-table-churning workloads with 4 KiB pages (shadow/nested " +
                   ", ".join(f"{w} {fmt_ratio(r)}" for w, r in preds) + ").")
    sizes = memwalk_sizes(run, pc)
    if sizes:
        big = sim_value(run, "sim-memwalk", f"{pc} ws={sizes[-1]}", "-", "shadow_over_nested")
        b2 = sim_value(run, "sim-memwalk", f"{PAGE_CONFIGS[2]} ws={sizes[-1]}", "-",
                       "shadow_over_nested")
        if big is not None:
            out.append(f"On memwalk's chase over {sizes[-1] >> 20} MiB it predicts the "
                       f"opposite, shadow/nested {fmt_ratio(big)} with 4 KiB pages"
                       + (f", and {fmt_ratio(b2)} with 2 MiB guest and host pages" if b2
                          is not None else "") + ": the TLB-miss-heavy case where the 2-D "
                       "walk costs more than shadow paging's exits.")
    return out
