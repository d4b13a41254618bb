"""The change feed: every change to a profile as an ordered, durable record.

Changes are written in the transaction that makes them (the log processor's, a split's, the
time-passing refresh's), so a change is in the feed exactly when its effect is in the profile.
Ids only grow, and in commit order: every writer holds the log processor's checkpoint lock
(``get_checkpoint(..., lock=True)``), so no change with a lower id can commit after a consumer
has read past it. A consumer keeps the last id it has read and asks for what came after.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, insert, select

from c360.errors import InvalidInput
from c360.kernel.clock import isoformat_us, system_clock
from c360.storage.tables import profile_changes, worker_checkpoints


class ChangeKind(StrEnum):
    PROFILE_CREATED = "profile_created"
    TRAIT_CHANGED = "trait_changed"
    IDENTIFIER_ADDED = "identifier_added"
    IDENTIFIER_REMOVED = "identifier_removed"
    MERGED = "merged"
    SPLIT = "split"
    SEGMENT_ENTERED = "segment_entered"
    SEGMENT_EXITED = "segment_exited"
    FEEDBACK_RECEIVED = "feedback_received"
    FEEDBACK_STATUS_CHANGED = "feedback_status_changed"
    FEEDBACK_SLA_BREACHED = "feedback_sla_breached"
    PROFILE_ERASED = "profile_erased"
    """The person was erased on request: the change carries the profile id and nothing else,
    so a receiver that keeps copies deletes its own (``c360.compliance.erasure``)."""


KINDS = frozenset(k.value for k in ChangeKind)
KINDS_PATTERN = "^({k})(,({k}))*$".format(k="|".join(sorted(KINDS)))
"""A comma-separated list of kinds, as the API's ``kinds=`` takes it."""


@dataclass(frozen=True, slots=True)
class NewChange:
    profile_id: str
    kind: ChangeKind
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Change:
    id: int
    profile_id: str
    kind: str
    detail: dict[str, Any]
    seq: int
    at_us: int

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "profile_id": self.profile_id,
            "kind": self.kind,
            "detail": self.detail,
            "seq": self.seq,
            "at": isoformat_us(self.at_us),
        }


def parse_change_kinds(text: str | None) -> list[str] | None:
    """``"trait_changed,merged"`` as a list of kinds, or None for every kind."""
    if not text:
        return None
    kinds = sorted({k.strip() for k in text.split(",") if k.strip()})
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise InvalidInput(
            f"unknown change kind {unknown[0]!r}; kinds are {', '.join(sorted(KINDS))}"
        )
    return kinds


MUTED_CHECKPOINT = "changes_muted_until"
"""Log entries up to this seq are being replayed by ``c360 rebuild``: their effects were in the
feed already, so the replay records no changes for them."""


def muted_until(conn: Connection) -> int:
    value = conn.execute(
        select(worker_checkpoints.c.seq).where(worker_checkpoints.c.name == MUTED_CHECKPOINT)
    ).scalar_one_or_none()
    return int(value or 0)


def record_changes(
    conn: Connection, changes: Iterable[NewChange], seq: int, at_us: int | None = None
) -> int:
    """Append ``changes`` (in the order given) as made at log entry ``seq``; return how many."""
    at = system_clock() if at_us is None else at_us
    rows = [
        {
            "profile_id": c.profile_id,
            "kind": c.kind.value,
            "detail": c.detail,
            "seq": seq,
            "at_us": at,
        }
        for c in changes
    ]
    if rows:
        conn.execute(insert(profile_changes), rows)
    return len(rows)


def changes_after(
    conn: Connection,
    cursor: int,
    limit: int,
    kinds: Sequence[str] | None = None,
    profile_id: str | None = None,
) -> list[Change]:
    """Changes with an id above ``cursor``, oldest first, at most ``limit``."""
    query = select(
        profile_changes.c.id,
        profile_changes.c.profile_id,
        profile_changes.c.kind,
        profile_changes.c.detail,
        profile_changes.c.seq,
        profile_changes.c.at_us,
    ).where(profile_changes.c.id > cursor)
    if kinds:
        query = query.where(profile_changes.c.kind.in_(list(kinds)))
    if profile_id is not None:
        query = query.where(profile_changes.c.profile_id == profile_id)
    rows = conn.execute(query.order_by(profile_changes.c.id).limit(limit))
    return [Change(r.id, r.profile_id, r.kind, dict(r.detail), r.seq, r.at_us) for r in rows]


def last_change_id(conn: Connection) -> int:
    return int(conn.execute(select(func.max(profile_changes.c.id))).scalar_one() or 0)
