"""Cart abandonment end to end, on both stores.

Shoppers known to the CRM (Thai ones on LINE, Vietnamese ones on Zalo, others by email) browse
and fill carts through the official Segment SDK against a live ``c360 serve``. A journey holds
out a control group, waits an hour (the engine's clock is the test's), checks consent and the
send window, and reminds each treated shopper on their own channel: LINE and Zalo through
local servers playing their APIs, email through a real local SMTP server. Opens and clicks come
back through the server's tracking links, some shoppers buy, and the report gives each group's
conversion and the uplift.
"""

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine
from tests.conftest import LiveServer, create_engine_for, start_server
from tests.customer360 import load, process
from tests.fakes.providers import FakeLine, FakeSmtp, FakeZalo

from c360.activation.channels import ChannelName
from c360.activation.dispatch import Dispatcher
from c360.activation.engine import EngineConfig, run_cycle
from c360.connectors.channels import (
    ChannelsConfig,
    EmailConfig,
    LineConfig,
    ZaloConfig,
    build_channels,
)
from c360.kernel.clock import to_us

pytestmark = pytest.mark.slow

BANGKOK = ZoneInfo("Asia/Bangkok")
START = datetime(2026, 12, 8, 14, 0, tzinfo=BANGKOK)
T0 = to_us(START)
MINUTE = 60_000_000
LINE_TOKEN, ZALO_TOKEN = "line-token", "zalo-token"

JOURNEY = """
name: cart-abandonment
trigger: {event: Product Added}
exit_when: did "Order Completed" in last 2 hours
goal: {event: Order Completed, within: 72 hours}
control: 0.3
steps:
  - id: wait
    wait: 1 hour
  - id: remind
    send:
      channels: [line, zalo, email]
      template:
        subject: "{{ profile.first_name }}: {{ event.product }}"
        body: "{{ profile.first_name }}, {{ event.product }} https://shop.example/cart"
        html: "<p>{{ event.product }}</p><a href=\\"https://shop.example/cart\\">Cart</a>"
"""


def shoppers() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(40):
        row: dict[str, Any] = {"id": f"c-{i}", "user_id": f"shopper-{i}"}
        if i < 16:
            row |= {
                "first_name": "สมหญิง",
                "country": "TH",
                "line_user_id": f"U{(i + 1) * 0x9E3779B97F4A7C15:032x}",
            }
        elif i < 30:
            row |= {
                "first_name": "Ngọc",
                "country": "VN",
                "zalo_user_id": str(2512523625412515 + i * 7919),
            }
        else:
            row |= {"first_name": "Anna", "country": "TH"}
        row["email"] = f"shopper{i}@example.com"
        rows.append(row)
    return rows


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(database_url, tmp_path, "--no-worker")
    try:
        yield server
    finally:
        server.stop()


def sdk(server: LiveServer) -> Any:
    from segment.analytics import Client

    return Client(write_key=server.write_key, host=server.url, sync_mode=True, max_retries=0)


def test_reminders_on_each_persons_channel_lift_conversion_over_the_control_group(
    server: LiveServer, database_url: str, tmp_path: Path
) -> None:
    engine: Engine = create_engine_for(database_url)
    admin = server.admin()
    try:
        created = admin.post("/api/journeys", json={"definition": JOURNEY})
        assert created.status_code == 201, created.text
        rows = shoppers()
        for group in (rows[:16], rows[16:30], rows[30:]):  # one mapping per set of columns
            load(engine, tmp_path, "crm", "contact", group)

        client = sdk(server)
        consent = {"consent": {"categoryPreferences": {"marketing": True}}}
        for row in rows:
            client.identify(row["user_id"], {}, context=consent)
            client.track(row["user_id"], "Product Viewed", {"product": "รองเท้าวิ่ง"})
            client.track(row["user_id"], "Product Added", {"product": "รองเท้าวิ่ง"})
        client.flush()
        process(engine)

        config = EngineConfig(
            default_tz="Asia/Bangkok",
            channels=frozenset({ChannelName.LINE, ChannelName.ZALO, ChannelName.EMAIL}),
            base_url=server.url,
        )
        assert run_cycle(engine, config, T0).entered == 40
        run_cycle(engine, config, T0 + 30 * MINUTE)
        report = admin.get("/api/journeys/cart-abandonment/report").json()
        assert report["sends_by_channel"] == {}  # nobody is reminded before the hour

        run_cycle(engine, config, T0 + 61 * MINUTE)
        with FakeLine(LINE_TOKEN) as line, FakeZalo(ZALO_TOKEN) as zalo, FakeSmtp() as smtp:
            # Zalo takes customer-service messages from people who wrote to the OA lately
            zalo.followers |= {r["zalo_user_id"] for r in rows if "zalo_user_id" in r}
            channels = build_channels(
                ChannelsConfig(
                    line=LineConfig(channel_access_token=LINE_TOKEN, base_url=line.url),  # type: ignore[arg-type]
                    zalo=ZaloConfig(access_token=ZALO_TOKEN, base_url=zalo.url),  # type: ignore[arg-type]
                    email=EmailConfig(
                        host=smtp.host,
                        port=smtp.port,
                        security="none",
                        from_address="shop@example.co.th",
                    ),
                )
            )
            with Dispatcher(engine, channels) as dispatcher:
                dispatched = dispatcher.run_until_idle(T0 + 62 * MINUTE)
            line_to = [r.json()["to"] for r in line.delivered]
            zalo_to = [r.json()["recipient"]["user_id"] for r in zalo.delivered]
            mails = [d.message for d in smtp.delivered]
            line_texts = [r.json()["messages"][0]["text"] for r in line.delivered]

        report = admin.get("/api/journeys/cart-abandonment/report").json()
        treated_n = report["treatment"]["entries"]
        control_n = report["control"]["entries"]
        assert treated_n + control_n == 40 and control_n > 0
        assert dispatched.sent == treated_n
        assert len(line_to) + len(zalo_to) + len(mails) == treated_n
        assert all(to.startswith("U") for to in line_to)  # Thai shoppers on LINE
        assert all(to.startswith("2512") for to in zalo_to)  # Vietnamese shoppers on Zalo
        assert {m["To"] for m in mails} <= {f"shopper{i}@example.com" for i in range(30, 40)}
        assert all(m["Subject"] == "Anna: รองเท้าวิ่ง" for m in mails)

        # engagement comes back through the live server's links
        with httpx.Client(base_url=server.url) as web:
            for mail in mails:
                html = mail.get_body(("html",))
                assert html is not None
                pixel = re.search(r'src="([^"]+\.gif)"', html.get_content())
                assert pixel is not None
                assert web.get(pixel.group(1)).headers["content-type"] == "image/gif"
            for text in line_texts[:3]:
                link = re.search(r"https?://\S+/t/c/\S+", text)
                assert link is not None
                answer = web.get(link.group(0), follow_redirects=False)
                assert (answer.status_code, answer.headers["location"]) == (
                    302,
                    "https://shop.example/cart",
                )

        # two in three reminded shoppers buy; one in ten of the control group does
        entries = admin.get("/api/journeys/cart-abandonment").json()
        assert entries["total_entries"] == 40
        from c360.storage.tables import journey_entries

        with engine.connect() as conn:
            by_user = {}
            for pid, arm in conn.execute(
                journey_entries.select().with_only_columns(
                    journey_entries.c.profile_id, journey_entries.c.arm
                )
            ):
                by_user[pid] = arm
        treated = [p for p, a in by_user.items() if a == "treatment"]
        control = [p for p, a in by_user.items() if a == "control"]
        buyers = treated[: (2 * len(treated)) // 3] + control[: max(1, len(control) // 10)]
        user_of = _users(admin, buyers)
        client = sdk(server)
        for pid in buyers:
            client.track(
                user_of[pid],
                "Order Completed",
                {"revenue": 1290, "currency": "THB"},
                timestamp=START + timedelta(hours=3),
            )
        client.flush()
        process(engine)
        run_cycle(engine, config, T0 + 4 * 60 * MINUTE)

        report = admin.get("/api/journeys/cart-abandonment/report").json()
        assert report["treatment"]["conversions"] == (2 * len(treated)) // 3
        assert report["control"]["conversions"] == max(1, len(control) // 10)
        assert report["treatment"]["conversion_rate"] > report["control"]["conversion_rate"]
        uplift = report["uplift"]
        assert uplift["absolute"] > 0
        assert uplift["absolute_ci"]["low"] < uplift["absolute"] < uplift["absolute_ci"]["high"]
        assert report["revenue_attributed"] == 1290 * ((2 * len(treated)) // 3)
        assert report["open_rate"] > 0 and report["click_rate"] > 0
        sent_by_channel = {c: s.get("sent", 0) for c, s in report["sends_by_channel"].items()}
        assert sent_by_channel == {
            c: n
            for c, n in (("line", len(line_to)), ("zalo", len(zalo_to)), ("email", len(mails)))
            if n
        }

        # the first LINE shopper's timeline shows the reminder and their click
        clicked = admin.get(f"/api/profiles/by-identifier/line_user_id/{line_to[0]}").json()
        events = admin.get(f"/api/profiles/{clicked['id']}/events", params={"limit": 100})
        names = [e["payload"].get("event") for e in events.json()["events"]]
        assert "LINE Message Sent" in names and "LINE Message Link Clicked" in names, names
    finally:
        admin.close()
        engine.dispose()


def _users(admin: httpx.Client, profile_ids: list[str]) -> dict[str, str]:
    out = {}
    for pid in profile_ids:
        profile = admin.get(f"/api/profiles/{pid}").json()
        user = next(i["value"] for i in profile["identifiers"] if i["type"] == "user_id")
        out[pid] = user
    return out
