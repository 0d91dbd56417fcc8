#!/usr/bin/env python3
"""Runs a benchmark matrix: every cell of a matrix file in its own process, with a
timeout, into one run directory; resumes an interrupted run. See scripts/README.md."""
import argparse
import datetime
import os
import shlex
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from hvtools import matrixfile, runner  # noqa: E402

EPILOG = """exit status: 0 every cell done or skipped; 1 some cell failed; 2 usage or
matrix-file error; 3 the run directory cannot be used (also: a resume that would mix
cells of two builds); 128+N interrupted by signal N (continue with --resume DIR)."""


def main(argv):
    ap = argparse.ArgumentParser(
        prog="matrix.py", epilog=EPILOG,
        description="Runs the cells of a matrix file, each in its own process with a "
                    "timeout, into one run directory.")
    ap.add_argument("matrix", nargs="?", help="matrix file (e.g. scripts/matrices/default.matrix)")
    ap.add_argument("--out", metavar="DIR",
                    help="run directory (default results/runs/matrix-NAME-DATE-PID)")
    ap.add_argument("--resume", metavar="DIR",
                    help="continue the run in DIR: runs the cells that have no outcome yet")
    ap.add_argument("--retry-failed", action="store_true",
                    help="with --resume: run failed and skipped cells again too")
    ap.add_argument("--rerun-changed", action="store_true",
                    help="with --resume: run again the finished cells whose program or "
                         "guest image has changed since (without it, such a run is refused)")
    ap.add_argument("--set", metavar="NAME=VALUE", action="append", default=[],
                    help="give a variable this value, over the file's own assignments")
    ap.add_argument("--bin", metavar="DIR",
                    help="what {bin} stands for (default $BUILD/bin, BUILD=build)")
    ap.add_argument("--list", action="store_true",
                    help="print the expanded cells and stop")
    a = ap.parse_args(argv)

    if a.resume:
        if a.matrix or a.out or a.set or a.list:
            ap.error("--resume DIR takes no matrix file, --out, --set or --list: the run "
                     "directory holds its plan")
        r = runner.Runner(a.resume, ROOT)
        try:
            r.open_existing()
        except (RuntimeError, OSError) as e:
            print(f"matrix.py: {e}", file=sys.stderr)
            return 3
        return r.run(retry_failed=a.retry_failed, rerun_changed=a.rerun_changed)

    if not a.matrix:
        ap.error("give a matrix file, or --resume DIR")
    if a.retry_failed or a.rerun_changed:
        ap.error("--retry-failed and --rerun-changed go with --resume DIR")
    overrides = {}
    for s in a.set:
        if "=" not in s:
            ap.error(f"--set {s}: expected NAME=VALUE")
        k, v = s.split("=", 1)
        overrides[k.strip()] = v
    bindir = a.bin or os.path.join(os.environ.get("BUILD", "build"), "bin")
    builtins = {"bin": os.path.abspath(os.path.join(ROOT, bindir)), "root": ROOT}
    try:
        m = matrixfile.parse(a.matrix, builtins, overrides)
        text = m.text()
    except matrixfile.MatrixError as e:
        print(e, file=sys.stderr)
        return 2
    if a.list:
        for c in m.cells:
            pin = f" [pin {c.pin}]" if c.pin else ""
            print(f"{c.name} (line {c.line}, timeout {c.timeout:g} s{pin}): {c.display()}")
        return 0

    out = a.out
    if not out:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        base = os.path.splitext(os.path.basename(a.matrix))[0]
        out = os.path.join(ROOT, "results", "runs", f"matrix-{base}-{stamp}-{os.getpid()}")
    command = shlex.join(["scripts/matrix.py", *argv])
    r = runner.Runner(out, ROOT)
    try:
        r.create(m, text, command)
    except (RuntimeError, OSError) as e:
        print(f"matrix.py: {e}", file=sys.stderr)
        return 3
    return r.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
