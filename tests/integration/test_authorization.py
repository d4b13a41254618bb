"""The authorization matrix: every management route against every role (allowed, forbidden or
masked, as ``c360.privacy.roles`` says), a writer key refused everywhere outside /v1 (S1), no
way in on a fresh install (S11), and keys that are hashed, revocable and rotatable (S2)."""

from __future__ import annotations

import asyncio
import re
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select, text
from tests.conftest import fresh_database
from tests.customer360 import SOMCHAI, somchai_everywhere, track
from tests.factories import identify

from c360.api import build_app
from c360.api.management import build_router
from c360.kernel.clock import system_clock
from c360.privacy import audit
from c360.privacy.keys import KeyCache, Role, create_key, revoke_key, rotate_key
from c360.privacy.masking import mask_value
from c360.privacy.roles import CAPABILITIES, Capability, PiiField, capability_of, hidden_fields, may
from c360.privacy.users import (
    SessionPolicy,
    configure_hashing,
    count_users,
    create_user,
    open_session,
)
from c360.settings import Settings
from c360.storage import create_engine_for, upgrade_to_head
from c360.storage.tables import metadata

with warnings.catch_warnings():
    # Starlette asks for the httpx2 package; the installed httpx works the same for these tests.
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient


def thai_national_id(first12: str) -> str:
    total = sum(int(d) * (13 - i) for i, d in enumerate(first12))
    return first12 + str((11 - total % 11) % 10)


NATIONAL_ID = thai_national_id("110370001234")
BIRTH_DATE = "1990-01-02"
STREET = "ถนนสุขุมวิท"
PII: dict[PiiField, str] = {
    PiiField.EMAIL: SOMCHAI["email"],
    PiiField.PHONE: "+66812345678",
    PiiField.NAME: SOMCHAI["first_name"],
    PiiField.ADDRESS: STREET,
    PiiField.BIRTH_DATE: BIRTH_DATE,
    PiiField.NATIONAL_ID: NATIONAL_ID,
}
"""Somchai's personal data as stored: a masked role must never see these in a body."""


class Clock:
    """The server's clock, moved by the test (key grace periods)."""

    def __init__(self) -> None:
        self.now = system_clock()

    def __call__(self) -> int:
        return self.now


@dataclass
class World:
    client: TestClient
    app: Any
    engine: Engine
    url: str
    keys: dict[Role, str]
    profile_id: str
    clock: Clock

    def call(self, method: str, path: str, role: Role | None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return self.client.request(method, path, headers=headers, **kw)


@pytest.fixture(autouse=True, scope="module")
def cheap_hashing() -> Iterator[None]:
    """Real argon2id at a test-sized cost (the default costs half a second a password)."""
    configure_hashing(time_cost=1, memory_kib=1024, parallelism=1)
    yield
    configure_hashing(time_cost=3, memory_kib=65536, parallelism=4)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One seeded store and one app for the module's matrix tests (read-mostly: the changes
    they try aim at objects that do not exist). Who may call what does not depend on the
    store, so these run on SQLite; what concerns storage (S2, S11) runs on both stores."""
    directory = tmp_path_factory.mktemp("authz")
    with fresh_database("sqlite", directory) as url:
        engine = create_engine_for(url)
        upgrade_to_head(engine)
        somchai_everywhere(engine, directory)
        traits = {
            "email": SOMCHAI["email"],
            "first_name": SOMCHAI["first_name"],
            "birthday": BIRTH_DATE,
            "national_id": NATIONAL_ID,
            "address": {"street": f"99/1 {STREET}", "city": "Bangkok"},
        }
        consent = {"consent": {"categoryPreferences": {"marketing": True}}}  # exports need it
        track(engine, identify("u-somchai", traits=traits, context=consent))
        keys: dict[Role, str] = {}
        with engine.begin() as conn:
            for role in Role:
                source = "web" if role is Role.WRITER else None
                _, keys[role] = create_key(conn, name=f"{role.value} key", role=role, source=source)
        clock = Clock()
        app = build_app(Settings(database_url=url), engine, run_worker=False, clock=clock)
        with TestClient(app, raise_server_exceptions=False) as client:
            world = World(client, app, engine, url, keys, "", clock)
            found = world.call(
                "GET", f"/api/profiles/by-identifier/email/{SOMCHAI['email']}", Role.ADMIN
            )
            assert found.status_code == 200, found.text
            world.profile_id = found.json()["id"]
            created = world.call(
                "POST", "/api/segments", Role.ADMIN, json={"name": "thai", "condition": THAI}
            )
            assert created.status_code == 201, created.text
            yield world
        engine.dispose()


THAI = 'country = "TH"'


def management_routes(world: World) -> list[tuple[str, str, bool]]:
    """Every /api route: (method, path template, whether it streams), from the OpenAPI
    document and from the router itself (routes kept out of the document count too)."""
    schema = world.client.get("/openapi.json").json()
    found: dict[tuple[str, str], bool] = {}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if path.startswith("/api/") and method.upper() in (
                "GET",
                "POST",
                "PUT",
                "PATCH",
                "DELETE",
            ):
                content = operation.get("responses", {}).get("200", {}).get("content", {})
                found[(method.upper(), path)] = "text/event-stream" in content
    router = build_router(world.engine, KeyCache(world.engine, 1.0))
    for route in router.routes:
        for method in getattr(route, "methods", set()) - {"HEAD"}:
            key = (method, str(getattr(route, "path", "")))
            found.setdefault(key, key[1].endswith("/stream"))
    return sorted((m, p, s) for (m, p), s in found.items())


def concrete(world: World, method: str, template: str) -> str:
    """A path for the template: real objects to read, absent ones to change."""
    reading = method == "GET"
    values = {
        "profile_id": world.profile_id if reading else "00000000-0000-0000-0000-000000000000",
        "type": "email",
        "value": SOMCHAI["email"],
        "name": "thai" if reading and "/segments/" in template else "no-such-name",
        "source": "crm",
        "message_id": "no-such-message",
        "item_id": "1-2" if "/identity/reviews/" in template else "999999",
        "channel": "email",
        "address": "nobody@example.com",
    }
    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", lambda m: values.get(m.group(1), "999999"), template)


def stream_status(app: Any, path: str, key: str) -> int:
    """The status of a server-sent event stream; the client leaves after the first chunk."""

    async def run() -> int:
        status = 0
        first = asyncio.Event()
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await first.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                first.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {key}".encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        await asyncio.wait_for(app(scope, receive, send), 10)
        return status

    return asyncio.run(run())


def test_every_management_route_has_an_entry_in_the_role_table(world: World) -> None:
    missing = [f"{m} {p}" for m, p, _ in management_routes(world) if capability_of(m, p) is None]
    assert not missing, f"routes without an entry in c360.privacy.roles (admin-only now): {missing}"


def test_the_matrix_every_route_against_every_role(world: World) -> None:
    """Forbidden: 403. Allowed: neither 401 nor 403. Masked: a successful read carries none of
    the personal data the role may not see (and the role that may see it gets it)."""
    problems: list[str] = []
    seen_pii: dict[PiiField, int] = dict.fromkeys(PiiField, 0)
    masked_reads = 0
    routes = management_routes(world)
    assert len(routes) >= 50
    for method, template, streams in routes:
        path = concrete(world, method, template)
        for role in Role:
            allowed = may(role, method, template)
            if streams:
                status = stream_status(world.app, path, world.keys[role])
                body = ""
            else:
                kwargs: dict[str, Any] = {} if method in ("GET", "DELETE") else {"json": {}}
                response = world.call(method, path, role, **kwargs)
                status, body = response.status_code, response.text
            where = f"{role.value:9} {method} {template} -> {status}"
            if not allowed:
                if status != 403:
                    problems.append(f"{where}: should be 403")
                continue
            if status in (401, 403):
                problems.append(f"{where}: should be allowed ({body[:120]})")
                continue
            if method != "GET" or status != 200:
                continue
            hidden = hidden_fields(role)
            for field, raw in PII.items():
                if raw in body:
                    if field in hidden:
                        problems.append(f"{where}: shows {field.value} unmasked")
                    else:
                        seen_pii[field] += 1
            masked_reads += bool(hidden)
    assert not problems, "\n".join(problems)
    assert masked_reads > 50  # the masked roles read real answers, not errors
    assert all(seen_pii.values()), f"some data never shown even to its roles: {seen_pii}"


EXPECTED = {
    # spot checks written out by hand, so the table cannot drift from what is meant
    ("GET", "/api/profiles/{profile_id}"): {
        Role.ADMIN: "full",
        Role.SALES: "contact",
        Role.SERVICE: "contact",
        Role.FINANCE: "contact",
        Role.MARKETER: "masked",
        Role.ANALYST: "masked",
        Role.READ: "masked",
        Role.WRITER: "forbidden",
    },
    ("GET", "/api/segments/{name}/export"): {
        Role.ADMIN: "full",
        Role.MARKETER: "masked",
        Role.ANALYST: "masked",
        Role.READ: "masked",
        Role.SALES: "forbidden",
        Role.SERVICE: "forbidden",
        Role.FINANCE: "forbidden",
        Role.WRITER: "forbidden",
    },
    ("POST", "/api/segments"): {
        Role.ADMIN: "allowed",
        Role.MARKETER: "allowed",
        Role.ANALYST: "forbidden",
        Role.READ: "forbidden",
        Role.SALES: "forbidden",
        Role.WRITER: "forbidden",
    },
    ("POST", "/api/feedback/{item_id}/resolve"): {
        Role.SALES: "allowed",
        Role.SERVICE: "allowed",
        Role.MARKETER: "forbidden",
        Role.READ: "forbidden",
    },
    ("POST", "/api/suppressions"): {Role.SERVICE: "allowed", Role.SALES: "forbidden"},
    ("POST", "/api/privacy/requests"): {
        Role.ADMIN: "allowed",
        Role.SERVICE: "allowed",
        Role.MARKETER: "forbidden",
        Role.READ: "forbidden",
    },
    ("POST", "/api/privacy/requests/{request_id}/run"): {
        Role.ADMIN: "allowed",
        Role.SERVICE: "forbidden",
    },
    ("GET", "/api/audit"): {Role.ADMIN: "allowed", Role.READ: "forbidden"},
    ("POST", "/api/profiles/{profile_id}/consents"): {
        Role.ADMIN: "allowed",
        Role.MARKETER: "allowed",
        Role.SERVICE: "allowed",
        Role.SALES: "forbidden",
        Role.ANALYST: "forbidden",
    },
    ("GET", "/api/some-route-nobody-listed"): {Role.ADMIN: "allowed", Role.READ: "forbidden"},
}


def test_the_role_table_says_what_is_meant() -> None:
    for (method, path), roles in EXPECTED.items():
        for role, outcome in roles.items():
            assert may(role, method, path) == (outcome != "forbidden"), (role, method, path)
            hidden = hidden_fields(role)
            if outcome == "full":
                assert not hidden
            elif outcome == "contact":
                assert PiiField.EMAIL not in hidden and PiiField.PHONE not in hidden
            elif outcome == "masked":
                assert {PiiField.EMAIL, PiiField.PHONE, PiiField.NAME} <= hidden
    assert all(
        Capability.ACCESS_ADMIN not in caps for r, caps in CAPABILITIES.items() if r != Role.ADMIN
    )


def test_masked_roles_see_the_shape_with_the_values_masked(world: World) -> None:
    profile = f"/api/profiles/{world.profile_id}"
    marketer = world.call("GET", profile, Role.MARKETER).json()
    email = mask_value(PiiField.EMAIL, SOMCHAI["email"])
    assert email == "s***@example.co.th"
    assert marketer["traits"]["email"] == email
    assert marketer["traits"]["birthday"] == "1990-**-**"
    assert marketer["traits"]["national_id"].endswith(NATIONAL_ID[-4:])
    assert marketer["traits"]["address"] == {"street": "●●●", "city": "Bangkok"}
    phones = [i["value"] for i in marketer["identifiers"] if i["type"] == "phone"]
    assert phones == ["+66 8* *** **78"]
    golden = marketer["golden"]["values"]
    assert golden["email"]["value"] == email and golden["email"]["source"]  # provenance kept
    assert golden["first_name"]["value"] == "ส●●●"
    assert golden["country"]["value"] == "TH"  # not personal on its own: aggregates need it
    assert marketer["computed"] == world.call("GET", profile, Role.ADMIN).json()["computed"]

    sales = world.call("GET", profile, Role.SALES).json()
    assert sales["traits"]["email"] == SOMCHAI["email"]
    assert sales["traits"]["national_id"] != NATIONAL_ID
    finance = world.call("GET", profile, Role.FINANCE).json()
    assert finance["traits"]["national_id"] == NATIONAL_ID
    assert finance["traits"]["birthday"] == "1990-**-**"

    events = world.call("GET", f"{profile}/events", Role.ANALYST).json()["events"]
    identify_payload = next(e["payload"] for e in events if e["type"] == "identify")
    assert identify_payload["traits"]["email"] == email

    export = world.call("GET", "/api/segments/thai/export", Role.ANALYST, params={"format": "csv"})
    assert export.status_code == 200
    header, row = export.text.splitlines()[:2]
    assert header.startswith("profile_id,entered_at,name,email,phone")
    assert world.profile_id in row and email in row and SOMCHAI["email"] not in row
    lines = world.call("GET", "/api/segments/thai/export", Role.READ).text.splitlines()
    assert orjson.loads(lines[0])["email"] == email

    briefing = world.call("GET", f"{profile}/briefing", Role.MARKETER).json()
    assert "สมชาย" not in briefing["summary"] and briefing["summary"].startswith("ส●●●")


def test_a_writer_key_reads_nothing_and_ingest_answers_carry_no_profile_data(world: World) -> None:
    """S1: every operation of the OpenAPI document outside /v1 called with a valid write key
    is answered 401 or 403, except the few public ones (named here, so a new one fails)."""
    schema = world.client.get("/openapi.json").json()
    public = {
        "/healthz",
        "/readyz",
        "/auth/login",  # takes a username and password, not a key
        "/auth/logout",  # without a session it only clears the cookie
        "/p/v1/personalize",  # the browser's personalization call: a writer key by design
    }
    public_prefixes = ("/t/", "/u/", "/hooks/", "/webhooks/", "/p/v1/")
    refused, public_seen, calls = [], set(), 0
    for path, item in schema["paths"].items():
        if path.startswith("/v1/"):
            continue
        for method in item:
            if method.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                continue
            if path in public or path.startswith(public_prefixes):
                public_seen.add(path)
                continue
            calls += 1
            concrete_path = concrete(world, method.upper(), path)
            if (
                item[method]
                .get("responses", {})
                .get("200", {})
                .get("content", {})
                .get("text/event-stream")
            ):
                status = stream_status(world.app, concrete_path, world.keys[Role.WRITER])
            else:
                kwargs = {} if method.upper() in ("GET", "DELETE") else {"json": {}}
                status = world.call(
                    method.upper(), concrete_path, Role.WRITER, **kwargs
                ).status_code
            if status not in (401, 403):
                refused.append(f"{method.upper()} {path} -> {status}")
    assert calls >= 50
    assert not refused, f"a writer key got through: {refused}"
    assert {"/healthz", "/auth/login"} <= public_seen

    writer = {"Authorization": f"Bearer {world.keys[Role.WRITER]}"}
    for path, message in (
        ("/v1/identify", identify("u-somchai", traits={"email": SOMCHAI["email"]})),
        ("/v1/track", {"userId": "u-somchai", "event": "Product Viewed", "messageId": "m-s1"}),
        ("/v1/batch", {"batch": [{"type": "page", "userId": "u-somchai", "messageId": "m-s1b"}]}),
    ):
        answer = world.client.post(path, json=message, headers=writer)
        assert answer.status_code == 200, answer.text
        for secret in (world.profile_id, SOMCHAI["email"], "golden", "traits", "identifiers"):
            assert secret not in answer.text, (path, answer.text)


def test_keys_are_stored_hashed_revocation_and_rotation_take_effect(
    engine: Engine, database_url: str
) -> None:
    """S2: no plaintext key, token or password anywhere in the store; a revoked key and a
    rotated key past its grace period are refused; the cache never outlives 5 s."""
    assert Settings().key_cache_ttl_s <= 5
    with pytest.raises(ValueError):
        Settings(key_cache_ttl_s=6)
    track(engine, identify("u-s2", traits={"email": SOMCHAI["email"]}))
    profile = f"/api/profiles/by-identifier/email/{SOMCHAI['email']}"
    password = "correct horse battery staple"
    clock = Clock()
    with engine.begin() as conn:
        key, secret = create_key(conn, name="to revoke", role=Role.ANALYST, source=None)
        rotating, old_secret = create_key(conn, name="to rotate", role=Role.SALES, source=None)
        _, writer_secret = create_key(conn, name="web", role=Role.WRITER, source="web")
        user = create_user(conn, "s2-user", password, "service", actor=audit.SYSTEM)
        opened = open_session(conn, user, client=None, policy=SessionPolicy(), now_us=clock())
    app = build_app(Settings(database_url=database_url), engine, run_worker=False, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        assert client.get(profile, headers=headers).status_code == 200  # now cached
        with engine.begin() as conn:
            revoke_key(conn, key.id)
            _, _, new_secret = rotate_key(conn, rotating.id, grace_s=3600, clock=clock)
        revoked_at = time.monotonic()
        while client.get(profile, headers=headers).status_code != 401:
            assert time.monotonic() - revoked_at < 5, "a revoked key still works after 5 s"
            time.sleep(0.2)

        old = {"Authorization": f"Bearer {old_secret}"}
        new = {"Authorization": f"Bearer {new_secret}"}
        assert client.get(profile, headers=old).status_code == 200  # in its grace period
        assert client.get(profile, headers=new).status_code == 200
        clock.now += 3601 * 1_000_000
        refused = client.get(profile, headers=old)
        assert refused.status_code == 401 and "grace" in refused.json()["message"]
        assert client.get(profile, headers=new).status_code == 200

    secrets = [secret, old_secret, new_secret, writer_secret, password]
    secrets += [opened.token, opened.csrf_token]
    dump = database_dump(engine)
    assert SOMCHAI["email"] in dump  # the dump does hold the store's text
    leaked = [s[:6] + "…" for s in secrets if s in dump]
    assert not leaked, f"plaintext secrets in the store: {leaked}"


def database_dump(engine: Engine) -> str:
    """Every row of every table as text (what a stolen backup would show)."""
    parts = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                parts.append(" ".join(repr(v) for v in row))
    return "\n".join(parts)


def test_a_fresh_install_has_no_account_and_no_way_in(database_url: str, tmp_path: Path) -> None:
    """S11: no user until the operator creates one; every management route answers 401."""
    engine = create_engine_for(database_url)
    upgrade_to_head(engine)
    try:
        with engine.connect() as conn:
            assert count_users(conn) == 0
            assert conn.execute(text("SELECT count(*) FROM api_keys")).scalar_one() == 0
        app = build_app(Settings(database_url=database_url), engine, run_worker=False)
        with TestClient(app, raise_server_exceptions=False) as client:
            schema = client.get("/openapi.json").json()
            answers = []
            for path, item in schema["paths"].items():
                if not path.startswith("/api/"):
                    continue
                for method in item:
                    concrete_path = re.sub(r"\{[^}]+\}", "1", path)
                    if path.endswith("/stream"):
                        answers.append(stream_status(app, concrete_path, "no-such-key"))
                        continue
                    answers.append(client.request(method.upper(), concrete_path).status_code)
            assert len(answers) >= 50 and set(answers) == {401}
            assert client.get("/auth/me").status_code == 401
            for username, password in (("admin", "admin"), ("karaf", "karaf")):
                tried = client.post(
                    "/auth/login", json={"username": username, "password": password}
                )
                assert tried.status_code == 401
            bad_cookie = client.get("/api/segments", headers={"Cookie": "c360_session=forged"})
            assert bad_cookie.status_code == 401
    finally:
        engine.dispose()
