"""The audit log: who read, exported or changed what, and when.

Append-only twice over: the database refuses UPDATE, DELETE (and, on PostgreSQL, TRUNCATE) of
``audit_log``, and each row carries a SHA-256 hash over its own content and the previous row's
hash, so a row changed or removed behind the database's back breaks the chain at that row
(:func:`verify_chain`).
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, select

from c360.kernel.clock import system_clock
from c360.storage.tables import audit_log

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


def row_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The hash of one row: the previous row's hash and the row's content, canonically encoded."""
    body = orjson.dumps(dict(fields), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + body).hexdigest()


def _hashed_fields(row: Mapping[str, Any]) -> dict[str, Any]:
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
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(AUDIT_LOCK)))
    last = conn.execute(
        select(audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
    ).scalar_one_or_none()
    prev = last or GENESIS
    fields = {
        "at_us": at_us if at_us is not None else system_clock(),
        "actor": actor.name,
        "role": actor.role,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "detail": dict(detail or {}),
        "client": actor.client,
    }
    values = {**fields, "prev_hash": prev, "hash": row_hash(prev, fields)}
    return int(
        conn.execute(insert(audit_log).values(values).returning(audit_log.c.id)).scalar_one()
    )


@dataclass(frozen=True, slots=True)
class ChainCheck:
    rows: int
    broken_at: int | None  # the id of the first row whose hash does not verify
    reason: str | None

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
            return ChainCheck(count, None, None)
        for row in rows:
            if row["prev_hash"] != prev:
                return ChainCheck(count, row["id"], "the previous row is missing or was changed")
            if row_hash(prev, _hashed_fields(row)) != row["hash"]:
                return ChainCheck(count, row["id"], "the row's content was changed")
            prev = row["hash"]
            count += 1
        after = rows[-1]["id"]
