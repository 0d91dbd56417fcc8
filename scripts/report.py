#!/usr/bin/env python3
"""Writes the LaTeX reproduction report of a run directory (paper/build/report.tex by
default), draws its figures into the same place, and with --pdf builds the PDF with
latexmk. Without RUN it takes the newest run under results/runs/ that has a matrix
summary, or else the committed fixture tests/fixtures/run-small, and says so on the
first page. A run measured on several kinds of node gets one report per kind
(OUT/host-1/report.tex, ...): no ratio divides one kind's values by another's. See
paper/README.md."""
import argparse
import datetime
import glob
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import plot  # noqa: E402
from hvtools import compare, engines, experiments, rundata, verdict  # noqa: E402
from hvtools.latex import esc, tt  # noqa: E402

TEMPLATE = os.path.join(ROOT, "paper", "report.tex.in")
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "run-small")
RUNS = os.path.join(ROOT, "results", "runs")


def rel(p):
    p = os.path.abspath(p)
    return os.path.relpath(p, ROOT) if p.startswith(ROOT + os.sep) else p


def choose_run(arg):
    """(run directory, how it was chosen: given, newest or fixture)."""
    if arg:
        return arg, "given"
    found = glob.glob(os.path.join(RUNS, "*", "matrix-summary.json"))
    if found:
        newest = max(found, key=os.path.getmtime)
        return os.path.dirname(newest), "newest"
    return FIXTURE, "fixture"


def flatten(d, prefix=""):
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += flatten(v, f"{prefix}{k}.")
        else:
            out.append((prefix + k, v))
    return out


def fmt_value(v):
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return str(v)


def notice(run, how):
    if how == "fixture" or run.is_fixture:
        why = "no run under results/runs/ has a matrix summary" if how == "fixture" else \
            "it was asked for"
        return (r"\begin{center}\fbox{\parbox{0.92\textwidth}{\textbf{Not a measurement.} "
                r"This report was built from the committed fixture "
                + tt(rel(run.path)) + r", whose numbers are hand-written to exercise the "
                r"report, because " + esc(why) + r". Run \texttt{make bench}, then "
                r"\texttt{make paper}, for this machine's figures.}}\end{center}")
    if run.matrix and run.matrix.get("state") != "complete":
        c = run.matrix.get("counts", {})
        return (r"\begin{center}\fbox{\parbox{0.92\textwidth}{\textbf{Incomplete run.} The "
                r"matrix run is " + esc(run.matrix.get("state", "?")) + ": "
                + esc(f"{c.get('pending', '?')} of {c.get('total', '?')} cells did not run")
                + r"; continue it with \texttt{scripts/matrix.py --resume DIR}.}}\end{center}")
    return ""


def section_source(run, how):
    chosen = {"given": "given on the command line",
              "newest": "the newest run under results/runs/ with a matrix summary",
              "fixture": "the committed fixture (no measured run found)"}[how]
    lines = [r"\section{Source}",
             r"Run directory: " + tt(rel(run.path)) + f" ({esc(chosen)}).", ""]
    if run.matrix:
        m = run.matrix
        c = m.get("counts", {})
        lines.append("Matrix " + tt(m.get("matrix") or "?") + ": " + esc(
            f"{c.get('done', 0)} cells done, {c.get('failed', 0)} failed, "
            f"{c.get('skipped', 0)} skipped, {c.get('pending', 0)} not run, of "
            f"{c.get('total', 0)}; state {m.get('state', '?')}.") + " Command: "
            + tt(m.get("command") or "?") + ".")
    lines.append(esc(f"{len(run.rows)} samples in samples.csv."))
    return "\n".join(lines)


def section_context(run):
    rows = flatten(run.context)
    if not rows:
        return r"\section{Context}" + "\nThis run has no context block (no summary.json)."
    out = [r"\section{Context}",
           "Every field of the run's context block, as recorded by the programs that "
           "measured it. A field that could not be found says why.",
           r"{\small\begin{longtable}{@{}>{\raggedright}p{3.2cm}p{13.2cm}@{}}\toprule",
           r"field & value\\\midrule\endhead"]
    for k, v in rows:
        out.append(tt(k) + " & " + esc(fmt_value(v), breakable=True) + r"\\")
    out.append(r"\bottomrule\end{longtable}}")
    return "\n".join(out)


def section_cells(run):
    if not run.matrix:
        return ""
    out = [r"\section{Matrix cells}",
           "Each cell ran in its own process with a timeout; a failed or skipped cell says "
           "why.",
           r"{\small\begin{longtable}{@{}lllp{9.6cm}@{}}\toprule",
           r"cell & outcome & time & reason\\\midrule\endhead"]
    for c in run.matrix.get("cells", []):
        t = f"{c['seconds']:.1f} s" if isinstance(c.get("seconds"), (int, float)) else "--"
        out.append(tt(c["name"]) + " & " + esc(c["status"]) + " & " + esc(t) + " & " +
                   esc(c.get("reason") or "", breakable=True) + r"\\")
    out.append(r"\bottomrule\end{longtable}}")
    return "\n".join(out)


def section_engines(run):
    """Per engine the matrix asked for: measured (with its cells) or not, and why not;
    an engine the host could not run reads NOT_ON_HOST."""
    cells = run.engine_cells()
    if not cells:
        return ""
    out = [r"\section{Engines}",
           "Every engine this run's matrix asked for. An engine that was "
           + esc(rundata.NOT_ON_HOST) + " had every cell skipped for the reason given "
           "(the host lacks what it needs); it is absent from the figures, and the "
           "comparisons that need it say so.",
           r"{\small\begin{longtable}{@{}llp{10.4cm}@{}}\toprule",
           r"engine & measured & cells, or why not\\\midrule\endhead"]
    for engine, cs in cells.items():
        absent = run.absence(engine)
        if absent:
            label, why = absent
        else:
            counts = {}
            for c in cs:
                counts[c.get("status")] = counts.get(c.get("status"), 0) + 1
            label = "yes"
            why = f"{len(cs)} cells: " + ", ".join(f"{n} {st}" for st, n in counts.items())
        out.append(tt(engine) + " & " + esc(label) + " & " + esc(why, breakable=True) +
                   r"\\")
    out.append(r"\bottomrule\end{longtable}}")
    out += engine_descriptions(run, list(cells))
    return "\n".join(out)


def engine_descriptions(run, names):
    """How each engine described itself (hvm engines, hvpeer engines), from the run's
    engines.json when the runner kept one."""
    cat = engines.for_run(run)
    known = [cat.get(n) for n in names if cat.get(n)]
    if not known:
        return []
    out = ["What each engine says of itself (" + tt("hvm engines") + ", " +
           tt("hvpeer engines") + "), on the host that " +
           ("measured this run." if os.path.exists(os.path.join(run.path, engines.FILE))
            else "built this report (the run kept no engines.json)."),
           r"{\small\begin{longtable}{@{}lllp{9.6cm}@{}}\toprule",
           r"engine & kind & family & description\\\midrule\endhead"]
    for e in known:
        out.append(tt(e.name) + " & " + esc(e.kind) + " & " + esc(e.family) + " & " +
                   esc(e.description, breakable=True) + r"\\")
    out.append(r"\bottomrule\end{longtable}}")
    return out


def section_nanobench(run):
    ops = run.nanobench_ops()
    engines_ = [e for e in run.engines() if run.select(experiment="nanobench", engine=e,
                                                       metric="cycles_per_op")]
    engines_.sort(key=lambda e: e != engines.NATIVE)
    if not ops:
        return "\n".join([r"\section{Measured nanobenchmarks}",
                          "Not measured: this run holds no nanobenchmark samples."] +
                         absent_lines(run))
    others = [e for e in engines_ if e != engines.NATIVE]
    counted = [op for op in ops if rundata.guest_insns(run, op, "kernel") is not None]

    def mark(op):
        if engines.NATIVE in engines_ and op in compare.NATIVE_KERNEL_PATH:
            return r"\textsuperscript{K}"
        if engines.NATIVE in engines_ and compare.native_differs(run, op):
            return r"\textsuperscript{N}"
        return ""

    # Two tables, so that a run with every engine still fits the page: the cycles, then
    # the ratios with the guest's instruction counts.
    out = [r"\section{Measured nanobenchmarks}",
           "Median TSC cycles per operation over the repetitions (n), harness "
           "overhead subtracted by the measuring program; then the ratios to the native "
           "baseline of this run" + (", and the guest's own instructions per operation"
           if counted else "") + ". A dash: not measured.",
           r"\begin{center}{\small\begin{tabular}{l" + "r" * len(engines_) + r"}\toprule",
           " & ".join(["operation"] + [esc(e) for e in engines_]) + r"\\\midrule"]
    for op in ops:
        cells = [tt(op) + mark(op)]
        for e in engines_:
            st = rundata.cycles_per_op(run, op, e)
            cells.append("--" if st is None else esc(f"{st['median']:,.1f} ({st['n']})"))
        out.append(" & ".join(cells) + r"\\")
    out.append(r"\bottomrule\end{tabular}}\end{center}")
    if others or counted:
        head = ["operation"] + [esc(f"{e}/native") for e in others]
        if counted:
            head += ["kernel insns/op", "user insns/op"]
        out += [r"\begin{center}{\small\begin{tabular}{l" + "r" * (len(head) - 1) +
                r"}\toprule", " & ".join(head) + r"\\\midrule"]
        for op in ops:
            cells = [tt(op) + mark(op)]
            for e in others:
                r, _ = rundata.ratio_to_native(run, op, e)
                cells.append(esc(compare.fmt_ratio(r)) if r is not None else "--")
            if counted:
                for where in ("kernel", "user"):
                    n = rundata.guest_insns(run, op, where)
                    cells.append("--" if n is None else esc(compare.fmt_insns(n)))
            out.append(" & ".join(cells) + r"\\")
        out.append(r"\bottomrule\end{tabular}}\end{center}")
    marks = []
    if engines.NATIVE in engines_ and any(op in compare.NATIVE_KERNEL_PATH for op in ops):
        marks.append(r"\textsuperscript{K} Different kernels: the native baseline runs "
                     "Linux's kernel (" + esc("; ".join(
                         f"{op}: {compare.NATIVE_KERNEL_PATH[op]}" for op in ops
                         if op in compare.NATIVE_KERNEL_PATH)) + "), the guest runs hvlab's; "
                     "the ratio is not a virtualization overhead alone.")
    if engines.NATIVE in engines_ and any(compare.native_differs(run, op) for op in ops):
        marks.append(r"\textsuperscript{N} Not comparable with Adams and Agesen's native "
                     "column: " + esc("; ".join(f"{op}: native is {compare.native_differs(run, op)}"
                                                for op in ops if compare.native_differs(run, op)))
                     + ", theirs a plain store.")
    if counted:
        marks.append("Instructions per operation: the guest's own, counted by the bt engine's "
                      "counting mode (nanobench icount=1), in the guest kernel and in user mode, "
                      "harness subtracted as for the cycles (medians over repetitions).")
    elif any(run.has_engine(e)
             for e in engines.for_run(run).select("vmm", engines.TRANSLATOR)):
        marks.append("No guest instruction counts in this run (hvm's translator engine counts "
                      "them with the nanobench argument icount=1).")
    out += [r"\par{\small " + m + "}" for m in marks]
    unavailable = {}            # op -> why; several cells may say the same
    for k, v in flatten(run.notes):
        if k.startswith("unavailable.") or ".unavailable." in k:
            unavailable.setdefault(k.split("unavailable.")[-1], v)
    for op, v in unavailable.items():
        out.append(r"\par{\small " + esc(f"Native {op} not measured: {v}", breakable=True) +
                   "}")
    out += absent_lines(run)
    return "\n".join(out)


def absent_lines(run):
    """One paragraph per engine of the matrix with no samples in the run: ENGINE: not
    measured on this host (why), or not measured (why)."""
    return [r"\par{\small " + tt(e) + ": " + esc(f"{label} ({why}).", breakable=True) + "}"
            for e, label, why in run.absent_engines()]


def section_figures(figdir, index):
    out = [r"\section{Figures}"]
    if not index["figures"]:
        out.append("No figure could be drawn from this run.")
    for f in index["figures"]:
        files = f["files"]
        img = files.get("pdf") or files.get("png")
        cap = esc(f["caption"])
        out += [r"\begin{figure}[htbp]\centering",
                r"\includegraphics[width=\textwidth]{figures/" + img + "}",
                r"\caption{" + cap + "}", r"\label{fig:" + f["name"] + "}"]
        if f["left_out"]:
            # below the caption, not in it: a caption is set on one line first to
            # measure it, and a long list there overflows TeX's dimensions
            out.append(r"\par{\footnotesize\raggedright Left out: " +
                       esc("; ".join(f["left_out"]), breakable=True) + ".\par}")
        out.append(r"\end{figure}")
    for s in index["skipped"]:
        out.append(r"\par " + esc("Not drawn: " + s + "."))
    for n in index.get("not_measured", []):
        out.append(r"\par " + tt(n["engine"]) + ": " +
                   esc(f"{n['label']}, so absent from every figure ({n['why']}).",
                       breakable=True))
    out.append(r"\clearpage")
    return "\n".join(out)


def holds_cell(r):
    """The holds? cell: yes, no (and which part failed), n/c (not comparable), or --."""
    k = r.verdict.kind
    if k == verdict.HOLDS:
        return r"\holds"
    if k == verdict.MAGNITUDE_FAILS:
        return r"\fails{\scriptsize\newline magnitude}"
    if k == verdict.DIRECTION_FAILS:
        return r"\fails{\scriptsize\newline direction}"
    if k == verdict.NOT_COMPARABLE:
        return r"\notcomparable"
    return r"\notmeasured"


def row_label(r):
    """The row cell: the label, and under it the row's tag (e.g. different kernels)."""
    return tt(r.label) + (r"\newline{\scriptsize " + esc(r.tag) + "}" if r.tag else "")


def why_cell(r):
    """The row's sentence, each part under its label (Published, Measured, Verdict,
    Different kernels, Paper's explanation (cited), Hypothesis, not measured in this
    run)."""
    return " ".join(r"\textbf{" + esc(k) + ":} " + esc(t, breakable=False) + "."
                    for k, t in r.parts)


def section_comparisons(run, per_exp):
    rules = []
    for t in [t for _, ts in per_exp for t in ts]:
        if t.rule and t.rule.describe() not in rules:
            rules.append(t.rule.describe())
    out = [r"\section{Published comparisons}",
           "One table per published comparison: the published ratio, this run's ratio, the "
           "factor between them (measured divided by published), whether the published "
           "shape holds here, and why. A shape holds when the measured ratio falls in the "
           "published one's class (the direction) and within a factor of "
           + esc(f"{verdict.MAGNITUDE:g}") + " of it (the magnitude): "
           + esc("; ".join(rules)) + ". A failed verdict says which part failed. "
           "``n/c'' marks a row whose two ratios measure different operations (no verdict); "
           "a row tagged ``different kernels'' is judged, but its native baseline ran "
           "Linux's kernel and the guest hvlab's, so its ratio is not a virtualization "
           "overhead alone. ``not measured'' means the run holds no data for that row, and "
           "the sentence says what is missing; ``" + esc(rundata.NOT_ON_HOST) + "'' means "
           "the host could not run the engine the row needs (the Engines section says "
           "why). Every mechanism in a sentence is labelled: the paper's explanation, with "
           "where it is, or a hypothesis this run did not measure. The comparisons are "
           "grouped by experiment (" + tt("experiments/NAME/") + ": its matrix, published "
           "figures, comparison rules and lab handout)."]
    for exp, tables in per_exp:
        out += experiment_head(run, exp, tables)
        out += table_lines(tables)
    return "\n".join(out)


def experiment_head(run, exp, tables):
    """The experiment's heading, how to read its figures, and its tables of measured
    values; an experiment without comparison rules, or whose rules give nothing, says
    it is not measured yet."""
    out = [r"\subsection{" + esc(exp.title) + "}"]
    where = tt(f"experiments/{exp.name}/")
    measured = exp.measured_tables(run)
    if not exp.measured or not (tables or measured):
        pub = ", ".join(n + ".csv" for n in exp.published)
        out.append("Not measured yet: " + where + " has no comparison rules yet (its "
                   "README says what is planned)." + (
                       " Published figures waiting for it, listed in the appendix: " +
                       esc(pub) + "." if pub else ""))
        return out
    if exp.reproduces:
        out.append(r"{\footnotesize " + esc(f"Reproduces: {exp.reproduces}.") + " Folder: " +
                   where + ".}")
    for title, intro, items in exp.notes(run):
        out += [r"\paragraph{" + esc(title) + "} " + esc(intro), r"\begin{itemize}"]
        out += [r"\item \textbf{" + esc(label) + ":} " + esc(text, breakable=False) + "."
                for label, text in items]
        out.append(r"\end{itemize}")
    for t in measured:
        out += [r"\subsubsection{" + esc(t.title) + "}",
                r"{\small\begin{longtable}{@{}>{\raggedright}p{3.4cm}" +
                "l" * (len(t.head) - 1) + r"@{}}\toprule",
                " & ".join(esc(h) for h in t.head) + r"\\\midrule\endhead"]
        for row in t.rows:
            # a cell too long for its column (a reason) spans the rest of the row
            cells = [tt(row[0])]
            for i, c in enumerate(row[1:], 1):
                if len(c) > 24:
                    cells.append(r"\multicolumn{" + str(len(row) - i) +
                                 r"}{>{\raggedright\arraybackslash}p{8.6cm}}{" +
                                 esc(c, breakable=True) + "}")
                    break
                cells.append(esc(c))
            out.append(" & ".join(cells) + r"\\")
        out.append(r"\bottomrule\end{longtable}}")
        out += [r"\par{\small " + esc(n) + "}" for n in t.notes]
    return out


def table_lines(tables):
    out = []
    for t in tables:
        # A longtable: rows with their sentences may fill more than a page. Its head
        # repeats on each page.
        head = ("row & " + esc(t.pub_head) + " & " + esc(t.meas_head) +
                r" & factor & holds? & why\\\midrule")
        notes = [esc(t.source)]
        srcs = compare.table_sources(t.rows)
        if srcs:
            notes.append(r"\textbf{Where the published figures are:} " +
                         esc("; ".join(srcs), breakable=True) + ".")
        if t.explained:
            notes.append(r"\textbf{Where the paper's explanations are:} " +
                         esc("; ".join(t.explained), breakable=True) + ".")
        out += [r"\subsubsection{" + esc(t.title) + "}",
                r"{\footnotesize " + r"\par ".join(notes) + "}",
                r"{\small\setlength{\LTleft}{0pt}\setlength{\LTright}{0pt}"
                r"\begin{longtable}{@{}>{\raggedright}p{2.2cm}>{\raggedleft}p{1.35cm}"
                r">{\raggedleft}p{1.35cm}>{\raggedleft}p{1.0cm}>{\centering}p{1.25cm}"
                r">{\raggedright\arraybackslash}p{7.7cm}@{}}\toprule",
                head + r"\endfirsthead", r"\toprule " + head + r"\endhead"]
        for r in t.rows:
            out.append(" & ".join([row_label(r), esc(r.published), esc(r.measured),
                                   esc(r.factor), holds_cell(r), why_cell(r)])
                       + r"\\[0.3em]")
        out.append(r"\bottomrule\end{longtable}}")
    return out


def section_closing(lines):
    return "\n".join([r"\section{Closing note}"] + [esc(l) + "\n" for l in lines])


def appendix_published(exps):
    rest = [(e, p) for e in exps for p in e.awaiting()]
    if not rest:
        return ""
    out = [r"\section{Published figures awaiting an experiment}",
           "These published figures belong to an experiment whose comparison rules do not "
           "use them yet; none is measured by this run. Each row names its source."]
    for e, p in rest:
        cols = [c for c in (p.rows[0].keys() if p.rows else [])
                if c not in ("value", "unit", "source")]
        out += [r"\subsection*{" + tt(f"experiments/{e.name}/published/{p.name}.csv") + "}",
                r"{\footnotesize " + esc(p.citation) + "}",
                r"\begin{center}{\footnotesize\begin{longtable}{@{}>{\raggedright}p{5.4cm}"
                r"r>{\raggedright\arraybackslash}p{8.2cm}@{}}\toprule",
                esc(" / ".join(cols)) + r" & value & source\\\midrule\endhead"]
        for r in p.rows:
            out.append(esc(" / ".join(r[c] for c in cols), breakable=True) + " & " +
                       esc(f"{r['value']:g} {r.get('unit', '')}".strip()) + " & " +
                       esc(r["source"], breakable=True) + r"\\")
        out.append(r"\bottomrule\end{longtable}}\end{center}")
    return "\n".join(out)


def appendix_notes(run):
    rows = flatten(run.notes)
    if not rows:
        return ""
    out = [r"\section{Run notes}",
           "The notes the measuring programs wrote beside their samples"
           + (", prefixed by cell." if run.matrix else "."),
           r"{\footnotesize\begin{longtable}{@{}>{\raggedright}p{5.4cm}p{11cm}@{}}\toprule",
           r"note & value\\\midrule\endhead"]
    for k, v in rows:
        out.append(tt(k) + " & " + esc(fmt_value(v), breakable=True) + r"\\")
    out.append(r"\bottomrule\end{longtable}}")
    return "\n".join(out)


def build_pdf(outdir):
    if not shutil.which("latexmk"):
        print("report.py: latexmk not found; install the Debian packages latexmk, "
              "texlive-latex-base and texlive-latex-recommended (scripts/setup-deps.sh "
              "does)", file=sys.stderr)
        return 1
    r = subprocess.run(["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error",
                        "-file-line-error", "report.tex"], cwd=outdir, capture_output=True,
                       text=True, timeout=300)
    if r.returncode != 0:
        log = os.path.join(outdir, "report.log")
        tail = ""
        if os.path.exists(log):
            with open(log, encoding="utf-8", errors="replace") as f:
                tail = "".join(f.readlines()[-30:])
        print(f"report.py: latexmk failed (exit {r.returncode}); end of {log}:\n{tail}",
              file=sys.stderr)
        return 1
    print(f"report.py: {os.path.join(outdir, 'report.pdf')}")
    return 0


def main(argv):
    ap = argparse.ArgumentParser(prog="report.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("run", nargs="?", help="run directory (default: the newest matrix run, "
                                           "or the fixture)")
    ap.add_argument("--out", metavar="DIR", default=os.path.join(ROOT, "paper", "build"),
                    help="where report.tex and figures/ go (default paper/build)")
    ap.add_argument("--pdf", action="store_true", help="also build report.pdf with latexmk")
    a = ap.parse_args(argv)
    path, how = choose_run(a.run)
    try:
        run = rundata.Run(path)
        exps = experiments.discover()
        parts = run.by_host()
    except (rundata.RunError, experiments.ExperimentError, OSError) as e:
        print(f"report.py: {e}", file=sys.stderr)
        return 1
    if how == "fixture":
        print(f"report.py: no run under {rel(RUNS)}/ has a matrix summary; using the "
              f"fixture {rel(FIXTURE)} (the report says so)")
    print(f"report.py: run {rel(run.path)}")
    outdir = os.path.abspath(a.out)
    if len(parts) == 1:
        return write_report(run, how, outdir, exps, a.pdf)
    status = 0
    for i, (kind, part) in enumerate(parts, 1):
        print(f"report.py: cells measured on {kind}: {os.path.join(outdir, f'host-{i}')}")
        status |= write_report(part, how, os.path.join(outdir, f"host-{i}"), exps, a.pdf)
    return status


def write_report(run, how, outdir, exps, pdf):
    """The report of a run measured on one kind of node (a part of Run.by_host)."""
    figdir = os.path.join(outdir, "figures")
    shutil.rmtree(figdir, ignore_errors=True)
    os.makedirs(figdir)
    if not shutil.which("gnuplot"):
        print("report.py: gnuplot not found; install the Debian package gnuplot-nox "
              "(scripts/setup-deps.sh does)", file=sys.stderr)
        return 1
    if plot.draw_run(run, figdir, ["png", "pdf"], exps) != 0:
        print("report.py: some figures could not be drawn (see above)", file=sys.stderr)
        return 1
    with open(os.path.join(figdir, "index.json"), encoding="utf-8") as f:
        index = json.load(f)
    per_exp = experiments.tables(run, exps)
    body = "\n\n".join(s for s in [
        section_source(run, how), section_context(run), section_cells(run),
        section_engines(run), section_nanobench(run), section_figures(figdir, index),
        section_comparisons(run, per_exp),
        section_closing(experiments.closing(run, exps, per_exp)),
        r"\appendix", appendix_published(exps), appendix_notes(run)] if s)
    title = "hvlab on this machine: a reproduction report"
    if run.kinds_in_run > 1:
        title += r"\\{\large cells measured on " + esc(run.host_kind) + "}"
    if how == "fixture" or run.is_fixture:
        title += r"\\{\large (fixture data, not a measurement)}"
    date = run.context.get("date") or datetime.datetime.now(datetime.timezone.utc) \
        .strftime("%Y-%m-%d")
    with open(TEMPLATE, encoding="utf-8") as f:
        tex = f.read()
    tex = tex.replace("@@TITLE@@", title).replace("@@DATE@@", esc(str(date))) \
        .replace("@@NOTICE@@", notice(run, how)).replace("@@BODY@@", body) \
        .replace("@@MAGNITUDE@@", f"{verdict.MAGNITUDE:g}")
    os.makedirs(outdir, exist_ok=True)
    out_tex = os.path.join(outdir, "report.tex")
    with open(out_tex, "w", encoding="utf-8") as f:
        f.write(tex)
    print(f"report.py: {out_tex}")
    if pdf:
        return build_pdf(outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
