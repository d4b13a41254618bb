"""Customer 360 reads: search, the timeline and the agent's briefing."""

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select

from c360.api.inputs import IsoTime
from c360.identity.decisions import live_profile_id
from c360.kernel.clock import to_us
from c360.profiles.briefing import briefing
from c360.profiles.golden import display_name, golden_values
from c360.profiles.search import NothingToSearch, search_profiles
from c360.profiles.timeline import (
    CURSOR_PATTERN,
    KINDS_PATTERN,
    decode_cursor,
    encode_cursor,
    parse_kinds,
    timeline_page,
)
from c360.storage.tables import profiles


class ProfileHit(BaseModel):
    id: str
    score: float
    name: str | None
    email: str | None
    phone: str | None
    country: str | None


class SearchResults(BaseModel):
    query: str
    profiles: list[ProfileHit]


class TimelinePage(BaseModel):
    profile_id: str
    items: list[dict[str, Any]]
    next: str | None = Field(description="Cursor for the next (older) page, or null at the end")


def _time(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return to_us(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def add_profile_routes(router: APIRouter, read_engine: Engine) -> None:
    """``/profiles?query=``, ``/profiles/{id}/timeline`` and ``/profiles/{id}/briefing``."""

    @router.get("/profiles", response_model=SearchResults)
    def search(
        query: Annotated[str, Query(min_length=1, max_length=200)],
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> SearchResults:
        """Profiles by name (Thai or Vietnamese script, romanized, with or without
        diacritics, the start of the last word is enough), email, phone in any local format,
        or any identifier (customer number, LINE id, order id). Best matches first."""
        with read_engine.connect() as conn:
            try:
                hits = search_profiles(conn, query, limit)
            except NothingToSearch:
                hits = []  # punctuation or spaces alone, as typed into a search box: no one
            rows = {
                r.id: r.golden
                for r in conn.execute(
                    select(profiles.c.id, profiles.c.golden).where(
                        profiles.c.id.in_([pid for pid, _ in hits])
                    )
                )
            }
        found = []
        for pid, score in hits:
            values = golden_values(rows.get(pid))
            found.append(
                ProfileHit(
                    id=pid,
                    score=score,
                    name=display_name(values),
                    email=values.get("email"),
                    phone=values.get("phone"),
                    country=values.get("country"),
                )
            )
        return SearchResults(query=query, profiles=found)

    @router.get("/profiles/{profile_id}/timeline", response_model=TimelinePage)
    def timeline(
        profile_id: Annotated[str, Path(max_length=36)],
        kinds: Annotated[str | None, Query(pattern=KINDS_PATTERN)] = None,
        since: Annotated[IsoTime | None, Query(description="ISO 8601 time, inclusive")] = None,
        until: Annotated[IsoTime | None, Query(description="ISO 8601 time, exclusive")] = None,
        cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Response:
        """Everything from every source, newest first: tracked events, orders with their
        lines, invoices, payments, shipments, tickets with their notes, survey answers,
        registrations, subscriptions. ``kinds=order,ticket`` narrows it; ``since``/``until``
        bound it (ISO times); follow ``next`` for older items."""
        wanted = parse_kinds(kinds)
        after = decode_cursor(cursor) if cursor else None
        with read_engine.connect() as conn:
            live = live_profile_id(conn, profile_id)
            items, position = timeline_page(
                conn,
                live,
                limit=limit,
                kinds=wanted,
                since_us=_time(since),
                until_us=_time(until),
                after=after,
            )
        # serialized once (the items are plain JSON already); TimelinePage documents it
        page = {
            "profile_id": live,
            "items": [i.as_json() for i in items],
            "next": encode_cursor(position) if position else None,
        }
        return Response(orjson.dumps(page), media_type="application/json")

    @router.get("/profiles/{profile_id}/briefing")
    def profile_briefing(profile_id: Annotated[str, Path(max_length=36)]) -> dict[str, Any]:
        """What an agent reads in ten seconds before answering: who this is, how to reach
        them, recent orders and deliveries, open tickets and their last notes, sentiment,
        value tier and a suggested next action."""
        with read_engine.connect() as conn:
            return briefing(conn, profile_id).as_json()
