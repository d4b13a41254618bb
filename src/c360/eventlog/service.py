"""Use cases on the log: append, read in order, look up, checkpoints, sources."""

from collections.abc import Sequence

from sqlalchemy import Connection, func, insert, select, update

from c360.errors import InvalidInput, NotFound
from c360.eventlog.model import LogRow, RejectRow, Source, StoredEvent
from c360.kernel.clock import system_clock
from c360.storage.dialect import (
    LOG_LOCK_KEY,
    insert_ignoring_duplicates,
    insert_many_ignoring_duplicates,
)
from c360.storage.sealing import event_facts, sealing_on
from c360.storage.tables import event_log, rejects, sources, worker_checkpoints

SOURCE_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")

STORED_COLUMNS = tuple(c for c in event_log.c if c.name != "facts")
"""The columns of a :class:`StoredEvent`, in its order (not the facts kept for segments)."""


def append(conn: Connection, rows: Sequence[LogRow], quarantined: Sequence[RejectRow]) -> None:
    """Append accepted rows (a repeated (source, message id) is ignored) and quarantined items.
    With encryption at rest on, each row's payload is sealed and its facts (name and
    properties) kept beside it in clear (:func:`c360.storage.sealing.event_facts`)."""
    sealing = sealing_on()
    for row in rows:
        row["facts"] = event_facts(row["type"], row["payload"]) if sealing else None
    insert_many_ignoring_duplicates(conn, event_log, rows, lock_key=LOG_LOCK_KEY)
    if quarantined:
        # One statement per shape: items from the tracking API carry no stage or origin.
        with_origin = [q for q in quarantined if "stage" in q]
        without = [q for q in quarantined if "stage" not in q]
        for group in (with_origin, without):
            if group:
                conn.execute(insert(rejects), group)


def quarantine_entry(conn: Connection, event: StoredEvent, reason: str, detail: str) -> None:
    """Record that an accepted log entry could not be processed (it stays in the log)."""
    conn.execute(
        insert(rejects).values(
            source_id=event.source_id,
            received_at_us=event.received_at_us,
            reason=reason,
            detail=detail,
            message_id=event.message_id,
            payload=event.payload.encode("utf-8"),
            stage="processing",
            origin=f"log entry {event.seq}",
        )
    )


def read_after(conn: Connection, seq: int, limit: int) -> list[StoredEvent]:
    """Up to ``limit`` log entries after ``seq``, in log order."""
    result = conn.execute(
        select(*STORED_COLUMNS).where(event_log.c.seq > seq).order_by(event_log.c.seq).limit(limit)
    )
    return [StoredEvent(*row) for row in result.all()]


def last_seq(conn: Connection) -> int:
    """The newest log position (0 for an empty log)."""
    return int(conn.execute(select(func.coalesce(func.max(event_log.c.seq), 0))).scalar_one())


def find_message(conn: Connection, message_id: str) -> list[StoredEvent]:
    """Every log entry with this message id (one per source that sent it)."""
    result = conn.execute(
        select(*STORED_COLUMNS)
        .where(event_log.c.message_id == message_id)
        .order_by(event_log.c.seq)
    )
    return [StoredEvent(*row) for row in result]


PROFILES_CHECKPOINT = "profiles"
"""The log processor's checkpoint; every writer of the change feed holds its lock."""


def get_checkpoint(conn: Connection, name: str, *, lock: bool = False) -> int:
    """How far the consumer ``name`` has processed the log.

    With ``lock``, the checkpoint row stays locked until the transaction ends, so two workers
    of the same consumer never apply the same entries (SQLite's one writer gives the same).
    """
    query = select(worker_checkpoints.c.seq).where(worker_checkpoints.c.name == name)
    if lock:
        conn.execute(
            insert_ignoring_duplicates(conn, worker_checkpoints),
            {"name": name, "seq": 0, "updated_at_us": system_clock()},
        )
        query = query.with_for_update()
    seq = conn.execute(query).scalar_one_or_none()
    return int(seq or 0)


def set_checkpoint(conn: Connection, name: str, seq: int) -> None:
    """Record progress of ``name``; call in the transaction that applied the entries."""
    now = system_clock()
    changed = conn.execute(
        update(worker_checkpoints)
        .where(worker_checkpoints.c.name == name)
        .values(seq=seq, updated_at_us=now)
    ).rowcount
    if not changed:
        conn.execute(insert(worker_checkpoints).values(name=name, seq=seq, updated_at_us=now))


def validate_source_name(name: str) -> str:
    """A source name is lower-case letters, digits and ``-_.``; 1 to 100 characters."""
    if not name or len(name) > 100 or not set(name) <= SOURCE_NAME_CHARS:
        raise InvalidInput(
            f"source name {name!r} is not valid: use 1-100 lower-case letters, digits, '-', "
            "'_' or '.'"
        )
    return name


def ensure_source(conn: Connection, name: str) -> Source:
    """The source called ``name``, created if new."""
    validate_source_name(name)
    found = get_source_by_name(conn, name)
    if found is not None:
        return found
    conn.execute(insert(sources).values(name=name, created_at_us=system_clock()))
    created = get_source_by_name(conn, name)
    assert created is not None
    return created


def get_source_by_name(conn: Connection, name: str) -> Source | None:
    row = conn.execute(
        select(sources.c.id, sources.c.name, sources.c.rate_limit_per_s).where(
            sources.c.name == name
        )
    ).first()
    return Source(*row) if row else None


def list_sources(conn: Connection) -> list[Source]:
    rows = conn.execute(
        select(sources.c.id, sources.c.name, sources.c.rate_limit_per_s).order_by(sources.c.name)
    )
    return [Source(*row) for row in rows]


def set_rate_limit(conn: Connection, name: str, per_s: float | None) -> Source:
    """Set (or clear, with None) how many messages per second the source may send."""
    if per_s is not None and per_s <= 0:
        raise InvalidInput("a rate limit must be a positive number of messages per second")
    source = ensure_source(conn, name)
    conn.execute(update(sources).where(sources.c.id == source.id).values(rate_limit_per_s=per_s))
    return Source(source.id, source.name, per_s)


def find_rejects(conn: Connection, message_id: str) -> list[dict[str, object]]:
    """Quarantined items that carried this message id."""
    rows = conn.execute(
        select(*rejects.c).where(rejects.c.message_id == message_id).order_by(rejects.c.id)
    ).mappings()
    return [dict(row) for row in rows]


def list_quarantine(
    conn: Connection,
    *,
    source_id: int | None = None,
    reason: str | None = None,
    include_resolved: bool = False,
    limit: int = 50,
    before_id: int | None = None,
) -> list[dict[str, object]]:
    """Quarantined items, newest first (paged by ``id``), optionally of one source or reason;
    items a retry brought in only with ``include_resolved``."""
    query = select(*rejects.c)
    if before_id is not None:
        query = query.where(rejects.c.id < before_id)
    if source_id is not None:
        query = query.where(rejects.c.source_id == source_id)
    if reason is not None:
        query = query.where(rejects.c.reason == reason)
    if not include_resolved:
        query = query.where(rejects.c.resolved_at_us.is_(None))
    rows = conn.execute(query.order_by(rejects.c.id.desc()).limit(limit)).mappings()
    return [dict(row) for row in rows]


def get_reject(conn: Connection, reject_id: int) -> dict[str, object]:
    row = conn.execute(select(*rejects.c).where(rejects.c.id == reject_id)).mappings().first()
    if row is None:
        raise NotFound(f"no quarantined item {reject_id}")
    return dict(row)
