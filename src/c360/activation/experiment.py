"""Holdouts and what they measure: who is kept out of a journey, and the uplift it made.

A journey with a control fraction keeps that share of its entrants out (they are recorded,
never sent to). :func:`in_control` decides, without storing anything: the same person in the
same journey always gets the same answer, and journeys decide independently of each other.
:func:`uplift` compares conversion in the treated group with the control group.

The intervals are the ones that stay honest with small counts and with zeros:

- each rate: Wilson's score interval;
- the difference (absolute uplift): Newcombe's hybrid score interval (method 10 in Newcombe,
  *Statistics in Medicine* 17:873-890, 1998), built from the two Wilson intervals;
- the ratio (relative uplift = ratio - 1): Katz's log risk-ratio interval;
- the p-value: the two-sided two-proportion z test with the pooled rate (the same as
  Pearson's chi-squared test without continuity correction).

docs/activation-rules.md gives the formulas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from hashlib import blake2b
from typing import Final

from c360.errors import InvalidInput

Z_95: Final = 1.959963984540054
"""The standard normal's 97.5th percentile: two-sided 95% intervals."""


def in_control(journey_key: str, profile_id: str, control_fraction: float) -> bool:
    """Whether this person is held out of this journey (sticky; independent across journeys)."""
    if not 0.0 <= control_fraction <= 1.0 or math.isnan(control_fraction):
        raise InvalidInput(f"control_fraction must be between 0 and 1, got {control_fraction!r}")
    return assignment_point(journey_key, profile_id) < control_fraction


def assignment_point(journey_key: str, profile_id: str) -> float:
    """A uniform point in [0, 1) fixed by the journey and the person.

    BLAKE2b of both, each prefixed with its length so no pair of keys runs into another
    (``"ab" + "c"`` is not ``"a" + "bc"``); the first 53 bits make the float exactly.
    """
    key = journey_key.encode()
    person = profile_id.encode()
    digest = blake2b(
        b"%d:%s%d:%s" % (len(key), key, len(person), person),
        digest_size=8,
        person=b"c360-holdout",
    ).digest()
    return (int.from_bytes(digest, "big") >> 11) / float(1 << 53)


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Uplift:
    """Treatment against control; a field is None where it cannot be estimated, and
    ``reasons`` says why for each."""

    treatment_rate: float | None
    control_rate: float | None
    treatment_rate_ci: Interval | None
    control_rate_ci: Interval | None
    absolute: float | None
    """Treatment rate minus control rate."""
    absolute_ci: Interval | None
    relative: float | None
    """Treatment rate / control rate - 1."""
    relative_ci: Interval | None
    p_value: float | None
    reasons: tuple[str, ...] = ()


def wilson(successes: int, n: int, z: float = Z_95) -> Interval:
    """Wilson's score interval for a proportion (``n`` > 0)."""
    p = successes / n
    centre = 2 * successes + z * z
    spread = z * math.sqrt(z * z + 4 * successes * (1 - p))
    denominator = 2 * (n + z * z)
    return Interval(
        max(0.0, (centre - spread) / denominator), min(1.0, (centre + spread) / denominator)
    )


def uplift(
    treatment_conversions: int, treatment_n: int, control_conversions: int, control_n: int
) -> Uplift:
    """Conversion in the treated group against the held-out one, with 95% intervals."""
    for name, count in (
        ("treatment_conversions", treatment_conversions),
        ("treatment_n", treatment_n),
        ("control_conversions", control_conversions),
        ("control_n", control_n),
    ):
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidInput(f"{name} must be a whole number of at least 0, got {count!r}")
    if treatment_conversions > treatment_n:
        raise InvalidInput("treatment_conversions cannot exceed treatment_n")
    if control_conversions > control_n:
        raise InvalidInput("control_conversions cannot exceed control_n")

    x1, n1, x2, n2 = treatment_conversions, treatment_n, control_conversions, control_n
    reasons: list[str] = []
    if n1 == 0:
        reasons.append("the treatment group is empty")
    if n2 == 0:
        reasons.append("the control group is empty")
    p1 = x1 / n1 if n1 else None
    p2 = x2 / n2 if n2 else None
    ci1 = wilson(x1, n1) if n1 else None
    ci2 = wilson(x2, n2) if n2 else None
    if p1 is None or p2 is None or ci1 is None or ci2 is None:
        return Uplift(p1, p2, ci1, ci2, None, None, None, None, None, tuple(reasons))

    absolute = p1 - p2
    # Newcombe's method 10: each side of the difference's interval combines the distances from
    # each rate to the matching Wilson limit.
    below = math.sqrt((p1 - ci1.low) ** 2 + (ci2.high - p2) ** 2)
    above = math.sqrt((ci1.high - p1) ** 2 + (p2 - ci2.low) ** 2)
    absolute_ci = Interval(max(-1.0, absolute - below), min(1.0, absolute + above))

    relative: float | None = None
    relative_ci: Interval | None = None
    if x2 == 0:
        reasons.append("relative uplift: the control group has no conversions")
    else:
        relative = p1 / p2 - 1
        if x1 == 0:
            reasons.append(
                "relative uplift interval: the treatment group has no conversions, and the "
                "log risk-ratio interval needs at least one in each group"
            )
        else:
            log_ratio = math.log(p1 / p2)
            se = math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
            relative_ci = Interval(
                math.exp(log_ratio - Z_95 * se) - 1, math.exp(log_ratio + Z_95 * se) - 1
            )

    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    p_value: float | None = None
    if variance == 0:
        reasons.append("p-value: no variation, every profile converted or none did")
    else:
        z = absolute / math.sqrt(variance)
        p_value = math.erfc(abs(z) / math.sqrt(2))

    return Uplift(
        treatment_rate=p1,
        control_rate=p2,
        treatment_rate_ci=ci1,
        control_rate_ci=ci2,
        absolute=absolute,
        absolute_ci=absolute_ci,
        relative=relative,
        relative_ci=relative_ci,
        p_value=p_value,
        reasons=tuple(reasons),
    )
