"""Journeys on both stores: entering, waiting, branching, sending through real local provider
servers, consent and quiet hours, holdouts and the report, durability across a restart."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from tests import factories
from tests.conftest import create_engine_for
from tests.customer360 import load, process, track
from tests.fakes.providers import FakeLine, FakeSmtp

from c360.activation.channels import ChannelName
from c360.activation.dispatch import DispatchConfig, Dispatcher
from c360.activation.engine import EngineConfig, run_cycle
from c360.activation.journeys import (
    PAUSED,
    create_journey,
    get_journey,
    set_status,
    update_journey,
)
from c360.activation.report import journey_report
from c360.connectors.channels import EmailConfig, LineConfig, build_channels
from c360.connectors.channels.config import ChannelsConfig
from c360.errors import Conflict, InvalidInput
from c360.kernel.clock import to_us
from c360.profiles.service import find_by_identifier, get_profile
from c360.storage.tables import journey_entries, journey_steps, messages

MINUTE = 60_000_000
HOUR = 60 * MINUTE
BANGKOK = ZoneInfo("Asia/Bangkok")
# 14:00 in Bangkok: inside every default send window
T0 = to_us(datetime(2026, 12, 7, 14, 0, tzinfo=BANGKOK))
TOKEN = "line-token-for-tests"

CART = """
name: cart-abandonment
trigger: {event: Product Added}
reentry: after 1 day
exit_when: did "Order Completed" in last 2 hours
goal: {event: Order Completed, within: 72 hours}
steps:
  - id: wait
    wait: 1 hour
  - id: remind
    send:
      channels: [line, email]
      template:
        subject: "{{ profile.first_name }}, ตะกร้าของคุณรออยู่"
        body: "สวัสดีคุณ{{ profile.first_name }} {{ event.name }} ยังอยู่ในตะกร้า https://shop.example/cart"
"""


@dataclass
class Person:
    user: str
    profile_id: str


def person(
    engine: Engine,
    tmp_path: Path,
    n: int,
    *,
    line: bool = True,
    consent: bool | None = True,
    country: str = "TH",
    phone: str | None = None,
    zalo: str | None = None,
) -> Person:
    """A CRM contact with a LINE id (optional) and a tracked identity that states consent."""
    user = f"u-{n}"
    row: dict[str, Any] = {
        "id": f"c-{n}",
        "user_id": user,
        "first_name": "สมชาย" if country == "TH" else "Lan",
        "email": f"person{n}@example.co.th",
        "country": country,
        # with an address, the country is part of the golden record (and of segments)
        "address": "99/1 ถนนสุขุมวิท" if country == "TH" else "12 Lê Lợi, Quận 1",
        "province": "กรุงเทพมหานคร" if country == "TH" else "Hồ Chí Minh",
    }
    if line:
        row["line_user_id"] = f"U{n:032x}"
    if phone:
        row["phone"] = phone
    if zalo:
        row["zalo_user_id"] = zalo
    load(engine, tmp_path, "crm", "contact", [row])
    if consent is not None:
        track(
            engine,
            factories.identify(
                user,
                traits={},
                context={"consent": {"categoryPreferences": {"marketing": consent}}},
            ),
        )
    with engine.connect() as conn:
        pid = find_by_identifier(conn, "user_id", user).id
    return Person(user, pid)


def act(engine: Engine, who: Person, event: str, at_us: int, **properties: Any) -> None:
    message = factories.track(who.user, event=event, properties=properties)
    message["_at_us"] = at_us
    track(engine, message)


def journey(engine: Engine, text: str) -> None:
    with engine.begin() as conn:
        create_journey(conn, text, default_tz="Asia/Bangkok", now_us=T0 - HOUR)


def sent(engine: Engine, **where: Any) -> list[Any]:
    query = select(messages).order_by(messages.c.id)
    for column, value in where.items():
        query = query.where(messages.c[column] == value)
    with engine.connect() as conn:
        return list(conn.execute(query))


def entries(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(journey_entries).order_by(journey_entries.c.id)))


CONFIG = EngineConfig(
    default_tz="Asia/Bangkok",
    channels=frozenset({ChannelName.LINE, ChannelName.EMAIL, ChannelName.SMS}),
    base_url="https://c360.example",
)


@pytest.fixture
def line() -> Iterator[FakeLine]:
    with FakeLine(TOKEN) as server:
        yield server


def dispatcher(engine: Engine, line: FakeLine, smtp: FakeSmtp | None = None) -> Dispatcher:
    config = ChannelsConfig(
        line=LineConfig(channel_access_token=TOKEN, base_url=line.url),  # type: ignore[arg-type]
        email=EmailConfig(
            host=smtp.host, port=smtp.port, security="none", from_address="shop@example.co.th"
        )
        if smtp
        else None,
    )
    return Dispatcher(engine, build_channels(config), DispatchConfig(retry_base_s=1))


def test_a_cart_left_for_an_hour_gets_one_reminder_on_line(
    engine: Engine, tmp_path: Path, line: FakeLine
) -> None:
    journey(engine, CART)
    somchai = person(engine, tmp_path, 1)
    act(engine, somchai, "Product Added", T0, sku="TH-001", name="รองเท้าวิ่ง")

    assert run_cycle(engine, CONFIG, T0).entered == 1
    assert sent(engine) == []
    run_cycle(engine, CONFIG, T0 + 59 * MINUTE)
    assert sent(engine) == []  # still waiting

    run_cycle(engine, CONFIG, T0 + 61 * MINUTE)
    run_cycle(engine, CONFIG, T0 + 62 * MINUTE)  # a second pass does not send again
    queued = sent(engine)
    assert [(m.channel, m.status, m.address) for m in queued] == [("line", "queued", f"U{1:032x}")]
    assert queued[0].body.startswith("สวัสดีคุณสมชาย รองเท้าวิ่ง ยังอยู่ในตะกร้า https://c360.example/t/c/")

    with dispatcher(engine, line) as d:
        report = d.run_until_idle(T0 + 62 * MINUTE)
    assert report.sent == 1
    [request] = line.delivered
    assert request.json()["to"] == f"U{1:032x}"
    assert request.json()["messages"][0]["text"] == queued[0].body
    assert sent(engine)[0].status == "sent"

    process(engine)  # the send is an event on Somchai's timeline
    with engine.connect() as conn:
        profile = get_profile(conn, somchai.profile_id)
    assert profile.event_count >= 3
    [entry] = entries(engine)
    run_cycle(engine, CONFIG, T0 + 63 * MINUTE)
    assert entries(engine)[0].status == "ended"
    assert entries(engine)[0].end_reason == "completed"
    assert entry.arm == "treatment"


def test_an_order_before_the_hour_ends_the_journey_without_a_message(
    engine: Engine, tmp_path: Path
) -> None:
    journey(engine, CART)
    somchai = person(engine, tmp_path, 2)
    act(engine, somchai, "Product Added", T0)
    run_cycle(engine, CONFIG, T0)
    act(engine, somchai, "Order Completed", T0 + 20 * MINUTE, revenue=1290)
    run_cycle(engine, CONFIG, T0 + 20 * MINUTE)
    run_cycle(engine, CONFIG, T0 + 2 * HOUR)

    assert sent(engine) == []
    [entry] = entries(engine)
    assert (entry.status, entry.end_reason) == ("ended", "exit condition met")
    assert entry.converted_at_us == T0 + 20 * MINUTE
    assert entry.revenue == 1290


def test_without_marketing_consent_the_send_is_skipped_and_says_why(
    engine: Engine, tmp_path: Path
) -> None:
    journey(engine, CART)
    nobody = person(engine, tmp_path, 3, consent=None)
    act(engine, nobody, "Product Added", T0)
    run_cycle(engine, CONFIG, T0)
    run_cycle(engine, CONFIG, T0 + 2 * HOUR)

    [skipped] = sent(engine)
    assert skipped.status == "skipped"
    assert "consent" in skipped.reason


def test_consent_withdrawn_while_queued_cancels_the_message(
    engine: Engine, tmp_path: Path, line: FakeLine
) -> None:
    journey(engine, CART)
    somchai = person(engine, tmp_path, 4)
    act(engine, somchai, "Product Added", T0)
    run_cycle(engine, CONFIG, T0)
    run_cycle(engine, CONFIG, T0 + 61 * MINUTE)
    assert sent(engine)[0].status == "queued"
    track(
        engine,
        factories.identify(
            somchai.user,
            traits={},
            context={"consent": {"categoryPreferences": {"marketing": False}}},
        ),
    )
    with dispatcher(engine, line) as d:
        report = d.run_until_idle(T0 + 62 * MINUTE)
    assert (report.sent, report.cancelled) == (0, 1)
    assert line.received == []
    assert "withdrawn" in sent(engine)[0].reason


def test_reentry_waits_a_day_and_each_entry_runs_each_step_once(
    engine: Engine, tmp_path: Path
) -> None:
    journey(engine, CART)
    somchai = person(engine, tmp_path, 5)
    act(engine, somchai, "Product Added", T0)
    act(engine, somchai, "Product Added", T0 + MINUTE)
    run_cycle(engine, CONFIG, T0 + MINUTE)
    assert len(entries(engine)) == 1  # in the journey already
    run_cycle(engine, CONFIG, T0 + 2 * HOUR)
    act(engine, somchai, "Product Added", T0 + 3 * HOUR)
    run_cycle(engine, CONFIG, T0 + 3 * HOUR)
    assert len(entries(engine)) == 1  # a day has not passed since entering
    act(engine, somchai, "Product Added", T0 + 25 * HOUR)
    run_cycle(engine, CONFIG, T0 + 25 * HOUR)
    run_cycle(engine, CONFIG, T0 + 27 * HOUR)
    assert [e.entry_no for e in entries(engine)] == [1, 2]
    assert len(sent(engine)) == 2
    with engine.connect() as conn:
        done = conn.execute(select(journey_steps.c.entry_id, journey_steps.c.step)).all()
    assert len(done) == len(set(done)) == 4


def test_a_new_version_of_a_template_reaches_whoever_gets_to_the_step_after_it(
    engine: Engine, tmp_path: Path
) -> None:
    journey(engine, CART)
    somchai, somsri = person(engine, tmp_path, 11), person(engine, tmp_path, 12)
    act(engine, somchai, "Product Added", T0)
    run_cycle(engine, CONFIG, T0)
    run_cycle(engine, CONFIG, T0 + 61 * MINUTE)  # the first version, compiled and in use
    act(engine, somsri, "Product Added", T0 + 61 * MINUTE)
    run_cycle(engine, CONFIG, T0 + 61 * MINUTE)
    with engine.begin() as conn:
        update_journey(
            conn,
            "cart-abandonment",
            CART.replace("ยังอยู่ในตะกร้า", "รอคุณอยู่"),
            default_tz="Asia/Bangkok",
            now_us=T0 + 90 * MINUTE,
        )

    run_cycle(engine, CONFIG, T0 + 122 * MINUTE)
    first, second = sent(engine)
    assert (first.profile_id, second.profile_id) == (somchai.profile_id, somsri.profile_id)
    assert first.body.startswith("สวัสดีคุณสมชาย Product Added ยังอยู่ในตะกร้า https://")
    assert second.body.startswith("สวัสดีคุณสมชาย Product Added รอคุณอยู่ https://")


def test_waiting_people_survive_a_restart(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    journey(engine, CART)
    somchai = person(engine, tmp_path, 6)
    act(engine, somchai, "Product Added", T0)
    run_cycle(engine, CONFIG, T0)
    engine.dispose()  # the process ends; a new one opens the store

    again = create_engine_for(database_url)
    try:
        run_cycle(again, CONFIG, T0 + 30 * MINUTE)
        assert sent(again) == []
        run_cycle(again, CONFIG, T0 + 61 * MINUTE)
        assert len(sent(again)) == 1
    finally:
        again.dispose()


BRANCHY = """
name: welcome
trigger: {event: Signed Up}
steps:
  - id: vip
    branch: {if: 'plan = "gold"', then: tag, else: wait-open}
  - id: wait-open
    wait_for: {event: App Opened, timeout: 2 days, on_event: tag, on_timeout: end}
  - id: tag
    set_trait: {name: onboarding, value: done}
  - id: ping
    webhook: {url: "https://hooks.example/onboarded"}
"""


def test_branches_wait_for_events_set_traits_and_call_webhooks(
    engine: Engine, tmp_path: Path
) -> None:
    journey(engine, BRANCHY)
    a = person(engine, tmp_path, 7)
    b = person(engine, tmp_path, 8)
    act(engine, a, "Signed Up", T0, plan="basic")
    act(engine, b, "Signed Up", T0, plan="basic")
    run_cycle(engine, CONFIG, T0)
    assert [e.waiting_for for e in entries(engine)] == ["App Opened", "App Opened"]

    act(engine, a, "App Opened", T0 + HOUR)
    run_cycle(engine, CONFIG, T0 + HOUR)
    run_cycle(engine, CONFIG, T0 + 3 * 24 * HOUR)  # b times out
    by_profile = {e.profile_id: e for e in entries(engine)}
    assert by_profile[a.profile_id].end_reason == "completed"
    assert by_profile[b.profile_id].end_reason == "completed"
    hooks = sent(engine, channel="webhook")
    assert [h.profile_id for h in hooks] == [a.profile_id]
    assert hooks[0].address == "https://hooks.example/onboarded"

    process(engine)  # the trait the journey set is on a's profile
    with engine.connect() as conn:
        assert get_profile(conn, a.profile_id).traits.get("onboarding") == "done"
        assert "onboarding" not in get_profile(conn, b.profile_id).traits


def test_a_control_group_is_held_out_and_the_report_gives_uplift(
    engine: Engine, tmp_path: Path
) -> None:
    journey(engine, CART.replace("reentry: after 1 day", "reentry: after 1 day\ncontrol: 0.5"))
    people = [person(engine, tmp_path, 100 + i) for i in range(12)]
    for p in people:
        act(engine, p, "Product Added", T0)
    run_cycle(engine, CONFIG, T0)
    run_cycle(engine, CONFIG, T0 + 61 * MINUTE)
    arms = {e.profile_id: e.arm for e in entries(engine)}
    control = [p for p in people if arms[p.profile_id] == "control"]
    treated = [p for p in people if arms[p.profile_id] == "treatment"]
    assert control and treated
    assert {m.profile_id for m in sent(engine)} == {p.profile_id for p in treated}
    for p in treated[: len(treated) // 2 + 1]:
        act(engine, p, "Order Completed", T0 + 3 * HOUR, revenue=1000)
    act(engine, control[0], "Order Completed", T0 + 4 * HOUR, revenue=500)
    act(engine, control[0], "Order Completed", T0 + 80 * HOUR, revenue=500)  # after 72 h
    run_cycle(engine, CONFIG, T0 + 80 * HOUR)

    with engine.connect() as conn:
        report = journey_report(conn, "cart-abandonment").as_json()
    assert report["treatment"]["entries"] == len(treated)
    assert report["treatment"]["conversions"] == len(treated) // 2 + 1
    assert report["control"]["conversions"] == 1
    assert report["revenue_attributed"] == 1000 * (len(treated) // 2 + 1)
    assert report["sends_by_channel"] == {"line": {"queued": len(treated)}}


def test_paused_journeys_neither_enter_nor_move_people(engine: Engine, tmp_path: Path) -> None:
    journey(engine, CART)
    somchai = person(engine, tmp_path, 9)
    act(engine, somchai, "Product Added", T0)
    run_cycle(engine, CONFIG, T0)
    with engine.begin() as conn:
        set_status(conn, "cart-abandonment", PAUSED)
    run_cycle(engine, CONFIG, T0 + 2 * HOUR)
    assert sent(engine) == []
    with engine.begin() as conn:
        set_status(conn, "cart-abandonment", "active")
    run_cycle(engine, CONFIG, T0 + 2 * HOUR)
    assert len(sent(engine)) == 1


def test_bad_definitions_are_refused_with_the_field_named(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(InvalidInput, match=r"steps.0.*wait.*duration"):
        create_journey(conn, "name: x\ntrigger: {event: A}\nsteps: [{wait: soon}]")
    with engine.begin() as conn, pytest.raises(InvalidInput, match="goes back"):
        create_journey(
            conn,
            "name: x\ntrigger: {event: A}\nsteps:\n - {id: a, wait: 1 hour}\n"
            " - {id: b, branch: {if: 'x = 1', then: a}}",
        )
    with engine.begin() as conn, pytest.raises(InvalidInput, match="line 1"):
        create_journey(conn, "name: x\ntrigger: {event: A}\nexit_when: 'did'\nsteps: [{exit: x}]")
    for internal in ("http://127.0.0.1:8080/x", "http://169.254.169.254/latest", "http://[::1]/"):
        with engine.begin() as conn, pytest.raises(InvalidInput, match="step 'hook'"):
            hook = f"[{{id: hook, webhook: {{url: '{internal}'}}}}]"
            create_journey(conn, f"name: x\ntrigger: {{event: A}}\nsteps: {hook}")
    journey(engine, CART)
    with engine.begin() as conn, pytest.raises(Conflict):
        create_journey(conn, CART)
    with engine.connect() as conn:
        assert get_journey(conn, "cart-abandonment").version == 1


def test_email_goes_through_a_real_smtp_server_with_tracked_links(
    engine: Engine, tmp_path: Path, line: FakeLine
) -> None:
    journey(engine, CART.replace("channels: [line, email]", "channels: [email]"))
    somchai = person(engine, tmp_path, 10)
    act(engine, somchai, "Product Added", T0)
    run_cycle(engine, CONFIG, T0)
    run_cycle(engine, CONFIG, T0 + 61 * MINUTE)
    with FakeSmtp() as smtp, dispatcher(engine, line, smtp) as d:
        assert d.run_until_idle(T0 + 62 * MINUTE).sent == 1
        [delivered] = smtp.delivered
    mail = delivered.message
    assert delivered.rcpt_tos == ["person10@example.co.th"]
    assert mail["Subject"] == "สมชาย, ตะกร้าของคุณรออยู่"
    body = mail.get_body(("plain",))
    assert body is not None
    assert "https://c360.example/t/c/" in body.get_content()


def test_c360s_own_events_go_with_the_profile_when_it_merges(
    engine: Engine, tmp_path: Path
) -> None:
    from c360.activation.outbox import activation_event, append_events
    from c360.storage.tables import event_log, profile_events

    somchai = person(engine, tmp_path, 70)
    track(engine, factories.track(event="Product Viewed", userId=None, anonymousId="anon-70"))
    with engine.connect() as conn:
        visitor = find_by_identifier(conn, "anonymous_id", "anon-70").id
    assert visitor != somchai.profile_id
    with engine.begin() as conn:
        sent = activation_event(visitor, "LINE Message Sent", {"channel": "line"}, "m-70", T0)
        append_events(conn, [sent], T0)
    process(engine)

    # the visitor logs in: their profile merges into Somchai's, and the send goes with it
    track(engine, factories.identify(somchai.user, anonymousId="anon-70", traits={}))
    with engine.connect() as conn:
        assert find_by_identifier(conn, "anonymous_id", "anon-70").id == somchai.profile_id
        names = conn.execute(
            select(event_log.c.payload)
            .select_from(profile_events.join(event_log, event_log.c.seq == profile_events.c.seq))
            .where(profile_events.c.profile_id == somchai.profile_id)
        ).scalars()
        assert any('"LINE Message Sent"' in payload for payload in names)
