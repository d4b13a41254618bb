"""Holdout assignment and uplift, against published numbers."""

import math

import pytest

from c360.activation.experiment import (
    Interval,
    assignment_point,
    in_control,
    uplift,
    wilson,
)
from c360.errors import InvalidInput

IDS = [f"prof_{i:06d}" for i in range(100_000)]


# --- holdouts -------------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.5])
def test_control_share_is_close_to_the_target_over_100k_profiles(fraction: float) -> None:
    held = sum(in_control("welcome-series", pid, fraction) for pid in IDS)
    # Binomial: 5 standard deviations is a false alarm once in about 3.5 million runs.
    sd = math.sqrt(len(IDS) * fraction * (1 - fraction))
    assert abs(held - len(IDS) * fraction) < 5 * sd


def test_assignment_is_sticky() -> None:
    first = [in_control("birthday", pid, 0.2) for pid in IDS[:2000]]
    again = [in_control("birthday", pid, 0.2) for pid in IDS[:2000]]
    assert first == again


def test_raising_the_fraction_only_adds_people_to_control() -> None:
    small = {pid for pid in IDS[:20_000] if in_control("j", pid, 0.1)}
    large = {pid for pid in IDS[:20_000] if in_control("j", pid, 0.2)}
    assert small <= large


def test_journeys_assign_independently() -> None:
    a = [in_control("cart-abandon", pid, 0.5) for pid in IDS]
    b = [in_control("win-back", pid, 0.5) for pid in IDS]
    both = sum(x and y for x, y in zip(a, b, strict=True))
    # Independent halves overlap on a quarter; 5 sd of the binomial count.
    assert abs(both - 25_000) < 5 * math.sqrt(100_000 * 0.25 * 0.75)


def test_keys_do_not_run_into_each_other() -> None:
    assert assignment_point("ab", "c") != assignment_point("a", "bc")


def test_points_are_uniform_in_the_unit_interval() -> None:
    points = [assignment_point("j", pid) for pid in IDS]
    assert all(0.0 <= p < 1.0 for p in points)
    deciles = [0] * 10
    for p in points:
        deciles[int(p * 10)] += 1
    # Chi-squared with 9 degrees of freedom: 27.9 is the 99.9th percentile.
    chi2 = sum((n - 10_000) ** 2 / 10_000 for n in deciles)
    assert chi2 < 27.9


def test_zero_and_one_are_nobody_and_everybody() -> None:
    assert not any(in_control("j", pid, 0.0) for pid in IDS[:1000])
    assert all(in_control("j", pid, 1.0) for pid in IDS[:1000])


@pytest.mark.parametrize("fraction", [-0.1, 1.5, float("nan")])
def test_fraction_outside_zero_to_one_is_refused(fraction: float) -> None:
    with pytest.raises(InvalidInput, match="control_fraction"):
        in_control("j", "p", fraction)


# --- uplift ---------------------------------------------------------------------------------

# Newcombe RG (1998). Interval estimation for the difference between independent proportions:
# comparison of eleven methods. Statistics in Medicine 17:873-890, Table II, method 10 (score
# interval from Wilson limits, no continuity correction), to four decimals.
NEWCOMBE_METHOD_10 = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "expected"), NEWCOMBE_METHOD_10)
def test_absolute_uplift_interval_matches_newcombe_1998(
    counts: tuple[int, int, int, int], expected: tuple[float, float]
) -> None:
    result = uplift(*counts)
    assert result.absolute_ci is not None
    assert round(result.absolute_ci.low, 4) == expected[0]
    assert round(result.absolute_ci.high, 4) == expected[1]


def test_worked_example_56_of_70_against_48_of_80() -> None:
    result = uplift(56, 70, 48, 80)
    assert result.treatment_rate == pytest.approx(0.8)
    assert result.control_rate == pytest.approx(0.6)
    assert result.absolute == pytest.approx(0.2)
    assert result.relative == pytest.approx(1 / 3)
    # Katz: ln(0.8/0.6) ± 1.96 sqrt(1/56 - 1/70 + 1/48 - 1/80), then minus one.
    assert result.relative_ci is not None
    assert result.relative_ci.low == pytest.approx(0.076626, abs=1e-6)
    assert result.relative_ci.high == pytest.approx(0.651249, abs=1e-6)
    # Pooled z = 0.2 / sqrt(104/150 * 46/150 * (1/70 + 1/80)) = 2.6502; chi-squared 7.0233.
    assert result.p_value == pytest.approx(0.008045, abs=1e-6)
    assert result.reasons == ()


def test_wilson_interval_matches_newcombe_1998_single_proportion() -> None:
    # Newcombe (1998a), Statistics in Medicine 17:857-872, Table I, method 3 (score, no
    # continuity correction).
    published = {
        (81, 263): (0.2553, 0.3662),
        (15, 148): (0.0624, 0.1605),
        (0, 20): (0.0, 0.1611),
        (1, 29): (0.0061, 0.1718),
    }
    for (x, n), expected in published.items():
        ci = wilson(x, n)
        assert (round(ci.low, 4), round(ci.high, 4)) == expected


def test_no_control_conversions_leave_relative_uplift_empty_with_a_reason() -> None:
    result = uplift(5, 56, 0, 29)
    assert result.relative is None
    assert result.relative_ci is None
    assert result.absolute_ci is not None
    assert result.p_value is not None
    assert "relative uplift: the control group has no conversions" in result.reasons


def test_no_treatment_conversions_give_minus_100_percent_without_interval() -> None:
    result = uplift(0, 50, 5, 50)
    assert result.relative == pytest.approx(-1.0)
    assert result.relative_ci is None
    assert any("treatment group has no conversions" in r for r in result.reasons)


def test_empty_groups_give_none_fields_with_reasons() -> None:
    result = uplift(0, 0, 3, 40)
    assert result.treatment_rate is None
    assert result.control_rate == pytest.approx(0.075)
    assert result.absolute is None and result.absolute_ci is None and result.p_value is None
    assert result.reasons == ("the treatment group is empty",)
    both = uplift(0, 0, 0, 0)
    assert both.reasons == ("the treatment group is empty", "the control group is empty")


def test_no_variation_gives_no_p_value() -> None:
    result = uplift(0, 10, 0, 10)
    assert result.p_value is None
    assert result.absolute == 0
    assert result.absolute_ci == Interval(-0.2775327998628892, 0.2775327998628892)
    assert any(r.startswith("p-value") for r in result.reasons)


@pytest.mark.parametrize(
    "counts",
    [(-1, 10, 1, 10), (11, 10, 1, 10), (1, 10, 11, 10), (1.5, 10, 1, 10), (True, 10, 1, 10)],
)
def test_impossible_counts_are_refused(counts: tuple[int, int, int, int]) -> None:
    with pytest.raises(InvalidInput):
        uplift(*counts)


def test_large_groups_agree_with_the_normal_approximation() -> None:
    result = uplift(1200, 20_000, 1000, 20_000)
    assert result.absolute_ci is not None
    se = math.sqrt(0.06 * 0.94 / 20_000 + 0.05 * 0.95 / 20_000)
    assert result.absolute_ci.low == pytest.approx(0.01 - 1.959964 * se, abs=2e-4)
    assert result.absolute_ci.high == pytest.approx(0.01 + 1.959964 * se, abs=2e-4)


def test_agrees_with_statsmodels() -> None:
    from statsmodels.stats import proportion

    for (x1, n1, x2, n2), _ in NEWCOMBE_METHOD_10:
        low, high = proportion.confint_proportions_2indep(
            x1, n1, x2, n2, method="newcomb", compare="diff"
        )
        result = uplift(x1, n1, x2, n2)
        assert result.absolute_ci is not None
        assert result.absolute_ci.low == pytest.approx(low, abs=1e-9)
        assert result.absolute_ci.high == pytest.approx(high, abs=1e-9)


def test_agrees_with_scipy() -> None:
    from scipy import stats

    rr = stats.contingency.relative_risk(56, 70, 48, 80).confidence_interval(0.95)
    result = uplift(56, 70, 48, 80)
    assert result.relative_ci is not None
    assert result.relative_ci.low == pytest.approx(rr.low - 1, abs=1e-9)
    assert result.relative_ci.high == pytest.approx(rr.high - 1, abs=1e-9)
    chi2 = stats.chi2_contingency([[56, 14], [48, 32]], correction=False)
    assert result.p_value == pytest.approx(chi2.pvalue, rel=1e-9)
