"""Journeys and the world around them, on both stores: Vietnam's advertising SMS rules, segment
and schedule triggers, local times of day, and a dispatcher killed between a provider taking a
message and c360 recording it."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select, update
from tests import factories
from tests.customer360 import track
from tests.fakes.providers import FakeLine
from tests.integration.test_journeys import (
    CART,
    CONFIG,
    HOUR,
    MINUTE,
    T0,
    TOKEN,
    act,
    dispatcher,
    entries,
    journey,
    person,
    sent,
)

from c360.activation.engine import run_cycle
from c360.kernel.clock import from_us, system_clock, to_us
from c360.segments.language import parse
from c360.segments.service import create_segment
from c360.storage.tables import messages

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")

FLASH_SALE = """
name: flash-sale
trigger: {event: Product Viewed}
reentry: always
steps:
  - send:
      channels: [sms]
      template:
        body: "[QC] Giảm 20% cho {{ profile.first_name }} hôm nay"
"""


def at_saigon(hour: int, minute: int = 0, second: int = 0, day: int = 9) -> int:
    return to_us(datetime(2026, 12, day, hour, minute, second, tzinfo=SAIGON))


def test_advertising_sms_in_vietnam_waits_for_seven_and_stops_at_three_a_day(
    engine: Engine, tmp_path: Path
) -> None:
    journey(engine, FLASH_SALE)
    lan = person(engine, tmp_path, 30, line=False, country="VN", phone="+84 912 345 678")

    act(engine, lan, "Product Viewed", at_saigon(6, 59, 59))
    run_cycle(engine, CONFIG, at_saigon(6, 59, 59))
    assert sent(engine) == []  # 06:59:59 is before the window: the step waits for 07:00
    [waiting] = entries(engine)
    assert waiting.wake_at_us == at_saigon(7)

    run_cycle(engine, CONFIG, at_saigon(7))
    [first] = sent(engine)
    assert (first.channel, first.address, first.status) == ("sms", "+84912345678", "queued")
    assert first.body.startswith("[QC] Giảm 20% cho Lan")

    for minute in (1, 2, 3):
        act(engine, lan, "Product Viewed", at_saigon(7, minute))
        run_cycle(engine, CONFIG, at_saigon(7, minute))
    statuses = [(m.status, m.reason) for m in sent(engine)]
    assert [s for s, _ in statuses] == ["queued", "queued", "queued", "skipped"]
    assert "Decree 91/2020/ND-CP" in (statuses[3][1] or "")

    act(engine, lan, "Product Viewed", at_saigon(21, 59, 59, day=10))  # a day later
    run_cycle(engine, CONFIG, at_saigon(21, 59, 59, day=10))
    act(engine, lan, "Product Viewed", at_saigon(22, 0, 0, day=10))
    run_cycle(engine, CONFIG, at_saigon(22, 0, 0, day=10))
    late = sent(engine)
    assert late[4].status == "queued"
    assert len(late) == 5  # 22:00:00 is outside the window: that entry waits for the morning


def test_entering_a_segment_starts_a_journey(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        create_segment(conn, "vietnam", parse('country = "VN"'))
    journey(
        engine,
        "name: welcome-vn\ntrigger: {segment: vietnam}\nsteps:\n"
        "  - set_trait: {name: welcomed, value: true}",
    )
    person(engine, tmp_path, 31, line=False, country="VN")
    person(engine, tmp_path, 32)  # Thai: not in the segment
    run_cycle(engine, CONFIG, T0)
    [entry] = entries(engine)
    assert entry.trigger["segment"] == "vietnam"
    assert entry.end_reason == "completed"


def test_a_schedule_enters_its_segment_at_the_local_time(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        create_segment(conn, "thai", parse('country = "TH"'))
    journey(
        engine,
        "name: morning\ntimezone: Asia/Bangkok\n"
        "trigger: {schedule: {at: '09:00', segment: thai}}\nsteps:\n  - exit: greeted",
    )
    a = person(engine, tmp_path, 33)
    person(engine, tmp_path, 34, country="VN", line=False)
    bangkok = ZoneInfo("Asia/Bangkok")
    nine = to_us(datetime(2026, 12, 8, 9, 0, tzinfo=bangkok))  # the morning after T0
    run_cycle(engine, CONFIG, nine - MINUTE)
    assert entries(engine) == []
    run_cycle(engine, CONFIG, nine)
    assert [(e.profile_id, e.end_reason) for e in entries(engine)] == [
        (a.profile_id, "exit step 'step1': greeted")
    ]
    run_cycle(engine, CONFIG, nine + HOUR)  # the next run is tomorrow
    assert len(entries(engine)) == 1


def test_wait_until_is_the_persons_own_morning(engine: Engine, tmp_path: Path) -> None:
    journey(
        engine,
        "name: tomorrow\ntrigger: {event: Signed Up}\nsteps:\n"
        "  - wait_until: {time: '08:30'}\n  - exit: done",
    )
    lan = person(engine, tmp_path, 35, line=False, country="VN")
    act(engine, lan, "Signed Up", T0)
    run_cycle(engine, CONFIG, T0)
    [entry] = entries(engine)
    woke = from_us(entry.wake_at_us).astimezone(SAIGON)
    assert (woke.day, woke.hour, woke.minute) == (8, 8, 30)


def test_a_dispatcher_killed_after_the_provider_took_a_message_sends_it_once(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    journey(engine, CART)
    a = person(engine, tmp_path, 36)
    b = person(engine, tmp_path, 37)
    for who in (a, b):
        act(engine, who, "Product Added", T0)
    run_cycle(engine, CONFIG, T0)
    run_cycle(engine, CONFIG, T0 + 61 * MINUTE)
    # the messages are due now on this machine's clock, as a dispatcher sees them
    with engine.begin() as conn:
        conn.execute(update(messages).values(next_attempt_us=system_clock()))

    with FakeLine(TOKEN) as line:
        line.script(200, accept=True, hold_s=3, times=2)  # takes both, answers late
        child = subprocess.Popen(
            [sys.executable, "-c", _DISPATCH_ONCE, database_url, line.url, TOKEN],
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
        deadline = time.monotonic() + 30
        while len(line.delivered) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert len(line.delivered) == 2
        assert {m.status for m in sent(engine)} == {"sending"}

        # b withdraws consent before anyone notices
        track(
            engine,
            factories.identify(
                b.user,
                traits={},
                context={"consent": {"categoryPreferences": {"marketing": False}}},
            ),
        )
        with dispatcher(engine, line) as d:
            assert d.run_once(system_clock()).claimed == 0  # still within the lease
            report = d.run_once(system_clock() + 121_000_000)
        assert (report.sent, report.cancelled) == (1, 1)
        keys = [r.headers["X-Line-Retry-Key"] for r in line.received]
        assert len(line.received) == 3 and keys.count(keys[0]) in (1, 2)
        assert len(line.delivered) == 2  # LINE took a's message once: the retry key matched
    by_profile = {m.profile_id: m for m in sent(engine)}
    assert by_profile[a.profile_id].status == "sent"
    assert by_profile[b.profile_id].status == "cancelled"
    assert "withdrawn" in by_profile[b.profile_id].reason


_DISPATCH_ONCE = textwrap.dedent(
    """
    import os
    import sys
    from c360.activation.dispatch import Dispatcher
    from c360.connectors.channels import ChannelsConfig, LineConfig, build_channels
    from c360.storage.engine import create_engine_for
    from c360.storage.sealing import configure_sealing

    configure_sealing(os.environ.get("C360_ENCRYPTION_KEYS") or None)  # as c360 worker does
    url, line_url, token = sys.argv[1:4]
    channels = build_channels(
        ChannelsConfig(line=LineConfig(channel_access_token=token, base_url=line_url))
    )
    with Dispatcher(create_engine_for(url), channels) as dispatcher:
        dispatcher.run_once()
    """
)


def test_withdrawn_consent_cancels_every_queued_message_for_that_person_only(
    engine: Engine, tmp_path: Path
) -> None:
    from c360.activation.outbox import QueuedMessage, queue

    people = [person(engine, tmp_path, 60 + i) for i in range(10)]
    now = system_clock()
    with engine.begin() as conn:
        for n in range(1000):
            who = people[n % 10]
            queue(
                conn,
                QueuedMessage(
                    f"bulk-{n}",
                    None,
                    None,
                    None,
                    who.profile_id,
                    "line",
                    f"U{60 + n % 10:032x}",
                    "marketing",
                    "marketing",
                    None,
                    f"ข้อความ {n}",
                    None,
                ),
                now,
            )
    track(
        engine,
        factories.identify(
            people[0].user,
            traits={},
            context={"consent": {"categoryPreferences": {"marketing": False}}},
        ),
    )
    with FakeLine(TOKEN) as line:
        with dispatcher(engine, line) as d:
            report = d.run_until_idle(now + 1_000_000)
        to = [r.json()["to"] for r in line.delivered]
    assert (report.sent, report.cancelled) == (900, 100)
    assert f"U{60:032x}" not in to and len(set(to)) == 9
    with engine.connect() as conn:
        rows = conn.execute(select(messages.c.profile_id, messages.c.status)).all()
    assert {s for p, s in rows if p == people[0].profile_id} == {"cancelled"}
    assert {s for p, s in rows if p != people[0].profile_id} == {"sent"}
