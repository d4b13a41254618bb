"""Apply log entries to profiles: attach, create, merge on shared identifiers, update traits.

Deterministic in log order, so a rebuild from the log reproduces the same rows. Effects and the
checkpoint are written in the caller's transaction: an entry is applied exactly once.
"""

from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, select, tuple_, update

from c360.errors import NotFound
from c360.eventlog.model import StoredEvent
from c360.kernel.ids import profile_id_for
from c360.profiles.model import Identifier, Profile, identifiers_of, previous_id_of
from c360.storage.dialect import insert_ignoring_duplicates
from c360.storage.tables import (
    event_log,
    profile_events,
    profile_identifiers,
    profile_merges,
    profiles,
    sources,
)


def apply_events(conn: Connection, events: list[StoredEvent]) -> None:
    """Apply entries (in log order) to the profiles they concern."""
    for event in events:
        _apply(conn, event)


def _apply(conn: Connection, event: StoredEvent) -> None:
    payload: dict[str, Any] = orjson.loads(event.payload)
    ids = identifiers_of(event.type, payload)
    owners = _owners(conn, ids)
    user_id = next((v for t, v in ids if t == "user_id"), None)

    if user_id is not None and ("user_id", user_id) in owners:
        target = owners[("user_id", user_id)]
    else:
        # A new user_id may only join a profile that has no user_id of its own yet.
        open_profiles = [
            pid for pid in set(owners.values()) if user_id is None or not _user_ids(conn, pid)
        ]
        if open_profiles:
            target = min(open_profiles, key=lambda pid: _created_seq(conn, pid))
        else:
            target = _create(conn, event.seq)

    # Profiles sharing an identifier with this event become one, unless each already belongs
    # to a different user_id (one anonymous device used by two accounts is not one person).
    for other in sorted(set(owners.values()) - {target}, key=lambda pid: _created_seq(conn, pid)):
        if _may_merge(conn, target, other, user_id):
            target = _merge(conn, target, other, event.seq, _merge_reason(owners, other))

    if event.type == "alias":
        previous = previous_id_of(payload)
        if previous is not None:
            target = _link_alias(conn, target, previous, event)

    for id_type, value in ids:
        owner = owners.get((id_type, value))
        if owner is None:
            _attach_identifier(conn, target, id_type, value, event)
    conn.execute(
        insert_ignoring_duplicates(conn, profile_events), {"profile_id": target, "seq": event.seq}
    )
    changes: dict[str, Any] = {"updated_seq": event.seq}
    if event.type == "identify":
        traits = payload.get("traits")
        if isinstance(traits, dict) and traits:
            current = _traits(conn, target)
            changes["traits"] = {**current, **traits}
    conn.execute(update(profiles).where(profiles.c.id == target).values(**changes))


def _owners(conn: Connection, ids: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    if not ids:
        return {}
    rows = conn.execute(
        select(
            profile_identifiers.c.type,
            profile_identifiers.c.value,
            profile_identifiers.c.profile_id,
        ).where(tuple_(profile_identifiers.c.type, profile_identifiers.c.value).in_(ids))
    )
    return {(t, v): pid for t, v, pid in rows}


def _create(conn: Connection, seq: int) -> str:
    profile_id = profile_id_for(seq)
    conn.execute(
        insert(profiles).values(id=profile_id, traits={}, created_seq=seq, updated_seq=seq)
    )
    return profile_id


def _created_seq(conn: Connection, profile_id: str) -> int:
    return int(
        conn.execute(select(profiles.c.created_seq).where(profiles.c.id == profile_id)).scalar_one()
    )


def _traits(conn: Connection, profile_id: str) -> dict[str, Any]:
    traits = conn.execute(select(profiles.c.traits).where(profiles.c.id == profile_id)).scalar_one()
    return dict(traits or {})


def _user_ids(conn: Connection, profile_id: str) -> set[str]:
    return set(
        conn.execute(
            select(profile_identifiers.c.value).where(
                profile_identifiers.c.profile_id == profile_id,
                profile_identifiers.c.type == "user_id",
            )
        ).scalars()
    )


def _may_merge(conn: Connection, a: str, b: str, user_id: str | None = None) -> bool:
    """Two profiles may become one unless that would give one person two user_ids.

    ``user_id`` is the id the event being applied is about to give ``a``.
    """
    users_a, users_b = _user_ids(conn, a), _user_ids(conn, b)
    if user_id is not None:
        users_a.add(user_id)
    return len(users_a | users_b) <= 1


def _merge_reason(owners: dict[tuple[str, str], str], merged: str) -> str:
    shared = sorted(f"{t}" for (t, _v), pid in owners.items() if pid == merged)
    return "shared identifier: " + ", ".join(shared)


def _merge(conn: Connection, a: str, b: str, seq: int, reason: str) -> str:
    """Fold the younger of two profiles into the older; return the survivor."""
    survivor, merged = sorted((a, b), key=lambda pid: _created_seq(conn, pid))
    survivor_traits, merged_traits = _traits(conn, survivor), _traits(conn, merged)
    conn.execute(
        update(profile_identifiers)
        .where(profile_identifiers.c.profile_id == merged)
        .values(profile_id=survivor)
    )
    conn.execute(
        update(profile_events)
        .where(profile_events.c.profile_id == merged)
        .values(profile_id=survivor)
    )
    conn.execute(
        update(profiles)
        .where(profiles.c.id == survivor)
        .values(traits={**merged_traits, **survivor_traits}, updated_seq=seq)
    )
    conn.execute(
        update(profiles).where(profiles.c.id == merged).values(merged_into=survivor, traits={})
    )
    conn.execute(
        update(profiles).where(profiles.c.merged_into == merged).values(merged_into=survivor)
    )
    conn.execute(
        insert(profile_merges).values(
            survivor_id=survivor, merged_id=merged, seq=seq, reason=reason
        )
    )
    return survivor


def _link_alias(conn: Connection, target: str, previous: str, event: StoredEvent) -> str:
    candidates = [("user_id", previous), ("anonymous_id", previous), ("previous_id", previous)]
    owners = _owners(conn, candidates)
    for other in sorted(set(owners.values()) - {target}):
        if _may_merge(conn, target, other):
            target = _merge(conn, target, other, event.seq, f"alias of previousId {previous}")
    if not owners:
        _attach_identifier(conn, target, "previous_id", previous, event)
    return target


def _attach_identifier(
    conn: Connection, profile_id: str, id_type: str, value: str, event: StoredEvent
) -> None:
    conn.execute(
        insert_ignoring_duplicates(conn, profile_identifiers),
        {
            "type": id_type,
            "value": value,
            "profile_id": profile_id,
            "source_id": event.source_id,
            "first_seq": event.seq,
        },
    )


# --- reads -------------------------------------------------------------------------------


def resolve_id(conn: Connection, profile_id: str) -> str:
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


def get_profile(conn: Connection, profile_id: str) -> Profile:
    """The live profile (following merges) with its identifiers."""
    live = resolve_id(conn, profile_id)
    row = conn.execute(
        select(profiles.c.traits, profiles.c.created_seq, profiles.c.updated_seq).where(
            profiles.c.id == live
        )
    ).one()
    identifiers = [
        Identifier(t, v, s)
        for t, v, s in conn.execute(
            select(profile_identifiers.c.type, profile_identifiers.c.value, sources.c.name)
            .select_from(
                profile_identifiers.join(sources, sources.c.id == profile_identifiers.c.source_id)
            )
            .where(profile_identifiers.c.profile_id == live)
            .order_by(profile_identifiers.c.first_seq, profile_identifiers.c.type)
        )
    ]
    count = conn.execute(
        select(func.count()).select_from(profile_events).where(profile_events.c.profile_id == live)
    ).scalar_one()
    return Profile(
        live, dict(row.traits or {}), identifiers, row.created_seq, row.updated_seq, count
    )


def find_by_identifier(conn: Connection, id_type: str, value: str) -> Profile:
    """The profile an identifier points at."""
    lookup = value.strip().lower() if id_type == "email" else value
    profile_id = conn.execute(
        select(profile_identifiers.c.profile_id).where(
            profile_identifiers.c.type == id_type, profile_identifiers.c.value == lookup
        )
    ).scalar_one_or_none()
    if profile_id is None:
        raise NotFound(f"no profile has identifier {id_type}")
    return get_profile(conn, profile_id)


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
