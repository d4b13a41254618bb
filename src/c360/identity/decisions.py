"""What people decide about identities: split a profile, answer a review item, and why a
profile is what it is (explain), and what a new configuration would change (simulate).

A decision is stored against the nodes' stable keys (source, type, key), not their row ids,
so ``c360 rebuild`` and ``c360 resolve`` keep it: a split can never be re-made by the
matcher, and a reviewer's "same person" holds until someone splits them again.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, update

from c360.errors import InvalidInput, NotFound
from c360.identity.comparisons import FeatureTable
from c360.identity.config import IdentityConfig
from c360.identity.features import NODE_RECORD, REFERENCE_TYPES
from c360.identity.resolution import ROLE_HOLDS, Node, resolve_nodes
from c360.identity.service import (
    NodeChanges,
    ProfileChanges,
    Resolver,
    _load_nodes,
    _members,
    _pairs_among,
    describe_key,
    resolve_all,
    resolve_changed,
)
from c360.kernel.clock import system_clock
from c360.storage.dialect import insert_many_ignoring_duplicates, key_in
from c360.storage.tables import (
    identity_decision_nodes,
    identity_decisions,
    identity_keys,
    identity_nodes,
    identity_reviews,
    profile_merges,
    profiles,
    sources,
)


def live_profile_id(conn: Connection, profile_id: str) -> str:
    """The live profile id for ``profile_id``, following merges."""
    for _ in range(100):
        row = conn.execute(
            select(profiles.c.merged_into).where(profiles.c.id == profile_id)
        ).first()
        if row is None:
            raise NotFound(f"no profile with id {profile_id}")
        if row[0] is None:
            return profile_id
        profile_id = row[0]
    raise NotFound(f"profile {profile_id} has a merge cycle")


@dataclass(frozen=True, slots=True)
class NodeRef:
    id: int
    source: str
    node_type: str
    key: str
    kind: str
    source_id: int

    def as_json(self) -> dict[str, Any]:
        label = self.key if self.node_type == NODE_RECORD else f"{self.node_type} {self.key}"
        return {
            "source": self.source,
            "record_id": self.key,
            "type": self.node_type,
            "kind": self.kind,
            "label": label,
        }


def profile_nodes(conn: Connection, profile_id: str) -> list[NodeRef]:
    rows = conn.execute(
        select(
            identity_nodes.c.id,
            sources.c.name,
            identity_nodes.c.node_type,
            identity_nodes.c.node_key,
            identity_nodes.c.kind,
            identity_nodes.c.source_id,
        )
        .select_from(identity_nodes.join(sources, sources.c.id == identity_nodes.c.source_id))
        .where(identity_nodes.c.profile_id == profile_id)
        .order_by(identity_nodes.c.first_seq, identity_nodes.c.id)
    ).all()
    return [NodeRef(*row) for row in rows]


# -- explain --------------------------------------------------------------------------------


def explain(conn: Connection, profile_id: str) -> dict[str, Any]:
    """Why these records are one person: the edges that hold the profile together (each
    deterministic key or scored comparison in words), the merges and splits it went through,
    the records kept apart from it and why."""
    live = live_profile_id(conn, profile_id)
    resolver = Resolver.load(conn)
    refs = profile_nodes(conn, live)
    by_id = {r.id: r for r in refs}
    loaded = _load_nodes(conn, by_id)
    nodes = {n: v[0] for n, v in loaded.items()}
    groups = _members(
        conn, [k for n in nodes.values() for k, _ in n.keys if not k.startswith("b:")]
    )
    scored = _pairs_among(conn, set(nodes))
    clustering = resolve_nodes(nodes, groups, scored, resolver.config)
    levels = {(s.a, s.b): s.levels for s in scored}
    edges = []
    for edge in clustering.accepted:
        kind = {0: "reviewed", 1: "deterministic", 2: "probabilistic", 3: "attach"}[edge.tier]
        item: dict[str, Any] = {
            "a": by_id[edge.a].as_json(),
            "b": by_id[edge.b].as_json(),
            "kind": kind,
            "because": describe_key(edge.reason, kind, edge.weight),
        }
        if kind in ("probabilistic", "attach"):
            pair = (min(edge.a, edge.b), max(edge.a, edge.b))
            item["weight"] = edge.weight
            item["probability"] = round(float(2**edge.weight / (1 + 2**edge.weight)), 6)
            item["comparisons"] = comparison_parts(
                resolver, nodes[pair[0]], nodes[pair[1]], levels[pair]
            )
            item["prior"] = round(resolver.model.prior_weight, 2)
        edges.append(item)
    history = [
        {
            "action": row.action,
            "survivor": row.survivor_id,
            "other": row.merged_id,
            "seq": row.seq,
            "reason": row.reason,
            "evidence": row.evidence,
        }
        for row in conn.execute(
            select(profile_merges)
            .where(or_(profile_merges.c.survivor_id == live, profile_merges.c.merged_id == live))
            .order_by(profile_merges.c.id)
        )
    ]
    kept_apart = [
        {"a": by_id[a].as_json() if a in by_id else a, "b": b, "weight": w, "reason": why}
        for a, b, w, why in conn.execute(
            select(
                identity_reviews.c.a,
                identity_reviews.c.b,
                identity_reviews.c.weight,
                identity_reviews.c.reason,
            ).where(
                or_(
                    key_in(conn, identity_reviews.c.a, sorted(by_id)),
                    key_in(conn, identity_reviews.c.b, sorted(by_id)),
                )
            )
        )
    ]
    merged_ids = sorted(
        conn.execute(select(profiles.c.id).where(profiles.c.merged_into == live)).scalars()
    )
    return {
        "profile_id": live,
        "requested_id": profile_id,
        "merged_ids": merged_ids,
        "records": [r.as_json() for r in refs],
        "edges": edges,
        "history": history,
        "open_questions": kept_apart,
        "model_version": resolver.model.version,
    }


def comparison_parts(resolver: Resolver, a: Node, b: Node, levels: str) -> list[dict[str, Any]]:
    table = FeatureTable.of([a.features, b.features])
    row = np.array([int(c) for c in levels], dtype=np.int8)
    parts = resolver.model.explain(row, table, 0)
    for part in parts:
        part["field"] = part.pop("comparison")
    return parts


# -- decisions -------------------------------------------------------------------------------


def _decide(
    conn: Connection,
    kind: str,
    actor: str,
    reason: str,
    sides: dict[int, list[NodeRef]],
    detail: dict[str, Any],
) -> int:
    decision_id = conn.execute(
        insert(identity_decisions)
        .values(kind=kind, actor=actor, reason=reason, created_at_us=system_clock(), detail=detail)
        .returning(identity_decisions.c.id)
    ).scalar_one()
    insert_many_ignoring_duplicates(
        conn,
        identity_decision_nodes,
        [
            {
                "decision_id": decision_id,
                "source_id": ref.source_id,
                "node_type": ref.node_type,
                "node_key": ref.key,
                "side": side,
            }
            for side, refs in sides.items()
            for ref in refs
        ],
    )
    # the nodes carry the decision from now on (and again after any rebuild)
    all_refs = [ref for refs in sides.values() for ref in refs]
    if kind == "same":
        insert_many_ignoring_duplicates(
            conn,
            identity_keys,
            [
                {"key": f"m:{decision_id}", "node_id": ref.id, "role": ROLE_HOLDS}
                for ref in all_refs
            ],
        )
    else:
        current = dict(
            conn.execute(
                select(identity_nodes.c.id, identity_nodes.c.limited).where(
                    key_in(conn, identity_nodes.c.id, [r.id for r in all_refs])
                )
            ).all()
        )
        conn.execute(
            update(identity_nodes)
            .where(identity_nodes.c.id == bindparam("nid"))
            .values(limited=bindparam("limited")),
            [
                {"nid": ref.id, "limited": [*current[ref.id], [f"split:{decision_id}", str(side)]]}
                for side, refs in sides.items()
                for ref in refs
            ],
        )
    return int(decision_id)


def split(
    conn: Connection,
    profile_id: str,
    records: Sequence[tuple[str, str]],
    *,
    actor: str,
    reason: str,
    seq: int,
) -> tuple[ProfileChanges, list[str]]:
    """Move ``records`` (source, record id or tracked id) out of the profile, for good: the
    rest stays; both are re-resolved and a cannot-link decision keeps them apart. Returns
    the changes and the profile ids the parts now have."""
    live = live_profile_id(conn, profile_id)
    refs = profile_nodes(conn, live)
    wanted = {(s, k) for s, k in records}
    moving = [r for r in refs if (r.source, r.key) in wanted]
    missing = wanted - {(r.source, r.key) for r in moving}
    if missing:
        names = ", ".join(f"{s}:{k}" for s, k in sorted(missing))
        raise InvalidInput(f"not records of profile {live}: {names}")
    moving = _with_dependants(conn, refs, moving)
    staying = [r for r in refs if r not in moving]
    if not moving or not staying:
        raise InvalidInput("a split needs some of the profile's records on each side")
    _decide(
        conn,
        "split",
        actor,
        reason,
        {0: staying, 1: moving},
        {"profile_id": live, "moved": [r.as_json() for r in moving]},
    )
    result = resolve_changed(
        conn, Resolver.load(conn), NodeChanges(changed={r.id for r in refs}), seq
    )
    parts = sorted(
        set(
            conn.execute(
                select(identity_nodes.c.profile_id).where(
                    key_in(conn, identity_nodes.c.id, [r.id for r in refs])
                )
            ).scalars()
        )
    )
    return result, parts


def _with_dependants(conn: Connection, refs: list[NodeRef], moving: list[NodeRef]) -> list[NodeRef]:
    """``moving`` and the records that reach the person only through them: an order's lines,
    its invoice and the invoice's payment go with the order (records with person fields or
    identifiers of their own stay where they are)."""
    rows = {
        row.id: row
        for row in conn.execute(
            select(
                identity_nodes.c.id, identity_nodes.c.identifiers, identity_nodes.c.features
            ).where(key_in(conn, identity_nodes.c.id, [r.id for r in refs]))
        )
    }

    def ids_of(ref: NodeRef) -> set[tuple[str, str]]:
        return {(t, v) for t, v in (rows[ref.id].identifiers or {}).get("ids", [])}

    held = {pair for ref in moving for pair in ids_of(ref) if pair[0] in REFERENCE_TYPES}
    chosen = list(moving)
    grew = True
    while grew:
        grew = False
        for ref in refs:
            if ref in chosen or ref.node_type != NODE_RECORD:
                continue
            row = rows[ref.id]
            own = ids_of(ref)
            links = {(t, v) for t, v in (row.identifiers or {}).get("links", [])}
            dependent = (
                not row.features
                and all(t in REFERENCE_TYPES for t, _v in own)
                and bool(links & held)
            )
            if dependent:
                chosen.append(ref)
                held |= own
                grew = True
    return chosen


@dataclass(frozen=True, slots=True)
class ReviewItem:
    a: NodeRef
    b: NodeRef
    profile_a: str | None
    profile_b: str | None
    weight: float
    reason: str

    @property
    def id(self) -> str:
        return f"{self.a.id}-{self.b.id}"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "a": {**self.a.as_json(), "profile_id": self.profile_a},
            "b": {**self.b.as_json(), "profile_id": self.profile_b},
            "weight": self.weight,
            "probability": round(float(2**self.weight / (1 + 2**self.weight)), 6),
            "reason": self.reason,
        }


def review_items(
    conn: Connection, *, limit: int = 50, offset: int = 0
) -> tuple[list[ReviewItem], int]:
    """Open review items, strongest first, and how many there are."""
    total = conn.execute(select(func.count()).select_from(identity_reviews)).scalar_one()
    rows = conn.execute(
        select(identity_reviews)
        .order_by(identity_reviews.c.weight.desc(), identity_reviews.c.a, identity_reviews.c.b)
        .limit(limit)
        .offset(offset)
    ).all()
    ids = sorted({n for r in rows for n in (r.a, r.b)})
    refs = _refs(conn, ids)
    return [
        ReviewItem(refs[r.a][0], refs[r.b][0], refs[r.a][1], refs[r.b][1], r.weight, r.reason)
        for r in rows
        if r.a in refs and r.b in refs
    ], total


def _refs(conn: Connection, ids: Sequence[int]) -> dict[int, tuple[NodeRef, str | None]]:
    out: dict[int, tuple[NodeRef, str | None]] = {}
    if not ids:
        return out
    for row in conn.execute(
        select(
            identity_nodes.c.id,
            sources.c.name,
            identity_nodes.c.node_type,
            identity_nodes.c.node_key,
            identity_nodes.c.kind,
            identity_nodes.c.source_id,
            identity_nodes.c.profile_id,
        )
        .select_from(identity_nodes.join(sources, sources.c.id == identity_nodes.c.source_id))
        .where(key_in(conn, identity_nodes.c.id, list(ids)))
    ):
        out[row.id] = (NodeRef(*row[:6]), row.profile_id)
    return out


def decide_review(
    conn: Connection, item_id: str, decision: str, *, actor: str, reason: str, seq: int
) -> ProfileChanges:
    """Answer a review item: ``same`` joins the two records' profiles, ``apart`` keeps them
    apart for good. The item leaves the queue; the decision is remembered."""
    if decision not in ("same", "apart"):
        raise InvalidInput("decision must be 'same' or 'apart'")
    try:
        a, b = (int(x) for x in item_id.split("-", 1))
    except ValueError:
        raise InvalidInput(f"review item ids look like 12-34, not {item_id!r}") from None
    found = conn.execute(
        select(identity_reviews.c.a).where(identity_reviews.c.a == a, identity_reviews.c.b == b)
    ).first()
    if found is None:
        raise NotFound(f"no open review item {item_id}")
    refs = _refs(conn, [a, b])
    _decide(
        conn,
        decision,
        actor,
        reason,
        {0: [refs[a][0]], 1: [refs[b][0]]}
        if decision == "apart"
        else {0: [refs[a][0], refs[b][0]]},
        {"review_item": item_id},
    )
    conn.execute(
        delete(identity_reviews).where(identity_reviews.c.a == a, identity_reviews.c.b == b)
    )
    # everything in both profiles is re-resolved with the decision
    members = set(
        conn.execute(
            select(identity_nodes.c.id).where(
                key_in(conn, identity_nodes.c.profile_id, [p for _, p in refs.values() if p])
            )
        ).scalars()
    ) | {a, b}
    return resolve_changed(conn, Resolver.load(conn), NodeChanges(changed=members), seq)


# -- simulate --------------------------------------------------------------------------------


@dataclass(slots=True)
class Simulation:
    profiles_before: int = 0
    profiles_after: int = 0
    nodes_moved: int = 0
    merge_count: int = 0
    split_count: int = 0
    merges: list[list[str]] = field(default_factory=list)
    """Groups of today's profiles that would become one."""
    splits: list[list[list[dict[str, Any]]]] = field(default_factory=list)
    """Today's profiles that would come apart, as their parts (records)."""


def simulate(
    conn: Connection, config: IdentityConfig, *, train: bool = True, examples: int = 20
) -> Simulation:
    """What ``config`` would merge and split compared with today, without keeping anything
    (the run happens in a savepoint that is rolled back)."""
    before = dict(conn.execute(select(identity_nodes.c.id, identity_nodes.c.profile_id)).all())
    savepoint = conn.begin_nested()
    try:
        resolve_all(conn, config, train=train)
        after = dict(conn.execute(select(identity_nodes.c.id, identity_nodes.c.profile_id)).all())
    finally:
        savepoint.rollback()
    result = Simulation(
        profiles_before=len({p for p in before.values() if p}),
        profiles_after=len({p for p in after.values() if p}),
    )
    new_of_old: dict[str | None, set[str | None]] = {}
    old_of_new: dict[str | None, set[str | None]] = {}
    for node, old in before.items():
        new = after.get(node)
        new_of_old.setdefault(old, set()).add(new)
        old_of_new.setdefault(new, set()).add(old)
    # compare partitions, not ids: a node "moves" when its old profile's mates change
    refs_needed: set[int] = set()
    split_nodes: list[list[list[int]]] = []
    for _new, olds in sorted(old_of_new.items(), key=lambda kv: str(kv[0])):
        if len(olds) > 1:
            result.merges.append(sorted(str(o) for o in olds))
    for old, news in sorted(new_of_old.items(), key=lambda kv: str(kv[0])):
        if len(news) > 1 and old is not None:
            parts: list[list[int]] = []
            for new in sorted(news, key=str):
                part_nodes = [n for n, o in before.items() if o == old and after.get(n) == new]
                refs_needed.update(part_nodes[:5])
                parts.append(part_nodes[:5])
            split_nodes.append(parts)
    result.merge_count = len(result.merges)
    result.split_count = len(split_nodes)
    refs = _refs(conn, sorted(refs_needed))
    result.splits = [
        [[refs[n][0].as_json() for n in part if n in refs] for part in node_parts]
        for node_parts in split_nodes[:examples]
    ]
    result.nodes_moved = sum(
        1
        for node, old in before.items()
        if len(new_of_old[old]) > 1 or len(old_of_new[after.get(node)]) > 1
    )
    result.merges = result.merges[:examples] if examples else result.merges
    return result
