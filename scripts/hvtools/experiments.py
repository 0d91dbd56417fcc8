"""Experiments as folders. Each folder under experiments/ that holds an experiment.json
is one experiment, with:

    experiment.json   its marker: title, order in the report, what it reproduces,
                      which of its published files its comparison consumes
    README.md         what it measures, how to run it, and a lab handout
    NAME.matrix       its cells (optional: a planned experiment has none yet);
                      scripts/matrices/default.matrix includes every one
    published/*.csv   the published figures it is set beside, each row with its source
    compare.py        optional: its comparison rules, tables(run, exp) -> [compare.Table]
                      and closing(run, tables) -> [sentence]
    figures.py        optional: figures(run, exp) -> [(figures.Figure or None, why)]

The shared scripts find experiments here and know none by name: an experiment without
compare.py is reported as not measured yet."""
import importlib.util
import json
import os

from . import compare, rundata

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIR = os.path.join(ROOT, "experiments")
MARKER = "experiment.json"


class ExperimentError(Exception):
    pass


class Experiment:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        marker = os.path.join(path, MARKER)
        try:
            with open(marker, encoding="utf-8") as f:
                self.meta = json.load(f)
        except ValueError as e:
            raise ExperimentError(f"{marker} does not parse: {e}") from None
        if not isinstance(self.meta, dict) or not self.meta.get("title"):
            raise ExperimentError(f"{marker}: give at least a title")
        self.title = self.meta["title"]
        self.order = self.meta.get("order", 100)
        self.reproduces = self.meta.get("reproduces", "")
        pub = os.path.join(path, "published")
        self.published = rundata.load_published(pub) if os.path.isdir(pub) else {}
        self.compared = list(self.meta.get("compared", []))
        for n in self.compared:
            if n not in self.published:
                raise ExperimentError(f"{marker}: compared names {n}, which is not in "
                                      f"{pub}/")
        self._modules = {}

    def file(self, name):
        p = os.path.join(self.path, name)
        return p if os.path.exists(p) else None

    def matrix(self):
        """Its matrix file, or None (a planned experiment)."""
        m = [n for n in sorted(os.listdir(self.path)) if n.endswith(".matrix")]
        return os.path.join(self.path, m[0]) if m else None

    def module(self, which):
        """Its compare.py or figures.py as a module, or None."""
        if which not in self._modules:
            p = self.file(which + ".py")
            mod = None
            if p:
                key = f"hvlab_experiment_{self.name.replace('-', '_')}_{which}"
                spec = importlib.util.spec_from_file_location(key, p)
                mod = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(mod)
            self._modules[which] = mod
        return self._modules[which]

    @property
    def measured(self):
        """Whether it has comparison rules (compare.py); else it is not measured yet."""
        return self.file("compare.py") is not None

    def tables(self, run):
        m = self.module("compare")
        return m.tables(run, self) if m else []

    def measured_tables(self, run):
        """Tables of this run's figures alone (compare.MeasuredTable), no verdicts."""
        m = self.module("compare")
        return m.measured(run, self) if m and hasattr(m, "measured") else []

    def notes(self, run):
        """[(title, intro, [(label, sentence)])]: how to read its figures, each sentence
        labelled by how it is known."""
        m = self.module("compare")
        return m.notes(run) if m and hasattr(m, "notes") else []

    def closing(self, run, tables):
        m = self.module("compare")
        return m.closing(run, tables) if m and hasattr(m, "closing") else []

    def figures(self, run):
        m = self.module("figures")
        return m.figures(run, self) if m else []

    def awaiting(self):
        """Its published files that no comparison consumes yet."""
        return [p for n, p in self.published.items() if n not in self.compared]


def discover(directory=DIR):
    """Every experiment folder, in report order (order, then name)."""
    out = []
    for name in sorted(os.listdir(directory)):
        p = os.path.join(directory, name)
        if os.path.isfile(os.path.join(p, MARKER)):
            out.append(Experiment(p))
    out.sort(key=lambda e: (e.order, e.name))
    return out


def published(exps):
    """{name: rundata.Published} over every experiment."""
    out = {}
    for e in exps:
        out.update(e.published)
    return out


def tables(run, exps):
    """[(experiment, [compare.Table])] in report order."""
    run.one_host()
    return [(e, e.tables(run)) for e in exps]


def all_tables(run, exps):
    return [t for _, ts in tables(run, exps) for t in ts]


def closing(run, exps, per_exp=None):
    """The closing note: the shared sentences over every experiment's rows, with each
    experiment's own sentences (its compare.closing) among them."""
    per_exp = per_exp if per_exp is not None else tables(run, exps)
    all_ = [t for _, ts in per_exp for t in ts]
    middle = [line for e, ts in per_exp for line in e.closing(run, ts)]
    return compare.closing(run, all_, middle)
