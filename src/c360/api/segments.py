"""Segments over HTTP: ``/api/segments``.

Saved segments (create, list, show, change, delete), a preview of any condition (how many
profiles meet it now and a few of them), a segment's members page by page, and an export of
every member streamed as CSV or JSON Lines. The condition language is in ``docs/segments.md``.

A condition that cannot be read answers 422 with the ``line`` and ``column`` of the mistake.
"""

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from c360.api.errors import ErrorBody
from c360.api.inputs import NoNulInput
from c360.errors import NotFound
from c360.kernel.clock import isoformat_us
from c360.privacy.purposes import check_purpose
from c360.profiles.export import (
    EXPORT_PURPOSE,
    LeftOut,
    export_lines,
    parse_traits,
    people,
    permitted,
)
from c360.profiles.golden import display_name
from c360.segments import language as L
from c360.segments import service

NAME_RULE = (
    "1-100 letters, digits, spaces and _ . : -, starting with a letter or digit "
    '(unique; how other segments refer to it with `in segment "NAME"`)'
)
CONDITION_TEXT = (
    'The condition in the text form, e.g. `country = "TH" and lifetime_value >= 20000` '
    "(docs/segments.md). Give this or `condition_json`."
)
CONDITION_JSON = (
    "The condition in the JSON form (`condition_json` of a segment), e.g. "
    '`{"type": "compare", "path": "country", "op": "=", "value": "TH"}`. '
    "Give this or `condition`."
)
TIMEZONE = (
    "IANA time zone the condition's dates, days and anniversaries are read in "
    "(default: the server's C360_TIMEZONE)"
)

CURSOR_PATTERN = "^[0-9A-Za-z_-]{1,36}$"
"""A profile id."""

_Description = Annotated[str | None, Field(max_length=2000, description="What it is for")]


class SegmentIn(NoNulInput):
    name: str = Field(min_length=1, max_length=100, description=NAME_RULE)
    condition: str | None = Field(None, max_length=L.MAX_TEXT_CHARS, description=CONDITION_TEXT)
    condition_json: dict[str, Any] | None = Field(None, description=CONDITION_JSON)
    timezone: str | None = Field(None, max_length=100, description=TIMEZONE)
    description: _Description = None


class SegmentPatch(NoNulInput):
    condition: str | None = Field(None, max_length=L.MAX_TEXT_CHARS, description=CONDITION_TEXT)
    condition_json: dict[str, Any] | None = Field(None, description=CONDITION_JSON)
    timezone: str | None = Field(None, max_length=100, description=TIMEZONE)
    description: _Description = None


class PreviewIn(NoNulInput):
    condition: str | None = Field(None, max_length=L.MAX_TEXT_CHARS, description=CONDITION_TEXT)
    condition_json: dict[str, Any] | None = Field(None, description=CONDITION_JSON)
    timezone: str | None = Field(None, max_length=100, description=TIMEZONE)
    sample: int = Field(10, ge=0, le=100, description="How many matching profiles to show")


class SegmentOut(BaseModel):
    id: int
    name: str
    condition: str = Field(description="The condition's canonical text form")
    condition_json: dict[str, Any] = Field(description="The same condition in the JSON form")
    timezone: str
    description: str | None
    version: int = Field(description="1 when created, one more on every change")
    members: int = Field(description="How many profiles are in the segment now")
    created_at: str
    updated_at: str


class SegmentList(BaseModel):
    segments: list[SegmentOut]


class Deleted(BaseModel):
    deleted: str
    members: int = Field(description="How many members left the segment (segment_exited)")


class PersonOut(BaseModel):
    id: str
    name: str | None
    email: str | None
    phone: str | None


class PreviewOut(BaseModel):
    condition: str = Field(description="The condition's canonical text form")
    count: int = Field(description="How many live profiles meet the condition now")
    sample: list[PersonOut]
    took_ms: float


class MemberOut(BaseModel):
    profile_id: str
    entered_at: str
    name: str | None
    email: str | None
    phone: str | None


class MembersPage(BaseModel):
    segment: str
    members: list[MemberOut]
    next: str | None = Field(description="Cursor for the next page, or null at the end")


WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not JSON"},
    409: {"model": ErrorBody, "description": "The name is taken, or another segment uses it"},
    422: {
        "model": ErrorBody,
        "description": "Invalid parameters, or a condition that cannot be read (with its "
        "line and column)",
    },
}
EXPORT_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One row per member: profile_id, entered_at, name, email, phone, country "
        "and the traits asked for",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    },
    422: {
        "model": ErrorBody,
        "description": "A wrong parameter, or a consent purpose that is not configured",
    },
}


def condition_from(text: str | None, json_form: dict[str, Any] | None) -> Any:
    """The condition of a request body (text or JSON form, exactly one)."""
    return service.read_condition(text=text, json_form=json_form)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def person(pid: str, values: dict[str, Any]) -> PersonOut:
    return PersonOut(
        id=pid,
        name=display_name(values),
        email=_text(values.get("email")),
        phone=_text(values.get("phone")),
    )


def _segment_out(segment: service.Segment) -> SegmentOut:
    return SegmentOut.model_validate(segment.as_json())


def _existing_name(name: str) -> str:
    if "\x00" in name:  # no segment can be named so (the store refuses NUL in text)
        raise NotFound(f"no segment named {name!r}")
    return name


SegmentName = Annotated[str, Path(min_length=1, max_length=100, description="The segment's name")]


def add_segment_routes(
    router: APIRouter, engine: Engine, read_engine: Engine, default_timezone: str = "UTC"
) -> None:
    """The ``/segments`` routes on the management router (its keys and roles apply: writes
    need an admin key; reads, previews included, a read key)."""

    @router.get("/segments", response_model=SegmentList, tags=["segments"])
    def list_segments() -> SegmentList:
        """Every saved segment with its condition and how many members it has now."""
        with read_engine.connect() as conn:
            found = service.list_segments(conn)
        return SegmentList(segments=[_segment_out(s) for s in found])

    @router.post(
        "/segments",
        response_model=SegmentOut,
        status_code=201,
        responses=WRITE_ERRORS,
        tags=["segments"],
    )
    def create_segment(body: SegmentIn) -> SegmentOut:
        """Save a segment; its members are computed at once (each enters the change feed
        with ``segment_entered``) and kept current from then on."""
        condition = condition_from(body.condition, body.condition_json)
        with engine.begin() as conn:
            segment = service.create_segment(
                conn,
                body.name,
                condition,
                timezone=body.timezone or default_timezone,
                description=body.description,
            )
        return _segment_out(segment)

    @router.post(
        "/segments/preview",
        response_model=PreviewOut,
        responses={k: v for k, v in WRITE_ERRORS.items() if k != 409},
        tags=["segments"],
    )
    def preview_segment(body: PreviewIn) -> PreviewOut:
        """How many profiles meet a condition now and a few of them; nothing is saved
        (a read key may preview)."""
        condition = condition_from(body.condition, body.condition_json)
        with read_engine.connect() as conn:
            found = service.preview(
                conn, condition, timezone=body.timezone or default_timezone, sample=body.sample
            )
            values = people(conn, found.sample)
        return PreviewOut(
            condition=L.to_text(condition),
            count=found.count,
            sample=[person(pid, values.get(pid, {})) for pid in found.sample],
            took_ms=round(found.took_ms, 3),
        )

    @router.get("/segments/{name}", response_model=SegmentOut, tags=["segments"])
    def show_segment(name: SegmentName) -> SegmentOut:
        """A segment: its condition (text and JSON), time zone, version and member count."""
        with read_engine.connect() as conn:
            return _segment_out(service.get_segment(conn, _existing_name(name)))

    @router.patch(
        "/segments/{name}",
        response_model=SegmentOut,
        responses=WRITE_ERRORS,
        tags=["segments"],
    )
    def update_segment(name: SegmentName, body: SegmentPatch) -> SegmentOut:
        """Change a segment's condition, time zone or description; its members are computed
        again (whoever enters or leaves is in the change feed), and so are the segments that
        use it."""
        _existing_name(name)
        condition = None
        if body.condition is not None or body.condition_json is not None:
            condition = condition_from(body.condition, body.condition_json)
        with engine.begin() as conn:
            segment = service.update_segment(
                conn,
                name,
                condition=condition,
                timezone=body.timezone,
                description=body.description,
            )
        return _segment_out(segment)

    @router.delete(
        "/segments/{name}",
        response_model=Deleted,
        responses=WRITE_ERRORS,
        tags=["segments"],
    )
    def delete_segment(name: SegmentName) -> Deleted:
        """Delete a segment; its members leave (``segment_exited``). Refused (409) while
        another segment uses it."""
        with engine.begin() as conn:
            members = service.delete_segment(conn, _existing_name(name))
        return Deleted(deleted=name, members=members)

    @router.get(
        "/segments/{name}/members",
        response_model=MembersPage,
        tags=["segments"],
    )
    def segment_members(
        name: SegmentName,
        cursor: Annotated[
            str | None,
            Query(pattern=CURSOR_PATTERN, description="The 'next' of the previous page"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> MembersPage:
        """A segment's members in profile id order with when each entered; follow ``next``."""
        _existing_name(name)
        after = cursor or None
        with read_engine.connect() as conn:
            _segment, rows = service.members_page(conn, name, after=after, limit=limit + 1)
            page = rows[:limit]
            values = people(conn, (pid for pid, _ in page))
        members = []
        for pid, entered in page:
            who = person(pid, values.get(pid, {}))
            members.append(
                MemberOut(
                    profile_id=pid,
                    entered_at=isoformat_us(entered),
                    name=who.name,
                    email=who.email,
                    phone=who.phone,
                )
            )
        more = len(rows) > limit
        return MembersPage(segment=name, members=members, next=page[-1][0] if more else None)

    @router.get(
        "/segments/{name}/export",
        response_class=StreamingResponse,
        responses=EXPORT_CONTENT,
        tags=["segments"],
    )
    def export_segment(
        name: SegmentName,
        file_format: Annotated[
            Literal["csv", "jsonl"],
            Query(alias="format", description="csv (with a header) or jsonl"),
        ] = "jsonl",
        traits: Annotated[
            str | None,
            Query(
                max_length=2000,
                description="Extra columns, comma-separated: names (dotted for nested values) "
                "in the profile's values, e.g. lifetime_value,rfm.segment",
            ),
        ] = None,
        purpose: Annotated[
            str,
            Query(
                pattern=r"^[a-z][a-z0-9_]{0,49}$",
                description="The consent purpose members need to be exported, one of the "
                "configured ones (docs/consent.md); people whose processing is restricted are "
                "never exported",
            ),
        ] = EXPORT_PURPOSE,
        channel: Annotated[
            str | None,
            Query(
                pattern=r"^[a-z]{1,10}$",
                description="Check consent on this channel (email, sms, line, zalo, push, "
                "phone) rather than purpose-wide",
            ),
        ] = None,
    ) -> Response:
        """Every member with consent to ``purpose``, streamed: one CSV row or JSON line per
        member. The headers ``X-C360-Left-Out-Consent`` and ``X-C360-Left-Out-Restricted``
        count the members left out (as the export started)."""
        wanted = parse_traits(traits)
        check_purpose(purpose)
        tally = LeftOut()
        with read_engine.connect() as conn:
            service.get_segment(conn, _existing_name(name))  # 404 before the stream starts
            for _chunk in permitted(
                conn, service.iter_members(conn, name), purpose, channel, tally
            ):
                pass

        def stream() -> Iterator[bytes]:
            with read_engine.connect() as conn:
                members = permitted(
                    conn, service.iter_members(conn, name), purpose, channel, LeftOut()
                )
                try:
                    for text, _count in export_lines(members, file_format, wanted):
                        yield text.encode("utf-8")
                except NotFound:  # deleted while streaming: the export ends there
                    return

        media = "text/csv; charset=utf-8" if file_format == "csv" else "application/x-ndjson"
        filename = f"segment.{file_format}"
        return StreamingResponse(
            stream(),
            media_type=media,
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "X-C360-Consent-Purpose": purpose,
                "X-C360-Left-Out-Consent": str(tally.consent),
                "X-C360-Left-Out-Restricted": str(tally.restricted),
            },
        )
