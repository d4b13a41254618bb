"""Two-way sync use cases: each takes a Connection, runs queries, applies the rules; the
worker (``c360.workers.sync``) owns the transactions and talks to the apps."""

import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Row, delete, func, insert, select, update

from c360.activation.sync import queries
from c360.activation.sync.config import DestinationConfig
from c360.activation.sync.model import (
    Conflict,
    ConflictNote,
    DeadLetter,
    Destination,
    QueueItem,
    SyncState,
)
from c360.changes.delivery import (
    DEFAULT_BASE_DELAY_S,
    DEFAULT_MAX_DELAY_S,
    DEFAULT_RETRY_WINDOW_S,
    MAX_RETRY_AFTER_S,
    backoff_s,
)
from c360.changes.feed import ChangeKind, changes_after, last_change_id
from c360.changes.subscriptions import HOME_COUNTRY, check_transfer
from c360.errors import Conflict as ConflictError
from c360.errors import InvalidInput, NotFound
from c360.eventlog.service import ensure_source
from c360.identity.features import NODE_RECORD
from c360.kernel.clock import system_clock
from c360.privacy.consent import permits
from c360.privacy.purposes import check_purpose
from c360.privacy.restrict import RESTRICTED_REASON, restricted
from c360.storage.dialect import insert_ignoring_duplicates, key_in, upsert_many
from c360.storage.tables import (
    identity_nodes,
    profile_changes,
    profiles,
    sync_conflicts,
    sync_dead_letters,
    sync_destinations,
    sync_queue,
    sync_state,
)

log = logging.getLogger(__name__)

FEED_KINDS = (
    ChangeKind.PROFILE_CREATED.value,
    ChangeKind.TRAIT_CHANGED.value,
    ChangeKind.MERGED.value,
    ChangeKind.SPLIT.value,
)
"""Changes that may change what a destination's rows should hold: a golden value, or which
records (so which app rows) belong to a profile."""


# --- destinations ------------------------------------------------------------------------


def add_destination(
    conn: Connection,
    config: DestinationConfig,
    *,
    push_existing: bool = False,
    home_country: str = HOME_COUNTRY,
) -> Destination:
    """A new destination, following the change feed from now. ``push_existing`` also queues
    every profile already holding a record of the source, so their rows are brought in line.

    A removed destination of the same name comes back with the new configuration and keeps
    what it knew of the app's rows (so a changed configuration is: remove, then add).

    A destination hosted outside ``home_country`` (its ``country``) is a transfer abroad; its
    allow-list is its field map (required by the configuration): only the golden values it
    names, and does not leave to the app, are ever sent. Its ``consent_purpose`` must be a
    configured purpose."""
    if config.consent_purpose is not None:
        check_purpose(config.consent_purpose, f"sync destination {config.name!r}: consent_purpose")
    country = check_transfer(
        f"sync destination {config.name!r}",
        config.country,
        allow_list=bool(config.fields),
        home_country=home_country,
    )
    found = conn.execute(
        select(sync_destinations.c.id, sync_destinations.c.disabled_at_us).where(
            sync_destinations.c.name == config.name
        )
    ).first()
    if found is not None and found.disabled_at_us is None:
        raise ConflictError(
            f"sync destination {config.name!r} exists; to change it, remove it (c360 sync "
            f"remove {config.name}) and add it again"
        )
    source = ensure_source(conn, config.source)
    now = system_clock()
    values = {
        "name": config.name,
        "kind": "table" if config.table is not None else "rest",
        "source_id": source.id,
        "config": config.model_dump(mode="json", exclude_none=True),
        "updated_at_us": now,
        "disabled_at_us": None,
        "cursor": last_change_id(conn),
        "attempts": 0,
        "next_attempt_us": None,
        "failing_since_us": None,
        "last_error": None,
        "pull_attempts": 0,
        "next_pull_us": None,
        "pull_error": None,
        "lease_until_us": None,
        "country": country,
    }
    if found is None:
        destination_id = conn.execute(
            insert(sync_destinations)
            .values(created_at_us=now, **values)
            .returning(sync_destinations.c.id)
        ).scalar_one()
    else:
        destination_id = found.id
        conn.execute(
            update(sync_destinations)
            .where(sync_destinations.c.id == destination_id)
            .values(**values)
        )
    destination = _by(conn, sync_destinations.c.id == destination_id)
    if push_existing:
        profile_ids = conn.execute(
            queries.profiles_of_source(source.id, destination.record_kind)
        ).scalars()
        enqueue_profiles(conn, destination.id, list(profile_ids), now)
    return destination


def get_destination(conn: Connection, name: str) -> Destination:
    return _by(conn, sync_destinations.c.name == name)


def list_destinations(conn: Connection, *, include_removed: bool = False) -> list[Destination]:
    query = queries.destinations()
    if not include_removed:
        query = query.where(sync_destinations.c.disabled_at_us.is_(None))
    return [_to_destination(row) for row in conn.execute(query)]


def remove_destination(conn: Connection, name: str) -> Destination:
    """Stop syncing; the destination's state, dead letters and conflicts stay as history."""
    destination = get_destination(conn, name)
    conn.execute(
        update(sync_destinations)
        .where(
            sync_destinations.c.id == destination.id, sync_destinations.c.disabled_at_us.is_(None)
        )
        .values(disabled_at_us=system_clock())
    )
    conn.execute(delete(sync_queue).where(sync_queue.c.destination_id == destination.id))
    return get_destination(conn, name)


def readable_destinations(conn: Connection) -> tuple[list[Destination], list[int]]:
    """Every destination, removed ones too, whose configuration reads; and the ids of those
    whose does not (written by hand, or by another version), which ``list_destinations``
    would refuse."""
    found, unreadable = [], []
    for row in conn.execute(queries.destinations()):
        try:
            found.append(_to_destination(row))
        except (ValidationError, InvalidInput):
            unreadable.append(int(row.id))
    return found, unreadable


def _by(conn: Connection, where: Any) -> Destination:
    row = conn.execute(queries.destinations().where(where)).first()
    if row is None:
        raise NotFound("no such sync destination (c360 sync list shows them)")
    return _to_destination(row)


def _to_destination(row: Row[Any]) -> Destination:
    config = DestinationConfig.model_validate(row.config)
    return Destination(
        id=row.id,
        name=row.name,
        kind=row.kind,
        source_id=row.source_id,
        source=row.source_name,
        record_kind=config.record_kind(),
        rules=config.rules(),
        create_missing=config.create_missing,
        table=config.table_spec(),
        rest=config.rest_spec(),
        mapping_text=config.mapping_text(),
        config=dict(row.config),
        created_at_us=row.created_at_us,
        updated_at_us=row.updated_at_us,
        disabled_at_us=row.disabled_at_us,
        cursor=row.cursor,
        attempts=row.attempts,
        next_attempt_us=row.next_attempt_us,
        failing_since_us=row.failing_since_us,
        last_error=row.last_error,
        pulled_at_us=row.pulled_at_us,
        pull_attempts=row.pull_attempts,
        next_pull_us=row.next_pull_us,
        pull_error=row.pull_error,
        country=row.country,
    )


@dataclass(frozen=True, slots=True)
class DestinationStatus:
    lag: int
    """Changes of the feed not yet looked at."""
    queued: int
    retrying: int
    dead_letters: int
    conflicts: int
    rows: int
    """App rows c360 knows (read back or written)."""


def destination_status(conn: Connection, destination: Destination) -> DestinationStatus:
    lag = conn.execute(
        select(func.count()).where(
            profile_changes.c.id > destination.cursor, profile_changes.c.kind.in_(FEED_KINDS)
        )
    ).scalar_one()
    queued, retrying = conn.execute(queries.queue_counts(destination.id)).one()
    letters, found, rows = (
        conn.execute(
            select(func.count()).where(table.c.destination_id == destination.id)
        ).scalar_one()
        for table in (sync_dead_letters, sync_conflicts, sync_state)
    )
    return DestinationStatus(int(lag), int(queued), int(retrying), letters, found, rows)


def claim(conn: Connection, destination_id: int, now_us: int, until_us: int) -> bool:
    """Hold the destination until ``until_us`` unless another worker does."""
    return bool(conn.execute(queries.claim(destination_id, now_us, until_us)).rowcount)


def release(conn: Connection, destination_id: int, until_us: int) -> None:
    conn.execute(queries.release(destination_id, until_us))


# --- the feed and the queue --------------------------------------------------------------


def take_changes(conn: Connection, destination: Destination, limit: int = 500) -> tuple[int, int]:
    """Queue the profiles whose changes after the destination's cursor touch what it syncs;
    move the cursor. Returns (changes read, profiles queued)."""
    # The newest id is read first: ids commit in order (c360.changes.feed), so every change
    # up to it is visible now, and the cursor may pass it.
    high = last_change_id(conn)
    found = [c for c in changes_after(conn, destination.cursor, limit, FEED_KINDS) if c.id <= high]
    end = found[-1].id if len(found) == limit else high
    fields = {f"golden.{r.field}" for r in destination.rules}
    wanted: list[str] = []
    for change in found:
        if change.kind == ChangeKind.TRAIT_CHANGED and change.detail.get("trait") not in fields:
            continue
        wanted.append(change.profile_id)
    if end > destination.cursor:
        conn.execute(
            update(sync_destinations)
            .where(sync_destinations.c.id == destination.id)
            .values(cursor=end)
        )
    enqueue_profiles(conn, destination.id, wanted, system_clock())
    return len(found), len(set(wanted))


def enqueue_profiles(
    conn: Connection, destination_id: int, profile_ids: Iterable[str], now_us: int
) -> None:
    """Queue profiles to push; one already queued keeps its place (and its back-off)."""
    rows = [
        {
            "destination_id": destination_id,
            "profile_id": pid,
            "enqueued_at_us": now_us,
            "attempts": 0,
            "next_attempt_us": None,
            "failing_since_us": None,
            "last_error": None,
        }
        for pid in sorted(set(profile_ids))
    ]
    if rows:
        conn.execute(insert_ignoring_duplicates(conn, sync_queue), rows)


def due_items(conn: Connection, destination_id: int, now_us: int, limit: int) -> list[QueueItem]:
    return [
        QueueItem(
            r.destination_id,
            r.profile_id,
            r.enqueued_at_us,
            r.attempts,
            r.next_attempt_us,
            r.failing_since_us,
            r.last_error,
        )
        for r in conn.execute(queries.due_items(destination_id, now_us, limit))
    ]


def finish_item(conn: Connection, item: QueueItem) -> None:
    """The profile is pushed (or there was nothing to push)."""
    conn.execute(delete(sync_queue).where(queries.queue_item(item.destination_id, item.profile_id)))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed pushes are retried: the webhook deliverer's back-off (1 s doubling up to
    10 min, jittered, never before a Retry-After) for a window, then dead letters."""

    window_s: float = DEFAULT_RETRY_WINDOW_S
    base_delay_s: float = DEFAULT_BASE_DELAY_S
    max_delay_s: float = DEFAULT_MAX_DELAY_S

    def next_attempt_us(
        self,
        attempts: int,
        now_us: int,
        since_us: int,
        retry_after_s: float | None,
        rng: random.Random,
    ) -> int:
        delay_us = int(backoff_s(attempts, self.base_delay_s, self.max_delay_s, rng) * 1e6)
        floor_us = int(min(retry_after_s, MAX_RETRY_AFTER_S) * 1e6) if retry_after_s else 0
        window_end_us = since_us + int(self.window_s * 1e6)
        return max(min(now_us + delay_us, window_end_us), now_us + floor_us, now_us + 1)

    def exhausted(self, since_us: int, now_us: int) -> bool:
        return now_us - since_us >= self.window_s * 1e6


def retry_item(
    conn: Connection,
    destination: Destination,
    item: QueueItem,
    error: str,
    *,
    now_us: int,
    since_us: int,
    next_attempt_us: int,
) -> None:
    """The push failed and will be tried again; the app is taken to be down, so the whole
    destination waits as long (a pass stops at the first such failure)."""
    attempts = item.attempts + 1
    conn.execute(
        update(sync_queue)
        .where(queries.queue_item(item.destination_id, item.profile_id))
        .values(
            attempts=attempts,
            next_attempt_us=next_attempt_us,
            failing_since_us=since_us,
            last_error=error,
        )
    )
    conn.execute(
        update(sync_destinations)
        .where(sync_destinations.c.id == destination.id)
        .values(
            attempts=destination.attempts + 1,
            next_attempt_us=next_attempt_us,
            failing_since_us=destination.failing_since_us or now_us,
            last_error=error,
        )
    )


def record_push_success(conn: Connection, destination: Destination) -> None:
    if destination.attempts or destination.next_attempt_us or destination.last_error:
        conn.execute(
            update(sync_destinations)
            .where(sync_destinations.c.id == destination.id)
            .values(attempts=0, next_attempt_us=None, failing_since_us=None, last_error=None)
        )


def dead_letter(
    conn: Connection,
    destination_id: int,
    profile_id: str,
    app_key: str | None,
    attempts: int,
    error: str,
    now_us: int,
) -> None:
    log.error(
        "sync destination %d: gave up pushing profile %s after %d attempts; see "
        "c360 sync dead-letters",
        destination_id,
        profile_id,
        attempts,
    )
    conn.execute(
        insert(sync_dead_letters).values(
            destination_id=destination_id,
            profile_id=profile_id,
            app_key=app_key,
            attempts=attempts,
            error=error,
            at_us=now_us,
        )
    )


def dead_letters(conn: Connection, name: str) -> list[DeadLetter]:
    destination = get_destination(conn, name)
    return [
        DeadLetter(r.id, r.destination_id, r.profile_id, r.app_key, r.attempts, r.error, r.at_us)
        for r in conn.execute(queries.dead_letters(destination.id))
    ]


def redrive(conn: Connection, name: str, ids: Sequence[int] | None = None) -> int:
    """Queue the destination's dead letters (or those with ``ids``) to be pushed again; the
    push sends each profile's golden record as it is now. Returns how many were queued."""
    destination = get_destination(conn, name)
    if not destination.enabled:
        raise InvalidInput(f"sync destination {name!r} was removed; add it again to push to it")
    letters = conn.execute(queries.dead_letters(destination.id, list(ids or []))).all()
    if ids:
        missing = sorted(set(ids) - {r.id for r in letters})
        if missing:
            raise NotFound(f"sync destination {name!r} has no dead letter {missing[0]}")
    if not letters:
        return 0
    conn.execute(
        delete(sync_dead_letters).where(sync_dead_letters.c.id.in_([r.id for r in letters]))
    )
    enqueue_profiles(conn, destination.id, [r.profile_id for r in letters], system_clock())
    # The operator says the app is back: the letters get a full retry window again.
    conn.execute(
        update(sync_destinations)
        .where(sync_destinations.c.id == destination.id)
        .values(attempts=0, next_attempt_us=None, failing_since_us=None)
    )
    return len(letters)


# --- profiles, rows and what c360 knows of them ------------------------------------------


@dataclass(frozen=True, slots=True)
class PushContext:
    """A profile as a push needs it: its golden record and its rows in the app."""

    profile_id: str
    golden: dict[str, Any] | None
    keys: list[str]
    """The app's keys of the profile's records (the crosswalk), then rows c360 created for it
    that have not come back as records yet."""
    states: dict[str, SyncState]
    created: frozenset[str] = frozenset()
    """The keys of ``keys`` that are not (yet) the app's records in the crosswalk."""


@dataclass(frozen=True, slots=True)
class Withheld:
    """A profile that may not be pushed now, and why (left out, counted)."""

    reason: str


def push_context(
    conn: Connection, destination: Destination, profile_id: str
) -> PushContext | Withheld | str | None:
    """The profile to push; the survivor's id when it was merged away (push that one
    instead); None when it is gone; Withheld when the person's processing is restricted or
    they lack the destination's consent purpose (checked now, at the moment of use)."""
    row = conn.execute(queries.profile_row(profile_id)).first()
    if row is None:
        return None
    if row.merged_into is not None:
        return str(row.merged_into)
    if restricted(conn, [profile_id]):
        return Withheld(RESTRICTED_REASON)
    purpose = destination.config.get("consent_purpose")
    if purpose:
        view = conn.execute(
            select(profiles.c.attributes).where(profiles.c.id == profile_id)
        ).scalar_one_or_none()
        if not permits(view, purpose):
            return Withheld(f"no consent to {purpose}")
    keys = list(
        conn.execute(
            queries.crosswalk_keys(destination.source_id, profile_id, destination.record_kind)
        ).scalars()
    )
    created = conn.execute(
        queries.created_keys(destination.id, destination.source_id, profile_id)
    ).scalars()
    extra = [k for k in created if k not in keys]
    keys += extra
    golden = dict(row.golden) if row.golden else None
    states = load_states(conn, destination.id, keys)
    return PushContext(profile_id, golden, keys, states, frozenset(extra))


def load_states(conn: Connection, destination_id: int, keys: Sequence[str]) -> dict[str, SyncState]:
    if not keys:
        return {}
    rows = conn.execute(
        queries.state_rows(destination_id).where(key_in(conn, sync_state.c.app_key, list(keys)))
    )
    return {
        r.app_key: SyncState(
            app_key=r.app_key,
            profile_id=r.profile_id,
            seen_hash=r.seen_hash,
            app_values=dict(r.app_values or {}),
            pushed=dict(r.pushed or {}),
            app_changed_at={k: int(v) for k, v in (r.app_changed_at or {}).items()},
            version=r.version,
            pushed_at_us=r.pushed_at_us,
        )
        for r in rows
    }


def save_states(
    conn: Connection, destination_id: int, states: Iterable[SyncState], now_us: int
) -> None:
    upsert_many(
        conn,
        sync_state,
        [
            {
                "destination_id": destination_id,
                "app_key": s.app_key,
                "profile_id": s.profile_id,
                "seen_hash": s.seen_hash,
                "app_values": _json_ready(s.app_values),
                "pushed": _json_ready(s.pushed),
                "app_changed_at": s.app_changed_at,
                "version": s.version,
                "pushed_at_us": s.pushed_at_us,
                "updated_at_us": now_us,
            }
            for s in states
        ],
    )


def _json_ready(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if v is None or isinstance(v, str | int | float | bool | dict | list) else str(v)
        for k, v in values.items()
    }


def record_conflicts(
    conn: Connection,
    destination_id: int,
    profile_id: str | None,
    notes: Iterable[ConflictNote],
    now_us: int,
) -> int:
    """Record disagreements, each once while it lasts (the same values again are not new)."""
    rows = []
    for note in notes:
        app_value, c360_value = _json_ready({"a": note.app_value, "c": note.c360_value}).values()
        last = conn.execute(
            queries.latest_conflict(destination_id, note.app_key, note.column)
        ).first()
        if last is not None and (last.app_value, last.c360_value, last.outcome) == (
            app_value,
            c360_value,
            note.outcome.value,
        ):
            continue
        rows.append(
            {
                "destination_id": destination_id,
                "app_key": note.app_key,
                "profile_id": profile_id,
                "column_name": note.column,
                "field": note.field,
                "app_value": app_value,
                "c360_value": c360_value,
                "outcome": note.outcome.value,
                "at_us": now_us,
            }
        )
    if rows:
        conn.execute(insert(sync_conflicts), rows)
    return len(rows)


def conflicts(conn: Connection, name: str, limit: int = 50) -> list[Conflict]:
    """The destination's most recent conflicts, newest first."""
    destination = get_destination(conn, name)
    return [
        Conflict(
            r.id,
            r.destination_id,
            r.app_key,
            r.profile_id,
            r.column_name,
            r.field,
            r.app_value,
            r.c360_value,
            r.outcome,
            r.at_us,
        )
        for r in conn.execute(queries.conflicts(destination.id, limit))
    ]


def profiles_of_keys(
    conn: Connection, destination: Destination, keys: Sequence[str]
) -> dict[str, str]:
    """The profile of each app key the crosswalk knows."""
    if not keys:
        return {}
    rows = conn.execute(
        select(identity_nodes.c.node_key, identity_nodes.c.profile_id).where(
            identity_nodes.c.source_id == destination.source_id,
            identity_nodes.c.node_type == NODE_RECORD,
            identity_nodes.c.profile_id.is_not(None),
            key_in(conn, identity_nodes.c.node_key, list(keys)),
        )
    )
    return {r.node_key: r.profile_id for r in rows}


def goldens_of_keys(
    conn: Connection, destination: Destination, keys: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The golden record of the profile of each app key the crosswalk knows."""
    owners = profiles_of_keys(conn, destination, keys)
    if not owners:
        return {}
    rows = conn.execute(
        select(profiles.c.id, profiles.c.golden).where(
            key_in(conn, profiles.c.id, sorted(set(owners.values())))
        )
    )
    goldens = {r.id: dict(r.golden) for r in rows if r.golden}
    return {key: goldens[pid] for key, pid in owners.items() if pid in goldens}


def record_pull(
    conn: Connection,
    destination: Destination,
    now_us: int,
    *,
    error: str | None = None,
    next_pull_us: int | None = None,
) -> None:
    """How reading the app back went: a failure waits ``next_pull_us``, a success clears it."""
    values: dict[str, Any] = (
        {"pulled_at_us": now_us, "pull_attempts": 0, "next_pull_us": None, "pull_error": None}
        if error is None
        else {
            "pull_attempts": destination.pull_attempts + 1,
            "next_pull_us": next_pull_us,
            "pull_error": error,
        }
    )
    conn.execute(
        update(sync_destinations).where(sync_destinations.c.id == destination.id).values(**values)
    )
