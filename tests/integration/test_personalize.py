"""Personalisation on both stores: rules saved over HTTP and chosen per placement by segment,
priority and time window; the decision for a profile with its recommendations; who may do
what; and the public route a web page calls with its write key, with CORS.

The people and purchases are the shop of ``test_recommendations`` (imported through the real
path); ``vip`` holds Bích, Chai and Uyên.
"""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, delete
from tests.customer360 import track
from tests.integration.test_recommendations import (
    BUN,
    FISH,
    PHO,
    RICE,
    TEA,
    TIDA,
    UYEN,
    build_shop,
    profile_of,
)
from tests.stores import Loaded, copy_of, loaded_store

from c360.api import build_app, errors
from c360.api.personalize import PUBLIC_PATH, build_personalize_router
from c360.privacy.keys import KeyCache, Role, create_key
from c360.profiles.service import find_by_identifier
from c360.settings import Settings
from c360.storage import create_engine_for
from c360.storage.tables import personalization_rules

with warnings.catch_warnings():
    # Starlette asks for the httpx2 package; the installed httpx works the same for these tests.
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

BICH = "bich@vip.co.th"
SITE = "https://shop.example.co.th"

VIP = {
    "name": "vip-banner",
    "placement": "home_banner",
    "condition": 'in segment "vip"',
    "priority": 10,
    "content": {
        "title": "สมาชิก VIP ลด 20% ทุกชิ้น",
        "body": "Ưu đãi dành riêng cho thành viên VIP",
        "image": "https://cdn.example.co.th/vip.jpg",
        "url": "/vip",
        "offer_code": "VIP20",
    },
}
MEMBER = {
    "name": "member-banner",
    "placement": "home_banner",
    "condition": "email exists",
    "priority": 5,
    "content": {"title": "ยินดีต้อนรับกลับมา", "url": "/new"},
}
WELCOME = {
    "name": "welcome-banner",
    "placement": "home_banner",
    "condition": 'not in segment "vip"',
    "content": {"title": "Chào mừng bạn đến với cửa hàng", "data": {"theme": "light"}},
}
RECENT_BUYER = {
    "name": "thanks-for-ordering",
    "placement": "sidebar",
    "condition": 'did "Order Completed" in last 7 days',
    "content": {"title": "Cảm ơn bạn đã đặt hàng!", "offer_code": "CAMON10"},
}


@dataclass
class Api:
    client: TestClient
    public: TestClient
    keys: dict[str, str]

    def call(
        self, method: str, path: str, body: Any = None, key: str = "admin", **params: Any
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[key]}"}
        return self.client.request(method, path, json=body, params=params, headers=headers)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **kw: Any) -> Any:
        response = self.call(method, path, body, **kw)
        assert response.status_code == status, response.text
        return response.json()

    def shown(self, profile_id: str, **params: Any) -> dict[str, Any]:
        body = self.ok("GET", f"/api/personalize/{profile_id}", **params)
        return {p: (c["rule"] if c else None) for p, c in body["placements"].items()}

    def visit(self, key: str | None = "writer", origin: str | None = SITE, **params: Any) -> Any:
        headers = {}
        if key is not None:
            secret = self.keys.get(key, key)
            headers["Authorization"] = "Basic " + base64.b64encode(f"{secret}:".encode()).decode()
        if origin is not None:
            headers["Origin"] = origin
        return self.public.get(PUBLIC_PATH, params=params, headers=headers)


def public_app(engine: Engine, origins: tuple[str, ...]) -> FastAPI:
    """The public route as ``c360.api.app`` serves it (its router and the error answers)."""
    app = FastAPI()
    errors.install(app)
    app.include_router(
        build_personalize_router(
            engine, KeyCache(engine, 0), allowed_origins=origins, default_timezone="Asia/Bangkok"
        )
    )
    return app


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shop(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    """The shop loaded through the real import path once per module and store (about a second
    of imports and processing); the tests work on copies of it (see ``shared`` and ``own``)."""
    with loaded_store(request.param, tmp_path_factory.mktemp("shop"), build_shop) as loaded:
        yield loaded


@dataclass
class Running:
    """The app and the public route on one copy of the shop, per module and store."""

    engine: Engine
    client: TestClient
    public: TestClient


@contextmanager
def running(database_url: str) -> Iterator[Running]:
    engine = create_engine_for(database_url)
    settings = Settings(database_url=database_url, timezone="Asia/Bangkok")
    app = build_app(settings, engine, run_worker=False)
    try:
        with (
            TestClient(app, raise_server_exceptions=False) as client,
            TestClient(public_app(engine, (SITE,)), raise_server_exceptions=False) as public,
        ):
            yield Running(engine, client, public)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def shared(shop: Loaded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """Building the app costs about half a second and copying the shop up to a second, which
    most tests here need not pay: they share one copy and one app (see ``api``); the test
    that changes a person's data gets a copy of its own (``own``)."""
    with copy_of(shop, tmp_path_factory.mktemp("shared")) as url, running(url) as app:
        yield app


def _delete_rules(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(personalization_rules))


def _api(app: Running) -> Api:
    """New keys of every kind in ``app``'s store."""
    keys = {}
    with app.engine.begin() as conn:
        for role in (Role.ADMIN, Role.READ):
            _, keys[role.value] = create_key(conn, name=role.value, role=role, source=None)
        _, keys["writer"] = create_key(conn, name="site", role=Role.WRITER, source="web")
    return Api(app.client, app.public, keys)


@pytest.fixture
def engine(shared: Running) -> Engine:
    return shared.engine


@pytest.fixture
def api(shared: Running) -> Iterator[Api]:
    """The shared app with keys of this test's own, and no rules: rules are the store's, so
    each test starts from none (as on a new copy of the shop) and leaves none behind. No test
    using it changes the people or their purchases."""
    _delete_rules(shared.engine)
    yield _api(shared)
    _delete_rules(shared.engine)


@pytest.fixture
def own(shop: Loaded, tmp_path: Path) -> Iterator[Running]:
    """A copy of the shop and an app of this test's own, for a test that changes a person."""
    with copy_of(shop, tmp_path) as url, running(url) as app:
        yield app


def save(api: Api, *rules: dict[str, Any]) -> None:
    for rule in rules:
        api.ok("POST", "/api/personalize/rules", rule, status=201)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def test_rules_are_saved_listed_replaced_and_deleted_with_thai_and_vietnamese_content(
    api: Api,
) -> None:
    created = api.ok("POST", "/api/personalize/rules", VIP, status=201)
    assert created["condition"] == 'in segment "vip"'
    assert created["content"] == VIP["content"]
    assert (created["version"], created["timezone"], created["active_from"]) == (
        1,
        "Asia/Bangkok",
        None,
    )
    save(api, RECENT_BUYER, WELCOME)

    listed = api.ok("GET", "/api/personalize/rules", key="read")["rules"]
    assert [r["name"] for r in listed] == ["vip-banner", "welcome-banner", "thanks-for-ordering"]
    only = api.ok("GET", "/api/personalize/rules", key="read", placement="sidebar")["rules"]
    assert [r["name"] for r in only] == ["thanks-for-ordering"]

    changed = {k: v for k, v in VIP.items() if k != "name"} | {"priority": 30}
    replaced = api.ok("PUT", "/api/personalize/rules/vip-banner", changed)
    assert (replaced["priority"], replaced["version"]) == (30, 2)
    assert api.ok("GET", "/api/personalize/rules/vip-banner", key="read")["priority"] == 30

    assert api.ok("DELETE", "/api/personalize/rules/vip-banner") == {"deleted": "vip-banner"}
    assert api.call("GET", "/api/personalize/rules/vip-banner").status_code == 404
    assert api.call("DELETE", "/api/personalize/rules/vip-banner").status_code == 404


def test_each_placement_shows_the_highest_priority_rule_that_holds(
    api: Api, engine: Engine
) -> None:
    save(api, WELCOME, MEMBER, VIP, RECENT_BUYER)
    with engine.connect() as conn:
        dung = find_by_identifier(conn, "user_id", "u-dung").id

    # Bích is vip (10) and has an email (5); Tida has an email; Dũng, known by his userId
    # only, is neither, but ordered on the site 5 days ago
    assert api.shown(profile_of(engine, BICH)) == {"home_banner": "vip-banner", "sidebar": None}
    assert api.shown(profile_of(engine, TIDA)) == {
        "home_banner": "member-banner",
        "sidebar": None,
    }
    assert api.shown(dung) == {"home_banner": "welcome-banner", "sidebar": "thanks-for-ordering"}
    assert api.shown(dung, placement="sidebar") == {"sidebar": "thanks-for-ordering"}
    assert api.shown(dung, placement=["home_banner", "footer"]) == {
        "home_banner": "welcome-banner",
        "footer": None,
    }


def test_the_decision_holds_the_content_and_the_persons_recommendations(
    api: Api, engine: Engine
) -> None:
    save(api, VIP, WELCOME)
    uyen = profile_of(engine, UYEN)

    body = api.ok("GET", f"/api/personalize/{uyen}", key="read", placement="home_banner")

    assert body["profile_id"] == uyen
    assert body["personalized"] is True
    assert body["placements"] == {
        "home_banner": {"rule": "vip-banner", "priority": 10, "content": VIP["content"]}
    }
    assert [(i["product_id"], i["reason"]) for i in body["recommendations"]] == [
        (RICE, "popular in segment vip"),
        (TEA, "popular in segment vip"),
        (PHO, "popular in segment vip"),
        (FISH, "popular overall"),
    ]
    none = api.ok("GET", f"/api/personalize/{uyen}", recommendations=0)
    assert none["recommendations"] == []


def test_rules_show_only_within_their_time_window_in_their_time_zone(
    api: Api, engine: Engine
) -> None:
    save(api, VIP)
    bich = profile_of(engine, BICH)
    now = datetime.now(UTC)
    flash = {
        "name": "flash-sale",
        "placement": "home_banner",
        "condition": 'in segment "vip"',
        "priority": 50,
        "content": {"title": "Flash sale 12.12", "offer_code": "FLASH"},
        "timezone": "Asia/Bangkok",
    }
    # 30 minutes from now on a Bangkok clock, written without an offset: not yet
    local_soon = (now + timedelta(minutes=30)).astimezone(ZoneInfo("Asia/Bangkok"))
    save(api, flash | {"active_from": local_soon.replace(tzinfo=None).isoformat()})
    assert api.shown(bich) == {"home_banner": "vip-banner"}
    saved = api.ok("GET", "/api/personalize/rules/flash-sale")
    assert saved["active_from"] == local_soon.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    body = {k: v for k, v in flash.items() if k != "name"}
    hour, day = timedelta(hours=1), timedelta(days=1)
    window = {"active_from": iso(now - hour), "active_until": iso(now + hour)}
    api.ok("PUT", "/api/personalize/rules/flash-sale", body | window)
    assert api.shown(bich) == {"home_banner": "flash-sale"}

    over = {"active_from": iso(now - 2 * day), "active_until": iso(now - day)}
    api.ok("PUT", "/api/personalize/rules/flash-sale", body | over)
    assert api.shown(bich) == {"home_banner": "vip-banner"}


def test_a_person_who_withdrew_consent_to_personalisation_gets_what_anyone_gets(
    own: Running,
) -> None:
    api, engine = _api(own), own.engine
    save(api, WELCOME, RECENT_BUYER)
    with engine.connect() as conn:
        dung = find_by_identifier(conn, "user_id", "u-dung").id
    assert api.shown(dung)["sidebar"] == "thanks-for-ordering"

    track(
        engine,
        {
            "type": "identify",
            "messageId": "dung-consent",
            "userId": "u-dung",
            "traits": {},
            "context": {"consent": {"categoryPreferences": {"personalization": False}}},
        },
    )
    body = api.ok("GET", f"/api/personalize/{dung}")

    assert body["personalized"] is False
    assert body["placements"]["sidebar"] is None
    assert body["placements"]["home_banner"]["rule"] == "welcome-banner"
    assert {i["reason"] for i in body["recommendations"]} == {"popular overall"}


def test_an_unknown_profile_is_not_found(api: Api) -> None:
    save(api, WELCOME)

    response = api.call("GET", "/api/personalize/00000000-0000-0000-0000-000000000000")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_read_keys_read_rules_and_decisions_but_only_admin_keys_change_rules(
    api: Api, engine: Engine
) -> None:
    save(api, WELCOME)
    tida = profile_of(engine, TIDA)
    assert api.call("GET", "/api/personalize/rules", key="read").status_code == 200
    assert api.call("GET", f"/api/personalize/{tida}", key="read").status_code == 200

    refused = [
        api.call("POST", "/api/personalize/rules", VIP, key="read"),
        api.call("PUT", "/api/personalize/rules/welcome-banner", WELCOME, key="read"),
        api.call("DELETE", "/api/personalize/rules/welcome-banner", key="read"),
        api.call("GET", "/api/personalize/rules", key="writer"),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    assert [r["name"] for r in api.ok("GET", "/api/personalize/rules")["rules"]] == [
        "welcome-banner"
    ]


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"condition": 'in segment "vip" and'}, 422, "line 1, column 21"),
        ({"condition": 'in segment "nobody"'}, 422, "segment 'nobody', which does not exist"),
        ({"placement": "Home Banner"}, 422, "placement 'Home Banner' is not allowed"),
        ({"content": {"url": "javascript:alert(1)"}}, 422, "http(s) URL or a path"),
        ({"content": {"colour": "red"}}, 422, "Extra inputs are not permitted"),
        ({"timezone": "Asia/Saigon City"}, 422, "unknown time zone"),
        (
            {"active_from": "2026-12-12T00:00:00", "active_until": "2026-12-11T00:00:00"},
            422,
            "active_until must be later than active_from",
        ),
        ({"name": "vip-banner"}, 409, "a rule named 'vip-banner' exists"),
    ],
)
def test_a_rule_that_cannot_be_used_is_refused_saying_why(
    api: Api, change: dict[str, Any], status: int, message: str
) -> None:
    save(api, VIP)

    response = api.call("POST", "/api/personalize/rules", VIP | change)

    assert response.status_code == status, response.text
    assert message in response.json()["message"]


def test_a_web_page_gets_content_and_products_with_its_write_key_and_nothing_personal(
    api: Api, engine: Engine
) -> None:
    save(api, VIP, MEMBER, WELCOME, RECENT_BUYER)

    response = api.visit(userId="u-dung", anonymousId="a-1", placement=["home_banner", "sidebar"])

    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == SITE
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["placements"] == {
        "home_banner": {"content": WELCOME["content"]},
        "sidebar": {"content": RECENT_BUYER["content"]},
    }
    assert set(body) == {"placements", "recommendations"}
    assert {frozenset(i) for i in body["recommendations"]} == {
        frozenset({"product_id", "sku", "name", "category", "price", "currency", "score"})
    }
    # Dũng bought fish sauce and bún chả 5 days ago: neither comes back
    assert [i["product_id"] for i in body["recommendations"]] == [RICE, PHO, TEA]
    assert "Bún chả Hà Nội" not in response.text


def test_an_unknown_visitor_gets_the_default_content_and_what_is_popular(api: Api) -> None:
    save(api, VIP, MEMBER, WELCOME)

    body = api.visit(anonymousId="never-seen", limit="3", placement="home_banner").json()

    assert body["placements"] == {"home_banner": {"content": WELCOME["content"]}}
    assert [i["product_id"] for i in body["recommendations"]] == [RICE, FISH, PHO]
    assert api.visit(limit="0").json()["recommendations"] == []
    everything = api.visit(limit="20").json()["recommendations"]
    assert [i["product_id"] for i in everything] == [RICE, FISH, PHO, TEA, BUN]  # no coffee


def test_the_public_route_refuses_calls_without_a_valid_write_key(api: Api) -> None:
    save(api, WELCOME)

    missing = api.visit(key=None, anonymousId="a-1")
    wrong = api.visit(key="not-a-key", anonymousId="a-1")
    admin = api.visit(key="admin", anonymousId="a-1")

    assert (missing.status_code, missing.json()["code"]) == (401, "missing_write_key")
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_write_key")
    assert (admin.status_code, admin.json()["code"]) == (401, "invalid_write_key")
    # the page can read why: the refusal carries the CORS headers too
    assert missing.headers["access-control-allow-origin"] == SITE
    by_header = api.public.get(
        PUBLIC_PATH, params={"anonymousId": "a-1"}, headers={"X-Write-Key": api.keys["writer"]}
    )
    by_query = api.public.get(
        PUBLIC_PATH, params={"anonymousId": "a-1", "writeKey": api.keys["writer"]}
    )
    assert (by_header.status_code, by_query.status_code) == (200, 200)
    bad = api.visit(anonymousId="a-1", limit="lots")
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_input")
    assert bad.headers["access-control-allow-origin"] == SITE
    too_many = api.visit(anonymousId="a-1", placement=[f"slot{i}" for i in range(21)])
    assert too_many.status_code == 422
    assert "at most 20 placements" in too_many.json()["message"]


def test_cors_lets_only_the_configured_sites_call_from_a_browser(api: Api, engine: Engine) -> None:
    save(api, WELCOME)

    preflight = api.public.options(
        PUBLIC_PATH,
        headers={
            "Origin": SITE,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == SITE
    assert "GET" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    assert preflight.headers["vary"] == "Origin"

    elsewhere = api.visit(origin="https://evil.example", anonymousId="a-1")
    assert elsewhere.status_code == 403
    assert "access-control-allow-origin" not in elsewhere.headers
    evil_preflight = api.public.options(PUBLIC_PATH, headers={"Origin": "https://evil.example"})
    assert evil_preflight.status_code == 403
    assert api.visit(origin=None, anonymousId="a-1").status_code == 200  # an app, not a page

    with TestClient(public_app(engine, ("*",))) as anywhere:
        response = anywhere.get(
            PUBLIC_PATH,
            params={"anonymousId": "a-1", "writeKey": api.keys["writer"]},
            headers={"Origin": "https://evil.example"},
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
