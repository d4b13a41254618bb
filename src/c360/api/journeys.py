"""Journeys over HTTP: ``/api/journeys``, tracked links ``/t/...``, provider webhooks
``/api/inbound/...``.

Management routes (admin key to change, read key to read) save journeys from YAML or JSON,
pause and resume them, preview a send step's message for one profile, and give the report.
Link routes need no key: their tokens are signed (``c360.activation.outbox``). Inbound routes
check the provider's own signature (LINE: ``X-Line-Signature``; Zalo: ``X-ZEvent-Signature``).
"""

import base64
import contextlib
import hashlib
import hmac
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from c360.activation import engagement, suppression, templates
from c360.activation import journeys as service
from c360.activation.engine import load_person
from c360.activation.outbox import BadToken
from c360.activation.policy import DEFAULT_RULES, RuleBook
from c360.activation.recommend import recommendations_for
from c360.activation.report import journey_report
from c360.api.errors import ErrorBody
from c360.api.inputs import NoNulInput
from c360.errors import InvalidInput, NotFound, Unauthorized
from c360.kernel.clock import system_clock

JourneyName = Annotated[str, Path(min_length=1, max_length=100, description="The journey's name")]
_PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


class JourneyIn(NoNulInput):
    definition: str | dict[str, Any] = Field(
        description="The journey in YAML (a string) or JSON (an object); docs/journeys.md"
    )


class JourneyOut(BaseModel):
    id: int
    name: str
    status: str = Field(description="active or paused")
    version: int
    definition: dict[str, Any]
    text: str
    active_entries: int = Field(description="People in the journey now")
    total_entries: int
    next_run_us: int | None
    created_at_us: int
    updated_at_us: int


class JourneyList(BaseModel):
    journeys: list[JourneyOut]


class PreviewIn(NoNulInput):
    profile_id: str = Field(min_length=1, max_length=36)
    step: str = Field(min_length=1, max_length=60, description="A send step's id")
    event: dict[str, Any] = Field(
        default_factory=dict, description="The triggering event's properties"
    )


class DraftTemplate(NoNulInput):
    subject: str | None = Field(None, max_length=2000)
    body: str = Field(min_length=1, max_length=100_000)
    html: str | None = Field(None, max_length=500_000)


class DraftPreviewIn(NoNulInput):
    profile_id: str = Field(min_length=1, max_length=36)
    template: DraftTemplate = Field(description="A send step's template, saved or not")
    timezone: str | None = Field(
        None, max_length=64, description="The journey's time zone (default: the server's)"
    )
    event: dict[str, Any] = Field(
        default_factory=dict, description="The triggering event's properties"
    )


class PreviewOut(BaseModel):
    subject: str | None
    body: str
    html: str | None


WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not JSON"},
    409: {"model": ErrorBody, "description": "The name is taken, or people wait at a removed step"},
    422: {"model": ErrorBody, "description": "The definition cannot be used (the field is named)"},
}


def _out(saved: service.SavedJourney) -> JourneyOut:
    return JourneyOut.model_validate(saved.as_json())


def _definition(value: str | dict[str, Any]) -> tuple[str | None, Any]:
    return (value, None) if isinstance(value, str) else (None, value)


def add_journey_routes(
    router: APIRouter,
    engine: Engine,
    read_engine: Engine,
    default_timezone: str,
    allowed_hosts: str = "",
    rules: RuleBook = DEFAULT_RULES,
) -> None:
    """``/journeys`` on the management router (its keys and roles apply)."""

    @router.get("/journeys", response_model=JourneyList, tags=["journeys"])
    def list_journeys() -> JourneyList:
        """Every journey with how many people are in it."""
        with read_engine.connect() as conn:
            return JourneyList(journeys=[_out(j) for j in service.list_journeys(conn)])

    @router.post(
        "/journeys",
        response_model=JourneyOut,
        status_code=201,
        responses=WRITE_ERRORS,
        tags=["journeys"],
    )
    def create_journey(body: JourneyIn) -> JourneyOut:
        """Save and start a journey: events and segment entries from now on enter people."""
        text, data = _definition(body.definition)
        with engine.begin() as conn:
            return _out(
                service.create_journey(
                    conn,
                    text,
                    data,
                    default_tz=default_timezone,
                    allowed_hosts=allowed_hosts,
                    rules=rules,
                )
            )

    @router.get("/journeys/{name}", response_model=JourneyOut, tags=["journeys"])
    def get_journey(name: JourneyName) -> JourneyOut:
        with read_engine.connect() as conn:
            return _out(service.get_journey(conn, name))

    @router.put(
        "/journeys/{name}", response_model=JourneyOut, responses=WRITE_ERRORS, tags=["journeys"]
    )
    def update_journey(name: JourneyName, body: JourneyIn) -> JourneyOut:
        """Replace the definition; people go on from the step they are at."""
        text, data = _definition(body.definition)
        with engine.begin() as conn:
            return _out(
                service.update_journey(
                    conn,
                    name,
                    text,
                    data,
                    default_tz=default_timezone,
                    allowed_hosts=allowed_hosts,
                    rules=rules,
                )
            )

    @router.post("/journeys/{name}/pause", response_model=JourneyOut, tags=["journeys"])
    def pause(name: JourneyName) -> JourneyOut:
        """Nobody enters or moves on until resumed; conversions are still counted."""
        with engine.begin() as conn:
            return _out(service.set_status(conn, name, service.PAUSED))

    @router.post("/journeys/{name}/resume", response_model=JourneyOut, tags=["journeys"])
    def resume(name: JourneyName) -> JourneyOut:
        with engine.begin() as conn:
            return _out(service.set_status(conn, name, service.ACTIVE))

    @router.delete("/journeys/{name}", tags=["journeys"])
    def delete(name: JourneyName) -> dict[str, Any]:
        """Delete a journey; the people in it leave (its messages stay in the outbox log)."""
        with engine.begin() as conn:
            return {"deleted": name, "people_removed": service.delete_journey(conn, name)}

    @router.get("/journeys/{name}/report", tags=["journeys"])
    def report(name: JourneyName) -> dict[str, Any]:
        """Entries, sends by channel, delivery/open/click rates, conversion of treatment and
        control, uplift with its 95 % confidence interval, revenue attributed."""
        with read_engine.connect() as conn:
            return journey_report(conn, name).as_json()

    @router.post(
        "/journeys/{name}/preview",
        response_model=PreviewOut,
        responses={k: v for k, v in WRITE_ERRORS.items() if k != 409},
        tags=["journeys"],
    )
    def preview(name: JourneyName, body: PreviewIn) -> PreviewOut:
        """A send step's message as this profile would get it now (nothing is sent)."""
        with read_engine.connect() as conn:
            saved = service.get_journey(conn, name)
            try:
                step = saved.journey.step(body.step)
            except KeyError:
                raise NotFound(f"journey {name!r} has no step {body.step!r}") from None
            if step.send is None:
                raise InvalidInput(f"step {body.step!r} sends nothing (it is a {step.action})")
            person = load_person(conn, body.profile_id, saved.journey.timezone or default_timezone)
            if person is None:
                raise NotFound(f"no live profile with id {body.profile_id}")
        return _preview(
            read_engine,
            body.profile_id,
            person.values,
            body.event,
            subject=step.send.template.subject,
            text=step.send.template.body,
            html=step.send.template.html,
        )

    @router.post(
        "/journeys/preview",
        response_model=PreviewOut,
        responses={k: v for k, v in WRITE_ERRORS.items() if k != 409},
        tags=["journeys"],
    )
    def preview_draft(body: DraftPreviewIn) -> PreviewOut:
        """A message template not saved yet (the journey builder's), as this profile would
        get it now: the same sandbox and data as a saved send step (nothing is sent)."""
        with read_engine.connect() as conn:
            person = load_person(conn, body.profile_id, body.timezone or default_timezone)
        if person is None:
            raise NotFound(f"no live profile with id {body.profile_id}")
        return _preview(
            read_engine,
            body.profile_id,
            person.values,
            body.event,
            subject=body.template.subject,
            text=body.template.body,
            html=body.template.html,
        )


def _preview(
    read_engine: Engine,
    profile_id: str,
    values: Any,
    event: dict[str, Any],
    *,
    subject: str | None,
    text: str,
    html: str | None,
) -> PreviewOut:
    template = templates.compile_template(subject=subject, body=text, html=html)
    with read_engine.connect() as conn:
        found = recommendations_for(conn, profile_id, 4)
    rendered = templates.render(
        template,
        {
            "profile": dict(values),
            "event": event,
            "recommendations": [r.as_json() for r in found],
            "links": {},
        },
    )
    return PreviewOut(subject=rendered.subject, body=rendered.body, html=rendered.html)


def twilio_signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    """Twilio's request signature: HMAC-SHA1 of the URL followed by every POST parameter's
    name and value, sorted by name, keyed with the account's auth token, in base64."""
    data = url + "".join(f"{k}{v}" for k, v in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class SuppressionIn(NoNulInput):
    channel: Literal["*", "email", "sms", "line", "zalo", "push"] = Field(
        description="The channel, or * for every channel"
    )
    address: str = Field(min_length=1, max_length=500)
    reason: str = Field(min_length=1, max_length=1000)


class SuppressionOut(BaseModel):
    channel: str
    address: str
    reason: str
    created_at_us: int


def add_suppression_routes(router: APIRouter, engine: Engine, read_engine: Engine) -> None:
    """``/suppressions``: addresses no journey sends to."""

    @router.get("/suppressions", response_model=list[SuppressionOut], tags=["journeys"])
    def list_all() -> list[SuppressionOut]:
        with read_engine.connect() as conn:
            return [SuppressionOut(**vars_of(s)) for s in suppression.list_suppressions(conn)]

    @router.post(
        "/suppressions",
        response_model=SuppressionOut,
        status_code=201,
        responses={k: v for k, v in WRITE_ERRORS.items() if k != 409},
        tags=["journeys"],
    )
    def add(body: SuppressionIn) -> SuppressionOut:
        with engine.begin() as conn:
            found = suppression.suppress(conn, body.channel, body.address, body.reason)
        return SuppressionOut(**vars_of(found))

    @router.delete("/suppressions/{channel}/{address}", tags=["journeys"])
    def remove(
        channel: Annotated[
            Literal["*", "email", "sms", "line", "zalo", "push"], Path(description="The channel")
        ],
        address: Annotated[str, Path(min_length=1, max_length=500)],
    ) -> dict[str, str]:
        with engine.begin() as conn:
            suppression.unsuppress(conn, channel, address)
        return {"removed": address, "channel": channel}


def vars_of(found: suppression.Suppression) -> dict[str, Any]:
    return {
        "channel": found.channel,
        "address": found.address,
        "reason": found.reason,
        "created_at_us": found.created_at_us,
    }


def build_public_router(
    engine: Engine,
    *,
    line_secret: str | None,
    zalo_app_id: str | None,
    zalo_secret: str | None,
    twilio_token: str | None = None,
    public_url: str = "",
) -> APIRouter:
    """Tracked links and provider webhooks: no API key, each checks its own signature."""
    router = APIRouter()

    @router.get("/t/o/{token}.gif", include_in_schema=False)
    def opened(token: str) -> Response:
        try:
            with engine.begin() as conn:
                engagement.record_open(conn, token, system_clock())
        except BadToken:
            pass  # a pixel always answers: mail clients show broken images otherwise
        return Response(_PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})

    @router.get("/t/c/{token}", include_in_schema=False)
    def clicked(token: str) -> Response:
        with engine.begin() as conn:
            url = engagement.record_click(conn, token, system_clock())
        return RedirectResponse(url, status_code=302)

    @router.get("/t/u/{token}", include_in_schema=False, response_class=HTMLResponse)
    def unsubscribe(token: str) -> str:
        with engine.begin() as conn:
            row = engagement.record_unsubscribe(conn, token, system_clock())
        return (
            "<!doctype html><meta charset=utf-8><title>Unsubscribed</title>"
            f"<p>You will get no more {row.consent or row.purpose} messages on {row.channel}."
            "</p><p>ยกเลิกการรับข่าวสารเรียบร้อยแล้ว · Bạn đã hủy đăng ký thành công.</p>"
        )

    @router.post("/api/inbound/line", include_in_schema=False)
    async def line_webhook(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if line_secret is None:
            raise NotFound("LINE webhooks are not configured (C360_LINE_CHANNEL_SECRET)")
        expected = base64.b64encode(hmac.new(line_secret.encode(), raw, hashlib.sha256).digest())
        given = request.headers.get("x-line-signature", "").encode()
        if not hmac.compare_digest(expected, given):
            raise Unauthorized("X-Line-Signature does not match the body")
        body = _json(raw)
        taken = 0
        with engine.begin() as conn:
            for event in body.get("events") or []:
                taken += _line_event(conn, event)
        return {"accepted": taken}

    @router.post("/api/inbound/zalo", include_in_schema=False)
    async def zalo_webhook(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if zalo_secret is None or zalo_app_id is None:
            raise NotFound(
                "Zalo webhooks are not configured (C360_ZALO_OA_SECRET_KEY, C360_ZALO_APP_ID)"
            )
        body = _json(raw)
        timestamp = str(body.get("timestamp", ""))
        mac = hashlib.sha256(
            (zalo_app_id + raw.decode("utf-8") + timestamp + zalo_secret).encode()
        ).hexdigest()
        given = request.headers.get("x-zevent-signature", "").removeprefix("mac=")
        if not hmac.compare_digest(mac, given):
            raise Unauthorized("X-ZEvent-Signature does not match the body")
        taken = 0
        receipt = _ZALO_RECEIPTS.get(str(body.get("event_name")))
        if receipt is not None:
            found = body.get("message") or {}
            ids = found.get("msg_ids") or [found.get("msg_id")]
            with engine.begin() as conn:
                for provider_id in ids:
                    if isinstance(provider_id, str) and engagement.record_receipt(
                        conn, "zalo", provider_id, receipt, system_clock()
                    ):
                        taken += 1
            return {"accepted": taken}
        if body.get("event_name") == "user_send_text":
            sender = (body.get("sender") or {}).get("id")
            text = (body.get("message") or {}).get("text") or ""
            if isinstance(sender, str):
                with engine.begin() as conn:
                    try:
                        engagement.record_reply(conn, "zalo", sender, str(text), system_clock())
                        taken = 1
                    except NotFound:
                        taken = 0
        return {"accepted": taken}

    async def twilio_form(request: Request) -> dict[str, str]:
        if twilio_token is None:
            raise NotFound("Twilio webhooks are not configured (C360_CHANNELS__SMS__AUTH_TOKEN)")
        # Twilio posts application/x-www-form-urlencoded, UTF-8
        raw = await request.body()
        params = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        url = public_url.rstrip("/") + request.url.path
        given = request.headers.get("x-twilio-signature", "")
        if not hmac.compare_digest(twilio_signature(twilio_token, url, params), given):
            raise Unauthorized("X-Twilio-Signature does not match the request")
        return dict(params)

    @router.post("/api/inbound/twilio/status", include_in_schema=False)
    async def twilio_status(request: Request) -> dict[str, Any]:
        """Twilio's StatusCallback: delivered, undelivered or failed."""
        form = await twilio_form(request)
        status = form.get("MessageStatus", "")
        outcome = {"delivered": "delivered", "undelivered": "failed", "failed": "failed"}.get(
            status
        )
        if outcome is None:
            return {"accepted": 0}  # queued, sent...: nothing the person did or saw
        reason = (
            f"Twilio {status} {form.get('ErrorCode', '')}".strip() if outcome == "failed" else ""
        )
        with engine.begin() as conn:
            row = engagement.record_receipt(
                conn, "sms", form.get("MessageSid", ""), outcome, system_clock(), reason
            )
        return {"accepted": int(row is not None)}

    @router.post("/api/inbound/twilio/sms", include_in_schema=False)
    async def twilio_reply(request: Request) -> Response:
        """An SMS a person sent to the business's number (Twilio's incoming-message webhook)."""
        form = await twilio_form(request)
        # from nobody c360 wrote to: not a reply
        with engine.begin() as conn, contextlib.suppress(NotFound):
            engagement.record_reply(
                conn, "sms", form.get("From", ""), form.get("Body", ""), system_clock()
            )
        return Response("<Response/>", media_type="application/xml")

    return router


_ZALO_RECEIPTS = {"user_received_message": "delivered", "user_seen_message": "opened"}


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput("the body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("the body is not a JSON object")
    return body


def _line_event(conn: Any, event: Any) -> int:
    if not isinstance(event, dict):
        return 0
    source = event.get("source") or {}
    user = source.get("userId") if isinstance(source, dict) else None
    if not isinstance(user, str):
        return 0
    message = event.get("message") or {}
    if event.get("type") == "message" and isinstance(message, dict):
        text = message.get("text") if message.get("type") == "text" else f"[{message.get('type')}]"
        try:
            engagement.record_reply(conn, "line", user, str(text or ""), system_clock())
        except NotFound:
            return 0
        return 1
    return 0
