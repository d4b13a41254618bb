"""Personalisation over HTTP: recommendations, rules, and what to show a person now.

Management routes (on the ``/api`` router: admin key to change rules, read key to read):

- ``GET /api/profiles/{id}/recommendations?limit=&window_days=``
- ``POST /api/personalize/rules``, ``GET /api/personalize/rules[?placement=]``,
  ``GET|PUT|DELETE /api/personalize/rules/{name}``
- ``GET /api/personalize/{profile_id}?placement=&recommendations=``

The public route a web page or app calls with its source's write key (the key its tracking SDK
already holds), answering content and products only, never personal data:

- ``GET /p/v1/personalize?userId=|anonymousId=&placement=&limit=``

It lives under ``/p/v1/`` because everything under ``/v1/`` goes to the lean tracking handler
(``c360.api.tracking``), which takes POSTs of messages and nothing else.
"""

import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field, StringConstraints, field_validator
from sqlalchemy import Connection, Engine

from c360.activation import personalize as service
from c360.activation.recommend import (
    DEFAULT_SETTINGS,
    ModelState,
    RecommendSettings,
    model_state,
    recommendations_for_many,
    refresh_model,
)
from c360.api.errors import STATUS, ErrorBody
from c360.api.inputs import NoNulInput
from c360.api.tracking import credentials
from c360.errors import C360Error, InvalidInput
from c360.identity.decisions import live_profile_id
from c360.kernel.clock import system_clock
from c360.privacy.keys import KeyCache, Role
from c360.segments import language as L
from c360.segments.service import read_condition
from c360.storage.engine import reader

log = logging.getLogger(__name__)

PUBLIC_PATH = "/p/v1/personalize"
MAX_PLACEMENTS = 20
"""Placements a web page may ask for in one call."""
TAGS: list[str | Enum] = ["personalisation"]


class ModelKeeper:
    """Refreshes the recommendation model from a request when it lags behind the profiles by
    more than ``max_lag_s`` (or there is none yet); a ``RecommendationRefresher`` running in
    the server keeps it closer, and then requests never wait for it."""

    def __init__(self, engine: Engine, max_lag_s: float, settings: RecommendSettings) -> None:
        self._engine = engine
        self._max_lag_us = int(max_lag_s * 1_000_000)
        self._settings = settings
        self._lock = threading.Lock()

    def ensure(self, conn: Connection) -> ModelState:
        """The model's state as ``conn`` (a reading connection) sees it, after refreshing the
        model first if it is too far behind."""
        state = model_state(conn)
        if state.current:
            return state
        if state.built and system_clock() - state.refreshed_at_us < self._max_lag_us:
            return state
        # the first model must exist before anyone reads it; later, one refresh at a time
        # and the others answer from the model as it is
        if not self._lock.acquire(blocking=not state.built):
            return state
        try:
            with self._engine.begin() as writing:
                refresh_model(writing, settings=self._settings)
        except Exception as exc:
            if not state.built:
                raise
            log.error("refreshing recommendations failed: %s", type(exc).__name__)
            return state
        finally:
            self._lock.release()
        conn.rollback()  # read the refreshed model (SQLite keeps a reader's first snapshot)
        return model_state(conn)


def _link(value: str | None) -> str | None:
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered.startswith(("https://", "http://")) or (
        lowered.startswith("/") and not lowered.startswith("//")
    ):
        return value
    raise ValueError("must be an http(s) URL or a path on the site starting with /")


class ContentIn(NoNulInput):
    """What the placement shows (any text in Thai, Vietnamese or English)."""

    title: str | None = Field(None, max_length=300)
    body: str | None = Field(None, max_length=5000)
    image: str | None = Field(None, max_length=2000, description="An http(s) URL or a /path")
    url: str | None = Field(None, max_length=2000, description="An http(s) URL or a /path")
    offer_code: str | None = Field(None, max_length=100)
    data: dict[str, Any] | None = Field(
        None, description="Anything else the page needs (at most 16 KB of JSON in all)"
    )

    @field_validator("image", "url")
    @classmethod
    def _links(cls, value: str | None) -> str | None:
        return _link(value)


CONDITION_TEXT = (
    'Who sees it, in the segment language: `in segment "vip"`, `country = "TH"`, '
    '`did "Product Viewed" in last 1 day` (docs/segments.md). Give this or `condition_json`.'
)
TIME = "ISO 8601; without an offset, in the rule's time zone. Leave out for no limit on that side."


class RuleBody(NoNulInput):
    placement: str = Field(
        min_length=1, max_length=60, description=f"Where it shows: {service.PLACEMENT_RULE}"
    )
    condition: str | None = Field(None, max_length=L.MAX_TEXT_CHARS, description=CONDITION_TEXT)
    condition_json: dict[str, Any] | None = Field(
        None, description="The condition in the JSON form. Give this or `condition`."
    )
    priority: int = Field(
        0, ge=-1_000_000, le=1_000_000, description="Higher wins among rules that hold"
    )
    content: ContentIn
    timezone: str | None = Field(
        None,
        max_length=100,
        description="IANA zone of the condition's dates and of active times without an offset "
        "(default: the server's C360_TIMEZONE)",
    )
    description: str | None = Field(None, max_length=2000)
    active_from: datetime | None = Field(None, description=f"Shown from then on. {TIME}")
    active_until: datetime | None = Field(None, description=f"Shown until then. {TIME}")


class RuleIn(RuleBody):
    name: str = Field(
        min_length=1,
        max_length=100,
        description="1-100 letters (Thai and Vietnamese too), digits, spaces and _ . : -",
    )


class RuleOut(BaseModel):
    id: int
    name: str
    placement: str
    condition: str = Field(description="The condition's canonical text form")
    condition_json: dict[str, Any]
    timezone: str
    priority: int
    content: dict[str, Any]
    description: str | None
    active_from: str | None
    active_until: str | None
    version: int = Field(description="1 when created, one more on every change")
    created_at: str
    updated_at: str


class RuleList(BaseModel):
    rules: list[RuleOut]


class Deleted(BaseModel):
    deleted: str


class ItemOut(BaseModel):
    product_id: str = Field(description="The product's id, else its SKU")
    sku: str | None
    name: str | None
    category: str | None
    price: float | None
    currency: str | None
    score: float


class RecommendationOut(ItemOut):
    reason: str = Field(description='Why: "bought with X", "popular in segment vip", ...')


class RecommendationsOut(BaseModel):
    profile_id: str
    window_days: int = Field(description="Products bought this recently are left out")
    recommendations: list[RecommendationOut]


class ChosenOut(BaseModel):
    rule: str
    priority: int
    content: dict[str, Any]


class PersonalizeOut(BaseModel):
    profile_id: str
    at: str
    personalized: bool = Field(
        description="False when the person withdrew consent to personalisation: they get "
        "what an unknown visitor gets"
    )
    placements: dict[str, ChosenOut | None] = Field(
        description="Per placement, the winning rule's content, or null when no rule holds"
    )
    recommendations: list[RecommendationOut]


class PublicChosen(BaseModel):
    content: dict[str, Any]


class PublicOut(BaseModel):
    placements: dict[str, PublicChosen | None]
    recommendations: list[ItemOut]


WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not JSON"},
    409: {"model": ErrorBody, "description": "A rule of that name exists"},
    422: {
        "model": ErrorBody,
        "description": "Invalid body, or a condition that cannot be read (with its line and "
        "column)",
    },
}

RuleName = Annotated[str, Path(min_length=1, max_length=100, description="The rule's name")]
Placements = Annotated[
    list[Annotated[str, StringConstraints(pattern=service.PLACEMENT.pattern)]] | None,
    Query(
        description="Placements to decide (repeat: placement=a&placement=b); default: every "
        "placement with an active rule",
    ),
]
ProfileId = Annotated[str, Path(max_length=36)]


def _placements(given: Sequence[str] | None, most: int | None = None) -> list[str]:
    """``placement=a&placement=b`` (at most ``most`` of them)."""
    found = list(given or ())
    if most is not None and len(found) > most:
        raise InvalidInput(f"ask for at most {most} placements at once")
    for placement in found:
        service.check_placement(placement)
    return list(dict.fromkeys(found))


def _draft(body: RuleBody) -> service.RuleDraft:
    return service.RuleDraft(
        placement=body.placement,
        condition=read_condition(text=body.condition, json_form=body.condition_json),
        content=body.content.model_dump(exclude_none=True),
        priority=body.priority,
        timezone=body.timezone,
        description=body.description,
        active_from=body.active_from,
        active_until=body.active_until,
    )


def _rule_out(rule: service.Rule) -> RuleOut:
    return RuleOut.model_validate(rule.as_json())


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def add_personalize_routes(
    router: APIRouter,
    engine: Engine,
    read_engine: Engine,
    default_timezone: str = "UTC",
    *,
    settings: RecommendSettings = DEFAULT_SETTINGS,
    max_lag_s: float = 30.0,
) -> None:
    """Recommendations, personalisation rules and decisions on the management router (its
    keys and roles apply)."""
    keeper = ModelKeeper(engine, max_lag_s, settings)

    @router.get(
        "/profiles/{profile_id}/recommendations", response_model=RecommendationsOut, tags=TAGS
    )
    def recommendations(
        profile_id: ProfileId,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
        window_days: Annotated[
            int, Query(ge=0, le=3650, description="Leave out products bought this recently")
        ] = settings.window_days,
    ) -> Response:
        """Next best products for the person: bought together with what they bought, and
        popular in their segments; never out of stock, never bought within ``window_days``."""
        wanted = replace(settings, window_days=window_days)
        with read_engine.connect() as conn:
            live = live_profile_id(conn, profile_id)
            state = keeper.ensure(conn)
            found = recommendations_for_many(conn, [live], limit, settings=wanted, state=state)
        return _json(
            {
                "profile_id": live,
                "window_days": window_days,
                "recommendations": [r.as_json() for r in found[live]],
            }
        )

    @router.get("/personalize/rules", response_model=RuleList, tags=TAGS)
    def list_rules(
        placement: Annotated[str | None, Query(pattern=service.PLACEMENT.pattern)] = None,
    ) -> RuleList:
        """Every rule (of one placement) in the order they win: placement, priority, name."""
        if placement is not None:
            service.check_placement(placement)
        with read_engine.connect() as conn:
            return RuleList(rules=[_rule_out(r) for r in service.list_rules(conn, placement)])

    @router.post(
        "/personalize/rules",
        response_model=RuleOut,
        status_code=201,
        responses=WRITE_ERRORS,
        tags=TAGS,
    )
    def create_rule(body: RuleIn) -> RuleOut:
        """Save a rule: from ``active_from`` until ``active_until`` its content shows on its
        placement to the people its condition holds for, unless a rule of higher priority
        holds too."""
        draft = _draft(body)
        with engine.begin() as conn:
            rule = service.create_rule(conn, body.name, draft, default_tz=default_timezone)
        return _rule_out(rule)

    @router.get("/personalize/rules/{name}", response_model=RuleOut, tags=TAGS)
    def get_rule(name: RuleName) -> RuleOut:
        with read_engine.connect() as conn:
            return _rule_out(service.get_rule(conn, name))

    @router.put(
        "/personalize/rules/{name}", response_model=RuleOut, responses=WRITE_ERRORS, tags=TAGS
    )
    def replace_rule(name: RuleName, body: RuleBody) -> RuleOut:
        """Replace a rule (every field; its version grows by one)."""
        draft = _draft(body)
        with engine.begin() as conn:
            rule = service.replace_rule(conn, name, draft, default_tz=default_timezone)
        return _rule_out(rule)

    @router.delete("/personalize/rules/{name}", response_model=Deleted, tags=TAGS)
    def delete_rule(name: RuleName) -> Deleted:
        with engine.begin() as conn:
            service.delete_rule(conn, name)
        return Deleted(deleted=name)

    @router.get("/personalize/{profile_id}", response_model=PersonalizeOut, tags=TAGS)
    def personalize(
        profile_id: ProfileId,
        placement: Placements = None,
        recommendations: Annotated[
            int, Query(ge=0, le=50, description="How many products to recommend")
        ] = 4,
    ) -> Response:
        """What to show this person now: per placement, the content of the active rule of
        highest priority whose condition holds, and their top recommendations."""
        wanted = _placements(placement)
        with read_engine.connect() as conn:
            decision = service.personalize(
                conn,
                profile_id,
                wanted,
                limit=recommendations,
                default_tz=default_timezone,
                settings=settings,
                state=keeper.ensure(conn) if recommendations else None,
            )
        return _json(decision.as_json())


def _parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema}


PUBLIC_PARAMETERS = [
    _parameter("userId", "The visitor's userId, if known", {"type": "string", "maxLength": 1000}),
    _parameter(
        "anonymousId",
        "The visitor's anonymousId (the tracking SDK's)",
        {"type": "string", "maxLength": 1000},
    ),
    _parameter(
        "placement",
        f"Placements to decide (repeat: placement=a&placement=b; at most {MAX_PLACEMENTS}); "
        "default: every placement with an active rule",
        {
            "type": "array",
            "maxItems": MAX_PLACEMENTS,
            "items": {"type": "string", "pattern": service.PLACEMENT.pattern},
        },
    ),
    _parameter(
        "limit",
        "How many products to recommend (default 4)",
        {"type": "integer", "minimum": 0, "maximum": 20},
    ),
    _parameter(
        "writeKey",
        "The write key, instead of the Authorization header: a simple GET, without a CORS "
        "preflight",
        {"type": "string", "maxLength": 200},
    ),
]


def build_personalize_router(
    engine: Engine,
    keys: KeyCache,
    *,
    allowed_origins: Sequence[str] = ("*",),
    default_timezone: str = "UTC",
    settings: RecommendSettings = DEFAULT_SETTINGS,
    max_lag_s: float = 30.0,
) -> APIRouter:
    """``GET /p/v1/personalize`` for web pages and apps, with the source's write key, and its
    CORS preflight. ``allowed_origins``: the sites that may call it from a browser (``*``:
    any); a browser request from another origin is refused."""
    read_engine = reader(engine)
    keeper = ModelKeeper(engine, max_lag_s, settings)
    any_origin = "*" in allowed_origins
    origins = frozenset(o.rstrip("/") for o in allowed_origins)

    def cors(request: Request) -> dict[str, str] | None:
        """The CORS headers for this request; None when its origin may not call."""
        origin = request.headers.get("origin")
        if any_origin:
            return {"Access-Control-Allow-Origin": "*"}
        if origin is None:
            return {"Vary": "Origin"}  # not a browser's cross-site call
        if origin.rstrip("/") not in origins:
            return None
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}

    def refuse(status: int, code: str, message: str, headers: dict[str, str] | None) -> Response:
        # no WWW-Authenticate: a browser would ask its user for a password (as /v1 does not)
        return _json({"code": code, "message": message}, status, dict(headers or {}))

    router = APIRouter()

    @router.options(PUBLIC_PATH, include_in_schema=False)
    def preflight(request: Request) -> Response:
        headers = cors(request)
        if headers is None:
            return refuse(403, "origin_not_allowed", "this origin may not call c360", None)
        headers.update(
            {
                "Access-Control-Allow-Methods": "GET, OPTIONS",
                "Access-Control-Allow-Headers": "authorization, x-write-key",
                "Access-Control-Max-Age": "86400",
            }
        )
        return Response(status_code=204, headers=headers)

    @router.get(
        PUBLIC_PATH,
        response_model=PublicOut,
        tags=TAGS,
        responses={
            401: {"model": ErrorBody, "description": "Missing or invalid write key"},
            403: {"model": ErrorBody, "description": "The origin may not call c360"},
            422: {"model": ErrorBody, "description": "Invalid parameters"},
        },
        # read by the handler itself, so that every refusal carries the CORS headers
        openapi_extra={"parameters": PUBLIC_PARAMETERS},
    )
    def public_personalize(request: Request) -> Response:
        """What a web page or app shows the visitor now: per placement the winning content,
        and recommended products. Authenticates with the source's write key like ``/v1``
        (Basic auth user name, ``X-Write-Key``, or ``writeKey``). Holds no personal data: no
        profile id, no rule names, no reasons. An unknown visitor gets what rules give to
        no one in particular and products popular overall."""
        headers = cors(request)
        if headers is None:
            return refuse(403, "origin_not_allowed", "this origin may not call c360", None)
        headers["Cache-Control"] = "no-store"
        query = request.query_params
        user_id, anonymous_id = query.get("userId"), query.get("anonymousId")
        raw_headers = {k.lower(): v for k, v in request.headers.raw}
        candidates = credentials(raw_headers, query.get("writeKey"))
        if not candidates:
            return refuse(
                401,
                "missing_write_key",
                "send the source's write key as the Basic auth user name, in X-Write-Key or "
                "as writeKey",
                headers,
            )
        if not any(
            (key := keys.lookup(secret)) is not None and key.role is Role.WRITER
            for secret in candidates
        ):
            return refuse(
                401, "invalid_write_key", "the write key is not valid or was revoked", headers
            )
        try:
            count = _limit(query.get("limit"))
            wanted = _placements(query.getlist("placement"), MAX_PLACEMENTS)
            for name, value in (("userId", user_id), ("anonymousId", anonymous_id)):
                if value is not None and len(value) > 1000:
                    raise InvalidInput(f"{name} is longer than 1000 characters")
            with read_engine.connect() as conn:
                state = keeper.ensure(conn) if count else None
                profile_id = service.find_visitor(conn, user_id, anonymous_id)
                decision = service.personalize(
                    conn,
                    profile_id,
                    wanted,
                    limit=count,
                    default_tz=default_timezone,
                    settings=settings,
                    state=state,
                )
        except C360Error as exc:
            status = next((STATUS[c] for c in type(exc).__mro__ if c in STATUS), 500)
            return refuse(status, exc.code, str(exc), headers)
        return _json(decision.as_json(public=True), headers=headers)

    return router


def _limit(value: str | None) -> int:
    if value is None or value == "":
        return 4
    if not value.isdigit() or not 0 <= int(value) <= 20:
        raise InvalidInput("limit must be a whole number from 0 to 20")
    return int(value)
