"""Barham et al. 2003 (Xen) beside a run: lmbench's null call, page fault, fork and
context switch under Xen against hvlab's pv guest flavour, each as a ratio to native.
The pv flavour is not built yet, so every row says what is missing."""
import math
import statistics

from hvtools.compare import (DIFFERENT_KERNELS, MEASURED, PAPER, PUBLISHED, Row, Table,
                             fmt_ratio, kernel_parts, no_verdict, verdict_part)
from hvtools.rundata import cycles_per_op
from hvtools.verdict import VS_NATIVE, judge

BARHAM_SHORT = "Barham et al. 2003"
BARHAM_CITE = "Barham et al. 2003, the virtual machine interface's handling of exceptions; " \
              "section and page not confirmed"

# Nanobenchmarks whose path runs guest kernel code.

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
                            no_verdict("no pv guest in this run"),
                            pub_parts + [(MEASURED, f"not measured here: no run of the pv "
                                                    f"guest flavour in this run ({ours} "
                                                    "under flavour pv)")], source=src))
            continue
        e = [r["value"] for r in pv_rows if r["workload"] == ours and
             r["metric"] in ("cycles_per_op",) and math.isfinite(r["value"])]
        nat = cycles_per_op(run, ours, "native")
        if not e or nat is None or nat["median"] <= 0:
            rows.append(Row(label, fmt_ratio(p), "not measured",
                            no_verdict(f"no pv {ours} with a native baseline"),
                            pub_parts + [(MEASURED, f"not measured here: no pv {ours} with "
                                                    "a native baseline")], source=src))
            continue
        m = statistics.median(e) / nat["median"]
        v = judge(p, m, VS_NATIVE)
        kp = kernel_parts(run, ours)
        rows.append(Row(label, fmt_ratio(p), fmt_ratio(m), v,
                        pub_parts + [(MEASURED, f"the pv flavour is {fmt_ratio(m)} native "
                                                "here"), verdict_part(v)] + kp,
                        tag=DIFFERENT_KERNELS if kp else "", source=src))
    return rows


def tables(run, exp):
    pub = exp.published.get("barham-2003")
    if not pub:
        return []
    return [Table("pv vs Xen", "Barham et al. 2003: paravirtualization (Xen), ratio to "
                  "native", pub.citation, "Xen/native", "pv/native (here)", barham(run, pub),
                  VS_NATIVE, [f"{BARHAM_SHORT}: {BARHAM_CITE}"])]
