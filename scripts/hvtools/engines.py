"""Engines as they describe themselves: `hvm engines --json` and `hvpeer engines --json`
(hv-minimal/include/hvlab/engine_desc.h) give each engine's name, kind (an engine of
hvm, or a QEMU peer), label, family (hardware or translator), what it needs of the host,
whether this host can run it and why not, its memvirt and its mode columns.

The runner asks each cell's program once and keeps the answers in the run directory
(engines.json), so a report built elsewhere reads what the measuring host said. The
runner and the report know engines only through this; "native" is the host without a
hypervisor, the baseline every ratio divides by, and not an engine."""
import json
import os
import subprocess

NATIVE = "native"
FILE = "engines.json"
FORMAT = "hvlab-engines-1"
PROGRAMS = ("hvm", "hvpeer")
HARDWARE, TRANSLATOR = "hardware", "translator"


class Engine:
    def __init__(self, d):
        self.name = d["name"]
        self.kind = d.get("kind", "")
        self.program = d.get("program", "")
        self.label = d.get("label") or self.name
        self.family = d.get("family") or ""
        self.description = d.get("description") or ""
        self.needs = list(d.get("needs") or [])
        self.available = bool(d.get("available"))
        self.skip_reason = d.get("skip_reason")
        self.memvirt = d.get("memvirt")
        self.mode_columns = list(d.get("mode_columns") or [])
        self.raw = d


class Catalog:
    """Engine descriptions by name, in the order the programs gave them."""

    def __init__(self, descriptions=()):
        self.by_name = {}
        for d in descriptions:
            if isinstance(d, dict) and d.get("name") and d["name"] not in self.by_name:
                self.by_name[d["name"]] = Engine(d)

    def __contains__(self, name):
        return name in self.by_name

    def get(self, name):
        return self.by_name.get(name)

    def names(self):
        return list(self.by_name)

    def select(self, kind=None, family=None):
        return [e.name for e in self.by_name.values()
                if (kind is None or e.kind == kind) and (family is None or e.family == family)]

    def add(self, other):
        for n, e in other.by_name.items():
            self.by_name.setdefault(n, e)

    def to_json(self):
        return {"format": FORMAT, "engines": [e.raw for e in self.by_name.values()]}

    def title(self, name):
        """A legend title: the engine's label; a second segbase of one engine ("bt
        (arch_prctl)", rundata) keeps its suffix; an engine nobody described gets a
        title by rule: NAME-tcg is NAME run inside QEMU's TCG (the nested test bed)."""
        base, sep, variant = name.partition(" (")
        e = self.get(base)
        if e and sep:
            label = e.label
            return label[:-1] + ", " + variant if label.endswith(")") else \
                f"{label} ({variant}"
        if e:
            return e.label
        if name.endswith("-tcg") and name != "-tcg":
            return f"{name[:-4]} under QEMU TCG"
        return name


def describe_program(program, timeout=60):
    """The descriptions a program gives of its engines ([] when it cannot: not built,
    a stand-in, an older build without `engines`)."""
    try:
        r = subprocess.run([program, "engines", "--json"], capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            return []
        d = json.loads(r.stdout)
    except (OSError, ValueError, subprocess.SubprocessError):
        return []
    return d.get("engines", []) if isinstance(d, dict) else []


def describe(bin_dir):
    """A catalog from the programs in bin_dir."""
    out = []
    for p in PROGRAMS:
        out += describe_program(os.path.join(bin_dir, p))
    return Catalog(out)


def load(path):
    """The catalog saved in a file (a run directory's engines.json), or None."""
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, ValueError):
        return None
    return Catalog(d.get("engines", []) if isinstance(d, dict) else [])


def save(catalog, path):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(catalog.to_json(), f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def default_bin():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    build = os.environ.get("BUILD", "build")
    return os.path.join(root, build, "bin")


_for_run = {}


def for_run(run):
    """The engines a run was measured with: its engines.json, else what this build's
    programs say, else an empty catalog (titles then follow the rule in title())."""
    if run.path in _for_run:
        return _for_run[run.path]
    c = load(os.path.join(run.path, FILE))
    if c is None:
        c = describe(default_bin())
    _for_run[run.path] = c
    return c
