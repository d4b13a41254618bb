"""Segments over HTTP on both stores: save, list, show, change and delete segments, preview a
condition, page through members, export them, and who may do what.

The members are real profiles: contacts and orders imported through the real path (mapping,
standardization, identity resolution, refresh), so each profile's view document is the one
conditions read in production."""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine
from tests.customer360 import load, process
from tests.stores import Loaded, copy_of, loaded_store

from c360.api import build_app
from c360.api.consent import record_changes
from c360.changes.feed import ChangeKind, changes_after
from c360.privacy.audit import Actor
from c360.privacy.consent import statement_from
from c360.privacy.keys import Role, create_key
from c360.profiles.service import find_by_identifier
from c360.segments.language import ConditionError, parse
from c360.settings import Settings

with warnings.catch_warnings():
    # Starlette asks for the httpx2 package; the installed httpx works the same for these tests.
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

PEOPLE = [
    # id, first name, last name, email, phone, country, province, birth date
    (
        "c-1",
        "สมชาย",
        "ใจดี",
        "somchai@example.co.th",
        "081-234-5678",
        "TH",
        "กรุงเทพมหานคร",
        "1990-05-31",
    ),
    ("c-2", "มาลี", "ศรีสุข", "malee@example.co.th", "089-111-2222", "TH", "เชียงใหม่", "1988-02-14"),
    (
        "c-3",
        "อนันต์",
        "วงศ์ษา",
        "anan@example.co.th",
        "086-333-4444",
        "TH",
        "กรุงเทพมหานคร",
        "1979-12-01",
    ),
    ("c-4", "Văn An", "Nguyễn", "an@example.vn", "0912 345 678", "VN", "Hà Nội", "1985-01-02"),
    (
        "c-5",
        "Thị Bích",
        "Trần",
        "bich@example.vn",
        "0987 654 321",
        "VN",
        "Hồ Chí Minh",
        "1992-07-20",
    ),
]


def contact(row: tuple[str, ...]) -> dict[str, Any]:
    pid, first, last, email, phone, country, province, birth = row
    return {
        "id": pid,
        "first_name": first,
        "last_name": last,
        "email": email,
        "phone": phone,
        "country": country,
        "province": province,
        "birth_date": birth,
    }


def order(order_id: str, email: str, total: str) -> dict[str, Any]:
    return {
        "id": order_id,
        "order_id": order_id,
        "email": email,
        "ordered_at": "2026-10-01T10:00:00+07:00",
        "status": "delivered",
        "channel": "web",
        "total": total,
        "currency": "THB",
    }


def customers(engine: Engine, tmp_path: Path) -> dict[str, str]:
    """Five customers (three in Thailand, two in Vietnam); Somchai and Anan have bought.
    Returns profile ids by email."""
    load(engine, tmp_path, "crm", "contact", [contact(p) for p in PEOPLE])
    load(
        engine,
        tmp_path,
        "shop",
        "order",
        [
            order("o-1", "somchai@example.co.th", "25,000.00 THB"),
            order("o-2", "anan@example.co.th", "900.00 THB"),
        ],
    )
    with engine.connect() as conn:
        return {p[3]: find_by_identifier(conn, "email", p[3]).id for p in PEOPLE}


def consenting(engine: Engine, ids: dict[str, str]) -> None:
    """Every customer consents to marketing (exports need it, docs/consent.md)."""
    with engine.begin() as conn:
        for pid in ids.values():
            grant = statement_from(
                {"purpose": "marketing", "state": "granted"}, default_source="crm", default_at_us=1
            )
            record_changes(conn, pid, [grant], Actor("test"))
    process(engine)


@dataclass
class Api:
    client: TestClient
    engine: Engine
    tmp_path: Path
    ids: dict[str, str]
    keys: dict[str, str]

    def call(
        self, method: str, path: str, body: Any = None, *, role: str | None = "admin", **params: Any
    ) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if role:
            headers["Authorization"] = f"Bearer {self.keys[role]}"
        return self.client.request(
            method,
            path,
            headers=headers,
            params={k: v for k, v in params.items() if v is not None},
            content=None if body is None else orjson.dumps(body),
        )

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **kw: Any) -> Any:
        response = self.call(method, path, body, **kw)
        assert response.status_code == status, response.text
        return response.json()

    def emails(self, profile_ids: list[str]) -> set[str]:
        by_id = {pid: email for email, pid in self.ids.items()}
        return {by_id[pid] for pid in profile_ids}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def customers_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    """The five customers imported through the real path once per module and store (the
    import is most of a test's set-up); each test gets a copy (see ``database_url``)."""
    with loaded_store(request.param, tmp_path_factory.mktemp("customers"), customers) as loaded:
        yield loaded


@pytest.fixture
def database_url(customers_store: Loaded, tmp_path: Path) -> Iterator[str]:
    """A new database holding the customers, as if ``customers`` had just imported them."""
    with copy_of(customers_store, tmp_path) as url:
        yield url


@pytest.fixture
def api(engine: Engine, database_url: str, tmp_path: Path) -> Iterator[Api]:
    with engine.connect() as conn:
        ids = {p[3]: find_by_identifier(conn, "email", p[3]).id for p in PEOPLE}
    keys = {}
    with engine.begin() as conn:
        for role in (Role.ADMIN, Role.READ):
            _, keys[role.value] = create_key(conn, name=role.value, role=role, source=None)
        _, keys["writer"] = create_key(conn, name="writer", role=Role.WRITER, source="web")
    settings = Settings(database_url=database_url, timezone="Asia/Bangkok")
    app = build_app(settings, engine, run_worker=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, engine, tmp_path, ids, keys)


THAI = 'country = "TH"'
TH_EMAILS = {"somchai@example.co.th", "malee@example.co.th", "anan@example.co.th"}
VN_EMAILS = {"an@example.vn", "bich@example.vn"}


def member_emails(api: Api, name: str) -> set[str]:
    page = api.ok("GET", f"/api/segments/{name}/members", limit=1000)
    return api.emails([m["profile_id"] for m in page["members"]])


def test_create_list_show_update_and_delete_a_segment(api: Api) -> None:
    created = api.ok(
        "POST",
        "/api/segments",
        {"name": "thai customers", "condition": THAI, "description": "everyone in Thailand"},
        status=201,
    )
    assert created["members"] == 3 and created["version"] == 1
    assert created["timezone"] == "Asia/Bangkok"  # the server's C360_TIMEZONE
    assert created["condition"] == THAI
    assert created["condition_json"] == {
        "type": "compare",
        "path": "country",
        "op": "=",
        "value": "TH",
    }
    assert member_emails(api, "thai customers") == TH_EMAILS

    # the JSON form works as well, and a name is taken once
    buyers = {
        "type": "and",
        "of": [
            {"type": "compare", "path": "country", "op": "=", "value": "TH"},
            {"type": "compare", "path": "lifetime_value", "op": ">=", "value": 20000},
        ],
    }
    vip = api.ok(
        "POST",
        "/api/segments",
        {"name": "vip", "condition_json": buyers, "timezone": "UTC"},
        status=201,
    )
    assert vip["condition"] == 'country = "TH" and lifetime_value >= 20000'
    assert vip["members"] == 1 and vip["timezone"] == "UTC"
    taken = api.call("POST", "/api/segments", {"name": "vip", "condition": THAI})
    assert taken.status_code == 409 and taken.json()["code"] == "conflict"

    listed = api.ok("GET", "/api/segments")["segments"]
    assert [(s["name"], s["members"]) for s in listed] == [("thai customers", 3), ("vip", 1)]
    shown = api.ok("GET", "/api/segments/thai customers")
    assert shown["description"] == "everyone in Thailand"
    assert shown["created_at"] == shown["updated_at"] == created["created_at"]

    # a change recomputes the members; whoever left is in the change feed
    changed = api.ok(
        "PATCH",
        "/api/segments/thai customers",
        {"condition": 'country = "TH" and province = "Bangkok"'},
    )
    assert changed["version"] == 2 and changed["members"] == 2
    assert changed["description"] == "everyone in Thailand"  # what was not given stays
    assert member_emails(api, "thai customers") == {"somchai@example.co.th", "anan@example.co.th"}
    with api.engine.connect() as conn:
        feed = changes_after(conn, 0, 10_000)
    exits = [c for c in feed if c.kind == ChangeKind.SEGMENT_EXITED]
    assert [(c.profile_id, c.detail["segment"]) for c in exits] == [
        (api.ids["malee@example.co.th"], "thai customers")
    ]
    entered = [c for c in feed if c.kind == ChangeKind.SEGMENT_ENTERED]
    assert len(entered) == 3 + 1
    rezoned = api.ok("PATCH", "/api/segments/vip", {"timezone": "Asia/Ho_Chi_Minh"})
    assert rezoned["timezone"] == "Asia/Ho_Chi_Minh" and rezoned["version"] == 2

    # a segment another one uses cannot go; the user can
    api.ok(
        "POST",
        "/api/segments",
        {"name": "vip in bangkok", "condition": 'in segment "vip" and province = "Bangkok"'},
        status=201,
    )
    used = api.call("DELETE", "/api/segments/vip")
    assert used.status_code == 409 and "vip in bangkok" in used.json()["message"]
    assert api.ok("DELETE", "/api/segments/vip in bangkok") == {
        "deleted": "vip in bangkok",
        "members": 1,
    }
    assert api.ok("DELETE", "/api/segments/vip")["members"] == 1
    gone = api.call("GET", "/api/segments/vip")
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"
    assert api.call("DELETE", "/api/segments/vip").status_code == 404
    assert api.call("PATCH", "/api/segments/vip", {"timezone": "UTC"}).status_code == 404

    # names may be Thai: vowel signs and tone marks are parts of letters
    thai = api.ok("POST", "/api/segments", {"name": "ลูกค้า VIP", "condition": THAI}, status=201)
    assert api.ok("GET", "/api/segments/ลูกค้า VIP")["id"] == thai["id"]
    assert api.ok("DELETE", "/api/segments/ลูกค้า VIP")["members"] == 3
    assert [s["name"] for s in api.ok("GET", "/api/segments")["segments"]] == ["thai customers"]


def test_members_follow_new_data_as_profiles_refresh(api: Api) -> None:
    api.ok("POST", "/api/segments", {"name": "vietnam", "condition": 'country = "VN"'}, status=201)
    assert member_emails(api, "vietnam") == VN_EMAILS
    load(
        api.engine,
        api.tmp_path,
        "crm",
        "contact",
        [
            contact(
                (
                    "c-6",
                    "Minh",
                    "Lê",
                    "minh@example.vn",
                    "0903 111 222",
                    "VN",
                    "Đà Nẵng",
                    "2000-03-03",
                )
            )
        ],
    )
    with api.engine.connect() as conn:
        api.ids["minh@example.vn"] = find_by_identifier(conn, "email", "minh@example.vn").id
    assert member_emails(api, "vietnam") == {*VN_EMAILS, "minh@example.vn"}
    assert api.ok("GET", "/api/segments/vietnam")["members"] == 3
    # the profile itself says which segments it is in
    minh = api.ok("GET", f"/api/profiles/{api.ids['minh@example.vn']}", role="read")
    assert minh["segments"] == ["vietnam"]
    somchai = api.ok("GET", f"/api/profiles/{api.ids['somchai@example.co.th']}", role="read")
    assert somchai["segments"] == []


def test_a_condition_that_cannot_be_read_answers_422_with_line_and_column(api: Api) -> None:
    text = 'country = "TH"\n  and lifetime_value >> 5'
    with pytest.raises(ConditionError) as expected:
        parse(text)
    refused = api.call("POST", "/api/segments", {"name": "broken", "condition": text})
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["code"] == "invalid_input"
    assert (body["line"], body["column"]) == (expected.value.line, expected.value.column)
    assert body["line"] == 2 and body["message"].startswith(f"line 2, column {body['column']}: ")
    # the same in a preview and in a change
    api.ok("POST", "/api/segments", {"name": "ok", "condition": THAI}, status=201)
    for method, path in (("POST", "/api/segments/preview"), ("PATCH", "/api/segments/ok")):
        again = api.call(method, path, {"condition": text})
        assert again.status_code == 422 and again.json()["line"] == 2, again.text
    # mistakes without a place: no line or column
    for body_in in (
        {"name": "j", "condition_json": {"type": "compare", "path": "x", "op": "~", "value": 1}},
        {"name": "both", "condition": THAI, "condition_json": {"type": "exists", "path": "x"}},
        {"name": "neither"},
        {"name": "zone", "condition": THAI, "timezone": "Mars/Olympus"},
        {"name": "/bad name", "condition": THAI},
        {"name": "uses", "condition": 'in segment "nobody"'},
        {"name": "typo", "conditon": THAI},
        # texts a store cannot hold: NUL (PostgreSQL) and a lone surrogate (both)
        {"name": "nul", "condition": 'email = "a\\u0000b"'},
        {"name": "surrogate", "condition": 'email = "\\ud800"'},
    ):
        refused = api.call("POST", "/api/segments", body_in)
        assert refused.status_code == 422, (body_in, refused.text)
        assert "line" not in refused.json(), refused.json()
    assert [s["name"] for s in api.ok("GET", "/api/segments")["segments"]] == ["ok"]
    assert api.call("GET", "/api/segments/ok").json()["version"] == 1


def test_preview_counts_and_shows_a_few_without_saving(api: Api) -> None:
    found = api.ok("POST", "/api/segments/preview", {"condition": 'country = "VN"'})
    assert found["count"] == 2 and found["took_ms"] >= 0
    assert found["condition"] == 'country = "VN"'
    assert {p["email"] for p in found["sample"]} == VN_EMAILS
    names = {p["name"] for p in found["sample"]}
    assert names == {"Văn An Nguyễn", "Thị Bích Trần"}
    assert api.emails([p["id"] for p in found["sample"]]) == VN_EMAILS

    few = api.ok(
        "POST",
        "/api/segments/preview",
        {"condition": 'province = "bangkok" ignoring case or lifetime_value > 100', "sample": 1},
    )
    assert few["count"] == 2 and len(few["sample"]) == 1
    as_json = api.ok(
        "POST",
        "/api/segments/preview",
        {"condition_json": {"type": "exists", "path": "email"}, "sample": 0},
    )
    assert as_json == {**as_json, "count": 5, "sample": []}
    # anniversaries are counted in the zone given (Somchai's birthday is 31 May)
    birthday = api.ok(
        "POST",
        "/api/segments/preview",
        {"condition": "birth_date anniversary within next 366 days", "timezone": "Asia/Bangkok"},
    )
    assert birthday["count"] == 5
    assert api.ok("GET", "/api/segments") == {"segments": []}


def test_members_page_through_in_profile_id_order(api: Api) -> None:
    api.ok("POST", "/api/segments", {"name": "everyone", "condition": "email exists"}, status=201)
    seen: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        page = api.ok("GET", "/api/segments/everyone/members", limit=2, cursor=cursor)
        pages += 1
        seen += page["members"]
        assert page["segment"] == "everyone"
        cursor = page["next"]
        if cursor is None:
            break
        assert cursor == page["members"][-1]["profile_id"]
    assert pages == 3
    ids = [m["profile_id"] for m in seen]
    assert ids == sorted(ids) == sorted(api.ids.values())
    somchai = next(m for m in seen if m["profile_id"] == api.ids["somchai@example.co.th"])
    assert somchai["name"] == "สมชาย ใจดี" and somchai["phone"] == "+66812345678"
    assert somchai["entered_at"].endswith("Z")
    missing = api.call("GET", "/api/segments/nobody/members")
    assert missing.status_code == 404


def test_export_streams_every_member_as_csv_or_json_lines(api: Api) -> None:
    consenting(api.engine, api.ids)
    api.ok("POST", "/api/segments", {"name": "thai", "condition": THAI}, status=201)
    response = api.call(
        "GET",
        "/api/segments/thai/export",
        format="csv",
        traits="lifetime_value,province,identifiers.email",
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
        "profile_id",
        "entered_at",
        "name",
        "email",
        "phone",
        "country",
        "lifetime_value",
        "province",
        "identifiers.email",
    ]
    assert {r["email"] for r in rows} == TH_EMAILS and len(rows) == 3
    somchai = next(r for r in rows if r["email"] == "somchai@example.co.th")
    assert somchai["name"] == "สมชาย ใจดี" and somchai["country"] == "TH"
    assert float(somchai["lifetime_value"]) == 25000
    assert somchai["province"] == "Bangkok"
    assert somchai["identifiers.email"] == '["somchai@example.co.th"]'
    assert somchai["profile_id"] == api.ids["somchai@example.co.th"]

    lines = api.call("GET", "/api/segments/thai/export", format="jsonl", traits="order_count")
    assert lines.status_code == 200
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    members = [orjson.loads(line) for line in lines.text.splitlines()]
    assert [m["profile_id"] for m in members] == sorted(r["profile_id"] for r in rows)
    by_email = {m["email"]: m for m in members}
    assert by_email["anan@example.co.th"]["order_count"] == 1
    assert by_email["malee@example.co.th"]["order_count"] == 0
    assert set(by_email["malee@example.co.th"]) == {
        "profile_id",
        "entered_at",
        "name",
        "email",
        "phone",
        "country",
        "order_count",
    }
    assert api.call("GET", "/api/segments/none/export").status_code == 404
    assert api.call("GET", "/api/segments/thai/export", format="xml").status_code == 422
    typo = api.call("GET", "/api/segments/thai/export", fromat="csv")
    assert typo.status_code == 422 and "'fromat'" in typo.json()["message"]


def test_reads_need_a_read_key_and_writes_an_admin_key(api: Api) -> None:
    api.ok("POST", "/api/segments", {"name": "thai", "condition": THAI}, status=201)
    body = {"name": "other", "condition": THAI}
    for method, path, payload in (
        ("GET", "/api/segments", None),
        ("GET", "/api/segments/thai", None),
        ("GET", "/api/segments/thai/members", None),
        ("GET", "/api/segments/thai/export", None),
        ("POST", "/api/segments/preview", {"condition": THAI}),
    ):
        assert api.call(method, path, payload, role="read").status_code == 200, path
        assert api.call(method, path, payload, role="writer").status_code == 403, path
        assert api.call(method, path, payload, role=None).status_code == 401, path
    for method, path, payload in (
        ("POST", "/api/segments", body),
        ("PATCH", "/api/segments/thai", {"timezone": "UTC"}),
        ("DELETE", "/api/segments/thai", None),
    ):
        refused = api.call(method, path, payload, role="read")
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden", path
        assert api.call(method, path, payload, role="writer").status_code == 403, path
        assert api.call(method, path, payload, role=None).status_code == 401, path
    assert [s["name"] for s in api.ok("GET", "/api/segments")["segments"]] == ["thai"]
    assert api.ok("GET", "/api/segments/thai")["version"] == 1
