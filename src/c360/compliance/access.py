"""Access: everything c360 holds about one person, as JSON (to take elsewhere) and as one
self-contained HTML page (to read).

A person is a live profile and every profile merged into it. The export gathers, section by
section: the golden record with provenance, identifiers, household, traits, segments, consent,
every log entry filed under the person with its raw payload, their source records with every
logged version, the identity graph and the merges and decisions that shaped it, journeys,
messages, feedback, where their data went (sync destinations, the change feed and its
subscriptions), recommendations, privacy requests, restrictions, audit entries and quarantined
items. A table added later that has a ``profile_id`` column and no section here is exported as
it is under ``other_tables``, so the export stays complete by construction.

Large sections are read a page at a time (the events by log position) and held once; the
files are written a section, and for long sections an item, at a time.
"""

import html
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Connection, Table, or_, select

from c360.identity.features import NODE_RECORD
from c360.ingest.records import RECORD_TYPE
from c360.kernel.clock import isoformat_us, system_clock
from c360.profiles.service import get_profile
from c360.storage.dialect import key_in
from c360.storage.tables import (
    audit_log,
    event_log,
    feedback_history,
    feedback_items,
    identity_decision_nodes,
    identity_decisions,
    identity_keys,
    identity_nodes,
    identity_pairs,
    identity_reviews,
    journey_entries,
    journey_steps,
    journeys,
    messages,
    metadata,
    privacy_requests,
    privacy_restrictions,
    profile_changes,
    profile_events,
    profile_merges,
    profile_terms,
    profiles,
    recommend_counted,
    recommend_purchases,
    record_identifiers,
    rejects,
    segment_members,
    segments,
    source_records,
    sources,
    subscription_dead_letters,
    subscriptions,
    suppressions,
    sync_conflicts,
    sync_dead_letters,
    sync_destinations,
    sync_queue,
    sync_state,
)

EXPORT_FORMAT = "c360.person-export"
EXPORT_VERSION = 1
CONSENT_TABLE = "consent_ledger"

_PAGE = 5_000
_CHUNK = 1_000

SECTION_TITLES: dict[str, str] = {
    "about": "About this export",
    "profile": "Profile",
    "golden_record": "Golden record (each value, where it came from and when)",
    "identifiers": "Identifiers",
    "household": "Household",
    "computed_traits": "Computed traits",
    "segments": "Segments",
    "consent": "Consent",
    "events": "Event log",
    "source_records": "Source records",
    "identity": "Identity graph, merges and decisions",
    "journeys": "Journeys",
    "messages": "Messages",
    "feedback": "Feedback",
    "destinations": "Where the data went",
    "recommendations": "Recommendations",
    "privacy": "Privacy requests and restrictions",
    "audit": "Audit log entries about this person",
    "search_terms": "Search index terms",
    "quarantine": "Quarantined items",
    "other_tables": "Other tables",
}
"""The export's sections, in order, with their headings on the HTML page."""

COVERED_TABLES = frozenset(
    {
        "profiles",
        "profile_events",
        "profile_merges",
        "profile_terms",
        "profile_changes",
        "identity_nodes",
        "segment_members",
        "journey_entries",
        "messages",
        "feedback_items",
        "recommend_purchases",
        "recommend_counted",
        "sync_queue",
        "sync_state",
        "sync_dead_letters",
        "sync_conflicts",
        "privacy_requests",
        "privacy_restrictions",
        CONSENT_TABLE,
    }
)
"""Tables with a ``profile_id`` column that have a section of their own."""


def export_person(conn: Connection, profile_id: str) -> dict[str, Any]:
    """Everything held about the person ``profile_id`` (any id merged into them will do)."""
    profile = get_profile(conn, profile_id)
    live = profile.id
    ids = profile_ids(conn, live)
    names = {r.id: r.name for r in conn.execute(select(sources.c.id, sources.c.name))}
    row = conn.execute(select(profiles).where(profiles.c.id == live)).one()
    nodes = _nodes(conn, ids, names)
    records = _source_records(conn, nodes, names)
    events = _events(conn, ids, names)
    changes = _rows(conn, profile_changes, profile_changes.c.profile_id, ids, profile_changes.c.id)
    requests = _rows(
        conn, privacy_requests, privacy_requests.c.profile_id, ids, privacy_requests.c.id
    )
    export: dict[str, Any] = {
        "about": {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "generated_at": isoformat_us(system_clock()),
            "profile_id": live,
            "asked_for": profile_id,
            "merged_profile_ids": [i for i in ids if i != live],
            "times": "UTC, ISO 8601",
            "notes": [],
            "counts": {},
        },
        "profile": {
            "id": live,
            "created_seq": row.created_seq,
            "updated_seq": row.updated_seq,
            "traits": row.traits or {},
            "identifier_set": row.identifier_set or [],
            "attributes": row.attributes or {},
            "event_count": profile.event_count,
            "linked_records": profile.linked,
        },
        "golden_record": _golden(row.golden),
        "identifiers": [
            {"type": i.type, "value": i.value, "source": i.source} for i in profile.identifiers
        ],
        "household": _household(conn, row.household_id, live),
        "computed_traits": dict(row.computed or {}),
        "segments": _segments(conn, ids),
        "consent": _consent(conn, ids, row.attributes),
        "events": events,
        "source_records": records,
        "identity": _identity(conn, ids, nodes, names),
        "journeys": _journeys(conn, ids),
        "messages": _rows(conn, messages, messages.c.profile_id, ids, messages.c.id),
        "feedback": _feedback(conn, ids),
        "destinations": _destinations(conn, ids, changes),
        "recommendations": {
            "purchases": _rows(
                conn,
                recommend_purchases,
                recommend_purchases.c.profile_id,
                ids,
                recommend_purchases.c.product_key,
            ),
            "counted_in_segments": _rows(
                conn, recommend_counted, recommend_counted.c.profile_id, ids, None
            ),
        },
        "privacy": {
            "requests": requests,
            "restrictions": _rows(
                conn,
                privacy_restrictions,
                privacy_restrictions.c.profile_id,
                ids,
                privacy_restrictions.c.id,
            ),
            "channel_suppressions": _channel_suppressions(conn, profile.identifiers, ids),
        },
        "audit": _audit(conn, ids, [str(r["id"]) for r in requests]),
        "search_terms": [
            {"term": term, "profile_id": pid}
            for term, pid in conn.execute(
                select(profile_terms.c.term, profile_terms.c.profile_id)
                .where(key_in(conn, profile_terms.c.profile_id, ids))
                .order_by(profile_terms.c.term, profile_terms.c.profile_id)
            )
        ],
        "quarantine": _quarantine(conn, ids, records, names),
        "other_tables": _other_tables(conn, ids),
    }
    if CONSENT_TABLE not in metadata.tables:
        export["about"]["notes"].append(
            "consent: this store keeps no consent ledger; consent is shown as the profile's "
            "events and records state it"
        )
    export["about"]["counts"] = counts(export)
    return export


def profile_ids(conn: Connection, live: str) -> list[str]:
    """``live`` and every profile merged into it, directly or through another merged one."""
    found = [live]
    frontier = [live]
    while frontier:
        merged = list(
            conn.execute(
                select(profiles.c.id)
                .where(key_in(conn, profiles.c.merged_into, frontier))
                .order_by(profiles.c.id)
            ).scalars()
        )
        frontier = [m for m in merged if m not in found]
        found.extend(frontier)
    return found


def counts(export: Mapping[str, Any]) -> dict[str, int]:
    """How many items each list section (and each list inside a section) holds."""
    out: dict[str, int] = {}
    for name, value in export.items():
        if isinstance(value, list):
            out[name] = len(value)
        elif isinstance(value, dict):
            for key, inner in value.items():
                if isinstance(inner, list) and name not in ("about", "profile"):
                    out[f"{name}.{key}"] = len(inner)
    return out


# --- rows as JSON ----------------------------------------------------------------------------


def _plain(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A row as JSON-ready values: ``*_us`` times as ISO text (``received_at``), bytes as
    text."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        key = str(key)
        if key.endswith("_us") and isinstance(value, int) and not isinstance(value, bool):
            out[key[:-3]] = isoformat_us(value)
        elif key.endswith("_us") and value is None:
            out[key[:-3]] = None
        elif isinstance(value, bytes | bytearray | memoryview):
            out[key] = bytes(value).decode("utf-8", "replace")
        else:
            out[key] = value
    return out


def _rows(
    conn: Connection, table: Table, column: Any, ids: Sequence[Any], order: Any
) -> list[dict[str, Any]]:
    if not ids:
        return []
    query = select(table).where(key_in(conn, column, list(ids)))
    if order is not None:
        query = query.order_by(order)
    return [_plain(r._mapping) for r in conn.execute(query)]


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _decoded(payload: str) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload  # kept as stored


# --- sections --------------------------------------------------------------------------------


def _golden(golden: Mapping[str, Any] | None) -> dict[str, Any]:
    """The golden record as tables: each surviving value with its source, record, time and
    the rule that chose it; every alternative value; every address."""
    if not golden:
        return {"values": [], "alternatives": [], "addresses": [], "latest_delivery_address": None}
    values = [
        {"field": name, **_plain(value)} for name, value in (golden.get("values") or {}).items()
    ]
    alternatives = [
        {"field": name, **_plain(item)}
        for name, items in (golden.get("alternatives") or {}).items()
        for item in items
    ]
    latest = golden.get("latest_delivery_address")
    return {
        "values": values,
        "alternatives": alternatives,
        "addresses": [_plain(a) for a in golden.get("addresses") or []],
        "latest_delivery_address": _plain(latest) if latest else None,
    }


def _household(conn: Connection, household_id: str | None, live: str) -> dict[str, Any]:
    if household_id is None:
        return {"id": None, "other_members": 0}
    others = conn.execute(
        select(profiles.c.id).where(
            profiles.c.household_id == household_id,
            profiles.c.merged_into.is_(None),
            profiles.c.id != live,
        )
    ).all()
    # other people: counted, never shown
    return {"id": household_id, "other_members": len(others)}


def _segments(conn: Connection, ids: Sequence[str]) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            segment_members.c.segment_id,
            segments.c.name,
            segment_members.c.profile_id,
            segment_members.c.entered_at_us,
        )
        .select_from(segment_members.join(segments, segments.c.id == segment_members.c.segment_id))
        .where(key_in(conn, segment_members.c.profile_id, list(ids)))
        .order_by(segments.c.name)
    )
    return [_plain(r._mapping) for r in rows]


def _consent(conn: Connection, ids: Sequence[str], attributes: Any) -> dict[str, Any]:
    statements = attributes.get("c") if isinstance(attributes, dict) else None
    table = metadata.tables.get(CONSENT_TABLE)
    if table is None or "profile_id" not in table.c:
        return {
            "ledger": [],
            "statements": statements or {},
            "note": "no consent ledger in this store",
        }
    order = table.c.id if "id" in table.c else None
    return {
        "ledger": _rows(conn, table, table.c.profile_id, ids, order),
        "statements": statements or {},
    }


def _events(conn: Connection, ids: Sequence[str], names: Mapping[int, str]) -> list[dict[str, Any]]:
    """Every log entry filed under the person, oldest first, a page at a time."""
    out: list[dict[str, Any]] = []
    after = -1
    while True:
        rows = conn.execute(
            select(
                profile_events.c.seq,
                profile_events.c.profile_id,
                event_log.c.source_id,
                event_log.c.message_id,
                event_log.c.type,
                event_log.c.received_at_us,
                event_log.c.sent_at_us,
                event_log.c.original_timestamp_us,
                event_log.c.timestamp_us,
                event_log.c.payload,
            )
            .select_from(profile_events.join(event_log, event_log.c.seq == profile_events.c.seq))
            .where(
                key_in(conn, profile_events.c.profile_id, list(ids)), profile_events.c.seq > after
            )
            .order_by(profile_events.c.seq)
            .limit(_PAGE)
        ).all()
        if not rows:
            return out
        for r in rows:
            if r.seq == after:
                continue  # filed under two of the person's profile ids: shown once
            after = r.seq
            out.append(
                {
                    "seq": r.seq,
                    "source": names.get(r.source_id, str(r.source_id)),
                    "message_id": r.message_id,
                    "type": r.type,
                    "received_at": isoformat_us(r.received_at_us),
                    "sent_at": isoformat_us(r.sent_at_us) if r.sent_at_us is not None else None,
                    "original_timestamp": isoformat_us(r.original_timestamp_us)
                    if r.original_timestamp_us is not None
                    else None,
                    "timestamp": isoformat_us(r.timestamp_us),
                    "filed_under": r.profile_id,
                    "payload": _decoded(r.payload),
                }
            )


def _nodes(conn: Connection, ids: Sequence[str], names: Mapping[int, str]) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(identity_nodes)
        .where(key_in(conn, identity_nodes.c.profile_id, list(ids)))
        .order_by(identity_nodes.c.first_seq, identity_nodes.c.id)
    )
    out = []
    for r in rows:
        node = _plain(r._mapping)
        node["source"] = names.get(r.source_id, str(r.source_id))
        out.append(node)
    return out


def _source_records(
    conn: Connection, nodes: Sequence[Mapping[str, Any]], names: Mapping[int, str]
) -> list[dict[str, Any]]:
    """The person's records (kind, source, record id, fields as standardized, the raw values,
    when imported) with their identifiers and every version the log holds."""
    wanted: dict[int, list[str]] = {}
    for node in nodes:
        if node["node_type"] == NODE_RECORD:
            wanted.setdefault(int(node["source_id"]), []).append(str(node["node_key"]))
    out: list[dict[str, Any]] = []
    for source_id, record_ids in sorted(wanted.items()):
        for chunk in _chunks(sorted(record_ids)):
            rows = conn.execute(
                select(source_records)
                .where(
                    source_records.c.source_id == source_id,
                    key_in(conn, source_records.c.record_id, list(chunk)),
                )
                .order_by(source_records.c.record_id)
            ).all()
            identifiers: dict[str, list[dict[str, str]]] = {}
            for t, v, rid in conn.execute(
                select(
                    record_identifiers.c.type,
                    record_identifiers.c.value,
                    record_identifiers.c.record_id,
                ).where(
                    record_identifiers.c.source_id == source_id,
                    key_in(conn, record_identifiers.c.record_id, list(chunk)),
                )
            ):
                identifiers.setdefault(rid, []).append({"type": t, "value": v})
            versions = _record_versions(conn, source_id, [(r.record_id, r.version) for r in rows])
            for r in rows:
                record = _plain(r._mapping)
                record["source"] = names.get(source_id, str(source_id))
                record["last_imported_at"] = record.pop("updated_at")
                record["log_entries"] = versions.get(r.record_id, [])
                first = record["log_entries"][0] if record["log_entries"] else None
                record["first_imported_at"] = first["received_at"] if first else None
                record["identifiers"] = sorted(
                    identifiers.get(r.record_id, []), key=lambda i: (i["type"], i["value"])
                )
                out.append(record)
    return out


def _record_versions(
    conn: Connection, source_id: int, records: Sequence[tuple[str, int]]
) -> dict[str, list[dict[str, Any]]]:
    """The log entries of records (``rec:<version>:<record id>``), each version as sent."""
    keys = [f"rec:{v}:{rid}" for rid, version in records for v in range(1, version + 2)]
    out: dict[str, list[dict[str, Any]]] = {}
    for chunk in _chunks(keys):
        rows = conn.execute(
            select(
                event_log.c.seq,
                event_log.c.message_id,
                event_log.c.received_at_us,
                event_log.c.payload,
            )
            .where(
                event_log.c.source_id == source_id,
                event_log.c.type == RECORD_TYPE,
                key_in(conn, event_log.c.message_id, list(chunk)),
            )
            .order_by(event_log.c.seq)
        )
        for r in rows:
            record_id = r.message_id.split(":", 2)[2]
            out.setdefault(record_id, []).append(
                {
                    "seq": r.seq,
                    "message_id": r.message_id,
                    "received_at": isoformat_us(r.received_at_us),
                    "payload": _decoded(r.payload),
                }
            )
    return out


def _identity(
    conn: Connection,
    ids: Sequence[str],
    nodes: list[dict[str, Any]],
    names: Mapping[int, str],
) -> dict[str, Any]:
    node_ids = [int(n["id"]) for n in nodes]
    keys: dict[int, list[str]] = {}
    pairs: list[dict[str, Any]] = []
    reviews: list[dict[str, Any]] = []
    for chunk in _chunks(node_ids):
        for key, node_id, _role in conn.execute(
            select(identity_keys.c.key, identity_keys.c.node_id, identity_keys.c.role).where(
                key_in(conn, identity_keys.c.node_id, list(chunk))
            )
        ):
            keys.setdefault(node_id, []).append(key)
        for table, into in ((identity_pairs, pairs), (identity_reviews, reviews)):
            into.extend(
                _plain(r._mapping)
                for r in conn.execute(
                    select(table).where(
                        or_(
                            key_in(conn, table.c.a, list(chunk)),
                            key_in(conn, table.c.b, list(chunk)),
                        )
                    )
                )
            )
    for node in nodes:
        node["keys"] = sorted(keys.get(int(node["id"]), []))
    merges = [
        _plain(r._mapping)
        for r in conn.execute(
            select(profile_merges)
            .where(
                or_(
                    key_in(conn, profile_merges.c.survivor_id, list(ids)),
                    key_in(conn, profile_merges.c.merged_id, list(ids)),
                )
            )
            .order_by(profile_merges.c.id)
        )
    ]
    return {
        "nodes": nodes,
        "merges": merges,
        "decisions": _decisions(conn, nodes, names),
        "scored_pairs": _unique(pairs, ("a", "b")),
        "reviews": _unique(reviews, ("a", "b")),
    }


def _unique(rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(tuple(row[k] for k in key), row)
    return [seen[k] for k in sorted(seen)]


def _decisions(
    conn: Connection, nodes: Sequence[Mapping[str, Any]], names: Mapping[int, str]
) -> list[dict[str, Any]]:
    """People's decisions (split, apart, same) naming any of the person's nodes, with which
    of the person's nodes they name and on which side."""
    mine = {(int(n["source_id"]), str(n["node_type"]), str(n["node_key"])) for n in nodes}
    sides: dict[int, list[dict[str, Any]]] = {}
    for chunk in _chunks(sorted({k for _s, _t, k in mine})):
        for r in conn.execute(
            select(identity_decision_nodes).where(
                key_in(conn, identity_decision_nodes.c.node_key, list(chunk))
            )
        ):
            if (r.source_id, r.node_type, r.node_key) in mine:
                sides.setdefault(r.decision_id, []).append(
                    {
                        "source": names.get(r.source_id, str(r.source_id)),
                        "node_type": r.node_type,
                        "node_key": r.node_key,
                        "side": r.side,
                    }
                )
    if not sides:
        return []
    rows = conn.execute(
        select(identity_decisions)
        .where(key_in(conn, identity_decisions.c.id, sorted(sides)))
        .order_by(identity_decisions.c.id)
    )
    return [{**_plain(r._mapping), "nodes": sides[r.id]} for r in rows]


def _journeys(conn: Connection, ids: Sequence[str]) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(journey_entries, journeys.c.name.label("journey"))
        .select_from(
            journey_entries.outerjoin(journeys, journeys.c.id == journey_entries.c.journey_id)
        )
        .where(key_in(conn, journey_entries.c.profile_id, list(ids)))
        .order_by(journey_entries.c.id)
    ).all()
    steps: dict[int, list[dict[str, Any]]] = {}
    for chunk in _chunks([r.id for r in rows]):
        for s in conn.execute(
            select(journey_steps)
            .where(key_in(conn, journey_steps.c.entry_id, list(chunk)))
            .order_by(journey_steps.c.entry_id, journey_steps.c.at_us)
        ):
            steps.setdefault(s.entry_id, []).append(_plain(s._mapping))
    return [{**_plain(r._mapping), "steps": steps.get(r.id, [])} for r in rows]


def _feedback(conn: Connection, ids: Sequence[str]) -> list[dict[str, Any]]:
    items = _rows(conn, feedback_items, feedback_items.c.profile_id, ids, feedback_items.c.id)
    history: dict[int, list[dict[str, Any]]] = {}
    for chunk in _chunks([int(i["id"]) for i in items]):
        for h in conn.execute(
            select(feedback_history)
            .where(key_in(conn, feedback_history.c.feedback_id, list(chunk)))
            .order_by(feedback_history.c.id)
        ):
            history.setdefault(h.feedback_id, []).append(_plain(h._mapping))
    return [{**item, "history": history.get(int(item["id"]), [])} for item in items]


def _destinations(
    conn: Connection, ids: Sequence[str], changes: list[dict[str, Any]]
) -> dict[str, Any]:
    """Where the person's data went: business apps kept in sync (what was pushed, what is
    still queued, what failed) and the change feed with each subscription's deliveries."""
    names = dict(conn.execute(select(sync_destinations.c.id, sync_destinations.c.name)).all())
    sync: dict[str, list[dict[str, Any]]] = {}
    for key, table in (
        ("queued", sync_queue),
        ("state", sync_state),
        ("dead_letters", sync_dead_letters),
        ("conflicts", sync_conflicts),
    ):
        rows = _rows(conn, table, table.c.profile_id, ids, None)
        for row in rows:
            row["destination"] = names.get(row["destination_id"], str(row["destination_id"]))
        sync[key] = sorted(rows, key=lambda r: (r["destination_id"], str(r.get("id", ""))))
    change_ids = [int(c["id"]) for c in changes]
    dead: dict[int, list[dict[str, Any]]] = {}
    for chunk in _chunks(change_ids):
        for r in conn.execute(
            select(subscription_dead_letters).where(
                key_in(conn, subscription_dead_letters.c.change_id, list(chunk))
            )
        ):
            dead.setdefault(r.subscription_id, []).append(_plain(r._mapping))
    delivered = []
    for sub in conn.execute(select(subscriptions).order_by(subscriptions.c.id)):
        kinds = set(sub.kinds or [])
        theirs = [c for c in changes if not kinds or c["kind"] in kinds]
        sent = [c["id"] for c in theirs if int(c["id"]) <= sub.cursor]
        if not sent and sub.id not in dead:
            continue
        target = urlsplit(sub.url)
        delivered.append(
            {
                "subscription_id": sub.id,
                # where, not how: a URL's path or query may hold a token
                "endpoint": f"{target.scheme}://{target.netloc}",
                "delivered_change_ids": sent,
                "pending": len(theirs) - len(sent),
                "dead_letters": dead.get(sub.id, []),
            }
        )
    return {
        "sync": sync,
        "change_feed": changes,
        "subscriptions": delivered,
    }


def _channel_suppressions(
    conn: Connection, identifiers: Iterable[Any], ids: Sequence[str]
) -> list[dict[str, Any]]:
    """The person's addresses on the do-not-send list (bounced, complained, asked)."""
    addresses = {i.value for i in identifiers if i.type in ("email", "phone")}
    addresses |= set(
        conn.execute(
            select(messages.c.address).where(key_in(conn, messages.c.profile_id, list(ids)))
        ).scalars()
    )
    if not addresses:
        return []
    return [
        _plain(r._mapping)
        for r in conn.execute(
            select(suppressions)
            .where(key_in(conn, suppressions.c.address, sorted(addresses)))
            .order_by(suppressions.c.channel, suppressions.c.address)
        )
    ]


def _audit(
    conn: Connection, ids: Sequence[str], request_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Who read, exported or changed the person's data (and handled their requests)."""
    rows = conn.execute(
        select(
            audit_log.c.id,
            audit_log.c.at_us,
            audit_log.c.actor,
            audit_log.c.role,
            audit_log.c.action,
            audit_log.c.object_type,
            audit_log.c.object_id,
            audit_log.c.detail,
        )
        .where(key_in(conn, audit_log.c.object_id, [*ids, *request_ids]))
        .order_by(audit_log.c.id)
    )
    request_set = set(request_ids)
    return [
        _plain(r._mapping)
        for r in rows
        if r.object_id not in request_set or r.object_type in ("privacy_request", "request")
    ]


def _quarantine(
    conn: Connection,
    ids: Sequence[str],
    records: Sequence[Mapping[str, Any]],
    names: Mapping[int, str],
) -> list[dict[str, Any]]:
    """Items kept in quarantine that belong to the person's events or record versions."""
    found: dict[int, Any] = {}
    tracked = (
        select(rejects)
        .select_from(
            rejects.join(
                event_log,
                (event_log.c.source_id == rejects.c.source_id)
                & (event_log.c.message_id == rejects.c.message_id),
            ).join(profile_events, profile_events.c.seq == event_log.c.seq)
        )
        .where(key_in(conn, profile_events.c.profile_id, list(ids)))
    )
    for r in conn.execute(tracked):
        found[r.id] = r
    by_source: dict[int, list[str]] = {}
    for record in records:
        by_source.setdefault(int(record["source_id"]), []).extend(
            e["message_id"] for e in record["log_entries"]
        )
    for source_id, message_ids in by_source.items():
        for chunk in _chunks(message_ids):
            for r in conn.execute(
                select(rejects).where(
                    rejects.c.source_id == source_id,
                    key_in(conn, rejects.c.message_id, list(chunk)),
                )
            ):
                found[r.id] = r
    out = []
    for reject_id in sorted(found):
        item = _plain(found[reject_id]._mapping)
        item["source"] = names.get(item["source_id"], str(item["source_id"]))
        out.append(item)
    return out


def _other_tables(conn: Connection, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Rows of tables with a ``profile_id`` column that no section above covers."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table in metadata.sorted_tables:
        if table.name in COVERED_TABLES or "profile_id" not in table.c:
            continue
        rows = _rows(conn, table, table.c.profile_id, ids, None)
        if rows:
            out[table.name] = rows
    return out


# --- files -----------------------------------------------------------------------------------


_JSON = orjson.OPT_NON_STR_KEYS


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=_JSON, default=str)


def iter_json(export: Mapping[str, Any]) -> Iterator[bytes]:
    """The export as JSON text, a section (and in long lists an item) at a time, so a file
    of 100,000 events is never held twice in memory."""
    yield b"{"
    for n, (name, value) in enumerate(export.items()):
        yield (b"," if n else b"") + _dumps(name) + b":"
        if isinstance(value, list):
            yield b"["
            for i, item in enumerate(value):
                yield (b"," if i else b"") + _dumps(item)
            yield b"]"
        else:
            yield _dumps(value)
    yield b"}"


def write_export(export: Mapping[str, Any], directory: Path) -> list[Path]:
    """Write ``person.json`` (machine-readable) and ``person.html`` (readable) into
    ``directory`` (created if missing); return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "person.json"
    html_path = directory / "person.html"
    with json_path.open("wb") as out:
        for chunk in iter_json(export):
            out.write(chunk)
    with html_path.open("w", encoding="utf-8") as page:
        for part in iter_html(export):
            page.write(part)
    return [json_path, html_path]


def render_html(export: Mapping[str, Any]) -> str:
    """The export as one readable HTML page: a heading and tables per section, every value
    escaped, no scripts and nothing loaded from elsewhere."""
    return "".join(iter_html(export))


_STYLE = """
body{font-family:system-ui,"Noto Sans Thai","Noto Sans",sans-serif;margin:2rem;color:#222}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}
h3{font-size:1.05rem}table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.25rem .4rem;vertical-align:top;text-align:left}
th{background:#f4f4f4}code{white-space:pre-wrap;word-break:break-word;font-size:.8rem}
.empty{color:#777;font-style:italic}nav a{margin-right:.6rem}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return f"<code>{_e(_dumps(value).decode())}</code>"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _e(value)


def iter_html(export: Mapping[str, Any]) -> Iterator[str]:
    """The HTML page in parts (what :func:`write_export` streams to the file)."""
    about = export.get("about") or {}
    title = f"Personal data held about {about.get('profile_id', '')}"
    yield (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1><nav>"
    )
    yield "".join(
        f'<a href="#{_e(name)}">{_e(SECTION_TITLES.get(name, name))}</a>' for name in export
    )
    yield "</nav>"
    for name, value in export.items():
        yield f'<section id="{_e(name)}"><h2>{_e(SECTION_TITLES.get(name, name))}</h2>'
        yield from _block(value, 0)
        yield "</section>"
    yield "</body></html>\n"


def _block(value: Any, depth: int) -> Iterator[str]:
    if isinstance(value, list):
        yield from _table(value)
    elif isinstance(value, dict):
        if not value:
            yield '<p class="empty">none</p>'
            return
        simple = {k: v for k, v in value.items() if not _is_nested(v) or depth >= 2}
        if simple:
            yield "<table>"
            for key, item in simple.items():
                yield f"<tr><th>{_e(key)}</th><td>{_cell(item)}</td></tr>"
            yield "</table>"
        for key, item in value.items():
            if key in simple:
                continue
            yield f"<h3>{_e(key)}</h3>"
            yield from _block(item, depth + 1)
    else:
        yield f"<p>{_cell(value)}</p>"


def _is_nested(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and isinstance(value[0], dict)
    return isinstance(value, dict) and bool(value)


def _table(rows: Sequence[Any]) -> Iterator[str]:
    if not rows:
        yield '<p class="empty">none</p>'
        return
    if not all(isinstance(r, dict) for r in rows):
        yield "<ul>" + "".join(f"<li>{_cell(r)}</li>" for r in rows) + "</ul>"
        return
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    yield "<table><tr>" + "".join(f"<th>{_e(c)}</th>" for c in columns) + "</tr>"
    for start in range(0, len(rows), _CHUNK):
        yield "".join(
            "<tr>" + "".join(f"<td>{_cell(row.get(c))}</td>" for c in columns) + "</tr>"
            for row in rows[start : start + _CHUNK]
        )
    yield "</table>"
