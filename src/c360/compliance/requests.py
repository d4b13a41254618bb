"""Data subject requests: access, erasure, rectification, restriction (and lifting it), each
tracked from receipt to an answer, against the deadline the law it is made under sets.

A request names its subject as an identifier: ``email:somchai@example.co.th``,
``phone:081-234-5678`` (any local format: read as Thai or Vietnamese, as identity resolution
does), ``user_id:u-1001``, any identifier type identity resolution keeps
(``national_id:...``, ``line_user_id:...``), ``profile:<id>`` or a bare profile id.

Statuses: ``received`` -> ``running`` -> ``completed`` or ``failed`` (a failed request can be
run again); ``rejected`` when the operator refuses it (the person's identity could not be
verified, the request is manifestly unfounded...). Every creation, run and answer is written
to the audit log, with no personal data in it.

Deadlines (:data:`DEFAULT_DEADLINES`, overridable with ``C360_PRIVACY_DEADLINES``):

- ``pdpa`` (Thailand): 30 days for access (PDPA s.30); 90 days for erasure, "copies and
  backups" included (the PDPC's 2024 notification on erasure); 30 days otherwise.
- ``vn`` (Vietnam): 72 hours for every kind. Decree 13/2023/ND-CP set 72 hours for providing
  (Art. 14) and deleting (Art. 16) personal data; Law 91/2025/QH15 and Decree 356/2025/ND-CP,
  in force since 1 January 2026, replace it. The figure is kept at 72 hours as the issue
  states it for Decree 356/2025; check it against the decree's text for your case and set
  ``C360_PRIVACY_DEADLINES`` if it differs.
- ``gdpr``: one month from receipt (Art. 12(3)), counted as a calendar month.
"""

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, insert, select, update

from c360.compliance import erasure
from c360.errors import Conflict, InvalidInput, NotFound
from c360.identity.decisions import live_profile_id
from c360.kernel.clock import isoformat_us, system_clock, to_us
from c360.privacy import audit, suppression
from c360.privacy.audit import Actor
from c360.profiles.service import find_by_identifier
from c360.standardize import email as standard_email
from c360.standardize import phone as standard_phone
from c360.storage.tables import privacy_requests

KINDS = ("access", "erase", "rectify", "restrict", "unrestrict")
STATUSES = ("received", "running", "completed", "failed", "rejected")
OPEN_STATUSES = ("received", "running", "failed")
"""Statuses of a request still owed an answer: these can be overdue."""
LAWS = ("pdpa", "vn", "gdpr")

DEFAULT_DEADLINES: dict[str, dict[str, str]] = {
    "pdpa": {
        "access": "30d",
        "erase": "90d",
        "rectify": "30d",
        "restrict": "30d",
        "unrestrict": "30d",
    },
    "vn": dict.fromkeys(KINDS, "72h"),
    "gdpr": dict.fromkeys(KINDS, "1M"),
}
"""Time to answer, by law and kind: ``<n>h`` hours, ``<n>d`` days, ``<n>M`` calendar months."""

_deadlines: dict[str, dict[str, str]] = DEFAULT_DEADLINES


def configure_deadlines(overrides: Mapping[str, Mapping[str, str]] | None) -> None:
    """Use ``C360_PRIVACY_DEADLINES`` for requests created without deadlines of their own
    (the server calls this once at start)."""
    global _deadlines
    _deadlines = parse_deadlines(overrides)


_DURATION = re.compile(r"^\s*(\d{1,4})\s*([hdM])\s*$")
_PROFILE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ID_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
MAX_SUBJECT_CHARS = 1000
MAX_DETAIL_BYTES = 64 * 1024


# --- deadlines -------------------------------------------------------------------------------


def parse_deadlines(overrides: Mapping[str, Mapping[str, str]] | None) -> dict[str, dict[str, str]]:
    """The default deadlines with ``overrides`` (law -> kind -> duration) applied, checked."""
    deadlines = {law: dict(kinds) for law, kinds in DEFAULT_DEADLINES.items()}
    for law, kinds in (overrides or {}).items():
        if law not in deadlines:
            raise InvalidInput(
                f"privacy deadlines: unknown law {law!r}; use one of {', '.join(LAWS)}"
            )
        for kind, duration in kinds.items():
            if kind not in KINDS:
                raise InvalidInput(
                    f"privacy deadlines: unknown request kind {kind!r} under {law}; use one of "
                    f"{', '.join(KINDS)}"
                )
            _duration(duration, f"privacy deadlines {law}.{kind}")
            deadlines[law][kind] = duration
    return deadlines


def _duration(text: str, where: str) -> tuple[int, str]:
    found = _DURATION.match(text) if isinstance(text, str) else None
    if found is None:
        raise InvalidInput(
            f"{where}: {text!r} is not a duration; write hours, days or calendar months as "
            "72h, 30d or 1M"
        )
    return int(found[1]), found[2]


def deadline_us(
    law: str,
    kind: str,
    received_at_us: int,
    deadlines: Mapping[str, Mapping[str, str]] = DEFAULT_DEADLINES,
) -> int:
    """When a request of ``kind`` received at ``received_at_us`` under ``law`` must be
    answered."""
    amount, unit = _duration(deadlines[law][kind], f"deadline of {law}.{kind}")
    if unit == "h":
        return received_at_us + amount * 3_600_000_000
    if unit == "d":
        return received_at_us + amount * 86_400_000_000
    received = datetime.fromtimestamp(received_at_us / 1e6, UTC)
    return to_us(_add_months(received, amount))


def _add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, or the month's last day when it has no such day (a
    request of 31 January is due on 28 or 29 February)."""
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    following = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    last_day = (following - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


# --- subjects --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subject:
    """Who a request is about: an identifier (``id_type`` ``profile`` for a profile id)."""

    id_type: str
    value: str

    def identifiers(self) -> list[tuple[str, str]]:
        """The identifier in the standardized forms identity resolution stores it in."""
        if self.id_type == "profile":
            return []
        if self.id_type == "email":
            found = standard_email(self.value)
            return [("email", str(found.value) if found.ok and found.value else self.value)]
        if self.id_type == "phone":
            phones = []
            for region in ("TH", "VN"):
                found = standard_phone(self.value, default_region=region)
                if found.ok and found.value and ("phone", str(found.value)) not in phones:
                    phones.append(("phone", str(found.value)))
            return phones or [("phone", self.value)]
        return [(self.id_type, unicodedata.normalize("NFC", self.value).strip())]


def parse_subject(text: str) -> Subject:
    """``type:value`` or a bare profile id."""
    text = (text or "").strip()
    if not text or len(text) > MAX_SUBJECT_CHARS:
        raise InvalidInput(
            f"the subject must be an identifier such as email:name@example.com, "
            f"phone:+66812345678, user_id:u-1 or a profile id (1 to {MAX_SUBJECT_CHARS} "
            "characters)"
        )
    if _PROFILE_ID.match(text.lower()):
        return Subject("profile", text.lower())
    id_type, colon, value = text.partition(":")
    id_type = id_type.strip().lower()
    value = value.strip()
    if not colon or not value or not _ID_TYPE.match(id_type):
        raise InvalidInput(
            f"subject {_shown(text)} is not TYPE:VALUE (email:name@example.com, "
            "phone:+66812345678, user_id:u-1, profile:<id>) nor a profile id"
        )
    if id_type in ("profile", "profile_id"):
        return Subject("profile", value.lower())
    if id_type == "email" and "@" not in value:
        raise InvalidInput("the subject's e-mail address has no '@'")
    return Subject(id_type, value)


def _shown(text: str) -> str:
    """A subject in an error message: its type only (the message may be logged)."""
    head = text.partition(":")[0]
    return repr(head[:20] + ":...") if ":" in text else "(not TYPE:VALUE)"


def resolve_subject(conn: Connection, subject: Subject) -> str | None:
    """The live profile the subject names, or None when no profile holds it."""
    if subject.id_type == "profile":
        try:
            return live_profile_id(conn, subject.value)
        except NotFound:
            return None
    try:
        return find_by_identifier(conn, subject.id_type, subject.value).id
    except NotFound:
        return None


# --- requests --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrivacyRequest:
    id: int
    kind: str
    status: str
    law: str
    profile_id: str | None
    subject: str | None
    requested_by: str
    received_at_us: int
    deadline_us: int
    completed_at_us: int | None
    detail: dict[str, Any]
    report: dict[str, Any] | None
    error: str | None

    def overdue(self, now_us: int | None = None) -> bool:
        now = system_clock() if now_us is None else now_us
        return self.status in OPEN_STATUSES and self.deadline_us < now

    def as_json(self, now_us: int | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "law": self.law,
            "profile_id": self.profile_id,
            "subject": self.subject,
            "requested_by": self.requested_by,
            "received_at": isoformat_us(self.received_at_us),
            "deadline": isoformat_us(self.deadline_us),
            "completed_at": (
                isoformat_us(self.completed_at_us) if self.completed_at_us is not None else None
            ),
            "overdue": self.overdue(now_us),
            "detail": self.detail,
            "report": self.report,
            "error": self.error,
        }


def _request(row: Any) -> PrivacyRequest:
    return PrivacyRequest(
        id=int(row.id),
        kind=row.kind,
        status=row.status,
        law=row.law,
        profile_id=row.profile_id,
        subject=row.subject,
        requested_by=row.requested_by,
        received_at_us=int(row.received_at_us),
        deadline_us=int(row.deadline_us),
        completed_at_us=row.completed_at_us,
        detail=dict(row.detail or {}),
        report=row.report,
        error=row.error,
    )


def _check_detail(kind: str, detail: Mapping[str, Any]) -> dict[str, Any]:
    checked = dict(detail)
    if len(orjson.dumps(checked, default=str)) > MAX_DETAIL_BYTES:
        raise InvalidInput(f"a request's detail may hold at most {MAX_DETAIL_BYTES} bytes")
    if kind == "rectify":
        changes = checked.get("changes")
        if not isinstance(changes, dict) or not changes:
            raise InvalidInput(
                "a rectification needs detail.changes: the fields to correct and their correct "
                'values, e.g. {"changes": {"last_name": "Jaidee"}}'
            )
    reason = checked.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput("detail.reason must be text")
    return checked


def create_request(
    conn: Connection,
    *,
    kind: str,
    subject: str,
    law: str,
    actor: Actor,
    detail: Mapping[str, Any] | None = None,
    deadlines: Mapping[str, Mapping[str, str]] | None = None,
    now_us: int | None = None,
) -> PrivacyRequest:
    """Record a request as received, with its deadline (nothing is done to the data yet)."""
    if kind not in KINDS:
        raise InvalidInput(f"unknown request kind {kind!r}; use one of {', '.join(KINDS)}")
    if law not in LAWS:
        raise InvalidInput(f"unknown law {law!r}; use one of {', '.join(LAWS)}")
    parsed = parse_subject(subject)
    checked = _check_detail(kind, detail or {})
    received = system_clock() if now_us is None else now_us
    due = deadline_us(law, kind, received, deadlines if deadlines is not None else _deadlines)
    profile_id = resolve_subject(conn, parsed)
    request_id = int(
        conn.execute(
            insert(privacy_requests)
            .values(
                kind=kind,
                status="received",
                law=law,
                profile_id=profile_id,
                subject=subject.strip(),
                requested_by=actor.name,
                received_at_us=received,
                deadline_us=due,
                completed_at_us=None,
                detail=checked,
                report=None,
                error=None,
            )
            .returning(privacy_requests.c.id)
        ).scalar_one()
    )
    audit.record(
        conn,
        actor,
        f"privacy.{kind}",
        object_type="privacy_request",
        object_id=str(request_id),
        detail={
            "stage": "received",
            "law": law,
            "subject_type": parsed.id_type,
            "deadline": isoformat_us(due),
            "profile_found": profile_id is not None,
        },
        at_us=received,
    )
    return get_request(conn, request_id)


def get_request(conn: Connection, request_id: int) -> PrivacyRequest:
    row = conn.execute(select(privacy_requests).where(privacy_requests.c.id == request_id)).first()
    if row is None:
        raise NotFound(f"no privacy request {request_id}")
    return _request(row)


def list_requests(
    conn: Connection,
    *,
    status: str | None = None,
    kind: str | None = None,
    overdue: bool = False,
    limit: int = 100,
    before_id: int | None = None,
    now_us: int | None = None,
) -> list[PrivacyRequest]:
    """Requests, newest first (paged by id); ``overdue``: open and past their deadline."""
    if status is not None and status not in (*STATUSES, "open"):
        raise InvalidInput(f"unknown status {status!r}; use one of open, {', '.join(STATUSES)}")
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"unknown request kind {kind!r}; use one of {', '.join(KINDS)}")
    query = select(privacy_requests)
    if status == "open" or overdue:
        query = query.where(privacy_requests.c.status.in_(OPEN_STATUSES))
    if status is not None and status != "open":
        query = query.where(privacy_requests.c.status == status)
    if kind is not None:
        query = query.where(privacy_requests.c.kind == kind)
    if overdue:
        now = system_clock() if now_us is None else now_us
        query = query.where(privacy_requests.c.deadline_us < now)
    if before_id is not None:
        query = query.where(privacy_requests.c.id < before_id)
    rows = conn.execute(query.order_by(privacy_requests.c.id.desc()).limit(limit)).all()
    return [_request(r) for r in rows]


def reject_request(conn: Connection, request_id: int, actor: Actor, reason: str) -> PrivacyRequest:
    """Refuse a request that is not done (the reason goes to the requester; keep it free of
    personal data, it is audited)."""
    request = get_request(conn, request_id)
    if request.status in ("completed", "rejected", "running"):
        raise Conflict(f"privacy request {request_id} is {request.status}; it cannot be rejected")
    if not reason.strip():
        raise InvalidInput("say why the request is rejected")
    now = system_clock()
    conn.execute(
        update(privacy_requests)
        .where(privacy_requests.c.id == request_id)
        .values(status="rejected", completed_at_us=now, error=reason.strip()[:2000])
    )
    audit.record(
        conn,
        actor,
        f"privacy.{request.kind}",
        object_type="privacy_request",
        object_id=str(request_id),
        detail={"stage": "rejected"},
    )
    return get_request(conn, request_id)


# --- running ---------------------------------------------------------------------------------


def run_request(
    engine: Engine,
    request_id: int,
    actor: Actor,
    *,
    progress: erasure.Progress | None = None,
) -> PrivacyRequest:
    """Carry out a request: ``running`` while it works (its own transaction, so others see
    it), then ``completed`` or ``failed`` with its report, in the transaction that did the
    work. A request that raised is ``failed`` with the error and changed nothing."""
    with engine.begin() as conn:
        request = get_request(conn, request_id)
        if request.status not in ("received", "failed"):
            raise Conflict(
                f"privacy request {request_id} is {request.status}; only a received or failed "
                "request can be run"
            )
        conn.execute(
            update(privacy_requests)
            .where(privacy_requests.c.id == request_id)
            .values(status="running", error=None)
        )
    try:
        with engine.begin() as conn:
            status, report, error, profile_id = _carry_out(conn, request, progress)
            now = system_clock()
            conn.execute(
                update(privacy_requests)
                .where(privacy_requests.c.id == request_id)
                .values(
                    status=status,
                    report=report,
                    error=error,
                    profile_id=profile_id,
                    completed_at_us=now if status == "completed" else None,
                    **({"subject": None, "detail": {}} if request.kind == "erase" else {}),
                )
            )
            audit.record(
                conn,
                actor,
                f"privacy.{request.kind}",
                object_type="privacy_request",
                object_id=str(request_id),
                detail=_audit_detail(request.kind, status, report),
                at_us=now,
            )
    except Exception as exc:
        message = str(exc) if isinstance(exc, InvalidInput | NotFound | Conflict) else None
        with engine.begin() as conn:
            conn.execute(
                update(privacy_requests)
                .where(privacy_requests.c.id == request_id)
                .values(status="failed", error=message or f"{type(exc).__name__}: see the logs")
            )
            audit.record(
                conn,
                actor,
                f"privacy.{request.kind}",
                object_type="privacy_request",
                object_id=str(request_id),
                detail={"stage": "failed", "error": type(exc).__name__},
            )
        if message is None:
            raise
    finally:
        if request.kind == "erase":
            suppression.changed()
    with engine.connect() as conn:
        return get_request(conn, request_id)


def _audit_detail(kind: str, status: str, report: Mapping[str, Any] | None) -> dict[str, Any]:
    detail: dict[str, Any] = {"stage": status}
    if kind == "erase" and report:
        detail["removed_total"] = report.get("removed_total")
        detail["verified"] = report.get("verification", {}).get("verified")
    return detail


def _carry_out(
    conn: Connection, request: PrivacyRequest, progress: erasure.Progress | None
) -> tuple[str, dict[str, Any], str | None, str | None]:
    """(status, report, error, profile id) of one request, done in ``conn``."""
    if request.subject is None:
        raise InvalidInput(f"privacy request {request.id} has no subject left to act on")
    subject = parse_subject(request.subject)
    profile_id = resolve_subject(conn, subject)
    if request.kind == "erase":
        found = erasure.erase(
            conn,
            [profile_id] if profile_id else [],
            request_id=request.id,
            also=subject.identifiers(),
            progress=progress,
        )
        report = found.as_json()
        if found.verified:
            return "completed", report, None, profile_id
        places = sorted({f"{h['table']}.{h['column']}" for h in found.hits})
        error = (
            f"verification found the person's data in {len(places)} place(s) after erasure: "
            + ", ".join(places[:20])
        )
        return "failed", report, error, profile_id
    if profile_id is None:
        raise NotFound(
            f"no profile holds the subject of privacy request {request.id} "
            f"({subject.id_type}); check it, or wait for recent data to be processed"
        )
    if request.kind == "access":
        from c360.compliance.access import export_person

        export = export_person(conn, profile_id)
        return "completed", _access_report(export), None, profile_id
    if request.kind == "rectify":
        from c360.compliance.rectify import rectify

        done = rectify(conn, profile_id, request.detail.get("changes") or {}, request_id=request.id)
        report = {
            "changed": list(done.get("changed", [])),
            "seq": done.get("seq"),
            "message_id": done.get("message_id"),
        }
        return "completed", report, None, profile_id
    from c360.privacy.restrict import lift, restrict

    if request.kind == "restrict":
        restrict(conn, profile_id, request_id=request.id, reason=request.detail.get("reason"))
        return "completed", {"restricted": True}, None, profile_id
    lifted = lift(conn, profile_id, request_id=request.id)
    return "completed", {"restricted": False, "lifted": bool(lifted)}, None, profile_id


def _access_report(export: Mapping[str, Any]) -> dict[str, Any]:
    """What an access request delivered, without the data: counts per section and the
    SHA-256 of the JSON as it was produced at completion."""
    sections: dict[str, int] = {}
    for name, value in export.items():
        if isinstance(value, list | dict) and name != "about":
            sections[name] = len(value)
    body = orjson.dumps(export, option=orjson.OPT_SORT_KEYS, default=str)
    return {"sections": sections, "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}


def export_of(conn: Connection, request: PrivacyRequest) -> dict[str, Any]:
    """The access export a completed access request answers with, made now from the data as
    it stands (it is not kept: a copy of everything about a person is a liability)."""
    if request.kind != "access":
        raise InvalidInput(f"privacy request {request.id} is a {request.kind} request, not access")
    if request.status != "completed":
        raise Conflict(f"privacy request {request.id} is {request.status}; run it before exporting")
    if request.profile_id is None:
        raise NotFound(f"privacy request {request.id} names no profile")
    from c360.compliance.access import export_person

    return export_person(conn, request.profile_id)


def render_export_html(export: Mapping[str, Any]) -> str:
    from c360.compliance.access import render_html

    return render_html(dict(export))
