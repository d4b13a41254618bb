"""One time-ordered stream of everything a profile did or had done to it, from every source.

Two kinds of items, newest first:

- ``event``: a tracked message (page, track, identify...) at its corrected timestamp;
- a record kind (``order``, ``invoice``, ``payment``, ``shipment``, ``ticket``,
  ``survey_response``, ``registration``, ``subscription``, ``contact``, ``web_event``) at its
  business time (an order when it was placed, a shipment when it was delivered). An order
  carries its lines; a line whose order the profile does not hold stands alone.

Events page through an index on (profile, time); a profile's records are few enough to sort
in memory. A cursor is the position of the last item returned, so pages stay stable while new
items arrive.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, and_, false, or_, select

from c360.errors import InvalidInput
from c360.identity.decisions import live_profile_id
from c360.identity.features import NODE_RECORD
from c360.ingest.schema import RecordKind
from c360.kernel.clock import isoformat_us
from c360.profiles.traits import record_moment
from c360.storage.tables import (
    event_log,
    identity_nodes,
    profile_events,
    source_records,
    sources,
)

EVENT = "event"
KINDS = frozenset({EVENT, *(k.value for k in RecordKind)} - {RecordKind.PRODUCT.value})
"""What ``kinds=`` may name."""
KINDS_PATTERN = "^({k})(,({k}))*$".format(k="|".join(sorted(KINDS)))
CURSOR_PATTERN = "^-?[0-9]{1,19}_([0-9a-f]{2}){1,1000}$"


@dataclass(frozen=True, slots=True)
class TimelineItem:
    at_us: int
    kind: str
    key: str
    """Unique within the profile: ``e<seq>`` for an event, ``r<source id>:<record id>``."""
    source: str
    body: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "at": isoformat_us(self.at_us),
            "kind": self.kind,
            "source": self.source,
            **self.body,
        }


@dataclass(frozen=True, slots=True)
class Position:
    at_us: int
    key: str


def encode_cursor(position: Position) -> str:
    """``<time>_<key as hex>``: any such text is a position, so every cursor the pattern
    allows is valid."""
    return f"{position.at_us}_{position.key.encode().hex()}"


def decode_cursor(cursor: str) -> Position:
    at_text, _, key_hex = cursor.partition("_")
    try:
        return Position(int(at_text), bytes.fromhex(key_hex).decode("utf-8", "replace"))
    except ValueError as exc:
        raise InvalidInput(
            "cursor must be a value returned as 'next' by the previous page"
        ) from exc


def parse_kinds(text: str | None) -> frozenset[str] | None:
    """``"order,ticket"`` as a set of kinds, or None for all; unknown kinds are an error."""
    if not text:
        return None
    kinds = frozenset(k.strip() for k in text.split(",") if k.strip())
    unknown = sorted(kinds - KINDS)
    if unknown:
        raise InvalidInput(f"unknown kind {unknown[0]!r}; kinds are {', '.join(sorted(KINDS))}")
    return kinds


def record_time_us(kind: str, fields: dict[str, Any], updated_at_us: int) -> int:
    """A record's business time (the moment computed traits use), else when the source last
    sent it."""
    moment = record_moment(kind, fields)
    return updated_at_us if moment is None else moment


def timeline_page(
    conn: Connection,
    profile_id: str,
    *,
    limit: int,
    kinds: frozenset[str] | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
    after: Position | None = None,
) -> tuple[list[TimelineItem], Position | None]:
    """Up to ``limit`` items older than ``after`` (newest first) and the position to go on
    from, or None at the end."""
    live = live_profile_id(conn, profile_id)
    names = {r.id: r.name for r in conn.execute(select(sources.c.id, sources.c.name))}
    wanted = kinds or KINDS
    records = _record_items(conn, live, wanted, names) if wanted - {EVENT} else []
    records = [i for i in records if _in_range(i, since_us, until_us, after)]
    records.sort(key=_order, reverse=True)
    events = (
        _event_items(conn, live, limit + 1, since_us, until_us, after, names)
        if EVENT in wanted
        else []
    )
    merged = sorted([*records[: limit + 1], *events], key=_order, reverse=True)
    page = merged[:limit]
    more = len(merged) > limit
    return page, (Position(page[-1].at_us, page[-1].key) if more and page else None)


def _order(item: TimelineItem) -> tuple[int, str]:
    return item.at_us, item.key


def _in_range(
    item: TimelineItem, since_us: int | None, until_us: int | None, after: Position | None
) -> bool:
    if since_us is not None and item.at_us < since_us:
        return False
    if until_us is not None and item.at_us >= until_us:
        return False
    return after is None or (item.at_us, item.key) < (after.at_us, after.key)


def _event_key(seq: int) -> str:
    # zero-padded so keys sort as numbers, and below every record key ("e" < "r")
    return f"e{seq:020d}"


def _event_items(
    conn: Connection,
    profile_id: str,
    limit: int,
    since_us: int | None,
    until_us: int | None,
    after: Position | None,
    names: dict[int, str],
) -> list[TimelineItem]:
    query = (
        select(
            profile_events.c.at_us,
            profile_events.c.seq,
            event_log.c.type,
            event_log.c.source_id,
            event_log.c.message_id,
            event_log.c.payload,
        )
        .select_from(profile_events.join(event_log, event_log.c.seq == profile_events.c.seq))
        .where(profile_events.c.profile_id == profile_id)
    )
    if since_us is not None:
        query = query.where(profile_events.c.at_us >= since_us)
    if until_us is not None:
        query = query.where(profile_events.c.at_us < until_us)
    if after is not None:
        same_time = profile_events.c.at_us == after.at_us
        seq_text = after.key[1:21]
        if after.key[:1] == "e" and len(seq_text) == 20 and seq_text.isdigit():
            same_time = and_(same_time, profile_events.c.seq < int(seq_text))
        elif after.key <= _event_key(0):
            same_time = false()  # below every event key: no event at that time comes after
        query = query.where(or_(profile_events.c.at_us < after.at_us, same_time))
    rows = conn.execute(
        query.order_by(profile_events.c.at_us.desc(), profile_events.c.seq.desc()).limit(limit)
    )
    return [
        TimelineItem(
            at_us,
            EVENT,
            _event_key(seq),
            names.get(source_id, str(source_id)),
            _event_body(seq, kind, message_id, orjson.loads(payload)),
        )
        for at_us, seq, kind, source_id, message_id, payload in rows
    ]


def _event_body(seq: int, kind: str, message_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "seq": seq, "message_id": message_id}
    if kind == "track":
        body["event"] = payload.get("event")
        body["properties"] = payload.get("properties") or {}
    elif kind in ("page", "screen"):
        body["name"] = payload.get("name")
        body["properties"] = payload.get("properties") or {}
    elif kind == "identify":
        body["traits"] = payload.get("traits") or (payload.get("context") or {}).get("traits")
    elif kind == "alias":
        body["previous_id"] = payload.get("previousId")
    elif kind == "group":
        body["group_id"] = payload.get("groupId")
    return body


def _record_items(
    conn: Connection, profile_id: str, kinds: Iterable[str], names: dict[int, str]
) -> list[TimelineItem]:
    wanted = set(kinds)
    if "order" in wanted:
        wanted.add("order_item")  # an order shows its lines
    rows = conn.execute(
        select(
            source_records.c.source_id,
            source_records.c.record_id,
            source_records.c.kind,
            source_records.c.fields,
            source_records.c.updated_at_us,
            source_records.c.version,
        )
        .select_from(
            identity_nodes.join(
                source_records,
                (source_records.c.source_id == identity_nodes.c.source_id)
                & (source_records.c.record_id == identity_nodes.c.node_key),
            )
        )
        .where(
            identity_nodes.c.profile_id == profile_id,
            identity_nodes.c.node_type == NODE_RECORD,
            identity_nodes.c.kind.in_(sorted(wanted)),
        )
    ).all()
    # lines meet their order by order id (a shop may send them as a source of their own)
    lines: dict[str, list[dict[str, Any]]] = {}
    orders: set[str] = set()
    for row in rows:
        order_id = row.fields.get("order_id")
        if row.kind == "order_item" and order_id:
            lines.setdefault(str(order_id), []).append(row.fields)
        elif row.kind == "order" and order_id:
            orders.add(str(order_id))
    items: list[TimelineItem] = []
    for row in rows:
        order_key = str(row.fields.get("order_id"))
        if row.kind == "order_item" and "order" in kinds and order_key in orders:
            continue  # shown within its order
        body: dict[str, Any] = {
            "record_id": row.record_id,
            "version": row.version,
            "fields": row.fields,
        }
        if row.kind == "order":
            body["lines"] = sorted(lines.get(order_key, []), key=_line_no)
        items.append(
            TimelineItem(
                record_time_us(row.kind, row.fields, row.updated_at_us),
                row.kind,
                f"r{row.source_id}:{row.record_id}",
                names.get(row.source_id, str(row.source_id)),
                body,
            )
        )
    return items


def _line_no(line: dict[str, Any]) -> tuple[int, str]:
    number = line.get("line_no")
    return (number if isinstance(number, int) else 0, str(line.get("sku") or ""))
