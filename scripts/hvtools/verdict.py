"""Verdicts on published comparisons: whether a published ratio's shape holds in a
measured one, by a rule that can fail in two ways.

A rule has a direction and a magnitude:

- direction: the class the ratio falls in. Against native: below 0.8 faster, 0.8 to
  1.5 on par, above 1.5 slower. Software against hardware (BT/VT-x): below 0.8 BT
  wins, 0.8 to 1.25 a tie, above 1.25 VT-x wins.
- magnitude: the factor between the two ratios, measured / published, must lie within
  [1/F, F]. F is MAGNITUDE (3). Why 3: it is the largest factor by which one paper's
  own figures for one quantity moved between two CPUs a year apart (Adams & Agesen's
  VM entry, 2,409 cycles on the Pentium 4 against 937 on the Core 2: 2.6x), rounded
  up. A difference within it may be hardware generations; beyond it, the measured
  system behaves differently from the published one, whichever way the direction
  goes. tests/python/test_verdicts.py checks that the bound still covers those
  figures.

A shape holds when both hold. Everything else is said, not judged: a row whose two
ratios measure different operations is not comparable (no verdict), one with no data
is not measured. A row whose native baseline runs a different kernel from the guest
(Linux's against hvlab's) is judged, and labelled: its ratio is not a virtualization
overhead alone."""
import math

FASTER, PAR = 0.8, 1.5
TIE_HI = 1.25
MAGNITUDE = 3.0

# Verdict kinds.
HOLDS = "holds"                  # direction and magnitude
MAGNITUDE_FAILS = "magnitude"    # direction holds, the factor is outside [1/F, F]
DIRECTION_FAILS = "direction"    # the classes differ
NOT_COMPARABLE = "not comparable"
NOT_MEASURED = "not measured"


def band(r):
    """The class of a ratio to native."""
    if r < FASTER:
        return "faster than native"
    if r <= PAR:
        return "on par with native"
    return "slower than native"


def winner(r, a="BT", b="VT-x"):
    """The class of a software/hardware ratio: who wins."""
    if r < FASTER:
        return f"{a} wins"
    if r <= TIE_HI:
        return "a tie"
    return f"{b} wins"


class Rule:
    """How one comparison is judged: a classifier of ratios (direction) and the factor
    the measured ratio may differ from the published one by (magnitude)."""

    def __init__(self, name, classify, factor=MAGNITUDE):
        self.name, self.classify, self.factor = name, classify, factor

    def describe(self):
        return f"{self.name}: same class, and measured/published within " \
               f"1/{self.factor:g} to {self.factor:g}"


VS_NATIVE = Rule("ratio to native", band)
SW_VS_HW = Rule("software against hardware", lambda r: winner(r, "software", "hardware"))


class Verdict:
    """kind (HOLDS, MAGNITUDE_FAILS, DIRECTION_FAILS, NOT_COMPARABLE, NOT_MEASURED),
    holds (True, False, or None when there is no verdict), factor (measured /
    published, or None), and the sentence saying why."""

    def __init__(self, kind, factor, text):
        self.kind, self.factor, self.text = kind, factor, text
        self.holds = True if kind == HOLDS else \
            (False if kind in (MAGNITUDE_FAILS, DIRECTION_FAILS) else None)


def _ok(x):
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def factor(published, measured):
    """measured / published, or None when either is missing or not positive."""
    if not _ok(published) or not _ok(measured):
        return None
    return measured / published


def fmt_factor(f):
    if f is None:
        return "--"
    if f >= 100:
        return f"{f:,.0f}x"
    if f >= 10:
        return f"{f:.0f}x"
    if f >= 0.1:
        return f"{f:.2g}x" if f < 1 else f"{f:.1f}x"
    return f"{f:.2g}x"


def judge(published, measured, rule, not_comparable=None):
    """The verdict on a measured ratio against a published one under rule.
    not_comparable: why the two ratios measure different things (then no verdict)."""
    if not_comparable:
        # no factor either: it would set two different operations side by side
        return Verdict(NOT_COMPARABLE, None, f"not comparable, no verdict: {not_comparable}")
    f = factor(published, measured)
    if f is None:
        missing = "published" if not _ok(published) else "measured"
        return Verdict(NOT_MEASURED, None, f"no verdict: no {missing} ratio")
    cp, cm = rule.classify(published), rule.classify(measured)
    within = 1.0 / rule.factor <= f <= rule.factor
    if cp != cm:
        return Verdict(DIRECTION_FAILS, f,
                       f"the shape does not hold: {cp} there, {cm} here")
    if not within:
        return Verdict(MAGNITUDE_FAILS, f,
                       f"the direction holds ({cm} in both) but the magnitude does not: the "
                       f"measured ratio is {fmt_factor(f)} the published one, outside "
                       f"1/{rule.factor:g} to {rule.factor:g}")
    return Verdict(HOLDS, f, f"the shape holds: {cm} in both, and the measured ratio is "
                             f"{fmt_factor(f)} the published one (within 1/{rule.factor:g} to "
                             f"{rule.factor:g})")
