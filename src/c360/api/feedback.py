"""Feedback over HTTP: ``/api/feedback`` (list, show, assign, start, resolve and notify, notes,
report). Read keys read; admin keys change (the management router's rules)."""

from collections.abc import Set
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine, and_, or_, select

from c360.activation.channels import ChannelName
from c360.api.errors import ErrorBody
from c360.api.inputs import IsoTime, NoNulInput
from c360.feedback import report as reports
from c360.feedback import service
from c360.feedback.model import FeedbackConfig, Status
from c360.feedback.notify import notify_customer
from c360.identity.features import NODE_RECORD
from c360.kernel.clock import isoformat_us, to_us
from c360.storage.tables import feedback_items, identity_nodes, profile_events

BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not JSON"},
    422: {
        "model": ErrorBody,
        "description": "A field is missing or wrong, or the move is not allowed",
    },
}

FeedbackId = Annotated[int, Path(ge=1, le=2**62, description="The feedback item's id")]
STATUSES = tuple(s.value for s in Status)


class FeedbackOut(BaseModel):
    id: int
    status: str
    level: str = Field(description="P1 (most urgent) .. P4")
    priority: int = Field(description="0..100 (docs/feedback.md)")
    team: str
    assignee: str | None
    kind: str = Field(description="direct, indirect or inferred")
    channel: str
    received_at: str
    profile_id: str | None = Field(description="The person now (following merges)")
    subject: str | None
    text: str | None
    rating: float | None
    rating_scale: int | None
    language: str
    sentiment: str
    sentiment_score: float
    topic: str
    cues: list[str]
    factors: dict[str, Any]
    respond_by: str | None
    resolve_by: str | None
    responded_at: str | None
    resolved_at: str | None
    notified_at: str | None
    breached: list[str]
    resolution: str | None


class FeedbackPage(BaseModel):
    items: list[FeedbackOut]
    next: str | None = Field(description="Cursor for the next page (older items)")


class FeedbackDetail(FeedbackOut):
    analysis: dict[str, Any]
    history: list[dict[str, Any]]


class AssignIn(NoNulInput):
    assignee: str | None = Field(None, max_length=200)
    team: str | None = Field(None, max_length=40)


class ResolveIn(NoNulInput):
    resolution: str = Field(min_length=1, max_length=2000)
    notify: bool = Field(False, description="Thank the customer on their channel")


class NoteIn(NoNulInput):
    text: str = Field(min_length=1, max_length=5000)


def out(conn: Any, row: Any) -> dict[str, Any]:
    def at(value: int | None) -> str | None:
        return isoformat_us(value) if value is not None else None

    return {
        "id": row.id,
        "status": row.status,
        "level": row.level,
        "priority": row.priority,
        "team": row.team,
        "assignee": row.assignee,
        "kind": row.kind,
        "channel": row.channel,
        "received_at": isoformat_us(row.received_at_us),
        "profile_id": service.live_profile(conn, row.profile_id),
        "subject": row.subject,
        "text": row.text,
        "rating": row.rating,
        "rating_scale": row.rating_scale,
        "language": row.language,
        "sentiment": row.sentiment,
        "sentiment_score": row.sentiment_score,
        "topic": row.topic,
        "cues": list((row.analysis or {}).get("cues", [])),
        "factors": row.factors,
        "respond_by": at(row.respond_by_us),
        "resolve_by": at(row.resolve_by_us),
        "responded_at": at(row.responded_at_us),
        "resolved_at": at(row.resolved_at_us),
        "notified_at": at(row.notified_at_us),
        "breached": list(row.breached or []),
        "resolution": row.resolution,
    }


def add_feedback_routes(
    router: APIRouter,
    engine: Engine,
    read_engine: Engine,
    config: FeedbackConfig,
    channels: Set[ChannelName],
    timezone: str,
) -> None:
    def actor(request: Request) -> str:
        """Who acts on an item: the signed-in user of the web app, or the key's name."""
        user = getattr(request.state, "user", None)
        if user is not None:
            return str(user.actor_name)
        key = getattr(request.state, "api_key", None)
        return f"key:{key.name}" if key is not None else "api"

    @router.get("/feedback", response_model=FeedbackPage, tags=["feedback"])
    def list_feedback(
        status: Annotated[str | None, Query(pattern="^(open|" + "|".join(STATUSES) + ")$")] = None,
        team: Annotated[str | None, Query(max_length=40)] = None,
        topic: Annotated[str | None, Query(max_length=40)] = None,
        level: Annotated[str | None, Query(pattern="^P[1-4]$")] = None,
        sentiment: Annotated[Literal["negative", "neutral", "positive"] | None, Query()] = None,
        profile_id: Annotated[str | None, Query(max_length=36)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    ) -> dict[str, Any]:
        """Feedback items, most urgent first within a page of the newest (``status=open``:
        new, assigned or in progress)."""
        with read_engine.connect() as conn:
            query = select(feedback_items)
            if status == "open":
                query = query.where(
                    feedback_items.c.status.in_(
                        [Status.NEW.value, Status.ASSIGNED.value, Status.IN_PROGRESS.value]
                    )
                )
            elif status:
                query = query.where(feedback_items.c.status == status)
            if team:
                query = query.where(feedback_items.c.team == team)
            if topic:
                query = query.where(feedback_items.c.topic == topic)
            if level:
                query = query.where(feedback_items.c.level == level)
            if sentiment:
                query = query.where(feedback_items.c.sentiment == sentiment)
            if profile_id:
                query = query.where(_of_profile(conn, profile_id))
            if cursor:
                query = query.where(feedback_items.c.id < int(cursor))
            rows = conn.execute(query.order_by(feedback_items.c.id.desc()).limit(limit + 1)).all()
            page = rows[:limit]
            items = sorted((out(conn, r) for r in page), key=lambda i: (i["level"], -i["id"]))
            return {"items": items, "next": str(page[-1].id) if len(rows) > limit else None}

    @router.get("/feedback/report", tags=["feedback"])
    def feedback_report(
        since: Annotated[IsoTime | None, Query(description="ISO 8601; default 30 days ago")] = None,
        until: Annotated[IsoTime | None, Query(description="ISO 8601; default now")] = None,
        period: Annotated[Literal["day", "week"], Query()] = "day",
    ) -> dict[str, Any]:
        """Volume by topic and sentiment, NPS and CSAT trends, times against SLA, top issues."""
        with read_engine.connect() as conn:
            return reports.build_report(
                conn,
                config,
                since_us=_time(since),
                until_us=_time(until),
                period=period,
                default_tz=timezone,
            ).as_json()

    @router.get("/feedback/{item_id}", response_model=FeedbackDetail, tags=["feedback"])
    def show(item_id: FeedbackId) -> dict[str, Any]:
        """One item with its analysis and history (notes included)."""
        with read_engine.connect() as conn:
            row = service.get_item(conn, item_id)
            return {
                **out(conn, row),
                "analysis": row.analysis,
                "history": service.history(conn, item_id),
            }

    @router.post(
        "/feedback/{item_id}/assign",
        response_model=FeedbackOut,
        tags=["feedback"],
        responses=BODY_ERRORS,
    )
    def assign(item_id: FeedbackId, body: AssignIn, request: Request) -> dict[str, Any]:
        """Give the item to a person and/or a team."""
        with engine.begin() as conn:
            row = service.assign(
                conn, item_id, assignee=body.assignee, team=body.team, actor=actor(request)
            )
            return out(conn, row)

    @router.post(
        "/feedback/{item_id}/start",
        response_model=FeedbackOut,
        tags=["feedback"],
        responses=BODY_ERRORS,
    )
    def start(item_id: FeedbackId, request: Request) -> dict[str, Any]:
        """Work has begun (or a resolved item is reopened)."""
        with engine.begin() as conn:
            return out(conn, service.start(conn, item_id, actor=actor(request)))

    @router.post("/feedback/{item_id}/resolve", tags=["feedback"], responses=BODY_ERRORS)
    def resolve(item_id: FeedbackId, body: ResolveIn, request: Request) -> dict[str, Any]:
        """Resolve, and with ``notify`` thank the customer on their own channel."""
        with engine.begin() as conn:
            row = service.resolve(conn, item_id, resolution=body.resolution, actor=actor(request))
            notified = None
            if body.notify:
                notified = notify_customer(
                    conn,
                    config,
                    item_id,
                    available=channels,
                    default_tz=timezone,
                    actor=actor(request),
                ).as_json()
            return {"item": out(conn, service.get_item(conn, row.id)), "notify": notified}

    @router.post("/feedback/{item_id}/notes", tags=["feedback"], responses=BODY_ERRORS)
    def note(item_id: FeedbackId, body: NoteIn, request: Request) -> dict[str, Any]:
        """Add an agent's note to the item's history."""
        with engine.begin() as conn:
            service.add_note(conn, item_id, text=body.text, actor=actor(request))
            return {"history": service.history(conn, item_id)}


def _of_profile(conn: Any, profile_id: str) -> Any:
    """Items whose event or record is filed under the profile now (following merges of the
    items' stored profile too)."""
    seqs = select(profile_events.c.seq).where(profile_events.c.profile_id == profile_id)
    records = select(identity_nodes.c.source_id, identity_nodes.c.node_key).where(
        identity_nodes.c.profile_id == profile_id, identity_nodes.c.node_type == NODE_RECORD
    )
    by_record = [
        and_(feedback_items.c.source_id == s, feedback_items.c.origin_key == f"r:{k}")
        for s, k in conn.execute(records.limit(1000)).all()
    ]
    return or_(
        feedback_items.c.profile_id == profile_id,
        and_(feedback_items.c.origin_key.like("e:%"), feedback_items.c.seq.in_(seqs)),
        *by_record,
    )


def _time(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return to_us(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
