#!/usr/bin/env python3
"""Turns the result lines a guest prints on its serial console into hvm's sample rows.

The guest kernel prints every result record it hands to the VMM also as one console
line (guest/kernel/hv.c):

    @hvr kind=value workload=compute name=checksum value=311431997 unit=- rep=0 vcpu=0
    @hvr kind=nanobench workload=nanobench name=syscall iters=8 cycles=2029 baseline=104 unit=cycles rep=0 vcpu=0
    @hvr kind=info workload=compute name=sysgate value=syscall

Fields are key=value words; ' ', '%', '=' and non-printable bytes in a value are
written %XX. A peer run that has no result port (QEMU booting the same image through
its PVH entry) is parsed from its console log into the rows hvm writes to samples.csv
(experiment, workload, params, the mode columns, metric, value, unit, rep) with the
same metric names: a value record becomes its own metric, a nanobenchmark record
cycles_per_op and harness_cycles_per_op (and ns_per_op with --tsc-khz). Info records
become notes (--notes FILE, JSON).

    serial2csv.py --engine qemu-tcg --vcpus 1 console.log > samples.csv
"""
import argparse
import csv
import json
import re
import sys

HEADER = ["experiment", "workload", "params", "engine", "memvirt", "flavour", "spinlock",
          "iopath", "vcpus", "pcpus", "metric", "value", "unit", "rep"]
LINE = re.compile(r"@hvr((?: [A-Za-z_]+=\S*)+)\s*$")
KINDS = ("value", "nanobench", "info")


class RecordError(ValueError):
    pass


def unescape(s):
    return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), s)


def number(s, what):
    try:
        return float.fromhex(s) if s.lower().lstrip("-").startswith("0x") else float(s)
    except ValueError:
        raise RecordError(f"{what} '{s}' is not a number") from None


def fmt(v):
    """Numbers as hvm writes them: integers without a fraction, others shortest."""
    return str(int(v)) if v.is_integer() and abs(v) < 1e17 else repr(v)


def parse_line(line):
    """The fields of one @hvr line as a dict, or None when the line is not one."""
    m = LINE.search(line.rstrip("\r\n"))
    if not m:
        return None
    rec = {}
    for word in m.group(1).split():
        key, _, value = word.partition("=")
        rec[key] = unescape(value)
    kind = rec.get("kind")
    if kind not in KINDS:
        raise RecordError(f"unknown record kind '{kind}'")
    for key in ("workload", "name"):
        if not rec.get(key) and not (key == "workload" and key in rec):
            raise RecordError(f"record without {key}")
    return rec


def rows(records, mode, experiment, tsc_khz):
    """hvm's rows for the parsed records (vmm/record.c does the same)."""
    out = []
    for rec in records:
        kind, workload = rec["kind"], rec["workload"] or experiment
        rep = int(number(rec.get("rep", "0"), "rep"))
        base = dict(mode, experiment=experiment, rep=rep, params="-")
        if kind == "value":
            out.append(dict(base, workload=workload, metric=rec["name"],
                            value=number(rec.get("value", ""), "value"),
                            unit=rec.get("unit", "-") or "-"))
        elif kind == "nanobench":
            iters = number(rec.get("iters", ""), "iters")
            if iters <= 0:
                raise RecordError(f"nanobenchmark {rec['name']} with {iters} iterations")
            cpo = number(rec.get("cycles", ""), "cycles") / iters
            nb = dict(base, workload=rec["name"], params=f"iters={int(iters)}")
            out.append(dict(nb, metric="cycles_per_op", value=cpo, unit="cycles"))
            out.append(dict(nb, metric="harness_cycles_per_op",
                            value=number(rec.get("baseline", "0"), "baseline") / iters,
                            unit="cycles"))
            if tsc_khz:
                out.append(dict(nb, metric="ns_per_op", value=cpo * 1e6 / tsc_khz, unit="ns"))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log", nargs="?", help="console log (default: standard input)")
    ap.add_argument("-o", "--output", help="CSV file to write (default: standard output)")
    ap.add_argument("--experiment", help="experiment column (default: the first record's "
                    "workload, as hvm uses its --workload name)")
    ap.add_argument("--engine", default="qemu-tcg")
    ap.add_argument("--memvirt", default="softmmu")
    ap.add_argument("--flavour", default="full")
    ap.add_argument("--spinlock", default="plain")
    ap.add_argument("--iopath", default="emul")
    ap.add_argument("--vcpus", type=int, default=1)
    ap.add_argument("--pcpus", type=int, default=1)
    ap.add_argument("--tsc-khz", type=float, default=0, help="adds ns_per_op to nanobenchmarks")
    ap.add_argument("--notes", help="write the info records here as JSON")
    a = ap.parse_args(argv)

    try:
        src = open(a.log, encoding="utf-8", errors="replace") if a.log else sys.stdin
    except OSError as e:
        print(f"serial2csv: cannot read {a.log}: {e.strerror}", file=sys.stderr)
        return 2
    records = []
    with src:
        for n, line in enumerate(src, 1):
            try:
                rec = parse_line(line)
            except RecordError as e:
                print(f"serial2csv: {a.log or 'stdin'}:{n}: {e}: {line.strip()}", file=sys.stderr)
                return 1
            if rec:
                records.append(rec)
    if not records:
        print(f"serial2csv: no @hvr result lines in {a.log or 'stdin'} (did the guest run "
              "its workload to the end?)", file=sys.stderr)
        return 1
    experiment = a.experiment or records[0]["workload"]
    mode = dict(engine=a.engine, memvirt=a.memvirt, flavour=a.flavour, spinlock=a.spinlock,
                iopath=a.iopath, vcpus=a.vcpus, pcpus=a.pcpus)
    try:
        table = rows([r for r in records if r["kind"] != "info"], mode, experiment, a.tsc_khz)
    except RecordError as e:
        print(f"serial2csv: {e}", file=sys.stderr)
        return 1
    out = open(a.output, "w", newline="", encoding="utf-8") if a.output else sys.stdout
    with out:
        w = csv.DictWriter(out, HEADER, lineterminator="\n")
        w.writeheader()
        for r in table:
            w.writerow({k: (fmt(v) if isinstance(v, float) else v) for k, v in r.items()})
    if a.notes:
        notes = {r["name"]: r.get("value", "") for r in records if r["kind"] == "info"}
        with open(a.notes, "w", encoding="utf-8") as f:
            json.dump(notes, f, indent=1, sort_keys=True)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
