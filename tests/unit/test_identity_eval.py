"""The identity benchmark's scoring (bench/identity_eval.py), on cases worked out by hand."""

import itertools
import random
from pathlib import Path

import pytest
from bench.identity_eval import (
    GroundTruth,
    Key,
    away_by_source,
    evaluate,
    ground_truth_from_rows,
    load_ground_truth,
    load_links,
)

# Persons A (3 records) and B (2 records) share household H1; C (1 record) lives alone.
ROWS = [
    ("crm", "a1", "A", "H1"),
    ("shop", "a2", "A", "H1"),
    ("web", "a3", "A", "H1"),
    ("crm", "b1", "B", "H1"),
    ("pos", "b2", "B", "H1"),
    ("crm", "c1", "C", ""),
]
TRUTH = ground_truth_from_rows(
    {"source": s, "record_id": r, "person_id": p, "household_id": h} for s, r, p, h in ROWS
)


def links(groups: list[list[str]]) -> dict[Key, str]:
    """Profiles given as lists of record ids (ids are unique across sources here)."""
    source = {r: s for s, r, _, _ in ROWS}
    return {(source[r], r): f"P{i}" for i, group in enumerate(groups) for r in group}


def test_perfect_resolution() -> None:
    s = evaluate(TRUTH, links([["a1", "a2", "a3"], ["b1", "b2"], ["c1"]]))
    assert (s.records, s.true_persons, s.predicted_profiles) == (6, 3, 3)
    assert (s.true_pairs, s.predicted_pairs, s.correct_pairs) == (4, 4, 4)
    assert s.pairwise_precision == s.pairwise_recall == s.pairwise_f1 == 1.0
    assert s.bcubed_precision == s.bcubed_recall == s.bcubed_f1 == 1.0
    assert (s.over_merged_profiles, s.household_fusions, s.split_persons) == (0, 0, 0)
    assert (s.false_pairs, s.household_false_pairs, s.missing_links, s.extra_links) == (0, 0, 0, 0)
    assert s.largest_profile == 3


def test_all_singletons() -> None:
    s = evaluate(TRUTH, links([[r] for _, r, _, _ in ROWS]))
    assert s.predicted_profiles == 6
    assert (s.predicted_pairs, s.correct_pairs) == (0, 0)
    # No predicted pair: precision is 1 by convention, recall 0.
    assert (s.pairwise_precision, s.pairwise_recall, s.pairwise_f1) == (1.0, 0.0, 0.0)
    # B-cubed recall: A's records 1/3 each, B's 1/2 each, C's 1 -> (1 + 1 + 1) / 6.
    assert s.bcubed_precision == 1.0
    assert s.bcubed_recall == pytest.approx(0.5)
    assert s.bcubed_f1 == pytest.approx(2 / 3)
    assert s.split_persons == 2  # A and B; C has one record
    assert s.over_merged_profiles == 0


def test_household_over_merge() -> None:
    s = evaluate(TRUTH, links([["a1", "a2", "a3", "b1", "b2"], ["c1"]]))
    # C(5,2) = 10 predicted pairs, 3 + 1 of them right.
    assert (s.predicted_pairs, s.correct_pairs, s.true_pairs) == (10, 4, 4)
    assert s.pairwise_precision == pytest.approx(0.4)
    assert s.pairwise_recall == 1.0
    assert s.pairwise_f1 == pytest.approx(4 / 7)
    # B-cubed precision: A 3 x 3/5, B 2 x 2/5, C 1 -> (9/5 + 4/5 + 1) / 6 = 0.6.
    assert s.bcubed_precision == pytest.approx(0.6)
    assert s.bcubed_recall == 1.0
    assert s.bcubed_f1 == pytest.approx(0.75)
    assert (s.over_merged_profiles, s.household_fusions) == (1, 1)
    assert (s.false_pairs, s.household_false_pairs) == (6, 6)
    assert s.split_persons == 0
    assert s.largest_profile == 5


def test_over_merge_outside_a_household() -> None:
    s = evaluate(TRUTH, links([["a1", "a2", "a3"], ["b1", "b2", "c1"]]))
    assert (s.predicted_pairs, s.correct_pairs) == (6, 4)
    assert (s.over_merged_profiles, s.household_fusions) == (1, 0)
    assert (s.false_pairs, s.household_false_pairs) == (2, 0)


def test_one_split_person() -> None:
    s = evaluate(TRUTH, links([["a1", "a2"], ["a3"], ["b1", "b2"], ["c1"]]))
    assert (s.predicted_pairs, s.correct_pairs, s.true_pairs) == (2, 2, 4)
    assert (s.pairwise_precision, s.pairwise_recall) == (1.0, 0.5)
    assert s.pairwise_f1 == pytest.approx(2 / 3)
    # B-cubed recall: a1, a2 2/3 each, a3 1/3, B 1 + 1, C 1 -> (14/3) / 6 = 7/9.
    assert s.bcubed_precision == 1.0
    assert s.bcubed_recall == pytest.approx(7 / 9)
    assert s.split_persons == 1
    assert s.over_merged_profiles == 0


def test_missing_records_are_singletons_and_extra_rows_are_counted() -> None:
    predicted = links([["a1", "a2"], ["b1", "b2"], ["c1"]])  # a3 missing
    predicted[("inventory", "SKU-1")] = "P0"  # not in the ground truth: ignored
    s = evaluate(TRUTH, predicted)
    split = evaluate(TRUTH, links([["a1", "a2"], ["a3"], ["b1", "b2"], ["c1"]]))
    assert (s.missing_links, s.extra_links) == (1, 1)
    assert s.predicted_profiles == 4
    assert s.correct_pairs == split.correct_pairs
    assert s.predicted_pairs == split.predicted_pairs
    assert s.bcubed_recall == pytest.approx(split.bcubed_recall)
    assert s.split_persons == 1


def test_missing_records_never_join_a_profile_named_like_them() -> None:
    # A profile id can be any string: a missing record must still be a singleton.
    predicted = {("crm", "a1"): "('missing', ('web', 'a3'))"}
    s = evaluate(TRUTH, predicted)
    assert s.predicted_pairs == 0
    assert s.predicted_profiles == 6


def brute_force(truth: GroundTruth, predicted: dict[Key, str]) -> dict[str, float]:
    keys = list(truth.person)
    cluster = {k: predicted.get(k, f"__alone__{i}") for i, k in enumerate(keys)}
    tp = fp = fn = hh_fp = 0
    for x, y in itertools.combinations(keys, 2):
        same_true = truth.person[x] == truth.person[y]
        same_pred = cluster[x] == cluster[y]
        tp += same_true and same_pred
        fn += same_true and not same_pred
        if same_pred and not same_true:
            fp += 1
            hx, hy = truth.household.get(truth.person[x]), truth.household.get(truth.person[y])
            hh_fp += hx is not None and hx == hy
    bp = br = 0.0
    for k in keys:
        same_pred = [o for o in keys if cluster[o] == cluster[k]]
        same_true = [o for o in keys if truth.person[o] == truth.person[k]]
        both = [o for o in same_pred if truth.person[o] == truth.person[k]]
        bp += len(both) / len(same_pred)
        br += len(both) / len(same_true)
    return {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "bp": bp / len(keys),
        "br": br / len(keys),
        "tp": tp,
        "fp": fp,
        "hh_fp": hh_fp,
    }


@pytest.mark.parametrize("seed", range(5))
def test_matches_brute_force_pair_enumeration(seed: int) -> None:
    rng = random.Random(seed)
    rows = []
    for i in range(80):
        person = rng.randrange(20)
        household = f"H{person % 4}" if person < 12 else ""
        rows.append(
            {
                "source": rng.choice(["crm", "shop", "web"]),
                "record_id": f"R{i}",
                "person_id": f"P{person}",
                "household_id": household,
            }
        )
    truth = ground_truth_from_rows(rows)
    predicted: dict[Key, str] = {}
    for key, person in truth.person.items():
        r = rng.random()
        if r < 0.1:
            continue  # missing from the links
        predicted[key] = person if r < 0.6 else f"X{rng.randrange(8)}"
    s = evaluate(truth, predicted)
    expected = brute_force(truth, predicted)
    assert s.pairwise_precision == pytest.approx(expected["precision"])
    assert s.pairwise_recall == pytest.approx(expected["recall"])
    assert s.bcubed_precision == pytest.approx(expected["bp"])
    assert s.bcubed_recall == pytest.approx(expected["br"])
    assert s.correct_pairs == expected["tp"]
    assert s.false_pairs == expected["fp"]
    assert s.household_false_pairs == expected["hh_fp"]


def test_load_files(tmp_path: Path) -> None:
    truth_csv = tmp_path / "ground_truth.csv"
    truth_csv.write_text(
        "source,record_id,person_id,household_id\ncrm,CU1,P1,H1\nweb,SC1,P1,H1\nshop,SO1,P2,\n",
        encoding="utf-8",
    )
    truth = load_ground_truth(truth_csv)
    assert truth.person == {("crm", "CU1"): "P1", ("web", "SC1"): "P1", ("shop", "SO1"): "P2"}
    assert truth.household == {"P1": "H1"}
    links_csv = tmp_path / "links.csv"
    links_csv.write_text(
        "source,record_id,profile_id\ncrm,CU1,x\nweb,SC1,x\nshop,SO1,y\n", encoding="utf-8"
    )
    assert evaluate(truth, load_links(links_csv)).pairwise_f1 == 1.0
    links_csv.write_text("source,record_id,profile_id\ncrm,CU1,x\ncrm,CU1,y\n", encoding="utf-8")
    with pytest.raises(ValueError, match="two profiles"):
        load_links(links_csv)


def test_away_by_source() -> None:
    # A's main profile holds a1 and a2; a3 (web) is away. b2 is missing from the links.
    predicted = links([["a1", "a2"], ["a3"], ["b1"], ["c1"]])
    assert away_by_source(TRUTH, predicted) == {
        "crm": (3, 0),
        "pos": (1, 1),
        "shop": (1, 0),
        "web": (1, 1),
    }
