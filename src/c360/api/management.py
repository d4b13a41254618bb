"""The management API (``/api/*``): profiles, events, sources and their quarantine.

Every route takes ``Authorization: Bearer <key>`` or a web session's cookie (with its CSRF token
on changes); the caller's role decides what it may call (:mod:`c360.privacy.roles`: 403
otherwise) and which personal data it sees unmasked. Writer keys are refused (403).
"""

from collections.abc import Callable, Sequence
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from c360.activation.channels import ChannelName
from c360.activation.policy import DEFAULT_RULES, RuleBook
from c360.api.audit import add_audit_routes
from c360.api.auth import MASKING_STATE, Caller, SessionAuth, identify
from c360.api.changes import FeedBell, add_change_routes
from c360.api.consent import add_consent_routes
from c360.api.dashboard import add_dashboard_routes
from c360.api.errors import ERROR_RESPONSES, ErrorBody
from c360.api.feedback import add_feedback_routes
from c360.api.journeys import add_journey_routes, add_suppression_routes
from c360.api.personalize import add_personalize_routes
from c360.api.privacy import add_privacy_routes
from c360.api.profiles import add_profile_routes
from c360.api.segments import add_segment_routes
from c360.api.web_customers import add_web_customers_routes
from c360.api.web_data import add_web_data_routes
from c360.api.web_feedback import add_web_feedback_routes
from c360.errors import InvalidInput, NotFound
from c360.eventlog import service as log_service
from c360.feedback.model import FeedbackConfig
from c360.kernel.clock import isoformat_us, system_clock
from c360.privacy.keys import KeyCache
from c360.privacy.roles import authorize, hidden_fields
from c360.profiles import service as profile_service
from c360.profiles.model import Profile
from c360.profiles.traits import at_read
from c360.standardize.quality import as_json, quality_report
from c360.storage.engine import reader
from c360.workers.processor import PROFILES_CHECKPOINT


class IdentifierOut(BaseModel):
    type: str
    value: str
    source: str


class RecordRef(BaseModel):
    source: str = Field(max_length=100)
    record_id: str = Field(max_length=1000, description="A record id, userId or anonymousId")


class SplitIn(BaseModel):
    records: list[RecordRef] = Field(min_length=1, max_length=10_000)
    reason: str = Field(min_length=1, max_length=2000)


class SplitOut(BaseModel):
    profile_ids: list[str] = Field(description="The profiles the records are in now")


class DecisionIn(BaseModel):
    decision: str = Field(pattern="^(same|apart)$")
    reason: str = Field("", max_length=2000)


BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not JSON"},
    409: {"model": ErrorBody, "description": "The decision conflicts with the profile's state"},
}


class ReviewsPage(BaseModel):
    total: int
    items: list[dict[str, Any]]


class ProfileOut(BaseModel):
    id: str
    traits: dict[str, Any]
    identifiers: list[IdentifierOut]
    event_count: int
    household_id: str | None = None
    golden: dict[str, Any] | None = Field(
        None,
        description="The golden record: each field's value with its provenance, every "
        "alternative value with its sources, every address",
    )
    computed: dict[str, Any] = Field(
        default_factory=dict,
        description="Computed traits: lifetime value, order count, RFM, preferred channel, "
        "best contact hours, open tickets, last NPS, sentiment, churn risk, user-defined traits",
    )
    linked: dict[str, int] = Field(
        default_factory=dict, description="How many records of each kind the profile holds"
    )
    segments: list[str] = Field(
        default_factory=list, description="The segments the profile is in now, by name"
    )


class EventOut(BaseModel):
    seq: int
    messageId: str
    type: str
    source: str
    receivedAt: str
    timestamp: str
    payload: dict[str, Any]


class EventsPage(BaseModel):
    events: list[EventOut]
    next: str | None = Field(description="Cursor for the next (older) page, or null at the end")


class RejectOut(BaseModel):
    id: int
    reason: str
    detail: str
    messageId: str | None
    receivedAt: str
    stage: str = Field(description="tracking, import, webhook or processing")
    origin: str | None = Field(description="Where the item came from (file:line, table row)")
    resolvedAt: str | None = Field(description="When a retry brought the item in")
    payload: str = Field(description="The raw bytes of the item, decoded as UTF-8 (lossy)")


class FieldQualityOut(BaseModel):
    kind: str = Field(description="The record kind the field belongs to")
    field: str
    section: str = Field(description="fields, identifiers or custom (as in the mapping)")
    type: str
    present: int
    valid: int
    completeness: float = Field(
        description="Share of the source's records of the kind with a value"
    )
    validity: float | None = Field(description="Share of present values that standardized")
    duplicates: int | None = Field(
        description="Identifier values held by more than one contact or subscription record"
    )
    conflicts: int | None = Field(
        description="Key identifiers shared with another source that disagrees on this field"
    )


class SourceQualityOut(BaseModel):
    source: str
    records: int
    kinds: dict[str, int]
    last_received_at: str | None
    last_record_change_at: str | None
    quarantined_open: int
    quarantined_resolved: int
    quarantine_reasons: dict[str, int]
    fields: list[FieldQualityOut]
    unconfigured_purposes: dict[str, int] = Field(
        default_factory=dict,
        description="Consent statements from this source per purpose that is not configured "
        "(kept in the ledger; they count once the purpose is configured)",
    )


class RejectsPage(BaseModel):
    source: str
    rejects: list[RejectOut]
    next: str | None


class SourceOut(BaseModel):
    id: int
    name: str
    rate_limit_per_s: float | None


class MessageRecord(BaseModel):
    source: str
    seq: int
    type: str
    receivedAt: str
    processed: bool


class MessageStatus(BaseModel):
    messageId: str
    accepted: bool = Field(description="Stored in the event log")
    records: list[MessageRecord]
    quarantined: list[RejectOut]


CURSOR_PATTERN = "^[0-9]{1,18}$"


def _cursor(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 18:
        raise InvalidInput("cursor must be a value returned as 'next' by the previous page")
    return int(value)


def known_query_only(request: Request) -> None:
    """Refuse query parameters the route does not take: a typo (``fromat=csv``, ``limt=5``)
    would otherwise be ignored without a word."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    allowed: set[str] = set()
    single: set[str] = set()
    stack = [dependant]
    while stack:
        item = stack.pop()
        allowed.update(p.alias for p in item.query_params)
        single.update(p.alias for p in item.query_params if not takes_many(p.field_info.annotation))
        stack.extend(item.dependencies)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        names = ", ".join(sorted(allowed)) or "none"
        raise InvalidInput(f"unknown query parameter {unknown[0]!r}; this route takes: {names}")
    # ?limit=5&limit=500 would silently mean the last one
    for name in sorted(single):
        given = len(request.query_params.getlist(name))
        if given > 1:
            raise InvalidInput(f"query parameter {name!r} is given {given} times; give it once")


def takes_many(annotation: Any) -> bool:
    """Whether a parameter's type is a list (``?kind=a&kind=b``) rather than one value."""
    origin = get_origin(annotation)
    if origin in (list, tuple, set, frozenset, Sequence):
        return True
    if origin in (Union, UnionType, Annotated):
        return any(takes_many(arg) for arg in get_args(annotation))
    return False


def build_router(
    engine: Engine,
    keys: KeyCache,
    bell: FeedBell | None = None,
    timezone: str = "UTC",
    webhook_allowed_hosts: str = "",
    send_rules: RuleBook = DEFAULT_RULES,
    feedback_config: FeedbackConfig | None = None,
    channels: frozenset[ChannelName] = frozenset(),
    sessions: SessionAuth | None = None,
) -> APIRouter:
    """Routes of the management API over ``engine`` (``timezone``: new segments' default;
    ``sessions``: web sign-in, else keys only)."""
    read_engine = reader(engine)

    def caller(
        request: Request,
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> Caller:
        """Who calls (key or session), whether their role may call this route, and what the
        response masks for them; sets ``request.state.actor`` (and ``.api_key`` for keys)."""
        found = identify(request, authorization, keys, sessions)
        template = getattr(request.scope.get("route"), "path", None) or request.scope["path"]
        authorize(found.role, request.method, str(template))
        request.state.actor = found.actor
        setattr(request.state, MASKING_STATE, hidden_fields(found.role))
        if found.api_key is not None:
            request.state.api_key = found.api_key
        if found.session is not None:
            request.state.user = found.session.user
        return found

    router = APIRouter(
        prefix="/api",
        dependencies=[Depends(caller), Depends(known_query_only)],
        responses=ERROR_RESPONSES,
    )

    def source_names() -> Callable[[int], str]:
        with read_engine.connect() as conn:
            names = {s.id: s.name for s in log_service.list_sources(conn)}
        return lambda source_id: names.get(source_id, str(source_id))

    @router.get("/profiles/by-identifier/{type}/{value}", response_model=ProfileOut)
    def profile_by_identifier(
        type: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,49}$")],
        value: Annotated[str, Path(min_length=1, max_length=1000)],
    ) -> Response:
        """The profile an identifier belongs to."""
        with read_engine.connect() as conn:
            return _profile_response(profile_service.find_by_identifier(conn, type, value))

    @router.get("/profiles/{profile_id}", response_model=ProfileOut)
    def profile(profile_id: Annotated[str, Path(max_length=36)]) -> Response:
        """A profile by id (an id merged into another answers with the surviving profile)."""
        with read_engine.connect() as conn:
            return _profile_response(profile_service.get_profile(conn, profile_id))

    @router.get("/profiles/{profile_id}/events", response_model=EventsPage)
    def profile_events(
        profile_id: Annotated[str, Path(max_length=36)],
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
    ) -> EventsPage:
        """A profile's events, newest first; follow ``next`` for older ones."""
        before = _cursor(cursor)
        with read_engine.connect() as conn:
            rows = profile_service.profile_events_page(conn, profile_id, limit + 1, before)
        page = rows[:limit]
        events = [
            EventOut(
                seq=seq,
                messageId=message_id,
                type=kind,
                source=source,
                receivedAt=isoformat_us(received),
                timestamp=isoformat_us(timestamp),
                payload=orjson.loads(payload),
            )
            for seq, message_id, kind, received, timestamp, payload, source in page
        ]
        more = len(rows) > limit
        return EventsPage(events=events, next=str(page[-1][0]) if more and page else None)

    @router.get("/sources", response_model=list[SourceOut])
    def list_sources() -> list[SourceOut]:
        """Every source with its rate limit."""
        with read_engine.connect() as conn:
            return [
                SourceOut(id=s.id, name=s.name, rate_limit_per_s=s.rate_limit_per_s)
                for s in log_service.list_sources(conn)
            ]

    @router.get("/sources/{source}/rejects", response_model=RejectsPage)
    def source_rejects(
        source: Annotated[str, Path(max_length=100)],
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
    ) -> RejectsPage:
        """Quarantined items of a source with reason, time and raw payload, newest first."""
        before = _cursor(cursor)
        with read_engine.connect() as conn:
            found = log_service.get_source_by_name(conn, source)
            if found is None:
                raise NotFound(f"no source named {source!r}")
            rows = log_service.list_quarantine(
                conn, source_id=found.id, include_resolved=True, limit=limit + 1, before_id=before
            )
        page = rows[:limit]
        more = len(rows) > limit
        return RejectsPage(
            source=source,
            rejects=[_reject_out(r) for r in page],
            next=str(page[-1]["id"]) if more and page else None,
        )

    @router.get("/quality", response_model=list[SourceQualityOut])
    def quality() -> list[SourceQualityOut]:
        """Data quality per source and field: completeness, validity, duplicates, conflicts,
        freshness and quarantine (the same report as ``c360 quality``)."""
        with read_engine.connect() as conn:
            report = quality_report(conn)
        return [SourceQualityOut.model_validate(entry) for entry in as_json(report)]

    @router.get("/events/{message_id}", response_model=MessageStatus)
    def message_status(message_id: Annotated[str, Path(max_length=200)]) -> MessageStatus:
        """Whether a message was accepted, when, and whether it has been processed."""
        names = source_names()
        with read_engine.connect() as conn:
            found = log_service.find_message(conn, message_id)
            quarantined = log_service.find_rejects(conn, message_id)
            checkpoint = log_service.get_checkpoint(conn, PROFILES_CHECKPOINT)
        if not found and not quarantined:
            raise NotFound("no message with this messageId was accepted or quarantined")
        return MessageStatus(
            messageId=message_id,
            accepted=bool(found),
            records=[
                MessageRecord(
                    source=names(e.source_id),
                    seq=e.seq,
                    type=e.type,
                    receivedAt=isoformat_us(e.received_at_us),
                    processed=e.seq <= checkpoint,
                )
                for e in found
            ],
            quarantined=[_reject_out(r) for r in quarantined],
        )

    @router.get("/profiles/{profile_id}/identity")
    def profile_identity(profile_id: Annotated[str, Path(max_length=36)]) -> dict[str, Any]:
        """Why these records are one person: every record, the edges holding them together
        (shared identifiers, rules, scored comparisons with their weights), the merges and
        splits, and the open questions about them."""
        from c360.identity.decisions import explain

        with read_engine.connect() as conn:
            return explain(conn, profile_id)

    @router.post("/profiles/{profile_id}/split", response_model=SplitOut, responses=BODY_ERRORS)
    def split_profile(
        profile_id: Annotated[str, Path(max_length=36)], body: SplitIn, request: Request
    ) -> SplitOut:
        """Move records out of a profile for good (the matcher never joins them again)."""
        from c360.identity.decisions import split
        from c360.profiles.service import follow_resolution

        with engine.begin() as conn:
            seq = log_service.get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)
            result, parts = split(
                conn,
                profile_id,
                [(r.source, r.record_id) for r in body.records],
                actor=_actor(request),
                reason=body.reason,
                seq=seq,
            )
            follow_resolution(conn, result, seq)
        return SplitOut(profile_ids=parts)

    @router.get("/identity/reviews", response_model=ReviewsPage)
    def identity_reviews(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> ReviewsPage:
        """Record pairs a person should decide on, strongest first."""
        from c360.identity.decisions import review_items

        with read_engine.connect() as conn:
            items, total = review_items(conn, limit=limit, offset=offset)
        return ReviewsPage(total=total, items=[i.as_json() for i in items])

    @router.post("/identity/reviews/{item_id}", responses=BODY_ERRORS)
    def decide_identity_review(
        item_id: Annotated[str, Path(pattern=r"^[0-9]{1,18}-[0-9]{1,18}$")],
        body: DecisionIn,
        request: Request,
    ) -> dict[str, Any]:
        """``same``: one person (their profiles merge); ``apart``: never merged. Remembered."""
        from c360.identity.decisions import decide_review
        from c360.profiles.service import follow_resolution

        with engine.begin() as conn:
            seq = log_service.get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)
            result = decide_review(
                conn, item_id, body.decision, actor=_actor(request), reason=body.reason, seq=seq
            )
            follow_resolution(conn, result, seq)
        return {
            "decided": item_id,
            "decision": body.decision,
            "merges": result.merges,
            "splits": result.splits,
        }

    add_profile_routes(router, read_engine)
    add_change_routes(router, read_engine, bell or FeedBell())
    add_segment_routes(router, engine, read_engine, timezone)
    add_journey_routes(router, engine, read_engine, timezone, webhook_allowed_hosts, send_rules)
    add_suppression_routes(router, engine, read_engine)
    add_personalize_routes(router, engine, read_engine, timezone)
    add_feedback_routes(
        router, engine, read_engine, feedback_config or FeedbackConfig(), channels, timezone
    )
    add_consent_routes(router, engine, read_engine)
    add_privacy_routes(router, engine, read_engine)
    add_audit_routes(router, engine, read_engine)
    add_dashboard_routes(router, read_engine, timezone)
    add_web_customers_routes(router, engine, read_engine)
    add_web_feedback_routes(router, engine, read_engine, feedback_config or FeedbackConfig())
    add_web_data_routes(router, engine, read_engine)
    return router


def _actor(request: Request) -> str:
    actor = getattr(request.state, "actor", None)
    if actor is not None:
        return str(actor.name)
    key = getattr(request.state, "api_key", None)
    return f"key {key.name}" if key is not None else "api"


def _profile_response(profile: Profile) -> Response:
    """The profile as JSON, serialized once: the hot read path skips re-validating what
    ``ProfileOut`` (the documented shape) already holds."""
    return Response(orjson.dumps(_profile_out(profile).model_dump()), media_type="application/json")


def _profile_out(profile: Profile) -> ProfileOut:
    return ProfileOut(
        id=profile.id,
        traits=profile.traits,
        identifiers=[
            IdentifierOut(type=i.type, value=i.value, source=i.source) for i in profile.identifiers
        ],
        event_count=profile.event_count,
        household_id=profile.household_id,
        golden=profile.golden,
        computed={**profile.computed, **at_read(profile.computed, system_clock())},
        linked=profile.linked,
        segments=profile.segments,
    )


def _reject_out(row: dict[str, Any]) -> RejectOut:
    return RejectOut(
        id=int(row["id"]),
        reason=str(row["reason"]),
        detail=str(row["detail"]),
        messageId=row["message_id"],
        receivedAt=isoformat_us(int(row["received_at_us"])),
        stage=row["stage"] or "tracking",
        origin=row["origin"],
        resolvedAt=isoformat_us(int(row["resolved_at_us"])) if row["resolved_at_us"] else None,
        payload=bytes(row["payload"]).decode("utf-8", "replace"),
    )
