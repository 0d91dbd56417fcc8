#!/usr/bin/env python3
"""Draws a run directory's figures with gnuplot: PNG and SVG (and PDF for the report)
into RUN/figures/ or --out DIR. Each figure also leaves its data (NAME.dat) and a
gnuplot script (NAME.gp) that redraws it, and index.json lists the figures with their
captions and what was left out of them: every run's figures, then each experiment's
(experiments/*/figures.py). A run measured on several kinds of node gets one set per
kind, in host-1/, host-2/, ... (index.json names them). See scripts/README.md."""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from hvtools import experiments, figures, rundata  # noqa: E402

TEMPLATE = os.path.join(ROOT, "scripts", "plots", "bars.gp")


def gp_str(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def y_floor(fig):
    """A log axis starts a decade at or below the smallest bar (and below a reference
    line at 1), so that a bar near the reference stays visible; "" for gnuplot's own."""
    if not fig.logy:
        return ""
    vals = []
    for row in fig.values:
        for v in row:
            v = v[1] if fig.errorbars and v else v
            if v is not None and math.isfinite(v) and v > 0:
                vals.append(v)
    if not vals:
        return ""
    lo = 10 ** math.floor(math.log10(min(vals)))
    if fig.refline is not None:
        lo = min(lo, 10 ** math.floor(math.log10(fig.refline) - 1))
    return repr(lo)


def figure_script(fig, datafile):
    """A gnuplot script that draws fig; term and outfile may be given with -e."""
    v = {"datafile": gp_str(datafile), "nseries": str(len(fig.series)),
         "errorbars": "1" if fig.errorbars else "0", "logy": "1" if fig.logy else "0",
         "title": gp_str(fig.title), "ylabel": gp_str(fig.ylabel),
         "refline": gp_str("" if fig.refline is None else repr(fig.refline)),
         "reflabel": gp_str(fig.reflabel), "ymin": gp_str(y_floor(fig))}
    lines = [f"# {fig.name}: drawn by scripts/plot.py; redraw with",
             f"#   gnuplot -e \"term='svg'; outfile='{fig.name}.svg'\" {fig.name}.gp",
             'if (!exists("term")) term = "png"',
             f'if (!exists("outfile")) outfile = "{fig.name}." . term']
    lines += [f"{k} = {val}" for k, val in v.items()]
    lines.append(f"load {gp_str(TEMPLATE)}")
    return "\n".join(lines) + "\n"


def draw(fig, outdir, formats):
    dat = os.path.join(outdir, fig.name + ".dat")
    gp = os.path.join(outdir, fig.name + ".gp")
    with open(dat, "w", encoding="utf-8") as f:
        f.write(fig.data_text())
    with open(gp, "w", encoding="utf-8") as f:
        f.write(figure_script(fig, fig.name + ".dat"))
    files = {}
    for fmt in formats:
        out = fig.name + "." + fmt
        r = subprocess.run(["gnuplot", "-e", f"term='{fmt}'; outfile='{out}'",
                            fig.name + ".gp"], cwd=outdir, capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0 or not os.path.exists(os.path.join(outdir, out)):
            raise RuntimeError(f"gnuplot failed on {gp} ({fmt}): {r.stderr.strip()[-600:]}")
        files[fmt] = out
    return files


def main(argv):
    ap = argparse.ArgumentParser(prog="plot.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("run", help="run directory (holds samples.csv; summary.json optional)")
    ap.add_argument("--out", metavar="DIR", help="where the figures go (default RUN/figures)")
    ap.add_argument("--formats", default="png,svg",
                    help="comma-separated: png, svg, pdf (default png,svg)")
    a = ap.parse_args(argv)
    formats = [f for f in a.formats.split(",") if f]
    bad = [f for f in formats if f not in ("png", "svg", "pdf")]
    if bad:
        ap.error(f"--formats: unknown format {bad[0]} (png, svg, pdf)")
    if not shutil.which("gnuplot"):
        print("plot.py: gnuplot not found; install the Debian package gnuplot-nox "
              "(scripts/setup-deps.sh does)", file=sys.stderr)
        return 1
    try:
        run = rundata.Run(a.run)
        exps = experiments.discover()
        parts = run.by_host()
    except (rundata.RunError, experiments.ExperimentError, OSError) as e:
        print(f"plot.py: {e}", file=sys.stderr)
        return 1
    outdir = os.path.abspath(a.out or os.path.join(run.path, "figures"))
    if len(parts) == 1:
        return draw_run(run, outdir, formats, exps)
    status, hosts = 0, []
    for i, (kind, part) in enumerate(parts, 1):
        sub = os.path.join(outdir, f"host-{i}")
        print(f"plot.py: cells measured on {kind} -> {sub}")
        status |= draw_run(part, sub, formats, exps)
        hosts.append({"kind": kind, "dir": f"host-{i}", "cells": part.hosts[kind]})
    with open(os.path.join(outdir, "index.json"), "w", encoding="utf-8") as f:
        json.dump({"run": run.path, "hosts": hosts}, f, indent=1)
        f.write("\n")
    return status


def draw_run(run, outdir, formats, exps):
    """Draws the figures of a run measured on one kind of node into outdir, with its
    index.json; returns the exit status."""
    os.makedirs(outdir, exist_ok=True)
    index = {"run": run.path, "fixture": run.is_fixture, "host_kind": run.host_kind,
             "figures": [], "skipped": [],
             "not_measured": [{"engine": e, "label": label, "why": why}
                              for e, label, why in run.absent_engines()]}
    for e, label, why in run.absent_engines():
        print(f"plot.py: {e}: {label}, so absent from the figures ({why})")
    status = 0
    for fig, why in figures.all_figures(run, exps):
        if fig is None:
            print(f"plot.py: {why}")
            index["skipped"].append(why)
            continue
        try:
            files = draw(fig, outdir, formats)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            print(f"plot.py: {e}", file=sys.stderr)
            status = 1
            continue
        index["figures"].append({"name": fig.name, "caption": fig.caption, "files": files,
                                 "left_out": fig.left_out})
        print(f"plot.py: {os.path.join(outdir, fig.name)}.{{{','.join(formats)}}}")
        for lo in fig.left_out:
            print(f"  left out: {lo}")
    with open(os.path.join(outdir, "index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
