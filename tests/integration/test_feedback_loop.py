"""The feedback loop end to end, on both stores: feedback tracked on the web becomes an item, is
resolved, and the customer is thanked by email through the outbox and the dispatcher (a real
local SMTP server); quiet hours, withdrawn consent and suppression hold or stop the thank-you;
SLA breaches raise one alert each on the change feed."""

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from tests import factories
from tests.fakes.providers import FakeSmtp

from c360.activation.channels import ChannelName
from c360.activation.dispatch import DispatchConfig, Dispatcher
from c360.activation.suppression import suppress
from c360.connectors.channels import EmailConfig, build_channels
from c360.connectors.channels.config import ChannelsConfig
from c360.eventlog.service import append, ensure_source
from c360.feedback import service
from c360.feedback.model import FeedbackConfig, Notify
from c360.feedback.notify import message_key, notify_customer
from c360.kernel.clock import system_clock, to_us
from c360.profiles.service import find_by_identifier
from c360.profiles.timeline import timeline_page
from c360.storage.tables import feedback_items, messages, profile_changes
from c360.workers.feedback import feedback_cycle
from c360.workers.processor import process_available

BANGKOK = ZoneInfo("Asia/Bangkok")
DAY = 86_400_000_000
BROKEN = {"text": "The blender arrived broken, I want a refund", "channel": "web"}
RESOLUTION = "We sent you a new blender and refunded the delivery fee."
EVERY_HOUR = FeedbackConfig(notify=Notify(hours="00:00-24:00"))


# --- helpers ----------------------------------------------------------------------------------


def log(engine: Engine, *messages_: dict[str, Any]) -> None:
    """Append Segment messages to the log as the tracking API would, then apply them."""
    with engine.begin() as conn:
        source_id = ensure_source(conn, "web").id
        rows = []
        for m in messages_:
            at = m.pop("_at_us", None) or system_clock()
            rows.append(factories.log_row(source_id, m, at))
        append(conn, rows, [])
    while process_available(engine, 1000):
        pass


def identify(user: str, at_us: int | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "identify",
        "messageId": str(uuid.uuid4()),
        "userId": user,
        "_at_us": at_us,
        **extra,
    }


def feedback(user: str, at_us: int | None = None) -> dict[str, Any]:
    return {
        "type": "track",
        "messageId": str(uuid.uuid4()),
        "userId": user,
        "event": "Feedback Submitted",
        "properties": dict(BROKEN),
        "_at_us": at_us,
    }


def customer_writes_in(
    engine: Engine,
    user: str,
    email: str,
    *,
    at_us: int | None = None,
    traits: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
) -> int:
    """A person with an email sends feedback; the loop collects it; returns the item's id."""
    hello = identify(
        user, at_us, traits={"email": email, "first_name": "Somchai", **(traits or {})}
    )
    if context:
        hello["context"] = context
    log(engine, hello, feedback(user, at_us))
    feedback_cycle(engine, FeedbackConfig(), now_us=at_us)
    with engine.connect() as conn:
        [item_id] = conn.execute(select(feedback_items.c.id)).scalars().all()
    return int(item_id)


def resolve(engine: Engine, item_id: int, now_us: int | None = None) -> None:
    with engine.begin() as conn:
        service.resolve(conn, item_id, resolution=RESOLUTION, actor="test", now_us=now_us)


def item(engine: Engine, item_id: int) -> Any:
    with engine.connect() as conn:
        return service.get_item(conn, item_id)


def outbox(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(messages).order_by(messages.c.id)).all())


def profile_of(engine: Engine, user: str) -> str:
    with engine.connect() as conn:
        return str(find_by_identifier(conn, "user_id", user).id)


def email_dispatcher(engine: Engine, smtp: FakeSmtp) -> Dispatcher:
    config = ChannelsConfig(
        email=EmailConfig(
            host=smtp.host, port=smtp.port, security="none", from_address="shop@example.co.th"
        )
    )
    return Dispatcher(engine, build_channels(config), DispatchConfig(retry_base_s=1))


def bangkok(hour: int, minute: int = 0) -> int:
    return to_us(datetime(2026, 12, 8, hour, minute, tzinfo=BANGKOK))


# --- tests ------------------------------------------------------------------------------------


def test_resolving_with_notify_thanks_the_customer_by_email(engine: Engine) -> None:
    item_id = customer_writes_in(engine, "u1", "somchai@example.co.th")

    collected = item(engine, item_id)
    assert collected.sentiment == "negative"
    # "broken" is product quality, "arrived" delivery, "refund" billing: the analysis keeps
    # every candidate and files the item under the strongest one
    candidates = collected.analysis["topics"]
    assert {"product_quality", "delivery"} <= set(candidates)
    assert collected.topic in ("product_quality", "delivery", "billing")
    assert candidates[collected.topic] == max(candidates.values())
    assert "refund" in collected.analysis["cues"]
    assert collected.status == "new"
    assert collected.profile_id == profile_of(engine, "u1")

    resolve(engine, item_id)
    with engine.begin() as conn:
        result = notify_customer(
            conn,
            EVERY_HOUR,
            item_id,
            available={ChannelName.EMAIL},
            default_tz="UTC",
            actor="test",
        )
    assert result.queued, result.reason
    assert result.channel == "email"
    assert result.message_key == message_key(item_id)

    with FakeSmtp() as smtp:
        with email_dispatcher(engine, smtp) as dispatcher:
            report = dispatcher.run_until_idle(system_clock() + 1_000_000)
        assert report.sent == 1
        [mail] = smtp.delivered
    assert mail.rcpt_tos == ["somchai@example.co.th"]
    body = mail.message.get_body(preferencelist=("plain", "html"))
    assert body is not None
    text = body.get_content()
    assert RESOLUTION in text
    assert "Somchai" in text
    [sent] = outbox(engine)
    assert sent.status == "sent"

    while process_available(engine, 1000):  # the dispatcher's "Email Sent" event
        pass
    feedback_cycle(engine, FeedbackConfig())
    notified = item(engine, item_id)
    assert notified.status == "customer_notified"
    assert notified.notified_at_us is not None

    with engine.connect() as conn:
        page, _ = timeline_page(conn, profile_of(engine, "u1"), limit=50)
    names = [i.body.get("event") for i in page]
    assert "Email Sent" in names, [i.as_json() for i in page]
    with engine.connect() as conn:
        actions = [h["action"] for h in service.history(conn, item_id)]
    assert actions == ["received", "resolved", "notify_queued", "notified"]


def test_quiet_hours_hold_the_thank_you(engine: Engine) -> None:
    three_am = bangkok(3)
    item_id = customer_writes_in(
        engine, "u2", "malee@example.co.th", at_us=three_am - DAY, traits={"country": "TH"}
    )
    resolve(engine, item_id, now_us=three_am)
    quiet = FeedbackConfig(notify=Notify(hours="08:00-09:00"))
    with engine.begin() as conn:
        result = notify_customer(
            conn,
            quiet,
            item_id,
            available={ChannelName.EMAIL},
            default_tz="Asia/Bangkok",
            actor="test",
            now_us=three_am,
        )
    assert result.queued, result.reason
    assert result.channel == "email"
    assert result.send_at_us == bangkok(8)
    assert "08:00-09:00" in result.reason
    [waiting] = outbox(engine)
    assert waiting.key == message_key(item_id)
    assert waiting.status == "queued"
    assert waiting.next_attempt_us == bangkok(8)
    assert waiting.address == "malee@example.co.th"

    with FakeSmtp() as smtp:
        with email_dispatcher(engine, smtp) as dispatcher:
            assert dispatcher.run_until_idle(bangkok(7, 59)).sent == 0
        assert smtp.delivered == []


def test_withdrawn_consent_or_suppression_stops_the_thank_you(engine: Engine) -> None:
    withdrawn = {"consent": {"categoryPreferences": {"customer_service": False}}}
    item_id = customer_writes_in(engine, "u3", "nid@example.co.th", context=withdrawn)
    resolve(engine, item_id)
    with engine.begin() as conn:
        result = notify_customer(
            conn,
            EVERY_HOUR,
            item_id,
            available={ChannelName.EMAIL},
            default_tz="UTC",
            actor="test",
        )
    assert not result.queued
    assert result.channel is None
    assert "consent" in result.reason.lower(), result.reason
    assert outbox(engine) == []
    assert item(engine, item_id).message_key is None
    with engine.connect() as conn:
        skipped = [h for h in service.history(conn, item_id) if h["action"] == "notify_skipped"]
    assert len(skipped) == 1
    assert skipped[0]["detail"]["reason"] == result.reason


def test_a_suppressed_address_stops_the_thank_you(engine: Engine) -> None:
    item_id = customer_writes_in(engine, "u4", "bounced@example.co.th")
    resolve(engine, item_id)
    with engine.begin() as conn:
        suppress(conn, "email", "bounced@example.co.th", "test")
        result = notify_customer(
            conn,
            EVERY_HOUR,
            item_id,
            available={ChannelName.EMAIL},
            default_tz="UTC",
            actor="test",
        )
    assert not result.queued
    assert "suppressed" in result.reason and "email" in result.reason, result.reason
    assert [m for m in outbox(engine) if m.key == message_key(item_id)] == []
    with engine.connect() as conn:
        actions = [h["action"] for h in service.history(conn, item_id)]
    assert actions.count("notify_skipped") == 1


def test_sla_breach_raises_one_alert_on_the_change_feed(engine: Engine) -> None:
    t = system_clock() - DAY  # recent: not a backfill, so the item has SLA timers
    item_id = customer_writes_in(engine, "u5", "late@example.co.th", at_us=t)
    collected = item(engine, item_id)
    assert collected.respond_by_us is not None and collected.resolve_by_us is not None
    assert collected.respond_by_us > t and collected.resolve_by_us > t

    assert service.check_slas(engine, now_us=t + 10 * DAY) == 2

    def alerts() -> list[Any]:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    select(profile_changes)
                    .where(profile_changes.c.kind == "feedback_sla_breached")
                    .order_by(profile_changes.c.id)
                ).all()
            )

    found = alerts()
    assert sorted(a.detail["sla"] for a in found) == ["resolve", "respond"]
    assert {a.detail["feedback_id"] for a in found} == {item_id}
    assert {a.profile_id for a in found} == {profile_of(engine, "u5")}
    assert sorted(item(engine, item_id).breached) == ["resolve", "respond"]

    assert service.check_slas(engine, now_us=t + 11 * DAY) == 0
    assert len(alerts()) == 2
