"""SPC computations against published worked examples, and the run rules on their definitions.

Every number compared here is typed in from the publication named in the test's docstring."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ledger import spc
from ledger.errors import ConfigError
from ledger.spc_monitor import parse_config

pytestmark = pytest.mark.req("SPC-1")

#: Montgomery, *Introduction to Statistical Quality Control*, 6th ed., Example 6.5: the cost
#: of processing a mortgage loan application, 20 consecutive weeks (individuals chart).
MORTGAGE_COSTS = [
    310, 288, 297, 298, 307, 303, 294, 297, 308, 306,
    294, 299, 297, 299, 314, 295, 293, 306, 301, 304,
]  # fmt: skip


def test_individuals_chart_montgomery_mortgage_loan_costs() -> None:
    """Montgomery, ISQC 6th ed., Example 6.5 (individuals and moving range chart of weekly
    mortgage loan processing costs): x-bar = 300.5, MR-bar = 7.79, individuals UCL = 321.22 and
    LCL = 279.78 (x-bar +- 3 MR-bar / 1.128), moving range UCL = 3.267 x 7.79 = 25.45, LCL 0;
    the process is in control (no point beyond the limits)."""
    limits = spc.individuals(MORTGAGE_COSTS)
    assert limits.center == pytest.approx(300.5)
    assert limits.range_center == pytest.approx(7.79, abs=0.005)
    assert limits.ucl == pytest.approx(321.22, abs=0.02)
    assert limits.lcl == pytest.approx(279.78, abs=0.02)
    assert limits.range_ucl == pytest.approx(25.45, abs=0.01)
    assert limits.range_lcl == 0
    assert spc.evaluate(MORTGAGE_COSTS, limits.center, limits.sigma_point, ["we1"]) == []
    assert max(spc.moving_ranges(MORTGAGE_COSTS)) == 22  # 310 -> 288, under 25.45


def test_xbar_r_limits_montgomery_piston_rings() -> None:
    """Montgomery, ISQC 6th ed., §6.2.1, Example 6.1 (inside diameter of forged piston rings,
    25 samples of n = 5): x-double-bar = 74.001 mm, R-bar = 0.023 mm; X-bar chart
    UCL = 74.001 + 0.577 x 0.023 = 74.014, LCL = 73.988; R chart UCL = 2.114 x 0.023 = 0.049,
    LCL = 0. Process capability with specifications 74.000 +- 0.05 mm: sigma-hat =
    R-bar / d2 = 0.023 / 2.326 = 0.0099 and Cp = 0.10 / (6 x 0.0099) = 1.68."""
    limits = spc.fixed_limits(74.001, 0.023 / spc.factors(5).d2, 5)
    assert limits.ucl == pytest.approx(74.014, abs=0.0005)
    assert limits.lcl == pytest.approx(73.988, abs=0.0005)
    assert limits.range_center == pytest.approx(0.023)
    assert limits.range_ucl == pytest.approx(0.049, abs=0.0005)
    assert limits.range_lcl == 0
    assert limits.sigma == pytest.approx(0.0099, abs=0.00005)
    # With sigma-hat rounded to 0.0099 as the book does (1.685 unrounded).
    assert spc.capability(74.001, 0.0099, 73.95, 74.05).cp == pytest.approx(1.68, abs=0.005)
    assert spc.capability(74.001, limits.sigma, 73.95, 74.05).cp == pytest.approx(1.685, abs=5e-4)


def test_xbar_r_from_subgroups_uses_the_same_factors() -> None:
    """Subgroups whose mean ranges are the piston rings' R-bar (0.023) and grand mean
    74.001 give Example 6.1's limits (74.014 / 73.988 and R UCL 0.049)."""
    groups = [[74.001 - 0.0115, 74.001, 74.001, 74.001, 74.001 + 0.0115]] * 3
    limits = spc.xbar_r(groups)
    assert limits.kind == "xbar_r" and limits.n == 5
    assert limits.center == pytest.approx(74.001)
    assert limits.range_center == pytest.approx(0.023)
    assert limits.ucl == pytest.approx(74.014, abs=0.0005)
    assert limits.lcl == pytest.approx(73.988, abs=0.0005)
    assert limits.range_ucl == pytest.approx(0.049, abs=0.0005)


#: AIAG, *Statistical Process Control (SPC)* reference manual, 2nd ed. (2005), Appendix E,
#: "Table of constants and formulas for control charts" (X-bar and R charts): n, A2, D3, D4, d2
#: (D3 printed as "-" below n = 7, i.e. 0). The same values are Montgomery's Appendix Table VI.
AIAG = [
    (2, 1.880, 0.0, 3.267, 1.128),
    (3, 1.023, 0.0, 2.574, 1.693),
    (4, 0.729, 0.0, 2.282, 2.059),
    (5, 0.577, 0.0, 2.114, 2.326),
    (6, 0.483, 0.0, 2.004, 2.534),
    (7, 0.419, 0.076, 1.924, 2.704),
    (8, 0.373, 0.136, 1.864, 2.847),
    (9, 0.337, 0.184, 1.816, 2.970),
    (10, 0.308, 0.223, 1.777, 3.078),
]


@pytest.mark.parametrize(("n", "a2", "d3", "d4", "d2"), AIAG)
def test_control_chart_factors_match_the_aiag_table(
    n: int, a2: float, d3: float, d4: float, d2: float
) -> None:
    """AIAG SPC manual, 2nd ed., Appendix E: A2, D3, D4 and d2 as printed (three decimals;
    the table's last digit is sometimes truncated, D4(3) = 2.5746 is printed 2.574), derived
    here from d2 and d3 (A2 = 3 / (d2 sqrt n), D3 = max(0, 1 - 3 d3/d2), D4 = 1 + 3 d3/d2)."""
    f = spc.factors(n)
    assert f.a2 == pytest.approx(a2, abs=0.001)
    assert f.d3_factor == pytest.approx(d3, abs=0.001)
    assert f.d4_factor == pytest.approx(d4, abs=0.001)
    assert round(f.d2, 3) == d2


@pytest.mark.parametrize("n", range(2, 11))
def test_d2_is_the_expected_range_of_n_standard_normal_values(n: int) -> None:
    """d2(n) = integral of 1 - Phi(x)^n - (1 - Phi(x))^n over the real line (the mean range
    of n standard normal values), computed here by the midpoint rule."""
    h = 0.005

    def phi(x: float) -> float:
        return 0.5 * (1 + math.erf(x / math.sqrt(2)))

    xs = (-9 + (i + 0.5) * h for i in range(int(18 / h)))
    d2 = h * sum(1 - phi(x) ** n - (1 - phi(x)) ** n for x in xs)
    assert spc.factors(n).d2 == pytest.approx(d2, abs=2e-6)


def test_capability_nist_handbook_example() -> None:
    """NIST/SEMATECH e-Handbook of Statistical Methods, §6.1.6 "What is process capability?",
    the worked example: USL = 20, LSL = 8, mu = 16, sigma = 2 give Cp = 12 / 12 = 1,
    Cpu = (20 - 16) / 6 = 0.6667, Cpl = (16 - 8) / 6 = 1.3333 and Cpk = min = 0.6667."""
    cap = spc.capability(16, 2, 8, 20, sigma_overall=2)
    assert cap.cp == pytest.approx(1.0)
    assert cap.cpk == pytest.approx(0.6667, abs=5e-5)
    assert (cap.pp, cap.ppk) == (cap.cp, cap.cpk)
    upper_only = spc.capability(16, 2, None, 20)
    assert upper_only.cp is None and upper_only.cpk == pytest.approx(0.6667, abs=5e-5)
    assert spc.capability(16, 2, None, None) == spc.Capability(None, None, None, None)
    assert spc.capability(16, 0.0, 8, 20).cpk is None


# -- run rules: each on the pattern its definition gives (centre 0, sigma 1) --------------------


def _first(points: list[float], rule: str) -> int | None:
    found = spc.evaluate(points, 0.0, 1.0, [rule])
    return found[0].first if found else None


def test_western_electric_rules() -> None:
    """Western Electric *Statistical Quality Control Handbook* (1956), as the NIST/SEMATECH
    e-Handbook §6.3.2 lists them: 1 point beyond 3 sigma; 2 of 3 beyond 2 sigma on one side;
    4 of 5 beyond 1 sigma on one side; 8 in a row on one side of the centre line."""
    assert _first([0, 0.5, 3.1], "we1") == 2
    assert _first([0, 0.5, -3.0], "we1") is None  # on the limit is not beyond it
    assert _first([2.1, 0.0, 2.5], "we2") == 2
    assert _first([2.1, 0.0, -2.5], "we2") is None  # opposite sides
    assert _first([0.0, 2.1, 2.2, 0.0], "we2") == 2  # flagged at the point that completes it
    assert _first([1.5, 1.2, 0.0, 1.1, 1.3], "we3") == 4
    assert _first([1.5, 1.2, 0.0, -1.1, 1.3], "we3") is None
    assert _first([0.1] * 7, "we4") is None
    assert _first([0.1] * 8, "we4") == 7
    assert _first([0.1] * 7 + [-0.1], "we4") is None


def test_nelson_rules() -> None:
    """Nelson, "The Shewhart control chart: tests for special causes", *Journal of Quality
    Technology* 16(4), 1984: 9 in a row on one side (2); 6 in a row steadily increasing or
    decreasing (3); 14 in a row alternating (4); 15 in a row within 1 sigma (7); 8 in a row
    beyond 1 sigma on both sides (8)."""
    assert _first([0.2] * 8, "nelson2") is None and _first([0.2] * 9, "nelson2") == 8
    rising = [-1.0, -0.6, -0.2, 0.1, 0.4, 0.9]
    assert _first(rising, "nelson3") == 5
    assert _first(rising[:5], "nelson3") is None
    assert _first([*rising[:3], rising[2], *rising[3:]], "nelson3") is None  # a tie breaks it
    assert _first([1.0, 0.8, 0.5, 0.2, -0.1, -0.5], "nelson3") == 5  # decreasing
    zigzag = [0.5 * (-1) ** i for i in range(14)]
    assert _first(zigzag, "nelson4") == 13 and _first(zigzag[:13], "nelson4") is None
    assert _first([0.3] * 15, "nelson7") == 14 and _first([0.3] * 14 + [1.2], "nelson7") is None
    both = [1.5, -1.5] * 4
    assert _first(both, "nelson8") == 7
    assert _first([1.5] * 8, "nelson8") is None  # all on one side: that is nelson2 / we4


def test_a_rule_holding_at_consecutive_points_is_one_violation() -> None:
    """A drift: once 6 rising points make a trend, each further rising point continues the
    same violation; after a fall, a new trend is a new violation."""
    points = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    found = spc.evaluate(points, 0.0, 1.0, ["nelson3"])
    assert [(v.first, v.last, v.pattern) for v in found] == [
        (5, 7, (0, 1, 2, 3, 4, 5)),
        (13, 13, (8, 9, 10, 11, 12, 13)),
    ]


def test_rule_sets_expand_and_twins_count_once() -> None:
    assert spc.expand_rules(["western_electric"]) == ("we1", "we2", "we3", "we4")
    assert spc.expand_rules(["western_electric", "nelson3"]) == (
        "we1",
        "we2",
        "we3",
        "we4",
        "nelson3",
    )
    assert spc.expand_rules(["nelson", "we1", "we4"]) == (*spc.NELSON, "we4")
    with pytest.raises(spc.SpcError, match="rule 'nelson9'"):
        spc.expand_rules(["nelson9"])


def test_too_little_data_is_refused_clearly() -> None:
    with pytest.raises(spc.SpcError, match="at least 2 values"):
        spc.individuals([1.0])
    with pytest.raises(spc.SpcError, match=r"subgroup size: expected 2\.\.10, got 11"):
        spc.factors(11)
    with pytest.raises(spc.SpcError, match="one size"):
        spc.xbar_r([[1, 2], [1, 2, 3]])
    with pytest.raises(spc.SpcError, match="sigma > 0"):
        spc.flags([1.0], 0.0, 0.0, "we1")


# -- configuration ----------------------------------------------------------------------------


def test_configuration_is_read_strictly() -> None:
    config = parse_config(
        b"""
[[characteristic]]
id = "line1-pressure"
tag = "pressure"
line = "line1"
rules = ["western_electric", "nelson3"]
action = "block"
baseline = 10

[[characteristic]]
id = "bore"
inspection = "bore_diameter"
product = "09506000134352"
subgroup = 5
center = 74.001
sigma = 0.0099
action = "warn"
"""
    )
    first, second = config.characteristics
    assert first.rules == ("we1", "we2", "we3", "we4", "nelson3") and first.baseline == 10
    assert first.containment() == {"tag": "pressure", "line": "line1"}
    assert second.record_type == "inspection" and second.subgroup == 5
    assert second.containment() == {
        "characteristics": [{"name": "bore_diameter"}],
        "product": {"gtin": "09506000134352"},
    }
    bad = [
        (b"[x]\n", "unknown key 'x'"),
        (b'[[characteristic]]\nid = "a"\n', "exactly one of tag"),
        (b'[[characteristic]]\nid = "a"\ntag = "t"\nrules = ["x"]\n', "field 'rules'"),
        (b'[[characteristic]]\nid = "a"\ntag = "t"\naction = "stop"\n', "field 'action'"),
        (b'[[characteristic]]\nid = "a"\ntag = "t"\nsubgroup = 11\n', "field 'subgroup'"),
        (b'[[characteristic]]\nid = "a"\ntag = "t"\ncenter = 1.0\n', "field 'sigma'"),
        (b'[[characteristic]]\nid = "a"\ntag = "t"\ncolour = 1\n', "unknown field"),
        (b'[[characteristic]]\nid = "a b"\ntag = "t"\n', "field 'id'"),
        (
            b'[[characteristic]]\nid = "a"\ntag = "t"\n[[characteristic]]\nid = "a"\ntag = "u"\n',
            "defined twice",
        ),
        (b'[[characteristic]]\nid = "a"\ntag = "t"\nlower_spec = 5\nupper_spec = 1\n', "upper"),
        (b"not toml = ", "not valid TOML"),
    ]
    for text, message in bad:
        with pytest.raises(ConfigError, match=message):
            parse_config(text, "spc.toml")


def test_the_example_configuration_is_valid() -> None:
    """docs/examples/spc/spc.toml, which docs/quality.md points to, parses."""
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "spc" / "spc.toml"
    config = parse_config(example.read_bytes(), str(example))
    assert [c.id for c in config.characteristics] == [
        "line1-barrel-temp",
        "line1-melt-pressure",
        "shaft-od-final",
    ]
    assert config.characteristics[1].subgroup == 5
