"""The match model: EM recovers m on synthetic pairs; weights split into parts."""

import numpy as np

from c360.identity.comparisons import COMPARISON_INDEX, N_COMPARISONS, FeatureTable
from c360.identity.model import MatchModel, estimate_m, estimate_prior, estimate_u


def synthetic(rng: np.random.Generator, n: int, match: bool) -> np.ndarray:
    """Levels for pairs: matches mostly agree exactly, non-matches mostly disagree."""
    rows = np.zeros((n, N_COMPARISONS), dtype=np.int8)
    for c, name in enumerate(COMPARISON_INDEX):
        top = {
            "given_name": 6,
            "family_name": 4,
            "birth_date": 4,
            "email": 3,
            "phone": 3,
            "postal_code": 2,
            "address": 3,
            "gender": 2,
        }[name]
        p_agree = 0.9 if match else 0.02
        agree = rng.random(n) < p_agree
        rows[:, c] = np.where(agree, 1, top)
    return rows


def test_em_recovers_how_often_the_same_person_agrees() -> None:
    rng = np.random.default_rng(1)
    u = estimate_u(synthetic(rng, 20_000, match=False))
    candidates = np.vstack([synthetic(rng, 3_000, True), synthetic(rng, 7_000, False)])
    m, share, _ = estimate_m(candidates, u)
    for c in range(N_COMPARISONS):
        assert abs(m[c][1] - 0.9) < 0.05, (c, m[c])
    assert abs(share - 0.3) < 0.05
    assert abs(estimate_prior(candidates, m, u) - 0.3) < 0.05


def test_an_explanation_adds_up_to_the_weight() -> None:
    model = MatchModel()
    table = FeatureTable.of(
        [
            {"fn": "somchai", "fk": "smchai", "dob": "1987-03-15", "ph": "+66812345678"},
            {"fn": "somchai", "fk": "smchai", "dob": "1987-03-15", "ph": "+66812345678"},
        ]
    )
    levels = np.zeros((1, N_COMPARISONS), dtype=np.int8)
    levels[0, COMPARISON_INDEX["given_name"]] = 1
    levels[0, COMPARISON_INDEX["birth_date"]] = 1
    levels[0, COMPARISON_INDEX["phone"]] = 1
    weight = model.weights(levels, table, np.array([0]))[0]
    parts = model.explain(levels[0], table, 0)
    assert {p["comparison"] for p in parts} == {"given_name", "birth_date", "phone"}
    assert abs(model.prior_weight + sum(p["weight"] for p in parts) - weight) < 0.05
