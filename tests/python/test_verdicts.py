"""Verdicts on published comparisons (scripts/hvtools/verdict.py, compare.py and each
experiment's compare.py), checked on hand-made runs: shapes that must hold, must not
hold (by direction or by magnitude), and rows that are not comparable or not measured."""
import csv
import json
import os
import shutil
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from hvtools import compare, experiments, rundata, verdict  # noqa: E402

EXPS = experiments.discover()
PUBLISHED = experiments.published(EXPS)
AA_EXP = [e for e in EXPS if "adams-agesen-2006" in e.published][0]
HEADER = ["experiment", "workload", "params", "engine", "memvirt", "flavour", "spinlock",
          "iopath", "segbase", "vcpus", "pcpus", "metric", "value", "unit", "rep"]


class RunBuilder:
    """A run directory written by hand: samples (three repetitions of each value given)
    and a summary with a context and notes."""

    def __init__(self, flavour="kvm_intel"):
        self.rows = []
        self.notes = {}
        self.context = {"kvm": {"present": True, "flavour": flavour, "paging": "ept"},
                        "tsc_hz": 2.0e9}

    def nano(self, engine, op, cycles, metric="cycles_per_op", flavour="full"):
        for rep in range(3):
            self.rows.append(["nanobench", op, "iters=1024", engine,
                              "native" if engine == "native" else "ept",
                              "-" if engine == "native" else flavour, "-", "-", "-", "1", "1",
                              metric, repr(cycles * (1 + 0.001 * rep)), "cycles", str(rep)])
        return self

    def workload(self, engine, w, value, metric="elapsed", unit="s"):
        for rep in range(3):
            self.rows.append([w, w, "-", engine, "native" if engine == "native" else "ept",
                              "-", "-", "-", "-", "1", "1", metric, repr(value), unit, str(rep)])
        return self

    def write(self, path):
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "samples.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(HEADER)
            w.writerows(self.rows)
        with open(os.path.join(path, "summary.json"), "w") as f:
            json.dump({"context": self.context, "notes": self.notes}, f)
        return rundata.Run(path)


class RunCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hvlab-verdicts-")
        self.exps = EXPS
        self.aa = PUBLISHED["adams-agesen-2006"]

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_of(self, builder, name="run"):
        return builder.write(os.path.join(self.tmp, name))

    def table(self, run, key):
        for t in experiments.all_tables(run, self.exps):
            if t.key == key:
                return t
        self.fail(f"no table {key}")

    def row(self, run, key, label):
        for r in self.table(run, key).rows:
            if r.label == label:
                return r
        self.fail(f"no row {label} in {key}")


class TestRule(unittest.TestCase):
    """verdict.judge alone: direction and magnitude."""

    def test_holds_when_class_and_magnitude_agree(self):
        v = verdict.judge(1.0165, 1.2, verdict.VS_NATIVE)
        self.assertEqual(v.kind, verdict.HOLDS)
        self.assertIs(v.holds, True)
        self.assertAlmostEqual(v.factor, 1.2 / 1.0165)

    def test_magnitude_fails_beyond_the_factor(self):
        # A&A's VT-x pgfault 10x against 88x: both slower, but 8.6x apart
        v = verdict.judge(10.29, 88.3, verdict.VS_NATIVE)
        self.assertEqual(v.kind, verdict.MAGNITUDE_FAILS)
        self.assertIs(v.holds, False)
        self.assertIn("magnitude does not", v.text)

    def test_magnitude_fails_below_one_third(self):
        v = verdict.judge(6.0, 1.8, verdict.VS_NATIVE)     # 0.3x the published
        self.assertEqual(v.kind, verdict.MAGNITUDE_FAILS)

    def test_factor_bounds_are_inclusive(self):
        self.assertEqual(verdict.judge(10.0, 30.0, verdict.VS_NATIVE).kind, verdict.HOLDS)
        self.assertEqual(verdict.judge(10.0, 30.1, verdict.VS_NATIVE).kind,
                         verdict.MAGNITUDE_FAILS)
        self.assertEqual(verdict.judge(30.0, 10.0, verdict.VS_NATIVE).kind, verdict.HOLDS)

    def test_direction_fails_across_classes(self):
        v = verdict.judge(1.0165, 443.0, verdict.VS_NATIVE)
        self.assertEqual(v.kind, verdict.DIRECTION_FAILS)
        self.assertIn("does not hold", v.text)

    def test_direction_fails_within_the_factor(self):
        # 1.4x (on par) against 1.6x (slower): close, but on two sides of 1.5
        v = verdict.judge(1.4, 1.6, verdict.VS_NATIVE)
        self.assertEqual(v.kind, verdict.DIRECTION_FAILS)

    def test_software_against_hardware(self):
        self.assertEqual(verdict.judge(0.35, 0.2, verdict.SW_VS_HW).kind, verdict.HOLDS)
        self.assertEqual(verdict.judge(0.35, 0.01, verdict.SW_VS_HW).kind,
                         verdict.MAGNITUDE_FAILS)
        self.assertEqual(verdict.judge(9.4, 0.5, verdict.SW_VS_HW).kind,
                         verdict.DIRECTION_FAILS)

    def test_not_comparable_has_no_verdict_and_no_factor(self):
        v = verdict.judge(12733.0, 0.49, verdict.VS_NATIVE, not_comparable="other operation")
        self.assertEqual(v.kind, verdict.NOT_COMPARABLE)
        self.assertIsNone(v.holds)
        self.assertIsNone(v.factor)

    def test_missing_ratio_is_not_measured(self):
        for p, m in ((None, 2.0), (2.0, None), (0.0, 2.0), (2.0, float("nan"))):
            v = verdict.judge(p, m, verdict.VS_NATIVE)
            self.assertEqual(v.kind, verdict.NOT_MEASURED, (p, m))
            self.assertIsNone(v.holds)

    def test_magnitude_bound_covers_one_papers_own_cpu_generations(self):
        # The factor's justification: A&A's figures of one quantity on the Pentium 4 and
        # the Core 2 stay within it (verdict.py's docstring).
        aa = PUBLISHED["adams-agesen-2006"]
        pairs = []
        for w in ("vm-entry", "pgfault-exit"):
            pairs.append((aa.value(experiment="exitcost", workload=w, cpu="pentium4-672"),
                          aa.value(experiment="exitcost", workload=w, cpu="core2")))
        for e in ("bt", "vtx"):
            pn = aa.value(experiment="forkwait", cpu="pentium4-672", engine="native")
            cn = aa.value(experiment="forkwait", cpu="core2", engine="native")
            pairs.append((aa.value(experiment="forkwait", cpu="pentium4-672", engine=e) / pn,
                          aa.value(experiment="forkwait", cpu="core2", engine=e) / cn))
        worst = max(max(a / b, b / a) for a, b in pairs)
        self.assertLessEqual(worst, verdict.MAGNITUDE)
        self.assertGreater(worst, verdict.MAGNITUDE / 1.5)   # and is not far below it


class TestNanobenchRows(RunCase):
    """A&A's VT-x/native against a hand-made hw run on a hardware (kvm_intel) host."""

    def hw_run(self, **over):
        nat = {"syscall": 100.0, "callret": 3.0, "pgfault": 1000.0, "divzero": 1000.0,
               "ptemod": 500.0}
        hw = {"syscall": 110.0, "callret": 2.9, "pgfault": 88000.0, "divzero": 1500.0,
              "ptemod": 3000.0}
        hw.update(over)
        b = RunBuilder()
        for op, c in nat.items():
            b.nano("native", op, c)
        for op, c in hw.items():
            if c is not None:
                b.nano("hw", op, c)
        b.notes["native.what.ptemod"] = "mprotect 1 page RW<->R (1 call = 1 op)"
        return self.run_of(b)

    def test_shape_holds(self):
        r = self.row(self.hw_run(), "hw vs VT-x", "callret")
        self.assertIs(r.holds, True)
        self.assertEqual(r.verdict.kind, verdict.HOLDS)
        self.assertNotEqual(r.factor, "--")

    def test_magnitude_fails_on_pgfault(self):
        r = self.row(self.hw_run(), "hw vs VT-x", "pgfault")
        self.assertIs(r.holds, False)
        self.assertEqual(r.verdict.kind, verdict.MAGNITUDE_FAILS)
        self.assertEqual(r.factor, "8.6x")

    def test_direction_fails_on_divzero(self):
        # 1.5x here (on par) against A&A's 1.14x holds; 1.6x does not
        self.assertIs(self.row(self.hw_run(), "hw vs VT-x", "divzero").holds, True)
        r = self.row(self.hw_run(divzero=1600.0), "hw vs VT-x", "divzero")
        self.assertEqual(r.verdict.kind, verdict.DIRECTION_FAILS)

    def test_ptemod_is_not_comparable(self):
        r = self.row(self.hw_run(), "hw vs VT-x", "ptemod")
        self.assertIsNone(r.holds)
        self.assertEqual(r.verdict.kind, verdict.NOT_COMPARABLE)
        self.assertEqual(r.factor, "--")
        self.assertIn("mprotect", r.sentence)

    def test_missing_engine_row_is_not_measured(self):
        r = self.row(self.hw_run(), "bt vs BT", "syscall")
        self.assertIsNone(r.holds)
        self.assertEqual(r.verdict.kind, verdict.NOT_MEASURED)

    def test_kernel_paths_are_labelled_different_kernels(self):
        run = self.hw_run()
        for op in ("syscall", "pgfault", "divzero"):
            r = self.row(run, "hw vs VT-x", op)
            self.assertEqual(r.tag, compare.DIFFERENT_KERNELS, op)
            self.assertIn("not a virtualization overhead", r.sentence)
        self.assertEqual(self.row(run, "hw vs VT-x", "callret").tag, "")

    def test_guest_kernel_instruction_counts_are_shown(self):
        b = RunBuilder()
        for e, c in (("native", 100.0), ("bt", 900.0)):
            b.nano(e, "syscall", c)
        b.nano("bt", "syscall", 57.0, metric="guest_kernel_insns_per_op")
        b.nano("bt", "syscall", 4.0, metric="guest_user_insns_per_op")
        r = self.row(self.run_of(b), "bt vs BT", "syscall")
        self.assertIn("hvlab's kernel executes 57 instructions per operation", r.sentence)
        self.assertIn("4.0 user-mode ones", r.sentence)

    def test_mechanisms_only_in_labelled_parts(self):
        # A mechanism ("because ...") may appear only as the paper's explanation or as a
        # hypothesis; the Published, Measured and Verdict parts state values.
        for flavour in ("kvm_intel", "kvm_pvm"):
            b = RunBuilder(flavour)
            for op, c in (("syscall", 100.0), ("callret", 3.0), ("pgfault", 1000.0)):
                b.nano("native", op, c).nano("hw", op, c * 50).nano("bt", op, c * 5)
            b.workload("native", "forkwait", 1.0).workload("hw", "forkwait", 30.0)
            run = self.run_of(b, flavour)
            for t in experiments.all_tables(run, self.exps):
                for r in t.rows:
                    for label, text in r.parts:
                        if label.startswith((compare.PAPER, compare.HYPOTHESIS)):
                            continue
                        self.assertNotIn("because", text, f"{t.key} {r.label} {label}")


class TestOtherTables(RunCase):
    def test_forkwait_magnitude_fails(self):
        # A&A's VT-x forkwait 18x against 302x: the example of a verdict that
        # held by direction alone
        b = RunBuilder()
        b.workload("native", "forkwait", 0.2).workload("hw", "forkwait", 60.5)
        r = self.row(self.run_of(b), "forkwait", "VT-x vs hw")
        self.assertEqual(r.verdict.kind, verdict.MAGNITUDE_FAILS)
        self.assertEqual(r.tag, compare.DIFFERENT_KERNELS)

    def test_forkwait_holds(self):
        b = RunBuilder()
        b.workload("native", "forkwait", 0.2).workload("hw", "forkwait", 5.0)
        r = self.row(self.run_of(b), "forkwait", "VT-x vs hw")
        self.assertIs(r.holds, True)

    def test_engine_counters_are_not_workload_figures(self):
        # hvm records the engine's own counters as experiment counters, workload W: they
        # must not stand in for W's figures, wherever they come in the samples
        b = RunBuilder()
        b.rows.append(["counters", "forkwait", "-", "hw", "ept", "full", "-", "-", "-", "1",
                       "1", "kvm_exits", "123456", "count", "0"])
        b.workload("native", "forkwait", 0.2).workload("hw", "forkwait", 5.0)
        r = self.row(self.run_of(b), "forkwait", "VT-x vs hw")
        self.assertEqual(r.measured, compare.fmt_ratio(25.0))

    def test_bt_against_hw(self):
        b = RunBuilder()
        for op, bt, hw in (("pgfault", 20000.0, 100000.0), ("callret", 7.0, 3.0),
                           ("syscall", 900.0, 100.0)):
            b.nano("bt", op, bt).nano("hw", op, hw)
        run = self.run_of(b)
        self.assertIs(self.row(run, "BT vs VT-x", "pgfault").holds, True)   # 0.2 vs 0.35
        self.assertIs(self.row(run, "BT vs VT-x", "callret").holds, True)   # 2.3 vs 4.6
        self.assertIs(self.row(run, "BT vs VT-x", "syscall").holds, True)   # 9.0 vs 9.4
        b.rows = [r for r in b.rows if not (r[1] == "syscall" and r[3] == "hw")]
        b.nano("hw", "syscall", 9000.0)                                       # 0.1: BT wins
        r = self.row(self.run_of(b, "other"), "BT vs VT-x", "syscall")
        self.assertEqual(r.verdict.kind, verdict.DIRECTION_FAILS)

    def test_qemu_tcg_compute(self):
        b = RunBuilder()
        b.workload("native", "compute", 1.0).workload("qemu-tcg", "compute", 4.0)
        r = self.row(self.run_of(b), "QEMU TCG", "spec2006-int vs compute")
        self.assertIs(r.holds, True)           # 4.0 against 6.0
        b2 = RunBuilder()
        b2.workload("native", "compute", 1.0).workload("qemu-tcg", "compute", 1.8)
        r = self.row(self.run_of(b2, "b2"), "QEMU TCG", "spec2006-int vs compute")
        self.assertEqual(r.verdict.kind, verdict.MAGNITUDE_FAILS)

    def test_barham_null_call_is_restated_from_the_paper(self):
        run = self.run_of(RunBuilder())
        r = self.row(run, "pv vs Xen (bt)", "null-call (syscall)")
        paper = [t for k, t in r.parts if k.startswith(compare.PAPER)]
        self.assertEqual(len(paper), 1)
        self.assertIn("without entering Xen", paper[0])
        self.assertNotIn("calls the hypervisor", r.sentence)

    def test_pv_rows_are_their_own_engine(self):
        # a pv guest's rows are "bt (pv)", never mixed into bt's: the Barham row takes
        # the pv median, and the pv-against-full table sets the two side by side
        b = RunBuilder()
        for c in (100.0, 110.0, 120.0):
            b.nano("native", "syscall", c).nano("bt", "syscall", c * 3)
            b.nano("bt", "syscall", c * 2, flavour="pv")
        run = self.run_of(b)
        self.assertEqual(run.engines(), ["native", "bt", "bt (pv)"])
        r = self.row(run, "pv vs Xen (bt)", "null-call (syscall)")
        self.assertEqual(r.measured, compare.fmt_ratio(2.0))
        exp = [e for e in self.exps if e.name == "pv-vs-xen"][0]
        t = [t for t in exp.measured_tables(run) if t.key == "pv vs full (bt)"][0]
        row = [x for x in t.rows if x[0] == "syscall"][0]
        self.assertEqual(row[3], compare.fmt_ratio(2 / 3))

    def test_full_rows_measured_beside_pv_are_their_own(self):
        # a run whose guest named flavour=full on its command line is the pv
        # comparison's full side, "bt (full)", and the pv-against-full table takes it
        # over the engine's default rows
        b = RunBuilder()
        b.notes["guest_cmdline"] = "workload=nanobench flavour=full"
        b.nano("native", "syscall", 100.0).nano("bt", "syscall", 300.0)
        run = self.run_of(b)
        self.assertEqual(run.engines(), ["native", "bt (full)"])
        exp = [e for e in self.exps if e.name == "pv-vs-xen"][0]
        self.assertEqual(exp.module("compare").full_of(run, "bt"), "bt (full)")

    def test_rows_of_a_named_spinlock_mode_are_their_own(self):
        # a guest that named its spinlock mode is a run of the spinlock experiment
        # (overcommitted vCPUs): its rows never pool with the engine's default ones
        b = RunBuilder()
        b.notes["guest_cmdline"] = "workload=forkwait wargs=procs=8 spinlock=pv-halt"
        b.workload("bt", "forkwait", 2.0)
        self.assertEqual(self.run_of(b).engines(), ["bt (pv-halt)"])

    def test_exit_cost_is_a_round_trip(self):
        r = self.row(self.run_of(RunBuilder()), "exit cost", "exit round trip / native syscall")
        # 2,409 (VM entry) + 1,931 (page-fault exit) = 4,340 cycles over 242
        self.assertEqual(r.published, compare.fmt_ratio(4340 / 242))
        self.assertIn("4,340", r.sentence)


class TestClosing(RunCase):
    def closing(self, run):
        return experiments.closing(run, self.exps)

    def test_no_unmeasured_claims_on_a_hardware_host(self):
        b = RunBuilder("kvm_intel")
        for op, c in (("syscall", 100.0), ("pgfault", 1000.0)):
            b.nano("native", op, c).nano("hw", op, c * 2)
        text = " ".join(self.closing(self.run_of(b)))
        self.assertNotIn("twenty years", text)
        self.assertNotIn("nested paging", text)
        self.assertNotIn("callret", text)          # no callret row: nothing said of it

    def test_callret_sentence_reads_its_row(self):
        b = RunBuilder("kvm_pvm")
        b.nano("native", "callret", 3.0).nano("hw", "callret", 30.0)
        text = " ".join(self.closing(self.run_of(b)))
        self.assertIn("callret", text)
        self.assertIn("does not hold", text)
        self.assertNotIn("keeps A&A's shape", text)

    def test_host_mechanism_is_a_labelled_hypothesis(self):
        b = RunBuilder("kvm_pvm")
        b.nano("native", "syscall", 100.0).nano("hw", "syscall", 40000.0)
        lines = self.closing(self.run_of(b))
        pvm = [l for l in lines if "kvm_pvm" in l]
        self.assertEqual(len(pvm), 1)
        self.assertTrue(pvm[0].startswith(compare.HYPOTHESIS))

    def test_counts_by_kind(self):
        b = RunBuilder()
        for op, nat, hw in (("callret", 3.0, 3.0), ("pgfault", 1000.0, 88000.0),
                            ("syscall", 100.0, 44300.0), ("ptemod", 500.0, 3000.0)):
            b.nano("native", op, nat).nano("hw", op, hw)
        first = self.closing(self.run_of(b))[0]
        self.assertIn("Of the 3 published shapes", first)
        self.assertIn("1 hold: callret (hw vs VT-x)", first)
        self.assertIn("1 keep the direction but not the magnitude: pgfault", first)
        self.assertIn("1 do not hold: syscall", first)


class TestFigures(RunCase):
    def test_ratio_figure_leaves_out_ptemod_and_labels_kernels(self):
        b = RunBuilder()
        for op in ("syscall", "callret", "ptemod"):
            b.nano("native", op, 100.0).nano("hw", op, 200.0)
        fig, why = AA_EXP.module("figures").nanobench_ratio(self.run_of(b), AA_EXP)
        self.assertIsNotNone(fig, why)
        self.assertNotIn("ptemod", fig.xlabels)
        self.assertIn("syscall (K)", fig.xlabels)
        self.assertIn("callret", fig.xlabels)
        self.assertTrue(any(l.startswith("ptemod: not comparable") for l in fig.left_out))
        self.assertIn("different kernels", fig.caption)


class TestPublishedSources(unittest.TestCase):
    def test_every_published_row_names_a_source(self):
        files = [os.path.join(e.path, "published", n + ".csv")
                 for e in EXPS for n in e.published]
        self.assertTrue(files)
        for f in files:
            p = rundata.Published(f)        # refuses a row without
            self.assertTrue(p.rows, f)
            for r in p.rows:
                s = r["source"]
                # a place in the document, or a statement that it is not confirmed
                self.assertTrue(any(w in s for w in ("not confirmed", "p. ", "Section",
                                                     "source", "TLFS", "abstract")), (f, s))

    def test_a_row_without_source_is_refused(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.csv")
            with open(p, "w") as f:
                f.write("# citation: a paper\nexperiment,workload,value,source\n"
                        "a,b,1,Table 1 p. 2\na,c,2,\n")
            with self.assertRaises(rundata.RunError) as cm:
                rundata.Published(p)
            self.assertIn("row 2", str(cm.exception))
            with open(p, "w") as f:
                f.write("# citation: a paper\nexperiment,workload,value\na,b,1\n")
            with self.assertRaises(rundata.RunError):
                rundata.Published(p)

    def test_separate_whitepapers_are_not_one_range(self):
        p = PUBLISHED["vmware-rvi-ept-2009"]
        metrics = {r["metric"] for r in p.rows}
        self.assertEqual(metrics, {"gain_up_to"})
        self.assertEqual(len({r["source"] for r in p.rows}), 2)


if __name__ == "__main__":
    unittest.main()
