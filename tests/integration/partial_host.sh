#!/usr/bin/env bash
# A run from a host that cannot run every engine (no usable /dev/kvm: host kind C in
# PLATFORM.md). The matrix runner's rule: a cell that skips for a stated reason leaves
# the run's exit status 0, a skip that states none and a failure make it 1; the KVM
# probe refuses a /dev/kvm that is no KVM. From a run lacking the hw and qemu-kvm
# engines, the figures draw without error and without them, and the report's tables
# say "not measured on this host". Nothing here depends on this host's /dev/kvm: the
# runs are built from tests/fixtures/run-small, and the cells that need KVM are
# stand-ins that skip whether or not the runner's probe lets them start.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MATRIX=$ROOT/scripts/matrix.py
FIX=$ROOT/tests/fixtures/run-small
T=$TMPDIR_IT

if ! command -v python3 >/dev/null; then
	skip_all "python3 is not installed (scripts/setup-deps.sh installs it)"
fi
# Checks per section: the KVM probe; the runner's exit status; figures and report.
N_PROBE=3 N_RUNNER=7 N_FIGURES=20
plan $((N_PROBE + N_RUNNER + N_FIGURES))

# --- the KVM probe: what counts as a usable KVM ---------------------------------------
# What an engine needs of the host is what the built hvm says of it (hvm engines --json).
case $HVLAB_BUILD in /*) BIN=$HVLAB_BUILD/bin ;; *) BIN=$ROOT/$HVLAB_BUILD/bin ;; esac
probe() { # probe DEVICE [ENGINE]: hostcheck's answer for DEVICE ("usable" when None)
	python3 - "$ROOT/scripts" "$BIN" "$@" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from hvtools import engines, hostcheck
bindir, dev = sys.argv[2], sys.argv[3]
if len(sys.argv) > 4:
    why = hostcheck.engine_unavailable([bindir + "/hvm", "run", "--engine", sys.argv[4]],
                                       kvm_device=dev, catalog=engines.describe(bindir))
else:
    why = hostcheck.kvm_unusable(dev)
print(why or "usable")
PY
}
got=$(probe /dev/null)
printf '%s' "$got" | grep -q "opens but does not answer KVM_GET_API_VERSION.*not a KVM device" &&
	ok "a /dev/kvm that opens but is no KVM (/dev/null) is not usable: $got" ||
	bad "probe /dev/null" "$got"
got=$(probe "$T/no-such-kvm" hw)
printf '%s' "$got" | grep -q "^engine hw needs a usable KVM: .*no-such-kvm is absent on this host" &&
	ok "hw without a KVM device is unavailable, with the reason: $got" || bad "probe absent" "$got"
got=$(probe "$T/no-such-kvm" bt)
[ "$got" = usable ] && ok "the bt engine does not need KVM" || bad "probe bt" "$got"

# --- the runner's exit status: skips with reasons are fine, silent skips are not ------
nb=$ROOT/$HVLAB_BUILD/bin/nativebench
case $HVLAB_BUILD in /*) nb=$HVLAB_BUILD/bin/nativebench ;; esac
fake=$T/fakebin
mkdir -p "$fake"
# Stand-ins for hvm and hvpeer on a host without KVM: they skip as the real ones do.
cat >"$fake/hvm" <<'EOF'
#!/bin/sh
echo "hvm: skipped: engine hw cannot run on this host: /dev/kvm is absent (test stand-in)" >&2
exit 77
EOF
cat >"$fake/hvpeer" <<'EOF'
#!/bin/sh
echo "hvlab: skipped: qemu-kvm needs a usable KVM: /dev/kvm is absent (test stand-in)" >&2
exit 77
EOF
chmod +x "$fake/hvm" "$fake/hvpeer"
if [ ! -x "$nb" ]; then
	skip_n $N_RUNNER "runner exit status" "$nb was not built (make)"
else
	cat >"$T/host.matrix" <<EOF
timeout = 20
cell native: $nb --reps 2 --min-cycles 20000 --only rdtsc --out {out}
cell hw-hello: $fake/hvm run --engine hw --workload hello --out {out}
cell qemu-kvm-hello: $fake/hvpeer run --engine qemu-kvm --workload hello --out {out}
cell feature: sh -c 'echo "noise before"; echo "skipped: this host lacks the feature"; exit 77' sh {out}
EOF
	run=$T/host-run
	python3 "$MATRIX" "$T/host.matrix" --out "$run" >"$T/host.log" 2>&1; rc=$?
	[ $rc -eq 0 ] && ok "a run whose cells are done or skipped with a reason exits 0" ||
		bad "skip-only run exit" "exit $rc: $(tail -n 4 "$T/host.log" | tr '\n' ' ')"
	summary=$(python3 - "$run" <<'PY'
import json, sys
s = json.load(open(sys.argv[1] + "/matrix-summary.json"))
for c in s["cells"]:
    print(f"{c['name']}|{c['status']}|{c['reason'] or '-'}")
PY
)
	# hw and qemu-kvm: skipped by the runner's probe where this host has no usable KVM,
	# else by the stand-in; either way with a reason that names /dev/kvm.
	for want in 'native|done|-' 'hw-hello|skipped|.*/dev/kvm' 'qemu-kvm-hello|skipped|.*/dev/kvm' \
		'feature|skipped|exit 77 (skipped): skipped: this host lacks the feature$'; do
		printf '%s\n' "$summary" | grep -q "^$want" && ok "cell ${want%%|*}: ${want#*|}" ||
			bad "cell ${want%%|*}" "expected '$want' in: $(printf '%s' "$summary" | tr '\n' ' ')"
	done
	n=$(grep -c '"event": "skipped"' "$run/journal.jsonl")
	nr=$(grep '"event": "skipped"' "$run/journal.jsonl" | grep -c '"reason": "[^"]')
	[ "$n" -eq 3 ] && [ "$nr" -eq 3 ] && ok "the journal records each skip with its reason" ||
		bad "journal skips" "$n skipped records, $nr with a reason"

	cat >"$T/silent.matrix" <<EOF
timeout = 20
cell native: $nb --reps 2 --min-cycles 20000 --only rdtsc --out {out}
cell silent: sh -c 'exit 77' sh {out}
EOF
	run=$T/silent-run
	python3 "$MATRIX" "$T/silent.matrix" --out "$run" >"$T/silent.log" 2>&1; rc=$?
	st=$(python3 -c 'import json,sys
c = [c for c in json.load(open(sys.argv[1]))["cells"] if c["name"] == "silent"][0]
print(c["status"] + "|" + (c["reason"] or ""))' "$run/matrix-summary.json" 2>&1)
	[ $rc -eq 1 ] && printf '%s' "$st" | grep -q '^failed|exit 77 (skipped) but the program printed no reason' &&
		ok "an exit-77 skip without a reason is a failure and the run exits 1" ||
		bad "silent skip" "exit $rc, cell: $st"
fi

# --- a run without hw and qemu-kvm: figures and report ----------------------------------
# From the fixture: its hw rows become bt and qemu-tcg rows, native cpuid is made
# large enough that a ratio falls below 1e-4 (gnuplot once failed on the axis floor
# 1e-05 it gives), and the matrix summary records the hw and qemu-kvm cells as skipped.
partial=$T/partial
mkdir -p "$partial"
cp "$FIX/summary.json" "$partial/"
python3 - "$FIX" "$partial" <<'PY'
import csv, json, sys
fix, out = sys.argv[1], sys.argv[2]
rows = list(csv.reader(open(fix + "/samples.csv")))
head, body = rows[0], rows[1:]
eng, val, wl = head.index("engine"), head.index("value"), head.index("workload")
new = [head]
for r in body:
    if r[eng] == "native":
        if r[wl] == "cpuid":
            r = r[:val] + [repr(float(r[val]) * 1e4)] + r[val + 1:]
        new.append(r)
    elif r[eng] == "hw" and not r[head.index("params")].startswith("exit="):
        for e, f in (("bt", 0.5), ("qemu-tcg", 2.0)):
            new.append(r[:eng] + [e] + r[eng + 1:val] + [repr(float(r[val]) * f)] +
                       r[val + 1:])
csv.writer(open(out + "/samples.csv", "w"), lineterminator="\n").writerows(new)
def cell(name, cmd, status, reason=None):
    return {"name": name, "command": cmd, "axes": {}, "status": status, "reason": reason,
            "seconds": 1.0, "rows": None, "attempts": 1,
            "dir": f"cells/{name}" if status == "done" else None}
cells = [cell("native", "build/bin/nativebench --out '{out}'", "done"),
         cell("hw-nanobench", "build/bin/hvm run --engine hw --workload nanobench --out '{out}'",
              "skipped", "engine hw needs a usable KVM: /dev/kvm is absent on this host (no KVM)"),
         cell("bt-nanobench", "build/bin/hvm run --engine bt --workload nanobench --out '{out}'",
              "done"),
         cell("qemu-tcg-nanobench", "build/bin/hvpeer run --engine qemu-tcg --workload "
              "nanobench --out '{out}'", "done"),
         cell("qemu-kvm-nanobench", "build/bin/hvpeer run --engine qemu-kvm --workload "
              "nanobench --out '{out}'", "skipped", "exit 77 (skipped): hvlab: skipped: "
              "qemu-kvm needs a usable KVM: /dev/kvm is absent")]
counts = {"total": 5, "done": 3, "failed": 0, "skipped": 2, "pending": 0}
json.dump({"format": "hvlab-matrix-1", "matrix": "scripts/matrices/default.matrix",
           "command": "scripts/matrix.py scripts/matrices/default.matrix (test)",
           "state": "complete", "counts": counts, "cells": cells},
          open(out + "/matrix-summary.json", "w"), indent=1)
PY
if ! command -v gnuplot >/dev/null; then
	skip_n $N_FIGURES "figures of a partial run" "gnuplot is not installed (Debian package gnuplot-nox)"
else
	figs=$T/partial-figs
	if python3 "$ROOT/scripts/plot.py" "$partial" --out "$figs" >"$T/pplot.log" 2>&1; then
		ok "plot.py draws a run without hw and qemu-kvm (exit 0)"
	else
		bad "plot.py on a partial run" "$(grep -v 'left out' "$T/pplot.log" | tail -n 4 | tr '\n' ' ')"
	fi
	for f in nanobench-ratio nanobench-cycles workloads-ratio; do
		[ -s "$figs/$f.png" ] && ok "figure $f is drawn" || bad "figure $f" "no $figs/$f.png"
	done
	grep -q '^ymin = "1e-05"$' "$figs/nanobench-ratio.gp" &&
		ok "a ratio below 1e-4 (axis floor 1e-05) draws" ||
		bad "small-ratio floor" "$(grep '^ymin' "$figs/nanobench-ratio.gp")"
	if grep -l 'hw (KVM)\|QEMU KVM' "$figs"/*.dat >/dev/null 2>&1; then
		bad "absent engines" "$(grep -l 'hw (KVM)\|QEMU KVM' "$figs"/*.dat | tr '\n' ' ') name hw or qemu-kvm"
	else
		ok "no figure has a hw or qemu-kvm series"
	fi
	python3 - "$figs/index.json" <<'PY' && ok "index.json lists hw and qemu-kvm as not measured on this host" ||
import json, sys
nm = {n["engine"]: n for n in json.load(open(sys.argv[1]))["not_measured"]}
sys.exit(0 if set(nm) == {"hw", "qemu-kvm"} and
         all(n["label"] == "not measured on this host" and "KVM" in n["why"]
             for n in nm.values()) else 1)
PY
		bad "index not_measured" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("not_measured"))' "$figs/index.json")"

	# No native baseline: the engines' ratio series have nothing to draw and are left
	# out with a note, beside the published ratios; no samples at all: every figure is
	# skipped with a message, and plot.py still exits 0.
	nonat=$T/no-native
	mkdir -p "$nonat" && grep -v ',native,' "$partial/samples.csv" >"$nonat/samples.csv"
	if python3 "$ROOT/scripts/plot.py" "$nonat" >"$T/nonat.log" 2>&1 &&
	   grep -q 'bt (hvlab BT)/native (here): no value to draw' "$T/nonat.log" &&
	   ! grep -q 'bt (hvlab BT)' "$nonat/figures/nanobench-ratio.dat"; then
		ok "a series with nothing to draw is left out with a note, not drawn empty"
	else
		bad "empty series" "$(grep -v 'native .* not measured' "$T/nonat.log" | tail -n 4 | tr '\n' ' ')"
	fi
	none=$T/no-samples
	mkdir -p "$none" && head -n 1 "$partial/samples.csv" >"$none/samples.csv"
	if python3 "$ROOT/scripts/plot.py" "$none" >"$T/none.log" 2>&1 &&
	   python3 -c 'import json,sys
i = json.load(open(sys.argv[1]))
# every other figure (the shared ones and those of each experiment) is skipped with its reason
sys.exit(0 if [f["name"] for f in i["figures"]] == ["nanobench-ratio"] and
         len(i["skipped"]) >= 4 and all(str(s).strip() for s in i["skipped"]) else 1)' "$none/figures/index.json" &&
	   [ "$(head -n 1 "$none/figures/nanobench-ratio.dat")" = '"x" "A&A 2006 BT/native (P4)" "A&A 2006 VT-x/native (P4)"' ]; then
		ok "a run with no samples draws only the published ratios, says why not the rest, exits 0"
	else
		bad "no samples" "$(tail -n 4 "$T/none.log" | tr '\n' ' ')"
	fi

	rep=$T/partial-paper
	if python3 "$ROOT/scripts/report.py" "$partial" --out "$rep" >"$T/preport.log" 2>&1 &&
	   [ -s "$rep/report.tex" ]; then
		ok "report.py writes report.tex from a run without hw and qemu-kvm"
	else
		bad "report.py on a partial run" "$(grep -v 'left out' "$T/preport.log" | tail -n 4 | tr '\n' ' ')"
	fi
	tex=$T/partial-report.tex        # without LaTeX's line-break hints
	sed 's/\\allowbreak{}//g' "$rep/report.tex" >"$tex"
	for e in hw qemu-kvm; do
		grep -q "texttt{$e} & not measured on this host & " "$tex" &&
			ok "the Engines table says $e: not measured on this host, with the reason" ||
			bad "Engines table $e" "$(grep "texttt{$e} &" "$tex" | head -n 1 | cut -c1-120)"
	done
	grep -q 'texttt{bt} & yes & ' "$tex" && ok "the Engines table says bt was measured" ||
		bad "Engines table bt" "$(grep 'texttt{bt} &' "$tex" | head -n 1 | cut -c1-120)"
	grep -q 'texttt{syscall} & 1.0x & not measured on this host & -- & \\notmeasured & .*hw was not measured on this host' "$tex" &&
		ok "comparison row (VT-x vs hw, syscall): not measured on this host" ||
		bad "comparison row hw" "$(grep 'texttt{syscall} & 1.0x' "$tex" | head -n 1 | cut -c1-160)"
	grep -q 'texttt{syscall} & 9.4x & not measured on this host & -- & \\notmeasured' "$tex" &&
		ok "comparison row (BT vs VT-x, syscall) needs hw: not measured on this host" ||
		bad "comparison row bt/hw" "$(grep 'texttt{syscall} & 9.4x' "$tex" | head -n 1 | cut -c1-160)"
	grep -q 'texttt{syscall}\\newline{\\scriptsize different kernels} & 9.5x & [0-9.]*x & ' "$tex" &&
		ok "comparison row (BT vs bt, syscall) is measured" ||
		bad "comparison row bt" "$(grep 'texttt{syscall} & 9.5x' "$tex" | head -n 1 | cut -c1-160)"
	grep -q 'texttt{VT-x vs qemu-kvm} & [0-9.]*x & not measured on this host' "$tex" &&
		ok "forkwait row of the absent peer qemu-kvm: not measured on this host" ||
		bad "forkwait qemu-kvm row" "$(grep 'VT-x vs qemu-kvm' "$tex" | head -n 1 | cut -c1-160)"
	grep -q '^Not measured on this host: hw, qemu-kvm' "$tex" &&
		ok "the closing note names the engines not measured on this host" ||
		bad "closing note" "$(grep -i 'not measured' "$tex" | tail -n 2 | cut -c1-160)"
	if grep -q 'figures/nanobench-ratio' "$tex" && ! grep -q 'Not drawn: nanobench-ratio' "$tex"; then
		ok "the report includes the nanobench-ratio figure"
	else
		bad "report figure" "nanobench-ratio not included"
	fi
	if command -v latexmk >/dev/null; then
		if (cd "$rep" && timeout 180 latexmk -pdf -interaction=nonstopmode -halt-on-error \
			report.tex >"$T/platex.log" 2>&1) && [ -s "$rep/report.pdf" ]; then
			ok "the report PDF of a run without hw and qemu-kvm builds"
		else
			bad "partial report PDF" "$(grep -m3 '^!' "$rep/report.log")"
		fi
	else
		skip "partial report PDF" "latexmk is not installed (Debian packages latexmk texlive-latex-base texlive-latex-recommended)"
	fi
fi
