#!/usr/bin/env python3
"""Checks the cycles a QEMU peer's nanobenchmarks report: the guest's clock against the
host's, and the empty-loop harness against the marginal one. See tools/README.md,
"The guest's cycles against the host's clock".

  clock    Is a guest TSC cycle a host TSC cycle of real time? Under QEMU's TCG the
           guest's rdtsc is a helper call returning QEMU's cpu_get_ticks(): the host's
           TSC plus an offset (without -icount). Per operation and round, two runs of
               hvpeer run --engine ENGINE --workload nanobench:only=OP,reps=R,mincycles=M
           differing only in R (lo, hi), at the same calibrated iteration count n. The
           hi run does (hi - lo) more op runs and harness runs and prints (hi - lo) more
           result lines, nothing else. Then
               guest = the extra runs' guest TSC cycles (the records' cycles + 2 *
                       baseline) / the guest TSC rate
               host  = the difference of the runs' host CLOCK_MONOTONIC time from QEMU's
                       first console output to its exit (hvpeer's qemu_seconds -
                       startup_to_first_output_us), less the time to print the extra
                       lines (the same difference with mincycles=1, runs of ~nothing)
           and guest / host should be 1. This uses nothing the guest says about time
           but its loop cycles. Each run's own check (hvpeer's guest_tsc_vs_host_clock
           note: the kernel's tsc_start and tsc_end records against their arrival) is
           printed beside it.

  harness  Does subtracting an empty loop give an operation's cost? Rounds of
               nanobench:only=OPS,reps=R,harness=empty
               nanobench:only=OPS,reps=R,harness=marginal
           alternating. The first gives (loop with the op - empty loop) / n, what every
           run reports; the second (loop with the op twice - loop with it once) / n, the
           cost of one more operation with the loop's own cost cancelled whatever it
           overlaps. Prints both medians and quartiles per operation.

usage: hv-minimal/tools/tcg-clock-check.py clock [--ops cpuid,ptemod,syscall]
           [--rounds 5] [--reps 1,49] [--mincycles 2^28] [--tolerance 0.05]
       hv-minimal/tools/tcg-clock-check.py harness [--ops cpuid,ptemod,rdtsc,callret]
           [--rounds 10] [--reps 9]
       common: [--engine qemu-tcg] [--build build]
Exit status: 0; 1 when a clock ratio (the median per operation, or a run's own
check over half a second or more) lies outside the tolerance; 2 on usage or run
errors."""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HVR = re.compile(r"^@hvr (.*)$")


def parse_records(console):
    """The nanobench records of a console log: list of dicts with ints."""
    out = []
    with open(console, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = HVR.match(line.strip())
            if not m:
                continue
            kv = dict(p.split("=", 1) for p in m.group(1).split() if "=" in p)
            if kv.get("kind") != "nanobench":
                continue
            out.append({"name": kv["name"], "iters": int(kv["iters"]),
                        "cycles": int(kv["cycles"]), "baseline": int(kv["baseline"])})
    return out


class Runner:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="tcg-clock-check.")
        self.count = 0
        self.own = []           # each run's (guest_tsc_vs_host_clock, host span s)

    def run(self, wargs):
        self.count += 1
        out = os.path.join(self.tmp, f"run{self.count}")
        cmd = [os.path.join(self.a.build, "bin", "hvpeer"), "run", "--engine", self.a.engine,
               "--workload", f"nanobench:{wargs}", "--out", out]
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            sys.exit(f"tcg-clock-check: {' '.join(cmd)} exited {r.returncode}:\n{r.stderr}")
        with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
            notes = json.load(f)["notes"]
        own = notes.get("guest_tsc_vs_host_clock")
        if isinstance(own, (int, float)):
            self.own.append((own, notes.get("host_clock_span_s", 0)))
        res = {"seconds": float(notes["qemu_seconds"]) -
               float(notes["startup_to_first_output_us"]) / 1e6,
               "tsc_khz": float(notes["guest_tsc_khz"]),
               "recs": parse_records(os.path.join(out, "console.log"))}
        shutil.rmtree(out, ignore_errors=True)
        return res

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def pow2(s):
    s = s.strip()
    return 1 << int(s[2:]) if s.startswith("2^") else int(s, 0)


def quart(v):
    if len(v) < 2:
        return v[0], v[0], v[0]
    q1, q2, q3 = statistics.quantiles(v, n=4, method="inclusive")
    return q1, q2, q3


def cmd_clock(a, runner):
    lo, hi = (int(x) for x in a.reps.split(","))
    if not 1 <= lo < hi <= 64:
        sys.exit("tcg-clock-check: --reps lo,hi with 1 <= lo < hi <= 64")
    bad = False
    print(f"clock: engine {a.engine}; reps {lo} vs {hi}; {a.rounds} rounds; host clock "
          f"CLOCK_MONOTONIC (clocksource {clocksource()})")
    for op in a.ops.split(","):
        ratios = []
        # A probe finds the n that mincycles gives; the pairs then ask for 0.7 of that
        # run's cycles, so that the doubling usually stops at the same n.
        probe = [x for x in runner.run(f"only={op},reps=1,mincycles={a.mincycles}")["recs"]
                 if x["name"] == op][0]
        m = max(1, int(0.7 * (probe["cycles"] + probe["baseline"])))
        rnd = 0
        # A pair whose runs calibrated different n is retried, up to 3 * rounds pairs.
        while len(ratios) < a.rounds and rnd < 3 * a.rounds:
            rnd += 1
            res = {}
            for key, mc in (("plo", 1), ("phi", 1), ("lo", m), ("hi", m)):
                reps = lo if key in ("plo", "lo") else hi
                r = runner.run(f"only={op},reps={reps},mincycles={mc}")
                r["recs"] = [x for x in r["recs"] if x["name"] == op]
                if len(r["recs"]) != reps:
                    sys.exit(f"tcg-clock-check: {len(r['recs'])} {op} records, expected {reps}")
                res[key] = r
            hz = res["hi"]["tsc_khz"] * 1e3

            def extra_guest(r):
                return sum(x["cycles"] + 2 * x["baseline"] for x in r["recs"][lo:]) / hz
            printing = res["phi"]["seconds"] - res["plo"]["seconds"] - extra_guest(res["phi"])
            n_lo, n_hi = res["lo"]["recs"][0]["iters"], res["hi"]["recs"][0]["iters"]
            if n_lo != n_hi:
                print(f"  {op} round {rnd}: iteration counts differ ({n_lo} vs {n_hi}), "
                      "pair skipped")
                continue
            guest = extra_guest(res["hi"])
            host = res["hi"]["seconds"] - res["lo"]["seconds"]
            ratio = guest / (host - printing)
            ratios.append(ratio)
            recs = res["hi"]["recs"]
            net = statistics.median(x["cycles"] / n_hi for x in recs)
            harness = statistics.median(x["baseline"] / n_hi for x in recs)
            print(f"  {op} round {rnd}: n={n_hi}; {hi - lo} extra reps: guest TSC "
                  f"{guest:.4f} s, host {host:.4f} s less printing {printing:.4f} s: "
                  f"ratio {ratio:.4f}; per op: net {net:.2f}, harness {harness:.2f} cycles")
        if not ratios:
            print(f"{op}: no usable pair")
            bad = True
            continue
        med = statistics.median(ratios)
        ok = abs(med - 1) <= a.tolerance
        bad |= not ok
        print(f"{op}: guest TSC / host clock = {med:.4f} (median of {len(ratios)}; min "
              f"{min(ratios):.4f} max {max(ratios):.4f}); {'within' if ok else 'OUTSIDE'} "
              f"{a.tolerance:.0%} of 1")
    return bad


def cmd_harness(a, runner):
    ops = a.ops.split(",")
    got = {}
    print(f"harness: engine {a.engine}; ops {'+'.join(ops)}; reps {a.reps} per run; "
          f"{a.rounds} rounds of empty and marginal runs, alternating")
    for _ in range(a.rounds):
        for h in ("empty", "marginal"):
            r = runner.run(f"only={'+'.join(ops)},reps={a.reps},harness={h}")
            for x in r["recs"]:
                got.setdefault((x["name"], h), []).append(
                    (x["cycles"] / x["iters"], x["baseline"] / x["iters"]))
    print(f"{'op':<10} {'empty: net':>11} {'(q1-q3)':>15} {'harness':>8}   "
          f"{'marginal':>9} {'(q1-q3)':>15} {'1-op loop':>9}   {'empty/marg':>10}  n")
    for op in ops:
        e, m = got.get((op, "empty"), []), got.get((op, "marginal"), [])
        if not e or not m:
            print(f"{op:<10} not measured (no records)")
            continue
        eq, mq = quart([x[0] for x in e]), quart([x[0] for x in m])
        eh = statistics.median(x[1] for x in e)
        mh = statistics.median(x[1] for x in m)
        print(f"{op:<10} {eq[1]:>11.2f} {f'({eq[0]:.2f}-{eq[2]:.2f})':>15} {eh:>8.2f}   "
              f"{mq[1]:>9.2f} {f'({mq[0]:.2f}-{mq[2]:.2f})':>15} {mh:>9.2f}   "
              f"{eq[1] / mq[1] if mq[1] else float('nan'):>10.2f}  {len(e)},{len(m)}")
    print("(cycles per operation, guest TSC; medians and quartiles over every repetition of "
          "every round)")
    return False


def clocksource():
    try:
        with open("/sys/devices/system/clocksource/clocksource0/current_clocksource") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def main(argv):
    ap = argparse.ArgumentParser(prog="tcg-clock-check.py",
                                 description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, ops, rounds, reps in (("clock", "cpuid,ptemod,syscall", 5, "1,49"),
                                    ("harness", "cpuid,ptemod,rdtsc,callret", 10, "9")):
        p = sub.add_parser(name)
        p.add_argument("--ops", default=ops)
        p.add_argument("--rounds", type=int, default=rounds)
        p.add_argument("--reps", default=reps)
        p.add_argument("--engine", default="qemu-tcg")
        p.add_argument("--build", default="build")
        if name == "clock":
            p.add_argument("--mincycles", default="2^28", type=pow2)
            p.add_argument("--tolerance", type=float, default=0.05)
    a = ap.parse_args(argv)
    if a.rounds < 1:
        ap.error("--rounds must be at least 1")
    runner = Runner(a)
    try:
        bad = cmd_clock(a, runner) if a.cmd == "clock" else cmd_harness(a, runner)
        own = [r for r, s in runner.own]
        if own:
            tol = getattr(a, "tolerance", 0.05)
            long_bad = [r for r, s in runner.own if s >= 0.5 and abs(r - 1) > tol]
            print(f"each run's own check (guest_tsc_vs_host_clock, {len(own)} runs): median "
                  f"{statistics.median(own):.4f}, min {min(own):.4f}, max {max(own):.4f}; "
                  f"{len(long_bad)} runs of 0.5 s or more outside {tol:.0%} of 1")
            bad |= bool(long_bad)
    finally:
        runner.close()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
