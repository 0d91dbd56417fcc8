#!/usr/bin/env python3
"""Grades a lab: builds the tree, runs the lab's checks (labs/labs.txt,
labs/checks/labN.sh), prints the points of each and the total, and writes them as JSON.

    labs/grade.py --lab 2                    (make grade LAB=2; in a skeleton: make grade)
    labs/grade.py --lab 2 --no-build --only usertouch,cow

The JSON (default BUILD/grade-lab-N.json):
    {"lab": 2, "name": ..., "tests": [{"name", "points", "max", "passed", "line",
     "seconds"}], "points": P, "max": M, "total": "P/M", "seconds": S, "built": true}
"""
import argparse
import json
import os
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK_TIMEOUT = 300


def read_table(path=os.path.join(TOP, 'labs', 'labs.txt')):
    """{lab: {"name", "handout", "tests": [(check, points, what)]}}"""
    labs = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            w = line.split()
            if not w or w[0].startswith('#'):
                continue
            if w[0] == 'lab':
                labs[int(w[1])] = {'name': w[2], 'handout': w[3], 'tests': []}
            elif int(w[0]) in labs:
                labs[int(w[0])]['tests'].append((w[1], int(w[2]), ' '.join(w[3:])))
            else:
                raise SystemExit(f'{path}:{n}: a check of lab {w[0]} before its "lab" line')
    return labs


def build(make, build_dir, jobs, args=()):
    """Builds everything; returns (ok, the log's tail)."""
    p = subprocess.run([make, f'-j{jobs}', f'BUILD={build_dir}', *args, 'all'], cwd=TOP,
                       capture_output=True, text=True)
    log = (p.stdout + p.stderr).splitlines()
    return p.returncode == 0, [l for l in log if 'error' in l or 'warning' in l][:8] or log[-8:]


def run_check(lab, check, build_dir):
    """(passed, the check's line, seconds)."""
    env = dict(os.environ, HVLAB_BUILD=build_dir)
    t0 = time.monotonic()
    try:
        p = subprocess.run(['bash', os.path.join('labs', 'checks', f'lab{lab}.sh'), check],
                           cwd=TOP, env=env, capture_output=True, text=True,
                           timeout=CHECK_TIMEOUT)
        lines = [l for l in p.stdout.splitlines() if l.startswith(('ok - ', 'not ok - '))]
        line = lines[-1] if lines else f'not ok - {check}: printed no result (exit {p.returncode}): ' \
            + ' '.join((p.stdout + p.stderr).split()[-20:])
        passed = p.returncode == 0 and len(lines) == 1 and line.startswith('ok - ')
    except subprocess.TimeoutExpired:
        passed, line = False, f'not ok - {check}: still running after {CHECK_TIMEOUT} s'
    return passed, line, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--lab', type=int, required=True)
    ap.add_argument('--build', default='build', help='the build directory (default build)')
    ap.add_argument('--json', help='where the grade goes (default BUILD/grade-lab-N.json)')
    ap.add_argument('--only', help='these checks only (comma-separated)')
    ap.add_argument('--no-build', action='store_true', help='grade what is built')
    ap.add_argument('--make', default=os.environ.get('MAKE', 'make'))
    ap.add_argument('--jobs', default='2')
    ap.add_argument('--make-arg', action='append', default=[], help='passed to make (CC=clang, SAN=1)')
    ap.add_argument('--quiet', action='store_true', help='print the total line only')
    a = ap.parse_args()
    labs = read_table()
    if a.lab not in labs:
        ap.error(f'no lab {a.lab}: labs/labs.txt has {", ".join(map(str, sorted(labs)))}')
    lab = labs[a.lab]
    tests = lab['tests']
    if a.only:
        want = a.only.split(',')
        unknown = [w for w in want if w not in [t[0] for t in tests]]
        if unknown:
            ap.error(f'lab {a.lab} has no check {", ".join(unknown)}')
        tests = [t for t in tests if t[0] in want]
    say = (lambda *x: None) if a.quiet else print
    t0 = time.monotonic()
    built, why = (True, []) if a.no_build else build(a.make, a.build, a.jobs, a.make_arg)
    say(f'== lab {a.lab}: {lab["name"]} (handout: {lab["handout"]})')
    results = []
    if not built:
        say('the tree does not build:\n  ' + '\n  '.join(why))
    for check, pts, what in tests:
        if built:
            passed, line, secs = run_check(a.lab, check, a.build)
        else:
            passed, line, secs = False, f'not ok - {check}: the tree does not build', 0.0
        got = pts if passed else 0
        results.append({'name': check, 'points': got, 'max': pts, 'passed': passed,
                        'what': what, 'line': line, 'seconds': round(secs, 2)})
        say(f'  {check:<12} {got:>3}/{pts:<3} {line}')
    points, top = sum(r['points'] for r in results), sum(r['max'] for r in results)
    secs = time.monotonic() - t0
    print(f'lab {a.lab} ({lab["name"]}): {points}/{top} points ({secs:.1f} s)')
    out = a.json or os.path.join(TOP, a.build, f'grade-lab-{a.lab}.json')
    os.makedirs(os.path.dirname(out) or '.', exist_ok=True)
    with open(out, 'w') as f:
        json.dump({'lab': a.lab, 'name': lab['name'], 'handout': lab['handout'],
                   'built': built, 'tests': results, 'points': points, 'max': top,
                   'total': f'{points}/{top}', 'seconds': round(secs, 1)}, f, indent=1)
        f.write('\n')
    say(f'grade written to {os.path.relpath(out, TOP)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
