"""The block device's five I/O paths beside the published shapes: Sugerman et al. 2001
(an emulated device's I/O time is mostly world switches) and ELI 2012 (removing the
exits of interrupt delivery speeds I/O up by 1.3-1.6x), plus the expected order of
REFERENCES.md (emulated >> virtio > ioeventfd > polling in exits per I/O).

Figures come from the io workload (hv-minimal/guest/user/io.c): per repetition IOPS,
latency, and the device's counts per I/O. A cell's queue depth is read from its guest
command line (the run's notes), so the cells' names are free."""
import json
import math
import os
import re
import statistics

from hvtools.compare import MEASURED, PUBLISHED, HYPOTHESIS, MeasuredTable, Row, Table, \
    fmt_ratio, no_verdict, verdict_part
from hvtools.verdict import Rule, judge

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "experiment.json"), encoding="utf-8") as _f:
    META = json.load(_f)
PATHS = tuple(META["paths"])
QDS = tuple(META["queue_depths"])

# metric: (column title, scale to the shown unit, format)
METRICS = {
    "iops": ("IO/s", 1.0, "{:,.0f}"),
    "vmm_exits_per_io": ("exits/IO", 1.0, "{:.3g}"),
    "irqs_per_io": ("irqs/IO", 1.0, "{:.3g}"),
    "notifies_per_io": ("notifies/IO", 1.0, "{:.3g}"),
    "host_cpu_ns_per_io": ("host CPU us/IO", 1e-3, "{:.3g}"),
    "lat_p50_ns": ("p50 us", 1e-3, "{:.3g}"),
    "lat_p99_ns": ("p99 us", 1e-3, "{:.3g}"),
    "mb_per_s": ("MB/s", 1.0, "{:.3g}"),
}


def _cmdline_of(run, cell):
    if cell:
        v = run.notes.get(f"{cell}.guest_cmdline")
    else:
        v = run.notes.get("guest_cmdline")
    return v or ""


def _qd(cmdline):
    m = re.search(r"(?:^|[,:= ])qd=(\d+)", cmdline)
    return int(m.group(1)) if m else 1


def _size(cmdline):
    """The request size in bytes of the io workload's arguments (4096 when not given)."""
    m = re.search(r"(?:^|[,:= ])size=(\d+)([KkMm]?)", cmdline)
    if not m:
        return 4096
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1 << 20}[m.group(2).lower()]


def _tsc_hz(run, cell):
    v = run.notes.get(f"{cell}.guest_tsc_khz") if cell else run.notes.get("guest_tsc_khz")
    return float(v) * 1e3 if isinstance(v, (int, float)) and v > 0 else None


def _retime(m, true_hz):
    """The guest converts cycles to time with the TSC rate it was given or calibrated;
    under QEMU's PVH boot it calibrates against the PIT, which QEMU's microvm runs at
    another rate than the host. Rates and latencies are recomputed from cycles with the
    TSC rate the runner measured for the cell (its guest_tsc_khz note): the same rate
    hvm gives its guest, so hvm's figures do not move."""
    iops, cpi = m.get("iops"), m.get("cycles_per_io")
    if not true_hz or not iops or not cpi or len(iops) != len(cpi):
        return
    f = [i * c / true_hz for i, c in zip(iops, cpi)]      # guest's rate / the true one
    m["iops"] = [true_hz / c for c in cpi]
    for k in ("mb_per_s",):
        if len(m.get(k, [])) == len(f):
            m[k] = [v / x for v, x in zip(m[k], f)]
    for k in ("lat_p50_ns", "lat_p99_ns"):
        if len(m.get(k, [])) == len(f):
            m[k] = [v * x for v, x in zip(m[k], f)]


def io_samples(run, size=4096):
    """{(engine, path, qd): {metric: [every sample of every cell]}} of the io workload's
    cells with requests of size bytes (the tables and figures are of 4 KiB ones but for
    the request-size sweep)."""
    cells = {}
    for g in run.summary.get("groups") or []:
        if g.get("experiment") != "io" or g.get("workload") != "io":
            continue
        cell = g.get("cell")
        if _size(_cmdline_of(run, cell)) != size:
            continue
        qd = _qd(_cmdline_of(run, cell))
        key = (g.get("engine"), g.get("iopath"), qd)
        vals = [v for v in g.get("samples") or [] if isinstance(v, (int, float))
                and math.isfinite(v)]
        cells.setdefault((cell, key), {})[g.get("metric")] = vals
    out = {}
    for (cell, key), m in cells.items():
        _retime(m, _tsc_hz(run, cell))
        for metric, vals in m.items():
            out.setdefault(key, {}).setdefault(metric, []).extend(vals)
    return out


def med(s, key, metric):
    v = s.get(key, {}).get(metric)
    return statistics.median(v) if v else None


def spread(s, key, metric):
    v = s.get(key, {}).get(metric)
    if not v:
        return None
    return min(v), max(v), len(v)


def engines_of(s):
    seen = []
    for e, _, _ in s:
        if e not in seen:
            seen.append(e)
    return seen


def _fmt(metric, v):
    if v is None:
        return "--"
    _, scale, f = METRICS[metric]
    return f.format(v * scale)


def measured(run, exp):
    s = io_samples(run)
    out = []
    for qd in QDS:
        rows = []
        for e in engines_of(s):
            for p in PATHS:
                key = (e, p, qd)
                if key not in s:
                    continue
                sp = spread(s, key, "iops")
                rows.append([f"{p} ({e})"] + [_fmt(m, med(s, key, m)) for m in METRICS] +
                            [f"{_fmt('iops', sp[0])}-{_fmt('iops', sp[1])} (n={sp[2]})"
                             if sp else "--"])
        if not rows:
            rows.append(["(none)"] + ["--"] * (len(METRICS) + 1))
        out.append(MeasuredTable(
            f"io qd{qd}", f"4 KiB requests, half writes, queue depth {qd}: medians over "
            "every repetition of every cell",
            ["path (engine)"] + [METRICS[m][0] for m in METRICS] + ["IO/s range"], rows,
            ["exits/IO counts the exits that reached the VMM's device code (hvm's run loop; "
             "under bt, the same handlers called from the translator's call-out), all "
             "vCPUs; exits KVM completes itself (ioeventfd writes, an irqfd's interrupt) are not "
             "among them. host CPU is the VMM process (guest vCPU threads included) plus "
             "the split driver process. Latency is a batch's submit-to-last-completion "
             "time, so at queue depth 32 it is the batch's."]))
    sweep = size_rows(run, s)
    if sweep:
        out.append(MeasuredTable(
            "io sizes", "Request sizes: MB/s (and IO/s) per path at queue depth 1 and 32, "
            "medians",
            ["path (engine)", "qd"] + [_size_name(z) for z in SIZES], sweep,
            ["Each cell is MB/s over IO/s; the 4 KiB column is the cells of the tables "
             "above. One trial per size beside 4 KiB's three."]))
    peer = peer_rows(s)
    if peer:
        out.append(MeasuredTable(
            "io peer", "The same guest-visible work on QEMU's own virtio-blk-device "
            "(microvm, virtio-mmio): virtio path, medians",
            ["engine", "qd", "IO/s", "p50 us", "p99 us", "cycles/IO", "hvm's virtio IO/s "
             "(bt / hw)"], peer,
            ["QEMU's figures are the guest's cycles per I/O over the TSC rate hvpeer "
             "measured (the guest's own calibration under microvm is off); exits and CPU "
             "time are hvm's device counters and have no QEMU counterpart here."]))
    return out


SIZES = (512, 4096, 16384)


def _size_name(z):
    return f"{z // 1024} KiB" if z >= 1024 else f"{z} B"


def size_rows(run, s4k):
    """[path (engine), qd, "MB/s (IO/s)" per size] for the paths measured at more than
    one request size; [] when the run holds 4 KiB requests only. s4k: io_samples(run),
    the 4 KiB ones, already read."""
    by = {z: s4k if z == 4096 else io_samples(run, z) for z in SIZES}
    if sum(1 for z in SIZES if by[z]) < 2:
        return []
    rows = []
    for e in engines_of(by[4096] or next(v for v in by.values() if v)):
        for p in PATHS:
            for qd in QDS:
                key = (e, p, qd)
                if sum(1 for z in SIZES if key in by[z]) < 2:
                    continue
                rows.append([f"{p} ({e})", str(qd)] +
                            [f"{_fmt('mb_per_s', med(by[z], key, 'mb_per_s'))} "
                             f"({_fmt('iops', med(by[z], key, 'iops'))})" if key in by[z]
                             else "--" for z in SIZES])
    return rows


def peer_rows(s):
    rows = []
    ours = [e for e in engines_of(s) if not e.startswith("qemu")]
    for e in engines_of(s):
        if not e.startswith("qemu"):
            continue
        for qd in QDS:
            key = (e, "virtio", qd)
            if key not in s:
                continue
            cpi = med(s, key, "cycles_per_io")
            rows.append([e, str(qd), _fmt("iops", med(s, key, "iops")),
                         _fmt("lat_p50_ns", med(s, key, "lat_p50_ns")),
                         _fmt("lat_p99_ns", med(s, key, "lat_p99_ns")),
                         f"{cpi:,.0f}" if cpi else "--",
                         " / ".join(_fmt("iops", med(s, (o, "virtio", qd), "iops"))
                                    for o in ours) or "--"])
    return rows


# Sugerman et al.: the share of an emulated device's I/O time spent in world switches.
# Classified as mostly (> 1/2), partly (> 1/10) or little.
SHARE = Rule("share of an emulated I/O's time in exits",
             lambda r: "mostly" if r > 0.5 else ("partly" if r > 0.1 else "little"))
# ELI: exitless against the baseline, as a speedup (1.3-1.6x published).
SPEEDUP = Rule("speedup of exitless I/O over the exiting baseline",
               lambda r: "faster" if r > 1.1 else ("slower" if r < 0.9 else "about equal"))


def emul_exit_share(run, s, engine):
    """(share, text) of emul's QD1 time in exits to the VMM: exits per I/O times the
    median exit's run-loop time (guest -> VMM -> guest, the device's work excluded),
    over the median I/O latency; None with why when not measured."""
    key = (engine, "emul", 1)
    n, lat = med(s, key, "vmm_exits_per_io"), med(s, key, "lat_p50_ns")
    if n is None or not lat:
        return None, f"no emul queue-depth-1 cell of {engine} in this run"
    runs = [r["value"] for r in run.exit_rows() if r["engine"] == engine and
            r["metric"] == "exit_run_ns_median" and
            r["params"].startswith("exit=io-") and
            0x540 <= int(r["params"].split(":")[-1], 16) < 0x560 and math.isfinite(r["value"])]
    if not runs:
        return None, f"no exit timings of the emul device's ports under {engine}"
    switch = statistics.median(runs)
    return n * switch / lat, (f"{n:.3g} exits per I/O x {switch / 1000:.3g} us per exit "
                              f"(median run-loop time of the device's port exits) over a "
                              f"{lat / 1000:.3g} us I/O")


def tables(run, exp):
    pub = exp.published.get("io-paths")
    s = io_samples(run)
    # the engines that ran hvm's device (a peer runs QEMU's virtio device only)
    engines = [e for e in engines_of(s) if (e, "emul", 1) in s or (e, "poll", 1) in s] or \
        list(META["engines"])
    rows_s, rows_e = [], []
    ws = pub.value(workload="packet-send", config="world-switch-share") if pub else None
    tot = pub.value(workload="packet-send", config="out-triggered") if pub else None
    p_share = ws / tot if ws and tot else None
    src_s = pub.source(workload="packet-send", config="world-switch-share") if pub else None
    for e in engines:
        m, why = emul_exit_share(run, s, e)
        parts = [(PUBLISHED, f"Sugerman et al. spent {ws} of {tot} us of an OUT-triggered "
                             f"packet send in world switches ({fmt_ratio(p_share)})")]
        if m is None:
            rows_s.append(Row(f"emul ({e})", fmt_ratio(p_share), "not measured",
                              no_verdict(why), parts + [(MEASURED, why)], source=src_s))
            continue
        v = judge(p_share, m, SHARE)
        rows_s.append(Row(f"emul ({e})", fmt_ratio(p_share), fmt_ratio(m), v,
                          parts + [(MEASURED, why), verdict_part(v)], source=src_s))
    lo = pub.value(workload="eli-exitless-interrupts", config="vs-baseline",
                   metric="speedup_low") if pub else None
    hi = pub.value(workload="eli-exitless-interrupts", config="vs-baseline",
                   metric="speedup_high") if pub else None
    src_e = pub.source(workload="eli-exitless-interrupts", config="vs-baseline") if pub \
        else None
    p_mid = math.sqrt(lo * hi) if lo and hi else None
    for e in engines:
        for qd in QDS:
            a, b = med(s, (e, "poll", qd), "iops"), med(s, (e, "virtio", qd), "iops")
            parts = [(PUBLISHED, f"ELI's exitless interrupts were {lo}-{hi}x the baseline "
                                 f"(the geometric middle, {fmt_ratio(p_mid)}, is compared)"),
                     (HYPOTHESIS, "poll removes the notify exits and the interrupt (with "
                                  "its acknowledgement exits) of virtio; ELI removed only the "
                                  "interrupt's exits, for an assigned device")]
            label = f"poll/virtio IO/s ({e}, qd {qd})"
            if not a or not b:
                rows_e.append(Row(label, fmt_ratio(p_mid), "not measured",
                                  no_verdict("poll or virtio not measured at this depth"),
                                  parts, tag="different mechanism", source=src_e))
                continue
            v = judge(p_mid, a / b, SPEEDUP)
            rows_e.append(Row(label, fmt_ratio(p_mid), fmt_ratio(a / b), v, parts + [
                (MEASURED, f"poll {a:,.0f} IO/s, virtio {b:,.0f} IO/s"), verdict_part(v)],
                tag="different mechanism", source=src_e))
    return [
        Table("world switches", "Sugerman et al. 2001: an emulated device's I/O time in "
              "exits", pub.citation if pub else "", "published share", "measured share",
              rows_s, SHARE),
        Table("exitless", "ELI 2012: exitless I/O against the exiting baseline",
              pub.citation if pub else "", "published speedup", "measured speedup", rows_e,
              SPEEDUP),
    ]


def order_holds(s, engine, qd):
    """The expected order in exits per I/O (REFERENCES.md): emul > virtio >= ioeventfd >=
    poll; (holds, text) or (None, why)."""
    vals = [med(s, (engine, p, qd), "vmm_exits_per_io") for p in
            ("emul", "virtio", "ioeventfd", "poll")]
    if any(v is None for v in vals):
        return None, "not every path was measured"
    ok = vals[0] > vals[1] >= vals[2] >= vals[3]
    return ok, ", ".join(f"{p} {v:.3g}" for p, v in
                         zip(("emul", "virtio", "ioeventfd", "poll"), vals))


def closing(run, tables_):
    s = io_samples(run)
    out = []
    for e in engines_of(s):
        for qd in QDS:
            ok, text = order_holds(s, e, qd)
            if ok is None:
                continue
            out.append(f"Exits to the VMM per I/O under {e} at queue depth {qd} (measured): "
                       f"{text}; the expected order emulated > virtio >= ioeventfd >= poll "
                       f"{'holds' if ok else 'does not hold'}.")
    return out
