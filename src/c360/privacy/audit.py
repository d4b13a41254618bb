"""The audit log: who read, exported or changed what, when, from where, and with what outcome.

Append-only twice over: the database refuses UPDATE, DELETE (and, on PostgreSQL, TRUNCATE) of
``audit_log``, and each row carries a SHA-256 hash over its own content and the previous row's
hash, so a row changed or removed behind the database's back breaks the chain at that row
(:func:`verify_chain`).

Entries are written in the caller's transaction (:func:`record`, for changes that must not
happen without their entry) or through an :class:`AuditBuffer` (the management API's reads,
where a commit per read would cost more than the read itself): a background thread appends them
in batches, each batch one transaction, and :meth:`AuditBuffer.close` writes what is left.
"""

import getpass
import hashlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, func, insert, or_, select

from c360.kernel.clock import isoformat_us, system_clock
from c360.storage.tables import audit_log

log = logging.getLogger(__name__)

GENESIS = "0" * 64
AUDIT_LOCK = 3600011
"""PostgreSQL advisory lock that serialises appends, so each row chains to the one before."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does something: ``name`` as written to the log ("key:12 ops", "user:alice",
    "cli:root", "system"), with the role it acted under and where it came from."""

    name: str
    role: str | None = None
    client: str | None = None


SYSTEM = Actor("system")


def cli_actor() -> Actor:
    """The operator running a ``c360`` command: ``cli:<os user>`` (the uid when the system
    has no name for it, as in some containers)."""
    try:
        user = getpass.getuser()
    except Exception:  # no USER/LOGNAME and no passwd entry
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return Actor(f"cli:{user}", role="operator", client="cli")


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry waiting to be appended (see :func:`record` for the fields' meaning)."""

    actor: Actor
    action: str
    object_type: str | None = None
    object_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    at_us: int = field(default_factory=system_clock)


def row_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The hash of one row: the previous row's hash and the row's content, canonically encoded."""
    body = orjson.dumps(dict(fields), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + body).hexdigest()


def _hashed_fields(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "at_us": row["at_us"],
        "actor": row["actor"],
        "role": row["role"],
        "action": row["action"],
        "object_type": row["object_type"],
        "object_id": row["object_id"],
        "detail": row["detail"],
        "client": row["client"],
    }


def _fields(entry: Entry) -> dict[str, Any]:
    return {
        "at_us": entry.at_us,
        "actor": entry.actor.name[:500],
        "role": entry.actor.role[:20] if entry.actor.role else None,
        "action": entry.action[:60],
        "object_type": entry.object_type[:40] if entry.object_type else None,
        "object_id": entry.object_id,
        # through JSON once, so the hash covers exactly what the database will hand back
        "detail": orjson.loads(orjson.dumps(dict(entry.detail))),
        "client": entry.actor.client,
    }


def record_many(conn: Connection, entries: Sequence[Entry]) -> list[int]:
    """Append ``entries`` in order in the caller's transaction, chained; returns their ids."""
    if not entries:
        return []
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(AUDIT_LOCK)))
    # on SQLite the writer's BEGIN IMMEDIATE already holds the database's one write lock
    last = conn.execute(
        select(audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
    ).scalar_one_or_none()
    prev = last or GENESIS
    rows = []
    for entry in entries:
        fields = _fields(entry)
        digest = row_hash(prev, fields)
        rows.append({**fields, "prev_hash": prev, "hash": digest})
        prev = digest
    if len(rows) == 1:
        return [
            int(
                conn.execute(
                    insert(audit_log).values(rows[0]).returning(audit_log.c.id)
                ).scalar_one()
            )
        ]
    conn.execute(insert(audit_log), rows)  # one statement, many rows: a batch costs one round trip
    return list(
        conn.execute(
            select(audit_log.c.id).order_by(audit_log.c.id.desc()).limit(len(rows))
        ).scalars()
    )[::-1]


def record(
    conn: Connection,
    actor: Actor,
    action: str,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
    at_us: int | None = None,
) -> int:
    """Append one entry in the caller's transaction; returns its id.

    ``action`` is a dotted verb (``profile.read``, ``segment.export``, ``consent.change``,
    ``identity.split``, ``privacy.erase``...). ``detail`` must not repeat personal data the
    object id already points to: the log outlives an erasure.
    """
    entry = Entry(
        actor,
        action,
        object_type,
        object_id,
        detail or {},
        at_us if at_us is not None else system_clock(),
    )
    return record_many(conn, [entry])[0]


def record_operator(
    conn: Connection,
    action: str,
    object_type: str | None = None,
    object_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Append one entry by the operator running a command (:func:`cli_actor`) in the
    command's own transaction, so the change and its entry commit together."""
    return record(
        conn, cli_actor(), action, object_type=object_type, object_id=object_id, detail=detail
    )


def record_cli(
    engine: Engine,
    action: str,
    object_type: str | None = None,
    object_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Append one entry by the operator running a command (:func:`cli_actor`), in a
    transaction of its own: for commands whose work is not one transaction (rebuild)."""
    with engine.begin() as conn:
        return record(
            conn, cli_actor(), action, object_type=object_type, object_id=object_id, detail=detail
        )


@dataclass(frozen=True, slots=True)
class ChainCheck:
    rows: int
    broken_at: int | None  # the id of the first row whose hash does not verify
    reason: str | None
    head: str = GENESIS  # the last verified row's hash: keep it elsewhere to detect truncation

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(conn: Connection, *, batch: int = 5000) -> ChainCheck:
    """Recompute every row's hash in order; the first row that does not verify is named."""
    prev = GENESIS
    count = 0
    after = 0
    while True:
        rows = (
            conn.execute(
                select(audit_log)
                .where(audit_log.c.id > after)
                .order_by(audit_log.c.id)
                .limit(batch)
            )
            .mappings()
            .all()
        )
        if not rows:
            return ChainCheck(count, None, None, prev)
        for row in rows:
            if row["prev_hash"] != prev:
                return ChainCheck(
                    count, row["id"], "the previous row is missing or was changed", prev
                )
            if row_hash(prev, _hashed_fields(row)) != row["hash"]:
                return ChainCheck(count, row["id"], "the row's content was changed", prev)
            prev = row["hash"]
            count += 1
        after = rows[-1]["id"]


# --- queries ---


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of :func:`list_entries`; ``None`` means any.

    ``actor`` matches the whole name or its first word ("key:12" finds "key:12 ops-admin");
    ``action`` matches exactly, or every action starting with it when it ends in ``.`` or
    ``*`` ("segment.*"); times are epoch microseconds, ``until_us`` exclusive (an empty or
    inverted period matches nothing)."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since_us: int | None = None
    until_us: int | None = None


def _conditions(query: AuditQuery) -> list[Any]:
    where: list[Any] = []
    if query.actor:
        where.append(
            or_(
                audit_log.c.actor == query.actor,
                audit_log.c.actor.startswith(query.actor + " ", autoescape=True),
            )
        )
    if query.action:
        if query.action.endswith(("*", ".")):
            where.append(audit_log.c.action.startswith(query.action.rstrip("*"), autoescape=True))
        else:
            where.append(audit_log.c.action == query.action)
    if query.object_type:
        where.append(audit_log.c.object_type == query.object_type)
    if query.object_id:
        where.append(audit_log.c.object_id == query.object_id)
    if query.since_us is not None:
        where.append(audit_log.c.at_us >= query.since_us)
    if query.until_us is not None:
        where.append(audit_log.c.at_us < query.until_us)
    return where


def list_entries(
    conn: Connection, query: AuditQuery, *, before_id: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Matching entries, newest first, from ``before_id`` (exclusive) down."""
    where = _conditions(query)
    if before_id is not None:
        where.append(audit_log.c.id < before_id)
    rows = conn.execute(
        select(audit_log).where(*where).order_by(audit_log.c.id.desc()).limit(limit)
    ).mappings()
    return [as_json(row) for row in rows]


def iter_entries(conn: Connection, query: AuditQuery, *, batch: int = 5000) -> Any:
    """Every matching entry, oldest first, read in batches (for reports over long periods)."""
    where = _conditions(query)
    after = 0
    while True:
        rows = (
            conn.execute(
                select(audit_log)
                .where(audit_log.c.id > after, *where)
                .order_by(audit_log.c.id)
                .limit(batch)
            )
            .mappings()
            .all()
        )
        if not rows:
            return
        yield from rows
        after = rows[-1]["id"]


def as_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    """An entry as the API and ``c360 audit list --json`` show it."""
    return {
        "id": int(row["id"]),
        "at": isoformat_us(int(row["at_us"])),
        "actor": row["actor"],
        "role": row["role"],
        "action": row["action"],
        "object_type": row["object_type"],
        "object_id": row["object_id"],
        "client": row["client"],
        "detail": row["detail"],
    }


# --- buffered appends ---


class AuditBuffer:
    """Appends entries from a background thread, in batches.

    A read through the API costs well under a millisecond to note here, where a commit of its
    own would cost a disk flush. The price is a window: entries noted in the last
    ``flush_interval_s`` (plus a batch being written) are lost if the process is killed;
    :meth:`close` (called on a clean shutdown) and :meth:`flush` write everything. When the
    store refuses a batch, it is kept and retried; up to ``max_pending`` entries are held,
    beyond that the oldest are dropped and the loss itself is appended as ``audit.lost``."""

    def __init__(
        self,
        engine: Engine,
        *,
        flush_interval_s: float = 0.05,
        max_batch: int = 500,
        max_pending: int = 100_000,
    ) -> None:
        self.engine = engine
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self.max_pending = max_pending
        self._pending: deque[Entry] = deque()
        self._noted = 0  # entries added
        self._settled = 0  # entries written or dropped
        self._dropped = 0  # dropped and not yet reported as audit.lost
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, entry: Entry) -> None:
        """Queue one entry (starts the writer thread on first use)."""
        with self._cond:
            if self._closed:
                self._write_now([entry])  # after close nobody else would write it
                return
            if len(self._pending) >= self.max_pending:
                self._pending.popleft()
                self._dropped += 1
                self._settled += 1
            self._pending.append(entry)
            self._noted += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-log", daemon=True)
                self._thread.start()
            if len(self._pending) >= self.max_batch:
                self._cond.notify_all()

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything added so far is written; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            target = self._noted
            while self._settled < target:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None:
                    return False
                self._cond.notify_all()
                self._cond.wait(min(left, 0.05))
        return True

    def close(self, timeout_s: float = 30.0) -> None:
        """Write what is pending and stop the thread (a clean shutdown loses nothing)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        with self._cond:
            rest = list(self._pending)
            self._pending.clear()
        if rest:  # the thread gave up (store down) or did not finish in time
            self._write_now(rest)

    def reopen(self) -> None:
        """Take entries through the thread again after :meth:`close` (a server started
        again in the same process)."""
        with self._cond:
            self._closed = False
            self._thread = None

    def _write_now(self, entries: list[Entry]) -> None:
        with self.engine.begin() as conn:
            record_many(conn, entries)

    def _run(self) -> None:
        failures = 0
        while True:
            with self._cond:
                if not self._pending and not self._closed:
                    self._cond.wait(self.flush_interval_s)
                if not self._pending:
                    if self._closed:
                        return
                    continue
                batch = [
                    self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))
                ]
                dropped, self._dropped = self._dropped, 0
            entries = list(batch)
            if dropped:
                lost = {"entries": dropped, "reason": "more entries waiting than max_pending"}
                entries.append(Entry(SYSTEM, "audit.lost", detail=lost))
            try:
                self._write_now(entries)
            except Exception:
                failures += 1
                log.exception("could not append %d audit entries; retrying", len(batch))
                with self._cond:
                    self._pending.extendleft(reversed(batch))
                    self._dropped += dropped
                    if self._closed and failures >= 3:
                        return  # close() tries once more and raises if the store is down
                time.sleep(min(5.0, 0.1 * 2**failures))
                continue
            failures = 0
            with self._cond:
                self._settled += len(batch)
                self._cond.notify_all()
