"""Feedback use cases: collect items from the log, prioritise and route them, move them through
their workflow, watch their SLAs, and close the loop with the customer.

**Collecting.** The feedback loop reads the log after its checkpoint, never past the profiles'
checkpoint (so the person an item belongs to is already known), and turns into items:

- tracked events the configuration names (``Feedback Submitted``, ``NPS Submitted``, "Social
  Mention"...): direct or indirect feedback with its text and rating;
- inferred events (``Payment Failed``, ``Rage Click``...): feedback without words, with the
  topic and sentiment the configuration gives;
- records of the kinds ``feedback``, ``ticket`` and ``survey_response`` from files, databases
  and webhooks; a record's new version updates its item (a ticket the source system closes is
  resolved here too).

An item is keyed by (source, message id or record id): collecting again changes nothing but
the analysis of an item whose text changed. Items received more than ``BACKFILL_DAYS`` before
they were collected (an import of last year's tickets) are history: they get no SLA timers.
"""

import getpass
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update

from c360.activation.outbox import activation_event, append_events
from c360.analysis import analyse
from c360.changes.feed import ChangeKind, NewChange, record_changes
from c360.errors import InvalidInput, NotFound
from c360.eventlog.model import StoredEvent
from c360.eventlog.service import (
    PROFILES_CHECKPOINT,
    get_checkpoint,
    read_after,
    set_checkpoint,
)
from c360.feedback.model import (
    NEXT,
    OPEN_STATUSES,
    FeedbackConfig,
    Incoming,
    Status,
)
from c360.identity.decisions import live_profile_id
from c360.identity.features import NODE_RECORD
from c360.ingest.records import RECORD_TYPE
from c360.kernel.clock import from_us, isoformat_us, system_clock, to_us
from c360.profiles.traits import instant, is_cancelled, is_finished, ticket_is_open
from c360.storage.engine import reader
from c360.storage.tables import (
    feedback_history,
    feedback_items,
    identity_nodes,
    messages,
    profile_events,
    profiles,
    source_records,
)

log = logging.getLogger(__name__)

CHECKPOINT = "feedback"
BATCH = 1000
BACKFILL_DAYS = 7
_US = 1_000_000
_HOUR_US = 3600 * _US
_DAY_US = 86_400 * _US
REPEAT_WINDOW_DAYS = 7
REPEAT_COUNT = 2
"""A person who wrote this many times before within the window is repeating themselves."""


@dataclass(frozen=True, slots=True)
class CollectReport:
    read: int
    created: int
    updated: int
    checkpoint: int


def actor_name(given: str | None) -> str:
    """Who did it: the name given, else the operating-system user."""
    if given and given.strip():
        return given.strip()[:200]
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


# --- reading the log --------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    if isinstance(value, dict) and "amount" in value:
        return _number(value.get("amount"))
    return None


def _first(props: Mapping[str, Any], names: Sequence[str]) -> tuple[str | None, Any]:
    for name in names:
        if name in props and props[name] not in (None, ""):
            return name, props[name]
    return None, None


def incoming_event(
    config: FeedbackConfig, event: StoredEvent, payload: dict[str, Any]
) -> Incoming | None:
    """The feedback a tracked event carries, or None when it is not feedback."""
    if event.type != "track":
        return None
    name = payload.get("event")
    if not isinstance(name, str):
        return None
    props = payload.get("properties")
    props = props if isinstance(props, dict) else {}
    key = f"e:{event.message_id}"
    source = config.event_source(name)
    if source is not None:
        _, text = _first(props, source.text)
        _, subject = _first(props, source.subject)
        rating_name, rating = _first(props, source.rating)
        scale = source.rating_scale or _int(props.get("rating_scale"))
        if scale is None and rating_name is not None:
            scale = 10 if rating_name in ("score", "nps", "nps_score") else 5
        channel = _text(props.get("channel")) or source.channel or "web"
        return Incoming(
            event.source_id,
            key,
            event.seq,
            source.kind,
            channel.lower()[:40],
            event.timestamp_us,
            _text(subject),
            _text(text),
            _number(rating),
            scale,
            _text(props.get("language_hint")) or _text(props.get("language")),
        )
    inferred = config.inferred_event(name)
    if inferred is not None:
        return Incoming(
            event.source_id,
            key,
            event.seq,
            "inferred",
            inferred.channel,
            event.timestamp_us,
            inferred.note or name,
            None,
            None,
            None,
            inferred=inferred,
        )
    return None


def _int(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number == int(number) else None


_RECORD_TIME = {
    "feedback": "submitted_at",
    "ticket": "opened_at",
    "survey_response": "responded_at",
}


def incoming_record(
    config: FeedbackConfig,
    source_id: int,
    record_id: str,
    kind: str,
    fields: Mapping[str, Any],
    seq: int,
    updated_at_us: int,
) -> Incoming | None:
    """The feedback a standardized record carries (feedback, ticket, survey response)."""
    if kind not in config.record_kinds:
        return None
    at = instant(fields.get(_RECORD_TIME.get(kind, ""))) or instant(fields.get("created_at"))
    if kind == "ticket":
        text = (
            ". ".join(t for t in (_text(fields.get(n)) for n in ("description", "notes")) if t)
            or None
        )
        subject = _text(fields.get("subject")) or _text(fields.get("topic"))
        rating, scale = None, None
        channel: str | None = _text(fields.get("channel")) or "phone"
        kind_of = "direct"
    elif kind == "survey_response":
        text, subject = _text(fields.get("comment")), _text(fields.get("survey"))
        rating, scale, channel = _number(fields.get("score")), 10, _text(fields.get("channel"))
        kind_of = "direct"
    else:
        text, subject = _text(fields.get("text")), _text(fields.get("subject"))
        rating, scale = _number(fields.get("rating")), _int(fields.get("rating_scale"))
        if rating is not None and scale is None:
            scale = 5 if rating <= 5 else 10
        channel = _text(fields.get("channel")) or _text(fields.get("platform"))
        platform = (_text(fields.get("platform")) or "").lower()
        kind_of = (
            "indirect"
            if platform in ("facebook", "x", "twitter", "tiktok", "instagram", "pantip", "social")
            else "direct"
        )
    return Incoming(
        source_id,
        f"r:{record_id}",
        seq,
        kind_of,  # type: ignore[arg-type]
        (channel or "other").lower()[:40],
        at or updated_at_us,
        subject,
        text,
        rating,
        scale,
        _text(fields.get("language")),
        record_status=_text(fields.get("status")) if kind == "ticket" else None,
    )


# --- collecting -----------------------------------------------------------------------------


def collect_available(
    engine: Engine, config: FeedbackConfig, *, now_us: int | None = None, batch: int = BATCH
) -> CollectReport:
    """Collect the feedback in the next batch of processed log entries."""
    now = system_clock() if now_us is None else now_us
    with reader(engine).connect() as conn:  # most passes find nothing: no write lock for them
        if get_checkpoint(conn, PROFILES_CHECKPOINT) <= get_checkpoint(conn, CHECKPOINT):
            return CollectReport(0, 0, 0, get_checkpoint(conn, CHECKPOINT))
    with engine.begin() as conn:
        checkpoint = get_checkpoint(conn, CHECKPOINT, lock=True)
        ready = get_checkpoint(conn, PROFILES_CHECKPOINT)
        if ready <= checkpoint:
            return CollectReport(0, 0, 0, checkpoint)
        entries = [e for e in read_after(conn, checkpoint, batch) if e.seq <= ready]
        if not entries:
            return CollectReport(0, 0, 0, checkpoint)
        created, updated = collect_entries(conn, config, entries, now)
        set_checkpoint(conn, CHECKPOINT, entries[-1].seq)
    return CollectReport(len(entries), created, updated, entries[-1].seq)


def collect_all(engine: Engine, config: FeedbackConfig, *, now_us: int | None = None) -> int:
    """Collect until caught up with the profiles; return the items created."""
    created = 0
    while True:
        report = collect_available(engine, config, now_us=now_us)
        created += report.created
        if report.read == 0:
            return created


def collect_entries(
    conn: Connection, config: FeedbackConfig, entries: Sequence[StoredEvent], now_us: int
) -> tuple[int, int]:
    found: list[Incoming] = []
    record_keys: list[tuple[int, str]] = []
    for entry in entries:
        if entry.type == RECORD_TYPE:
            payload = orjson.loads(entry.payload)
            record_id = payload.get("record_id") if isinstance(payload, dict) else None
            if isinstance(record_id, str):
                record_keys.append((entry.source_id, record_id))
            continue
        if entry.type != "track":
            continue
        payload = orjson.loads(entry.payload)
        if isinstance(payload, dict) and (item := incoming_event(config, entry, payload)):
            found.append(item)
    found += _records(conn, config, record_keys)
    created = updated = 0
    for item in found:
        outcome = _upsert(conn, config, item, now_us)
        created += outcome == "created"
        updated += outcome == "updated"
    return created, updated


def _records(
    conn: Connection, config: FeedbackConfig, keys: list[tuple[int, str]]
) -> list[Incoming]:
    """The current versions of the records these entries wrote (a record's entry may also have
    been quarantined: then there is no current version and nothing to collect)."""
    out: list[Incoming] = []
    for source_id, record_id in dict.fromkeys(keys):
        row = conn.execute(
            select(
                source_records.c.kind,
                source_records.c.fields,
                source_records.c.last_seq,
                source_records.c.updated_at_us,
            ).where(
                source_records.c.source_id == source_id, source_records.c.record_id == record_id
            )
        ).first()
        if row is None:
            continue
        item = incoming_record(
            config, source_id, record_id, row.kind, row.fields, row.last_seq, row.updated_at_us
        )
        if item is not None:
            out.append(item)
    return out


def profile_of_origin(conn: Connection, source_id: int, origin_key: str, seq: int) -> str | None:
    """The live profile an item's event or record is filed under now (None: nobody known)."""
    if origin_key.startswith("r:"):
        found = conn.execute(
            select(identity_nodes.c.profile_id).where(
                identity_nodes.c.source_id == source_id,
                identity_nodes.c.node_type == NODE_RECORD,
                identity_nodes.c.node_key == origin_key[2:],
            )
        ).scalar()
    else:
        found = conn.execute(
            select(profile_events.c.profile_id).where(profile_events.c.seq == seq).limit(1)
        ).scalar()
    if not found:
        return None
    try:
        return live_profile_id(conn, str(found))
    except NotFound:
        return None


def _upsert(conn: Connection, config: FeedbackConfig, item: Incoming, now_us: int) -> str:
    existing = conn.execute(
        select(feedback_items).where(
            feedback_items.c.source_id == item.source_id,
            feedback_items.c.origin_key == item.origin_key,
        )
    ).first()
    analysis = _analysis(config, item)
    profile_id = profile_of_origin(conn, item.source_id, item.origin_key, item.seq)
    if existing is not None:
        if existing.seq >= item.seq:
            return "unchanged"
        changes: dict[str, Any] = {"seq": item.seq, "updated_at_us": now_us}
        if (existing.text, existing.subject, existing.rating) != (
            item.text,
            item.subject,
            item.rating,
        ):
            changes |= _analysis_columns(analysis) | {
                "text": item.text,
                "subject": item.subject,
                "rating": item.rating,
                "rating_scale": item.rating_scale,
            }
        if profile_id and profile_id != existing.profile_id:
            changes["profile_id"] = profile_id
        conn.execute(
            update(feedback_items).where(feedback_items.c.id == existing.id).values(**changes)
        )
        if (
            item.record_status is not None
            and not ticket_is_open({"status": item.record_status})
            and existing.status in OPEN_STATUSES
        ):
            _move(
                conn,
                existing.id,
                Status.RESOLVED,
                "source",
                now_us,
                {"resolution": f"closed in the source system ({item.record_status})"},
            )
        return "updated"
    priority = prioritise(conn, config, item, analysis, profile_id, now_us)
    level = level_of(config, priority.score)
    team = route(config, item, analysis, level)
    historical = item.received_at_us < now_us - BACKFILL_DAYS * _DAY_US
    sla = config.sla[level]
    closed_at_source = item.record_status is not None and not ticket_is_open(
        {"status": item.record_status}
    )
    status = Status.RESOLVED if closed_at_source else Status.NEW
    row = {
        "source_id": item.source_id,
        "origin_key": item.origin_key,
        "seq": item.seq,
        "kind": item.kind,
        "channel": item.channel,
        "profile_id": profile_id,
        "received_at_us": item.received_at_us,
        "subject": item.subject,
        "text": item.text,
        "rating": item.rating,
        "rating_scale": item.rating_scale,
        **_analysis_columns(analysis),
        "priority": priority.score,
        "level": level,
        "factors": priority.factors,
        "team": team,
        "assignee": None,
        "status": status.value,
        "respond_by_us": None
        if historical
        else item.received_at_us + int(sla.respond_h * _HOUR_US),
        "resolve_by_us": None
        if historical
        else item.received_at_us + int(sla.resolve_h * _HOUR_US),
        "responded_at_us": None,
        "resolved_at_us": item.received_at_us if closed_at_source else None,
        "notified_at_us": None,
        "breached": [],
        "resolution": f"closed in the source system ({item.record_status})"
        if closed_at_source
        else None,
        "message_key": None,
        "updated_at_us": now_us,
    }
    item_id = conn.execute(
        insert(feedback_items).values(**row).returning(feedback_items.c.id)
    ).scalar_one()
    record_history(
        conn,
        item_id,
        now_us,
        "c360",
        "received",
        None,
        status.value,
        {"level": level, "team": team, "priority": priority.score},
    )
    _feed(
        conn,
        profile_id,
        ChangeKind.FEEDBACK_RECEIVED,
        {
            "feedback_id": item_id,
            "topic": analysis["topic"],
            "sentiment": analysis["sentiment"],
            "level": level,
            "team": team,
            "channel": item.channel,
            "urgent": bool(analysis["cues"]),
        },
        now_us,
    )
    return "created"


def _analysis(config: FeedbackConfig, item: Incoming) -> dict[str, Any]:
    if item.inferred is not None:
        return {
            "language": "en",
            "sentiment": item.inferred.sentiment,
            "score": {"negative": -1.0, "neutral": 0.0, "positive": 1.0}[item.inferred.sentiment],
            "topic": item.inferred.topic,
            "topics": {item.inferred.topic: 1},
            "cues": [],
            "urgent": False,
            "hits": [],
            "inferred": item.inferred.event,
        }
    text = ". ".join(t for t in (item.subject, item.text) if t) or None
    result = analyse(
        text,
        rating=item.rating,
        scale=item.rating_scale,
        language=item.language_hint,
        topics=config.topics,
    )
    return result.as_json()


def _analysis_columns(analysis: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "language": analysis["language"],
        "sentiment": analysis["sentiment"],
        "sentiment_score": float(analysis["score"]),
        "topic": analysis["topic"],
        "analysis": dict(analysis),
    }


# --- priority and routing -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Priority:
    score: int
    factors: dict[str, Any]


def prioritise(
    conn: Connection,
    config: FeedbackConfig,
    item: Incoming,
    analysis: Mapping[str, Any],
    profile_id: str | None,
    now_us: int,
) -> Priority:
    """``100 x sum(weight x factor) / sum(weights)``, each factor 0..1 (docs/feedback.md)."""
    cues = set(analysis["cues"])
    repeats = _recent_items(conn, profile_id, item.received_at_us) if profile_id else 0
    urgency = 1.0 if cues & {"legal", "safety"} else 0.8 if cues else 0.0
    if repeats >= REPEAT_COUNT:
        urgency = max(urgency, 0.6)
    sentiment = analysis["sentiment"]
    sentiment_f = (
        0.5 + 0.5 * min(1.0, -float(analysis["score"]))
        if sentiment == "negative"
        else 0.2
        if sentiment == "neutral"
        else 0.0
    )
    tier = _value_tier(conn, profile_id) if profile_id else None
    tiers = list(config.value_tiers)
    value_f = tiers.index(tier) / max(1, len(tiers) - 1) if tier in tiers else 0.0
    open_count = _open_orders(conn, profile_id, now_us) if profile_id else 0
    affected = analysis["topic"] in ("delivery", "billing", "product_quality")
    open_f = (1.0 if affected else 0.5) if open_count else 0.0
    spike = spike_for(
        conn,
        config,
        str(analysis["topic"]),
        item.received_at_us,
        newcomer=profile_id or f"new:{item.source_id}:{item.origin_key}",
    )
    spike_f = 1.0 if spike["spike"] else min(1.0, spike["count"] / max(1, spike["threshold"])) * 0.5
    weights = config.weights
    factors = {
        "urgency": urgency,
        "sentiment": round(sentiment_f, 3),
        "value": round(value_f, 3),
        "open_orders": open_f,
        "spike": round(spike_f, 3),
    }
    total = sum(getattr(weights, name) for name in factors)
    score = (
        0
        if not total
        else round(100 * sum(getattr(weights, name) * f for name, f in factors.items()) / total)
    )
    return Priority(
        score,
        {
            **factors,
            "value_tier": tier,
            "open_orders_count": open_count,
            "repeats_7d": repeats,
            "topic_today": spike["count"],
            "topic_spike": spike["spike"],
        },
    )


def level_of(config: FeedbackConfig, score: int) -> str:
    for level in ("P1", "P2", "P3"):
        if score >= config.levels[level]:
            return level
    return "P4"


def route(config: FeedbackConfig, item: Incoming, analysis: Mapping[str, Any], level: str) -> str:
    """The first rule that matches routes; otherwise the topic's team; otherwise service."""
    cues = set(analysis["cues"])
    for rule in config.rules:
        if rule.topic and analysis["topic"] not in rule.topic:
            continue
        if rule.channel and item.channel not in rule.channel:
            continue
        if rule.language and analysis["language"] not in rule.language:
            continue
        if rule.level and level not in rule.level:
            continue
        if rule.sentiment and analysis["sentiment"] not in rule.sentiment:
            continue
        if rule.cue and not cues & set(rule.cue):
            continue
        return rule.team
    return config.teams.get(str(analysis["topic"]), "service")


def _recent_items(conn: Connection, profile_id: str, at_us: int) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                feedback_items.c.profile_id == profile_id,
                feedback_items.c.received_at_us >= at_us - REPEAT_WINDOW_DAYS * _DAY_US,
                feedback_items.c.received_at_us <= at_us,
            )
        ).scalar_one()
    )


def _value_tier(conn: Connection, profile_id: str) -> str | None:
    computed = conn.execute(select(profiles.c.computed).where(profiles.c.id == profile_id)).scalar()
    tier = computed.get("value_tier") if isinstance(computed, dict) else None
    return tier if isinstance(tier, str) else None


OPEN_ORDER_DAYS = 60


def _open_orders(conn: Connection, profile_id: str, now_us: int) -> int:
    """Orders of the last 60 days and shipments that are neither finished nor cancelled."""
    rows = conn.execute(
        select(source_records.c.kind, source_records.c.fields, source_records.c.updated_at_us)
        .select_from(
            identity_nodes.join(
                source_records,
                and_(
                    source_records.c.source_id == identity_nodes.c.source_id,
                    source_records.c.record_id == identity_nodes.c.node_key,
                ),
            )
        )
        .where(
            identity_nodes.c.profile_id == profile_id,
            identity_nodes.c.node_type == NODE_RECORD,
            identity_nodes.c.kind.in_(("order", "shipment")),
        )
    ).all()
    count = 0
    for row in rows:
        status = row.fields.get("status")
        if is_cancelled(status) or is_finished(status):
            continue
        if row.kind == "order":
            at = instant(row.fields.get("ordered_at")) or row.updated_at_us
            if at < now_us - OPEN_ORDER_DAYS * _DAY_US:
                continue
        count += 1
    return count


def _zone(config: FeedbackConfig, default_tz: str = "UTC") -> ZoneInfo:
    return ZoneInfo(config.timezone or default_tz)


def day_bounds(at_us: int, tz: ZoneInfo) -> tuple[int, int]:
    day = from_us(at_us).astimezone(tz).date()
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    return to_us(start), to_us(start + timedelta(days=1))


def spike_for(
    conn: Connection,
    config: FeedbackConfig,
    topic: str,
    at_us: int,
    *,
    newcomer: str | None = None,
) -> dict[str, Any]:
    """How many customers raised ``topic`` on ``at_us``'s day (``newcomer``: one more whose
    item is not stored yet), the threshold for that day, and whether it is a spike
    (docs/feedback.md). A customer is a profile; an item linked to nobody counts as one."""
    tz = _zone(config)
    start, end = day_bounds(at_us, tz)
    since = start - config.spike_days * _DAY_US
    rows = conn.execute(
        select(
            feedback_items.c.id, feedback_items.c.profile_id, feedback_items.c.received_at_us
        ).where(
            feedback_items.c.topic == topic,
            feedback_items.c.received_at_us >= since,
            feedback_items.c.received_at_us < end,
        )
    ).all()
    days: list[set[str]] = [set() for _ in range(config.spike_days)]
    today: set[str] = {newcomer} if newcomer else set()
    for row in rows:
        who = row.profile_id or f"item:{row.id}"
        if row.received_at_us >= start:
            today.add(who)
        else:
            days[min(config.spike_days - 1, (start - 1 - row.received_at_us) // _DAY_US)].add(who)
    mean = sum(len(d) for d in days) / config.spike_days
    threshold = max(config.spike_min, math.floor(mean + 3 * math.sqrt(max(mean, 1.0))) + 1)
    return {
        "topic": topic,
        "count": len(today),
        "mean": round(mean, 2),
        "threshold": threshold,
        "spike": len(today) >= threshold,
    }


# --- workflow -------------------------------------------------------------------------------


def get_item(conn: Connection, item_id: int) -> Any:
    row = conn.execute(select(feedback_items).where(feedback_items.c.id == item_id)).first()
    if row is None:
        raise NotFound(f"no feedback item {item_id}")
    return row


def record_history(
    conn: Connection,
    item_id: int,
    at_us: int,
    actor: str,
    action: str,
    from_status: str | None,
    to_status: str | None,
    detail: dict[str, Any],
) -> None:
    conn.execute(
        insert(feedback_history).values(
            feedback_id=item_id,
            at_us=at_us,
            actor=actor,
            action=action,
            from_status=from_status,
            to_status=to_status,
            detail=detail,
        )
    )


def _feed(
    conn: Connection, profile_id: str | None, kind: ChangeKind, detail: dict[str, Any], at_us: int
) -> None:
    """Feedback changes go on the change feed under the person (or "" for nobody known), in
    the feed's commit order (the profiles' checkpoint lock, as ``changes.feed`` requires)."""
    seq = get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)
    record_changes(conn, [NewChange(profile_id or "", kind, detail)], seq, at_us)


def _move(
    conn: Connection, item_id: int, to: Status, actor: str, now_us: int, values: dict[str, Any]
) -> Any:
    row = get_item(conn, item_id)
    current = Status(row.status)
    if to not in NEXT[current]:
        allowed = ", ".join(s.value for s in NEXT[current]) or "nothing"
        raise InvalidInput(
            f"feedback {item_id} is {current.value}; from there it can go to {allowed}"
        )
    changes: dict[str, Any] = {"status": to.value, "updated_at_us": now_us, **values}
    if to in (Status.ASSIGNED, Status.IN_PROGRESS, Status.RESOLVED) and row.responded_at_us is None:
        changes["responded_at_us"] = now_us
    if to is Status.RESOLVED:
        changes["resolved_at_us"] = now_us
    if to is Status.IN_PROGRESS and current in (Status.RESOLVED, Status.NOTIFIED):
        changes |= {"resolved_at_us": None, "notified_at_us": None, "message_key": None}
    conn.execute(update(feedback_items).where(feedback_items.c.id == item_id).values(**changes))
    action = {
        Status.ASSIGNED: "assigned",
        Status.IN_PROGRESS: "reopened"
        if current in (Status.RESOLVED, Status.NOTIFIED)
        else "started",
        Status.RESOLVED: "resolved",
        Status.NOTIFIED: "notified",
        Status.NEW: "updated",
    }[to]
    detail = {k: v for k, v in values.items() if k in ("assignee", "team", "resolution")}
    record_history(conn, item_id, now_us, actor, action, current.value, to.value, detail)
    profile_id = live_profile(conn, row.profile_id)
    if profile_id is not None:
        # on the person's timeline, as c360's own event (filed under the profile directly)
        step = conn.execute(
            select(func.count()).where(feedback_history.c.feedback_id == item_id)
        ).scalar_one()
        properties = {"feedback_id": item_id, "status": to.value, "topic": row.topic, **detail}
        append_events(
            conn,
            [
                activation_event(
                    profile_id,
                    "Feedback Status Changed",
                    properties,
                    f"feedback-{item_id}-{step}",
                    now_us,
                )
            ],
            now_us,
        )
    _feed(
        conn,
        profile_id,
        ChangeKind.FEEDBACK_STATUS_CHANGED,
        {
            "feedback_id": item_id,
            "from": current.value,
            "to": to.value,
            **detail,
        },
        now_us,
    )
    return get_item(conn, item_id)


def live_profile(conn: Connection, profile_id: str | None) -> str | None:
    if not profile_id:
        return None
    try:
        return live_profile_id(conn, profile_id)
    except NotFound:
        return None


def assign(
    conn: Connection,
    item_id: int,
    *,
    assignee: str | None,
    team: str | None,
    actor: str,
    now_us: int | None = None,
) -> Any:
    if not (assignee and assignee.strip()) and not (team and team.strip()):
        raise InvalidInput("give an assignee, a team, or both")
    values: dict[str, Any] = {}
    if assignee and assignee.strip():
        values["assignee"] = assignee.strip()[:200]
    if team and team.strip():
        values["team"] = team.strip()[:40]
    return _move(conn, item_id, Status.ASSIGNED, actor, _now(now_us), values)


def start(conn: Connection, item_id: int, *, actor: str, now_us: int | None = None) -> Any:
    return _move(conn, item_id, Status.IN_PROGRESS, actor, _now(now_us), {})


def resolve(
    conn: Connection, item_id: int, *, resolution: str, actor: str, now_us: int | None = None
) -> Any:
    if not resolution.strip():
        raise InvalidInput("say how it was resolved (--resolution): the customer may read it")
    return _move(
        conn,
        item_id,
        Status.RESOLVED,
        actor,
        _now(now_us),
        {"resolution": resolution.strip()[:2000]},
    )


def add_note(
    conn: Connection, item_id: int, *, text: str, actor: str, now_us: int | None = None
) -> None:
    if not text.strip():
        raise InvalidInput("a note needs text")
    row = get_item(conn, item_id)
    record_history(
        conn,
        item_id,
        _now(now_us),
        actor,
        "noted",
        row.status,
        row.status,
        {"text": text.strip()[:5000]},
    )


def history(conn: Connection, item_id: int) -> list[dict[str, Any]]:
    get_item(conn, item_id)
    rows = conn.execute(
        select(feedback_history)
        .where(feedback_history.c.feedback_id == item_id)
        .order_by(feedback_history.c.id)
    ).all()
    return [
        {
            "at": isoformat_us(r.at_us),
            "actor": r.actor,
            "action": r.action,
            "from": r.from_status,
            "to": r.to_status,
            **({"detail": r.detail} if r.detail else {}),
        }
        for r in rows
    ]


def _now(now_us: int | None) -> int:
    return system_clock() if now_us is None else now_us


# --- SLA ------------------------------------------------------------------------------------


def check_slas(engine: Engine, *, now_us: int | None = None, limit: int = 500) -> int:
    """Mark open items whose response or resolution time has passed, once each, and put an
    alert on the change feed; return how many alerts were raised."""
    now = _now(now_us)
    raised = 0
    overdue = or_(
        feedback_items.c.resolve_by_us < now,
        and_(feedback_items.c.respond_by_us < now, feedback_items.c.responded_at_us.is_(None)),
    )
    open_items = feedback_items.c.status.in_([s.value for s in OPEN_STATUSES])
    with reader(engine).connect() as conn:
        candidates = conn.execute(select(feedback_items).where(open_items, overdue).limit(limit))
        if not any(_new_breaches(r, now) for r in candidates):
            return 0  # nothing new to raise (the common case): no write lock
    with engine.begin() as conn:
        rows = conn.execute(
            select(feedback_items)
            .where(open_items, overdue)
            .order_by(feedback_items.c.id)
            .limit(limit)
        ).all()
        for row in rows:
            new = _new_breaches(row, now)
            if not new:
                continue
            breached = list(row.breached or []) + [which for which, _ in new]
            conn.execute(
                update(feedback_items)
                .where(feedback_items.c.id == row.id)
                .values(breached=breached, updated_at_us=now)
            )
            for which, at in new:
                detail = {
                    "feedback_id": row.id,
                    "sla": which,
                    "due": isoformat_us(at),
                    "level": row.level,
                    "team": row.team,
                    "assignee": row.assignee,
                    "status": row.status,
                    "topic": row.topic,
                }
                record_history(
                    conn, row.id, now, "c360", "breached", row.status, row.status, detail
                )
                _feed(
                    conn,
                    live_profile(conn, row.profile_id),
                    ChangeKind.FEEDBACK_SLA_BREACHED,
                    detail,
                    now,
                )
                raised += 1
    if raised:
        log.warning("%d feedback SLA breach(es) raised", raised)
    return raised


def _new_breaches(row: Any, now: int) -> list[tuple[str, int]]:
    """The SLAs of an item that have passed and were not raised yet: (which, due time)."""
    due: list[tuple[str, int]] = []
    if row.responded_at_us is None and row.respond_by_us and row.respond_by_us < now:
        due.append(("respond", row.respond_by_us))
    if row.resolve_by_us and row.resolve_by_us < now:
        due.append(("resolve", row.resolve_by_us))
    return [(which, at) for which, at in due if which not in (row.breached or [])]


# --- closing the loop -------------------------------------------------------------------------

_SENT = ("sent", "delivered")
_NOT_SENT = ("skipped", "failed", "bounced", "cancelled")
FAILED_PREFIX = "failed:"


def follow_notifications(engine: Engine, *, now_us: int | None = None, limit: int = 500) -> int:
    """Move resolved items whose thank-you was sent to ``customer_notified``; record the reason
    when it could not be sent. Returns the items moved."""
    now = _now(now_us)
    moved = 0
    with reader(engine).connect() as conn:
        waiting = conn.execute(
            select(feedback_items.c.id)
            .where(
                feedback_items.c.status == Status.RESOLVED.value,
                feedback_items.c.message_key.is_not(None),
                feedback_items.c.message_key.not_like(FAILED_PREFIX + "%"),
            )
            .limit(1)
        ).first()
    if waiting is None:
        return 0
    with engine.begin() as conn:
        rows = conn.execute(
            select(
                feedback_items.c.id,
                feedback_items.c.message_key,
                messages.c.status,
                messages.c.reason,
                messages.c.sent_at_us,
                messages.c.channel,
            )
            .join(messages, messages.c.key == feedback_items.c.message_key)
            .where(
                feedback_items.c.status == Status.RESOLVED.value,
                messages.c.status.in_(_SENT + _NOT_SENT),
            )
            .limit(limit)
        ).all()
        for row in rows:
            if row.status in _SENT:
                _move(
                    conn,
                    row.id,
                    Status.NOTIFIED,
                    "c360",
                    now,
                    {"notified_at_us": row.sent_at_us or now},
                )
                moved += 1
            else:
                conn.execute(
                    update(feedback_items)
                    .where(feedback_items.c.id == row.id)
                    .values(message_key=FAILED_PREFIX + row.message_key, updated_at_us=now)
                )
                record_history(
                    conn,
                    row.id,
                    now,
                    "c360",
                    "notify_failed",
                    Status.RESOLVED.value,
                    Status.RESOLVED.value,
                    {"channel": row.channel, "status": row.status, "reason": row.reason},
                )
    return moved
