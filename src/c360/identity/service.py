"""Identity resolution against the store: nodes in, profiles out, incrementally or in bulk.

``update_nodes`` records what a batch of log entries says about each node (a record's
features and identifiers, a tracked identity's links); ``resolve_changed`` then re-resolves
only what those changes touch: it rescoring the changed nodes against the candidates their
keys find, re-clusters the connected part of the graph around them with
``resolution.resolve_nodes`` and writes the profiles that changed, with a merge or split
record naming the evidence. ``resolve_all`` runs the same clustering over every node at once
(``c360 resolve``), after training the match model on the data.

Everything runs in the caller's transaction.
"""

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from sqlalchemy import (
    Connection,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    tuple_,
    type_coerce,
    update,
)

from c360.identity.clustering import TIER_ATTACH, TIER_PROBABILISTIC, Clustering, Edge
from c360.identity.comparisons import COMPARISON_INDEX, COMPARISONS, FeatureTable, compare
from c360.identity.config import DEFAULT_CONFIG, IdentityConfig, parse_config
from c360.identity.features import (
    NODE_RECORD,
    RULE_FEATURES,
    NodeInput,
    blocking_keys,
    features_of,
    id_key,
    identifier_keys,
    tracked_fields,
)
from c360.identity.model import MatchModel, estimate_m, estimate_u, term_frequency_tables
from c360.identity.resolution import (
    ROLE_HOLDS,
    ROLE_LINK,
    Node,
    Scored,
    candidate_pairs,
    group_tier,
    links,
    resolve_nodes,
    score_pairs,
)
from c360.kernel.clock import system_clock as now_us
from c360.storage.dialect import insert_many_ignoring_duplicates, key_in
from c360.storage.tables import (
    identity_decision_nodes,
    identity_decisions,
    identity_keys,
    identity_models,
    identity_nodes,
    identity_pairs,
    identity_reviews,
    profile_merges,
    profiles,
    source_records,
    sources,
)

COMPARISONS_BY_INDEX = [c.name for c in COMPARISONS]
FEATURES_VERSION = 3
"""Bumped whenever features, keys or standardizers change what a node is indexed under: the
next ``c360 resolve`` then recomputes every node's features and keys."""
_PROFILE_NAMESPACE = uuid.UUID("5f2c8a52-3a9f-4d1e-9c55-0c3600000002")
_CHUNK = 500
COMPONENT_LIMIT = 20_000
"""A component larger than this is resolved anyway, and reported: it usually means a value
that should be blocked (a shop's phone) links thousands of records."""


def profile_id_of(stable: tuple[str, str, str], salt: int = 0) -> str:
    """The id a profile gets when ``stable`` is its first node (stable across rebuilds)."""
    name = "\x1f".join(stable) + (f"\x1f{salt}" if salt else "")
    return str(uuid.uuid5(_PROFILE_NAMESPACE, name))


# -- model and configuration --------------------------------------------------------------


@dataclass(slots=True)
class Resolver:
    """The configuration and model in effect (the newest stored, or the defaults)."""

    config: IdentityConfig
    model: MatchModel

    @classmethod
    def load(cls, conn: Connection) -> "Resolver":
        """The newest stored model and configuration (parsed once per version and store)."""
        newest = conn.execute(
            select(identity_models.c.version, identity_models.c.created_at_us)
            .order_by(identity_models.c.version.desc())
            .limit(1)
        ).first()
        if newest is None:
            return cls(DEFAULT_CONFIG, MatchModel())
        version = int(newest.version)
        key = (str(conn.engine.url), version, int(newest.created_at_us))
        cached = _RESOLVERS.get(key)
        if cached is not None:
            return cached
        row = conn.execute(
            select(identity_models.c.params, identity_models.c.config).where(
                identity_models.c.version == version
            )
        ).one()
        resolver = cls(parse_config(row.config), MatchModel.from_json(row.params, int(version)))
        if len(_RESOLVERS) > 16:
            _RESOLVERS.clear()
        _RESOLVERS[key] = resolver
        return resolver


_RESOLVERS: dict[tuple[str, int, int], Resolver] = {}
"""Parsed models by (store, version): a model's term-frequency tables are large, and every
batch of log entries needs the model. A stored version never changes."""


def store_model(conn: Connection, config: IdentityConfig, model: MatchModel) -> int:
    version = (conn.execute(select(func.max(identity_models.c.version))).scalar() or 0) + 1
    model.features_version = FEATURES_VERSION
    conn.execute(
        insert(identity_models).values(
            version=version,
            params=model.as_json(),
            config=config.model_dump(mode="json"),
            created_at_us=now_us(),
        )
    )
    model.version = version
    return version


# -- nodes ----------------------------------------------------------------------------------


def features_for(config: IdentityConfig, fields: dict[str, Any]) -> dict[str, str]:
    """A node's comparison features; a blocked email or phone is not one (it would pair the
    strangers who share it)."""
    features = features_of(fields)
    for feature, id_type in (("em", "email"), ("ph", "phone")):
        value = features.get(feature)
        if value is not None and config.identifier(id_type).is_blocked(value):
            del features[feature]
    return features


def node_keys(
    config: IdentityConfig,
    source_id: int,
    features: dict[str, str],
    identifiers: Sequence[Sequence[str]],
    links: Sequence[Sequence[str]],
) -> list[tuple[str, int]]:
    """Every key a node is indexed under, with its role."""
    ids = [(t, v) for t, v in identifiers]
    keys = {(k, ROLE_HOLDS) for k in identifier_keys(config, source_id, ids)}
    keys.update((k, ROLE_HOLDS) for k in blocking_keys(features))
    have = {t: v for t, v in ids if not config.identifier(t).is_blocked(v)}
    for rule in config.rules:
        parts = []
        for name in rule:
            value = features.get(RULE_FEATURES[name]) if name in RULE_FEATURES else have.get(name)
            if not value:
                break
            parts.append(f"{name}={value}")
        else:
            keys.add(("r:" + "|".join(parts), ROLE_HOLDS))
    for id_type, value in links:
        link_rule = config.identifier(id_type)
        if value and not link_rule.is_blocked(value):
            scope = source_id if link_rule.per_source else None
            keys.add((id_key(id_type, value, scope), ROLE_LINK))
    held = {k for k, r in keys if r == ROLE_HOLDS}
    return sorted((k, r) for k, r in keys if r == ROLE_HOLDS or k not in held)


def limited_values(
    config: IdentityConfig, identifiers: Sequence[Sequence[str]]
) -> list[tuple[str, str]]:
    limited = config.limited
    return sorted(
        {
            (t, v)
            for t, v in identifiers
            if t in limited and v and not config.identifier(t).is_blocked(v)
        }
    )


@dataclass(slots=True)
class NodeChanges:
    changed: set[int] = field(default_factory=set)
    keys_added: dict[str, int] = field(default_factory=dict)
    keys_removed: dict[str, int] = field(default_factory=dict)
    node_of: dict[tuple[int, str, str], int] = field(default_factory=dict)
    """Every input's node id, changed or not (events are filed under it)."""
    traits_changed: set[int] = field(default_factory=set)
    """Tracked identities whose traits changed without changing how they match."""


def update_nodes(conn: Connection, resolver: Resolver, inputs: Sequence[NodeInput]) -> NodeChanges:
    """Create or update the nodes of ``inputs`` (later inputs of one node win, links and
    identifiers accumulate for tracked identities); return what changed."""
    config = resolver.config
    out = NodeChanges()
    if not inputs:
        return out
    merged: dict[tuple[int, str, str], NodeInput] = {}
    first_seq: dict[tuple[int, str, str], int] = {}
    said: dict[tuple[int, str, str], list[NodeInput]] = {}
    for item in inputs:
        key = (item.source_id, item.node_type, item.key)
        first_seq.setdefault(key, item.first_seq or item.seq)
        if item.node_type == NODE_RECORD:
            merged[key] = item  # a record's newest version is the record
        else:
            said.setdefault(key, []).append(item)
            merged.setdefault(key, item)
    existing = _load_nodes_by_key(conn, list(merged))
    for key, items in said.items():
        # A tracked identity keeps what every event said about it. Its time is that of the
        # last event that changed its traits (the same however the log is cut into batches).
        row = existing.get(key)
        state: dict[str, Any] = dict(row["traits"] or {}) if row is not None else {}
        at_us = row["at_us"] if row is not None else items[0].at_us
        ids = [tuple(x) for x in row["identifiers"]["ids"]] if row is not None else []
        linked = [tuple(x) for x in row["identifiers"]["links"]] if row is not None else []
        for item in items:
            if item.traits:
                changed = {**state, **item.traits}
                if changed != state:
                    state, at_us = changed, item.at_us
            ids = _union(ids, item.identifiers)
            linked = _union(linked, item.links)
        last = items[-1]
        merged[key] = NodeInput(
            last.source_id,
            last.node_type,
            last.key,
            last.kind,
            {},
            ids,
            linked,
            seq=last.seq,
            at_us=at_us,
            traits=state,
        )
    decisions = _decisions_for(conn, list(merged))
    new_rows: list[dict[str, Any]] = []
    touched: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    new_keys: dict[int, list[tuple[str, int]]] = {}
    for key, item in merged.items():
        row = existing.get(key)
        tracked = item.node_type != NODE_RECORD
        if tracked:
            item.fields = tracked_fields(item.traits or {})
        features = features_for(config, item.fields)
        ids = sorted({(t, v) for t, v in item.identifiers})
        links = sorted({(t, v) for t, v in item.links})
        stored_keys = {"ids": [list(x) for x in ids], "links": [list(x) for x in links]}
        limited = limited_values(config, ids) + decisions.get(key, ([], []))[0]
        keys = (
            node_keys(config, item.source_id, features, ids, links)
            + decisions.get(key, ([], []))[1]
        )
        values = {
            "kind": item.kind if not tracked else "tracked",
            "features": features,
            "identifiers": stored_keys,
            "limited": [list(x) for x in limited],
            "traits": item.traits if tracked else None,
            "last_seq": item.seq,
            "at_us": item.at_us,
        }
        if row is None:
            new_rows.append(
                {
                    "source_id": item.source_id,
                    "node_type": item.node_type,
                    "node_key": item.key,
                    "first_seq": first_seq[key],
                    "profile_id": None,
                    **values,
                    "_keys": keys,
                }
            )
            continue
        out.node_of[key] = row["id"]
        same = (
            row["features"] == features
            and row["identifiers"] == stored_keys
            and [tuple(x) for x in row["limited"]] == limited
        )
        if same:
            if tracked and (row["traits"] != item.traits or row["last_seq"] < item.seq):
                touched.append(
                    {
                        "nid": row["id"],
                        "traits": item.traits,
                        "last_seq": item.seq,
                        "at_us": item.at_us,
                        "pid": row["profile_id"],
                    }
                )
                if row["traits"] != item.traits:
                    out.traits_changed.add(row["id"])
            continue
        updated.append({"nid": row["id"], **values})
        new_keys[row["id"]] = keys
        out.changed.add(row["id"])
    if touched:
        conn.execute(
            update(identity_nodes)
            .where(identity_nodes.c.id == bindparam("nid"))
            .values(
                traits=bindparam("traits"), last_seq=bindparam("last_seq"), at_us=bindparam("at_us")
            ),
            [{k: v for k, v in t.items() if k != "pid"} for t in touched],
        )
        bumps = [{"pid": t["pid"], "seq": t["last_seq"]} for t in touched if t["pid"]]
        if bumps:
            conn.execute(
                update(profiles)
                .where(profiles.c.id == bindparam("pid"), profiles.c.updated_seq < bindparam("seq"))
                .values(updated_seq=bindparam("seq")),
                bumps,
            )
    if updated:
        conn.execute(
            update(identity_nodes)
            .where(identity_nodes.c.id == bindparam("nid"))
            .values({name: bindparam(name) for name in updated[0] if name != "nid"}),
            updated,
        )
    if new_rows:
        pending = {
            (r["source_id"], r["node_type"], r["node_key"]): r.pop("_keys") for r in new_rows
        }
        conn.execute(insert(identity_nodes), new_rows)
        for key, row in _load_nodes_by_key(conn, list(pending)).items():
            out.node_of[key] = row["id"]
            out.changed.add(row["id"])
            new_keys[row["id"]] = pending[key]
    _replace_keys(conn, new_keys, out)
    return out


def _union(a: Iterable[tuple[str, str]], b: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted({(str(t), str(v)) for t, v in [*a, *b]})


def _replace_keys(
    conn: Connection, new_keys: dict[int, list[tuple[str, int]]], out: NodeChanges
) -> None:
    """Make the index hold exactly ``new_keys`` for these nodes; count what changed."""
    if not new_keys:
        return
    old = _keys_of(conn, sorted(new_keys))
    gone: list[tuple[int, str]] = []
    added: list[dict[str, Any]] = []
    for node_id, keys in new_keys.items():
        old_set, new_set = set(old.get(node_id, [])), set(keys)
        for k, _ in sorted(old_set - new_set):
            gone.append((node_id, k))
            out.keys_removed[k] = out.keys_removed.get(k, 0) + 1
        for k, r in sorted(new_set - old_set):
            added.append({"key": k, "node_id": node_id, "role": r})
            out.keys_added[k] = out.keys_added.get(k, 0) + 1
    if gone:
        conn.execute(
            delete(identity_keys).where(
                identity_keys.c.node_id == bindparam("nid"), identity_keys.c.key == bindparam("k")
            ),
            [{"nid": n, "k": k} for n, k in gone],
        )
    insert_many_ignoring_duplicates(conn, identity_keys, added)


def _load_nodes_by_key(
    conn: Connection, keys: list[tuple[int, str, str]]
) -> dict[tuple[int, str, str], dict[str, Any]]:
    found: dict[tuple[int, str, str], dict[str, Any]] = {}
    grouped: dict[tuple[int, str], list[str]] = {}
    for source_id, node_type, node_key in keys:
        grouped.setdefault((source_id, node_type), []).append(node_key)
    for (source_id, node_type), node_keys_ in sorted(grouped.items()):
        for chunk in _chunks(sorted(set(node_keys_)), 2000):
            rows = conn.execute(
                select(
                    identity_nodes.c.id,
                    identity_nodes.c.source_id,
                    identity_nodes.c.node_type,
                    identity_nodes.c.node_key,
                    identity_nodes.c.features,
                    identity_nodes.c.identifiers,
                    identity_nodes.c.limited,
                    identity_nodes.c.traits,
                    identity_nodes.c.last_seq,
                    identity_nodes.c.profile_id,
                    identity_nodes.c.at_us,
                ).where(
                    identity_nodes.c.source_id == source_id,
                    identity_nodes.c.node_type == node_type,
                    key_in(conn, identity_nodes.c.node_key, chunk),
                )
            )
            for row in rows:
                found[(row.source_id, row.node_type, row.node_key)] = row._asdict()
    return found


def _decisions_for(
    conn: Connection, keys: list[tuple[int, str, str]]
) -> dict[tuple[int, str, str], tuple[list[tuple[str, str]], list[tuple[str, int]]]]:
    """Limited pseudo-values (``split:7`` = side) and ``m:`` keys that decisions give nodes."""
    out: dict[tuple[int, str, str], tuple[list[tuple[str, str]], list[tuple[str, int]]]] = {}
    if conn.execute(select(identity_decision_nodes.c.decision_id).limit(1)).first() is None:
        return out  # nobody has decided anything yet: the common case, one cheap query
    for chunk in _chunks(keys, _CHUNK):
        rows = conn.execute(
            select(
                identity_decision_nodes.c.source_id,
                identity_decision_nodes.c.node_type,
                identity_decision_nodes.c.node_key,
                identity_decision_nodes.c.decision_id,
                identity_decision_nodes.c.side,
                identity_decisions.c.kind,
            )
            .select_from(
                identity_decision_nodes.join(
                    identity_decisions,
                    identity_decisions.c.id == identity_decision_nodes.c.decision_id,
                )
            )
            .where(
                tuple_(
                    identity_decision_nodes.c.source_id,
                    identity_decision_nodes.c.node_type,
                    identity_decision_nodes.c.node_key,
                ).in_(chunk)
            )
        )
        for row in rows:
            limited, keys_ = out.setdefault((row.source_id, row.node_type, row.node_key), ([], []))
            if row.kind == "same":
                keys_.append((f"m:{row.decision_id}", ROLE_HOLDS))
            else:
                limited.append((f"split:{row.decision_id}", str(row.side)))
    return out


@dataclass(slots=True)
class _Reads:
    """What one resolution has read of the index (it does not change while it runs)."""

    keys: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    members: dict[str, list[tuple[int, int]]] = field(default_factory=dict)


def _keys_of(
    conn: Connection, node_ids: Sequence[int], reads: _Reads | None = None
) -> dict[int, list[tuple[str, int]]]:
    wanted = list(node_ids) if reads is None else [n for n in node_ids if n not in reads.keys]
    out: dict[int, list[tuple[str, int]]] = {}
    for chunk in _chunks(wanted, _CHUNK):
        for key, node_id, role in conn.execute(
            select(identity_keys.c.key, identity_keys.c.node_id, identity_keys.c.role).where(
                key_in(conn, identity_keys.c.node_id, chunk)
            )
        ):
            out.setdefault(node_id, []).append((key, role))
    if reads is None:
        return out
    for n in wanted:
        reads.keys[n] = out.get(n, [])
    return {n: reads.keys[n] for n in node_ids if reads.keys[n]}


def _members(
    conn: Connection, keys: Sequence[str], reads: _Reads | None = None
) -> dict[str, list[tuple[int, int]]]:
    unique = sorted(set(keys))
    wanted = unique if reads is None else [k for k in unique if k not in reads.members]
    out: dict[str, list[tuple[int, int]]] = {}
    for chunk in _chunks(wanted, _CHUNK):
        for key, node_id, role in conn.execute(
            select(identity_keys.c.key, identity_keys.c.node_id, identity_keys.c.role).where(
                key_in(conn, identity_keys.c.key, chunk)
            )
        ):
            out.setdefault(key, []).append((node_id, role))
    if reads is None:
        return out
    for k in wanted:
        reads.members[k] = out.get(k, [])
    return {k: reads.members[k] for k in unique if reads.members[k]}


_FEATURES: Any = identity_nodes.c.features.type  # sealed at rest: opened by ``loaded_text``
_NODE_COLUMNS = (
    identity_nodes.c.id,
    identity_nodes.c.source_id,
    identity_nodes.c.node_type,
    identity_nodes.c.node_key,
    identity_nodes.c.first_seq,
    identity_nodes.c.last_seq,
    # JSON as text, decoded by ``_json``: SQLAlchemy's per-row processing costs more than the
    # query when a resolution reads thousands of nodes
    type_coerce(identity_nodes.c.features, Text),
    type_coerce(identity_nodes.c.limited, Text),
    identity_nodes.c.profile_id,
)


def _node_of(
    conn: Connection, row: Any, names: dict[int, str], keys: dict[int, list[tuple[str, int]]]
) -> tuple[Node, str | None]:
    """A ``_NODE_COLUMNS`` row as a node and its current profile."""
    node_id, source_id, node_type, node_key, first, last, features, limited, pid = row
    source = names.get(source_id) or source_names(conn, source_id).get(source_id, str(source_id))
    node = Node(
        node_id,
        (source, node_type, node_key),
        first,
        _json(_FEATURES.loaded_text(features)),
        keys.get(node_id, []),
        [(t, v) for t, v in _json(limited)],
        last,
    )
    return node, pid


def _load_nodes(
    conn: Connection, node_ids: Iterable[int], reads: _Reads | None = None
) -> dict[int, tuple[Node, str | None]]:
    ids = sorted(set(node_ids))
    if not ids:
        return {}
    names = source_names(conn)
    keys = _keys_of(conn, ids, reads)
    out: dict[int, tuple[Node, str | None]] = {}
    for chunk in _chunks(ids, 2000):
        query = select(*_NODE_COLUMNS).where(key_in(conn, identity_nodes.c.id, chunk))
        for row in conn.execute(query):
            out[row[0]] = _node_of(conn, row, names, keys)
    return out


def _json(value: Any) -> Any:
    """A JSON column read as text (SQLite) or already decoded (PostgreSQL's jsonb)."""
    return orjson.loads(value) if isinstance(value, str) else value


_SOURCE_NAMES: dict[str, dict[int, str]] = {}


def source_names(conn: Connection, missing: int | None = None) -> dict[int, str]:
    """Source names by id (read again when an id is new; sources are never renamed)."""
    url = str(conn.engine.url)
    names = _SOURCE_NAMES.get(url)
    if names is None or (missing is not None and missing not in names):
        names = dict(conn.execute(select(sources.c.id, sources.c.name)).all())
        _SOURCE_NAMES[url] = names
    return names


# -- incremental resolution -------------------------------------------------------------------


@dataclass(slots=True)
class ProfileChanges:
    """What a resolution changed: the profiles to refresh and the nodes that moved."""

    touched: set[str] = field(default_factory=set)
    moved: dict[int, tuple[str | None, str]] = field(default_factory=dict)
    merges: int = 0
    splits: int = 0
    reviews: int = 0
    skipped_keys: list[str] = field(default_factory=list)
    largest_component: int = 0
    history: list[tuple[str, str, str, str]] = field(default_factory=list)
    """Each merge and split made, in order: (action, survivor, other, reason)."""


def resolve_changed(
    conn: Connection, resolver: Resolver, changes: NodeChanges, seq: int
) -> ProfileChanges:
    """Re-resolve what the changed nodes touch."""
    result = ProfileChanges()
    if not changes.changed:
        return result
    config = resolver.config
    focus = set(changes.changed)
    # A blocking group that grows past the cap stops making pairs (or starts again when it
    # shrinks back): its members are re-paired, so the pairs are what a batch run would find.
    boundary = [
        k for k in {*changes.keys_added, *changes.keys_removed} if group_tier(k, (), config) is None
    ]
    if boundary:
        sizes = _group_sizes(conn, boundary)
        for key in boundary:
            after = sizes.get(key, 0)
            before = after - changes.keys_added.get(key, 0) + changes.keys_removed.get(key, 0)
            if (before > config.block_cap) != (after > config.block_cap):
                focus.update(n for n, _ in _members(conn, [key]).get(key, []))
    _delete_pairs(conn, focus)
    reads = _Reads()
    focus_keys = _keys_of(conn, sorted(focus), reads)
    wanted = sorted({k for keys in focus_keys.values() for k, _ in keys})
    sizes = _group_sizes(conn, wanted)
    # an oversized candidate group makes no pairs: leave its members unread
    oversized = [
        k
        for k in wanted
        if sizes.get(k, 0) > config.block_cap and group_tier(k, (), config) is None
    ]
    groups = _members(
        conn, [k for k in wanted if sizes.get(k, 0) > 1 and k not in set(oversized)], reads
    )
    pairs, skipped = candidate_pairs(groups, config, focus)
    result.skipped_keys = skipped + oversized
    candidates = {n for pair in pairs for n in pair}
    loaded = _load_nodes(conn, candidates | focus, reads)
    scored = score_pairs({n: v[0] for n, v in loaded.items()}, pairs, resolver.model)
    _insert_pairs(conn, scored)
    before_profiles = {v[1] for n, v in loaded.items() if n in focus and v[1] is not None}
    component = _component(conn, config, focus, before_profiles, reads)
    result.largest_component = len(component)
    nodes = {n: loaded[n] for n in component if n in loaded}
    nodes.update(_load_nodes(conn, component - set(nodes), reads))
    groups = _members(
        conn, [k for n, _ in nodes.values() for k, _ in n.keys if not k.startswith("b:")], reads
    )
    scored = _pairs_among(conn, set(nodes))
    clustering = resolve_nodes({n: v[0] for n, v in nodes.items()}, groups, scored, config)
    _write_profiles(conn, nodes, clustering, seq, result)
    leaving = _review_band_leaving(conn, config, set(nodes))
    _record_reviews(conn, config, clustering, [*scored, *leaving], nodes, result)
    # a changed node may now share a family phone or email without changing its profile
    changed_profiles: set[str] = set()
    for chunk in _chunks(sorted(changes.changed), _CHUNK):
        changed_profiles.update(
            p
            for p in conn.execute(
                select(identity_nodes.c.profile_id).where(key_in(conn, identity_nodes.c.id, chunk))
            ).scalars()
            if p is not None
        )
    assign_households(conn, config, result.touched | changed_profiles)
    return result


def forget_links(
    conn: Connection, identifiers: Iterable[tuple[str, str]], seq: int
) -> ProfileChanges:
    """Take ``identifiers`` out of the links of every node that has one of them as a link,
    and re-resolve those nodes.

    Erasure calls this for an erased person's identifiers. The log entries that made the
    links (another person's alias naming them, a device that signed in as them and was split
    off) are erased with them, so ``c360 rebuild`` would not make the links again. Left in
    place, the links would keep the erased identifier in other people's rows, and two nodes
    linking to it, with nobody holding it any more, would join each other."""
    resolver = Resolver.load(conn)
    wanted = {(str(t), str(v)) for t, v in identifiers}
    keys: dict[str, tuple[str, str]] = {}
    source_ids = sorted(source_names(conn))
    for id_type, value in wanted:
        if resolver.config.identifier(id_type).per_source:
            keys.update({id_key(id_type, value, sid): (id_type, value) for sid in source_ids})
        else:
            keys[id_key(id_type, value)] = (id_type, value)
    found: list[tuple[int, str]] = []
    for chunk in _chunks(sorted(keys), _CHUNK):
        found += [
            (int(node_id), str(key))
            for node_id, key in conn.execute(
                select(identity_keys.c.node_id, identity_keys.c.key).where(
                    key_in(conn, identity_keys.c.key, chunk), identity_keys.c.role == ROLE_LINK
                )
            )
        ]
    if not found:
        return ProfileChanges()
    changes = NodeChanges(changed={node_id for node_id, _ in found})
    for _node_id, key in found:
        changes.keys_removed[key] = changes.keys_removed.get(key, 0) + 1
    conn.execute(
        delete(identity_keys).where(
            identity_keys.c.node_id == bindparam("nid"), identity_keys.c.key == bindparam("k")
        ),
        [{"nid": node_id, "k": key} for node_id, key in found],
    )
    updates = []
    for chunk in _chunks(sorted(changes.changed), _CHUNK):
        for node_id, held in conn.execute(
            select(identity_nodes.c.id, identity_nodes.c.identifiers).where(
                key_in(conn, identity_nodes.c.id, chunk)
            )
        ):
            links = [[t, v] for t, v in held.get("links", []) if (t, v) not in wanted]
            updates.append({"nid": node_id, "identifiers": {**held, "links": links}})
    conn.execute(
        update(identity_nodes)
        .where(identity_nodes.c.id == bindparam("nid"))
        .values(identifiers=bindparam("identifiers")),
        updates,
    )
    result = resolve_changed(conn, resolver, changes, seq)
    # their identifiers changed, whether or not they moved
    for chunk in _chunks(sorted(changes.changed), _CHUNK):
        result.touched.update(
            p
            for p in conn.execute(
                select(identity_nodes.c.profile_id).where(key_in(conn, identity_nodes.c.id, chunk))
            ).scalars()
            if p is not None
        )
    return result


def _group_sizes(conn: Connection, keys: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(sorted(set(keys)), _CHUNK):
        for key, count in conn.execute(
            select(identity_keys.c.key, func.count())
            .where(key_in(conn, identity_keys.c.key, chunk))
            .group_by(identity_keys.c.key)
        ):
            out[key] = count
    return out


def _delete_pairs(conn: Connection, nodes: set[int]) -> None:
    for chunk in _chunks(sorted(nodes), _CHUNK):
        conn.execute(delete(identity_pairs).where(key_in(conn, identity_pairs.c.a, chunk)))
        conn.execute(delete(identity_pairs).where(key_in(conn, identity_pairs.c.b, chunk)))


def _insert_pairs(conn: Connection, scored: Sequence[Scored]) -> None:
    insert_many_ignoring_duplicates(
        conn,
        identity_pairs,
        [{"a": s.a, "b": s.b, "weight": s.weight, "levels": s.levels} for s in scored],
    )


def _pairs_among(conn: Connection, nodes: set[int]) -> list[Scored]:
    out: list[Scored] = []
    for chunk in _chunks(sorted(nodes), _CHUNK):
        for a, b, weight, levels in conn.execute(
            select(
                identity_pairs.c.a,
                identity_pairs.c.b,
                identity_pairs.c.weight,
                identity_pairs.c.levels,
            ).where(key_in(conn, identity_pairs.c.a, chunk))
        ):
            if b in nodes:
                out.append(Scored(a, b, weight, levels))
    return out


def _component(
    conn: Connection,
    config: IdentityConfig,
    start: set[int],
    profile_ids: set[str],
    reads: _Reads | None = None,
) -> set[int]:
    """Every node that could end up in one profile with ``start`` (or with the nodes of
    ``profile_ids``): connected through deterministic groups and decisions, pairs at or above
    the merge threshold, and pairs sharing an email or phone exactly (how a record without a
    whole name joins). Pairs in the review band do not join anything, so they do not widen
    the component: two namesakes do not make one component of a whole city."""
    seen: set[int] = set(start)
    for chunk in _chunks(sorted(profile_ids), _CHUNK):
        seen.update(
            conn.execute(
                select(identity_nodes.c.id).where(key_in(conn, identity_nodes.c.profile_id, chunk))
            ).scalars()
        )
    frontier = set(seen)
    merge = config.thresholds.merge_weight
    email_exact = "_" * COMPARISON_INDEX["email"] + "1%"
    phone_exact = "_" * COMPARISON_INDEX["phone"] + "1%"

    def joining(column_filter: Any) -> Any:
        return column_filter & (
            (identity_pairs.c.weight >= merge)
            | identity_pairs.c.levels.like(email_exact)
            | identity_pairs.c.levels.like(phone_exact)
        )

    while frontier:
        keys = _keys_of(conn, sorted(frontier), reads)
        # every group but blocking keys: whether it is deterministic depends on its members
        # (an identifier that does not merge alone does when another node links to it)
        wanted = {k for ks in keys.values() for k, _ in ks if not k.startswith("b:")}
        reached: set[int] = set()
        for key, members in _members(conn, sorted(wanted), reads).items():
            if links(key, (r for _, r in members), config):
                reached.update(n for n, _ in members)
        for chunk in _chunks(sorted(frontier), _CHUNK):
            reached.update(
                conn.execute(
                    select(identity_pairs.c.b).where(
                        joining(key_in(conn, identity_pairs.c.a, chunk))
                    )
                ).scalars()
            )
            reached.update(
                conn.execute(
                    select(identity_pairs.c.a).where(
                        joining(key_in(conn, identity_pairs.c.b, chunk))
                    )
                ).scalars()
            )
        frontier = reached - seen
        seen |= frontier
        if len(seen) > COMPONENT_LIMIT * 10:
            break
    return seen


# -- writing the partition ----------------------------------------------------------------------


def _write_profiles(
    conn: Connection,
    nodes: Mapping[int, tuple[Node, str | None]],
    clustering: Clustering,
    seq: int,
    result: ProfileChanges,
) -> None:
    """Write the partition: each cluster is the profile named after its first node (the
    oldest, by log position), so ids depend on the partition alone, never on how the log was
    cut into batches. A profile whose first node joins an older one is merged into it (its id
    keeps resolving); one whose first node leaves again comes back (a split)."""
    at_us = now_us()
    previous = {n: pid for n, (_node, pid) in nodes.items()}
    assigned: dict[int, str] = {}
    live: dict[str, list[int]] = {}
    for group in clustering.clusters().values():
        anchor = min(group, key=lambda n: (nodes[n][0].first_seq, nodes[n][0].stable))
        pid = profile_id_of(nodes[anchor][0].stable)
        live[pid] = group
        for n in group:
            assigned[n] = pid
    existing_ids = {pid for pid in previous.values() if pid is not None}

    # profiles some of whose nodes went elsewhere (their golden record changes too)
    def carries_data(n: int) -> bool:
        # what a profile shows comes from records with person fields and tracked identities;
        # an invoice or an order line moving does not change it
        node = nodes[n][0]
        return bool(node.features) or node.stable[1] != NODE_RECORD

    lost_nodes = {
        old
        for n, old in previous.items()
        if old is not None and assigned[n] != old and carries_data(n)
    }
    rows = {
        r.id: r
        for chunk in _chunks(sorted(set(live) | existing_ids), _CHUNK)
        for r in conn.execute(
            select(profiles.c.id, profiles.c.merged_into, profiles.c.updated_seq).where(
                key_in(conn, profiles.c.id, chunk)
            )
        )
    }
    new_profiles = []
    seq_updates: list[dict[str, Any]] = []
    for pid, group in sorted(live.items()):
        first = min(nodes[n][0].first_seq for n in group)
        last = max(nodes[n][0].last_seq for n in group)
        if pid not in rows:
            new_profiles.append(
                {
                    "id": pid,
                    "traits": {},
                    "created_seq": first,
                    "updated_seq": last,
                    "merged_into": None,
                }
            )
            if existing_ids & {previous[n] for n in group}:
                # its records were part of another profile until now
                parted_from = sorted({p for n in group if (p := previous[n]) is not None})
                for other in parted_from:
                    if other in live:
                        result.splits += 1
                        _history(
                            conn, result, "split", other, pid, seq, at_us, "records parted", None
                        )
        else:
            if rows[pid].merged_into is not None:
                conn.execute(update(profiles).where(profiles.c.id == pid).values(merged_into=None))
                result.splits += 1
                _history(
                    conn,
                    result,
                    "split",
                    rows[pid].merged_into,
                    pid,
                    seq,
                    at_us,
                    "records parted",
                    None,
                )
            if rows[pid].updated_seq != last:
                seq_updates.append({"pid": pid, "seq": last})
        if (
            pid not in rows
            or pid in lost_nodes
            or any(previous[n] != pid and carries_data(n) for n in group)
        ):
            result.touched.add(pid)
    if new_profiles:
        conn.execute(insert(profiles), new_profiles)
    if seq_updates:
        conn.execute(
            update(profiles)
            .where(profiles.c.id == bindparam("pid"))
            .values(updated_seq=bindparam("seq")),
            seq_updates,
        )
    old_members: dict[str, list[int]] = {}
    for n, old in previous.items():
        if old is not None:
            old_members.setdefault(old, []).append(n)
    edges_of: dict[int, list[Edge]] = {}
    for edge in clustering.accepted:
        edges_of.setdefault(edge.a, []).append(edge)
        edges_of.setdefault(edge.b, []).append(edge)
    for pid in sorted(existing_ids - set(live)):
        # the profile's first node now belongs to an older profile: merged into it
        old_nodes = old_members[pid]
        anchor = min(old_nodes, key=lambda n: (nodes[n][0].first_seq, nodes[n][0].stable))
        survivor = assigned[anchor]
        evidence = _evidence_between(edges_of, set(old_nodes), set(live[survivor]))
        conn.execute(
            update(profiles).where(profiles.c.merged_into == pid).values(merged_into=survivor)
        )
        conn.execute(update(profiles).where(profiles.c.id == pid).values(merged_into=survivor))
        _history(conn, result, "merge", survivor, pid, seq, at_us, _reason(evidence), evidence)
        result.merges += 1
        result.touched.add(survivor)
    moves = []
    for n, pid in sorted(assigned.items()):
        if previous[n] != pid:
            moves.append({"nid": n, "pid": pid})
            result.moved[n] = (previous[n], pid)
    if moves:
        conn.execute(
            update(identity_nodes)
            .where(identity_nodes.c.id == bindparam("nid"))
            .values(profile_id=bindparam("pid")),
            moves,
        )


def _evidence_between(
    edges_of: Mapping[int, list[Edge]], a: set[int], b: set[int]
) -> list[dict[str, Any]]:
    """The accepted edges that join node set ``a`` to node set ``b`` (at most 20)."""
    out = []
    seen: set[int] = set()
    for node in sorted(a):
        for edge in edges_of.get(node, []):
            if id(edge) in seen or not (
                (edge.a in a and edge.b in b) or (edge.a in b and edge.b in a)
            ):
                continue
            seen.add(id(edge))
            out.append(
                {
                    "a": edge.a,
                    "b": edge.b,
                    "kind": _edge_kind(edge.tier),
                    "key": edge.reason,
                    "weight": edge.weight,
                }
            )
            if len(out) >= 20:
                return out
    return out


def _edge_kind(tier: int) -> str:
    return {
        0: "reviewed",
        1: "deterministic",
        TIER_PROBABILISTIC: "probabilistic",
        TIER_ATTACH: "attach",
    }[tier]


def _reason(evidence: list[dict[str, Any]]) -> str:
    if not evidence:
        return "joined through other records of the profile"
    return describe_key(evidence[0]["key"], evidence[0]["kind"], evidence[0]["weight"])


def describe_key(key: str, kind: str, weight: float) -> str:
    """An edge in words: ``shared email a@b.co``, ``rule email + first_name``..."""
    if kind in ("probabilistic", "attach"):
        return f"{kind} match (weight {weight:.1f})"
    if key.startswith("r:"):
        return "rule " + " + ".join(p.split("=", 1)[0] for p in key[2:].split("|"))
    if key.startswith("m:"):
        return "a reviewer decided they are the same person"
    id_type, _, rest = key.partition(":")
    if id_type.endswith("_id") and rest.split(":", 1)[0].isdigit() and ":" in rest:
        rest = rest.split(":", 1)[1]
    return f"shared {id_type} {rest}"


def _history(
    conn: Connection,
    result: ProfileChanges,
    action: str,
    survivor: str,
    other: str,
    seq: int,
    at_us: int,
    reason: str,
    evidence: list[dict[str, Any]] | None,
) -> None:
    result.history.append((action, survivor, other, reason))
    conn.execute(
        insert(profile_merges).values(
            survivor_id=survivor,
            merged_id=other,
            seq=seq,
            reason=reason,
            action=action,
            evidence=evidence,
            at_us=at_us,
        )
    )


def _review_band_leaving(
    conn: Connection, config: IdentityConfig, inside: set[int]
) -> list[Scored]:
    """Pairs in the review band from the component to nodes outside it (always two
    profiles: nothing outside the component can be in a profile with a node inside)."""
    lo, hi = config.thresholds.review_weight, config.thresholds.merge_weight
    found: list[Scored] = []
    for chunk in _chunks(sorted(inside), _CHUNK):
        for column in (identity_pairs.c.a, identity_pairs.c.b):
            for a, b, weight, levels in conn.execute(
                select(
                    identity_pairs.c.a,
                    identity_pairs.c.b,
                    identity_pairs.c.weight,
                    identity_pairs.c.levels,
                ).where(
                    key_in(conn, column, chunk),
                    identity_pairs.c.weight >= lo,
                    identity_pairs.c.weight < hi,
                )
            ):
                if (a in inside) != (b in inside):
                    found.append(Scored(a, b, weight, levels))
    return found


def _decided_apart(a: Sequence[tuple[str, str]], b: Sequence[tuple[str, str]]) -> bool:
    sides = {t: v for t, v in a if t.startswith("split:")}
    return any(t in sides and sides[t] != v for t, v in b if t.startswith("split:"))


def _record_reviews(
    conn: Connection,
    config: IdentityConfig,
    clustering: Clustering,
    scored: Sequence[Scored],
    nodes: Mapping[int, tuple[Node, str | None]],
    result: ProfileChanges,
) -> None:
    """Pairs in the review band between different profiles, and refused ambiguous attaches,
    become open review items (once; a decided pair is not asked again)."""
    root = clustering.root
    lo, hi = config.thresholds.review_weight, config.thresholds.merge_weight
    items: dict[tuple[int, int], tuple[float, str]] = {}
    for s in scored:
        if lo <= s.weight < hi and (s.a not in root or s.b not in root or root[s.a] != root[s.b]):
            items[(s.a, s.b)] = (s.weight, "in the review band")
    for edge, why in clustering.refused:
        if edge.tier >= TIER_PROBABILISTIC and root.get(edge.a) != root.get(edge.b):
            a, b = sorted((edge.a, edge.b))
            items.setdefault((a, b), (edge.weight, why))
    outside = sorted({n for pair in items for n in pair if n not in nodes})
    limited_of = {n: node.limited for n, (node, _p) in nodes.items()}
    for chunk in _chunks(outside, _CHUNK):
        for node_id, limited in conn.execute(
            select(identity_nodes.c.id, identity_nodes.c.limited).where(
                key_in(conn, identity_nodes.c.id, chunk)
            )
        ):
            limited_of[node_id] = [(t, v) for t, v in limited]
    for a, b in list(items):
        if _decided_apart(limited_of.get(a, []), limited_of.get(b, [])):
            del items[(a, b)]
    # the component's questions are asked afresh: those it answered go away
    for chunk in _chunks(sorted(nodes), _CHUNK):
        conn.execute(delete(identity_reviews).where(key_in(conn, identity_reviews.c.a, chunk)))
        conn.execute(delete(identity_reviews).where(key_in(conn, identity_reviews.c.b, chunk)))
    if items:
        insert_many_ignoring_duplicates(
            conn,
            identity_reviews,
            [
                {"a": a, "b": b, "weight": w, "reason": why}
                for (a, b), (w, why) in sorted(items.items())
            ],
        )
        result.reviews = len(items)


def assign_households(
    conn: Connection, config: IdentityConfig, profile_ids: set[str] | None
) -> None:
    """Profiles that share a household identifier (a family phone or email, held by at most
    ``generic_after`` profiles) form a household, named after its smallest profile id; a
    household is never a merge. ``None`` recomputes every profile's household."""
    household_types = [t for t, r in config.identifiers.items() if r.household]
    limit = {t: config.identifiers[t].generic_after or 5 for t in household_types}
    prefixes = tuple(f"{t}:" for t in household_types)
    if not prefixes:
        return
    query = (
        select(identity_keys.c.key, identity_nodes.c.profile_id)
        .select_from(
            identity_keys.join(identity_nodes, identity_nodes.c.id == identity_keys.c.node_id)
        )
        .where(identity_nodes.c.profile_id.is_not(None), identity_keys.c.role == ROLE_HOLDS)
    )
    if profile_ids is None:
        conn.execute(update(profiles).values(household_id=None))
        rows = conn.execute(query).all()
        rows = [r for r in rows if r.key.startswith(prefixes)]
        start = {pid for _k, pid in rows}
    else:
        # the touched profiles, and those that shared a household with them
        start = set(profile_ids)
        for chunk in _chunks(sorted(profile_ids), _CHUNK):
            olds = [
                h
                for h in conn.execute(
                    select(profiles.c.household_id).where(key_in(conn, profiles.c.id, chunk))
                ).scalars()
                if h
            ]
            if olds:
                start.update(
                    conn.execute(
                        select(profiles.c.id).where(key_in(conn, profiles.c.household_id, olds))
                    ).scalars()
                )
        rows = []
        frontier = set(start)
        seen_keys: set[str] = set()
        while frontier:
            keys = set()
            for chunk in _chunks(sorted(frontier), _CHUNK):
                for key, _pid in conn.execute(
                    query.where(key_in(conn, identity_nodes.c.profile_id, chunk))
                ):
                    if key.startswith(prefixes) and key not in seen_keys:
                        keys.add(key)
            seen_keys |= keys
            found: list[Any] = []
            for chunk in _chunks(sorted(keys), _CHUNK):
                found.extend(
                    conn.execute(query.where(key_in(conn, identity_keys.c.key, chunk))).all()
                )
            rows.extend(found)
            new = {pid for _k, pid in found} - start
            start |= new
            frontier = new
            if len(start) > COMPONENT_LIMIT:
                break
    by_key: dict[str, set[str]] = {}
    for key, pid in rows:
        by_key.setdefault(key, set()).add(pid)
    parent = {p: p for p in start}

    def find(p: str) -> str:
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    for key, members in by_key.items():
        if len(members) < 2 or len(members) > limit[key.split(":", 1)[0]]:
            continue
        ordered = sorted(members)
        for other in ordered[1:]:
            ra, rb = find(ordered[0]), find(other)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for p in start:
        groups.setdefault(find(p), []).append(p)
    values = [
        {"pid": p, "household": (min(g) if len(g) > 1 else None)}
        for g in groups.values()
        for p in g
    ]
    if values:
        conn.execute(
            update(profiles)
            .where(profiles.c.id == bindparam("pid"))
            .values(household_id=bindparam("household")),
            values,
        )


# -- batch resolution -----------------------------------------------------------------------


@dataclass(slots=True)
class BatchReport:
    nodes: int = 0
    pairs: int = 0
    profiles: int = 0
    merged_nodes: int = 0
    reviews: int = 0
    skipped_keys: int = 0
    model_version: int = 0
    em_iterations: int = 0
    changes: ProfileChanges = field(default_factory=ProfileChanges)


Progress = Callable[[str, int, int | None], None]


def _no_progress(step: str, done: int, total: int | None) -> None:
    return None


def resolve_all(
    conn: Connection,
    config: IdentityConfig,
    *,
    train: bool = True,
    seq: int = 0,
    progress: Progress = _no_progress,
) -> BatchReport:
    """Resolve every node at once: re-key (the configuration may have changed), train the
    model on the data, score every candidate pair, cluster, write what changed."""
    report = BatchReport()
    resolver = Resolver.load(conn)
    if resolver.model.features_version != FEATURES_VERSION or resolver.config != config:
        # the features or the configuration changed since the nodes were indexed
        rekey_nodes(conn, config, progress)
    nodes, groups = _load_all(conn, progress)
    report.nodes = len(nodes)
    pairs, skipped = candidate_pairs(groups, config)
    report.skipped_keys = len(skipped)
    plain = {n: v[0] for n, v in nodes.items()}
    if train:
        progress("training the match model", 0, None)
        model = train_model(plain, groups, config)
        store_model(conn, config, model)
    else:
        model = dataclasses.replace(resolver.model)
        if resolver.config != config:
            store_model(conn, config, model)
    report.model_version = model.version
    report.em_iterations = model.em_iterations
    progress("scoring pairs", 0, len(pairs))
    conn.execute(delete(identity_pairs))
    scored: list[Scored] = []
    ordered = sorted(pairs)
    step = 200_000
    for start in range(0, len(ordered), step):
        chunk = score_pairs(plain, ordered[start : start + step], model)
        _insert_pairs(conn, chunk)
        scored.extend(chunk)
        progress("scoring pairs", start + len(chunk), len(pairs))
    report.pairs = len(scored)
    progress("clustering", 0, None)
    clustering = resolve_nodes(plain, groups, scored, config)
    progress("writing profiles", 0, None)
    _write_profiles(conn, nodes, clustering, seq, report.changes)
    conn.execute(delete(identity_reviews))
    _record_reviews(conn, config, clustering, scored, nodes, report.changes)
    progress("households", 0, None)
    assign_households(conn, config, None)
    report.profiles = len(set(clustering.root.values()))
    report.merged_nodes = report.nodes - report.profiles
    report.reviews = report.changes.reviews
    return report


TRAINING_ROUNDS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("shared contact point", ("email:", "phone:", "b:p8:", "b:el:"), ("email", "phone")),
    (
        "similar name",
        ("b:fd:", "b:ld:", "b:fl:", "b:fp:", "b:tk:"),
        ("given_name", "family_name", "birth_date", "postal_code"),
    ),
)
"""EM rounds, as Splink trains: each on the pairs one kind of blocking key finds, estimating
m only for the comparisons that did not choose the pairs (a pair found by its shared email
says nothing about how often the same person's emails agree)."""


def train_model(
    nodes: Mapping[int, Node],
    groups: Mapping[str, Sequence[tuple[int, int]]],
    config: IdentityConfig,
    *,
    seed: int = 7,
) -> MatchModel:
    """u from random pairs, m by EM per training round, the prior from every candidate pair,
    term frequencies from the values."""
    from c360.identity.comparisons import COMPARISON_INDEX
    from c360.identity.model import estimate_prior

    ids = sorted(n for n, node in nodes.items() if len(node.features) >= 2)
    model = MatchModel()
    if len(ids) < 50:
        return model
    table = FeatureTable.of([nodes[n].features for n in ids])
    index = {n: i for i, n in enumerate(ids)}
    rng = np.random.default_rng(seed)
    sample = min(500_000, len(ids) * 20)
    left = rng.integers(0, len(ids), sample)
    right = rng.integers(0, len(ids), sample)
    keep = left != right
    u = estimate_u(compare(table, left[keep], right[keep]))
    estimates: dict[int, list[list[float]]] = {}
    iterations = 0
    all_pairs: set[tuple[int, int]] = set()
    for _name, prefixes, excluded in TRAINING_ROUNDS:
        pairs: set[tuple[int, int]] = set()
        for key, members in groups.items():
            if (
                not key.startswith(prefixes)
                or group_tier(key, (r for _, r in members), config) is not None
            ):
                continue
            found = sorted({index[n] for n, _ in members if n in index})
            if len(found) < 2 or len(found) > config.block_cap:
                continue
            for i, a in enumerate(found):
                pairs.update((a, b) for b in found[i + 1 :])
        all_pairs |= pairs
        if len(pairs) < 100:
            continue
        chosen = sorted(pairs)
        if len(chosen) > 1_000_000:
            picks = rng.choice(len(chosen), 1_000_000, replace=False)
            chosen = [chosen[i] for i in sorted(picks)]
        la = np.array([a for a, _ in chosen], dtype=np.int64)
        lb = np.array([b for _, b in chosen], dtype=np.int64)
        levels = compare(table, la, lb)
        for name in excluded:
            levels[:, COMPARISON_INDEX[name]] = 0
        m, _share, run = estimate_m(levels, u)
        iterations = max(iterations, run)
        for c in range(len(m)):
            if COMPARISONS_BY_INDEX[c] not in excluded:
                estimates.setdefault(c, []).append(m[c])
    for c, found_m in estimates.items():
        model.m[c] = [float(x) for x in np.mean(np.array(found_m), axis=0)]
    model.u = u
    chosen = sorted(all_pairs)
    if chosen:
        la = np.array([a for a, _ in chosen], dtype=np.int64)
        lb = np.array([b for _, b in chosen], dtype=np.int64)
        share = estimate_prior(compare(table, la, lb), model.m, u)
        total_pairs = len(ids) * (len(ids) - 1) / 2
        model.prior = min(max(share * len(chosen) / total_pairs, 1e-9), 0.5)
    model.tf, model.tf_floor = term_frequency_tables(table)
    model.trained_on = len(ids)
    model.em_iterations = iterations
    return model


def rekey_nodes(
    conn: Connection, config: IdentityConfig, progress: Progress = _no_progress
) -> None:
    """Recompute every node's features (from its record or traits: a better standardizer or
    feature takes effect), keys and limited values under ``config``; rewrite the index."""
    total = conn.execute(select(func.count()).select_from(identity_nodes)).scalar_one()
    progress("indexing", 0, total)
    conn.execute(delete(identity_keys))
    after = 0
    done = 0
    while True:
        rows = conn.execute(
            select(
                identity_nodes.c.id,
                identity_nodes.c.source_id,
                identity_nodes.c.node_type,
                identity_nodes.c.node_key,
                identity_nodes.c.features,
                identity_nodes.c.identifiers,
                identity_nodes.c.traits,
                source_records.c.fields,
            )
            .select_from(
                identity_nodes.outerjoin(
                    source_records,
                    (source_records.c.source_id == identity_nodes.c.source_id)
                    & (source_records.c.record_id == identity_nodes.c.node_key)
                    & (identity_nodes.c.node_type == NODE_RECORD),
                )
            )
            .where(identity_nodes.c.id > after)
            .order_by(identity_nodes.c.id)
            .limit(20_000)
        ).all()
        if not rows:
            break
        decisions = _decisions_for(conn, [(r.source_id, r.node_type, r.node_key) for r in rows])
        key_rows: list[dict[str, Any]] = []
        changed_rows: list[dict[str, Any]] = []
        for r in rows:
            if r.node_type == NODE_RECORD:
                features = features_for(config, r.fields) if r.fields is not None else r.features
            else:
                features = features_for(config, tracked_fields(r.traits or {}))
            extra_limited, extra_keys = decisions.get(
                (r.source_id, r.node_type, r.node_key), ([], [])
            )
            ids, links_ = r.identifiers["ids"], r.identifiers["links"]
            keys = node_keys(config, r.source_id, features, ids, links_) + extra_keys
            key_rows.extend({"key": k, "node_id": r.id, "role": role} for k, role in keys)
            limited = [list(x) for x in limited_values(config, ids) + extra_limited]
            if features != r.features or limited:
                changed_rows.append({"nid": r.id, "features": features, "limited": limited})
        insert_many_ignoring_duplicates(conn, identity_keys, key_rows)
        if changed_rows:
            conn.execute(
                update(identity_nodes)
                .where(identity_nodes.c.id == bindparam("nid"))
                .values(features=bindparam("features"), limited=bindparam("limited")),
                changed_rows,
            )
        after = rows[-1].id
        done += len(rows)
        progress("indexing", done, total)


def _load_all(
    conn: Connection, progress: Progress
) -> tuple[dict[int, tuple[Node, str | None]], dict[str, list[tuple[int, int]]]]:
    """Every node, and every key group of two or more nodes, read in one pass each (JSON
    decoded here: SQLAlchemy's per-row processing cost more than the query)."""
    names = source_names(conn)
    keys: dict[int, list[tuple[str, int]]] = {}
    groups: dict[str, list[tuple[int, int]]] = {}
    for key, node_id, role in conn.execute(
        select(identity_keys.c.key, identity_keys.c.node_id, identity_keys.c.role)
    ):
        keys.setdefault(node_id, []).append((key, role))
        groups.setdefault(key, []).append((node_id, role))
    out = {row[0]: _node_of(conn, row, names, keys) for row in conn.execute(select(*_NODE_COLUMNS))}
    progress("loading nodes", len(out), len(out))
    return out, {k: v for k, v in groups.items() if len(v) > 1}


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
