"""Adams & Agesen 2006 (and Agesen et al. 2012 for the exit's cost) beside a run: their
VT-x against the engine experiment.json names for it, their BT against the translator,
BT against VT-x, forkwait, and an exit's round trip. Which engine stands for which
published technique is this experiment's rule (experiment.json, "engines"); everything
else comes from the shared machinery in scripts/hvtools/compare.py."""
import json
import os
import statistics

from hvtools import rundata
from hvtools.compare import (HYPOTHESIS, MEASURED, PAPER, PUBLISHED, SEE_ENGINES,
                             DIFFERENT_KERNELS, Row, Table, abs_note, fmt_cycles, fmt_ratio,
                             host_kind, io_exit_us, kernel_parts, native_differs,
                             no_verdict, unmeasured, verdict_part, workload_median)
from hvtools.rundata import cycles_per_op, ratio_to_native
from hvtools.verdict import SW_VS_HW, VS_NATIVE, judge, winner

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "experiment.json"), encoding="utf-8") as _f:
    META = json.load(_f)
VTX = META["engines"]["vtx"]        # the engine set beside first-generation VT-x
BT = META["engines"]["bt"]          # the engine set beside VMware's BT
# forkwait rows: the published technique, this run's engine, and what the engine is
# beside A&A's (the peers run the same guest image under QEMU).
FORKWAIT_ENGINES = tuple((r["technique"], r["engine"], r.get("what", ""))
                         for r in META["forkwait"])
# Adams & Agesen's nanobenchmarks, in the order of their table.
AA_OPS = tuple(META["ops"])

AA_SHORT = "A&A 2006"
AA_CITE = "Adams & Agesen 2006, nanobenchmark discussion, as summarised here; section " \
          "and page not confirmed"

# What Adams & Agesen (ASPLOS 2006) give as the reason for their figures, per operation
# and technique, in hvlab's words (AA_CITE says where).
AA_WHY = {
    ("syscall", "vtx"): "the guest's system call runs without an exit to the VMM",
    ("syscall", "bt"): "the system call and its return go through the VMM before and after "
                       "the guest kernel's handler runs as translated code",
    ("in", "vtx"): "every in exits from the guest to the VMM",
    ("in", "bt"): "the translated in is emulated by the VMM without a trap and without the "
                  "native port access itself",
    ("cr8wr", "vtx"): "the TPR write completes close to native cost",
    ("cr8wr", "bt"): "the translated CR8 write is a store to the virtual CPU's state",
    ("callret", "vtx"): "nothing in a call and return involves the VMM",
    ("callret", "bt"): "the translated return, an indirect branch, needs a lookup",
    ("pgfault", "vtx"): "without nested paging each guest page fault exits to the VMM, which "
                        "maintains the shadow page tables",
    ("pgfault", "bt"): "the VMM handles the shadow page fault in software, with no hardware "
                       "world switch",
    ("divzero", "vtx"): "the exception reaches the guest without an exit",
    ("divzero", "bt"): "the fault is routed through the VMM before the guest sees it",
    ("ptemod", "vtx"): "each store to a write-protected guest page table exits to the VMM",
    ("ptemod", "bt"): "adaptive translation turns the trapping store into a call-out",
}


KERNEL_OPS = ("syscall", "cr8wr", "pgfault", "divzero", "ptemod")

# Quantities whose native baseline runs Linux's kernel while the guest runs hvlab's:


def hypothesis(run, op, engine):
    """A mechanism for how this run's engine does the operation, which the run itself
    did not measure (hv-minimal/README.md and engines/bt/README.md describe them), or
    "" when there is none to offer."""
    if engine == BT:
        return "the translator runs guest code from its code cache and calls out to C " \
               "for privileged work (engines/bt/README.md)"
    if engine != VTX:
        return ""
    kind = host_kind(run)
    gate = run.note("sysgate")
    if op == "callret":
        return f"user-mode code runs without exits under the {VTX} engine"
    if op == "in":
        return "each in exits to hvm in user space"
    if kind != "cpl0-emulated":
        return ""
    emu = "this host's KVM (kvm_pvm) emulates guest kernel (CPL0) code one instruction at " \
          "a time (hv-minimal/README.md)"
    if op == "syscall":
        g = f" through the {gate} trap gate" if gate else ""
        return f"the guest enters its kernel{g}, and {emu}"
    if op in ("pgfault", "divzero"):
        return f"the exception goes to the guest kernel's handler, and {emu}"
    if op in ("cr8wr", "ptemod"):
        return f"the operation runs in the guest kernel, and {emu}"
    return ""


def aa_vs_native(run, pub, engine, tech):
    """A&A's tech/native against this run's engine/native, per nanobenchmark."""
    rows = []
    name = "VT-x" if tech == "vtx" else "BT"
    for op in AA_OPS:
        p = aa_ratio(pub, op, tech)
        m, why = ratio_to_native(run, op, engine)
        src = pub.source(experiment="nanobench", workload=op, engine=tech) or pub.citation
        pub_parts = [(PUBLISHED, f"A&A measured {name} at {fmt_ratio(p)} native")
                     if p is not None else (PUBLISHED, "no published figure")]
        if p is not None and (op, tech) in AA_WHY:
            pub_parts.append((f"{PAPER} ({AA_SHORT})", AA_WHY[(op, tech)]))
        if m is None:
            rows.append(unmeasured(run, op, fmt_ratio(p), pub_parts, engine,
                                   f"{why}{abs_note(run, op, engine)}", source=src))
            continue
        other = native_differs(run, op)
        mech = hypothesis(run, op, engine)
        if other:
            c = cycles_per_op(run, op, engine)["median"]
            v = judge(p, m, VS_NATIVE, not_comparable=f"this run's native {op} is "
                      f"'{other}', not A&A's plain store")
            rows.append(Row(op, fmt_ratio(p), "not comparable", v, pub_parts + [
                (MEASURED, f"{engine} takes {fmt_cycles(c)} per page-table store, "
                           f"{fmt_ratio(m)} this run's native baseline"),
                verdict_part(v)], source=src))
            continue
        v = judge(p, m, VS_NATIVE)
        parts = pub_parts + [(MEASURED, f"{engine} is {fmt_ratio(m)} native here"),
                             verdict_part(v)]
        kp = kernel_parts(run, op)
        parts += kp
        if mech:
            parts.append((HYPOTHESIS, mech))
        rows.append(Row(op, fmt_ratio(p), fmt_ratio(m), v, parts,
                        tag=DIFFERENT_KERNELS if kp else "", source=src))
    return rows


def aa_bt_vs_vtx(run, pub):
    rows = []
    for op in AA_OPS:
        b = pub.value(experiment="nanobench", workload=op, cpu="pentium4-672", engine="bt")
        h = pub.value(experiment="nanobench", workload=op, cpu="pentium4-672", engine="vtx")
        p = b / h if b and h else None
        mb, mh = cycles_per_op(run, op, BT), cycles_per_op(run, op, VTX)
        src = pub.source(experiment="nanobench", workload=op, engine="bt") or pub.citation
        pub_parts = [(PUBLISHED, f"A&A's BT/VT-x is {fmt_ratio(p)}, {winner(p)}")
                     if p else (PUBLISHED, "no published figure")]
        if mb is None or mh is None or mb["median"] <= 0 or mh["median"] <= 0:
            on_host = [e for e in (BT, VTX)
                       if (run.absence(e) or ("",))[0] == rundata.NOT_ON_HOST]
            if on_host:
                rows.append(Row(op, fmt_ratio(p), rundata.NOT_ON_HOST,
                                no_verdict(f"{' and '.join(on_host)} not measured"),
                                pub_parts + [(MEASURED, f"{' and '.join(on_host)} "
                                              f"{'were' if len(on_host) > 1 else 'was'} "
                                              f"{rundata.NOT_ON_HOST} ({SEE_ENGINES})")],
                                source=src))
                continue
            missing = [e for e, s in ((BT, mb), (VTX, mh)) if s is None]
            why = f"engine {' and '.join(missing)} not in this run" if missing else \
                "a non-positive median"
            rows.append(Row(op, fmt_ratio(p), "not measured", no_verdict(why),
                            pub_parts + [(MEASURED, f"not measured here: {why}")], source=src))
            continue
        m = mb["median"] / mh["median"]
        v = judge(p, m, SW_VS_HW)
        parts = pub_parts + [(MEASURED, f"{BT}/{VTX} is {fmt_ratio(m)} here, "
                                        f"{winner(m, BT, VTX)}; both run hvlab's kernel"),
                             verdict_part(v)]
        if host_kind(run) == "cpl0-emulated" and op in KERNEL_OPS:
            parts.append((HYPOTHESIS, f"{VTX}'s figure includes this host's KVM (kvm_pvm) "
                                      "emulating the guest kernel code the operation runs "
                                      "(hv-minimal/README.md)"))
        rows.append(Row(op, fmt_ratio(p), fmt_ratio(m), v, parts, source=src))
    return rows


def forkwait_ratio(run, engine):
    """(ratio, how) of engine's forkwait to native, or (None, why not). Each hvm or
    hvpeer forkwait run records ratio_to_native against the native forkwait it measured
    right after the guest (the same pairs, forked by a small host process); their
    median is the ratio. A run without those rows (older runs, the fixture) gives the
    ratio of the medians of the engine's and native's first forkwait metric."""
    same = run.values(experiment="forkwait", workload="forkwait", engine=engine,
                      metric="ratio_to_native")
    if same:
        return statistics.median(same), "median of each run's ratio to its own native " \
            "forkwait"
    n, metric = workload_median(run, "forkwait", "native")
    e, _ = workload_median(run, "forkwait", engine)
    if metric is None:
        return None, "no forkwait samples in this run"
    if e is None:
        return None, f"no {engine} forkwait samples"
    if n is None or n <= 0 or e <= 0:
        return None, "no native forkwait baseline"
    return e / n, f"median {metric} over native's"


def _native_forkwait_note(run):
    c = run.stat(experiment="forkwait", workload="forkwait", engine="native",
                 metric="cycles_per_op")
    if not c:
        return ""
    hz = run.tsc_hz()
    t = f" = {c['median'] / hz * 1e6:,.0f} us" if hz else ""
    return f"; a native fork+wait pair takes {fmt_cycles(c['median'])}{t} here"


def aa_forkwait(run, pub):
    rows = []
    pn = pub.value(experiment="forkwait", cpu="pentium4-672", engine="native")
    cn = pub.value(experiment="forkwait", cpu="core2", engine="native")
    native_note = _native_forkwait_note(run)
    for tech, engine, what in FORKWAIT_ENGINES:
        pt = pub.value(experiment="forkwait", cpu="pentium4-672", engine=tech)
        ct = pub.value(experiment="forkwait", cpu="core2", engine=tech)
        p = pt / pn if pt and pn else None
        pc = f" ({fmt_ratio(ct / cn)} on the Core 2)" if ct and cn else ""
        name = "VT-x" if tech == "vtx" else "BT"
        src = pub.source(experiment="forkwait", cpu="pentium4-672", engine=tech) or \
            pub.citation
        pub_parts = [(PUBLISHED, f"A&A measured forkwait under {name} at {fmt_ratio(p)} "
                                 f"native time on the Pentium 4{pc}")]
        label = f"{name} vs {engine}"
        m, how = forkwait_ratio(run, engine)
        if m is None:
            if engine not in (VTX, BT) and not run.select(engine=engine) and \
                    engine not in run.engine_cells():
                continue            # a peer the run did not ask for adds no row
            rows.append(unmeasured(run, label, fmt_ratio(p), pub_parts, engine, how,
                                   source=src))
            continue
        v = judge(p, m, VS_NATIVE)
        parts = pub_parts + [(MEASURED, f"{engine} takes {fmt_ratio(m)} native time "
                                        f"({how}){native_note}" +
                              (f"; {engine} is {what}" if what else "")),
                             verdict_part(v)] + kernel_parts(run, "forkwait")
        if tech == "vtx" and host_kind(run) == "cpl0-emulated":
            parts.append((HYPOTHESIS, "every fork, page fault and exit runs guest kernel "
                                      "code, which this host's KVM (kvm_pvm) emulates one "
                                      "instruction at a time (hv-minimal/README.md)"))
        rows.append(Row(label, fmt_ratio(p), fmt_ratio(m), v, parts, tag=DIFFERENT_KERNELS,
                        source=src))
    return rows


def exit_cost(run, pub, agesen):
    """An exit's round trip in units of a native system call, then and here. A&A give a
    VM entry and a page-fault VM exit separately (one way each); their sum is the round
    trip of a page-fault exit."""
    entry = pub.value(experiment="exitcost", workload="vm-entry", cpu="pentium4-672",
                      engine="vtx")
    ex = pub.value(experiment="exitcost", workload="pgfault-exit", cpu="pentium4-672",
                   engine="vtx")
    sc = pub.value(experiment="nanobench", workload="syscall", cpu="pentium4-672",
                   engine="native")
    rt = entry + ex if entry and ex else None
    p = rt / sc if rt and sc else None
    gens = ""
    if agesen:
        g = [(r["workload"], r["cpu"], r["value"]) for r in agesen.rows
             if r["workload"] == "vtx-round-trip"]
        if g:
            gens = f"; Agesen et al. 2012 give the VT-x round trip from {g[0][2]:,.0f} " \
                   f"cycles ({g[0][1]}) to {g[-1][2]:,.0f} ({g[-1][1]})"
    src = "; ".join(x for x in (
        pub.source(experiment="exitcost", workload="vm-entry", cpu="pentium4-672"),
        pub.source(experiment="exitcost", workload="pgfault-exit", cpu="pentium4-672"),
        agesen.rows[0]["source"] if agesen and agesen.rows else None) if x) or pub.citation
    pub_parts = [(PUBLISHED, f"A&A give a VM entry at {entry:,.0f} and a page-fault VM exit "
                             f"at {ex:,.0f} cycles on the Pentium 4; their sum, "
                             f"{rt:,.0f} cycles (the sum is hvlab's), is {fmt_ratio(p)} a "
                             f"native system call{gens}")
                 if p else (PUBLISHED, "no published figure")]
    label = "exit round trip / native syscall"
    exu = io_exit_us(run, VTX)
    nat = cycles_per_op(run, "syscall", "native")
    hz = run.tsc_hz()
    if exu is None or nat is None or not hz or nat["median"] <= 0:
        why = f"no I/O exit statistics for {VTX}" if exu is None else \
            ("no native syscall baseline" if nat is None else "no TSC frequency in the context")
        return [unmeasured(run, label, fmt_ratio(p), pub_parts, VTX, why, source=src)]
    cyc = exu[0] * 1e-6 * hz
    m = cyc / nat["median"]
    v = judge(p, m, VS_NATIVE)
    kind = host_kind(run)
    parts = pub_parts + [
        (MEASURED, f"the most frequent port exit ({exu[2]}, {exu[1]:,} exits) takes "
                   f"{exu[0]:.1f} us = {cyc:,.0f} cycles, {fmt_ratio(m)} a native system "
                   "call; it is measured from the exit back into the guest, through hvm in "
                   "user space, where A&A's figures are the hardware transitions alone"),
        verdict_part(v)]
    if kind == "cpl0-emulated":
        parts.append((HYPOTHESIS, "on this nested host (kvm_pvm) an exit also crosses the "
                                  "outer hypervisor"))
    return [Row(label, fmt_ratio(p), fmt_ratio(m), v, parts, source=src)]


def aa_ratio(pub, op, engine, cpu="pentium4-672"):
    """Adams & Agesen's engine/native ratio for a nanobenchmark, or None."""
    e = pub.value(experiment="nanobench", workload=op, cpu=cpu, engine=engine)
    n = pub.value(experiment="nanobench", workload=op, cpu=cpu, engine="native")
    if e is None or n is None or n <= 0:
        return None
    return e / n


def tables(run, exp):
    aa = exp.published.get("adams-agesen-2006")
    agesen = exp.published.get("agesen-2012")
    if not aa:
        return []
    src = aa.citation
    return [
        Table(f"{VTX} vs VT-x", f"Adams and Agesen 2006: first-generation VT-x and the {VTX} "
              "engine, ratio to native", src, "VT-x/native (P4)", f"{VTX}/native (here)",
              aa_vs_native(run, aa, VTX, "vtx"), VS_NATIVE, [f"{AA_SHORT}: {AA_CITE}"]),
        Table(f"{BT} vs BT", f"Adams and Agesen 2006: VMware's BT and hvlab's {BT} engine, "
              "ratio to native", src, "BT/native (P4)", f"{BT}/native (here)",
              aa_vs_native(run, aa, BT, "bt"), VS_NATIVE, [f"{AA_SHORT}: {AA_CITE}"]),
        Table("BT vs VT-x", "Adams and Agesen 2006: software against hardware "
              "(below 1, BT is faster)", src, "BT/VT-x (P4)", f"{BT}/{VTX} (here)",
              aa_bt_vs_vtx(run, aa), SW_VS_HW),
        Table("forkwait", "Adams and Agesen 2006: forkwait, ratio to native",
              src, "published", "measured", aa_forkwait(run, aa), VS_NATIVE),
        Table("exit cost", "Exit cost in native system calls",
              src + (" " + agesen.citation if agesen else ""), "P4 VT-x", f"{VTX} (here)",
              exit_cost(run, aa, agesen), VS_NATIVE),
    ]


def closing(run, tables):
    """This comparison's own sentences for the closing note: each from a measured value
    or a row's verdict; the host's mechanism only as a labelled hypothesis."""
    out = []
    kernel_ops = [(op, ratio_to_native(run, op, VTX)[0])
                  for op in ("syscall", "pgfault", "divzero")]
    kernel_ops = [(op, r) for op, r in kernel_ops if r is not None]
    if host_kind(run) == "cpl0-emulated" and kernel_ops:
        rs = [r for _, r in kernel_ops]
        out.append(f"{HYPOTHESIS}: the operations that enter the guest kernel "
                   f"({', '.join(op for op, _ in kernel_ops)}) cost {fmt_ratio(min(rs))} to "
                   f"{fmt_ratio(max(rs))} native under {VTX} here because this host's KVM is "
                   "kvm_pvm, which emulates guest kernel code one instruction at a time "
                   "(hv-minimal/README.md), where first-generation VT-x ran it natively.")
    callret = [r for t in tables if t.key == f"{VTX} vs VT-x" for r in t.rows
               if r.label == "callret" and r.holds is not None]
    if callret:
        r = callret[0]
        out.append(f"callret, which stays in user mode, is {r.measured} native under {VTX} "
                   f"against VT-x's {r.published}: "
                   f"{'its shape holds' if r.holds else 'its shape does not hold'}.")
    ex = io_exit_us(run, VTX)
    if ex:
        out.append(f"An exit to the VMM costs {ex[0]:.1f} us here (median round trip of "
                   f"{ex[1]:,} {ex[2]} exits).")
    return out
