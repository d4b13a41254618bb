"""Journeys over HTTP: saving and changing them, pause and resume, preview, report, and the
link and provider routes that bring engagement back (opens, clicks, unsubscribes, LINE and
Zalo replies)."""

import base64
import hashlib
import hmac
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select
from tests.customer360 import process
from tests.integration.test_journeys import CART, CONFIG, HOUR, MINUTE, T0, act, person
from tests.stores import SharedStore, engine_on, new_store, shared_postgres

from c360.activation.engine import run_cycle
from c360.api.app import build_app
from c360.privacy.keys import Role, create_key
from c360.profiles.service import get_profile
from c360.settings import Settings
from c360.storage.tables import messages

with warnings.catch_warnings():
    # starlette asks for httpx2, which the rest of the suite does not use yet
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

LINE_SECRET = "line-channel-secret"
ZALO_APP, ZALO_SECRET = "zalo-app-1", "zalo-oa-secret"


class Api:
    def __init__(self, client: TestClient, engine: Engine, keys: dict[str, str]) -> None:
        self.client = client
        self.engine = engine
        self.keys = keys

    def call(self, method: str, path: str, body: Any = None, key: str = "admin") -> Any:
        headers = {"Authorization": f"Bearer {self.keys[key]}"}
        return self.client.request(method, path, json=body, headers=headers)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **kw: Any) -> Any:
        response = self.call(method, path, body, **kw)
        assert response.status_code == status, response.text
        return response.json()


@contextmanager
def serve(engine: Engine, database_url: str) -> Iterator[TestClient]:
    settings = Settings(
        database_url=database_url,
        timezone="Asia/Bangkok",
        line_channel_secret=LINE_SECRET,  # type: ignore[arg-type]
        zalo_app_id=ZALO_APP,
        zalo_oa_secret_key=ZALO_SECRET,  # type: ignore[arg-type]
    )
    app = build_app(settings, engine, run_worker=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@dataclass
class Shared:
    store: SharedStore
    client: TestClient


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shared | None]:
    """On PostgreSQL, one database and one app for the module: a new database costs up to a
    second and building the app half of one. The store is put back to new before each test
    (``database_url``), so each still starts from a new store; no journey state lives in the
    app, it reads the store."""
    with shared_postgres(request, tmp_path_factory) as store:
        if store is None:
            yield None
            return
        with serve(store.engine, store.url) as client:
            yield Shared(store, client)


@pytest.fixture
def database_url(shared: Shared | None, tmp_path: Path) -> Iterator[str]:
    """A new store: a copy of a migrated SQLite file, or the shared PostgreSQL one renewed."""
    with new_store(shared.store if shared else None, tmp_path) as url:
        yield url


@pytest.fixture
def engine(shared: Shared | None, database_url: str) -> Iterator[Engine]:
    with engine_on(shared.store if shared else None, database_url) as engine:
        yield engine


@pytest.fixture
def api(shared: Shared | None, engine: Engine, database_url: str) -> Iterator[Api]:
    keys = {}
    with engine.begin() as conn:
        for role in (Role.ADMIN, Role.READ):
            _, keys[role.value] = create_key(conn, name=role.value, role=role, source=None)
    if shared is not None:
        yield Api(shared.client, engine, keys)
        return
    with serve(engine, database_url) as client:
        yield Api(client, engine, keys)


def test_create_show_list_update_pause_resume_and_delete(api: Api) -> None:
    created = api.ok("POST", "/api/journeys", {"definition": CART}, status=201)
    assert (created["name"], created["status"], created["version"]) == (
        "cart-abandonment",
        "active",
        1,
    )
    assert created["definition"]["steps"][0] == {"id": "wait", "wait": "1 hour"}
    assert api.ok("GET", "/api/journeys", key="read")["journeys"][0]["name"] == "cart-abandonment"

    as_json = dict(created["definition"], description="now from JSON")
    updated = api.ok("PUT", "/api/journeys/cart-abandonment", {"definition": as_json})
    assert (updated["version"], updated["definition"]["description"]) == (2, "now from JSON")

    assert api.ok("POST", "/api/journeys/cart-abandonment/pause")["status"] == "paused"
    assert api.ok("POST", "/api/journeys/cart-abandonment/resume")["status"] == "active"
    assert api.call("POST", "/api/journeys/cart-abandonment/pause", key="read").status_code == 403
    assert api.call("POST", "/api/journeys", {"definition": CART}).status_code == 409

    gone = api.ok("DELETE", "/api/journeys/cart-abandonment")
    assert gone == {"deleted": "cart-abandonment", "people_removed": 0}
    assert api.call("GET", "/api/journeys/cart-abandonment").status_code == 404


def test_a_definition_that_cannot_be_used_answers_422_naming_the_field(api: Api) -> None:
    response = api.call(
        "POST",
        "/api/journeys",
        {"definition": "name: x\ntrigger: {event: A}\nsteps: [{wait: 1 fortnight}]"},
    )
    assert response.status_code == 422
    assert "steps.0" in response.json()["message"]
    unlabeled = {
        "name": "vn-sms",
        "trigger": {"event": "Product Added"},
        "steps": [{"send": {"channels": ["sms"], "template": {"body": "Giảm 20% hôm nay"}}}],
    }
    response = api.call("POST", "/api/journeys", {"definition": unlabeled})
    assert response.status_code == 422
    assert "[QC]" in response.json()["message"]
    unlabeled["steps"][0]["send"]["countries"] = ["TH"]  # type: ignore[index]
    assert api.call("POST", "/api/journeys", {"definition": unlabeled}).status_code == 201


def test_preview_renders_a_send_step_for_one_profile(api: Api, tmp_path: Path) -> None:
    api.ok("POST", "/api/journeys", {"definition": CART}, status=201)
    somchai = person(api.engine, tmp_path, 20)
    body = {"profile_id": somchai.profile_id, "step": "remind", "event": {"name": "รองเท้า"}}
    shown = api.ok("POST", "/api/journeys/cart-abandonment/preview", body, key="admin")
    assert shown["subject"] == "สมชาย, ตะกร้าของคุณรออยู่"
    assert shown["body"].startswith("สวัสดีคุณสมชาย รองเท้า ยังอยู่ในตะกร้า")
    missing = api.call("POST", "/api/journeys/cart-abandonment/preview", dict(body, step="wait"))
    assert missing.status_code == 422


def _queued(api: Api, tmp_path: Path, n: int) -> Any:
    api.ok("POST", "/api/journeys", {"definition": CART}, status=201)
    somchai = person(api.engine, tmp_path, n)
    act(api.engine, somchai, "Product Added", T0)
    run_cycle(api.engine, CONFIG, T0)
    run_cycle(api.engine, CONFIG, T0 + 61 * MINUTE)
    with api.engine.connect() as conn:
        return somchai, conn.execute(select(messages)).one()


def _path(url: str) -> str:
    return url.removeprefix("https://c360.example")


def test_clicks_redirect_only_to_signed_links_and_reach_the_timeline(
    api: Api, tmp_path: Path
) -> None:
    somchai, message = _queued(api, tmp_path, 21)
    link = re.search(r"https://c360\.example/t/c/\S+", message.body)
    assert link is not None
    response = api.client.get(_path(link.group(0)), follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "https://shop.example/cart"

    forged = _path(link.group(0))[:-3] + "AAA"
    assert api.client.get(forged, follow_redirects=False).status_code == 422
    pixel = api.client.get("/t/o/not-a-token.gif")
    assert (pixel.status_code, pixel.headers["content-type"]) == (200, "image/gif")

    process(api.engine)
    events = api.ok("GET", f"/api/profiles/{somchai.profile_id}/events", key="read")["events"]
    names = [e.get("event") or e.get("name") for e in events]
    assert "LINE Message Link Clicked" in str(events), names
    with api.engine.connect() as conn:
        row = conn.execute(select(messages)).one()
    assert row.clicked_at_us is not None and row.opened_at_us is not None
    with api.engine.connect() as conn:  # the click counts for the channel they prefer
        assert get_profile(conn, somchai.profile_id).computed["preferred_channel"] == "line"


def test_an_unsubscribe_link_withdraws_consent_for_that_channel(api: Api, tmp_path: Path) -> None:
    from c360.activation.engagement import unsubscribe_token

    somchai, message = _queued(api, tmp_path, 22)
    with api.engine.begin() as conn:
        token = unsubscribe_token(conn, message.key)
    page = api.client.get(f"/t/u/{token}")
    assert page.status_code == 200 and "line" in page.text
    process(api.engine)
    with api.engine.connect() as conn:
        view = get_profile(conn, somchai.profile_id)
    assert view.id == somchai.profile_id
    with api.engine.connect() as conn:
        from c360.storage.tables import profiles

        attributes = conn.execute(
            select(profiles.c.attributes).where(profiles.c.id == somchai.profile_id)
        ).scalar_one()
    assert attributes["c"]["marketing"]["line"] is False
    assert attributes["c"]["marketing"]["*"] is True  # other channels still consented

    act(api.engine, somchai, "Product Added", T0 + 25 * HOUR)
    run_cycle(api.engine, CONFIG, T0 + 25 * HOUR)
    run_cycle(api.engine, CONFIG, T0 + 26 * HOUR + MINUTE)
    with api.engine.connect() as conn:
        second = conn.execute(select(messages).order_by(messages.c.id.desc())).first()
    assert second is not None and second.channel == "email"  # LINE is no longer allowed


def test_line_and_zalo_replies_are_checked_and_filed_under_the_person(
    api: Api, tmp_path: Path
) -> None:
    somchai, message = _queued(api, tmp_path, 23)
    body = orjson.dumps(
        {
            "destination": "Uxxxxxxxx",
            "events": [
                {
                    "type": "message",
                    "message": {"type": "text", "id": "1", "text": "สนใจครับ ส่งฟรีไหม"},
                    "source": {"type": "user", "userId": message.address},
                    "timestamp": 1_796_000_000_000,
                    "webhookEventId": "01H",
                    "mode": "active",
                }
            ],
        }
    )
    signature = base64.b64encode(hmac.new(LINE_SECRET.encode(), body, hashlib.sha256).digest())
    wrong = api.client.post("/api/inbound/line", content=body, headers={"x-line-signature": "x"})
    assert wrong.status_code == 401
    taken = api.client.post(
        "/api/inbound/line", content=body, headers={"x-line-signature": signature.decode()}
    )
    assert taken.json() == {"accepted": 1}
    process(api.engine)
    events = api.ok("GET", f"/api/profiles/{somchai.profile_id}/events", key="read")["events"]
    assert "สนใจครับ ส่งฟรีไหม" in str(events)

    zalo = orjson.dumps(
        {
            "app_id": ZALO_APP,
            "event_name": "user_send_text",
            "sender": {"id": "2512523625412515"},
            "message": {"text": "Cho tôi hỏi giá", "msg_id": "m1"},
            "timestamp": "1796000000000",
        }
    )
    mac = hashlib.sha256(
        (ZALO_APP + zalo.decode() + "1796000000000" + ZALO_SECRET).encode()
    ).hexdigest()
    unknown = api.client.post(
        "/api/inbound/zalo", content=zalo, headers={"x-zevent-signature": f"mac={mac}"}
    )
    assert unknown.json() == {"accepted": 0}  # nobody was sent anything at that Zalo id
    bad = api.client.post(
        "/api/inbound/zalo", content=zalo, headers={"x-zevent-signature": "mac=0"}
    )
    assert bad.status_code == 401


def test_the_report_counts_entries_sends_and_conversions(api: Api, tmp_path: Path) -> None:
    somchai, _message = _queued(api, tmp_path, 24)
    act(api.engine, somchai, "Order Completed", T0 + 3 * HOUR, revenue=2500)
    run_cycle(api.engine, CONFIG, T0 + 3 * HOUR)
    report = api.ok("GET", "/api/journeys/cart-abandonment/report", key="read")
    assert report["entries"] == 1
    assert report["treatment"] == {
        "entries": 1,
        "conversions": 1,
        "conversion_rate": 1.0,
        "revenue": 2500.0,
    }
    assert report["sends_by_channel"] == {"line": {"queued": 1}}
    assert report["uplift"]["absolute"] is None
    assert "control group is empty" in " ".join(report["uplift"]["reasons"])


def test_send_rules_from_settings_are_checked_at_start_and_used_when_saving(
    engine: Engine, database_url: str
) -> None:
    from c360.errors import InvalidInput

    with pytest.raises(InvalidInput, match="VN/sms/marketing"):
        build_app(
            Settings(
                database_url=database_url, send_rules={"VN/sms/marketing": {"hours": "all day"}}
            ),
            engine,
            run_worker=False,
        )
    # Thailand asks for a label too, in this deployment
    settings = Settings(
        database_url=database_url, send_rules={"TH/line/marketing": {"label_prefixes": ["[AD]"]}}
    )
    keys = {}
    with engine.begin() as conn:
        _, keys["admin"] = create_key(conn, name="admin", role=Role.ADMIN, source=None)
    with TestClient(build_app(settings, engine, run_worker=False)) as client:
        api = Api(client, engine, keys)
        refused = api.call("POST", "/api/journeys", {"definition": CART})
        assert refused.status_code == 422
        assert "[AD]" in refused.json()["message"]


def test_a_suppressed_address_is_never_chosen(api: Api, tmp_path: Path) -> None:
    api.ok("POST", "/api/journeys", {"definition": CART}, status=201)
    somchai = person(api.engine, tmp_path, 25)
    line_id = f"U{25:032x}"
    added = api.ok(
        "POST",
        "/api/suppressions",
        {"channel": "line", "address": line_id, "reason": "asked on the phone"},
        status=201,
    )
    assert added["address"] == line_id
    email = api.ok(
        "POST",
        "/api/suppressions",
        {"channel": "email", "address": " Person25@Example.co.th ", "reason": "complaint"},
        status=201,
    )
    assert email["address"] == "person25@example.co.th"
    bad = api.call("POST", "/api/suppressions", {"channel": "fax", "address": "1", "reason": "x"})
    assert bad.status_code == 422
    assert len(api.ok("GET", "/api/suppressions", key="read")) == 2

    act(api.engine, somchai, "Product Added", T0)
    run_cycle(api.engine, CONFIG, T0)
    run_cycle(api.engine, CONFIG, T0 + 61 * MINUTE)
    with api.engine.connect() as conn:
        skipped = conn.execute(select(messages)).one()
    assert skipped.status == "skipped"
    assert "suppressed: email, line" in skipped.reason

    api.ok("DELETE", "/api/suppressions/email/person25@example.co.th")
    assert api.call("DELETE", "/api/suppressions/email/person25@example.co.th").status_code == 404
