"""What the management API answers, as frozen dataclasses.

Each is built by ``from_json`` from an answer's JSON. Fields the client does not know yet are
ignored, and ``raw`` keeps the whole JSON object, so a newer server never breaks an older
client and its new fields are still in reach. Times are aware ``datetime`` values in UTC.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time from the server (``2026-11-24T12:00:00.000000Z``), or None."""
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value)


def _time(value: object) -> datetime:
    moment = parse_time(value)
    if moment is None:
        raise ValueError(f"expected an ISO 8601 time, got {value!r}")
    return moment


def _dict(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _dicts(value: object) -> tuple[dict[str, Any], ...]:
    return tuple(dict(v) for v in value if isinstance(v, dict)) if isinstance(value, list) else ()


@dataclass(frozen=True, slots=True)
class Identifier:
    """An identifier a profile holds, and the source that sent it."""

    type: str
    value: str
    source: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Self:
        return cls(type=body["type"], value=body["value"], source=body["source"])


@dataclass(frozen=True, slots=True)
class Profile:
    """One person: traits, identifiers, the golden record, computed traits."""

    id: str
    traits: dict[str, Any]
    identifiers: tuple[Identifier, ...]
    event_count: int
    household_id: str | None
    golden: dict[str, Any] | None
    """``values``: each field's value with its provenance; ``alternatives``; addresses."""
    computed: dict[str, Any]
    linked: dict[str, int]
    """How many records of each kind the profile holds."""
    segments: tuple[str, ...] = ()
    """The segments the profile is in now, by name."""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Self:
        return cls(
            id=body["id"],
            traits=_dict(body.get("traits")),
            identifiers=tuple(Identifier.from_json(i) for i in body.get("identifiers") or ()),
            event_count=int(body.get("event_count") or 0),
            household_id=body.get("household_id"),
            golden=body.get("golden"),
            computed=_dict(body.get("computed")),
            linked={str(k): int(v) for k, v in _dict(body.get("linked")).items()},
            segments=tuple(str(s) for s in body.get("segments") or ()),
            raw=body,
        )

    def golden_value(self, name: str) -> Any:
        """The golden record's value of field ``name`` (``"phone"``), or None."""
        values = _dict((self.golden or {}).get("values"))
        return _dict(values.get(name)).get("value")

    def identifiers_of(self, identifier_type: str) -> list[str]:
        """The values of every identifier of a type (``"email"``)."""
        return [i.value for i in self.identifiers if i.type == identifier_type]


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A profile found by ``search``, best first."""

    id: str
    score: float
    name: str | None
    email: str | None
    phone: str | None
    country: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Self:
        return cls(
            id=body["id"],
            score=float(body["score"]),
            name=body.get("name"),
            email=body.get("email"),
            phone=body.get("phone"),
            country=body.get("country"),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """A tracked event or a record (order, ticket, shipment...) on a profile's timeline.

    ``body`` holds the rest: ``record_id``, ``fields`` and (orders) ``lines`` for a record;
    ``type``, ``seq``, ``message_id``, ``event``, ``properties`` for an event.
    """

    at: datetime
    kind: str
    """``event`` or a record kind: ``order``, ``invoice``, ``ticket``..."""
    source: str
    body: dict[str, Any]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Self:
        rest = {k: v for k, v in body.items() if k not in ("at", "kind", "source")}
        return cls(
            at=_time(body["at"]), kind=body["kind"], source=body["source"], body=rest, raw=body
        )

    @property
    def record_id(self) -> str | None:
        """The record's id in its source (None for an event)."""
        value = self.body.get("record_id")
        return str(value) if value is not None else None

    @property
    def message_id(self) -> str | None:
        """The event's messageId (None for a record)."""
        value = self.body.get("message_id")
        return str(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class Event:
    """A tracked message of a profile, as stored in the event log."""

    seq: int
    message_id: str
    type: str
    source: str
    received_at: datetime
    timestamp: datetime
    payload: dict[str, Any]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Self:
        return cls(
            seq=int(body["seq"]),
            message_id=body["messageId"],
            type=body["type"],
            source=body["source"],
            received_at=_time(body["receivedAt"]),
            timestamp=_time(body["timestamp"]),
            payload=_dict(body.get("payload")),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class Briefing:
    """What an agent reads before answering; the sections stay as the server sends them."""

    profile_id: str
    name: str | None
    summary: str
    who: dict[str, Any]
    contact: dict[str, Any]
    value: dict[str, Any]
    recent_orders: tuple[dict[str, Any], ...]
    deliveries: tuple[dict[str, Any], ...]
    open_tickets: tuple[dict[str, Any], ...]
    recent_tickets: tuple[dict[str, Any], ...]
    feedback: dict[str, Any]
    next_action: dict[str, Any]
    """``action`` and ``why``."""
    counts: dict[str, int]
    requests: tuple[dict[str, Any], ...] = ()
    """Feedback items (open first) with status, assignee, resolution and latest notes."""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Self:
        return cls(
            profile_id=body["profile_id"],
            name=body.get("name"),
            summary=str(body.get("summary") or ""),
            who=_dict(body.get("who")),
            contact=_dict(body.get("contact")),
            value=_dict(body.get("value")),
            recent_orders=_dicts(body.get("recent_orders")),
            deliveries=_dicts(body.get("deliveries")),
            open_tickets=_dicts(body.get("open_tickets")),
            recent_tickets=_dicts(body.get("recent_tickets")),
            feedback=_dict(body.get("feedback")),
            next_action=_dict(body.get("next_action")),
            counts={str(k): int(v) for k, v in _dict(body.get("counts")).items()},
            requests=_dicts(body.get("requests")),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class Change:
    """One change to a profile in the change feed; ``id`` is the cursor to resume after."""

    id: int
    profile_id: str
    kind: str
    """``profile_created``, ``trait_changed``, ``identifier_added``, ``merged``, ``split``..."""
    detail: dict[str, Any]
    seq: int
    at: datetime
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Self:
        return cls(
            id=int(body["id"]),
            profile_id=body["profile_id"],
            kind=body["kind"],
            detail=_dict(body.get("detail")),
            seq=int(body.get("seq") or 0),
            at=_time(body["at"]),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class RecordRef:
    """A record (or tracked identity) in the identity graph: ``split`` takes these."""

    source: str
    record_id: str
    type: str = "record"
    """``record``, or ``user_id``/``anonymous_id`` for a tracked identity."""
    kind: str | None = None
    label: str | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Self:
        return cls(
            source=body["source"],
            record_id=str(body["record_id"]),
            type=str(body.get("type") or "record"),
            kind=body.get("kind"),
            label=body.get("label"),
        )


@dataclass(frozen=True, slots=True)
class Identity:
    """Why these records are one person: records, the edges between them, the history."""

    profile_id: str
    requested_id: str
    merged_ids: tuple[str, ...]
    records: tuple[RecordRef, ...]
    edges: tuple[dict[str, Any], ...]
    """Each with ``a``, ``b``, ``kind`` (deterministic, probabilistic...) and ``because``."""
    history: tuple[dict[str, Any], ...]
    open_questions: tuple[dict[str, Any], ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Self:
        return cls(
            profile_id=body["profile_id"],
            requested_id=str(body.get("requested_id") or body["profile_id"]),
            merged_ids=tuple(body.get("merged_ids") or ()),
            records=tuple(RecordRef.from_json(r) for r in body.get("records") or ()),
            edges=_dicts(body.get("edges")),
            history=_dicts(body.get("history")),
            open_questions=_dicts(body.get("open_questions")),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A pair of records a person should decide on; ``a`` and ``b`` name each record and
    the profile it is in."""

    id: str
    a: dict[str, Any]
    b: dict[str, Any]
    weight: float
    probability: float
    reason: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Self:
        return cls(
            id=body["id"],
            a=_dict(body.get("a")),
            b=_dict(body.get("b")),
            weight=float(body.get("weight") or 0.0),
            probability=float(body.get("probability") or 0.0),
            reason=str(body.get("reason") or ""),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class ReviewDecision:
    """What deciding a review item did: the merges and splits it caused."""

    item_id: str
    decision: str
    merges: tuple[Any, ...]
    splits: tuple[Any, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Self:
        return cls(
            item_id=body["decided"],
            decision=body["decision"],
            merges=tuple(body.get("merges") or ()),
            splits=tuple(body.get("splits") or ()),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class Source:
    id: int
    name: str
    rate_limit_per_s: float | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Self:
        limit = body.get("rate_limit_per_s")
        return cls(
            id=int(body["id"]),
            name=body["name"],
            rate_limit_per_s=float(limit) if limit is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Reject:
    """A quarantined item: why, when, from where, and its raw bytes."""

    id: int
    reason: str
    detail: str
    message_id: str | None
    received_at: datetime
    stage: str
    origin: str | None
    resolved_at: datetime | None
    payload: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Self:
        return cls(
            id=int(body["id"]),
            reason=body["reason"],
            detail=str(body.get("detail") or ""),
            message_id=body.get("messageId"),
            received_at=_time(body["receivedAt"]),
            stage=str(body.get("stage") or "tracking"),
            origin=body.get("origin"),
            resolved_at=parse_time(body.get("resolvedAt")),
            payload=str(body.get("payload") or ""),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class FieldQuality:
    kind: str
    field: str
    section: str
    type: str
    present: int
    valid: int
    completeness: float
    validity: float | None
    duplicates: int | None
    conflicts: int | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Self:
        return cls(
            kind=body["kind"],
            field=body["field"],
            section=body["section"],
            type=body["type"],
            present=int(body["present"]),
            valid=int(body["valid"]),
            completeness=float(body["completeness"]),
            validity=body.get("validity"),
            duplicates=body.get("duplicates"),
            conflicts=body.get("conflicts"),
        )


@dataclass(frozen=True, slots=True)
class SourceQuality:
    """Data quality of one source: volume, freshness, quarantine, and each field."""

    source: str
    records: int
    kinds: dict[str, int]
    last_received_at: datetime | None
    last_record_change_at: datetime | None
    quarantined_open: int
    quarantined_resolved: int
    quarantine_reasons: dict[str, int]
    fields: tuple[FieldQuality, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Self:
        return cls(
            source=body["source"],
            records=int(body["records"]),
            kinds={str(k): int(v) for k, v in _dict(body.get("kinds")).items()},
            last_received_at=parse_time(body.get("last_received_at")),
            last_record_change_at=parse_time(body.get("last_record_change_at")),
            quarantined_open=int(body.get("quarantined_open") or 0),
            quarantined_resolved=int(body.get("quarantined_resolved") or 0),
            quarantine_reasons={
                str(k): int(v) for k, v in _dict(body.get("quarantine_reasons")).items()
            },
            fields=tuple(FieldQuality.from_json(f) for f in body.get("fields") or ()),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class MessageRecord:
    source: str
    seq: int
    type: str
    received_at: datetime
    processed: bool

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Self:
        return cls(
            source=body["source"],
            seq=int(body["seq"]),
            type=body["type"],
            received_at=_time(body["receivedAt"]),
            processed=bool(body["processed"]),
        )


@dataclass(frozen=True, slots=True)
class MessageStatus:
    """Whether a message was accepted (stored in the log), processed, or quarantined."""

    message_id: str
    accepted: bool
    records: tuple[MessageRecord, ...]
    quarantined: tuple[Reject, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def processed(self) -> bool:
        """Accepted, and applied to profiles."""
        return bool(self.records) and all(r.processed for r in self.records)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Self:
        return cls(
            message_id=body["messageId"],
            accepted=bool(body["accepted"]),
            records=tuple(MessageRecord.from_json(r) for r in body.get("records") or ()),
            quarantined=tuple(Reject.from_json(r) for r in body.get("quarantined") or ()),
            raw=body,
        )
