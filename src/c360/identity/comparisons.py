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

from collections.abc import Sequence
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
    """Comparison levels of the pairs (``left[k]``, ``right[k]``): one row per pair."""
    out = np.zeros((len(left), N_COMPARISONS), dtype=np.int8)
    if len(left) == 0:
        return out
    col = table.columns

    def side(name: str) -> tuple[Strings, Strings]:
        return col[name][left], col[name][right]

    fn_a, fn_b = side("fn")
    fk_a, fk_b = side("fk")
    ln_a, ln_b = side("ln")
    lk_a, lk_b = side("lk")
    tk_a, tk_b = side("tk")
    nn_a, nn_b = side("nn")
    swapped = _nonempty(fk_a, lk_a) & _nonempty(fk_b, lk_b) & (fk_a == lk_b) & (lk_a == fk_b)
    tokens_agree = _nonempty(tk_a, tk_b) & (tk_a == tk_b)
    tokens_agree |= _given_within_whole_name(fk_a, tk_a, fk_b, tk_b)
    nickname = (_nonempty(fk_a, nn_b) & (fk_a == nn_b)) | (_nonempty(nn_a, fk_b) & (nn_a == fk_b))
    out[:, 0] = _ladder(
        _nonempty(fk_a, fk_b),
        [
            _nonempty(fn_a, fn_b) & (fn_a == fn_b),
            fk_a == fk_b,
            swapped | tokens_agree | nickname,
        ],
        _similarity(fk_a, fk_b),
        (0.92, 0.8),
    )
    out[:, 1] = _ladder(
        _nonempty(lk_a, lk_b),
        [_nonempty(ln_a, ln_b) & (ln_a == ln_b), (lk_a == lk_b) | swapped | tokens_agree],
        _similarity(lk_a, lk_b),
        (0.88,),
    )
    out[:, 2] = _dates(*side("dob"))
    em_a, em_b = side("em")
    # No "one typo" level for emails: people with one name have near-identical addresses
    # (vannguyen@, vannguyen1@), so a typo says little about being one person.
    out[:, 3] = _ladder(
        _nonempty(em_a, em_b), [em_a == em_b, _local_part(em_a) == _local_part(em_b)], None, ()
    )
    ph_a, ph_b = side("ph")
    out[:, 4] = _ladder(
        _nonempty(ph_a, ph_b),
        [ph_a == ph_b, _last(ph_a, 8) == _last(ph_b, 8)],
        None,
        (),
        typo=(ph_a, ph_b),
    )
    pc_a, pc_b = side("pc")
    out[:, 5] = _ladder(_nonempty(pc_a, pc_b), [pc_a == pc_b], None, ())
    hn_a, hn_b = side("hn")
    pv_a, pv_b = side("pv")
    area = (_nonempty(pv_a, pv_b) & (pv_a == pv_b)) | (_nonempty(pc_a, pc_b) & (pc_a == pc_b))
    present = _nonempty(hn_a, hn_b) | _nonempty(pv_a, pv_b) | _nonempty(pc_a, pc_b)
    out[:, 6] = _ladder(present, [_nonempty(hn_a, hn_b) & (hn_a == hn_b) & area, area], None, ())
    g_a, g_b = side("g")
    out[:, 7] = _ladder(_nonempty(g_a, g_b), [g_a == g_b], None, ())
    return out


def _given_within_whole_name(
    fk_a: Strings, tk_a: Strings, fk_b: Strings, tk_b: Strings
) -> NDArray[np.bool_]:
    """Each side's given name is among the other's name tokens (a name split differently:
    ``Lê Thị | Thủy`` against ``Thủy | Lê Thị``, or ``Thị | Thủy``)."""
    out = np.zeros(len(fk_a), dtype=bool)
    for k in np.nonzero((fk_a != "") & (fk_b != "") & (tk_a != "") & (tk_b != "") & (fk_a != fk_b))[
        0
    ]:
        given_a, given_b = set(fk_a[k].split()), set(fk_b[k].split())
        whole_a, whole_b = set(tk_a[k].split()), set(tk_b[k].split())
        if given_a <= whole_b and given_b <= whole_a and len(whole_a & whole_b) >= 2:
            out[k] = True
    return out


def _nonempty(a: Strings, b: Strings) -> NDArray[np.bool_]:
    present: NDArray[np.bool_] = (a != "") & (b != "")
    return present


def _ladder(
    present: NDArray[np.bool_],
    exact_levels: list[NDArray[np.bool_]],
    similarity: NDArray[np.float32] | None,
    cutoffs: tuple[float, ...],
    *,
    typo: tuple[Strings, Strings] | None = None,
) -> Levels:
    """Level of each pair: the first condition that holds, from the strongest."""
    conditions = list(exact_levels)
    if similarity is not None:
        conditions.extend(similarity >= cutoff for cutoff in cutoffs)
    if typo is not None:
        conditions[-1] = conditions[-1] | _one_edit(*typo, present)
    levels = np.full(len(present), len(conditions) + 1, dtype=np.int8)
    for level in range(len(conditions), 0, -1):
        levels[conditions[level - 1]] = level
    levels[~present] = 0
    return levels


def _similarity(a: Strings, b: Strings) -> NDArray[np.float32]:
    if len(a) == 0:
        return np.zeros(0, dtype=np.float32)
    scores: NDArray[np.float32] = cpdist(
        list(a), list(b), scorer=JaroWinkler.normalized_similarity, workers=1
    )
    return scores


def _one_edit(a: Strings, b: Strings, present: NDArray[np.bool_]) -> NDArray[np.bool_]:
    out = np.zeros(len(a), dtype=bool)
    idx = np.nonzero(present & (a != b))[0]
    if len(idx):
        distances = cpdist(
            list(a[idx]), list(b[idx]), scorer=Levenshtein.distance, score_cutoff=2, workers=1
        )
        out[idx] = distances <= 1
    return out


def _local_part(emails: Strings) -> Strings:
    return np.array([e.split("@", 1)[0] if e else "" for e in emails], dtype=object)


def _last(values: Strings, n: int) -> Strings:
    return np.array([v[-n:] if len(v) >= n else v for v in values], dtype=object)


def _dates(a: Strings, b: Strings) -> Levels:
    present = _nonempty(a, b)
    levels = np.full(len(a), 4, dtype=np.int8)
    ya, ma, da = _date_parts(a)
    yb, mb, db = _date_parts(b)
    within_year = present & (np.abs(ya - yb) <= 1)
    levels[within_year] = 3
    buddhist = (np.abs(ya - yb) == 543) & (ma == mb) & (da == db)
    swapped = (ya == yb) & (ma == db) & (da == mb)
    near = present & (buddhist | swapped | _one_edit(a, b, present))
    levels[near] = 2
    levels[present & (a == b)] = 1
    levels[~present] = 0
    return levels


def _date_parts(values: Strings) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]:
    y = np.zeros(len(values), dtype=np.int32)
    m = np.zeros(len(values), dtype=np.int32)
    d = np.zeros(len(values), dtype=np.int32)
    for k, value in enumerate(values):
        if len(value) == 10 and value[4] == "-" and value[7] == "-":
            try:
                y[k], m[k], d[k] = int(value[:4]), int(value[5:7]), int(value[8:])
            except ValueError:
                continue
    return y, m, d
