"""Constrained clustering: which nodes are one person, from their edges (pure).

Plain connected components chain people together (A~B on a shared email, B~C on a family
phone, and a whole family is one profile). Here edges are taken strongest first, and each one
joins two clusters only if the joined cluster would still be one person:

* it holds at most ``limit`` distinct values of each limited identifier type (one
  ``user_id``, one ``national_id``); a person's split and a reviewer's "not the same person"
  are limited pseudo-identifiers too, so they hold however the edges arrive;
* for a probabilistic edge between two clusters, no scored pair across them says "different
  people" (weight under the review threshold): one strong pair cannot bridge two people.

Refused edges are returned with the reason, for ``explain`` and for the review queue.

The result depends only on the set of nodes and edges, never on the order they arrived in:
edges are sorted by (tier, weight, node keys), so batch resolution and incremental resolution
of the same records give the same partition.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

OrderKey = tuple[str, str, str]
"""How nodes are ordered: their stable (source, type, key) names."""

TIER_REVIEWED = 0
TIER_DETERMINISTIC = 1
TIER_PROBABILISTIC = 2
TIER_ATTACH = 3
"""An evidence-poor record (no given name, no birth date) to a candidate: see
``_attach_evidence_poor``."""


@dataclass(frozen=True, slots=True)
class Edge:
    a: int
    b: int
    tier: int
    weight: float
    reason: str


@dataclass(slots=True)
class Clustering:
    root: dict[int, int]
    """Each node's cluster, named by its first node in ``order_key`` order."""
    accepted: list[Edge] = field(default_factory=list)
    refused: list[tuple[Edge, str]] = field(default_factory=list)

    def clusters(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for node, root in self.root.items():
            out.setdefault(root, []).append(node)
        return out


def cluster(
    nodes: Sequence[int],
    order_key: Mapping[int, OrderKey],
    identified: set[int],
    limited: Mapping[int, Sequence[tuple[str, str]]],
    limits: Mapping[str, int],
    edges: Sequence[Edge],
    pair_weight: Mapping[tuple[int, int], float],
    review_weight: float,
) -> Clustering:
    """Cluster ``nodes``; ``identified`` are the nodes that identify a person on their own (a
    whole name or a birth date); ``limited`` gives each node's values of limited identifier types
    (and pseudo-types such as ``split:7``), ``limits`` the limit per type (default 1)."""
    parent = {n: n for n in nodes}
    members: dict[int, list[int]] = {n: [n] for n in nodes}
    values: dict[int, dict[str, set[str]]] = {}
    for n in nodes:
        held: dict[str, set[str]] = {}
        for id_type, value in limited.get(n, ()):
            held.setdefault(id_type, set()).add(value)
        values[n] = held

    def find(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    result = Clustering({})
    ordered = sorted(
        edges,
        key=lambda e: (
            e.tier,
            -e.weight,
            min(order_key[e.a], order_key[e.b]),
            max(order_key[e.a], order_key[e.b]),
            e.reason,
        ),
    )
    attach = [e for e in ordered if e.tier == TIER_ATTACH]
    for edge in ordered:
        if edge.tier == TIER_ATTACH:
            continue
        ra, rb = find(edge.a), find(edge.b)
        if ra == rb:
            continue
        conflict = _limit_conflict(values[ra], values[rb], limits)
        if conflict is not None:
            result.refused.append((edge, conflict))
            continue
        if edge.tier == TIER_PROBABILISTIC:
            against = _evidence_against(members[ra], members[rb], pair_weight, review_weight)
            if against is not None:
                result.refused.append((edge, against))
                continue
        # union: the smaller cluster joins the larger
        if len(members[ra]) < len(members[rb]):
            ra, rb = rb, ra
        parent[rb] = ra
        members[ra].extend(members.pop(rb))
        for id_type, held_values in values.pop(rb).items():
            values[ra].setdefault(id_type, set()).update(held_values)
        result.accepted.append(edge)
    _attach_evidence_poor(
        attach, find, order_key, identified, parent, members, values, limits, result
    )
    for root, group in members.items():
        first = min(group, key=lambda n: order_key[n])
        for n in group:
            result.root[n] = first
        del root
    return result


def _attach_evidence_poor(
    attach: list[Edge],
    find: Callable[[int], int],
    order_key: Mapping[int, OrderKey],
    identified: set[int],
    parent: dict[int, int],
    members: dict[int, list[int]],
    values: dict[int, dict[str, set[str]]],
    limits: Mapping[str, int],
    result: Clustering,
) -> None:
    """Join records that cannot tell family members apart (a receipt with only a phone, or
    a first name) to the one person their contact points lead to. Candidates are the
    clusters holding a record that identifies a person; where there are several (a family
    phone), those whose name agrees are preferred; if that leaves more than one, the record
    stays apart and the edges are refused as ambiguous. Without any such cluster, records
    sharing the contact point are joined to each other.

    ``Edge.a`` of an attach edge is the evidence-poor node; ``Edge.reason`` is ``name`` when
    the names agree."""
    by_node: dict[int, list[Edge]] = {}
    for edge in attach:
        by_node.setdefault(edge.a, []).append(edge)
    for node in sorted(by_node, key=lambda n: order_key[n]):
        edges = by_node[node]
        own = find(node)
        person = {
            r
            for r in {find(e.b) for e in edges} - {own}
            if any(m in identified for m in members[r])
        }
        if len(person) > 1:
            named = {find(e.b) for e in edges if e.reason == "name"} & person
            person = named if named else person
        if len(person) > 1:
            result.refused.extend(
                (e, "ambiguous: the shared contact points belong to several people") for e in edges
            )
            continue
        targets = person or ({find(e.b) for e in edges} - {own})
        if not targets:
            continue
        if len(targets) > 1:
            # only other records without identity share the contact point: they join
            first = min(targets, key=lambda r: order_key[r])
            targets = {first}
        target = targets.pop()
        conflict = _limit_conflict(values[own], values[target], limits)
        if conflict is not None:
            result.refused.extend((e, conflict) for e in edges)
            continue
        keep, gone = (target, own) if len(members[target]) >= len(members[own]) else (own, target)
        parent[gone] = keep
        members[keep].extend(members.pop(gone))
        for id_type, held in values.pop(gone).items():
            values[keep].setdefault(id_type, set()).update(held)
        # the evidence kept is the strongest edge into the person it joined
        joined = [e for e in edges if find(e.b) == find(node)]
        result.accepted.append(max(joined or edges, key=lambda e: (e.weight, -e.b)))


def _limit_conflict(
    a: dict[str, set[str]], b: dict[str, set[str]], limits: Mapping[str, int]
) -> str | None:
    for id_type, held in b.items():
        mine = a.get(id_type)
        if not mine:
            continue
        limit = limits.get(id_type, 1)
        if len(mine | held) > limit:
            if id_type.startswith("split:"):
                return "kept apart by a person's decision (split or review)"
            return f"would give one profile {len(mine | held)} values of {id_type} (limit {limit})"
    return None


def _evidence_against(
    a: list[int], b: list[int], verdicts: Mapping[tuple[int, int], float], review_weight: float
) -> str | None:
    """Whether the scored pairs across two clusters say "different people": at least as many
    pairs disagree on the person (birth date, whole name) as agree. One mistyped record does
    not keep a person apart; a family's records, which disagree on every name, stay apart."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    other = set(large)
    against = agree = 0
    for x in small:
        for y in other:
            verdict = verdicts.get((x, y) if x < y else (y, x))
            if verdict is None:
                continue
            if verdict < 0:
                against += 1
            else:
                agree += 1
    if against and against >= agree:
        return (
            f"{against} record pairs across the two profiles disagree on the person (birth date "
            f"or whole name), {agree} agree"
        )
    return None
