"""Apply log entries to profiles: the identities they carry are resolved (``identity``), the
events are filed under the resulting profiles, and changed profiles get their traits again.

Deterministic: the partition, the profile ids and every event's profile depend on the log
alone, never on how it was cut into batches, so ``c360 rebuild`` reproduces them. Effects
and the checkpoint are written in the caller's transaction: an entry is applied exactly once.
"""

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, func, select, update

from c360.errors import NotFound
from c360.eventlog.model import StoredEvent
from c360.identity.decisions import live_profile_id
from c360.identity.features import (
    NODE_ANONYMOUS,
    NODE_RECORD,
    NODE_USER,
    NodeInput,
    id_key,
    record_node,
    tracked_fields,
)
from c360.identity.service import (
    NodeChanges,
    ProfileChanges,
    Resolver,
    resolve_changed,
    source_names,
    update_nodes,
)
from c360.ingest.schema import RecordKind
from c360.profiles.golden import SURVIVING_FIELDS
from c360.profiles.model import (
    OWN_SOURCES,
    PROFILE_ID_TYPE,
    Identifier,
    Profile,
    previous_id_of,
    traits_of,
)
from c360.profiles.refresh import refresh_profiles
from c360.segments.membership import member_names
from c360.standardize import email as standard_email
from c360.standardize import phone as standard_phone
from c360.standardize.service import ChangedRecord
from c360.storage.dialect import insert_many_ignoring_duplicates, key_in
from c360.storage.tables import (
    event_log,
    identity_keys,
    identity_nodes,
    profile_events,
    profiles,
    sources,
)

_CHUNK = 500
_SURVIVING = frozenset(SURVIVING_FIELDS)


def apply_events(conn: Connection, events: list[StoredEvent]) -> ProfileChanges:
    """Tracked messages only (the records of files and databases go through
    :func:`apply_entries`)."""
    return apply_entries(conn, [], events)


def apply_entries(
    conn: Connection, records: Sequence[ChangedRecord], events: Sequence[StoredEvent]
) -> ProfileChanges:
    """Resolve the nodes that changed records and tracked messages describe, file the events
    under their profiles and refresh the profiles that changed."""
    resolver = Resolver.load(conn)
    inputs: list[NodeInput] = []
    for record in records:
        node = record_node(
            record.source_id,
            record.record_id,
            record.kind,
            record.fields,
            record.identifiers,
            record.seq,
            record.at_us,
            record.first_seq,
        )
        if node is not None:
            inputs.append(node)
    filed: list[tuple[StoredEvent, tuple[int, str, str]]] = []
    named: set[tuple[int, str, str]] = set()
    direct: list[tuple[StoredEvent, str]] = []
    names = source_names(conn)
    unknown = next((e.source_id for e in events if e.source_id not in names), None)
    if unknown is not None:
        names = source_names(conn, missing=unknown)
    for event in events:
        payload = _decode(event.payload)
        if names.get(event.source_id) in OWN_SOURCES:
            target = profile_handle(payload)
            if target is not None:
                direct.append((event, target))
                continue
        event_inputs = tracked_nodes(event, payload)
        inputs.extend(event_inputs)
        named.update((n.source_id, n.node_type, n.key) for n in event_inputs)
        if event_inputs:
            first = event_inputs[0]
            filed.append((event, (first.source_id, first.node_type, first.key)))
    changes = update_nodes(conn, resolver, inputs)
    seq = max([e.seq for e in events] + [r.seq for r in records] + [0])
    result = resolve_changed(conn, resolver, changes, seq)
    _file_events(conn, changes, filed)
    touched_directly = _file_directly(conn, direct)
    # profiles whose golden record, traits or consent may read differently: their records with
    # person fields changed, their subscription records (consent statements) did, or their
    # tracked identities did (an invoice changes none of them)
    record_nodes = {
        changes.node_of[(r.source_id, NODE_RECORD, r.record_id)]
        for r in records
        if (r.source_id, NODE_RECORD, r.record_id) in changes.node_of
        and (r.kind == RecordKind.SUBSCRIPTION or not _SURVIVING.isdisjoint(r.fields))
    }
    # every tracked identity an event named, filed under it or not: its traits may have
    # moved, and so has its last position, which orders its traits against the profile's
    # other identities' (a device seen again beside a user id now has the newest)
    tracked = {changes.node_of[key] for key in named}
    follow_resolution(
        conn,
        result,
        seq,
        extra=_profiles_of(conn, changes.traits_changed | tracked | record_nodes)
        | touched_directly,
    )
    return result


def follow_resolution(
    conn: Connection, result: ProfileChanges, seq: int, extra: set[str] | None = None
) -> None:
    """Move the events of nodes that changed profile and refresh the profiles touched (as of
    log entry ``seq``), recording the changes in the feed."""
    _move_events(conn, result)
    refresh_profiles(conn, result.touched | (extra or set()), seq, history=result.history)


def _decode(payload: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(payload)
    # The log keeps a NUL as sent; derived tables on PostgreSQL cannot hold one.
    return _without_nul(value) if "\\u0000" in payload else value


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def tracked_nodes(event: StoredEvent, payload: dict[str, Any]) -> list[NodeInput]:
    """The identities a tracked message names, the one it is filed under first: its
    ``userId``, else its ``anonymousId``. An ``anonymousId`` sent with a ``userId`` links to
    it; an alias links the user to its ``previousId``; identify traits go to the identity
    the message is filed under."""
    user_id = _text(payload.get("userId"))
    anonymous_id = _text(payload.get("anonymousId"))
    traits = traits_of(payload) if event.type == "identify" else {}
    # Every email and phone an identity ever gave stays one of its identifiers (its traits
    # keep only the newest).
    said = tracked_fields(traits) if traits else {}
    contacts = [(t, str(said[t])) for t in ("email", "phone") if said.get(t)]
    nodes: list[NodeInput] = []
    if user_id is not None:
        links: list[tuple[str, str]] = []
        if event.type == "alias":
            previous = previous_id_of(payload)
            if previous is not None and previous != user_id:
                links = [("user_id", previous), ("anonymous_id", previous)]
        nodes.append(
            NodeInput(
                event.source_id,
                NODE_USER,
                user_id,
                "identify" if traits else "track",
                {},
                [("user_id", user_id), *contacts],
                links,
                seq=event.seq,
                at_us=event.received_at_us,
                traits=dict(traits),
            )
        )
    if anonymous_id is not None:
        nodes.append(
            NodeInput(
                event.source_id,
                NODE_ANONYMOUS,
                anonymous_id,
                "identify" if traits and user_id is None else "track",
                {},
                [("anonymous_id", anonymous_id), *([] if user_id is not None else contacts)],
                [("user_id", user_id)] if user_id is not None else [],
                seq=event.seq,
                at_us=event.received_at_us,
                traits=dict(traits) if user_id is None else {},
            )
        )
    return nodes


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _file_events(
    conn: Connection,
    changes: NodeChanges,
    filed: list[tuple[StoredEvent, tuple[int, str, str]]],
) -> None:
    if not filed:
        return
    node_ids = sorted({changes.node_of[key] for _, key in filed})
    profile_of: dict[int, str] = {}
    for chunk in _chunks(node_ids, _CHUNK):
        profile_of.update(
            conn.execute(
                select(identity_nodes.c.id, identity_nodes.c.profile_id).where(
                    key_in(conn, identity_nodes.c.id, chunk)
                )
            ).all()
        )
    insert_many_ignoring_duplicates(
        conn,
        profile_events,
        [
            {
                "profile_id": profile_of[changes.node_of[key]],
                "seq": event.seq,
                "node_id": changes.node_of[key],
                "at_us": event.timestamp_us,
            }
            for event, key in filed
        ],
    )


def profile_handle(payload: dict[str, Any]) -> str | None:
    """The profile an activation message names in ``context.externalIds`` (type
    ``c360_profile_id``, Segment's convention for ids besides userId/anonymousId)."""
    context = payload.get("context")
    ids = context.get("externalIds") if isinstance(context, dict) else None
    for item in ids if isinstance(ids, list) else []:
        if isinstance(item, dict) and item.get("type") == PROFILE_ID_TYPE:
            value = item.get("id")
            if isinstance(value, str) and value:
                return value
    return None


def _file_directly(conn: Connection, direct: list[tuple[StoredEvent, str]]) -> set[str]:
    """File c360's own messages about a profile (a send, an open, a trait a journey set) under
    that profile as it is now; an unknown profile's message is filed under none."""
    rows: list[dict[str, Any]] = []
    for event, target in direct:
        try:
            live = live_profile_id(conn, target)
        except NotFound:
            continue
        rows.append(
            {"profile_id": live, "seq": event.seq, "node_id": None, "at_us": event.timestamp_us}
        )
    insert_many_ignoring_duplicates(conn, profile_events, rows)
    return {row["profile_id"] for row in rows}


def _move_events(conn: Connection, result: ProfileChanges) -> None:
    # c360's own events are filed under a profile, not a node: they go where it merges
    merged = [
        {"old": other, "new": survivor}
        for action, survivor, other, _reason in result.history
        if action == "merge"
    ]
    if merged:
        conn.execute(
            update(profile_events)
            .where(
                profile_events.c.profile_id == bindparam("old"),
                profile_events.c.node_id.is_(None),
            )
            .values(profile_id=bindparam("new")),
            merged,
        )
    # a node new in this batch has no events filed under another profile yet
    moves = [
        {"nid": node_id, "pid": new}
        for node_id, (old, new) in sorted(result.moved.items())
        if old is not None
    ]
    if moves:
        conn.execute(
            update(profile_events)
            .where(profile_events.c.node_id == bindparam("nid"))
            .values(profile_id=bindparam("pid")),
            moves,
        )


def _profiles_of(conn: Connection, node_ids: set[int]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(node_ids), _CHUNK):
        found.update(
            pid
            for pid in conn.execute(
                select(identity_nodes.c.profile_id).where(key_in(conn, identity_nodes.c.id, chunk))
            ).scalars()
            if pid is not None
        )
    return found


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- reads -------------------------------------------------------------------------------


resolve_id = live_profile_id
"""The live profile id for an id, following merges (the identity area keeps the merges)."""


def get_profile(conn: Connection, profile_id: str) -> Profile:
    """The live profile (following merges) with its identifiers."""
    columns = (
        profiles.c.merged_into,
        profiles.c.traits,
        profiles.c.created_seq,
        profiles.c.updated_seq,
        profiles.c.household_id,
        profiles.c.golden,
        profiles.c.computed,
    )
    live = profile_id
    row = conn.execute(select(*columns).where(profiles.c.id == live)).first()
    if row is None or row.merged_into is not None:
        # merged (or unknown: resolve_id says so): read the survivor
        live = resolve_id(conn, profile_id)
        row = conn.execute(select(*columns).where(profiles.c.id == live)).one()
    identifiers: dict[tuple[str, str], Identifier] = {}
    nodes = conn.execute(
        select(
            identity_nodes.c.identifiers,
            sources.c.name,
            identity_nodes.c.first_seq,
            identity_nodes.c.node_type,
            identity_nodes.c.kind,
        )
        .select_from(identity_nodes.join(sources, sources.c.id == identity_nodes.c.source_id))
        .where(identity_nodes.c.profile_id == live)
        .order_by(identity_nodes.c.first_seq, identity_nodes.c.id)
    ).all()
    linked: dict[str, int] = {}
    for keys, source, _first, node_type, kind in nodes:
        if node_type == NODE_RECORD:
            linked[kind] = linked.get(kind, 0) + 1
        for id_type, value in keys["ids"]:
            identifiers.setdefault((id_type, value), Identifier(id_type, value, source))
        if node_type == NODE_USER:
            # an alias's previousId (the user it was before)
            for _id_type, value in keys["links"]:
                identifiers.setdefault(
                    ("previous_id", value), Identifier("previous_id", value, source)
                )
    count = conn.execute(
        select(func.count()).select_from(profile_events).where(profile_events.c.profile_id == live)
    ).scalar_one()
    return Profile(
        live,
        dict(row.traits or {}),
        list(identifiers.values()),
        row.created_seq,
        row.updated_seq,
        count,
        row.household_id,
        row.golden,
        dict(row.computed or {}),
        dict(sorted(linked.items())),
        member_names(conn, [live])[live],
    )


def identifier_lookup_keys(conn: Connection, id_type: str, value: str) -> list[str]:
    """The index keys an identifier typed by a person may be stored under: an email in any
    case, a phone in any local format (Thai or Vietnamese), a source's own id in any source
    (identifier types kept per source)."""
    text = value.strip()
    candidates = {text}
    if id_type == "email":
        standard = standard_email(text)
        candidates = {str(standard.value)} if standard.ok and standard.value else {text.lower()}
    elif id_type == "phone":
        candidates = set()
        for region in ("TH", "VN"):
            standard = standard_phone(text, default_region=region)
            if standard.ok and standard.value:
                candidates.add(str(standard.value))
    if not Resolver.load(conn).config.identifier(id_type).per_source:
        return [id_key(id_type, v) for v in sorted(candidates)]
    # a source's own key (a customer number) is held once per source
    source_ids = sorted(source_names(conn))
    return [id_key(id_type, v, sid) for v in sorted(candidates) for sid in source_ids]


def find_by_identifier(conn: Connection, id_type: str, value: str) -> Profile:
    """The profile an identifier points at (the most recently updated, when a family shares
    it)."""
    if id_type == "previous_id":
        # an alias's previousId: the user or device it named, as held or as linked
        keys = [id_key("user_id", value), id_key("anonymous_id", value)]
        roles = [0, 1]
    else:
        keys, roles = identifier_lookup_keys(conn, id_type, value), [0]
    row = conn.execute(
        select(identity_nodes.c.profile_id)
        .select_from(
            identity_keys.join(identity_nodes, identity_nodes.c.id == identity_keys.c.node_id)
        )
        .join(profiles, profiles.c.id == identity_nodes.c.profile_id)
        .where(identity_keys.c.key.in_(keys), identity_keys.c.role.in_(roles))
        .order_by(profiles.c.updated_seq.desc(), profiles.c.id)
        .limit(1)
    ).first()
    if row is None or row[0] is None:
        raise NotFound(f"no profile has identifier {id_type}")
    return get_profile(conn, row[0])


def profile_events_page(
    conn: Connection, profile_id: str, limit: int, before_seq: int | None
) -> list[tuple[Any, ...]]:
    """Log entries of a profile, newest first, ``limit`` at a time before ``before_seq``."""
    live = resolve_id(conn, profile_id)
    query = (
        select(
            event_log.c.seq,
            event_log.c.message_id,
            event_log.c.type,
            event_log.c.received_at_us,
            event_log.c.timestamp_us,
            event_log.c.payload,
            sources.c.name,
        )
        .select_from(
            profile_events.join(event_log, event_log.c.seq == profile_events.c.seq).join(
                sources, sources.c.id == event_log.c.source_id
            )
        )
        .where(profile_events.c.profile_id == live)
    )
    if before_seq is not None:
        query = query.where(profile_events.c.seq < before_seq)
    return [
        tuple(r) for r in conn.execute(query.order_by(profile_events.c.seq.desc()).limit(limit))
    ]
