"""Published comparisons beside a run's measurements: per row the published ratio, the
measured ratio, whether the published shape holds here, and one sentence saying why,
built from the data, the run's context and what the papers explain.

A shape is the side of native a ratio falls on: below 0.8 is faster than native,
0.8 to 1.5 on par, above 1.5 slower. For BT against VT-x, the shape is who wins:
below 0.8 BT, 0.8 to 1.25 a tie, above 1.25 VT-x (here: the hw engine)."""
import math
import statistics

from . import rundata
from .rundata import AA_OPS, aa_ratio, cycles_per_op, ratio_to_native

FASTER, PAR = 0.8, 1.5
TIE_HI = 1.25

# Why Adams & Agesen (ASPLOS 2006) saw what they saw, per operation and technique.
AA_WHY = {
    ("syscall", "vtx"): "VT-x runs the guest's system call without leaving the guest",
    ("syscall", "bt"): "BT runs the guest kernel's entry and exit paths as translated code",
    ("in", "vtx"): "every in exits from the guest to the VMM",
    ("in", "bt"): "BT emulates the port read in the translation cache, without a trap and "
                  "without the native port access itself",
    ("cr8wr", "vtx"): "VT-x completes the TPR write close to native cost",
    ("cr8wr", "bt"): "BT turns the CR8 write into a store to the virtual CPU's state",
    ("callret", "vtx"): "nothing in a call and return involves the VMM",
    ("callret", "bt"): "BT translates the return, an indirect branch, into a lookup",
    ("pgfault", "vtx"): "without nested paging each guest page fault exits to the VMM, "
                        "which maintains the shadow page tables",
    ("pgfault", "bt"): "BT's VMM handles the shadow page fault in software, with no "
                       "hardware world switch",
    ("divzero", "vtx"): "VT-x delivers the exception to the guest without an exit",
    ("divzero", "bt"): "the fault is routed through the VMM before the guest sees it",
    ("ptemod", "vtx"): "each store to a write-protected guest page table exits to the VMM "
                       "(native is a plain store)",
    ("ptemod", "bt"): "adaptive BT turns the trapping store into a call-out (native is a "
                      "plain store)",
}


# Nanobenchmarks whose path runs guest kernel code.
KERNEL_OPS = ("syscall", "cr8wr", "pgfault", "divzero", "ptemod")


def fmt_ratio(r):
    if r is None or not math.isfinite(r):
        return "--"
    if r < 0.01:
        return f"{r:.2g}x"              # two significant digits, not "0.00x"
    if r >= 100:
        return f"{r:,.0f}x"
    if r >= 10:
        return f"{r:.0f}x"
    if r >= 1:
        return f"{r:.1f}x"
    return f"{r:.2f}x"


def fmt_cycles(c):
    return f"{c:,.0f} cycles" if c >= 10 else f"{c:.1f} cycles"


def band(r):
    if r < FASTER:
        return "faster than native"
    if r <= PAR:
        return "on par with native"
    return "slower than native"


def winner(r, a="BT", b="VT-x"):
    if r < FASTER:
        return f"{a} wins"
    if r <= TIE_HI:
        return "a tie"
    return f"{b} wins"


class Row:
    def __init__(self, label, published, measured, holds, sentence):
        self.label, self.published, self.measured = label, published, measured
        self.holds, self.sentence = holds, sentence      # holds: True, False or None


class Table:
    def __init__(self, key, title, source, pub_head, meas_head, rows):
        # key: a short name of the comparison, used in the closing note
        self.key, self.title, self.source = key, title, source
        self.pub_head, self.meas_head, self.rows = pub_head, meas_head, rows


def host_kind(run):
    """How this run's KVM ran guest kernel code: "cpl0-emulated" (kvm_pvm), "hardware",
    or "none" when the host had no usable KVM (a kvm_pvm module may still be loaded)."""
    kvm = run.context.get("kvm") if isinstance(run.context.get("kvm"), dict) else {}
    if kvm.get("usable") is False or kvm.get("present") is False:
        return "none"
    return "cpl0-emulated" if kvm.get("flavour") == "kvm_pvm" else "hardware"


# Where the report says why an engine was not measured on this host (once, not per row).
SEE_ENGINES = "the Engines section says why"


def unmeasured(run, label, published, pub_s, engine, why):
    """The row of a comparison this run cannot make. When the run holds no samples of
    engine at all, the row says so: NOT_ON_HOST when the host could not run it (the
    reason is given once, in the report's Engines section), else "not measured" and
    why; otherwise "not measured" with why."""
    absent = run.absence(engine) if engine else None
    if absent and absent[0] == rundata.NOT_ON_HOST:
        return Row(label, published, rundata.NOT_ON_HOST, None,
                   f"{pub_s}; {engine} was {rundata.NOT_ON_HOST} ({SEE_ENGINES}).")
    if absent:
        return Row(label, published, absent[0], None, f"{pub_s}; not measured here: "
                   f"{absent[1]}.")
    return Row(label, published, "not measured", None, f"{pub_s}; not measured here: {why}.")


def _mode_of(run, engine, col):
    for r in run.rows:
        if r["engine"] == engine and r.get(col) not in (None, "", "-"):
            return r[col]
    return None


def io_exit_us(run, engine="hw"):
    """(median round trip in us, exits, label) of the most frequent port-I/O exit."""
    best = None
    for r in run.exit_rows():
        if r["engine"] != engine or r["metric"] != "exits" or \
                not r["params"].startswith("exit=io-"):
            continue
        if best is None or r["value"] > best[1]:
            best = (r["params"], r["value"])
    if best is None:
        return None
    v = [r["value"] for r in run.exit_rows() if r["engine"] == engine and
         r["params"] == best[0] and r["metric"] == "exit_roundtrip_ns_median" and
         math.isfinite(r["value"])]
    if not v:
        return None
    return statistics.median(v) / 1000.0, int(best[1]), best[0][len("exit="):]


def mechanism(run, op, engine):
    """How this run's engine gets the operation done, as far as the run tells."""
    if engine != "hw":
        if engine == "bt":
            return "the translator runs guest code from its code cache and calls out for " \
                   "privileged work"
        return ""
    kind = host_kind(run)
    gate = run.note("sysgate")
    memvirt = _mode_of(run, "hw", "memvirt") or "the host's paging mode"
    ex = io_exit_us(run)
    exit_txt = f" (an I/O exit round trip is {ex[0]:.1f} us here)" if ex else ""
    if op == "callret":
        return "user-mode code runs natively under the hw engine"
    if op == "in":
        return f"each in exits to hvm in user space{exit_txt}"
    if kind == "cpl0-emulated":
        emu = "this host's KVM (kvm_pvm) emulates guest kernel (CPL0) code one instruction " \
              "at a time"
        if op == "syscall":
            g = f" through the {gate} trap gate" if gate else ""
            return f"the guest enters its kernel{g} and {emu}"
        if op in ("pgfault", "divzero"):
            return f"the exception goes to the guest kernel's handler and {emu}"
        if op == "cr8wr":
            return f"a CR8 write is a kernel-mode instruction and {emu}"
        if op == "ptemod":
            return f"the page-table store runs in the guest kernel, whose code this host's " \
                   f"KVM (kvm_pvm) emulates one instruction at a time, and {memvirt} " \
                   f"paging write-protects the page table"
    else:
        if op in ("syscall", "divzero"):
            return "the guest kernel runs natively under hardware virtualization"
        if op == "pgfault":
            return f"page faults are handled under {memvirt}"
        if op == "ptemod":
            return f"page-table stores are handled under {memvirt}"
    return ""


def _abs_note(run, op, engine):
    s = cycles_per_op(run, op, engine)
    if s is None or s["median"] <= 0:
        return ""
    return f" ({engine} {op} alone costs {fmt_cycles(s['median'])})"


def _native_differs(run, op):
    """What this run's native baseline of op measured, when that is not the operation
    A&A's native column timed (their ptemod native is a plain store to a PTE)."""
    what = run.note(f"what.{op}")
    if op == "ptemod" and what and "store" not in what:
        return what
    return None


def aa_vs_native(run, pub, engine, tech):
    """A&A's tech/native against this run's engine/native, per nanobenchmark."""
    rows = []
    for op in AA_OPS:
        p = aa_ratio(pub, op, tech)
        m, why = ratio_to_native(run, op, engine)
        pub_s = f"A&A: {'VT-x' if tech == 'vtx' else 'BT'} is {fmt_ratio(p)} native because " \
                f"{AA_WHY[(op, tech)]}" if p is not None else "no published figure"
        if m is None:
            rows.append(unmeasured(run, op, fmt_ratio(p), pub_s, engine,
                                   f"{why}{_abs_note(run, op, engine)}"))
            continue
        mech = mechanism(run, op, engine)
        other = _native_differs(run, op)
        if other:
            c = cycles_per_op(run, op, engine)["median"]
            rows.append(Row(op, fmt_ratio(p), "not comparable", None,
                            f"{pub_s}; here {engine} takes {fmt_cycles(c)} per page-table "
                            f"store ({fmt_ratio(m)} this run's native baseline, which is "
                            f"'{other}', a system call rather than A&A's plain store), so "
                            "the two ratios do not compare."))
            continue
        here = f"here {engine} is {fmt_ratio(m)} native" + (f" because {mech}" if mech else "")
        if p is None:
            rows.append(Row(op, "--", fmt_ratio(m), None, f"{here}."))
            continue
        holds = band(p) == band(m)
        verdict = f"so the shape holds ({band(m)} in both)" if holds else \
            f"so the shape does not hold ({band(p)} there, {band(m)} here)"
        rows.append(Row(op, fmt_ratio(p), fmt_ratio(m), holds, f"{pub_s}; {here}, {verdict}."))
    return rows


def aa_bt_vs_vtx(run, pub):
    rows = []
    for op in AA_OPS:
        b = pub.value(experiment="nanobench", workload=op, cpu="pentium4-672", engine="bt")
        v = pub.value(experiment="nanobench", workload=op, cpu="pentium4-672", engine="vtx")
        p = b / v if b and v else None
        mb, mh = cycles_per_op(run, op, "bt"), cycles_per_op(run, op, "hw")
        pub_s = f"A&A: BT/VT-x is {fmt_ratio(p)}, {winner(p)}" if p else "no published figure"
        if mb is None or mh is None or mb["median"] <= 0 or mh["median"] <= 0:
            on_host = [e for e in ("bt", "hw")
                       if (run.absence(e) or ("",))[0] == rundata.NOT_ON_HOST]
            if on_host:
                rows.append(Row(op, fmt_ratio(p), rundata.NOT_ON_HOST, None,
                                f"{pub_s}; {' and '.join(on_host)} "
                                f"{'were' if len(on_host) > 1 else 'was'} "
                                f"{rundata.NOT_ON_HOST} ({SEE_ENGINES})."))
                continue
            missing = [e for e, s in (("bt", mb), ("hw", mh)) if s is None]
            why = f"engine {' and '.join(missing)} not in this run" if missing else \
                "a non-positive median"
            rows.append(Row(op, fmt_ratio(p), "not measured", None,
                            f"{pub_s}; not measured here: {why}."))
            continue
        m = mb["median"] / mh["median"]
        holds = None if p is None else winner(p) == winner(m)
        here = f"here bt/hw is {fmt_ratio(m)}, {winner(m, 'bt', 'hw')}"
        if host_kind(run) == "cpl0-emulated" and m < FASTER and op in KERNEL_OPS:
            here += ", magnified because this host's KVM emulates the guest kernel code " \
                    "the operation runs"
        verdict = "" if holds is None else (", so the shape holds" if holds else
                                            ", so the shape does not hold")
        rows.append(Row(op, fmt_ratio(p), fmt_ratio(m), holds, f"{pub_s}; {here}{verdict}."))
    return rows


def _workload_median(run, w, engine):
    rows = [r for r in run.rows if (r["workload"] == w or r["experiment"] == w) and
            not r["params"].startswith("exit=") and r["metric"] != "exits"]
    if not rows:
        return None, None
    metric = rows[0]["metric"]
    v = [r["value"] for r in rows if r["engine"] == engine and r["metric"] == metric and
         math.isfinite(r["value"])]
    return (statistics.median(v) if v else None), metric


# forkwait rows of the A&A table: the published technique, this run's engine, and what
# the engine is beside A&A's (the peers run the same guest image under QEMU).
FORKWAIT_ENGINES = (
    ("vtx", "hw", ""),
    ("bt", "bt", ""),
    ("vtx", "qemu-kvm", "QEMU on this host's KVM: hw's hardware path with QEMU as the VMM"),
    ("bt", "qemu-tcg", "QEMU's TCG: a translator like VMware's BT, but for user code too"),
)


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
    n, metric = _workload_median(run, "forkwait", "native")
    e, _ = _workload_median(run, "forkwait", engine)
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
    return f"; a native fork+wait pair (a small host process) takes " \
           f"{fmt_cycles(c['median'])}{t} here"


def aa_forkwait(run, pub):
    rows = []
    pn = pub.value(experiment="forkwait", cpu="pentium4-672", engine="native")
    cn = pub.value(experiment="forkwait", cpu="core2", engine="native")
    native_note = _native_forkwait_note(run)
    for tech, engine, what in FORKWAIT_ENGINES:
        pt = pub.value(experiment="forkwait", cpu="pentium4-672", engine=tech)
        ct = pub.value(experiment="forkwait", cpu="core2", engine=tech)
        p = pt / pn if pt and pn else None
        pc = f" ({fmt_ratio(ct / cn)} on Core 2)" if ct and cn else ""
        name = "VT-x" if tech == "vtx" else "BT"
        pub_s = f"A&A: forkwait under {name} takes {fmt_ratio(p)} native time on the " \
                f"Pentium 4{pc}, dominated by page faults and page-table updates"
        label = f"{name} vs {engine}"
        m, how = forkwait_ratio(run, engine)
        if m is None:
            if engine.startswith("qemu-") and not run.select(engine=engine) and \
                    engine not in run.engine_cells():
                continue            # a peer the run did not ask for adds no row
            rows.append(unmeasured(run, label, fmt_ratio(p), pub_s, engine, how))
            continue
        holds = band(p) == band(m) if p else None
        mech = ""
        if engine in ("hw", "qemu-kvm") and host_kind(run) == "cpl0-emulated":
            mech = " because every fork, page fault and exit runs guest kernel code, which " \
                   "this host's KVM emulates"
        elif engine == "qemu-tcg" and m < FASTER:
            mech = " because the guest kernel's fork (xv6-sized, a few thousand " \
                   "instructions) translated by TCG is cheaper than Linux's fork natively"
        if what:
            mech += f" ({what})"
        verdict = "" if holds is None else (", so the shape holds" if holds else
                                            ", so the shape does not hold")
        rows.append(Row(label, fmt_ratio(p), fmt_ratio(m), holds,
                        f"{pub_s}; here {engine} takes {fmt_ratio(m)} native time ({how})"
                        f"{mech}{native_note}{verdict}."))
    return rows


def exit_cost(run, pub, agesen):
    """An exit's round trip in units of a native system call, then and here."""
    rt = pub.value(experiment="exitcost", workload="vm-entry", cpu="pentium4-672", engine="vtx")
    sc = pub.value(experiment="nanobench", workload="syscall", cpu="pentium4-672",
                   engine="native")
    p = rt / sc if rt and sc else None
    gens = ""
    if agesen:
        g = [(r["workload"], r["cpu"], r["value"]) for r in agesen.rows
             if r["workload"] == "vtx-round-trip"]
        if g:
            gens = f"; Agesen et al. 2012 trace the VT-x round trip from {g[0][2]:,.0f} " \
                   f"cycles ({g[0][1]}) to {g[-1][2]:,.0f} ({g[-1][1]})"
    pub_s = f"A&A: a VT-x exit and re-entry cost {rt:,.0f} cycles on the Pentium 4, " \
            f"{fmt_ratio(p)} a native system call{gens}" if p else "no published figure"
    ex = io_exit_us(run)
    nat = cycles_per_op(run, "syscall", "native")
    hz = run.tsc_hz()
    if ex is None or nat is None or not hz or nat["median"] <= 0:
        why = "no I/O exit statistics for hw" if ex is None else \
            ("no native syscall baseline" if nat is None else "no TSC frequency in the context")
        return [unmeasured(run, "exit round trip / native syscall", fmt_ratio(p), pub_s,
                           "hw", why)]
    cyc = ex[0] * 1e-6 * hz
    m = cyc / nat["median"]
    holds = band(p) == band(m) if p else None
    kind = host_kind(run)
    why = "an exit here returns from KVM_RUN to hvm in user space and, on this nested " \
          "host (kvm_pvm), crosses the outer hypervisor too" if kind == "cpl0-emulated" else \
          "an exit here returns from KVM_RUN to hvm in user space, which A&A's in-VMM " \
          "round trip did not"
    return [Row("exit round trip / native syscall", fmt_ratio(p), fmt_ratio(m), holds,
                f"{pub_s}; here the most frequent port exit ({ex[2]}, {ex[1]:,} exits) "
                f"takes {ex[0]:.1f} us = {cyc:,.0f} cycles, {fmt_ratio(m)} a native system "
                f"call, because {why}" +
                ("" if holds is None else (", so the shape holds" if holds else
                                           ", so the shape does not hold")) + ".")]


BARHAM = (("null-call", "syscall"), ("page-fault", "pgfault"), ("fork", "forkwait"),
          ("ctxsw-2p-0k", "ctxswitch"))


def barham(run, pub):
    rows = []
    pv_rows = [r for r in run.rows if r.get("flavour") == "pv"]
    for lm, ours in BARHAM:
        x = pub.value(experiment="lmbench", workload=lm, engine="xen")
        n = pub.value(experiment="lmbench", workload=lm, engine="native")
        w = pub.value(experiment="lmbench", workload=lm, engine="vmware-ws")
        p = x / n if x and n else None
        pub_s = f"Barham et al.: lmbench {lm} under Xen is {fmt_ratio(p)} native " \
                f"(VMware Workstation {fmt_ratio(w / n if w and n else None)}), because the " \
                "paravirtualized guest calls the hypervisor instead of trapping"
        if not pv_rows:
            rows.append(Row(f"{lm} ({ours})", fmt_ratio(p), "not measured", None,
                            f"{pub_s}; not measured here: no run of the pv guest flavour "
                            f"in this run ({ours} under flavour pv)."))
            continue
        e = [r["value"] for r in pv_rows if r["workload"] == ours and
             r["metric"] in ("cycles_per_op",) and math.isfinite(r["value"])]
        nat = cycles_per_op(run, ours, "native")
        if not e or nat is None or nat["median"] <= 0:
            rows.append(Row(f"{lm} ({ours})", fmt_ratio(p), "not measured", None,
                            f"{pub_s}; not measured here: no pv {ours} with a native "
                            "baseline."))
            continue
        m = statistics.median(e) / nat["median"]
        holds = band(p) == band(m) if p else None
        rows.append(Row(f"{lm} ({ours})", fmt_ratio(p), fmt_ratio(m), holds,
                        f"{pub_s}; here the pv flavour is {fmt_ratio(m)} native" +
                        ("" if holds is None else (", so the shape holds" if holds else
                                                   ", so the shape does not hold")) + "."))
    return rows


def hqemu(run, pub):
    rows = []
    for wl, ours in (("spec2006-int", "compute"),):
        p = pub.value(experiment="bt-peers", workload=wl, engine="qemu-tcg")
        pub_s = f"Hong et al.: QEMU TCG runs SPEC CPU2006 integer {fmt_ratio(p)} slower " \
                "than native, translating every guest block with a generic code generator"
        n, metric = _workload_median(run, ours, "native")
        e, _ = _workload_median(run, ours, "qemu-tcg")
        if e is None or n is None or n <= 0:
            why = f"no {ours} samples for qemu-tcg and native in this run"
            rows.append(unmeasured(run, f"{wl} vs {ours}", fmt_ratio(p), pub_s, "qemu-tcg",
                                   why))
            continue
        m = e / n
        holds = band(p) == band(m) if p else None
        rows.append(Row(f"{wl} vs {ours}", fmt_ratio(p), fmt_ratio(m), holds,
                        f"{pub_s}; here qemu-tcg takes {fmt_ratio(m)} native on {ours} "
                        f"({metric}), a smaller program than SPEC" +
                        ("" if holds is None else (", so the shape holds" if holds else
                                                   ", so the shape does not hold")) + "."))
    return rows


def all_tables(run, published):
    aa = published.get("adams-agesen-2006")
    out = []
    if aa:
        src = aa.citation
        out.append(Table("hw vs VT-x", "Adams and Agesen 2006: first-generation VT-x and the hw "
                         "engine, ratio to native", src, "VT-x/native (P4)", "hw/native (here)",
                         aa_vs_native(run, aa, "hw", "vtx")))
        out.append(Table("bt vs BT", "Adams and Agesen 2006: VMware's BT and hvlab's bt engine, "
                         "ratio to native", src, "BT/native (P4)", "bt/native (here)",
                         aa_vs_native(run, aa, "bt", "bt")))
        out.append(Table("BT vs VT-x", "Adams and Agesen 2006: software against hardware "
                         "(below 1, BT is faster)", src, "BT/VT-x (P4)", "bt/hw (here)",
                         aa_bt_vs_vtx(run, aa)))
        out.append(Table("forkwait", "Adams and Agesen 2006: forkwait, ratio to native",
                         src, "published", "measured", aa_forkwait(run, aa)))
        out.append(Table("exit cost", "Exit cost in native system calls", src +
                         (" " + published["agesen-2012"].citation
                          if "agesen-2012" in published else ""),
                         "P4 VT-x", "hw (here)", exit_cost(run, aa, published.get("agesen-2012"))))
    if "barham-2003" in published:
        out.append(Table("pv vs Xen", "Barham et al. 2003: paravirtualization (Xen), ratio to "
                         "native", published["barham-2003"].citation, "Xen/native",
                         "pv/native (here)", barham(run, published["barham-2003"])))
    if "hqemu-2012" in published:
        out.append(Table("QEMU TCG", "QEMU's translator against native",
                         published["hqemu-2012"].citation, "QEMU TCG/native",
                         "qemu-tcg/native (here)", hqemu(run, published["hqemu-2012"])))
    return out


COMPARED = ("adams-agesen-2006", "agesen-2012", "barham-2003", "hqemu-2012")


def closing(run, tables):
    """Sentences for the closing note: what holds, what does not, and why."""
    held, failed, not_measured = [], [], []
    for t in tables:
        for r in t.rows:
            tag = f"{r.label} ({t.key})"
            if r.holds is True:
                held.append(tag)
            elif r.holds is False:
                failed.append(tag)
            else:
                not_measured.append(tag)
    out = []
    n = len(held) + len(failed)
    if n == 0:
        out.append("No published shape could be checked: this run measured none of the "
                   "compared quantities.")
    else:
        out.append(f"Of the {n} published shapes this run could check, {len(held)} hold "
                   f"here: {', '.join(held) or 'none'}; {len(failed)} do not: "
                   f"{', '.join(failed) or 'none'}.")
    kernel_ops = [op for op in ("syscall", "pgfault", "divzero")
                  if ratio_to_native(run, op, "hw")[0] is not None]
    if host_kind(run) == "cpl0-emulated" and kernel_ops:
        rs = [ratio_to_native(run, op, "hw")[0] for op in kernel_ops]
        out.append(f"Why: this host's KVM is kvm_pvm, which runs guest user-mode code "
                   f"natively but emulates guest kernel code one instruction at a time, so "
                   f"every operation that enters the guest kernel ({', '.join(kernel_ops)}) "
                   f"costs {fmt_ratio(min(rs))} to {fmt_ratio(max(rs))} native here, where "
                   f"first-generation VT-x ran the guest kernel natively and paid only for "
                   f"exits; operations that stay in user mode (callret) keep A&A's shape.")
    elif kernel_ops:
        out.append("On this host the guest kernel runs under hardware virtualization, so "
                   "the shapes that differ from A&A reflect twenty years of cheaper exits and "
                   "nested paging.")
    ex = io_exit_us(run)
    if ex:
        out.append(f"An exit to the VMM costs {ex[0]:.1f} us here (median round trip of "
                   f"{ex[1]:,} {ex[2]} exits).")
    on_host = [(e, why) for e, label, why in run.absent_engines()
               if label == rundata.NOT_ON_HOST]
    if on_host:
        out.append(f"Not measured on this host: {', '.join(e for e, _ in on_host)} "
                   "(" + "; ".join(f"{e}: {why}" for e, why in on_host) + "); these "
                   "engines are absent from the figures, and the rows that need them say so.")
    if not_measured:
        engines = [e for e in ("hw", "bt", "qemu-tcg", "qemu-kvm") if not run.has_engine(e)
                   and e not in dict(on_host)]
        extra = f" (engines absent from this run: {', '.join(engines)})" if engines else ""
        out.append(f"Not measured in this run: {len(not_measured)} comparisons{extra}; "
                   "their rows say what is missing.")
    return out


def engine_notes(run, engine, key):
    """The value of note key in every program run of engine in this run: the run's own
    notes, or each matrix cell's (merged as CELL.key) whose engine note is engine."""
    out = []
    if run.notes.get("engine") == engine and key in run.notes:
        out.append(run.notes[key])
    for k, v in run.notes.items():
        cell, _, rest = k.partition(".")
        if rest == key and run.notes.get(f"{cell}.engine") == engine:
            out.append(v)
    return out


def _num_notes(run, engine, key):
    return [v for v in engine_notes(run, engine, key)
            if isinstance(v, (int, float)) and math.isfinite(v)]


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


def peer_cycles_notes(run, engine="qemu-tcg"):
    """(label, sentence) pairs on how to read the engine's nanobenchmark cycles, each
    label saying whether the sentence was measured in this run, measured once
    elsewhere, read from QEMU's source, or a hypothesis. Empty when the run holds no
    nanobenchmarks of the engine."""
    if not run.select(experiment="nanobench", engine=engine, metric="cycles_per_op"):
        return []
    out = []
    ratios = _num_notes(run, engine, "guest_tsc_vs_host_clock")
    spans = _num_notes(run, engine, "host_clock_span_s")
    khz = _num_notes(run, engine, "guest_tsc_khz")
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
