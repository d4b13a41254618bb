"""Keeping membership current, one profile at a time: the incremental side.

Whenever a profile is refreshed (an event or record arrived, identity moved, or one of its
time boundaries came), :func:`update_memberships` evaluates every segment for it with
:mod:`c360.segments.evaluate`, writes who entered and who left (``segment_members`` and the
change feed's ``segment_entered`` / ``segment_exited``), and stores in
``profiles.segments_due_us`` the first moment an answer may change with time alone, so the
worker comes back exactly then.

Segments are evaluated in dependency order (a segment using ``in segment "vip"`` after
``vip``), so one pass settles a profile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from c360.changes.feed import ChangeKind, NewChange
from c360.errors import InvalidInput
from c360.segments import language as L
from c360.segments.evaluate import Facts, Moment, evaluate, next_change
from c360.storage.dialect import key_in
from c360.storage.tables import profiles, segment_members, segments


@dataclass(frozen=True, slots=True)
class SegmentDef:
    id: int
    name: str
    condition: Any
    tz: ZoneInfo
    uses_events: bool


@dataclass(slots=True)
class ProfileState:
    """What a refresh knows about one profile."""

    view: Mapping[str, Any] | None
    """None for a profile that no longer stands (merged away): it leaves every segment."""
    events: Sequence[Any] = ()


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError) as exc:
        raise InvalidInput(
            f"unknown time zone {name!r}: use an IANA name such as Asia/Bangkok or UTC"
        ) from exc


_cache: dict[tuple[Any, ...], list[SegmentDef]] = {}


def load_segments(conn: Connection) -> list[SegmentDef]:
    """Every saved segment, each after the segments it uses."""
    rows = conn.execute(
        select(
            segments.c.id,
            segments.c.name,
            segments.c.condition,
            segments.c.timezone,
            segments.c.text,
        ).order_by(segments.c.id)
    ).all()
    # by content: ids and versions repeat across stores in one process
    key = tuple((r.id, r.name, r.text, r.timezone) for r in rows)
    if key in _cache:
        return _cache[key]
    defs = {}
    deps: dict[str, set[str]] = {}
    for row in rows:
        condition = L.from_json(row.condition)
        nodes = L.walk(condition)
        defs[row.name] = SegmentDef(
            row.id,
            row.name,
            condition,
            zone(row.timezone),
            any(isinstance(n, L.Did | L.Sequence) for n in nodes),
        )
        deps[row.name] = L.segments_named(condition)
    ordered = [defs[name] for name in dependency_order(deps)]
    if len(_cache) > 16:
        _cache.clear()
    _cache[key] = ordered
    return ordered


def dependency_order(deps: Mapping[str, set[str]]) -> list[str]:
    """Names ordered so each comes after those it uses; a cycle is an error."""
    done: list[str] = []
    state: dict[str, int] = {}
    for start in sorted(deps):
        stack: list[tuple[str, bool]] = [(start, False)]
        while stack:
            name, leaving = stack.pop()
            if leaving:
                state[name] = 2
                done.append(name)
                continue
            if state.get(name) == 2:
                continue
            if state.get(name) == 1:
                raise InvalidInput(f"segment {name!r} depends on itself through 'in segment'")
            state[name] = 1
            stack.append((name, True))
            for used in sorted(deps.get(name, ())):
                if used not in deps:
                    raise InvalidInput(
                        f"segment {name!r} uses segment {used!r}, which does not exist"
                    )
                if state.get(used) == 1:
                    raise InvalidInput(
                        f"segment {name!r} depends on itself through 'in segment {used}'"
                    )
                stack.append((used, False))
    return done


def update_memberships(
    conn: Connection, states: Mapping[str, ProfileState], now_us: int
) -> list[NewChange]:
    """Evaluate every segment for ``states``' profiles at ``now_us``; write the members that
    changed and each profile's next time boundary; return the feed entries."""
    defs = load_segments(conn)
    ids = sorted(states)
    if not ids:
        return []
    if not defs:
        conn.execute(
            update(profiles)
            .where(key_in(conn, profiles.c.id, ids), profiles.c.segments_due_us.is_not(None))
            .values(segments_due_us=None)
        )
        return []
    current: dict[str, set[int]] = {}
    for segment_id, profile_id in conn.execute(
        select(segment_members.c.segment_id, segment_members.c.profile_id).where(
            key_in(conn, segment_members.c.profile_id, ids)
        )
    ):
        current.setdefault(profile_id, set()).add(segment_id)
    entered: list[dict[str, Any]] = []
    left: list[dict[str, Any]] = []
    dues: list[dict[str, Any]] = []
    changes: list[NewChange] = []
    for pid in ids:
        state = states[pid]
        inside: set[str] = set()
        due: int | None = None
        was = current.get(pid, set())
        for segment in defs:
            member = False
            if state.view is not None:
                facts = Facts(state.view, state.events, frozenset(inside))
                moment = Moment(now_us, segment.tz)
                member = evaluate(segment.condition, facts, moment)
                boundary = next_change(segment.condition, facts, moment)
                if boundary is not None and (due is None or boundary < due):
                    due = boundary
            if member:
                inside.add(segment.name)
            detail = {"segment": segment.name, "segment_id": segment.id}
            if member and segment.id not in was:
                entered.append({"sid": segment.id, "pid": pid, "at": now_us})
                changes.append(NewChange(pid, ChangeKind.SEGMENT_ENTERED, detail))
            elif not member and segment.id in was:
                left.append({"sid": segment.id, "pid": pid})
                reason = {} if state.view is not None else {"reason": "profile merged away"}
                changes.append(NewChange(pid, ChangeKind.SEGMENT_EXITED, {**detail, **reason}))
        dues.append({"pid": pid, "due": due})
    if entered:
        conn.execute(
            insert(segment_members).values(
                segment_id=bindparam("sid"),
                profile_id=bindparam("pid"),
                entered_at_us=bindparam("at"),
            ),
            entered,
        )
    if left:
        conn.execute(
            delete(segment_members).where(
                segment_members.c.segment_id == bindparam("sid"),
                segment_members.c.profile_id == bindparam("pid"),
            ),
            left,
        )
    conn.execute(
        update(profiles)
        .where(profiles.c.id == bindparam("pid"))
        .values(segments_due_us=bindparam("due")),
        dues,
    )
    return changes


def member_names(conn: Connection, profile_ids: Iterable[str]) -> dict[str, list[str]]:
    """The segments each profile is in, by name (sorted)."""
    ids = sorted(set(profile_ids))
    out: dict[str, list[str]] = {pid: [] for pid in ids}
    if not ids:
        return out
    rows = conn.execute(
        select(segment_members.c.profile_id, segments.c.name)
        .select_from(segment_members.join(segments, segments.c.id == segment_members.c.segment_id))
        .where(key_in(conn, segment_members.c.profile_id, ids))
        .order_by(segments.c.name)
    )
    for pid, name in rows:
        out[pid].append(name)
    return out
