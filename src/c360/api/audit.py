"""Management API routes: the audit log (``/api/audit``), its chain check and the
affected-person report (docs/audit.md). Reading them is itself written to the log
(``audit.list``, ``audit.report``, ``audit.verify``) by the audit trail middleware."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from c360.api.audit_trail import flush_pending
from c360.api.inputs import IsoTime
from c360.kernel.clock import system_clock, to_us
from c360.privacy import audit
from c360.privacy.audit_report import affected_report

TIME_HELP = (
    "ISO 8601 (UTC without an offset), e.g. 2026-03-01T00:00:00Z or 2026-03-01T07:00:00+07:00"
)


class AuditEntryOut(BaseModel):
    id: int
    at: str
    actor: str = Field(description='"key:12 ops-admin", "user:alice", "cli:root", "system"')
    role: str | None
    action: str = Field(description="profile.read, segment.export, segment.update, ...")
    object_type: str | None
    object_id: str | None
    client: str | None = Field(description="The caller's address, or 'cli'")
    detail: dict[str, Any] = Field(
        description="route, method, status (the outcome), and what was shown or changed"
    )


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next: str | None = Field(description="Cursor for the next (older) page, or null at the end")


class ChainOut(BaseModel):
    ok: bool
    rows: int = Field(description="Rows verified (before the broken one, when broken)")
    broken_at: int | None = Field(description="The id of the first row that does not verify")
    reason: str | None
    head: str = Field(description="The hash of the last verified row: keep it elsewhere")


def time_us(moment: datetime | None) -> int | None:
    """Epoch microseconds of a query's time (a time without an offset is UTC)."""
    if moment is None:
        return None
    return to_us(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def add_audit_routes(router: APIRouter, engine: Engine, read_engine: Engine) -> None:
    """``GET /audit``, ``/audit/report`` and ``/audit/verify``."""

    @router.get("/audit", response_model=AuditPage, tags=["audit"])
    def list_audit(
        actor: Annotated[str | None, Query(max_length=500)] = None,
        action: Annotated[str | None, Query(max_length=60)] = None,
        object_type: Annotated[str | None, Query(max_length=40)] = None,
        object_id: Annotated[str | None, Query(max_length=1000)] = None,
        since: Annotated[IsoTime | None, Query(description=TIME_HELP)] = None,
        until: Annotated[IsoTime | None, Query(description=TIME_HELP)] = None,
        cursor: Annotated[str | None, Query(pattern="^[0-9]{1,18}$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> AuditPage:
        """Audit entries, newest first; filters combine. ``actor`` matches the whole name or
        its first word (``key:12``); ``action`` ending in ``*`` matches a prefix
        (``segment.*``); ``until`` is exclusive."""
        query = audit.AuditQuery(
            actor=actor or None,
            action=action or None,
            object_type=object_type or None,
            object_id=object_id or None,
            since_us=time_us(since),
            until_us=time_us(until),
        )
        flush_pending()  # what was answered before this request is in the log
        with read_engine.connect() as conn:
            rows = audit.list_entries(
                conn, query, before_id=int(cursor) if cursor else None, limit=limit + 1
            )
        page = rows[:limit]
        more = len(rows) > limit
        return AuditPage(
            items=[AuditEntryOut.model_validate(r) for r in page],
            next=str(page[-1]["id"]) if more and page else None,
        )

    @router.get("/audit/report", tags=["audit"])
    def audit_report(
        actor: Annotated[str, Query(min_length=1, max_length=500)],
        since: Annotated[IsoTime, Query(description=TIME_HELP)],
        until: Annotated[IsoTime | None, Query(description=TIME_HELP)] = None,
    ) -> dict[str, Any]:
        """The affected-person report: every profile ``actor`` read, exported or changed
        between ``since`` and ``until`` (default: now), with counts, when, how and from
        where; the members of exported segments as they were at the export. An empty or
        inverted period gives an empty report."""
        since_us = to_us(since if since.tzinfo else since.replace(tzinfo=UTC))
        until_us = time_us(until) or system_clock() + 1
        flush_pending()
        with read_engine.connect() as conn:
            return affected_report(conn, actor, since_us, until_us)

    @router.get("/audit/verify", response_model=ChainOut, tags=["audit"])
    def verify_audit() -> ChainOut:
        """Recompute the hash chain over every entry; names the first row that does not
        verify (changed, or a row before it removed)."""
        flush_pending()
        with read_engine.connect() as conn:
            check = audit.verify_chain(conn)
        return ChainOut(
            ok=check.ok,
            rows=check.rows,
            broken_at=check.broken_at,
            reason=check.reason,
            head=check.head,
        )
