"""Experiments as folders (scripts/hvtools/experiments.py) and engines as they describe
themselves (engines.py): every folder has the shape the next experiment copies, the
default matrix runs every experiment's cells once, the report says "not measured yet"
for a planned experiment, and nothing shared needs an engine's name."""
import os
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import report  # noqa: E402
from hvtools import engines, experiments, hostcheck, matrixfile  # noqa: E402
from test_verdicts import RunBuilder  # noqa: E402

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
        for name in ("spinlock-enlight",):
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


if __name__ == "__main__":
    unittest.main()
