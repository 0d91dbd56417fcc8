"""HQEMU 2012 beside a run: QEMU's translator against native on SPEC CPU2006 integer
there, on hvlab's compute workload here (one small integer program, so the rows say
"different programs"). The engine set beside QEMU's TCG is experiment.json's."""
import json
import os

from hvtools.compare import (MEASURED, PUBLISHED, Row, Table, fmt_ratio, unmeasured,
                             verdict_part, workload_median)
from hvtools.verdict import VS_NATIVE, judge

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "experiment.json"), encoding="utf-8") as _f:
    TCG = json.load(_f)["engines"]["tcg"]


def hqemu(run, pub, engine):
    rows = []
    for wl, ours in (("spec2006-int", "compute"),):
        p = pub.value(experiment="bt-peers", workload=wl, engine="qemu-tcg")   # the paper's
        src = pub.source(experiment="bt-peers", workload=wl, engine="qemu-tcg") or \
            pub.citation
        pub_parts = [(PUBLISHED, f"Hong et al. measured QEMU TCG running SPEC CPU2006 "
                                 f"integer at {fmt_ratio(p)} native time")]
        n, metric = workload_median(run, ours, "native")
        e, _ = workload_median(run, ours, engine)
        label = f"{wl} vs {ours}"
        if e is None or n is None or n <= 0:
            why = f"no {ours} samples for {engine} and native in this run"
            rows.append(unmeasured(run, label, fmt_ratio(p), pub_parts, engine, why,
                                   source=src))
            continue
        m = e / n
        v = judge(p, m, VS_NATIVE)
        rows.append(Row(label, fmt_ratio(p), fmt_ratio(m), v, pub_parts + [
            (MEASURED, f"{engine} takes {fmt_ratio(m)} native time on {ours} ({metric}), "
                       "one small integer program where SPEC's are many larger ones"),
            verdict_part(v)], tag="different programs", source=src))
    return rows


def tables(run, exp):
    pub = exp.published.get("hqemu-2012")
    if not pub:
        return []
    return [Table("QEMU TCG", "QEMU's translator against native", pub.citation,
                  "QEMU TCG/native", f"{TCG}/native (here)", hqemu(run, pub, TCG), VS_NATIVE)]
