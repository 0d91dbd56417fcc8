#!/usr/bin/env python3
"""The nested test bed's table: for each run directory that scripts/nested.sh brought
back (ENGINE-WORKLOAD), the checksum, the memory virtualization hvm recorded and KVM's
own counters (exits, pf_taken, pf_guest, invlpg, tlb_flush, mmu_*).

    tests/nested/table.py OUT_DIR [OUT_DIR...]      one column set per directory
"""
import csv
import os
import sys

COUNTERS = ("kvm_exits", "kvm_pf_taken", "kvm_pf_guest", "kvm_pf_fixed", "kvm_invlpg",
            "kvm_tlb_flush", "kvm_vm_mmu_pte_write", "kvm_vm_mmu_shadow_zapped",
            "kvm_vm_mmu_flooded", "kvm_vm_mmu_cache_miss")


def read_run(d):
    """{checksum, memvirt, counters: {name: value}} of one run directory, or None."""
    try:
        with open(os.path.join(d, "samples.csv"), encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return None
    sums = sorted({r["value"] for r in rows if r["metric"] == "checksum"
                   and r["engine"] != "native"})
    mv = sorted({r["memvirt"] for r in rows if r["engine"] != "native"})
    counters = {r["metric"]: float(r["value"]) for r in rows if r["experiment"] == "counters"}
    return {"checksum": "/".join(sums) or "-", "memvirt": "/".join(mv) or "-",
            "counters": counters}


def runs(out):
    """{(engine, workload): run} of one nested output directory."""
    found = {}
    for name in sorted(os.listdir(out)):
        d = os.path.join(out, name)
        if "-" not in name or not os.path.isdir(d):
            continue
        r = read_run(d)
        if r:
            found[tuple(name.split("-", 1))] = r
    return found


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    print("| workload | engine | memvirt | checksum | " + " | ".join(COUNTERS) + " |")
    print("|---" * (4 + len(COUNTERS)) + "|")
    for out in argv[1:]:
        for (engine, wl), r in sorted(runs(out).items(), key=lambda kv: (kv[0][1], kv[0][0])):
            c = r["counters"]
            vals = [f"{c[k]:.0f}" if k in c else "-" for k in COUNTERS]
            print(f"| {wl} | {engine} | {r['memvirt']} | {r['checksum']} | " +
                  " | ".join(vals) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
