#!/usr/bin/env python3
"""The @hvr result lines of a guest console log as hvm's samples.csv rows, on standard
output: a front end to `hvpeer parse`, which holds the one parser (hv-minimal/tools/hvr.c,
the code `hvpeer run` records a QEMU run with). Kept for callers of this older
interface (tests/integration/qemu_pvh.sh); new callers use `hvpeer parse` directly.

    serial2csv.py --engine qemu-tcg --vcpus 1 [--notes notes.json] console.log > samples.csv

hvpeer is found as $HVPEER, else $HVLAB_BUILD/bin/hvpeer, else build/bin/hvpeer in the
source tree. Exit status: hvpeer parse's (0 every line recorded, 1 a line rejected or
none found, 2 usage)."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def find_hvpeer():
    if os.environ.get("HVPEER"):
        return os.environ["HVPEER"]
    build = os.environ.get("HVLAB_BUILD", "build")
    return os.path.join(build if os.path.isabs(build) else os.path.join(ROOT, build),
                        "bin", "hvpeer")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log", nargs="?", help="console log (default: standard input)")
    ap.add_argument("-o", "--output", help="CSV file to write (default: standard output)")
    ap.add_argument("--experiment", help="experiment column (default: the first record's "
                    "workload)")
    ap.add_argument("--engine", default="qemu-tcg")
    ap.add_argument("--memvirt")
    ap.add_argument("--vcpus", type=int, default=1)
    ap.add_argument("--pcpus", type=int, default=1)
    ap.add_argument("--tsc-khz", type=float, default=0, help="adds ns_per_op to nanobenchmarks")
    ap.add_argument("--notes", help="write the run's notes (the info records among them) "
                    "here as JSON")
    a = ap.parse_args(argv)

    hvpeer = find_hvpeer()
    if not os.access(hvpeer, os.X_OK):
        print(f"serial2csv: {hvpeer} is not built (make), or set HVPEER", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="serial2csv-")
    try:
        log = a.log
        if not log:
            log = os.path.join(tmp, "console.log")
            with open(log, "wb") as f:
                shutil.copyfileobj(sys.stdin.buffer, f)
        cmd = [hvpeer, "parse", "--engine", a.engine, "--vcpus", str(a.vcpus),
               "--pcpus", str(a.pcpus), "--out", os.path.join(tmp, "run"), log]
        if a.memvirt:
            cmd[2:2] = ["--memvirt", a.memvirt]
        if a.experiment:
            cmd[2:2] = ["--experiment", a.experiment]
        if a.tsc_khz:
            cmd[2:2] = ["--tsc-khz", f"{a.tsc_khz:g}"]
        rc = subprocess.run(cmd, stdout=sys.stderr).returncode
        run = os.path.join(tmp, "run")
        if not os.path.exists(os.path.join(run, "samples.csv")):
            return rc or 1
        with open(os.path.join(run, "samples.csv"), encoding="utf-8") as f:
            rows = f.read()
        if a.output:
            with open(a.output, "w", encoding="utf-8") as f:
                f.write(rows)
        else:
            sys.stdout.write(rows)
        if a.notes:
            with open(os.path.join(run, "summary.json"), encoding="utf-8") as f:
                notes = json.load(f).get("notes", {})
            with open(a.notes, "w", encoding="utf-8") as f:
                json.dump(notes, f, indent=1, sort_keys=True)
                f.write("\n")
        return rc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
