"""Field comparisons of record pairs, as comparison levels (pure, vectorised).

Each comparison turns a pair of nodes into one level: ``0`` when either side lacks the field
(no evidence either way), ``1`` for the strongest agreement, up to the last level, which means
they disagree. Levels are computed for whole arrays of pairs at once (numpy, and rapidfuzz's
C++ ``cpdist`` for string similarities), so a batch of ten million candidate pairs and the
handful of candidates of one new record take the same code.

Names compare by their match keys (one key per spelling family, Thai script and romanized
alike; see ``standardize.names``), never by nickname against given name except at the level
that says so. Folded Vietnamese forms and keys only reach the fuzzy levels: ``Thị`` and ``Thi``
share a key, while the exact level needs the written form.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from rapidfuzz.distance import JaroWinkler, Levenshtein
from rapidfuzz.process import cpdist

Strings = NDArray[np.object_]
Levels = NDArray[np.int8]


@dataclass(frozen=True, slots=True)
class Comparison:
    name: str
    labels: tuple[str, ...]
    """Labels of levels 1..n (level 0 is "missing on one side")."""
    tf_level: int | None = None
    """The level whose weight is adjusted by how common the value is (``Nguyễn``)."""
    tf_feature: str | None = None


COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "given_name",
        (
            "exact",
            "same match key",
            "swapped order, whole name or nickname agrees",
            "similar (Jaro-Winkler >= 0.92)",
            "somewhat similar (Jaro-Winkler >= 0.8)",
            "different",
        ),
        tf_level=1,
        tf_feature="fn",
    ),
    Comparison(
        "family_name",
        ("exact", "same match key", "similar (Jaro-Winkler >= 0.88)", "different"),
        tf_level=1,
        tf_feature="ln",
    ),
    Comparison(
        "birth_date",
        ("exact", "one typo, day/month swapped or Buddhist-era year", "within a year", "different"),
    ),
    Comparison("email", ("exact", "same mailbox name at another domain", "different")),
    Comparison("phone", ("exact", "same last 8 digits or one typo", "different")),
    Comparison("postal_code", ("exact", "different")),
    Comparison(
        "address",
        ("same house number and area", "same province or postal code", "different"),
    ),
    Comparison("gender", ("same", "different")),
)

COMPARISON_INDEX = {c.name: i for i, c in enumerate(COMPARISONS)}
N_COMPARISONS = len(COMPARISONS)
N_LEVELS = tuple(len(c.labels) + 1 for c in COMPARISONS)


@dataclass(slots=True)
class FeatureTable:
    """Features of many nodes as columns: ``""`` where a node lacks one."""

    columns: dict[str, Strings]
    _token_sets: tuple[list[frozenset[str]], list[frozenset[str]]] | None = None
    _codes: dict[str, NDArray[np.int64]] | None = None
    _dates: tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]] | None = None

    def codes(self) -> dict[str, NDArray[np.int64]]:
        """Every column (and the derived email local part and last eight phone digits) as
        integer codes over one shared vocabulary: equal strings, equal codes; 0 is empty."""
        if self._codes is None:
            columns = dict(self.columns)
            columns["em_local"] = np.array(
                [e.split("@", 1)[0] if e else "" for e in self.columns["em"]], dtype=object
            )
            columns["ph_last8"] = np.array(
                [v[-8:] if len(v) >= 8 else "" for v in self.columns["ph"]], dtype=object
            )
            vocabulary: dict[str, int] = {"": 0}
            codes: dict[str, NDArray[np.int64]] = {}
            for name, column in columns.items():
                codes[name] = np.fromiter(
                    (vocabulary.setdefault(v, len(vocabulary)) for v in column),
                    dtype=np.int64,
                    count=len(column),
                )
            self._codes = codes
        return self._codes

    def date_parts(self) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]:
        if self._dates is None:
            values = self.columns["dob"]
            y = np.zeros(len(values), dtype=np.int32)
            m = np.zeros(len(values), dtype=np.int32)
            d = np.zeros(len(values), dtype=np.int32)
            for k, value in enumerate(values):
                if len(value) == 10 and value[4] == "-" and value[7] == "-":
                    try:
                        y[k], m[k], d[k] = int(value[:4]), int(value[5:7]), int(value[8:])
                    except ValueError:
                        continue
            self._dates = (y, m, d)
        return self._dates

    def token_sets(self) -> tuple[list[frozenset[str]], list[frozenset[str]]]:
        """Each node's given-name tokens and whole-name tokens (computed once)."""
        if self._token_sets is None:
            self._token_sets = (
                [frozenset(v.split()) for v in self.columns["fk"]],
                [frozenset(v.split()) for v in self.columns["tk"]],
            )
        return self._token_sets

    @classmethod
    def of(cls, features: Sequence[dict[str, str]]) -> "FeatureTable":
        from c360.identity.features import FEATURE_NAMES

        columns = {}
        for name in FEATURE_NAMES:
            columns[name] = np.array([f.get(name, "") for f in features], dtype=object)
        return cls(columns)

    def __len__(self) -> int:
        return len(self.columns["fn"])


def compare(table: FeatureTable, left: NDArray[np.int64], right: NDArray[np.int64]) -> Levels:
    """Comparison levels of the pairs (``left[k]``, ``right[k]``): one row per pair.

    Equality is tested on integer codes of the values (computed once per table), string
    similarity only for the pairs whose level it can still change."""
    out = np.zeros((len(left), N_COMPARISONS), dtype=np.int8)
    if len(left) == 0:
        return out
    code = table.codes()

    def side(name: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        return code[name][left], code[name][right]

    def same(a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.bool_]:
        result: NDArray[np.bool_] = (a == b) & (a > 0)
        return result

    fn_a, fn_b = side("fn")
    fk_a, fk_b = side("fk")
    ln_a, ln_b = side("ln")
    lk_a, lk_b = side("lk")
    tk_a, tk_b = side("tk")
    nn_a, nn_b = side("nn")
    swapped = same(fk_a, lk_b) & same(lk_a, fk_b)
    tokens_agree = same(tk_a, tk_b)
    tokens_agree |= _given_within_whole_name(table, left, right, fk_a, fk_b, tk_a, tk_b)
    nickname = same(fk_a, nn_b) | same(nn_a, fk_b)
    given_present = (fk_a > 0) & (fk_b > 0)
    out[:, 0] = _ladder(
        given_present,
        [same(fn_a, fn_b), fk_a == fk_b, swapped | tokens_agree | nickname],
        lambda undecided: _similarity(table, "fk", left[undecided], right[undecided]),
        (0.92, 0.8),
    )
    out[:, 1] = _ladder(
        (lk_a > 0) & (lk_b > 0),
        [same(ln_a, ln_b), (lk_a == lk_b) | swapped | tokens_agree],
        lambda undecided: _similarity(table, "lk", left[undecided], right[undecided]),
        (0.88,),
    )
    out[:, 2] = _dates(table, left, right)
    em_a, em_b = side("em")
    el_a, el_b = side("em_local")
    # No "one typo" level for emails: people with one name have near-identical addresses
    # (vannguyen@, vannguyen1@), so a typo says little about being one person.
    out[:, 3] = _ladder((em_a > 0) & (em_b > 0), [em_a == em_b, same(el_a, el_b)], None, ())
    ph_a, ph_b = side("ph")
    p8_a, p8_b = side("ph_last8")
    phone_present = (ph_a > 0) & (ph_b > 0)
    typo = _one_edit(table, "ph", left, right, phone_present & (ph_a != ph_b) & ~same(p8_a, p8_b))
    out[:, 4] = _ladder(phone_present, [ph_a == ph_b, same(p8_a, p8_b) | typo], None, ())
    pc_a, pc_b = side("pc")
    out[:, 5] = _ladder((pc_a > 0) & (pc_b > 0), [pc_a == pc_b], None, ())
    hn_a, hn_b = side("hn")
    pv_a, pv_b = side("pv")
    area = same(pv_a, pv_b) | same(pc_a, pc_b)
    present = ((hn_a > 0) & (hn_b > 0)) | ((pv_a > 0) & (pv_b > 0)) | ((pc_a > 0) & (pc_b > 0))
    out[:, 6] = _ladder(present, [same(hn_a, hn_b) & area, area], None, ())
    g_a, g_b = side("g")
    out[:, 7] = _ladder((g_a > 0) & (g_b > 0), [g_a == g_b], None, ())
    return out


def _given_within_whole_name(
    table: "FeatureTable",
    left: NDArray[np.int64],
    right: NDArray[np.int64],
    fk_a: NDArray[np.int64],
    fk_b: NDArray[np.int64],
    tk_a: NDArray[np.int64],
    tk_b: NDArray[np.int64],
) -> NDArray[np.bool_]:
    """Each side's given name is among the other's name tokens (a name split differently:
    ``Lê Thị | Thủy`` against ``Thủy | Lê Thị``, or ``Thị | Thủy``)."""
    out = np.zeros(len(left), dtype=bool)
    candidates = np.nonzero(
        (fk_a != "") & (fk_b != "") & (tk_a != "") & (tk_b != "") & (fk_a != fk_b)
    )[0]
    if not len(candidates):
        return out
    given, whole = table.token_sets()
    for k in candidates:
        a, b = left[k], right[k]
        whole_a, whole_b = whole[a], whole[b]
        if given[a] <= whole_b and given[b] <= whole_a and len(whole_a & whole_b) >= 2:
            out[k] = True
    return out


def _ladder(
    present: NDArray[np.bool_],
    exact_levels: list[NDArray[np.bool_]],
    similarity: "Callable[[NDArray[np.int64]], NDArray[np.float32]] | None",
    cutoffs: tuple[float, ...],
) -> Levels:
    """Level of each pair: the first condition that holds, from the strongest. The similarity
    is computed only for the pairs no exact level decided."""
    levels = np.full(len(present), len(exact_levels) + len(cutoffs) + 1, dtype=np.int8)
    decided = ~present
    for level, condition in enumerate(exact_levels, start=1):
        hit = condition & ~decided
        levels[hit] = level
        decided |= hit
    if similarity is not None and cutoffs:
        undecided = np.nonzero(~decided)[0]
        if len(undecided):
            scores = similarity(undecided)
            for offset, cutoff in enumerate(cutoffs):
                hit = (scores >= cutoff) & (levels[undecided] > len(exact_levels) + offset)
                levels[undecided[hit]] = len(exact_levels) + offset + 1
    levels[~present] = 0
    return levels


def _similarity(
    table: FeatureTable, name: str, left: NDArray[np.int64], right: NDArray[np.int64]
) -> NDArray[np.float32]:
    column = table.columns[name]
    scores: NDArray[np.float32] = cpdist(
        list(column[left]), list(column[right]), scorer=JaroWinkler.normalized_similarity, workers=1
    )
    return scores


def _one_edit(
    table: FeatureTable,
    name: str,
    left: NDArray[np.int64],
    right: NDArray[np.int64],
    candidates: NDArray[np.bool_],
) -> NDArray[np.bool_]:
    """Pairs (among ``candidates``) whose values are one edit apart."""
    out = np.zeros(len(left), dtype=bool)
    idx = np.nonzero(candidates)[0]
    if len(idx):
        column = table.columns[name]
        distances = cpdist(
            list(column[left[idx]]),
            list(column[right[idx]]),
            scorer=Levenshtein.distance,
            score_cutoff=2,
            workers=1,
        )
        out[idx] = distances <= 1
    return out


def _dates(table: FeatureTable, left: NDArray[np.int64], right: NDArray[np.int64]) -> Levels:
    code = table.codes()
    a, b = code["dob"][left], code["dob"][right]
    present = (a > 0) & (b > 0)
    levels = np.full(len(left), 4, dtype=np.int8)
    y, m, d = table.date_parts()
    ya, ma, da = y[left], m[left], d[left]
    yb, mb, db = y[right], m[right], d[right]
    levels[present & (np.abs(ya - yb) <= 1)] = 3
    buddhist = (np.abs(ya - yb) == 543) & (ma == mb) & (da == db)
    swapped = (ya == yb) & (ma == db) & (da == mb)
    typo = _one_edit(table, "dob", left, right, present & (a != b) & ~buddhist & ~swapped)
    levels[present & (buddhist | swapped | typo)] = 2
    levels[present & (a == b)] = 1
    levels[~present] = 0
    return levels
