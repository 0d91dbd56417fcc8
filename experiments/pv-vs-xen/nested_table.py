"""The table of a nested run of experiments/pv-vs-xen/nested.sh: per run, its checksum,
KVM's counters (exits, port-I/O exits, guest page faults, emulated page-table writes,
invlpg intercepts) and the pv guest's hypercalls, as a Markdown table.
    python3 experiments/pv-vs-xen/nested_table.py DIR"""
import csv
import glob
import json
import os
import sys

COLS = [("exits", "engine_kvm_exits"), ("io exits", "engine_kvm_io_exits"),
        ("pf_guest", "engine_kvm_pf_guest"), ("mmu_pte_write", "engine_kvm_vm_mmu_pte_write"),
        ("invlpg", "engine_kvm_invlpg"), ("mmu_update calls", "hcall_mmu_update"),
        ("entries", "pv_pte_updates"), ("new_baseptr", "hcall_new_baseptr")]


def main(top):
    runs = sorted(d for d in glob.glob(os.path.join(top, "pv*-*")) if os.path.isdir(d))
    if not runs:
        sys.exit(f"{top}: no pvon-*/pvoff-* run directories; run nested.sh there first")
    print("| run | checksum | " + " | ".join(c for c, _ in COLS) + " |")
    print("|---|---|" + "---|" * len(COLS))
    for d in runs:
        try:
            with open(os.path.join(d, "summary.json"), encoding="utf-8") as f:
                notes = json.load(f).get("notes", {})
            with open(os.path.join(d, "samples.csv"), encoding="utf-8", newline="") as f:
                ck = sorted({r["value"] for r in csv.DictReader(f)
                             if r["metric"] == "checksum" and r["engine"] != "native"})
        except (OSError, ValueError) as e:
            print(f"| {os.path.basename(d)} | unreadable: {e} |")
            continue
        vals = [f"{notes.get(k, 0):.0f}" for _, k in COLS]
        print(f"| {os.path.basename(d)} | {'/'.join(ck) or '-'} | " + " | ".join(vals) + " |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
