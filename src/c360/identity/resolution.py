"""From nodes to a partition: candidate pairs, scores, edges and constrained clusters (pure).

The same functions serve ``c360 resolve`` (every node at once) and the log processor (the few
nodes a batch of entries changed, with the candidates the store finds for them):

1. *Key groups.* Every node is indexed under keys: its identifiers (``email:…``,
   ``customer_id:3:…`` for a per-source type), deterministic rule keys (``r:…``), blocking
   keys (``b:…``) and the identifiers of other nodes it was seen with (*links*: an
   ``anonymousId`` seen with a ``userId``).
2. *Deterministic groups* (a merge-alone identifier, a rule, a link, a reviewer's "same
   person") become edges of their own tier; the other groups of at most ``block_cap`` nodes
   give candidate pairs, scored by the match model.
3. ``clustering.cluster`` takes the edges strongest first under the constraints.
"""

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from c360.identity.clustering import (
    TIER_ATTACH,
    TIER_DETERMINISTIC,
    TIER_PROBABILISTIC,
    TIER_REVIEWED,
    Clustering,
    Edge,
    cluster,
)
from c360.identity.comparisons import COMPARISON_INDEX, FeatureTable, compare
from c360.identity.config import IdentityConfig
from c360.identity.features import key_type
from c360.identity.model import MatchModel

ROLE_HOLDS = 0
ROLE_LINK = 1

_GIVEN = COMPARISON_INDEX["given_name"]
_BIRTH = COMPARISON_INDEX["birth_date"]


@dataclass(slots=True)
class Node:
    id: int
    stable: tuple[str, str, str]
    """(source name, node type, key): names the node the same way in every store and order."""
    first_seq: int
    features: dict[str, str]
    keys: list[tuple[str, int]]
    """(key, role): ``ROLE_HOLDS`` for its own identifiers, rule and blocking keys,
    ``ROLE_LINK`` for identifiers of other nodes it was seen with."""
    limited: list[tuple[str, str]] = field(default_factory=list)
    last_seq: int = 0

    @property
    def evidence_poor(self) -> bool:
        """Neither a whole name (given and family) nor a birth date: a receipt with a phone,
        or with a first name that may be a nickname, cannot tell family members apart."""
        f = self.features
        return not ("fk" in f and "lk" in f) and "dob" not in f


@dataclass(slots=True)
class Scored:
    a: int
    b: int
    weight: float
    levels: str
    """One digit per comparison (``comparisons.COMPARISONS`` order)."""


NO_EDGES = -1
"""The tier of a group that neither links nor makes candidate pairs (a reference shared by
several records that each hold it: two systems numbering orders alike)."""


def group_tier(key: str, roles: Iterable[int], config: IdentityConfig) -> int | None:
    """The tier of the edges a key group makes, ``None`` for a candidate-pair group, or
    ``NO_EDGES``."""
    if key.startswith("m:"):
        return TIER_REVIEWED
    if key.startswith("r:"):
        return TIER_DETERMINISTIC
    if key.startswith("b:"):
        return None
    rule = config.identifier(key_type(key))
    seen = list(roles)
    if rule.reference:
        holders = seen.count(ROLE_HOLDS)
        return TIER_DETERMINISTIC if ROLE_LINK in seen and holders <= 1 else NO_EDGES
    if rule.merge_alone or ROLE_LINK in seen:
        return TIER_DETERMINISTIC
    return None


def links(key: str, roles: Iterable[int], config: IdentityConfig) -> bool:
    """Whether a key group joins its members without scoring."""
    return group_tier(key, roles, config) in (TIER_REVIEWED, TIER_DETERMINISTIC)


def deterministic_edges(
    groups: Mapping[str, Sequence[tuple[int, int]]],
    order_key: Mapping[int, Hashable],
    config: IdentityConfig,
) -> list[Edge]:
    """Each deterministic group as a star around its first holder (its first node when none
    holds the key).

    A link names the node holding the identifier (an ``anonymousId`` seen with a ``userId``
    names that user's node), so each linking node's edge goes to that node, never to another
    linking node. Two nodes that link to the same identifier are not evidence about each other.
    A star around a linking node would make them so: a device that signed in as user B would
    join user A because A's alias named B, and one refused edge (a split, a limit) would cut
    the holder off from every other node linking to it."""
    edges: list[Edge] = []
    for key, members in groups.items():
        if len(members) < 2:
            continue
        tier = group_tier(key, (r for _, r in members), config)
        if tier is None or tier == NO_EDGES:
            continue
        nodes = sorted({n for n, _ in members}, key=lambda n: order_key[n])  # type: ignore[arg-type,return-value]
        holders = {n for n, role in members if role == ROLE_HOLDS}
        weight = _deterministic_weight(key, config)
        hub = next((n for n in nodes if n in holders), nodes[0])
        edges.extend(Edge(hub, other, tier, weight, key) for other in nodes if other != hub)
    return edges


def _deterministic_weight(key: str, config: IdentityConfig) -> float:
    if key.startswith(("r:", "m:")):
        return 50.0
    return 100.0 - config.identifier(key_type(key)).priority


def candidate_pairs(
    groups: Mapping[str, Sequence[tuple[int, int]]],
    config: IdentityConfig,
    focus: set[int] | None = None,
) -> tuple[set[tuple[int, int]], list[str]]:
    """Pairs of nodes sharing a candidate key (at most ``block_cap`` nodes); with ``focus``,
    only pairs with a focus node. Returns the pairs and the keys skipped for their size."""
    pairs: set[tuple[int, int]] = set()
    skipped: list[str] = []
    for key, members in groups.items():
        if len(members) < 2 or group_tier(key, (r for _, r in members), config) is not None:
            continue
        nodes = sorted({n for n, _ in members})
        if len(nodes) > config.block_cap:
            skipped.append(key)
            continue
        for i, a in enumerate(nodes):
            for b in nodes[i + 1 :]:
                if focus is None or a in focus or b in focus:
                    pairs.add((a, b))
    return pairs, skipped


def score_pairs(
    nodes: Mapping[int, Node], pairs: Iterable[tuple[int, int]], model: MatchModel
) -> list[Scored]:
    ordered = sorted(pairs)
    if not ordered:
        return []
    ids = sorted({n for pair in ordered for n in pair})
    index = {n: i for i, n in enumerate(ids)}
    table = FeatureTable.of([nodes[n].features for n in ids])
    left = np.array([index[a] for a, _ in ordered], dtype=np.int64)
    right = np.array([index[b] for _, b in ordered], dtype=np.int64)
    levels = compare(table, left, right)
    weights = model.weights(levels, table, left)
    # each row of levels as a string of digits, without a Python loop per digit
    texts = (levels.astype(np.uint8) + ord("0")).view(f"S{levels.shape[1]}").ravel()
    rounded = np.round(weights, 3).tolist()
    return [
        Scored(a, b, w, t.decode()) for (a, b), w, t in zip(ordered, rounded, texts, strict=True)
    ]


def person_evidence(levels: str) -> bool:
    """A given name (similar or better) or a birth date (exact or one typo) agrees. "Somewhat
    similar" names (Jaro-Winkler 0.8) are not evidence: short keys such as hung / hng reach it."""
    return levels[_GIVEN] in "1234" or levels[_BIRTH] in "12"


_EMAIL = COMPARISON_INDEX["email"]
_PHONE = COMPARISON_INDEX["phone"]
_FAMILY = COMPARISON_INDEX["family_name"]


def shares_contact_point(levels: str) -> bool:
    return levels[_EMAIL] == "1" or levels[_PHONE] == "1"


def contradicts(levels: str) -> bool:
    """Person evidence that disagrees: different birth dates, or different given names where
    both records have a whole name (a lone first name may be a nickname). Family names alone
    never contradict: Thai women may take their husband's."""
    return levels[_BIRTH] == "4" or (levels[_GIVEN] == "6" and levels[_FAMILY] != "0")


_ADDRESS = COMPARISON_INDEX["address"]


def anchored(levels: str) -> bool:
    """Something beyond a name agrees: an email, a phone, a birth date or a street address.
    A name and a city are not an identity: namesakes in one city are common."""
    return (
        levels[_EMAIL] in "12"
        or levels[_PHONE] in "12"
        or levels[_BIRTH] in "12"
        or levels[_ADDRESS] == "1"
    )


def scored_edges(
    nodes: Mapping[int, Node], scored: Iterable[Scored], config: IdentityConfig
) -> list[Edge]:
    """Pairs over the merge threshold, as probabilistic or attach edges."""
    threshold = config.thresholds.merge_weight
    edges: list[Edge] = []
    poor = {n for n, node in nodes.items() if node.evidence_poor}
    for s in scored:
        poor_a, poor_b = s.a in poor, s.b in poor
        if poor_a or poor_b:
            # A record that only has contact points joins the one person they lead to.
            if shares_contact_point(s.levels) and not contradicts(s.levels):
                a, b = (s.a, s.b) if poor_a else (s.b, s.a)
                # the reason says whether the names agree, for choosing among candidates
                agrees = "name" if person_evidence(s.levels) else "contact"
                edges.append(Edge(a, b, TIER_ATTACH, s.weight, agrees))
            continue
        if s.weight < threshold:
            continue
        if not config.require_person_evidence or (person_evidence(s.levels) and anchored(s.levels)):
            edges.append(Edge(s.a, s.b, TIER_PROBABILISTIC, s.weight, "score"))
    return edges


def resolve_nodes(
    nodes: Mapping[int, Node],
    groups: Mapping[str, Sequence[tuple[int, int]]],
    scored: Iterable[Scored],
    config: IdentityConfig,
) -> Clustering:
    """Cluster ``nodes`` (a whole component, or everything) from their groups and pairs."""
    scored = list(scored)
    order_key = {n: node.stable for n, node in nodes.items()}
    present = {k: [(n, r) for n, r in members if n in nodes] for k, members in groups.items()}
    edges = deterministic_edges(present, order_key, config) + scored_edges(nodes, scored, config)
    limited = {n: node.limited for n, node in nodes.items()}
    limits: dict[str, int] = {t: lim for t, lim in config.limited.items()}
    # Pairs whose person evidence disagrees speak against joining their clusters, pairs
    # whose names or birth dates agree for it (see clustering: the majority decides).
    pair_weight = {
        (s.a, s.b): (-1.0 if contradicts(s.levels) else 1.0)
        for s in scored
        if s.a in nodes and s.b in nodes and (contradicts(s.levels) or person_evidence(s.levels))
    }
    return cluster(
        list(nodes),
        order_key,
        {n for n, node in nodes.items() if not node.evidence_poor},
        limited,
        limits,
        edges,
        pair_weight,
        config.thresholds.review_weight,
    )
