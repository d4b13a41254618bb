"""Core statements of two-way sync: built here, executed by ``service``."""

from typing import Any

from sqlalchemy import Select, Update, and_, func, or_, select, update

from c360.identity.features import NODE_RECORD
from c360.storage.tables import (
    identity_nodes,
    profiles,
    sources,
    sync_conflicts,
    sync_dead_letters,
    sync_destinations,
    sync_queue,
    sync_state,
)


def destinations() -> Select[Any]:
    """Destinations with their source's name, by id."""
    return (
        select(sync_destinations, sources.c.name.label("source_name"))
        .select_from(sync_destinations.join(sources, sources.c.id == sync_destinations.c.source_id))
        .order_by(sync_destinations.c.id)
    )


def claim(destination_id: int, now_us: int, until_us: int) -> Update:
    """Take the destination's lease if no other worker holds it (one row updated: taken)."""
    return (
        update(sync_destinations)
        .where(
            sync_destinations.c.id == destination_id,
            sync_destinations.c.disabled_at_us.is_(None),
            or_(
                sync_destinations.c.lease_until_us.is_(None),
                sync_destinations.c.lease_until_us <= now_us,
            ),
        )
        .values(lease_until_us=until_us)
    )


def release(destination_id: int, until_us: int) -> Update:
    return (
        update(sync_destinations)
        .where(
            sync_destinations.c.id == destination_id,
            sync_destinations.c.lease_until_us == until_us,
        )
        .values(lease_until_us=None)
    )


def due_items(destination_id: int, now_us: int, limit: int) -> Select[Any]:
    """Queued profiles due now, oldest first (NULL next attempt: never tried)."""
    return (
        select(sync_queue)
        .where(
            sync_queue.c.destination_id == destination_id,
            or_(sync_queue.c.next_attempt_us.is_(None), sync_queue.c.next_attempt_us <= now_us),
        )
        .order_by(
            func.coalesce(sync_queue.c.next_attempt_us, 0),
            sync_queue.c.enqueued_at_us,
            sync_queue.c.profile_id,
        )
        .limit(limit)
    )


def profile_row(profile_id: str) -> Select[Any]:
    return select(profiles.c.id, profiles.c.merged_into, profiles.c.golden).where(
        profiles.c.id == profile_id
    )


def crosswalk_keys(source_id: int, profile_id: str, kind: str | None) -> Select[Any]:
    """The app's record ids (its keys) among the profile's records."""
    query = select(identity_nodes.c.node_key).where(
        identity_nodes.c.source_id == source_id,
        identity_nodes.c.node_type == NODE_RECORD,
        identity_nodes.c.profile_id == profile_id,
    )
    if kind is not None:
        query = query.where(identity_nodes.c.kind == kind)
    return query.order_by(identity_nodes.c.node_key)


def created_keys(destination_id: int, source_id: int, profile_id: str) -> Select[Any]:
    """Rows c360 created for the profile that the crosswalk does not know yet (the app's
    copy has not come back as a record)."""
    known = select(identity_nodes.c.id).where(
        identity_nodes.c.source_id == source_id,
        identity_nodes.c.node_type == NODE_RECORD,
        identity_nodes.c.node_key == sync_state.c.app_key,
    )
    return select(sync_state.c.app_key).where(
        sync_state.c.destination_id == destination_id,
        sync_state.c.profile_id == profile_id,
        ~known.exists(),
    )


def profiles_of_source(source_id: int, kind: str | None) -> Select[Any]:
    """Every live profile holding a record of the source."""
    query = (
        select(identity_nodes.c.profile_id)
        .where(
            identity_nodes.c.source_id == source_id,
            identity_nodes.c.node_type == NODE_RECORD,
            identity_nodes.c.profile_id.is_not(None),
        )
        .distinct()
    )
    if kind is not None:
        query = query.where(identity_nodes.c.kind == kind)
    return query


def latest_conflict(destination_id: int, app_key: str, column: str) -> Select[Any]:
    return (
        select(sync_conflicts.c.app_value, sync_conflicts.c.c360_value, sync_conflicts.c.outcome)
        .where(
            sync_conflicts.c.destination_id == destination_id,
            sync_conflicts.c.app_key == app_key,
            sync_conflicts.c.column_name == column,
        )
        .order_by(sync_conflicts.c.id.desc())
        .limit(1)
    )


def dead_letters(destination_id: int, ids: list[int] | None = None) -> Select[Any]:
    query = select(sync_dead_letters).where(sync_dead_letters.c.destination_id == destination_id)
    if ids:
        query = query.where(sync_dead_letters.c.id.in_(ids))
    return query.order_by(sync_dead_letters.c.id)


def conflicts(destination_id: int, limit: int) -> Select[Any]:
    return (
        select(sync_conflicts)
        .where(sync_conflicts.c.destination_id == destination_id)
        .order_by(sync_conflicts.c.id.desc())
        .limit(limit)
    )


def queue_counts(destination_id: int) -> Select[Any]:
    """(queued, retrying) of a destination."""
    return select(
        func.count(),
        func.coalesce(
            func.sum(func.cast(sync_queue.c.attempts > 0, sync_queue.c.attempts.type)), 0
        ),
    ).where(sync_queue.c.destination_id == destination_id)


def state_rows(destination_id: int) -> Select[Any]:
    return select(sync_state).where(sync_state.c.destination_id == destination_id)


def queue_item(destination_id: int, profile_id: str) -> Any:
    return and_(
        sync_queue.c.destination_id == destination_id, sync_queue.c.profile_id == profile_id
    )
