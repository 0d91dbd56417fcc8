"""Experiments as folders (scripts/hvtools/experiments.py) and engines as they describe
themselves (engines.py): every folder has the shape the next experiment copies, the
default matrix runs every experiment's cells once, the report says "not measured yet"
for a planned experiment, and nothing shared needs an engine's name."""
import csv
import json
import os
import shutil
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import report  # noqa: E402
from hvtools import engines, experiments, hostcheck, matrixfile, rundata  # noqa: E402
from test_verdicts import HEADER, RunBuilder  # noqa: E402

EXPS = experiments.discover()
BUILTINS = {"bin": "/nonexistent/bin", "root": ROOT}


def by_name(name):
    return [e for e in EXPS if e.name == name][0]


class TestFolders(unittest.TestCase):
    def test_every_experiment_has_the_shape(self):
        self.assertGreaterEqual(len(EXPS), 7)
        for e in EXPS:
            readme = e.file("README.md")
            self.assertIsNotNone(readme, e.name)
            with open(readme, encoding="utf-8") as f:
                text = f.read()
            self.assertIn("## Lab handout", text, e.name)
            self.assertTrue(e.title, e.name)
            m = e.matrix()
            if m:
                self.assertTrue(matrixfile.parse(m, BUILTINS).cells, e.name)
            if e.measured:
                self.assertTrue(hasattr(e.module("compare"), "tables"), e.name)

    def test_every_published_file_belongs_to_one_experiment(self):
        seen = {}
        for e in EXPS:
            for n in e.published:
                self.assertNotIn(n, seen, f"{n} in {e.name} and {seen.get(n)}")
                seen[n] = e.name
        self.assertFalse(os.path.isdir(os.path.join(ROOT, "results", "published")))

    def test_planned_experiments_say_not_measured_yet(self):
        run = RunBuilder().write(tempfile.mkdtemp(prefix="hvlab-exp-"))
        for name in ("live-migration",):
            e = by_name(name)
            self.assertFalse(e.measured, name)
            self.assertEqual(e.tables(run), [])
            head = "\n".join(report.experiment_head(run, e, []))
            self.assertIn("Not measured yet", head, name)
            self.assertTrue(e.awaiting(), name)       # its published figures wait

    def test_io_paths_without_io_samples(self):
        # a run without the io workload: every row says it was not measured, the
        # measured tables say "(none)", and the figures say why they are not drawn
        run = RunBuilder().write(tempfile.mkdtemp(prefix="hvlab-exp-"))
        e = by_name("io-paths")
        self.assertTrue(e.measured)
        for t in e.tables(run):
            self.assertTrue(t.rows, t.key)
            for r in t.rows:
                self.assertIsNone(r.holds, r.label)
        for t in e.measured_tables(run):
            self.assertEqual(t.rows[0][0], "(none)")
        for fig, why in e.figures(run):
            self.assertIsNone(fig)
            self.assertTrue(why)

    def test_no_engine_names_in_the_shared_scripts(self):
        # the runner, report and figures read engine descriptions instead
        for f in ("report.py", "plot.py", "hvtools/compare.py", "hvtools/figures.py",
                  "hvtools/hostcheck.py", "hvtools/runner.py", "hvtools/rundata.py"):
            with open(os.path.join(ROOT, "scripts", f), encoding="utf-8") as fh:
                text = fh.read()
            for name in ('"hw"', '"bt"', '"qemu-tcg"', '"qemu-kvm"'):
                self.assertNotIn(name, text, f"{f} names {name}")


class TestMatrices(unittest.TestCase):
    def test_default_matrix_runs_every_experiment_cell_once(self):
        m = matrixfile.parse(os.path.join(ROOT, "scripts", "matrices", "default.matrix"),
                             BUILTINS)
        names = [c.name for c in m.cells]
        self.assertEqual(len(names), len(set(names)))
        for e in EXPS:
            if e.matrix():
                for c in matrixfile.parse(e.matrix(), BUILTINS).cells:
                    self.assertIn(c.name, names, f"{e.name}: {c.name}")

    def test_include_merges_alike_and_refuses_unlike(self):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "x"))
            with open(os.path.join(d, "x", "a.matrix"), "w") as f:
                f.write("cell one: true {out}\ncell two: true {out}\n")
            with open(os.path.join(d, "top.matrix"), "w") as f:
                f.write("include x/*.matrix\ncell one: true {out}\ncell three: true {out}\n")
            m = matrixfile.parse(os.path.join(d, "top.matrix"), BUILTINS)
            self.assertEqual([c.name for c in m.cells], ["one", "two", "three"])
            self.assertIn("included: ", m.text())
            with open(os.path.join(d, "top.matrix"), "w") as f:
                f.write("include x/*.matrix\ncell one: false {out}\n")
            with self.assertRaises(matrixfile.MatrixError) as cm:
                matrixfile.parse(os.path.join(d, "top.matrix"), BUILTINS)
            self.assertIn("differs from the cell of that name", str(cm.exception))
            with open(os.path.join(d, "top.matrix"), "w") as f:
                f.write("include nothing/*.matrix\n")
            with self.assertRaises(matrixfile.MatrixError):
                matrixfile.parse(os.path.join(d, "top.matrix"), BUILTINS)


class TestEngines(unittest.TestCase):
    CAT = engines.Catalog([
        {"name": "xa", "kind": "vmm", "label": "xa (some VMM)", "family": "hardware",
         "needs": ["kvm"]},
        {"name": "xb", "kind": "peer", "label": "XB", "family": "translator",
         "needs": ["qemu"]}])

    def test_titles_come_from_the_description_or_a_rule(self):
        c = self.CAT
        self.assertEqual(c.title("xa"), "xa (some VMM)")
        self.assertEqual(c.title("xa (arch_prctl)"), "xa (some VMM, arch_prctl)")
        self.assertEqual(c.title("xb (v2)"), "XB (v2)")
        self.assertEqual(c.title("hw-tcg"), "hw under QEMU TCG")
        self.assertEqual(c.title("other"), "other")
        self.assertEqual(c.select(kind="peer"), ["xb"])
        self.assertEqual(c.select(family="hardware"), ["xa"])

    def test_host_check_follows_what_the_engine_needs(self):
        with tempfile.TemporaryDirectory() as d:
            absent = os.path.join(d, "kvm")
            why = hostcheck.engine_unavailable(["p", "run", "--engine", "xa"], absent, self.CAT)
            self.assertIn("engine xa needs a usable KVM", why)
            why = hostcheck.engine_unavailable(["p", "run", "--engine", "xb", "--qemu",
                                                os.path.join(d, "q")], absent, self.CAT)
            self.assertIn("engine xb needs", why)
            # an engine nobody described is left to its program
            self.assertIsNone(hostcheck.engine_unavailable(["p", "--engine", "zz"], absent,
                                                           self.CAT))


class TestBtVsTcg(unittest.TestCase):
    def test_ratio_per_row_with_spread_and_unmeasured_rows(self):
        e = by_name("bt-vs-tcg")
        c = e.module("compare")
        b = RunBuilder()
        b.nano(c.OURS, "syscall", 900.0).nano(c.PEER, "syscall", 300.0)
        b.nano(c.OURS, "cpuid", 50.0)
        b.workload(c.OURS, "forkwait", 2.0).workload(c.PEER, "forkwait", 4.0)
        run = b.write(tempfile.mkdtemp(prefix="hvlab-btvstcg-"))
        rows = {r[0]: r for r in c.ratios(run)}
        self.assertAlmostEqual(rows["syscall"][1], 3.0, places=2)
        lo, hi = rows["syscall"][2], rows["syscall"][3]
        self.assertTrue(lo <= rows["syscall"][1] <= hi)
        self.assertAlmostEqual(rows["forkwait (elapsed)"][1], 0.5, places=2)
        self.assertIsNone(rows["cpuid"][1])
        self.assertIn(c.PEER, rows["cpuid"][8])
        t = e.measured_tables(run)[0]
        self.assertEqual(len(t.rows), 3)
        figs = e.figures(run)
        self.assertEqual(len(figs), 1)
        fig, _ = figs[0]
        self.assertEqual(fig.xlabels, ["syscall", "forkwait (elapsed)"])
        self.assertTrue(any(l.startswith("cpuid") for l in fig.left_out))


class TestShadowVsEpt(unittest.TestCase):
    """ptwalk-sim's rows (written by `ptwalk-sim predict --out`) beside Bhargava et al.
    and VMware: each row judged, a run without them "not measured"."""

    def sim_run(self, rows):
        b = RunBuilder()
        for workload, params, memvirt, metric, value in rows:
            b.rows.append(["ptwalk-sim", workload, params, "ptwalk-sim", memvirt, "-", "-",
                           "-", "-", "0", "0", metric, repr(value), "count", "0"])
        return b.write(tempfile.mkdtemp(prefix="hvlab-simept-"))

    def test_predictions_are_judged_against_the_published_shapes(self):
        e = by_name("shadow-vs-ept")
        self.assertTrue(e.measured)
        self.assertFalse(e.awaiting())
        run = self.sim_run([
            ("sim-walkcache", "4x4", "nested", "cold_walk_refs", 24),
            ("sim-walkcache", "none", "-", "walk_latency_ratio_uncached", 4.0),
            ("sim-walkcache", "none", "nested", "cycles_per_access", 300.0),
            ("sim-walkcache", "pwc", "nested", "cycles_per_access", 240.0),
            ("sim-walkcache", "pwc+ntlb", "nested", "cycles_per_access", 240.0),
            ("sim-walkcache", "pwc+ntlb+2m-host", "nested", "cycles_per_access", 200.0),
            ("sim-walkcache", "default", "native", "cycles_per_access", 180.0),
            ("sim-ptchurn", "page=4k host=4k", "-", "shadow_over_nested", 5.0),
            ("sim-forkwait", "page=4k host=4k", "-", "shadow_over_nested", 0.5),
        ])
        rows = {r.label: r for t in e.tables(run) for r in t.rows}
        self.assertEqual(rows["2-D walk references, 4x4"].measured, "24")
        self.assertTrue(rows["2-D walk references, 4x4"].holds)
        self.assertTrue(rows["uncached 2-D walk / native walk"].holds)
        self.assertTrue(rows["2-D page-walk cache"].holds)           # +25%
        self.assertFalse(rows["nested TLB, further"].holds)          # +0%: no gain
        self.assertTrue(rows["best nested / native"].holds)          # 1.11x
        self.assertTrue(rows["intel-ept-vs-shadow: mmu-intensive-microbenchmarks"].holds)
        fw = rows["intel-ept-vs-shadow: mmu-intensive-benchmarks"]   # forkwait: shadow wins
        self.assertIn("does not hold", fw.verdict.text)
        self.assertIn("ptwalk-sim's prediction", fw.sentence)
        self.assertTrue(e.closing(run, e.tables(run)))

    def test_a_run_without_the_simulator_is_not_measured(self):
        e = by_name("shadow-vs-ept")
        run = RunBuilder().write(tempfile.mkdtemp(prefix="hvlab-simept-"))
        rows = [r for t in e.tables(run) for r in t.rows]
        self.assertTrue(rows)
        for r in rows:
            self.assertIsNone(r.holds, r.label)
            self.assertEqual(r.measured, "not measured")
        self.assertEqual(e.measured_tables(run), [])


def spin_run(path, cells):
    """A matrix run directory written by hand, as scripts/matrix.py merges one: cells/NAME/
    with each cell's samples and summary, the merged samples.csv and summary.json (its
    groups naming their cell), and matrix-summary.json with each cell's command. cells:
    [(name, engine, workload, vcpus, mode or None, threshold or None, {metric: [values]},
    {counter: value})]; mode None: a guest that named no spinlock mode."""
    def write(d, rows, summary):
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "samples.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(HEADER)
            w.writerows(rows)
        with open(os.path.join(d, "summary.json"), "w") as f:
            json.dump(summary, f)
    context = {"kvm": {"present": True, "flavour": "kvm_intel", "paging": "ept"},
               "tsc_hz": 2.0e9}
    all_rows, groups, notes, mcells = [], [], {}, []
    for name, engine, workload, vcpus, mode, thr, metrics, counters in cells:
        rows, cgroups = [], []
        sl = mode or "plain"
        for exp, vals in ((workload, metrics), ("counters", {k: [v] for k, v in
                                                             counters.items()})):
            for metric, values in vals.items():
                for rep, v in enumerate(values):
                    rows.append([exp, workload, "-", engine, "ept", "full", sl, "emul", "-",
                                 str(vcpus), "2", metric, repr(float(v)), "count", str(rep)])
                cgroups.append({"experiment": exp, "workload": workload, "params": "-",
                                "engine": engine, "memvirt": "ept", "flavour": "full",
                                "spinlock": sl, "iopath": "emul", "segbase": "-",
                                "vcpus": vcpus, "pcpus": 2, "metric": metric,
                                "unit": "count", "n": len(values),
                                "samples": [float(v) for v in values]})
        cmdline = f"workload={workload}" + (f" spinlock={mode}" if mode else "")
        cnotes = {"guest": {"spinlock": sl, "pagesize": "4k"}, "guest_cmdline": cmdline}
        write(os.path.join(path, "cells", name), rows,
              {"context": context, "notes": cnotes, "groups": cgroups})
        all_rows += rows
        groups += [dict(g, cell=name) for g in cgroups]
        notes.update({f"{name}.{k}": v for k, v in cnotes.items()})
        command = f"/b/hvm run --engine {engine} --vcpus {vcpus} --pin 0-1" + \
            (f" --spin-threshold {thr}" if thr else "") + \
            f" --workload {workload}" + (f" --cmdline spinlock={mode}" if mode else "") + \
            " --out x"
        mcells.append({"name": name, "command": command, "status": "done"})
    notes["merged_from"] = ", ".join(c["name"] for c in mcells)
    write(path, all_rows, {"context": context, "notes": notes, "groups": groups})
    with open(os.path.join(path, "matrix-summary.json"), "w") as f:
        json.dump({"format": "hvlab-matrix-1", "cells": mcells, "hosts": {}}, f)
    return rundata.Run(path)


class TestSpinlockEnlight(unittest.TestCase):
    """The spinlock experiment on a hand-made matrix run: plain and the two pv modes at
    1x and 4x overcommit, a threshold sweep point, SMP forkwait."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hvlab-spin-")
        self.e = by_name("spinlock-enlight")
        self.c = self.e.module("compare")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    @staticmethod
    def locks(ops, wasted, waiters=0.0):
        return {"ops_per_s": [ops * f for f in (0.9, 1.0, 1.1)],
                "wasted_cycles_per_op": [wasted] * 3,
                "waiter_preemptions": [waiters] * 3, "holder_preemptions": [1.0] * 3,
                "slow_per_op": [0.5] * 3, "hypercalls_per_op": [1.0] * 3,
                "wait_cycles_per_op": [1000.0] * 3}

    def run_of(self):
        t = self.c.THRESHOLD
        cells = []
        for trial in (1, 2):
            cells += [
                (f"bt-locks-2v-{trial}-plain", "bt", "locks", 2, "plain", t,
                 self.locks(100000, 50), {"host_vcpu_preemptions": 10}),
                (f"bt-locks-2v-{trial}-pv-yield", "bt", "locks", 2, "pv-yield", t,
                 self.locks(100000, 40), {"hcall_spin_notify": 3}),
                (f"bt-locks-2v-{trial}-pv-halt", "bt", "locks", 2, "pv-halt", t,
                 self.locks(98000, 30), {"hcall_spin_wait": 2, "hcall_spin_kick": 2}),
                (f"bt-locks-8v-{trial}-plain", "bt", "locks", 8, "plain", t,
                 self.locks(10000, 500000, waiters=40), {}),
                (f"bt-locks-8v-{trial}-pv-yield", "bt", "locks", 8, "pv-yield", t,
                 self.locks(30000, 50000), {"hcall_spin_notify": 9000}),
                (f"bt-locks-8v-{trial}-pv-halt", "bt", "locks", 8, "pv-halt", t,
                 self.locks(40000, 10000), {"hcall_spin_wait": 5000}),
            ]
        cells += [
            ("bt-locks-8v-1-pv-halt-t256", "bt", "locks", 8, "pv-halt", 256,
             self.locks(45000, 8000), {}),
            ("bt-locks-8v-1-pv-yield-t32768", "bt", "locks", 8, "pv-yield", None,
             self.locks(11000, 450000), {}),
            ("bt-forkwait-smp-8v-1-plain", "bt", "forkwait", 8, "plain", t,
             {"cycles_per_op": [4e6] * 3, "hypercalls_per_op": [0] * 3}, {}),
            ("bt-forkwait-smp-8v-1-pv-halt", "bt", "forkwait", 8, "pv-halt", t,
             {"cycles_per_op": [2e6] * 3, "hypercalls_per_op": [3] * 3}, {}),
            # another experiment's default forkwait: no mode named, not this one's
            ("bt-forkwait", "bt", "forkwait", 1, None, None,
             {"cycles_per_op": [1e6] * 3}, {}),
        ]
        return spin_run(os.path.join(self.tmp, "run"), cells)

    def measured(self, run, key):
        return [t for t in self.e.measured_tables(run) if t.key == key][0]

    def test_rows_are_labelled_by_the_mode_their_guest_named(self):
        run = self.run_of()
        self.assertEqual(run.engines(), ["bt (plain)", "bt (pv-yield)", "bt (pv-halt)", "bt"])
        # the default forkwait is not pooled with the overcommitted ones
        self.assertEqual(run.values(engine="bt", workload="forkwait",
                                    metric="cycles_per_op"), [1e6] * 3)

    def test_threshold_comes_from_the_command(self):
        t = self.c.threshold_of
        self.assertEqual(t("hvm run --spin-threshold 256 --cmdline spinlock=pv-halt", ""), 256)
        self.assertEqual(t("hvm run --spin-threshold 256 --cmdline 'spinlock=pv-halt "
                           "spinthreshold=64'", ""), 64)
        self.assertEqual(t("hvm run --cmdline spinlock=pv-halt", ""), self.c.DEFAULT_THRESHOLD)
        self.assertIsNone(t("", ""))

    def test_tables_of_throughput_waste_sweep_and_forkwait(self):
        run = self.run_of()
        self.assertTrue(self.e.measured)
        self.assertFalse(self.e.awaiting())
        th = self.measured(run, "spinlock throughput")
        self.assertEqual([r[0] for r in th.rows], ["bt, 1x (2 vCPUs)", "bt, 4x (8 vCPUs)"])
        four = th.rows[1]
        self.assertEqual(four[1], "10k (9.25-10.8k)")           # median (quartiles), n=6
        self.assertEqual(four[4], "3.0x, 4.0x")                  # pv-yield, pv-halt / plain
        waste = self.measured(run, "spinlock waste")
        self.assertEqual(waste.rows[1][4], "10x, 50x")           # plain / pv: the reduction
        pre = self.measured(run, "spinlock preemptions")
        self.assertIn(["bt, 4x, plain", "1", "40", "0.5", "1", "1k"], pre.rows)
        sweep = self.measured(run, "spinlock threshold sweep")
        self.assertEqual([r[:2] for r in sweep.rows],
                         [["(none)", "plain"], ["256", "pv-halt"],
                          [f"{self.c.THRESHOLD:,} (fixed)", "pv-yield"],
                          [f"{self.c.THRESHOLD:,} (fixed)", "pv-halt"],
                          [f"{self.c.DEFAULT_THRESHOLD:,} (Linux)", "pv-yield"]])
        df = self.measured(run, "spinlock default threshold")
        self.assertEqual(df.rows, [["bt, 4x (8 vCPUs)", "10k", "11k", "--", "0.5, --"]])
        fw = self.measured(run, "spinlock forkwait")
        # the default forkwait (no mode named) is not among them
        self.assertEqual([r[0] for r in fw.rows], ["bt, 4x, plain", "bt, 4x, pv-halt"])
        self.assertEqual(fw.rows[1][2:], ["2.0x", "3"])          # plain / pv-halt cycles

    def test_verdicts_against_the_kvm_postings(self):
        run = self.run_of()
        rows = {r.label: r for t in self.e.tables(run) for r in t.rows}
        one = rows["step 1 / 1x (bt)"]                           # 0.98x against +0.8%
        self.assertTrue(one.holds)
        self.assertEqual(one.tag, "different programs")
        four = rows["step 4 / 4x (bt)"]                          # 4x against +5%
        self.assertFalse(four.holds)
        self.assertIn("does not hold", four.verdict.text)
        self.assertIsNone(rows["step 2 / 2x (bt)"].holds)        # no 2x in this run
        self.assertIsNone(rows["step 1 / 1x (hw)"].holds)
        self.assertEqual(rows["kernbench 1x (bt)"].tag, "different mechanism")
        text = " ".join(self.e.closing(run, self.e.tables(run)))
        self.assertIn("collapse past 1x (each below half of 1x) holds", text)
        self.assertIn("cost of about nothing (within 0.9x-1.1x) holds for pv-yield", text)
        self.assertTrue(self.e.notes(run))

    def test_figures(self):
        run = self.run_of()
        figs = {f.name: f for f, _ in self.e.figures(run) if f}
        self.assertEqual(sorted(figs), ["spinlock-forkwait", "spinlock-threshold",
                                        "spinlock-throughput", "spinlock-wasted"])
        self.assertEqual(figs["spinlock-throughput"].xlabels, ["1x", "4x"])
        self.assertEqual(len(figs["spinlock-throughput"].series), 3)
        self.assertAlmostEqual(figs["spinlock-threshold"].refline, 10000)
        self.assertEqual(figs["spinlock-threshold"].xlabels,
                         ["256", f"{self.c.THRESHOLD:,}", f"{self.c.DEFAULT_THRESHOLD:,}"])

    def test_a_run_without_spinlock_cells(self):
        run = RunBuilder().write(os.path.join(self.tmp, "none"))
        for t in self.e.tables(run):
            for r in t.rows:
                self.assertIsNone(r.holds, r.label)
        self.assertEqual(self.e.measured_tables(run)[0].rows[0][0], "(none)")
        for fig, why in self.e.figures(run):
            self.assertIsNone(fig)
            self.assertTrue(why)
        self.assertEqual(self.e.closing(run, []), [])


if __name__ == "__main__":
    unittest.main()
