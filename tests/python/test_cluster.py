"""Matrix runs beyond one machine: a run whose cells were measured on two kinds of node
is read per kind (rundata.Run.by_host), and nothing that divides one value by another
takes the whole of it; the kind of a node (runner.host_kind); the Slurm job array's
task ids and time limits (slurm.py)."""
import contextlib
import csv
import io
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
from hvtools import experiments, figures, rundata, runner, slurm  # noqa: E402
from test_verdicts import HEADER, RunBuilder  # noqa: E402

EXPS = experiments.discover()
FAST = "Fast CPU, kvm_intel (ept)"
SLOW = "Slow CPU, kvm_intel (shadow-kvm)"


def write_matrix_run(path, kinds):
    """A matrix run by hand: per kind of node a native cell and an hw cell of syscall,
    each cell's directory, the merged samples.csv and matrix-summary.json with the kind
    of each cell, as the runner writes them. kinds: {kind: (native cycles, hw cycles)}."""
    merged, cells, hosts = [], [], {}
    for i, (kind, (native, hw)) in enumerate(kinds.items()):
        for engine, cycles in (("native", native), ("hw", hw)):
            name = f"{engine}-{i}"
            b = RunBuilder().nano(engine, "syscall", cycles)
            b.context["cpu_model"] = kind.split(",")[0]
            b.write(os.path.join(path, "cells", name))
            merged += b.rows
            command = "/b/nativebench --out {out}" if engine == "native" else \
                "/b/hvm run --engine hw --workload nanobench --out {out}"
            cells.append({"name": name, "command": command, "status": "done",
                          "host_kind": kind, "node": f"node{i}"})
            hosts.setdefault(kind, []).append(name)
    with open(os.path.join(path, "samples.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER)
        w.writerows(merged)
    with open(os.path.join(path, "summary.json"), "w") as f:
        json.dump({"context": {"host": "first cell; cells differ"}, "notes": {}}, f)
    with open(os.path.join(path, "matrix-summary.json"), "w") as f:
        json.dump({"state": "complete", "counts": {"total": len(cells), "done": len(cells)},
                   "hosts": hosts, "cells": cells}, f)
    return rundata.Run(path)


class TestByHost(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hvlab-cluster-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_one_kind_is_the_run_itself(self):
        run = write_matrix_run(self.tmp, {FAST: (100, 1000)})
        self.assertEqual(run.by_host(), [(FAST, run)])
        self.assertEqual(rundata.ratio_to_native(run, "syscall", "hw")[0], 10.0)

    def test_a_run_without_kinds_is_one_part(self):
        run = RunBuilder().nano("native", "syscall", 100).write(self.tmp)
        self.assertEqual(run.by_host(), [(None, run)])

    def test_a_torn_last_line_is_left_out(self):
        # SIGKILL can stop a row's write(2) at a page boundary: the reader drops the
        # part-row instead of reading a truncated value.
        run = RunBuilder().nano("native", "syscall", 100).nano("native", "syscall", 200)
        path = os.path.join(self.tmp, "torn")
        run.write(path)
        csv_path = os.path.join(path, "samples.csv")
        with open(csv_path, "rb") as f:
            data = f.read()
        with open(csv_path, "wb") as f:
            f.write(data[:-5])
        rows = rundata.Run(path).rows
        self.assertEqual(len(rows), 5)
        self.assertEqual(rows[-1]["rep"], "1")

    def test_each_kind_divides_by_its_own_native(self):
        run = write_matrix_run(self.tmp, {FAST: (100, 1000), SLOW: (1000, 3000)})
        parts = dict(run.by_host())
        self.assertEqual(list(parts), [FAST, SLOW])
        self.assertAlmostEqual(rundata.ratio_to_native(parts[FAST], "syscall", "hw")[0], 10.0)
        self.assertAlmostEqual(rundata.ratio_to_native(parts[SLOW], "syscall", "hw")[0], 3.0)
        self.assertEqual(len(parts[FAST].rows), 6)
        self.assertEqual({c["name"] for c in parts[SLOW].matrix["cells"]},
                         {"native-1", "hw-1"})
        self.assertEqual(parts[SLOW].context["cpu_model"], "Slow CPU")

    def test_nothing_divides_across_kinds(self):
        run = write_matrix_run(self.tmp, {FAST: (100, 1000), SLOW: (1000, 3000)})
        with self.assertRaisesRegex(rundata.RunError, "2 kinds of node"):
            rundata.ratio_to_native(run, "syscall", "hw")
        with self.assertRaises(rundata.RunError):
            experiments.tables(run, EXPS)
        with self.assertRaises(rundata.RunError):
            figures.all_figures(run, EXPS)

    @unittest.skipUnless(shutil.which("gnuplot"), "gnuplot is not installed (gnuplot-nox)")
    def test_one_report_per_kind(self):
        run = write_matrix_run(os.path.join(self.tmp, "run"), {FAST: (100, 1000),
                                                               SLOW: (1000, 3000)})
        out = os.path.join(self.tmp, "paper")
        with contextlib.redirect_stdout(io.StringIO()):
            self.assertEqual(report.main([run.path, "--out", out]), 0)
        for i, kind in ((1, FAST), (2, SLOW)):
            with open(os.path.join(out, f"host-{i}", "report.tex"), encoding="utf-8") as f:
                tex = f.read()
            self.assertIn("cells measured on " + kind.replace("_", r"\_"), tex)


class TestKindsAndArrays(unittest.TestCase):
    def test_host_kind_names_cpu_and_paging(self):
        self.assertEqual(runner.host_kind({"cpu_model": "X", "kvm": {
            "flavour": "kvm_amd", "paging": "npt"}}), "X, kvm_amd (npt)")
        self.assertEqual(runner.host_kind({"cpu_model": "X", "kvm": {
            "flavour": "none", "paging": "/dev/kvm is absent"}}), "X, no KVM")

    def test_slurm_ids_from_the_environment(self):
        self.assertIsNone(runner.slurm_ids({}))
        self.assertEqual(runner.slurm_ids({"SLURM_JOB_ID": "8", "SLURM_ARRAY_JOB_ID": "7",
                                           "SLURM_ARRAY_TASK_ID": "1"}),
                         {"job_id": "8", "array_job_id": "7", "array_task_id": "1"})

    def test_array_spec_and_time_limits(self):
        self.assertEqual(slurm.array_spec([8, 0, 1, 2, 5, 7]), "0-2,5,7-8")
        self.assertEqual(slurm.array_spec([3], 2), "3%2")
        # the cell's timeout, the runner's kill grace and the time to record, in minutes
        self.assertEqual([slurm.time_limit_minutes(t) for t in (1, 20, 40, 41, 100, 300)],
                         [1, 1, 1, 2, 2, 6])


if __name__ == "__main__":
    unittest.main()
