"""The Fellegi-Sunter match model: m and u probabilities per comparison level, estimated
without labels, and match weights that split into per-field contributions (pure; numpy).

* ``u`` (how often two *different* people agree at a level) is measured on random pairs, as
  Splink does.
* ``m`` (how often the *same* person's records agree at a level) and the share of matches
  among candidate pairs are estimated by expectation-maximisation on the candidate pairs,
  with ``u`` held fixed.
* Term frequencies adjust the exact-name levels: two records agreeing on ``Nguyễn`` (about
  38% of Vietnamese) is weak evidence, on a rare family name strong evidence.

A weight is ``log2`` of a Bayes factor; the prior plus the sum of the comparisons' weights is
the pair's match weight, and ``p = 2^w / (1 + 2^w)``.
"""

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from c360.identity.comparisons import COMPARISONS, N_COMPARISONS, N_LEVELS, FeatureTable, Levels

MIN_P = 1e-6
TF_KEEP = 2
"""Term-frequency tables keep values seen on at least this many nodes."""


def _default_m() -> list[list[float]]:
    """Starting m values: generic shapes (most agree exactly), not fitted to any data."""
    shapes = {
        "given_name": [0.80, 0.08, 0.04, 0.03, 0.02, 0.03],
        "family_name": [0.85, 0.07, 0.03, 0.05],
        "birth_date": [0.90, 0.05, 0.02, 0.03],
        "email": [0.90, 0.05, 0.05],
        "phone": [0.88, 0.07, 0.05],
        "postal_code": [0.85, 0.15],
        "address": [0.6, 0.25, 0.15],
        "gender": [0.97, 0.03],
    }
    return [[0.0, *shapes[c.name]] for c in COMPARISONS]


def _default_u() -> list[list[float]]:
    shapes = {
        "given_name": [0.003, 0.004, 0.002, 0.01, 0.05, 0.931],
        "family_name": [0.005, 0.004, 0.02, 0.971],
        "birth_date": [0.0001, 0.0005, 0.05, 0.9494],
        "email": [0.00001, 0.0001, 0.99989],
        "phone": [0.00001, 0.0001, 0.99989],
        "postal_code": [0.01, 0.99],
        "address": [0.0005, 0.02, 0.9795],
        "gender": [0.5, 0.5],
    }
    return [[0.0, *shapes[c.name]] for c in COMPARISONS]


@dataclass(slots=True)
class MatchModel:
    """m and u per comparison level (index 0, "missing", carries no weight), the prior and the
    term-frequency tables."""

    m: list[list[float]] = field(default_factory=_default_m)
    u: list[list[float]] = field(default_factory=_default_u)
    prior: float = 1e-4
    """Probability that two random nodes are one person."""
    tf: dict[str, dict[str, float]] = field(default_factory=dict)
    tf_floor: dict[str, float] = field(default_factory=dict)
    """The frequency assumed for a value the table does not hold (seen once)."""
    version: int = 0
    trained_on: int = 0
    em_iterations: int = 0
    features_version: int = 0
    """The node features the model was trained on (see ``service.FEATURES_VERSION``)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "m": self.m,
            "u": self.u,
            "prior": self.prior,
            "tf": self.tf,
            "tf_floor": self.tf_floor,
            "trained_on": self.trained_on,
            "em_iterations": self.em_iterations,
            "features_version": self.features_version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], version: int) -> "MatchModel":
        return cls(
            m=data["m"],
            u=data["u"],
            prior=data["prior"],
            tf=data.get("tf", {}),
            tf_floor=data.get("tf_floor", {}),
            version=version,
            trained_on=data.get("trained_on", 0),
            em_iterations=data.get("em_iterations", 0),
            features_version=data.get("features_version", 0),
        )

    # -- weights -------------------------------------------------------------------------

    def level_weights(self) -> list[NDArray[np.float64]]:
        out = []
        for c in range(N_COMPARISONS):
            m = np.maximum(np.array(self.m[c], dtype=np.float64), MIN_P)
            u = np.maximum(np.array(self.u[c], dtype=np.float64), MIN_P)
            w = np.log2(m / u)
            w[0] = 0.0
            out.append(w)
        return out

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1 - self.prior))

    def weights(
        self,
        levels: Levels,
        table: FeatureTable,
        left: NDArray[np.int64],
    ) -> NDArray[np.float64]:
        """Match weight of each pair (prior included)."""
        total = np.full(len(levels), self.prior_weight, dtype=np.float64)
        for c, w in enumerate(self.level_weights()):
            total += w[levels[:, c]]
        total += self._tf_adjustments(levels, table, left).sum(axis=1)
        return total

    def _tf_adjustments(
        self, levels: Levels, table: FeatureTable, left: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        out = np.zeros((len(levels), N_COMPARISONS), dtype=np.float64)
        for c, comparison in enumerate(COMPARISONS):
            if comparison.tf_level is None or comparison.tf_feature is None:
                continue
            hit = np.nonzero(levels[:, c] == comparison.tf_level)[0]
            if not len(hit) or comparison.tf_feature not in self.tf_floor:
                continue  # no term frequencies yet (an untrained model): no adjustment
            u_level = max(self.u[c][comparison.tf_level], MIN_P)
            freqs = self.term_frequencies(
                comparison.tf_feature, table.columns[comparison.tf_feature][left[hit]]
            )
            out[hit, c] = np.log2(u_level / np.maximum(freqs, MIN_P))
        return out

    def term_frequencies(self, feature: str, values: Any) -> NDArray[np.float64]:
        table = self.tf.get(feature, {})
        floor = self.tf_floor.get(feature, MIN_P)
        return np.array([table.get(v, floor) for v in values], dtype=np.float64)

    def explain(
        self, levels_row: Levels, table: FeatureTable, left_index: int
    ) -> list[dict[str, Any]]:
        """Per-comparison contributions of one pair, strongest first, in words."""
        weights = self.level_weights()
        tf = self._tf_adjustments(levels_row.reshape(1, -1), table, np.array([left_index]))[0]
        parts: list[dict[str, Any]] = []
        for c, comparison in enumerate(COMPARISONS):
            level = int(levels_row[c])
            if level == 0:
                continue
            parts.append(
                {
                    "comparison": comparison.name,
                    "level": comparison.labels[level - 1],
                    "weight": round(float(weights[c][level] + tf[c]), 2),
                    "tf_adjustment": round(float(tf[c]), 2) if tf[c] else 0.0,
                }
            )
        parts.sort(key=lambda p: -abs(float(p["weight"])))
        return parts


# -- training ----------------------------------------------------------------------------


def term_frequency_tables(
    table: FeatureTable,
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    tf: dict[str, dict[str, float]] = {}
    floor: dict[str, float] = {}
    for comparison in COMPARISONS:
        feature = comparison.tf_feature
        if feature is None:
            continue
        column = table.columns[feature]
        present = column[column != ""]
        if not len(present):
            continue
        values, counts = np.unique(present.astype(str), return_counts=True)
        total = float(len(present))
        keep = counts >= TF_KEEP
        tf[feature] = {
            str(v): float(c) / total for v, c in zip(values[keep], counts[keep], strict=True)
        }
        floor[feature] = 1.0 / total
    return tf, floor


def estimate_u(levels: Levels) -> list[list[float]]:
    """u from the levels of random pairs (nearly all different people)."""
    u = _default_u()
    for c in range(N_COMPARISONS):
        counts = np.bincount(levels[:, c], minlength=N_LEVELS[c]).astype(np.float64)[1:]
        total = counts.sum()
        if total < 100:
            continue  # too few pairs with the field on both sides: keep the generic shape
        smoothed = (counts + 0.5) / (total + 0.5 * len(counts))
        u[c] = [0.0, *smoothed.tolist()]
    return u


def estimate_m(
    levels: Levels, u: list[list[float]], *, iterations: int = 25, tolerance: float = 1e-4
) -> tuple[list[list[float]], float, int]:
    """m and the share of matches among candidate pairs by EM, u fixed. Returns (m, share,
    iterations run)."""
    m = _default_m()
    share = 0.5
    if len(levels) == 0:
        return m, share, 0
    log_u = [np.log(np.maximum(np.array(u[c]), MIN_P)) for c in range(N_COMPARISONS)]
    run = 0
    for step in range(1, iterations + 1):
        run = step
        log_m = [np.log(np.maximum(np.array(m[c]), MIN_P)) for c in range(N_COMPARISONS)]
        log_match = np.full(len(levels), math.log(share))
        log_non = np.full(len(levels), math.log(1 - share))
        for c in range(N_COMPARISONS):
            lv = levels[:, c]
            known = lv > 0
            log_match[known] += log_m[c][lv[known]]
            log_non[known] += log_u[c][lv[known]]
        posterior = 1.0 / (1.0 + np.exp(np.clip(log_non - log_match, -50, 50)))
        new_share = float(posterior.mean())
        new_m = []
        for c in range(N_COMPARISONS):
            sums = np.bincount(levels[:, c], weights=posterior, minlength=N_LEVELS[c])[1:]
            total = sums.sum()
            if total <= 0:
                new_m.append(m[c])
                continue
            smoothed = (sums + 0.01) / (total + 0.01 * len(sums))
            new_m.append([0.0, *smoothed.tolist()])
        change = max(
            abs(a - b) for c in range(N_COMPARISONS) for a, b in zip(new_m[c], m[c], strict=True)
        )
        m, share = new_m, min(max(new_share, 1e-6), 0.999)
        if change < tolerance:
            break
    return m, share, run


def estimate_prior(
    levels: Levels, m: list[list[float]], u: list[list[float]], *, iterations: int = 20
) -> float:
    """The share of matches among candidate pairs, m and u fixed."""
    if len(levels) == 0:
        return 0.0
    log_ratio = np.zeros(len(levels))
    for c in range(N_COMPARISONS):
        lv = levels[:, c]
        ratio = np.log(np.maximum(np.array(m[c]), MIN_P)) - np.log(
            np.maximum(np.array(u[c]), MIN_P)
        )
        ratio[0] = 0.0
        log_ratio += ratio[lv]
    share = 0.5
    for _ in range(iterations):
        prior = math.log(share / (1 - share))
        posterior = 1.0 / (1.0 + np.exp(-np.clip(log_ratio + prior, -50, 50)))
        share = min(max(float(posterior.mean()), 1e-6), 0.999)
    return share
