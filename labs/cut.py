#!/usr/bin/env python3
"""Writes a lab's skeleton tree: a copy of hvlab's tracked files in which the code
between lab N's markers is replaced by its stub (labs/stubs/labN/TAG.c.in). Every
other lab's code stays, so no lab depends on another's being solved.

    /* LAB 2 BEGIN: shadow-fill */      kept in the skeleton
    ... the reference solution ...      replaced by labs/stubs/lab2/shadow-fill.c.in
    /* LAB 2 END: shadow-fill */        kept

    labs/cut.py --lab 2 --out build/labs/lab-2
    labs/cut.py --lab 2 --out DIR --fill labs/broken/lab2-no-us.sed   (a broken solution:
        the reference run through the sed script instead of the stub)
    labs/cut.py --check                 every marker pairs up and has its stub
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lab_numbers(src=TOP):
    """The labs labs/labs.txt lists ("lab N NAME HANDOUT" lines)."""
    with open(os.path.join(src, 'labs', 'labs.txt')) as f:
        return [int(w[1]) for w in (line.split() for line in f) if len(w) > 1 and w[0] == 'lab']


LABS = lab_numbers()
BEGIN = re.compile(r'^\s*/\* LAB (\d+) BEGIN: ([a-z0-9-]+) \*/\s*$')
END = re.compile(r'^\s*/\* LAB (\d+) END: ([a-z0-9-]+) \*/\s*$')
# What a skeleton leaves out: the broken solutions (they show the reference's code).
NOT_COPIED = ('labs/broken/',)
SOURCES = ('.c', '.h', '.S')    # the files markers may be in
MANIFEST = 'labs/MANIFEST'     # the file list of a skeleton, which is no git checkout
THIS_LAB = 'labs/this-lab'     # which lab a skeleton is (make grade reads it)


class CutError(Exception):
    pass


def tracked_files(src):
    """The files of the tree: git's tracked files, or a skeleton's manifest."""
    try:
        out = subprocess.run(['git', '-C', src, 'ls-files', '-z'], check=True,
                             capture_output=True).stdout.decode()
        return [f for f in out.split('\0') if f]
    except (subprocess.CalledProcessError, FileNotFoundError):
        with open(os.path.join(src, MANIFEST)) as f:
            return [line.rstrip('\n') for line in f if line.strip()]


def regions(path, lines):
    """[(lab, tag, begin index, end index)] of a file's marked regions."""
    found, open_ = [], None
    for i, line in enumerate(lines):
        b, e = BEGIN.match(line), END.match(line)
        if b:
            if open_:
                raise CutError(f'{path}:{i + 1}: LAB {b[1]} BEGIN inside LAB {open_[0]} {open_[1]}')
            open_ = (int(b[1]), b[2], i)
        elif e:
            if not open_ or (int(e[1]), e[2]) != open_[:2]:
                raise CutError(f'{path}:{i + 1}: LAB {e[1]} END: {e[2]} without its BEGIN')
            found.append((open_[0], open_[1], open_[2], i))
            open_ = None
        elif 'LAB' in line and re.search(r'/\* LAB \d+ (BEGIN|END)', line):
            raise CutError(f'{path}:{i + 1}: a malformed marker: {line.strip()}')
    if open_:
        raise CutError(f'{path}: LAB {open_[0]} BEGIN: {open_[1]} is never closed')
    return found


def stub_path(src, lab, tag):
    return os.path.join(src, 'labs', 'stubs', f'lab{lab}', f'{tag}.c.in')


def read_text(path):
    try:
        with open(path, encoding='utf-8') as f:
            return f.read()
    except UnicodeDecodeError:
        return None


def sed(script, text):
    return subprocess.run(['sed', '-f', script], input=text, check=True,
                          capture_output=True, text=True).stdout


def cut_text(src, path, text, lab, fill):
    """The file's text with lab's regions cut (or filled); None when it has none."""
    lines = text.split('\n')
    mine = [r for r in regions(path, lines) if r[0] == lab]
    if not mine:
        return None, 0
    changed = 0
    for _, tag, b, e in reversed(mine):
        body = '\n'.join(lines[b + 1:e])
        if fill:
            new = sed(fill, body + '\n').rstrip('\n')
            changed += new != body
        else:
            sp = stub_path(src, lab, tag)
            if not os.path.exists(sp):
                raise CutError(f'{path}: LAB {lab} {tag} has no stub ({os.path.relpath(sp, src)})')
            with open(sp) as f:
                new = f.read().rstrip('\n')
        lines[b + 1:e] = new.split('\n')
    return '\n'.join(lines), changed


def check(src):
    """Every marker pairs up and has its stub, every stub is used, every lab has code."""
    used, problems = set(), []
    for path in tracked_files(src):
        if not path.endswith(SOURCES) or not os.path.isfile(os.path.join(src, path)):
            continue
        text = read_text(os.path.join(src, path))
        if text is None or 'LAB' not in text:
            continue
        try:
            for lab, tag, _, _ in regions(path, text.split('\n')):
                used.add((lab, tag))
                if not os.path.exists(stub_path(src, lab, tag)):
                    problems.append(f'{path}: LAB {lab} {tag} has no stub')
        except CutError as e:
            problems.append(str(e))
    for lab in LABS:
        if not any(u[0] == lab for u in used):
            problems.append(f'lab {lab} has no marked code')
        d = os.path.join(src, 'labs', 'stubs', f'lab{lab}')
        for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if f.endswith('.c.in') and (lab, f[:-5]) not in used:
                problems.append(f'labs/stubs/lab{lab}/{f} is no region\'s stub')
    return sorted(used), problems


def seed_build(build, out):
    """Copies a built tree's objects into the skeleton's build directory, so that make
    rebuilds only what the cut changed (the copies keep their times; the cut files are
    newer). Objects that embed the source directory's path are left to be rebuilt."""
    dst = os.path.join(out, 'build')
    skel = os.path.abspath(out)
    for root, dirs, files in os.walk(build):
        dirs[:] = [d for d in dirs if os.path.abspath(os.path.join(root, d)) != skel
                   and not (root == build and d in ('labs', 'clang', 'san'))]
        rel = os.path.relpath(root, build)
        os.makedirs(os.path.join(dst, rel), exist_ok=True)
        for f in files:
            if f in ('run.o', 'context.o') or f.startswith(('hvpeer_', 'grade-')):
                continue
            shutil.copy2(os.path.join(root, f), os.path.join(dst, rel, f))


def write_skeleton(src, lab, out, fill=None, force=False, seed=None):
    if os.path.exists(out) and os.listdir(out) and not force:
        raise CutError(f'{out} exists (your work?): remove it, or give FORCE=1 / --force')
    files = [f for f in tracked_files(src) if not f.startswith(NOT_COPIED)]
    cut, changed = [], 0
    for path in files:
        s, d = os.path.join(src, path), os.path.join(out, path)
        if not os.path.isfile(s):
            continue
        os.makedirs(os.path.dirname(d) or '.', exist_ok=True)
        text = read_text(s) if path.endswith(SOURCES) else None
        new, n = cut_text(src, path, text, lab, fill) if text and 'LAB' in text else (None, 0)
        if new is None:
            if os.path.exists(d):
                os.remove(d)
            shutil.copy2(s, d)
            continue
        with open(d, 'w') as f:
            f.write(new)
        shutil.copymode(s, d)
        cut.append(path)
        changed += n
    if not cut:
        raise CutError(f'lab {lab}: no file has LAB {lab} markers')
    if fill and not changed:
        raise CutError(f'{fill} changes nothing in lab {lab}\'s code: is it stale?')
    with open(os.path.join(out, MANIFEST), 'w') as f:
        f.write(''.join(p + '\n' for p in files))
    with open(os.path.join(out, THIS_LAB), 'w') as f:
        f.write(f'{lab}\n')
    if seed:
        seed_build(seed, out)
    return cut


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--lab', type=int, choices=LABS)
    ap.add_argument('--out', help='where the skeleton goes (default build/labs/lab-N)')
    ap.add_argument('--fill', help='a sed script: fill the regions with the reference run through it')
    ap.add_argument('--force', action='store_true', help='write over an existing skeleton')
    ap.add_argument('--seed-build', help='copy this build directory in (tests: incremental builds)')
    ap.add_argument('--check', action='store_true', help='check the markers and stubs, write nothing')
    a = ap.parse_args()
    try:
        if a.check:
            used, problems = check(TOP)
            for p in problems:
                print(f'cut.py: {p}')
            print(f'{len(used)} regions in {len(set(u[0] for u in used))} labs'
                  + (f', {len(problems)} problems' if problems else ', all with stubs'))
            return 1 if problems else 0
        if not a.lab:
            ap.error('give --lab N (or --check)')
        out = a.out or os.path.join(TOP, 'build', 'labs', f'lab-{a.lab}')
        cut = write_skeleton(TOP, a.lab, out, a.fill, a.force, a.seed_build)
        what = f'filled through {a.fill}' if a.fill else 'cut'
        print(f'lab {a.lab}: skeleton in {out}; {what}: {", ".join(cut)}')
        if not a.fill:
            print(f'  cd {out} && make grade      (the handout: labs/README.md lists where)')
        return 0
    except CutError as e:
        print(f'cut.py: {e}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
