"""Published comparisons beside a run's measurements: per row the published ratio, the
measured ratio, the factor between them, the verdict (verdict.py: a direction and a
magnitude, each of which can fail), and a sentence built in labelled parts:

    Published   the published figure and where in the paper it is (the CSV's source)
    Measured    this run's figure
    Verdict     what verdict.judge() found, or why there is none
    Different kernels   where native ran Linux's kernel and the guest hvlab's: the ratio
                is not a virtualization overhead alone (with the guest kernel's own
                instruction count per operation when the bt engine counted it)
    Paper's explanation   a mechanism the paper gives, cited
    Hypothesis, not measured in this run   any other mechanism

Nothing else states a mechanism: a comparing sentence comes from a measured or a
published value."""
import math
import statistics

from . import rundata, verdict
from .rundata import AA_OPS, aa_ratio, cycles_per_op, guest_insns, ratio_to_native
from .verdict import FASTER, SW_VS_HW, VS_NATIVE, band, fmt_factor, judge, winner  # noqa: F401

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

BARHAM_SHORT = "Barham et al. 2003"
BARHAM_CITE = "Barham et al. 2003, the virtual machine interface's handling of exceptions; " \
              "section and page not confirmed"

# Nanobenchmarks whose path runs guest kernel code.
KERNEL_OPS = ("syscall", "cr8wr", "pgfault", "divzero", "ptemod")

# Quantities whose native baseline runs Linux's kernel while the guest runs hvlab's:
# what the native side does (the run's what.OP note, when present, says it exactly).
NATIVE_KERNEL_PATH = {
    "syscall": "Linux's getppid system call",
    "pgfault": "Linux's page-fault handler (a first write to a fresh anonymous page)",
    "divzero": "Linux's SIGFPE delivery to a handler and the signal return",
    "forkwait": "Linux's fork and wait, from a small host process",
    "ctxswitch": "Linux's process switch",
}
DIFFERENT_KERNELS = "different kernels"

# Labels of a row's parts.
PUBLISHED, MEASURED, VERDICT = "Published", "Measured", "Verdict"
PAPER = "Paper's explanation"
HYPOTHESIS = "Hypothesis, not measured in this run"


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


def fmt_insns(n):
    return f"{n:,.0f}" if n >= 10 else f"{n:.1f}"


class Row:
    """One comparison: label, the published and measured figures as text, the verdict
    (verdict.Verdict), a tag shown under the label (e.g. "different kernels"), and the
    labelled parts of its sentence [(label, text)]."""

    def __init__(self, label, published, measured, v, parts, tag="", source=None):
        self.label, self.published, self.measured = label, published, measured
        self.verdict, self.parts, self.tag = v, parts, tag
        self.source = source               # where the published figure is (the CSV's)

    @property
    def holds(self):
        return self.verdict.holds          # True, False or None

    @property
    def factor(self):
        return fmt_factor(self.verdict.factor)

    @property
    def sentence(self):
        src = f" Source: {self.source}." if self.source else ""
        return " ".join(f"{k}: {t}." for k, t in self.parts) + src


def table_sources(rows):
    """The distinct sources of a table's rows, in order: printed once with the table."""
    out = []
    for r in rows:
        if r.source and r.source not in out:
            out.append(r.source)
    return out


class Table:
    def __init__(self, key, title, source, pub_head, meas_head, rows, rule=None,
                 explained=()):
        # key: a short name of the comparison, used in the closing note; source: the
        # citation; explained: where the paper's explanations in the rows are
        self.key, self.title, self.source = key, title, source
        self.pub_head, self.meas_head, self.rows = pub_head, meas_head, rows
        self.rule, self.explained = rule, list(explained)


def host_kind(run):
    """How this run's KVM ran guest kernel code: "cpl0-emulated" (kvm_pvm), "hardware",
    or "none" when the host had no usable KVM (a kvm_pvm module may still be loaded)."""
    kvm = run.context.get("kvm") if isinstance(run.context.get("kvm"), dict) else {}
    if kvm.get("usable") is False or kvm.get("present") is False:
        return "none"
    return "cpl0-emulated" if kvm.get("flavour") == "kvm_pvm" else "hardware"


# Where the report says why an engine was not measured on this host (once, not per row).
SEE_ENGINES = "the Engines section says why"


def _no_verdict(why):
    return verdict.Verdict(verdict.NOT_MEASURED, None, why)


def unmeasured(run, label, published, pub_parts, engine, why, source=None):
    """The row of a comparison this run cannot make. When the run holds no samples of
    engine at all, the row says so: NOT_ON_HOST when the host could not run it (the
    reason is given once, in the report's Engines section), else "not measured" and
    why; otherwise "not measured" with why."""
    absent = run.absence(engine) if engine else None
    if absent and absent[0] == rundata.NOT_ON_HOST:
        return Row(label, published, rundata.NOT_ON_HOST,
                   _no_verdict(f"{engine} was {rundata.NOT_ON_HOST}"),
                   pub_parts + [(MEASURED, f"{engine} was {rundata.NOT_ON_HOST} "
                                           f"({SEE_ENGINES})")], source=source)
    if absent:
        return Row(label, published, absent[0], _no_verdict(absent[1]),
                   pub_parts + [(MEASURED, f"not measured here: {absent[1]}")], source=source)
    return Row(label, published, "not measured", _no_verdict(why),
               pub_parts + [(MEASURED, f"not measured here: {why}")], source=source)


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


def hypothesis(run, op, engine):
    """A mechanism for how this run's engine does the operation, which the run itself
    did not measure (hv-minimal/README.md and engines/bt/README.md describe them), or
    "" when there is none to offer."""
    if engine == "bt":
        return "the translator runs guest code from its code cache and calls out to C " \
               "for privileged work (engines/bt/README.md)"
    if engine != "hw":
        return ""
    kind = host_kind(run)
    gate = run.note("sysgate")
    if op == "callret":
        return "user-mode code runs without exits under the hw engine"
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


def _abs_note(run, op, engine):
    s = cycles_per_op(run, op, engine)
    if s is None or s["median"] <= 0:
        return ""
    return f" ({engine} {op} alone costs {fmt_cycles(s['median'])})"


def native_differs(run, op):
    """What this run's native baseline of op measured, when that is not the operation
    A&A's native column timed: their ptemod native is a plain store to a PTE, hvlab's
    an mprotect call (the run's what.ptemod note says which)."""
    if op != "ptemod":
        return None
    what = run.note("what.ptemod")
    if what and "store" in what and "mprotect" not in what:
        return None
    return what or "mprotect of one page (a system call)"


def kernel_parts(run, op):
    """The "different kernels" part of a row whose native baseline runs Linux's kernel,
    with the guest kernel's instruction count per operation when the run has it; []
    for an operation that stays out of the kernel natively."""
    if op not in NATIVE_KERNEL_PATH:
        return []
    what = run.note(f"what.{op}")
    native = f"'{what}' in Linux's kernel" if what else NATIVE_KERNEL_PATH[op]
    text = f"native ran {native}, the guest hvlab's own kernel, so the ratio is not a " \
           "virtualization overhead alone"
    n = guest_insns(run, op, "kernel")
    if n is not None:
        u = guest_insns(run, op, "user")
        utxt = f", and {fmt_insns(u)} user-mode ones against its harness" \
            if u is not None else ""
        text += f"; hvlab's kernel executes {fmt_insns(n)} instructions per operation" \
                f"{utxt} (counted by the bt engine, nanobench icount=1)"
    return [(DIFFERENT_KERNELS.capitalize(), text)]


def _verdict_part(v):
    return (VERDICT, v.text)


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
                                   f"{why}{_abs_note(run, op, engine)}", source=src))
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
                _verdict_part(v)], source=src))
            continue
        v = judge(p, m, VS_NATIVE)
        parts = pub_parts + [(MEASURED, f"{engine} is {fmt_ratio(m)} native here"),
                             _verdict_part(v)]
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
        mb, mh = cycles_per_op(run, op, "bt"), cycles_per_op(run, op, "hw")
        src = pub.source(experiment="nanobench", workload=op, engine="bt") or pub.citation
        pub_parts = [(PUBLISHED, f"A&A's BT/VT-x is {fmt_ratio(p)}, {winner(p)}")
                     if p else (PUBLISHED, "no published figure")]
        if mb is None or mh is None or mb["median"] <= 0 or mh["median"] <= 0:
            on_host = [e for e in ("bt", "hw")
                       if (run.absence(e) or ("",))[0] == rundata.NOT_ON_HOST]
            if on_host:
                rows.append(Row(op, fmt_ratio(p), rundata.NOT_ON_HOST,
                                _no_verdict(f"{' and '.join(on_host)} not measured"),
                                pub_parts + [(MEASURED, f"{' and '.join(on_host)} "
                                              f"{'were' if len(on_host) > 1 else 'was'} "
                                              f"{rundata.NOT_ON_HOST} ({SEE_ENGINES})")],
                                source=src))
                continue
            missing = [e for e, s in (("bt", mb), ("hw", mh)) if s is None]
            why = f"engine {' and '.join(missing)} not in this run" if missing else \
                "a non-positive median"
            rows.append(Row(op, fmt_ratio(p), "not measured", _no_verdict(why),
                            pub_parts + [(MEASURED, f"not measured here: {why}")], source=src))
            continue
        m = mb["median"] / mh["median"]
        v = judge(p, m, SW_VS_HW)
        parts = pub_parts + [(MEASURED, f"bt/hw is {fmt_ratio(m)} here, "
                                        f"{winner(m, 'bt', 'hw')}; both run hvlab's kernel"),
                             _verdict_part(v)]
        if host_kind(run) == "cpl0-emulated" and op in KERNEL_OPS:
            parts.append((HYPOTHESIS, "hw's figure includes this host's KVM (kvm_pvm) "
                                      "emulating the guest kernel code the operation runs "
                                      "(hv-minimal/README.md)"))
        rows.append(Row(op, fmt_ratio(p), fmt_ratio(m), v, parts, source=src))
    return rows


def _workload_median(run, w, engine):
    rows = [r for r in run.rows if (r["workload"] == w or r["experiment"] == w) and
            r["experiment"] != "counters" and             # the engine's own counters
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
            if engine.startswith("qemu-") and not run.select(engine=engine) and \
                    engine not in run.engine_cells():
                continue            # a peer the run did not ask for adds no row
            rows.append(unmeasured(run, label, fmt_ratio(p), pub_parts, engine, how,
                                   source=src))
            continue
        v = judge(p, m, VS_NATIVE)
        parts = pub_parts + [(MEASURED, f"{engine} takes {fmt_ratio(m)} native time "
                                        f"({how}){native_note}" +
                              (f"; {engine} is {what}" if what else "")),
                             _verdict_part(v)] + kernel_parts(run, "forkwait")
        if engine in ("hw", "qemu-kvm") and host_kind(run) == "cpl0-emulated":
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
    exu = io_exit_us(run)
    nat = cycles_per_op(run, "syscall", "native")
    hz = run.tsc_hz()
    if exu is None or nat is None or not hz or nat["median"] <= 0:
        why = "no I/O exit statistics for hw" if exu is None else \
            ("no native syscall baseline" if nat is None else "no TSC frequency in the context")
        return [unmeasured(run, label, fmt_ratio(p), pub_parts, "hw", why, source=src)]
    cyc = exu[0] * 1e-6 * hz
    m = cyc / nat["median"]
    v = judge(p, m, VS_NATIVE)
    kind = host_kind(run)
    parts = pub_parts + [
        (MEASURED, f"the most frequent port exit ({exu[2]}, {exu[1]:,} exits) takes "
                   f"{exu[0]:.1f} us = {cyc:,.0f} cycles, {fmt_ratio(m)} a native system "
                   "call; it is measured from the exit back into the guest, through hvm in "
                   "user space, where A&A's figures are the hardware transitions alone"),
        _verdict_part(v)]
    if kind == "cpl0-emulated":
        parts.append((HYPOTHESIS, "on this nested host (kvm_pvm) an exit also crosses the "
                                  "outer hypervisor"))
    return [Row(label, fmt_ratio(p), fmt_ratio(m), v, parts, source=src)]


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
        src = pub.source(experiment="lmbench", workload=lm, engine="xen") or pub.citation
        pub_parts = [(PUBLISHED, f"Barham et al. measured lmbench {lm} under Xen at "
                                 f"{fmt_ratio(p)} native, VMware Workstation at "
                                 f"{fmt_ratio(w / n if w and n else None)}")]
        if lm == "null-call":
            pub_parts.append((f"{PAPER} ({BARHAM_SHORT})",
                              "a guest registers a fast handler for system calls, which the "
                              "processor enters directly: the call goes to the guest's own "
                              "handler without entering Xen"))
        label = f"{lm} ({ours})"
        if not pv_rows:
            rows.append(Row(label, fmt_ratio(p), "not measured",
                            _no_verdict("no pv guest in this run"),
                            pub_parts + [(MEASURED, f"not measured here: no run of the pv "
                                                    f"guest flavour in this run ({ours} "
                                                    "under flavour pv)")], source=src))
            continue
        e = [r["value"] for r in pv_rows if r["workload"] == ours and
             r["metric"] in ("cycles_per_op",) and math.isfinite(r["value"])]
        nat = cycles_per_op(run, ours, "native")
        if not e or nat is None or nat["median"] <= 0:
            rows.append(Row(label, fmt_ratio(p), "not measured",
                            _no_verdict(f"no pv {ours} with a native baseline"),
                            pub_parts + [(MEASURED, f"not measured here: no pv {ours} with "
                                                    "a native baseline")], source=src))
            continue
        m = statistics.median(e) / nat["median"]
        v = judge(p, m, VS_NATIVE)
        kp = kernel_parts(run, ours)
        rows.append(Row(label, fmt_ratio(p), fmt_ratio(m), v,
                        pub_parts + [(MEASURED, f"the pv flavour is {fmt_ratio(m)} native "
                                                "here"), _verdict_part(v)] + kp,
                        tag=DIFFERENT_KERNELS if kp else "", source=src))
    return rows


def hqemu(run, pub):
    rows = []
    for wl, ours in (("spec2006-int", "compute"),):
        p = pub.value(experiment="bt-peers", workload=wl, engine="qemu-tcg")
        src = pub.source(experiment="bt-peers", workload=wl, engine="qemu-tcg") or \
            pub.citation
        pub_parts = [(PUBLISHED, f"Hong et al. measured QEMU TCG running SPEC CPU2006 "
                                 f"integer at {fmt_ratio(p)} native time")]
        n, metric = _workload_median(run, ours, "native")
        e, _ = _workload_median(run, ours, "qemu-tcg")
        label = f"{wl} vs {ours}"
        if e is None or n is None or n <= 0:
            why = f"no {ours} samples for qemu-tcg and native in this run"
            rows.append(unmeasured(run, label, fmt_ratio(p), pub_parts, "qemu-tcg", why,
                                   source=src))
            continue
        m = e / n
        v = judge(p, m, VS_NATIVE)
        rows.append(Row(label, fmt_ratio(p), fmt_ratio(m), v, pub_parts + [
            (MEASURED, f"qemu-tcg takes {fmt_ratio(m)} native time on {ours} ({metric}), "
                       "one small integer program where SPEC's are many larger ones"),
            _verdict_part(v)], tag="different programs", source=src))
    return rows


def all_tables(run, published):
    aa = published.get("adams-agesen-2006")
    out = []
    if aa:
        src = aa.citation
        out.append(Table("hw vs VT-x", "Adams and Agesen 2006: first-generation VT-x and the hw "
                         "engine, ratio to native", src, "VT-x/native (P4)", "hw/native (here)",
                         aa_vs_native(run, aa, "hw", "vtx"), VS_NATIVE,
                         [f"{AA_SHORT}: {AA_CITE}"]))
        out.append(Table("bt vs BT", "Adams and Agesen 2006: VMware's BT and hvlab's bt engine, "
                         "ratio to native", src, "BT/native (P4)", "bt/native (here)",
                         aa_vs_native(run, aa, "bt", "bt"), VS_NATIVE,
                         [f"{AA_SHORT}: {AA_CITE}"]))
        out.append(Table("BT vs VT-x", "Adams and Agesen 2006: software against hardware "
                         "(below 1, BT is faster)", src, "BT/VT-x (P4)", "bt/hw (here)",
                         aa_bt_vs_vtx(run, aa), SW_VS_HW))
        out.append(Table("forkwait", "Adams and Agesen 2006: forkwait, ratio to native",
                         src, "published", "measured", aa_forkwait(run, aa), VS_NATIVE))
        out.append(Table("exit cost", "Exit cost in native system calls", src +
                         (" " + published["agesen-2012"].citation
                          if "agesen-2012" in published else ""),
                         "P4 VT-x", "hw (here)",
                         exit_cost(run, aa, published.get("agesen-2012")), VS_NATIVE))
    if "barham-2003" in published:
        out.append(Table("pv vs Xen", "Barham et al. 2003: paravirtualization (Xen), ratio to "
                         "native", published["barham-2003"].citation, "Xen/native",
                         "pv/native (here)", barham(run, published["barham-2003"]), VS_NATIVE,
                         [f"{BARHAM_SHORT}: {BARHAM_CITE}"]))
    if "hqemu-2012" in published:
        out.append(Table("QEMU TCG", "QEMU's translator against native",
                         published["hqemu-2012"].citation, "QEMU TCG/native",
                         "qemu-tcg/native (here)", hqemu(run, published["hqemu-2012"]),
                         VS_NATIVE))
    return out


COMPARED = ("adams-agesen-2006", "agesen-2012", "barham-2003", "hqemu-2012")


def _tags(rows):
    return ", ".join(rows) or "none"


def closing(run, tables):
    """Sentences for the closing note, each from the verdicts of the rows above or from a
    measured value; a mechanism only as a labelled hypothesis."""
    by = {k: [] for k in (verdict.HOLDS, verdict.MAGNITUDE_FAILS, verdict.DIRECTION_FAILS,
                          verdict.NOT_COMPARABLE, verdict.NOT_MEASURED)}
    tagged = []
    for t in tables:
        for r in t.rows:
            tag = f"{r.label} ({t.key})"
            by[r.verdict.kind].append(tag)
            if r.tag and r.holds is not None:
                tagged.append(f"{tag}: {r.tag}")
    out = []
    judged = len(by[verdict.HOLDS]) + len(by[verdict.MAGNITUDE_FAILS]) + \
        len(by[verdict.DIRECTION_FAILS])
    if judged == 0:
        out.append("No published shape could be checked: this run measured none of the "
                   "compared quantities.")
    else:
        out.append(f"Of the {judged} published shapes this run could check (a direction and "
                   f"a magnitude within a factor of {verdict.MAGNITUDE:g} each), "
                   f"{len(by[verdict.HOLDS])} hold: {_tags(by[verdict.HOLDS])}; "
                   f"{len(by[verdict.MAGNITUDE_FAILS])} keep the direction but not the "
                   f"magnitude: {_tags(by[verdict.MAGNITUDE_FAILS])}; "
                   f"{len(by[verdict.DIRECTION_FAILS])} do not hold: "
                   f"{_tags(by[verdict.DIRECTION_FAILS])}.")
    if tagged:
        out.append(f"Of these, {len(tagged)} compare unlike things and say so in their rows "
                   f"({'; '.join(tagged)}). Different kernels: native ran Linux's kernel and "
                   "the guest hvlab's, so the ratio is not a virtualization overhead alone; "
                   "different programs: the published benchmark and hvlab's workload are "
                   "not the same program.")
    if by[verdict.NOT_COMPARABLE]:
        out.append(f"Not comparable, so not judged: {_tags(by[verdict.NOT_COMPARABLE])} (the "
                   "native baseline measured another operation than the paper's).")
    kernel_ops = [(op, ratio_to_native(run, op, "hw")[0])
                  for op in ("syscall", "pgfault", "divzero")]
    kernel_ops = [(op, r) for op, r in kernel_ops if r is not None]
    if host_kind(run) == "cpl0-emulated" and kernel_ops:
        rs = [r for _, r in kernel_ops]
        out.append(f"{HYPOTHESIS}: the operations that enter the guest kernel "
                   f"({', '.join(op for op, _ in kernel_ops)}) cost {fmt_ratio(min(rs))} to "
                   f"{fmt_ratio(max(rs))} native under hw here because this host's KVM is "
                   "kvm_pvm, which emulates guest kernel code one instruction at a time "
                   "(hv-minimal/README.md), where first-generation VT-x ran it natively.")
    callret = [r for t in tables if t.key == "hw vs VT-x" for r in t.rows
               if r.label == "callret" and r.holds is not None]
    if callret:
        r = callret[0]
        out.append(f"callret, which stays in user mode, is {r.measured} native under hw "
                   f"against VT-x's {r.published}: "
                   f"{'its shape holds' if r.holds else 'its shape does not hold'}.")
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
    if by[verdict.NOT_MEASURED]:
        engines = [e for e in ("hw", "bt", "qemu-tcg", "qemu-kvm") if not run.has_engine(e)
                   and e not in dict(on_host)]
        extra = f" (engines absent from this run: {', '.join(engines)})" if engines else ""
        out.append(f"Not measured in this run: {len(by[verdict.NOT_MEASURED])} comparisons"
                   f"{extra}; their rows say what is missing.")
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
