"""Scoring an entity resolution against the sample company's ground truth.

Both sides are mappings ``(source, record_id) -> cluster id``: the ground truth's person ids,
and a resolver's profile (or cluster) ids. Everything is computed from the contingency counts
``n[profile][person]`` (records of one person in one predicted profile), never by enumerating
record pairs, so millions of records take seconds:

* pairwise: true positives ``sum C(n_ij, 2)``, predicted pairs ``sum C(a_i, 2)`` (``a_i`` the
  size of profile ``i``), true pairs ``sum C(b_j, 2)`` (``b_j`` the records of person ``j``);
  precision = TP / predicted pairs, recall = TP / true pairs;
* B-cubed (Bagga and Baldwin): precision = mean over records of the share of its profile that
  is its person, ``sum n_ij^2 / a_i / N``; recall = mean share of its person that is in its
  profile, ``sum n_ij^2 / b_j / N``;
* over-merged profiles hold records of two or more persons; a household fusion is one of those
  holding two or more distinct persons of one household (a non-empty ``household_id``), and
  household false pairs are the wrongly linked pairs whose two persons share a household;
* split persons have records in two or more profiles.

Only records of the ground truth are scored. A ground-truth record the links do not mention
counts as a profile of its own (a singleton) and is reported as missing; link rows for records
outside the ground truth are ignored and counted.
"""

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

Key = tuple[str, str]
"""(source, record_id)."""


@dataclass(frozen=True, slots=True)
class GroundTruth:
    person: dict[Key, str]
    """(source, record_id) -> person id."""
    household: dict[str, str]
    """person id -> household id, for persons in a household (non-empty ids only)."""


@dataclass(frozen=True, slots=True)
class Scores:
    records: int
    """Ground-truth records scored."""
    true_persons: int
    predicted_profiles: int
    """Distinct profiles over the scored records (each missing record is one)."""
    missing_links: int
    """Ground-truth records the links do not mention (scored as singletons)."""
    extra_links: int
    """Link rows for records that are not in the ground truth (not scored)."""
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    over_merged_profiles: int
    """Profiles holding records of two or more persons."""
    household_fusions: int
    """Over-merged profiles holding two or more distinct persons of one household."""
    false_pairs: int
    household_false_pairs: int
    """False-positive pairs whose two persons share a household."""
    split_persons: int
    """Persons whose records are in two or more profiles."""
    largest_profile: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def pairs(n: int) -> int:
    """Unordered pairs among ``n`` items."""
    return n * (n - 1) // 2


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def load_ground_truth(path: Path) -> GroundTruth:
    """``ground_truth.csv``: ``source,record_id,person_id,household_id`` (household may be
    empty)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return ground_truth_from_rows(csv.DictReader(handle))


def ground_truth_from_rows(rows: Iterable[Mapping[str, str]]) -> GroundTruth:
    person: dict[Key, str] = {}
    household: dict[str, str] = {}
    for row in rows:
        pid = row["person_id"]
        person[(row["source"], row["record_id"])] = pid
        hid = (row.get("household_id") or "").strip()
        if hid:
            household[pid] = hid
    return GroundTruth(person=person, household=household)


def load_links(path: Path, cluster_column: str = "profile_id") -> dict[Key, str]:
    """A links CSV: ``source,record_id,<cluster_column>`` (extra columns are ignored). A record
    listed twice with two different clusters is an error: links must be a partition."""
    links: dict[Key, str] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            key = (row["source"], row["record_id"])
            cluster = row[cluster_column]
            if links.setdefault(key, cluster) != cluster:
                raise ValueError(
                    f"{path}: {key[0]}/{key[1]} is in two profiles ({links[key]}, {cluster})"
                )
    return links


def evaluate(truth: GroundTruth, links: Mapping[Key, str]) -> Scores:
    """Score ``links`` (record -> predicted cluster) against ``truth`` (see the module doc)."""
    # Contingency counts: profile -> person -> records. A missing record is its own profile;
    # its key is a tuple, which no string cluster id from the links can equal.
    table: dict[object, Counter[str]] = defaultdict(Counter)
    person_sizes: Counter[str] = Counter()
    missing = 0
    for key, person in truth.person.items():
        cluster: object = links.get(key)
        if cluster is None:
            missing += 1
            cluster = ("missing", key)
        table[cluster][person] += 1
        person_sizes[person] += 1
    extra = sum(1 for key in links if key not in truth.person)

    n = len(truth.person)
    correct = predicted = 0
    bcubed_p = bcubed_r = 0.0
    over_merged = fusions = household_false = 0
    largest = 0
    profiles_of: Counter[str] = Counter()
    for members in table.values():
        size = sum(members.values())
        largest = max(largest, size)
        predicted += pairs(size)
        for person, count in members.items():
            correct += pairs(count)
            bcubed_p += count * count / size
            bcubed_r += count * count / person_sizes[person]
            profiles_of[person] += 1
        if len(members) > 1:
            over_merged += 1
            by_household: dict[str, list[int]] = defaultdict(list)
            for person, count in members.items():
                hid = truth.household.get(person)
                if hid is not None:
                    by_household[hid].append(count)
            fused = False
            for counts in by_household.values():
                if len(counts) > 1:
                    fused = True
                    household_false += pairs(sum(counts)) - sum(pairs(c) for c in counts)
            fusions += fused
    true_pairs = sum(pairs(b) for b in person_sizes.values())
    precision = correct / predicted if predicted else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    bp = bcubed_p / n if n else 1.0
    br = bcubed_r / n if n else 1.0
    return Scores(
        records=n,
        true_persons=len(person_sizes),
        predicted_profiles=len(table),
        missing_links=missing,
        extra_links=extra,
        true_pairs=true_pairs,
        predicted_pairs=predicted,
        correct_pairs=correct,
        pairwise_precision=precision,
        pairwise_recall=recall,
        pairwise_f1=f1(precision, recall),
        bcubed_precision=bp,
        bcubed_recall=br,
        bcubed_f1=f1(bp, br),
        over_merged_profiles=over_merged,
        household_fusions=fusions,
        false_pairs=predicted - correct,
        household_false_pairs=household_false,
        split_persons=sum(1 for count in profiles_of.values() if count > 1),
        largest_profile=largest,
    )


def away_by_source(truth: GroundTruth, links: Mapping[Key, str]) -> dict[str, tuple[int, int]]:
    """Source -> (records, records away from their person's main profile).

    A person's main profile is the one holding most of its records (ties broken by the
    smaller profile id); a record elsewhere, or missing from the links, is away. This shows
    which sources a resolver fails to attach.
    """
    by_person: dict[str, list[tuple[Key, str | None]]] = defaultdict(list)
    for key, person in truth.person.items():
        by_person[person].append((key, links.get(key)))
    records: Counter[str] = Counter()
    away: Counter[str] = Counter()
    for members in by_person.values():
        counts = Counter(cluster for _, cluster in members if cluster is not None)
        main = min(counts, key=lambda c: (-counts[c], c)) if counts else None
        for (source, _), cluster in members:
            records[source] += 1
            if cluster is None or cluster != main:
                away[source] += 1
    return {source: (records[source], away[source]) for source in sorted(records)}
