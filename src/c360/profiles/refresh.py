"""Bring profiles up to date after their data changed: tracked traits, the golden record,
computed traits, identifiers and search terms, and the change feed entries saying what moved.

One function serves every path: the log processor after each batch, a split or review
decision, ``c360 resolve``, and the time-passing refresh of computed traits whose windows moved.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, func, insert, select, update

from c360.changes.feed import ChangeKind, NewChange, muted_until, record_changes
from c360.identity.features import NODE_RECORD, NODE_USER, REFERENCE_TYPES, tracked_fields
from c360.identity.service import Resolver, source_names
from c360.kernel.clock import system_clock
from c360.privacy import consent as consent_rules
from c360.profiles.golden import (
    RecordFacts,
    SurvivorshipRules,
    golden_record,
    golden_values,
    parse_rules,
)
from c360.profiles.model import ACTIVATION_SOURCE, RECTIFICATION_SOURCE
from c360.profiles.search import index_profiles, terms_of
from c360.profiles.traits import (
    EventFact,
    ProfileFacts,
    RecordFact,
    TraitSettings,
    compute_traits,
    parse_settings,
)
from c360.segments.membership import ProfileState, update_memberships
from c360.segments.view import build_view
from c360.storage.dialect import key_in
from c360.storage.tables import (
    event_log,
    identity_nodes,
    profile_events,
    profiles,
    source_records,
    trait_configs,
)

_CHUNK = 200


@dataclass(slots=True)
class _Loaded:
    facts: list[RecordFacts]
    records: list[RecordFact]
    events: list[EventFact]
    traits: list[tuple[int, int, dict[str, Any]]]
    identifiers: set[tuple[str, str]]


def refresh_profiles(
    conn: Connection,
    profile_ids: Iterable[str],
    seq: int,
    *,
    history: Sequence[tuple[str, str, str, str]] = (),
    now_us: int | None = None,
) -> None:
    """Recompute everything derived about ``profile_ids`` as of log entry ``seq`` and record
    what changed (``history``: the merges and splits that led here) in the change feed."""
    # a profile merged away holds nothing any more: its search terms go
    merged_away = {other for action, _survivor, other, _reason in history if action == "merge"}
    ids = sorted(set(profile_ids) | merged_away)
    if not ids and not history:
        return
    now = system_clock() if now_us is None else now_us
    settings = trait_settings(conn)
    rules = parse_rules(Resolver.load(conn).config.survivorship or {})
    names = source_names(conn)
    feed: list[NewChange] = [_history_change(*entry) for entry in history]
    for chunk in _chunks(ids, _CHUNK):
        feed.extend(_refresh_chunk(conn, chunk, settings, rules, names, now))
    if feed and seq > muted_until(conn):
        record_changes(conn, feed, seq)


def _history_change(action: str, survivor: str, other: str, reason: str) -> NewChange:
    if action == "merge":
        return NewChange(survivor, ChangeKind.MERGED, {"merged_id": other, "reason": reason})
    return NewChange(other, ChangeKind.SPLIT, {"split_from": survivor, "reason": reason})


def _refresh_chunk(
    conn: Connection,
    chunk: list[str],
    settings: TraitSettings,
    rules: SurvivorshipRules,
    names: dict[int, str],
    now: int,
) -> list[NewChange]:
    old = {
        row.id: row
        for row in conn.execute(
            select(
                profiles.c.id,
                profiles.c.merged_into,
                profiles.c.traits,
                profiles.c.golden,
                profiles.c.computed,
                profiles.c.identifier_set,
            ).where(key_in(conn, profiles.c.id, chunk))
        )
    }
    loaded = {pid: _Loaded([], [], [], [], set()) for pid in chunk}
    _load_nodes(conn, chunk, names, loaded)
    _load_events(conn, chunk, names, loaded)
    rows: list[dict[str, Any]] = []
    terms: dict[str, set[str]] = {}
    feed: list[NewChange] = []
    states: dict[str, ProfileState] = {}
    ledgers: dict[str, list[consent_rules.Statement]] = {}
    for pid in chunk:
        if pid not in old:
            continue
        data = loaded[pid]
        traits: dict[str, Any] = {}
        for _seq, _id, part in sorted(data.traits, key=lambda t: (t[0], t[1])):
            traits.update(part)
        golden = golden_record(data.facts, rules).as_json() if data.facts else None
        country = golden_values(golden).get("country")
        computed = compute_traits(
            ProfileFacts(data.records, data.events, country if isinstance(country, str) else None),
            settings,
            now,
        )
        identifier_set = sorted(f"{t}:{v}" for t, v in data.identifiers if t not in REFERENCE_TYPES)
        live = old[pid].merged_into is None
        view = None
        due = computed.due_us
        # the consent ledger and the view's consent come from the same statements
        statements = consent_rules.extract(data.events, data.records) if live else []
        ledgers[pid] = statements
        if live:
            consent = consent_rules.fold(statements, now)
            if consent.next_expiry_us is not None:  # a grant expiring: refresh the view then
                due = min(due or consent.next_expiry_us, consent.next_expiry_us)
            view = build_view(
                traits,
                golden_values(golden),
                computed.values,
                ((t, v) for t, v in data.identifiers if t not in REFERENCE_TYPES),
                consent.consent,
                consent.subscriptions,
            )
        states[pid] = ProfileState(view, data.events)
        rows.append(
            {
                "pid": pid,
                "traits": traits,
                "golden": golden,
                "computed": computed.values if live else None,
                "due": due if live else None,
                "ids": identifier_set if live else None,
                "view": view,
            }
        )
        terms[pid] = terms_of(golden, data.identifiers) if live else set()
        if live:
            feed.extend(
                _differences(pid, old[pid], traits, golden, computed.values, identifier_set)
            )
    if rows:
        conn.execute(
            update(profiles)
            .where(profiles.c.id == bindparam("pid"))
            .values(
                traits=bindparam("traits"),
                golden=bindparam("golden"),
                computed=bindparam("computed"),
                computed_due_us=bindparam("due"),
                identifier_set=bindparam("ids"),
                attributes=bindparam("view"),
            ),
            rows,
        )
    index_profiles(conn, terms)
    consent_rules.write_ledger(conn, ledgers)
    feed.extend(update_memberships(conn, states, now))
    return feed


def _load_nodes(
    conn: Connection, chunk: list[str], names: dict[int, str], loaded: dict[str, _Loaded]
) -> None:
    rows = conn.execute(
        select(
            identity_nodes.c.id,
            identity_nodes.c.profile_id,
            identity_nodes.c.source_id,
            identity_nodes.c.node_type,
            identity_nodes.c.node_key,
            identity_nodes.c.kind,
            identity_nodes.c.traits,
            identity_nodes.c.identifiers,
            identity_nodes.c.at_us,
            identity_nodes.c.last_seq,
            source_records.c.fields,
            source_records.c.updated_at_us,
            source_records.c.last_seq.label("record_seq"),
        )
        .select_from(
            identity_nodes.outerjoin(
                source_records,
                (source_records.c.source_id == identity_nodes.c.source_id)
                & (source_records.c.record_id == identity_nodes.c.node_key)
                & (identity_nodes.c.node_type == NODE_RECORD),
            )
        )
        .where(key_in(conn, identity_nodes.c.profile_id, chunk))
    )
    for row in rows:
        data = loaded[row.profile_id]
        source = names.get(row.source_id, str(row.source_id))
        keys = row.identifiers or {}
        data.identifiers.update((t, v) for t, v in keys.get("ids", []))
        if row.node_type == NODE_USER:
            data.identifiers.update(("previous_id", v) for _t, v in keys.get("links", []))
        if row.node_type == NODE_RECORD:
            if row.fields is None:
                continue
            data.facts.append(
                RecordFacts(
                    source,
                    row.node_key,
                    row.kind,
                    row.fields,
                    row.updated_at_us,
                    row.record_seq,
                )
            )
            data.records.append(
                RecordFact(source, row.node_key, row.kind, row.fields, row.updated_at_us)
            )
            continue
        if row.traits:
            data.traits.append((row.last_seq, row.id, row.traits))
        fields = tracked_fields(row.traits or {})
        if fields:
            data.facts.append(
                RecordFacts(source, row.node_key, row.kind, fields, row.at_us, row.last_seq)
            )


def _load_events(
    conn: Connection, chunk: list[str], names: dict[int, str], loaded: dict[str, _Loaded]
) -> None:
    for pid, fact, body in event_facts(conn, chunk, names):
        if fact.type == "identify" and fact.source == ACTIVATION_SOURCE:
            # a trait a journey set: the profile holds it like a tracked identity's
            given = body.get("traits")
            if isinstance(given, dict) and given:
                loaded[pid].traits.append((fact.seq, 0, given))
        elif fact.type == "identify" and fact.source == RECTIFICATION_SOURCE:
            # a rectification: its (already standardized) values compete in the golden record,
            # where they win over every other source (``golden._winner``)
            given = body.get("traits")
            if isinstance(given, dict) and given:
                record_id = str(body.get("messageId") or fact.seq)
                loaded[pid].facts.append(
                    RecordFacts(
                        RECTIFICATION_SOURCE,
                        record_id,
                        "rectification",
                        given,
                        fact.at_us,
                        fact.seq,
                    )
                )
        loaded[pid].events.append(fact)


def event_facts(
    conn: Connection, profile_ids: list[str], names: dict[int, str]
) -> Iterator[tuple[str, EventFact, dict[str, Any]]]:
    """The tracked messages filed under ``profile_ids``, oldest first: (profile id, the
    event as conditions and traits read it, the decoded message)."""
    rows = conn.execute(
        select(
            profile_events.c.profile_id,
            profile_events.c.seq,
            profile_events.c.at_us,
            event_log.c.type,
            event_log.c.source_id,
            event_log.c.payload,
        )
        .select_from(profile_events.join(event_log, event_log.c.seq == profile_events.c.seq))
        .where(key_in(conn, profile_events.c.profile_id, profile_ids))
        .order_by(profile_events.c.seq)
    )
    for pid, seq, at_us, kind, source_id, payload in rows:
        body = orjson.loads(payload)
        name = body.get("event") if kind == "track" else body.get("name")
        properties = body.get("properties")
        context = body.get("context")
        fact = EventFact(
            seq,
            kind,
            name if isinstance(name, str) else None,
            properties if isinstance(properties, dict) else {},
            context if isinstance(context, dict) else {},
            at_us if at_us is not None else 0,
            names.get(source_id, str(source_id)),
        )
        yield pid, fact, body


def _differences(
    pid: str,
    old: Any,
    traits: dict[str, Any],
    golden: dict[str, Any] | None,
    computed: dict[str, Any],
    identifier_set: list[str],
) -> list[NewChange]:
    new_golden = golden_values(golden)
    if old.identifier_set is None and old.golden is None and old.computed is None:
        return [
            NewChange(
                pid,
                ChangeKind.PROFILE_CREATED,
                {"golden": new_golden, "identifiers": identifier_set, "computed": computed},
            )
        ]
    changes: list[NewChange] = []
    before = set(old.identifier_set or [])
    after = set(identifier_set)
    for kind, found in (
        (ChangeKind.IDENTIFIER_ADDED, after - before),
        (ChangeKind.IDENTIFIER_REMOVED, before - after),
    ):
        for item in sorted(found):
            id_type, _, value = item.partition(":")
            changes.append(NewChange(pid, kind, {"type": id_type, "value": value}))
    for prefix, was, now in (
        ("golden", golden_values(old.golden), new_golden),
        ("traits", dict(old.traits or {}), traits),
        ("computed", dict(old.computed or {}), computed),
    ):
        for name in sorted(set(was) | set(now)):
            if was.get(name) != now.get(name):
                changes.append(
                    NewChange(
                        pid,
                        ChangeKind.TRAIT_CHANGED,
                        {"trait": f"{prefix}.{name}", "old": was.get(name), "new": now.get(name)},
                    )
                )
    return changes


# --- settings --------------------------------------------------------------------------


_settings_cache: dict[int, tuple[dict[str, Any], TraitSettings]] = {}
"""Parsed settings by version, with the body they were parsed from: a process may open more
than one store (tests, tools), whose versions are numbered alike."""


def trait_settings(conn: Connection) -> TraitSettings:
    """The newest computed-trait settings (the defaults until some are saved)."""
    row = conn.execute(
        select(trait_configs.c.version, trait_configs.c.body)
        .order_by(trait_configs.c.version.desc())
        .limit(1)
    ).first()
    version, body = (0, {}) if row is None else (int(row.version), dict(row.body))
    cached = _settings_cache.get(version)
    if cached is None or cached[0] != body:
        cached = _settings_cache[version] = (body, parse_settings(body))
    return cached[1]


def save_trait_settings(conn: Connection, body: dict[str, Any]) -> int:
    """Validate and store new settings; return their version. Profiles pick them up as they
    are next refreshed (``c360 traits refresh --all`` recomputes every profile now)."""
    parse_settings(body)
    version = int(conn.execute(select(func.max(trait_configs.c.version))).scalar_one() or 0) + 1
    conn.execute(
        insert(trait_configs).values(version=version, body=body, created_at_us=system_clock())
    )
    return version


def due_profiles(conn: Connection, now_us: int, limit: int) -> list[str]:
    """Live profiles whose computed traits or segment answers may have changed with time
    since they were last computed."""
    found: list[str] = []
    for column in (profiles.c.computed_due_us, profiles.c.segments_due_us):
        found.extend(
            conn.execute(
                select(profiles.c.id)
                .where(column <= now_us, profiles.c.merged_into.is_(None))
                .order_by(column)
                .limit(limit)
            ).scalars()
        )
    return sorted(set(found))[:limit]


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
