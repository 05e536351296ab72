"""Statistical process control: Shewhart charts, capability indices and run rules. Pure.

Two charts, as the textbooks define them (Montgomery, *Introduction to Statistical Quality
Control*, ch. 6; NIST/SEMATECH e-Handbook of Statistical Methods §6.3.2; the AIAG SPC manual):

- **individuals and moving range** (:func:`individuals`): centre line the mean, sigma estimated
  as MR-bar / d2 (n = 2), limits centre +- 3 sigma; the moving-range chart has UCL = D4 MR-bar;
- **X-bar and R** (:func:`xbar_r`) for subgroups of n = 2..10 values: centre line the grand
  mean, limits X-double-bar +- A2 R-bar, sigma of a value R-bar / d2; R chart D3 R-bar ..
  D4 R-bar.

A2, D3, D4 are derived from d2 and d3 (A2 = 3 / (d2 sqrt n), D3 = max(0, 1 - 3 d3 / d2),
D4 = 1 + 3 d3 / d2), so the one table here is of d2 and d3 (the mean and standard deviation
of the range of n standard normal values); the tests check the derived factors against the
published tables and d2 against a numeric integral.

Capability (:func:`capability`): Cp = (USL - LSL) / 6 sigma_within, Cpk = min(USL - mean,
mean - LSL) / 3 sigma_within, with the one-sided index alone when only one specification limit
is given; Pp and Ppk the same with the overall sample standard deviation.

Run rules (:data:`RULES`), each judged on the points of one chart in order, at the point that
completes the pattern: the four Western Electric rules (``we1``..``we4``, Western Electric
*Statistical Quality Control Handbook*, 1956) and Nelson's eight (``nelson1``..``nelson8``,
Nelson, *Journal of Quality Technology* 16(4), 1984). :func:`evaluate` names each violation
once: a rule that holds at consecutive points is one violation, raised at the first of them.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "NELSON",
    "RULES",
    "RULE_SETS",
    "WESTERN_ELECTRIC",
    "Capability",
    "Factors",
    "Limits",
    "Rule",
    "SpcError",
    "Violation",
    "capability",
    "evaluate",
    "expand_rules",
    "factors",
    "flags",
    "individuals",
    "xbar_r",
]


class SpcError(ValueError):
    """Data a chart cannot be drawn from (too few points, a subgroup size out of range)."""


# -- control chart constants -----------------------------------------------------------------

#: n -> (d2, d3): mean and standard deviation of the range of n independent standard normal
#: values (six decimals).
_D2_D3: dict[int, tuple[float, float]] = {
    2: (1.128379, 0.852502),
    3: (1.692569, 0.888368),
    4: (2.058751, 0.879808),
    5: (2.325929, 0.864082),
    6: (2.534413, 0.848040),
    7: (2.704357, 0.833205),
    8: (2.847201, 0.819831),
    9: (2.970026, 0.807834),
    10: (3.077505, 0.797051),
}
MAX_SUBGROUP = max(_D2_D3)


@dataclass(frozen=True)
class Factors:
    """The control chart factors for subgroups of ``n``."""

    n: int
    d2: float
    d3: float

    @property
    def a2(self) -> float:
        return 3.0 / (self.d2 * math.sqrt(self.n))

    @property
    def d3_factor(self) -> float:
        """D3 (the R chart's lower limit factor)."""
        return max(0.0, 1.0 - 3.0 * self.d3 / self.d2)

    @property
    def d4_factor(self) -> float:
        """D4 (the R chart's upper limit factor)."""
        return 1.0 + 3.0 * self.d3 / self.d2


def factors(n: int) -> Factors:
    """The factors for subgroup size ``n`` (2..10)."""
    if n not in _D2_D3:
        raise SpcError(f"subgroup size: expected 2..{MAX_SUBGROUP}, got {n}")
    d2, d3 = _D2_D3[n]
    return Factors(n, d2, d3)


# -- charts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """A chart's centre line and control limits, and the dispersion chart's.

    ``sigma`` is the within-subgroup standard deviation of one value (MR-bar / d2 or
    R-bar / d2); ``sigma_point`` that of a plotted point (sigma / sqrt n), which the zones of
    the run rules are measured in. ``range_*``: the moving-range (n = 1) or range chart."""

    kind: str  # "individuals" or "xbar_r"
    n: int
    center: float
    sigma: float
    range_center: float
    range_lcl: float
    range_ucl: float

    @property
    def sigma_point(self) -> float:
        return self.sigma / math.sqrt(self.n)

    @property
    def ucl(self) -> float:
        return self.center + 3.0 * self.sigma_point

    @property
    def lcl(self) -> float:
        return self.center - 3.0 * self.sigma_point


def moving_ranges(values: Sequence[float]) -> list[float]:
    """|x[i] - x[i-1]| for i >= 1."""
    return [abs(b - a) for a, b in itertools.pairwise(values)]


def individuals(values: Sequence[float]) -> Limits:
    """Individuals / moving-range limits from ``values`` (at least 2)."""
    if len(values) < 2:
        raise SpcError(f"individuals chart: expected at least 2 values, got {len(values)}")
    f = factors(2)
    mr_bar = statistics.fmean(moving_ranges(values))
    return Limits(
        kind="individuals",
        n=1,
        center=statistics.fmean(values),
        sigma=mr_bar / f.d2,
        range_center=mr_bar,
        range_lcl=f.d3_factor * mr_bar,
        range_ucl=f.d4_factor * mr_bar,
    )


def fixed_limits(center: float, sigma: float, n: int = 1) -> Limits:
    """Limits set from a known centre and sigma of one value (a capability study's), for
    individuals (``n`` = 1) or subgroups of ``n``."""
    if not (math.isfinite(center) and math.isfinite(sigma)) or sigma <= 0:
        raise SpcError(f"limits: expected a finite centre and sigma > 0, got {center}, {sigma}")
    f = factors(max(n, 2))
    # The dispersion chart's centre: the expected moving range (n = 1) or range, d2 sigma.
    r = f.d2 * sigma
    return Limits(
        kind="individuals" if n == 1 else "xbar_r",
        n=n,
        center=center,
        sigma=sigma,
        range_center=r,
        range_lcl=f.d3_factor * r,
        range_ucl=f.d4_factor * r,
    )


def xbar_r(subgroups: Sequence[Sequence[float]]) -> Limits:
    """X-bar / R limits from subgroups of equal size n (2..10), at least 2 of them."""
    if len(subgroups) < 2:
        raise SpcError(f"X-bar/R chart: expected at least 2 subgroups, got {len(subgroups)}")
    sizes = {len(s) for s in subgroups}
    if len(sizes) != 1:
        raise SpcError(f"X-bar/R chart: expected subgroups of one size, got sizes {sorted(sizes)}")
    f = factors(sizes.pop())
    r_bar = statistics.fmean(max(s) - min(s) for s in subgroups)
    return Limits(
        kind="xbar_r",
        n=f.n,
        center=statistics.fmean(statistics.fmean(s) for s in subgroups),
        sigma=r_bar / f.d2,
        range_center=r_bar,
        range_lcl=f.d3_factor * r_bar,
        range_ucl=f.d4_factor * r_bar,
    )


# -- capability --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Capability:
    """Capability indices; None where a specification limit or a spread is missing."""

    cp: float | None
    cpk: float | None
    pp: float | None
    ppk: float | None


def _indices(
    mean: float, sigma: float | None, lsl: float | None, usl: float | None
) -> tuple[float | None, float | None]:
    if sigma is None or not sigma > 0 or (lsl is None and usl is None):
        return None, None
    cp = (usl - lsl) / (6 * sigma) if lsl is not None and usl is not None else None
    sides = []
    if usl is not None:
        sides.append((usl - mean) / (3 * sigma))
    if lsl is not None:
        sides.append((mean - lsl) / (3 * sigma))
    return cp, min(sides)


def capability(
    mean: float,
    sigma_within: float | None,
    lsl: float | None,
    usl: float | None,
    sigma_overall: float | None = None,
) -> Capability:
    """Cp, Cpk (within sigma) and Pp, Ppk (overall sigma) against the specification."""
    cp, cpk = _indices(mean, sigma_within, lsl, usl)
    pp, ppk = _indices(mean, sigma_overall, lsl, usl)
    return Capability(cp, cpk, pp, ppk)


# -- run rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    id: str
    #: Points a pattern spans (the window the rule looks back over, the point itself included).
    window: int
    text: str
    test: Callable[[Sequence[float]], bool]


def _z(points: Sequence[float], center: float, sigma: float) -> list[float]:
    return [(x - center) / sigma for x in points]


def _k_of_m_beyond(k: int, limit: float) -> Callable[[Sequence[float]], bool]:
    """At least k of the last m points beyond ``limit`` sigma on one side, the last among them."""

    def test(z: Sequence[float]) -> bool:
        last = z[-1]
        if abs(last) <= limit:
            return False
        side = 1.0 if last > 0 else -1.0
        return sum(1 for v in z if v * side > limit) >= k

    return test


def _same_side(z: Sequence[float]) -> bool:
    return all(v > 0 for v in z) or all(v < 0 for v in z)


def _trend(z: Sequence[float]) -> bool:
    steps = [b - a for a, b in itertools.pairwise(z)]
    return all(s > 0 for s in steps) or all(s < 0 for s in steps)


def _alternating(z: Sequence[float]) -> bool:
    steps = [b - a for a, b in itertools.pairwise(z)]
    return all(s != 0 for s in steps) and all(
        (a > 0) != (b > 0) for a, b in itertools.pairwise(steps)
    )


def _hugging(z: Sequence[float]) -> bool:
    return all(abs(v) < 1 for v in z)


def _avoiding(z: Sequence[float]) -> bool:
    return all(abs(v) > 1 for v in z) and any(v > 0 for v in z) and any(v < 0 for v in z)


def _beyond_3(z: Sequence[float]) -> bool:
    return abs(z[-1]) > 3


_RULE_LIST = [
    Rule("we1", 1, "one point beyond 3 sigma", _beyond_3),
    Rule("we2", 3, "2 of 3 points in a row beyond 2 sigma, same side", _k_of_m_beyond(2, 2)),
    Rule("we3", 5, "4 of 5 points in a row beyond 1 sigma, same side", _k_of_m_beyond(4, 1)),
    Rule("we4", 8, "8 points in a row on one side of the centre line", _same_side),
    Rule("nelson1", 1, "one point beyond 3 sigma", _beyond_3),
    Rule("nelson2", 9, "9 points in a row on one side of the centre line", _same_side),
    Rule("nelson3", 6, "6 points in a row steadily increasing or decreasing (trend)", _trend),
    Rule("nelson4", 14, "14 points in a row alternating up and down", _alternating),
    Rule("nelson5", 3, "2 of 3 points in a row beyond 2 sigma, same side", _k_of_m_beyond(2, 2)),
    Rule("nelson6", 5, "4 of 5 points in a row beyond 1 sigma, same side", _k_of_m_beyond(4, 1)),
    Rule("nelson7", 15, "15 points in a row within 1 sigma of the centre line", _hugging),
    Rule("nelson8", 8, "8 points in a row beyond 1 sigma, on both sides", _avoiding),
]
RULES: dict[str, Rule] = {r.id: r for r in _RULE_LIST}
WESTERN_ELECTRIC = ("we1", "we2", "we3", "we4")
NELSON = tuple(f"nelson{i}" for i in range(1, 9))
RULE_SETS = {"western_electric": WESTERN_ELECTRIC, "nelson": NELSON}
#: Rules that test the same pattern: a configuration names one of each pair.
_SAME = {"we1": "nelson1", "we2": "nelson5", "we3": "nelson6"}
#: The longest window of any rule.
MAX_WINDOW = max(r.window for r in _RULE_LIST)


def expand_rules(names: Iterable[str]) -> tuple[str, ...]:
    """Rule ids from rule ids and set names (``western_electric``, ``nelson``), in order,
    each once; a rule and its twin from the other set (we1 / nelson1, we2 / nelson5,
    we3 / nelson6) count once, as the first named."""
    out: list[str] = []
    for name in names:
        ids = RULE_SETS.get(name, (name,))
        for rid in ids:
            if rid not in RULES:
                known = ", ".join([*RULE_SETS, *RULES])
                raise SpcError(f"rule {name!r}: expected one of {known}")
            twin = _SAME.get(rid) or next((k for k, v in _SAME.items() if v == rid), None)
            if rid not in out and twin not in out:
                out.append(rid)
    return tuple(out)


@dataclass(frozen=True)
class Violation:
    """A rule broken: at the points ``first``..``last`` (indices into the points judged) the
    rule held at each; ``pattern``: the indices of the pattern completed at ``first``."""

    rule: str
    first: int
    last: int
    pattern: tuple[int, ...]

    @property
    def text(self) -> str:
        return RULES[self.rule].text


def flags(points: Sequence[float], center: float, sigma: float, rule: str) -> list[bool]:
    """Whether ``rule`` holds at each point (the pattern ending there); False where the points
    before it are too few. ``sigma``: of a plotted point."""
    if not sigma > 0:
        raise SpcError(f"rules: expected sigma > 0, got {sigma}")
    r = RULES[rule]
    z = _z(points, center, sigma)
    return [i + 1 >= r.window and r.test(z[i + 1 - r.window : i + 1]) for i in range(len(z))]


def evaluate(
    points: Sequence[float], center: float, sigma: float, rules: Sequence[str]
) -> list[Violation]:
    """The violations of ``rules`` among ``points``, each run of consecutive points where a
    rule holds being one violation, in the order of their first point (then of ``rules``)."""
    found: list[Violation] = []
    for rule in rules:
        held = flags(points, center, sigma, rule)
        window = RULES[rule].window
        i = 0
        while i < len(held):
            if not held[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(held) and held[j + 1]:
                j += 1
            found.append(Violation(rule, i, j, tuple(range(i + 1 - window, i + 1))))
            i = j + 1
    order = {r: n for n, r in enumerate(rules)}
    return sorted(found, key=lambda v: (v.first, order[v.rule]))
