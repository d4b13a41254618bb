"""Data subject requests over HTTP: ``/api/privacy/requests`` (file, list, show, run,
reject, and an access request's export as JSON or HTML). Who may do which is the management
router's role policy (``c360.privacy.roles``: filing, reading, managing)."""

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from c360.api.errors import ErrorBody
from c360.api.inputs import NoNulInput
from c360.compliance import requests as service
from c360.privacy.audit import Actor

RequestId = Annotated[int, Path(ge=1, le=2**62, description="The privacy request's id")]

BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not JSON"},
    409: {"model": ErrorBody, "description": "The request's status does not allow this"},
}


class RequestIn(NoNulInput):
    kind: Literal["access", "erase", "rectify", "restrict", "unrestrict"]
    subject: str = Field(
        min_length=1,
        max_length=service.MAX_SUBJECT_CHARS,
        description="Who it is about: email:..., phone:... (any local format), user_id:..., "
        "another identifier type, or a profile id",
    )
    law: Literal["pdpa", "vn", "gdpr"] = Field(
        "pdpa", description="Sets the deadline: pdpa (TH), vn (Vietnam), gdpr"
    )
    detail: dict[str, Any] = Field(
        default_factory=dict,
        description='rectify: {"changes": {field: correct value}}; restrict: {"reason": ...}',
    )


class RejectIn(NoNulInput):
    reason: str = Field(min_length=1, max_length=2000)


class RequestOut(BaseModel):
    id: int
    kind: str
    status: str = Field(description="received, running, completed, failed or rejected")
    law: str
    profile_id: str | None
    subject: str | None = Field(description="As asked; cleared once the person is erased")
    requested_by: str
    received_at: str
    deadline: str
    completed_at: str | None
    overdue: bool = Field(description="Still open and past its deadline")
    detail: dict[str, Any]
    report: dict[str, Any] | None = Field(
        description="What was done: an erasure's rows removed per table and its verification"
    )
    error: str | None


class RequestsPage(BaseModel):
    items: list[RequestOut]
    next: str | None = Field(description="Cursor for the next (older) page")


def actor_of(request: Request) -> Actor:
    """Who acts: the auth dependency's actor, else one made from the API key."""
    found = getattr(request.state, "actor", None)
    if isinstance(found, Actor):
        return found
    client = request.client.host if request.client is not None else None
    key = getattr(request.state, "api_key", None)
    if key is not None:
        role = getattr(key.role, "value", key.role)
        return Actor(f"key:{key.id} {key.name}", role=str(role), client=client)
    return Actor("api", client=client)


def _out(found: service.PrivacyRequest) -> RequestOut:
    return RequestOut(**found.as_json())


def add_privacy_routes(router: APIRouter, engine: Engine, read_engine: Engine) -> None:
    """Add the privacy routes to the management router."""

    @router.post(
        "/privacy/requests",
        response_model=RequestOut,
        status_code=201,
        responses=BODY_ERRORS,
        tags=["privacy"],
    )
    def create(body: RequestIn, request: Request) -> RequestOut:
        """File a data subject request; it is received with its legal deadline, and nothing
        is done to the data until it is run."""
        with engine.begin() as conn:
            found = service.create_request(
                conn,
                kind=body.kind,
                subject=body.subject,
                law=body.law,
                actor=actor_of(request),
                detail=body.detail,
            )
        return _out(found)

    @router.get("/privacy/requests", response_model=RequestsPage, tags=["privacy"])
    def list_requests(
        status: Annotated[
            Literal["open", "received", "running", "completed", "failed", "rejected"] | None,
            Query(description="open: received, running or failed"),
        ] = None,
        kind: Annotated[
            Literal["access", "erase", "rectify", "restrict", "unrestrict"] | None, Query()
        ] = None,
        overdue: Annotated[bool, Query(description="Only open requests past their deadline")] = (
            False
        ),
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(pattern="^[0-9]{1,18}$")] = None,
    ) -> RequestsPage:
        """Requests, newest first."""
        with read_engine.connect() as conn:
            found = service.list_requests(
                conn,
                status=status,
                kind=kind,
                overdue=overdue,
                limit=limit + 1,
                before_id=int(cursor) if cursor else None,
            )
        page = found[:limit]
        more = len(found) > limit
        return RequestsPage(
            items=[_out(r) for r in page], next=str(page[-1].id) if more and page else None
        )

    @router.get("/privacy/requests/{request_id}", response_model=RequestOut, tags=["privacy"])
    def show(request_id: RequestId) -> RequestOut:
        """One request with its status, deadline and report."""
        with read_engine.connect() as conn:
            return _out(service.get_request(conn, request_id))

    @router.post(
        "/privacy/requests/{request_id}/run",
        response_model=RequestOut,
        responses=BODY_ERRORS,
        tags=["privacy"],
    )
    def run(request_id: RequestId, request: Request) -> RequestOut:
        """Carry out a received (or failed) request and answer with its outcome: an erasure
        answers once the person is gone and every table has been searched."""
        return _out(service.run_request(engine, request_id, actor_of(request)))

    @router.post(
        "/privacy/requests/{request_id}/reject",
        response_model=RequestOut,
        responses=BODY_ERRORS,
        tags=["privacy"],
    )
    def reject(request_id: RequestId, body: RejectIn, request: Request) -> RequestOut:
        """Refuse a request that is not done, saying why."""
        with engine.begin() as conn:
            return _out(service.reject_request(conn, request_id, actor_of(request), body.reason))

    @router.get(
        "/privacy/register",
        responses={
            200: {
                "content": {"application/json": {}, "text/csv": {}},
                "description": "The record of processing activities",
            }
        },
        tags=["privacy"],
    )
    def transfer_register(
        format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",
    ) -> Response:
        """The transfer register (ROPA): every sync destination, webhook subscription and
        message provider with its country, whether that is abroad, the fields it receives,
        its purpose, the legal basis to fill in, and the retention policies in force."""
        from c360.compliance.register import build_register, register_csv

        with read_engine.connect() as conn:
            found = build_register(conn)
        if format == "csv":
            return Response(
                register_csv(found),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'attachment; filename="c360-register.csv"'},
            )
        return Response(orjson.dumps(found), media_type="application/json")

    @router.get(
        "/privacy/requests/{request_id}/export",
        responses={
            200: {
                "content": {"application/json": {}, "text/html": {}},
                "description": "Everything held about the person",
            },
            409: {"model": ErrorBody, "description": "The request is not completed"},
        },
        tags=["privacy"],
    )
    def export(
        request_id: RequestId,
        format: Annotated[Literal["json", "html"], Query(description="json or html")] = "json",
    ) -> Response:
        """A completed access request's answer: everything held about the person, as JSON
        (machine-readable) or one HTML page (to read), made from the data as it is now."""
        with read_engine.connect() as conn:
            found = service.get_request(conn, request_id)
            data = service.export_of(conn, found)
        filename = f"privacy-request-{request_id}"
        if format == "html":
            return HTMLResponse(
                service.render_export_html(data),
                headers={"Content-Disposition": f'inline; filename="{filename}.html"'},
            )
        return Response(
            orjson.dumps(data, default=str),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{filename}.json"'},
        )
