"""Management API routes: consent, its proof, and recording a change with its proof.

A change is appended to the log as c360's own "Consent Changed" event filed under the
person, so the ledger and the profile's view take it through the same pipeline as any
statement (``c360.privacy.consent``). Queued messages it no longer allows are cancelled at
once, in the same transaction, so nothing leaves while the log processor catches up. Each
change is written to the audit log (``consent.change``).
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, select

from c360.activation.engine import person_zone
from c360.activation.outbox import activation_event, append_events
from c360.api.errors import ErrorBody
from c360.api.inputs import NoNulInput
from c360.errors import InvalidInput
from c360.identity.decisions import live_profile_id
from c360.kernel.clock import isoformat_us, system_clock
from c360.privacy import audit
from c360.privacy import consent as rules
from c360.privacy.consent import Statement
from c360.privacy.purposes import check_purpose, configured_purposes
from c360.storage.tables import profiles

BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not JSON"},
    404: {"model": ErrorBody, "description": "No such profile"},
    422: {"model": ErrorBody, "description": "A field is missing or wrong"},
}
ProfileId = Annotated[str, Path(min_length=1, max_length=36, description="A profile id")]
_WORD = r"^[a-z][a-z0-9_]{0,49}$"


class ConsentIn(NoNulInput):
    """One consent change with its proof."""

    profile_id: str = Field(min_length=1, max_length=36)
    kind: Literal["purpose", "subscription"] = "purpose"
    purpose: str | None = Field(
        None,
        pattern=_WORD,
        description="One of the configured purposes (GET /api/consents/purposes; by default "
        "marketing, analytics, personalisation, profiling, third_party_sharing); a "
        "subscription is for marketing",
    )
    channel: str = Field(
        "*", pattern=r"^(\*|[a-z]{1,10})$", description="email, sms, line, zalo, push, phone or *"
    )
    state: Literal["granted", "withdrawn", "subscribed", "unsubscribed"]
    method: str = Field("api", description=", ".join(rules.METHODS))
    source: str | None = Field(None, max_length=100, description="Where it was given")
    at: str | None = Field(None, max_length=40, description="When (ISO 8601); default: now")
    notice_text: str | None = Field(None, max_length=20_000, description="The text shown")
    notice_version: str | None = Field(None, max_length=100)
    evidence: str | None = Field(
        None, max_length=1000, description="e.g. a call recording id or a double opt-in token"
    )
    expires_at: str | None = Field(None, max_length=40, description="When it lapses (ISO 8601)")
    time_zone: str | None = Field(None, max_length=50, description="The person's zone then")


class ProofIn(NoNulInput):
    """A proof document as ``GET /api/profiles/{id}/consents/proof`` gives it."""

    profile_id: str | None = Field(None, max_length=36)
    time_zone: str | None = Field(None, max_length=50)
    exported_at: str | None = Field(None, max_length=40)
    state: dict[str, Any] | None = None
    entries: list[dict[str, Any]] = Field(max_length=100_000)


class PurposeOut(BaseModel):
    name: str
    labels: dict[str, str] = Field(description="By language (en, th, vi), where configured")


class UnconfiguredOut(BaseModel):
    purpose: str
    entries: int = Field(description="Ledger entries naming it")
    profiles: int = Field(description="People with such entries")
    sources: dict[str, int] = Field(description="Entries per source they came from")


class PurposesOut(BaseModel):
    configured: list[PurposeOut] = Field(description="C360_CONSENT_PURPOSES, in its order")
    unconfigured: list[UnconfiguredOut] = Field(
        description="Purposes the ledger holds statements about that are not configured: "
        "kept, shown as not configured, and counted once the purpose is configured"
    )


class Recorded(BaseModel):
    profile_id: str
    statements: int
    cancelled: int = Field(description="Queued messages cancelled because of the change")


@dataclass(frozen=True, slots=True)
class Change:
    profile_id: str
    statements: int
    cancelled: int


def actor_of(request: Request) -> audit.Actor:
    """Who is asking: the auth dependency's actor, else the API key's."""
    actor = getattr(request.state, "actor", None)
    if isinstance(actor, audit.Actor):
        return actor
    key = getattr(request.state, "api_key", None)
    client = request.client.host if request.client else None
    if key is not None:
        return audit.Actor(f"key:{key.id} {key.name}", str(key.role), client)
    return audit.Actor("api", None, client)


def record_changes(
    conn: Connection,
    profile_id: str,
    statements: Sequence[Statement],
    actor: audit.Actor,
    *,
    now_us: int | None = None,
    message_ids: Sequence[str] | None = None,
) -> Change:
    """Append ``statements`` about the person as c360's own event, cancel the queued messages
    they no longer allow, and audit the change. The edge owns the transaction."""
    now = system_clock() if now_us is None else now_us
    live = live_profile_id(conn, profile_id)
    if not statements:
        return Change(live, 0, 0)
    ids = list(message_ids) if message_ids is not None else [f"consent-{uuid.uuid4().hex}"]
    if len(ids) == 1:
        groups = [(ids[0], list(statements))]
    else:
        groups = [(i, [s]) for i, s in zip(ids, statements, strict=True)]
    append_events(
        conn,
        [
            activation_event(
                live, rules.CHANGE_EVENT, rules.change_properties(group), message_id, now
            )
            for message_id, group in groups
        ],
        now,
    )
    current = rules.fold([*rules.ledger(conn, live), *statements], now)
    cancelled = rules.cancel_unconsented(conn, rules.merged_ids(conn, live), current.consent, now)
    audit.record(
        conn,
        actor,
        "consent.change",
        object_type="profile",
        object_id=live,
        detail={
            "changes": [
                {
                    "kind": s.kind,
                    "purpose": s.purpose,
                    "channel": s.channel,
                    "state": s.state,
                    "method": s.method,
                    "notice_version": s.notice_version,
                    "notice_sha256": s.notice_sha256,
                }
                for s in statements
            ],
            "cancelled_messages": cancelled,
        },
        at_us=now,
    )
    return Change(live, len(statements), cancelled)


def proof_document(conn: Connection, profile_id: str, default_tz: str = "UTC") -> dict[str, Any]:
    """Every ledger entry of the person with its exact notice text, in UTC and their zone;
    ``import`` reads it back."""
    live = live_profile_id(conn, profile_id)
    now = system_clock()
    view = conn.execute(select(profiles.c.attributes).where(profiles.c.id == live)).scalar()
    zone = person_zone(view if isinstance(view, dict) else {}, default_tz)
    entries = rules.ledger(conn, live)
    return {
        "profile_id": live,
        "time_zone": zone.key,
        "exported_at": isoformat_us(now),
        "state": rules.state_of(entries, now),
        "entries": [rules.proof_entry(s, zone) for s in entries],
    }


def import_proof(
    conn: Connection, document: Any, actor: audit.Actor, *, profile_id: str | None = None
) -> Change:
    """Record a proof document's entries for ``profile_id`` (else the document's): each
    entry is its own log message with an id made of what it says, so the same document
    imported twice is stored once."""
    named, statements = rules.parse_proof(document)
    target = profile_id or named
    if target is None:
        raise InvalidInput("name the profile: the document has no profile_id")
    live = live_profile_id(conn, target)
    ids = [rules.import_message_id(live, s) for s in statements]
    return record_changes(conn, live, statements, actor, message_ids=ids)


def add_consent_routes(router: APIRouter, engine: Engine, read_engine: Engine) -> None:
    """Add the consent routes to the management router."""

    @router.get(
        "/profiles/{profile_id}/consents",
        tags=["consent"],
        responses={404: {"model": ErrorBody, "description": "No such profile"}},
    )
    def get_consents(profile_id: ProfileId) -> dict[str, Any]:
        """What the person consents to now (per purpose and channel, and each channel's
        subscription: subscribed, unsubscribed or never_asked), and the ledger behind it."""
        with read_engine.connect() as conn:
            document = proof_document(conn, profile_id)
        return {
            "profile_id": document["profile_id"],
            "state": document["state"],
            "ledger": document["entries"],
        }

    @router.get(
        "/profiles/{profile_id}/consents/proof",
        tags=["consent"],
        responses={404: {"model": ErrorBody, "description": "No such profile"}},
    )
    def get_proof(
        profile_id: ProfileId,
        timezone: Annotated[
            str | None,
            Query(
                max_length=50,
                description="The zone for local times when the person has none (default UTC)",
            ),
        ] = None,
    ) -> dict[str, Any]:
        """Every ledger entry with the exact notice text shown and its SHA-256, times in UTC
        and in the person's zone; ``POST /api/consents/import`` reads it back."""
        zone = timezone if rules.zone_of(timezone) is not None else "UTC"
        with read_engine.connect() as conn:
            return proof_document(conn, profile_id, zone or "UTC")

    @router.get("/consents/purposes", tags=["consent"])
    def get_purposes() -> PurposesOut:
        """The configured consent purposes with their labels, and the purposes statements
        name that are not configured (tracked or imported ones), with how many."""
        with read_engine.connect() as conn:
            found = rules.unconfigured(conn)
        return PurposesOut(
            configured=[PurposeOut(**p.as_json()) for p in configured_purposes()],
            unconfigured=[UnconfiguredOut(**u.as_json()) for u in found],
        )

    @router.post("/consents", status_code=202, tags=["consent"], responses=BODY_ERRORS)
    def post_consent(body: ConsentIn, request: Request) -> Recorded:
        """Record a consent change with its proof (accepted: the profile's ledger and view
        show it once the log processor has applied it; queued messages it no longer allows
        are cancelled now)."""
        data = body.model_dump(exclude={"profile_id"}, exclude_none=True)
        now = system_clock()
        with engine.begin() as conn:
            statement = rules.statement_from(data, default_source="api", default_at_us=now)
            check_purpose(statement.purpose)
            change = record_changes(conn, body.profile_id, [statement], actor_of(request))
        return Recorded(
            profile_id=change.profile_id, statements=change.statements, cancelled=change.cancelled
        )

    @router.post("/consents/import", status_code=202, tags=["consent"], responses=BODY_ERRORS)
    def post_import(
        body: ProofIn,
        request: Request,
        profile_id: Annotated[
            str | None,
            Query(min_length=1, max_length=36, description="Import for this profile instead"),
        ] = None,
    ) -> Recorded:
        """Record the entries of an exported proof (each once, however often imported)."""
        with engine.begin() as conn:
            change = import_proof(conn, body.model_dump(), actor_of(request), profile_id=profile_id)
        return Recorded(
            profile_id=change.profile_id, statements=change.statements, cancelled=change.cancelled
        )
