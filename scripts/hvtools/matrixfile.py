"""Matrix files: which cells a benchmark matrix runs.

A matrix file is plain text, one statement per line (a line ending in a backslash goes
on to the next one; `#` starts a comment, as in the shell):

    NAME = WORD ...            a variable: a list of words (shell quoting)
    cell NAME: COMMAND         one cell per combination of the lists that NAME and
                               COMMAND use, written as {NAME}; {{ and }} are braces
    include PATTERN            the cells of every matrix file PATTERN matches (a glob,
                               relative to this file's folder), each parsed on its own

A cell line takes the variables as they are where it stands, so a later assignment
changes only the cells below it. Three variables are also settings of the cells
below them: `timeout` (seconds, one value), `pin` (a CPU list such as 0 or 0-1, or
`none`) and `reps` (whole numbers). The runner provides {out} (the cell's own
output directory, which every command must use), {name} (the cell's name), {bin}
(the build's bin directory) and {root} (the source tree).

An included file starts from the defaults, not from the including file's variables
(--set applies to every file). A cell that two files define alike (same name, same
command) runs once, so experiments can share cells such as the native baseline; the
same name with another command is an error.

Every error names the file, the line and the reason: `FILE:LINE: reason`.
"""
import glob
import itertools
import os
import re
import shlex

# In a cell's argv, where the runner puts the cell's output directory (NUL cannot
# occur in a real argument, so the marker cannot clash with one).
OUT_MARK = "\0out\0"
RUNTIME_VARS = ("out", "name", "bin", "root")
DEFAULTS = {"reps": ["5"], "timeout": ["300"], "pin": ["none"]}
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
CELL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*\Z")
ASSIGN = re.compile(r"\s*([^\s=:]+)\s*=(.*)\Z", re.S)
CELL = re.compile(r"\s*cell\s+([^:]*?)\s*:(.*)\Z", re.S)
INCLUDE = re.compile(r"\s*include\s+(\S.*?)\s*\Z", re.S)


class MatrixError(Exception):
    """A matrix-file error; str() is `FILE:LINE: reason`."""

    def __init__(self, path, line, reason):
        super().__init__(f"{path}:{line}: {reason}")
        self.path, self.line, self.reason = path, line, reason


class Cell:
    """One expanded cell: a name, an argv with OUT_MARK where {out} stood, settings."""

    def __init__(self, name, argv, timeout, pin, line, axes):
        self.name, self.argv, self.timeout, self.pin = name, argv, timeout, pin
        self.line, self.axes = line, axes

    def display(self):
        """The command as a shell would read it, with {out} left as a placeholder."""
        return shlex.join(a.replace(OUT_MARK, "{out}") for a in self.argv)

    def to_json(self):
        return {"name": self.name, "argv": self.argv, "timeout": self.timeout,
                "pin": self.pin, "line": self.line, "axes": self.axes}

    @classmethod
    def from_json(cls, d):
        return cls(d["name"], list(d["argv"]), float(d["timeout"]), d.get("pin"),
                   int(d.get("line", 0)), dict(d.get("axes", {})))


def parse_cpulist(text):
    """'0', '0-3', '0,2-3' -> sorted CPU numbers; ValueError with the reason."""
    cpus = set()
    for part in text.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ValueError(f"'{text}' is not a CPU list (e.g. 0, 0-1 or 0,2-3)")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if hi < lo:
            raise ValueError(f"'{part}' in '{text}' is a range that runs backwards")
        cpus.update(range(lo, hi + 1))
    return sorted(cpus)


def format_ranges(numbers):
    """Whole numbers as a list of ranges, "0-2,5,7-8": CPU lists, Slurm's task ids."""
    out, start, prev = [], None, None
    for c in sorted(numbers):
        if start is None:
            start = prev = c
        elif c == prev + 1:
            prev = c
        else:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = c
    if start is not None:
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ",".join(out)


def _check_setting(name, values, available_cpus):
    """Raises ValueError when a setting variable has a value the runner cannot use."""
    if name == "reps":
        for v in values:
            if not re.fullmatch(r"[0-9]+", v) or not 1 <= int(v) <= 100000:
                raise ValueError(f"reps = {v}: expected a whole number from 1 to 100000")
    elif name == "timeout":
        if len(values) != 1:
            raise ValueError(f"timeout takes one value (seconds), not {len(values)}")
        try:
            t = float(values[0])
        except ValueError:
            raise ValueError(f"timeout = {values[0]}: not a number of seconds") from None
        if not 0 < t <= 86400:
            raise ValueError(f"timeout = {values[0]}: expected more than 0 and at most "
                             "86400 seconds")
    elif name == "pin":
        if len(values) != 1:
            raise ValueError(f"pin takes one CPU list (e.g. 0-1), not {len(values)} words")
        if values[0] != "none":
            cpus = parse_cpulist(values[0])
            missing = [c for c in cpus if c not in available_cpus]
            if missing:
                raise ValueError(f"pin = {values[0]}: CPU {format_ranges(missing)} is not "
                                 f"available here (CPUs {format_ranges(available_cpus)})")


def _template(text, path, line):
    """'a{x}b' -> ['a', ('x',), 'b']: literal strings and 1-tuples naming variables."""
    parts, i, lit = [], 0, []
    while i < len(text):
        ch = text[i]
        if text.startswith("{{", i) or text.startswith("}}", i):
            lit.append(ch)
            i += 2
        elif ch == "{":
            j = text.find("}", i)
            if j < 0:
                raise MatrixError(path, line, f"unclosed '{{' in '{text}' (write {{{{ for a "
                                  "literal brace)")
            var = text[i + 1:j]
            if not IDENT.match(var):
                raise MatrixError(path, line, f"'{{{var}}}' in '{text}' is not a variable "
                                  "name (letters, digits, '_')")
            if lit:
                parts.append("".join(lit))
                lit = []
            parts.append((var,))
            i = j + 1
        elif ch == "}":
            raise MatrixError(path, line, f"stray '}}' in '{text}' (write }}}} for a literal "
                              "brace)")
        else:
            lit.append(ch)
            i += 1
    if lit:
        parts.append("".join(lit))
    return parts


def _logical_lines(text):
    """(first line number, text) per statement, joining backslash continuations."""
    buf, start = [], None
    for n, raw in enumerate(text.splitlines(), 1):
        if start is None:
            start = n
        if raw.endswith("\\") and not raw.endswith("\\\\"):
            buf.append(raw[:-1])
            continue
        buf.append(raw)
        yield start, " ".join(buf)
        buf, start = [], None
    if buf:
        yield start, " ".join(buf)


class Matrix:
    """The cells of a matrix file, and every file read for them [(path, text)]: the
    file itself first, then what it included."""

    def __init__(self, path, cells, sources=None):
        self.path, self.cells = path, cells
        self.sources = sources or []

    def text(self):
        """The files as they were read, each included one under a header line."""
        out = []
        for i, (p, t) in enumerate(self.sources):
            out.append(t if i == 0 else f"\n# ==== included: {p}\n{t}")
        return "".join(out)


def _include(path, line, pattern, builtins, overrides, cells, seen, sources, stack):
    """Adds the cells of every file pattern matches; a cell already there with the same
    command is kept once."""
    base = os.path.dirname(os.path.abspath(path))
    files = sorted(glob.glob(os.path.join(base, pattern)))
    if not files:
        raise MatrixError(path, line, f"include {pattern}: no file matches (relative to "
                          f"{base})")
    for f in files:
        if os.path.abspath(f) in stack:
            raise MatrixError(path, line, f"include {pattern}: {f} includes itself")
        sub = parse(f, builtins, overrides, _stack=stack | {os.path.abspath(path)})
        sources.extend(sub.sources)
        _merge(path, line, cells, seen, sub.cells, f)


def _merge(path, line, cells, seen, new, where):
    """Appends new cells; one already there with the same name and command is kept
    once (seen: name -> where it was first defined: a line of this file, or
    "FILE:LINE" of another)."""
    by_name = {c.name: c for c in cells}
    for c in new:
        first = by_name.get(c.name)
        if first is None:
            by_name[c.name] = c
            seen[c.name] = c.line if where == path else f"{where}:{c.line}"
            cells.append(c)
        elif first.argv != c.argv:
            raise MatrixError(path, line, f"cell '{c.name}' of {where} differs from the "
                              f"cell of that name at {seen[c.name]}; rename one")


def parse(path, builtins, overrides=None, text=None, _stack=frozenset()):
    """Reads the matrix file at path. builtins gives {bin} and {root}; overrides
    ({name: 'words'}, from --set) replace the file's own assignments of those names.
    Returns a Matrix; raises MatrixError."""
    if text is None:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise MatrixError(path, 0, f"cannot read the matrix file: {e.strerror}") from None
        except UnicodeDecodeError as e:
            raise MatrixError(path, 0, f"not UTF-8 text ({e.reason})") from None
    available = sorted(os.sched_getaffinity(0))
    variables = {k: list(v) for k, v in DEFAULTS.items()}
    fixed = set()
    for name, value in (overrides or {}).items():
        if not IDENT.match(name) or name in RUNTIME_VARS:
            raise MatrixError("--set", 0, f"'{name}' cannot be set (a variable name is "
                              f"letters, digits and '_', and not one of {', '.join(RUNTIME_VARS)})")
        try:
            words = shlex.split(value)
            if not words:
                raise ValueError(f"{name}= gives no value")
            _check_setting(name, words, available)
        except ValueError as e:
            raise MatrixError("--set", 0, str(e)) from None
        variables[name] = words
        fixed.add(name)

    cells, seen = [], {}
    sources = [(path, text)]
    last_line = 0
    for line, stmt in _logical_lines(text):
        last_line = line
        if not stmt.strip() or stmt.lstrip().startswith("#"):
            continue
        m = INCLUDE.match(stmt)
        if m and not ASSIGN.match(stmt):
            _include(path, line, m.group(1), builtins, overrides, cells, seen, sources,
                     _stack)
            continue
        m = CELL.match(stmt)
        if m:
            own = {k: v for k, v in seen.items() if isinstance(v, int)}
            new = _expand_cell(path, line, m.group(1), m.group(2), variables, builtins, own)
            _merge(path, line, cells, seen, new, path)
            continue
        m = ASSIGN.match(stmt)
        if m:
            name, value = m.group(1), m.group(2)
            if not IDENT.match(name):
                raise MatrixError(path, line, f"'{name}' is not a variable name (letters, "
                                  "digits and '_', not starting with a digit)")
            if name in RUNTIME_VARS:
                raise MatrixError(path, line, f"'{name}' is provided by the runner and "
                                  "cannot be assigned")
            try:
                words = shlex.split(value, comments=True)
            except ValueError as e:
                raise MatrixError(path, line, f"{name} = ...: {e}") from None
            if not words:
                raise MatrixError(path, line, f"'{name} =' gives no value")
            if name in fixed:
                continue
            try:
                _check_setting(name, words, available)
            except ValueError as e:
                raise MatrixError(path, line, str(e)) from None
            variables[name] = words
            continue
        raise MatrixError(path, line, "expected 'NAME = VALUES', 'cell NAME: COMMAND' or a "
                          f"comment, got '{stmt.strip()[:60]}'")
    if not cells:
        raise MatrixError(path, last_line, "the matrix defines no cells (add a line "
                          "'cell NAME: COMMAND')")
    return Matrix(path, cells, sources)


def _expand_cell(path, line, name_text, cmd_text, variables, builtins, seen):
    if not name_text:
        raise MatrixError(path, line, "cell without a name ('cell NAME: COMMAND')")
    name_t = _template(name_text, path, line)
    try:
        words = shlex.split(cmd_text, comments=True)
    except ValueError as e:
        raise MatrixError(path, line, f"cell {name_text}: {e} in the command") from None
    if not words:
        raise MatrixError(path, line, f"cell {name_text} has no command")
    word_ts = [_template(w, path, line) for w in words]

    used = []
    for t in [name_t] + word_ts:
        for p in t:
            if isinstance(p, tuple) and p[0] not in used:
                used.append(p[0])
    if "out" not in used:
        raise MatrixError(path, line, f"cell {name_text}: the command never uses {{out}}; "
                          "a cell must write its results into {out}")
    name_vars = [p[0] for p in name_t if isinstance(p, tuple)]
    for v in ("out", "name"):
        if v in name_vars:
            raise MatrixError(path, line, f"a cell name cannot use {{{v}}}")
    for v in used:
        if v not in variables and v not in RUNTIME_VARS:
            raise MatrixError(path, line, f"{{{v}}} is not defined above this line "
                              f"(defined: {', '.join(sorted(variables))})")
    axes = [v for v in used if v in variables and len(variables[v]) > 1]
    for s in ("timeout", "pin"):
        if s in axes:
            raise MatrixError(path, line, f"{s} has several values; it takes one")
    timeout = float(variables["timeout"][0])
    pin = None if variables["pin"][0] == "none" else variables["pin"][0]

    out = []
    for combo in itertools.product(*(variables[a] for a in axes)):
        env = {v: variables[v][0] for v in used if v in variables}
        env.update(zip(axes, combo))
        env.update(builtins)
        env["out"] = OUT_MARK

        def subst(t):
            return "".join(p if isinstance(p, str) else env[p[0]] for p in t)

        name = subst(name_t)
        if not CELL_NAME.match(name):
            raise MatrixError(path, line, f"cell name '{name}' may hold only letters, digits, "
                              "'_', '.', '+' and '-', and must start with a letter or digit")
        if name in seen:
            hint = ""
            missing = [a for a in axes if a not in name_vars]
            if missing:
                hint = f" (put {{{missing[0]}}} in the cell name)"
            raise MatrixError(path, line, f"cell '{name}' is defined twice (first at line "
                              f"{seen[name]}){hint}")
        seen[name] = line
        env["name"] = name
        argv = [subst(t) for t in word_ts]
        out.append(Cell(name, argv, timeout, pin, line, {a: env[a] for a in axes}))
    return out
