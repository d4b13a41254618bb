"""Management API routes the web app's Data pages need beyond the rest of ``/api``: a
source's import history and current mapping, retrying its quarantined rows with a fixed
mapping (``c360 quarantine retry``), and API keys (``c360 keys``: list, create, rotate,
revoke; each change audited as the CLI audits it).

Import history is ``import_runs``: every ``c360 import`` of a file or table and every
quarantine retry, with its counts as of its last committed batch.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, select

from c360.api.errors import ErrorBody
from c360.api.inputs import NoNulInput
from c360.api.privacy import actor_of
from c360.errors import InvalidInput, NotFound
from c360.eventlog import service as log_service
from c360.ingest.mapping import parse_mapping
from c360.ingest.records import latest_mapping
from c360.kernel.clock import isoformat_us, system_clock
from c360.privacy import audit
from c360.privacy.keys import ApiKey, create_key, list_keys, revoke_key, rotate_key
from c360.privacy.roles import Role
from c360.storage.tables import import_runs, source_mappings
from c360.workers.imports import retry_quarantine

SourceName = Annotated[str, Path(max_length=100, description="The source's name")]
KeyId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The key's id")]

BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not JSON"},
    404: {"model": ErrorBody, "description": "No such source or key"},
    409: {"model": ErrorBody, "description": "The key is revoked or expired"},
}

# --- import history ------------------------------------------------------------------------


def import_history(conn: Connection, source_id: int, limit: int = 50) -> list[Any]:
    """The source's imports and quarantine retries, newest first (``import_runs``)."""
    return list(
        conn.execute(
            select(import_runs)
            .where(import_runs.c.source_id == source_id)
            .order_by(import_runs.c.started_at_us.desc(), import_runs.c.id.desc())
            .limit(limit)
        )
    )


class ImportRunOut(BaseModel):
    id: int
    kind: str = Field(description="file, table or retry (of quarantined rows)")
    location: str = Field(description="The file or table the rows came from")
    status: str = Field(description="running, done or failed")
    started_at: str
    finished_at: str | None
    mapping_version: int | None
    read: int = Field(description="Rows read (for a retry: quarantined rows tried)")
    new: int
    updated: int
    unchanged: int
    accepted: int = Field(description="new + updated + unchanged")
    quarantined: int
    error: str | None = Field(description="Why a failed run stopped")


class ImportsOut(BaseModel):
    source: str
    runs: list[ImportRunOut]


class MappingOut(BaseModel):
    source: str
    version: int
    kind: str
    text: str = Field(description="The mapping as given (YAML)")
    registered_at: str = Field(description="When it was last given (an import, a retry)")


class RetryIn(NoNulInput):
    mapping: str | None = Field(
        None,
        max_length=200_000,
        description="A fixed mapping (YAML), stored as the source's new version; "
        "default: the source's current mapping",
    )
    ids: list[int] | None = Field(
        None, max_length=10_000, description="Only these quarantined items (default: all open)"
    )


class RetryOut(BaseModel):
    source: str
    mapping_version: int
    tried: int
    accepted: int
    still_quarantined: int
    not_replayable: int = Field(description="Unreadable bytes: fix the file and import again")


# --- API keys ------------------------------------------------------------------------------


class KeyOut(BaseModel):
    id: int
    name: str
    role: str
    source: str | None = Field(description="The source a writer key writes to")
    prefix: str = Field(description="The secret's first characters, to recognise it")
    created_at: str
    revoked_at: str | None
    expires_at: str | None = Field(description="A rotated key's grace period ends then")
    state: str = Field(
        description="active, rotated (still works until expires_at), expired or revoked"
    )


class KeyCreated(KeyOut):
    secret: str = Field(description="Shown only now: the store keeps its hash")


class KeyIn(NoNulInput):
    name: str = Field(min_length=1, max_length=200, description="Who or what uses the key")
    role: Role
    source: str | None = Field(None, max_length=100, description="Writer keys: the source")


class RotateIn(NoNulInput):
    grace_s: float = Field(
        3600, ge=0, le=30 * 86_400, description="How long the old secret keeps working"
    )


class Rotated(BaseModel):
    old: KeyOut
    new: KeyCreated


def _key_out(key: ApiKey, now_us: int) -> KeyOut:
    if key.revoked_at_us:
        state = "revoked"
    elif key.expires_at_us and key.expires_at_us <= now_us:
        state = "expired"
    elif key.expires_at_us:
        state = "rotated"
    else:
        state = "active"
    return KeyOut(
        id=key.id,
        name=key.name,
        role=key.role.value,
        source=key.source_name,
        prefix=key.prefix,
        created_at=isoformat_us(key.created_at_us),
        revoked_at=isoformat_us(key.revoked_at_us) if key.revoked_at_us else None,
        expires_at=isoformat_us(key.expires_at_us) if key.expires_at_us else None,
        state=state,
    )


def add_web_data_routes(router: APIRouter, engine: Engine, read_engine: Engine) -> None:
    """Import history, mappings, quarantine retry and API keys."""

    def source_id(conn: Connection, name: str) -> int:
        found = log_service.get_source_by_name(conn, name)
        if found is None:
            raise NotFound(f"no source named {name!r}")
        return found.id

    @router.get("/sources/{source}/imports", response_model=ImportsOut, tags=["sources"])
    def source_imports(
        source: SourceName, limit: Annotated[int, Query(ge=1, le=500)] = 50
    ) -> ImportsOut:
        """The source's imports and quarantine retries, newest first: file or table, when,
        status, mapping version, and rows read, new, changed, unchanged and quarantined."""
        with read_engine.connect() as conn:
            runs = import_history(conn, source_id(conn, source), limit)
        return ImportsOut(
            source=source,
            runs=[
                ImportRunOut(
                    id=r.id,
                    kind=r.kind,
                    location=r.location,
                    status=r.status,
                    started_at=isoformat_us(r.started_at_us),
                    finished_at=isoformat_us(r.finished_at_us) if r.finished_at_us else None,
                    mapping_version=r.mapping_version,
                    read=r.read,
                    new=r.new,
                    updated=r.updated,
                    unchanged=r.unchanged,
                    accepted=r.new + r.updated + r.unchanged,
                    quarantined=r.quarantined,
                    error=r.error,
                )
                for r in runs
            ],
        )

    @router.get("/sources/{source}/mapping", response_model=MappingOut, tags=["sources"])
    def source_mapping(source: SourceName) -> MappingOut:
        """The mapping webhooks and quarantine retries use now (the one given last)."""
        with read_engine.connect() as conn:
            found = source_id(conn, source)
            current = latest_mapping(conn, found)
            if current is None:
                raise NotFound(f"source {source!r} has no mapping yet")
            row = conn.execute(
                select(source_mappings.c.body, source_mappings.c.registered_at_us).where(
                    source_mappings.c.source_id == found,
                    source_mappings.c.version == current.version,
                )
            ).one()
        return MappingOut(
            source=source,
            version=current.version,
            kind=current.mapping.kind.value,
            text=row.body,
            registered_at=isoformat_us(int(row.registered_at_us)),
        )

    @router.post(
        "/sources/{source}/rejects/retry",
        response_model=RetryOut,
        responses=BODY_ERRORS,
        tags=["sources"],
    )
    def retry_rejects(source: SourceName, body: RetryIn, request: Request) -> RetryOut:
        """Read the source's quarantined rows again (``c360 quarantine retry``), with a fixed
        mapping if given: a row that now reads is brought in and marked resolved."""
        parsed = None
        if body.mapping is not None:
            parsed = parse_mapping(body.mapping, origin="mapping")
            if parsed.source is not None and parsed.source != source:
                raise InvalidInput(f"mapping: it is for source {parsed.source!r}, not {source!r}")
        summary = retry_quarantine(
            engine, source=source, mapping=parsed, mapping_text=body.mapping, ids=body.ids
        )
        with engine.begin() as conn:
            version = latest_mapping(conn, source_id(conn, source))
            audit.record(
                conn,
                actor_of(request),
                "quarantine.retry",
                object_type="source",
                object_id=source,
                detail={
                    "mapping_version": version.version if version else None,
                    "new_mapping": body.mapping is not None,
                    "ids": body.ids,
                    "tried": summary.tried,
                    "accepted": summary.accepted,
                    "still_quarantined": summary.still_quarantined,
                },
            )
        return RetryOut(
            source=source,
            mapping_version=version.version if version else 0,
            tried=summary.tried,
            accepted=summary.accepted,
            still_quarantined=summary.still_quarantined,
            not_replayable=summary.not_replayable,
        )

    @router.get("/keys", response_model=list[KeyOut], tags=["keys"])
    def keys_list() -> list[KeyOut]:
        """Every API key (never a secret), oldest first."""
        with read_engine.connect() as conn:
            keys = list_keys(conn)
        now = system_clock()
        return [_key_out(k, now) for k in keys]

    @router.post(
        "/keys", response_model=KeyCreated, status_code=201, responses=BODY_ERRORS, tags=["keys"]
    )
    def keys_create(body: KeyIn, request: Request) -> KeyCreated:
        """Create a key; its secret is in this answer only."""
        with engine.begin() as conn:
            key, secret = create_key(conn, name=body.name, role=body.role, source=body.source)
            audit.record(
                conn,
                actor_of(request),
                "key.create",
                object_type="api_key",
                object_id=str(key.id),
                detail={"name": key.name, "role": key.role.value, "source": key.source_name},
            )
        return KeyCreated(**_key_out(key, system_clock()).model_dump(), secret=secret)

    @router.post(
        "/keys/{key_id}/rotate", response_model=Rotated, responses=BODY_ERRORS, tags=["keys"]
    )
    def keys_rotate(key_id: KeyId, body: RotateIn, request: Request) -> Rotated:
        """A new secret under the same name, role and source (in this answer only); the old
        one works until the grace period ends."""
        with engine.begin() as conn:
            old, new, secret = rotate_key(conn, key_id, grace_s=body.grace_s)
            audit.record(
                conn,
                actor_of(request),
                "key.rotate",
                object_type="api_key",
                object_id=str(old.id),
                detail={"new_key": new.id, "grace_s": body.grace_s},
            )
        now = system_clock()
        return Rotated(
            old=_key_out(old, now),
            new=KeyCreated(**_key_out(new, now).model_dump(), secret=secret),
        )

    @router.post(
        "/keys/{key_id}/revoke", response_model=KeyOut, responses=BODY_ERRORS, tags=["keys"]
    )
    def keys_revoke(key_id: KeyId, request: Request) -> KeyOut:
        """Revoke a key: servers refuse it within their key cache's lifetime (≤ 5 s)."""
        with engine.begin() as conn:
            key = revoke_key(conn, key_id)
            audit.record(
                conn, actor_of(request), "key.revoke", object_type="api_key", object_id=str(key.id)
            )
        return _key_out(key, system_clock())
