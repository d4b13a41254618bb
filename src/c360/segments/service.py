"""Saved segments: create, change, delete, preview and list members.

A segment's membership is computed in one batch by the SQL compiler when it is saved (the
members enter with ``segment_entered`` changes), and from then on kept current one profile
at a time by :mod:`c360.segments.membership` as profiles refresh and time passes. Every writer
holds the log processor's checkpoint lock, as the change feed requires.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from c360.changes.feed import ChangeKind, NewChange, record_changes
from c360.errors import Conflict, InvalidInput, NotFound
from c360.eventlog.service import PROFILES_CHECKPOINT, get_checkpoint
from c360.kernel.clock import isoformat_us, system_clock
from c360.privacy.purposes import check_purpose
from c360.segments import language as L
from c360.segments.evaluate import Moment
from c360.segments.membership import dependency_order, load_segments, zone
from c360.segments.sql import count_members, member_ids
from c360.storage.dialect import key_in
from c360.storage.tables import profiles, segment_members, segments

_NAME = re.compile(r"^[\w][\w .:-]{0,99}$")
_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class Segment:
    id: int
    name: str
    condition: Any
    text: str
    timezone: str
    description: str | None
    version: int
    created_at_us: int
    updated_at_us: int
    members: int

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "condition": self.text,
            "condition_json": L.to_json(self.condition),
            "timezone": self.timezone,
            "description": self.description,
            "version": self.version,
            "members": self.members,
            "created_at": isoformat_us(self.created_at_us),
            "updated_at": isoformat_us(self.updated_at_us),
        }


def read_condition(text: str | None = None, json_form: Any = None) -> Any:
    """A condition from its text or its JSON form (exactly one of them)."""
    if (text is None) == (json_form is None):
        raise InvalidInput("give the condition as text or as JSON (one of them)")
    return L.parse(text) if text is not None else L.from_json(json_form)


def check_name(name: str) -> str:
    # combining marks (Thai vowel signs and tone marks, decomposed Vietnamese accents) are
    # parts of letters, which \w alone does not match
    plain = "".join(c for c in name if not unicodedata.category(c).startswith("M"))
    if not _NAME.match(plain) or len(name) > 100 or plain[:1] != name[:1]:
        raise InvalidInput(
            f"segment name {name!r} is not allowed: 1-100 letters, digits, spaces and _ . : -, "
            "starting with a letter or digit"
        )
    return name


def _check_storable(condition: Any) -> None:
    """Texts the stores cannot hold: NUL (PostgreSQL) and lone surrogates (both)."""
    for value in _texts(L.to_json(condition)):
        if "\x00" in value:
            raise InvalidInput("a condition to save may not hold a NUL character (\\u0000)")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(
                f"a condition to save may not hold a lone surrogate ({value!r})"
            ) from None


def _texts(data: Any) -> Iterator[str]:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _check_uses(conn: Connection, name: str, condition: Any) -> None:
    deps = {row.name: L.segments_named(row.condition) for row in load_segments(conn)}
    deps[name] = L.segments_named(condition)
    dependency_order(deps)


def check_purposes(condition: Any) -> None:
    """Refuse a condition asking about a consent purpose that is not configured (a typo
    would otherwise hold nobody, silently)."""
    for purpose in sorted(L.purposes_named(condition)):
        check_purpose(purpose, "consented to")


def create_segment(
    conn: Connection,
    name: str,
    condition: Any,
    *,
    timezone: str = "UTC",
    description: str | None = None,
    now_us: int | None = None,
) -> Segment:
    """Save a segment and compute its members (they enter the change feed)."""
    check_name(name)
    zone(timezone)
    now = system_clock() if now_us is None else now_us
    seq = get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)
    if conn.execute(select(segments.c.id).where(segments.c.name == name)).first():
        raise Conflict(f"a segment named {name!r} exists: change it, or delete it first")
    _check_storable(condition)
    check_purposes(condition)
    _check_uses(conn, name, condition)
    segment_id = conn.execute(
        insert(segments)
        .values(
            name=name,
            condition=L.to_json(condition),
            text=L.to_text(condition),
            timezone=timezone,
            description=description,
            version=1,
            created_at_us=now,
            updated_at_us=now,
        )
        .returning(segments.c.id)
    ).scalar_one()
    _recompute(conn, segment_id, name, condition, timezone, seq, now)
    return get_segment(conn, name)


def update_segment(
    conn: Connection,
    name: str,
    *,
    condition: Any = None,
    timezone: str | None = None,
    description: str | None = None,
    now_us: int | None = None,
) -> Segment:
    """Change a segment's condition, time zone or description; members are recomputed and
    whoever enters or leaves is in the change feed."""
    now = system_clock() if now_us is None else now_us
    seq = get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)
    old = get_segment(conn, name)
    if condition is not None:
        check_purposes(condition)
    condition = old.condition if condition is None else condition
    timezone = old.timezone if timezone is None else timezone
    zone(timezone)
    _check_storable(condition)
    _check_uses(conn, name, condition)
    conn.execute(
        update(segments)
        .where(segments.c.id == old.id)
        .values(
            condition=L.to_json(condition),
            text=L.to_text(condition),
            timezone=timezone,
            description=old.description if description is None else description,
            version=old.version + 1,
            updated_at_us=now,
        )
    )
    _recompute(conn, old.id, name, condition, timezone, seq, now)
    # segments using this one (directly or through others) follow, in dependency order
    changed = {name}
    for user in load_segments(conn):
        if L.segments_named(user.condition) & changed:
            changed.add(user.name)
            _recompute(conn, user.id, user.name, user.condition, user.tz.key, seq, now)
    return get_segment(conn, name)


def delete_segment(conn: Connection, name: str, *, now_us: int | None = None) -> int:
    """Delete a segment; its members leave (``segment_exited``). Refused while another segment
    uses it. Returns how many members it had."""
    now = system_clock() if now_us is None else now_us
    seq = get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)
    segment = get_segment(conn, name)
    users = sorted(s.name for s in load_segments(conn) if name in L.segments_named(s.condition))
    if users:
        raise Conflict(
            f"segment {name!r} is used by {', '.join(users)}: change or delete those first"
        )
    members = list(
        conn.execute(
            select(segment_members.c.profile_id)
            .where(segment_members.c.segment_id == segment.id)
            .order_by(segment_members.c.profile_id)
        ).scalars()
    )
    detail = {"segment": name, "segment_id": segment.id, "reason": "segment deleted"}
    record_changes(
        conn, (NewChange(pid, ChangeKind.SEGMENT_EXITED, detail) for pid in members), seq, now
    )
    conn.execute(delete(segment_members).where(segment_members.c.segment_id == segment.id))
    conn.execute(delete(segments).where(segments.c.id == segment.id))
    return len(members)


def _recompute(
    conn: Connection,
    segment_id: int,
    name: str,
    condition: Any,
    timezone: str,
    seq: int,
    now: int,
) -> None:
    """Members by the SQL compiler; whoever changed enters or leaves. Profiles whose answer
    can change with time alone are then due, so the worker finds their next boundary."""
    found = set(member_ids(conn, condition, Moment(now, zone(timezone))))
    before = set(
        conn.execute(
            select(segment_members.c.profile_id).where(segment_members.c.segment_id == segment_id)
        ).scalars()
    )
    entering = sorted(found - before)
    leaving = sorted(before - found)
    detail = {"segment": name, "segment_id": segment_id}
    for start in range(0, len(entering), _CHUNK):
        part = entering[start : start + _CHUNK]
        conn.execute(
            insert(segment_members),
            [{"segment_id": segment_id, "profile_id": p, "entered_at_us": now} for p in part],
        )
        record_changes(
            conn, (NewChange(p, ChangeKind.SEGMENT_ENTERED, detail) for p in part), seq, now
        )
    for start in range(0, len(leaving), _CHUNK):
        part = leaving[start : start + _CHUNK]
        conn.execute(
            delete(segment_members).where(
                segment_members.c.segment_id == segment_id,
                key_in(conn, segment_members.c.profile_id, part),
            )
        )
        record_changes(
            conn, (NewChange(p, ChangeKind.SEGMENT_EXITED, detail) for p in part), seq, now
        )
    if L.depends_on_time(condition):
        # the worker evaluates them one by one and keeps each one's next time boundary
        conn.execute(
            update(profiles)
            .where(
                profiles.c.merged_into.is_(None),
                (profiles.c.segments_due_us.is_(None)) | (profiles.c.segments_due_us > now),
            )
            .values(segments_due_us=now)
        )


def get_segment(conn: Connection, name: str) -> Segment:
    row = conn.execute(select(segments).where(segments.c.name == name)).first()
    if row is None:
        raise NotFound(f"no segment named {name!r}; `c360 segments list` shows them")
    count = conn.execute(
        select(func.count()).where(segment_members.c.segment_id == row.id)
    ).scalar_one()
    return _segment(row, int(count))


def list_segments(conn: Connection) -> list[Segment]:
    counts: dict[int, int] = dict(
        conn.execute(
            select(segment_members.c.segment_id, func.count()).group_by(
                segment_members.c.segment_id
            )
        ).all()
    )
    rows = conn.execute(select(segments).order_by(segments.c.name))
    return [_segment(row, int(counts.get(row.id, 0))) for row in rows]


def _segment(row: Any, members: int) -> Segment:
    return Segment(
        row.id,
        row.name,
        L.from_json(row.condition),
        row.text,
        row.timezone,
        row.description,
        row.version,
        row.created_at_us,
        row.updated_at_us,
        members,
    )


@dataclass(frozen=True, slots=True)
class Preview:
    count: int
    sample: list[str]
    took_ms: float


def preview(
    conn: Connection,
    condition: Any,
    *,
    timezone: str = "UTC",
    sample: int = 10,
    now_us: int | None = None,
) -> Preview:
    """How many live profiles meet ``condition`` now, and a few of them (by the SQL compiler;
    nothing is saved). Segments it names must exist."""
    missing = sorted(L.segments_named(condition) - {s.name for s in load_segments(conn)})
    if missing:
        raise InvalidInput(f"no segment named {missing[0]!r}")
    moment = Moment(system_clock() if now_us is None else now_us, zone(timezone))
    started = time.perf_counter()
    count = count_members(conn, condition, moment)
    ids = member_ids(conn, condition, moment, limit=sample) if sample else []
    return Preview(count, ids, (time.perf_counter() - started) * 1000)


def members_page(
    conn: Connection, name: str, *, after: str | None = None, limit: int = 100
) -> tuple[Segment, list[tuple[str, int]]]:
    """A page of ``(profile id, entered at)`` in profile id order, after ``after``."""
    segment = get_segment(conn, name)
    query = (
        select(segment_members.c.profile_id, segment_members.c.entered_at_us)
        .where(segment_members.c.segment_id == segment.id)
        .order_by(segment_members.c.profile_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(segment_members.c.profile_id > after)
    return segment, [(r.profile_id, r.entered_at_us) for r in conn.execute(query)]


def iter_members(conn: Connection, name: str, chunk: int = 1000) -> Iterator[list[Any]]:
    """Every member as (profile id, entered at, view document), in chunks (for export)."""
    segment = get_segment(conn, name)
    after = ""
    while True:
        rows = conn.execute(
            select(
                segment_members.c.profile_id,
                segment_members.c.entered_at_us,
                profiles.c.attributes,
            )
            .select_from(
                segment_members.join(profiles, profiles.c.id == segment_members.c.profile_id)
            )
            .where(
                segment_members.c.segment_id == segment.id,
                segment_members.c.profile_id > after,
            )
            .order_by(segment_members.c.profile_id)
            .limit(chunk)
        ).all()
        if not rows:
            return
        yield [tuple(r) for r in rows]
        after = rows[-1].profile_id
