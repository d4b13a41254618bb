"""Signing in to the web app: sessions in a cookie, CSRF on changes, throttled sign-in,
disabled users, expiry; and the users and keys commands that manage them, on both stores."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, func, select
from tests.conftest import fresh_database
from typer.testing import CliRunner

from c360.api import build_app
from c360.cli.main import app as cli
from c360.kernel.clock import system_clock
from c360.privacy import audit
from c360.privacy.keys import Role, create_key
from c360.privacy.users import configure_hashing, create_user, set_disabled, set_password
from c360.settings import Settings
from c360.storage import create_engine_for
from c360.storage.tables import api_keys, audit_log, user_sessions, users

with warnings.catch_warnings():
    # Starlette asks for the httpx2 package; the installed httpx works the same for these tests.
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

PASSWORD = "ขอให้ปลอดภัย-2026!"
HOUR_US = 3600 * 1_000_000


@pytest.fixture(autouse=True, scope="module")
def cheap_hashing() -> Iterator[None]:
    """Real argon2id at a test-sized cost (the default costs half a second a password)."""
    configure_hashing(time_cost=1, memory_kib=1024, parallelism=1)
    yield
    configure_hashing(time_cost=3, memory_kib=65536, parallelism=4)


class Clock:
    def __init__(self) -> None:
        self.now = system_clock()

    def __call__(self) -> int:
        return self.now


def unique(name: str) -> str:
    """A name of this test's own in the module's shared store."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


@dataclass
class Web:
    client: TestClient
    engine: Engine
    clock: Clock
    user: str
    """This test's marketer (``mai-...``), signed in with ``PASSWORD``."""

    def login(self, username: str | None = None, password: str = PASSWORD) -> str:
        username = username or self.user
        answer = self.client.post("/auth/login", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["csrf_token"])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One store per module and engine for the tests that need no store of their own: each
    works with users (and segments) of its own names. Those that count every key, user or
    failure from one address keep a store of their own (conftest's ``database_url``)."""
    with fresh_database(request.param, tmp_path_factory.mktemp("store"), migrated=True) as url:
        yield url


@pytest.fixture(scope="module")
def shared_engine(store_url: str) -> Iterator[Engine]:
    engine = create_engine_for(store_url)
    yield engine
    engine.dispose()


@dataclass
class Running:
    client: TestClient
    clock: Clock


@pytest.fixture(scope="module")
def running_app(shared_engine: Engine, store_url: str) -> Iterator[Running]:
    """One app per module and store (building one costs about half a second)."""
    clock = Clock()
    app = build_app(Settings(database_url=store_url), shared_engine, run_worker=False, clock=clock)
    with TestClient(app, raise_server_exceptions=False, base_url="https://testserver") as client:
        yield Running(client, clock)


@pytest.fixture
def web(running_app: Running, shared_engine: Engine) -> Iterator[Web]:
    """The shared app with no cookie, its clock at real time, and a marketer of this test's
    own."""
    client, clock = running_app.client, running_app.clock
    client.cookies.clear()
    clock.now = system_clock()
    user = unique("mai")
    with shared_engine.begin() as conn:
        create_user(conn, user, PASSWORD, "marketer", actor=audit.SYSTEM, display_name="Mai")
    yield Web(client, shared_engine, clock, user)
    client.cookies.clear()


def segment() -> dict[str, str]:
    return {"name": unique("thai"), "condition": 'country = "TH"'}


def test_sign_in_sets_a_strict_cookie_and_the_session_reaches_the_api(web: Web) -> None:
    answer = web.client.post(
        "/auth/login", json={"username": web.user.upper(), "password": PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["kind"], body["name"], body["role"]) == ("user", web.user, "marketer")
    cookie = answer.headers["set-cookie"]
    token = web.client.cookies["c360_session"]
    assert cookie.startswith(f"c360_session={token};") and len(token) >= 40
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= flags
    with web.engine.connect() as conn:
        stored = conn.execute(
            select(user_sessions.c.token_hash, user_sessions.c.csrf_hash)
            .join(users, users.c.id == user_sessions.c.user_id)
            .where(users.c.username == web.user)
        ).one()
    assert token not in stored and body["csrf_token"] not in stored  # hashes only

    me = web.client.get("/auth/me").json()
    assert me["csrf_token"] == body["csrf_token"]  # a reloaded page gets it again
    assert web.client.get("/api/segments").status_code == 200
    assert web.client.get("/api/audit").status_code == 403  # a marketer's role applies

    with web.engine.connect() as conn:
        actions = conn.execute(select(audit_log.c.action, audit_log.c.actor)).all()
    assert ("user.sign_in", f"user:{web.user}") in actions


def test_plain_http_gets_no_secure_flag_unless_configured(
    shared_engine: Engine, store_url: str
) -> None:
    engine, database_url, an = shared_engine, store_url, unique("an")
    with engine.begin() as conn:
        create_user(conn, an, PASSWORD, "sales", actor=audit.SYSTEM)
    for secure, expected in ((None, False), (True, True)):
        settings = Settings(database_url=database_url, session_cookie_secure=secure)
        app = build_app(settings, engine, run_worker=False)
        with TestClient(app, raise_server_exceptions=False) as client:  # http://testserver
            answer = client.post("/auth/login", json={"username": an, "password": PASSWORD})
            assert answer.status_code == 200
            assert ("secure" in answer.headers["set-cookie"].lower()) is expected


def test_changes_by_cookie_need_the_csrf_token_bearer_keys_do_not(web: Web) -> None:
    csrf = web.login()
    thai = segment()
    refused = web.client.post("/api/segments", json=thai)
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["message"]
    wrong = web.client.post("/api/segments", json=thai, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    preview = web.client.post("/api/segments/preview", json={"condition": thai["condition"]})
    assert preview.status_code == 403  # read-only POSTs too: every non-GET
    made = web.client.post("/api/segments", json=thai, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text

    with web.engine.begin() as conn:
        _, key = create_key(conn, name="ops", role=Role.ADMIN, source=None)
    web.client.cookies.clear()
    bearer = web.client.delete(
        f"/api/segments/{thai['name']}", headers={"Authorization": f"Bearer {key}"}
    )
    assert bearer.status_code in (200, 204), bearer.text


def test_sign_out_ends_the_session_on_the_server(web: Web) -> None:
    csrf = web.login()
    token = web.client.cookies["c360_session"]
    assert web.client.post("/auth/logout").status_code == 403  # CSRF applies to sign-out
    out = web.client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert "c360_session=" in out.headers["set-cookie"]
    # the old cookie, replayed, is refused: the server ended the session
    replay = {"Cookie": f"c360_session={token}"}
    web.client.cookies.clear()
    assert web.client.get("/api/segments", headers=replay).status_code == 401
    assert web.client.get("/auth/me", headers=replay).status_code == 401


def test_unknown_user_and_wrong_password_answer_alike_and_sign_in_is_throttled(web: Web) -> None:
    mai, nobody, binh = web.user, unique("nobody"), unique("binh")
    with web.engine.connect() as conn:  # the failures this test causes are the ones after it
        before = conn.execute(select(func.coalesce(func.max(audit_log.c.id), 0))).scalar_one()
    unknown = web.client.post("/auth/login", json={"username": nobody, "password": PASSWORD})
    wrong = web.client.post("/auth/login", json={"username": mai, "password": "not it at all"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert "c360_session" not in web.client.cookies
    for _ in range(4):  # five failures in all
        assert (
            web.client.post(
                "/auth/login", json={"username": mai, "password": "still wrong!!"}
            ).status_code
            == 401
        )
    throttled = web.client.post("/auth/login", json={"username": mai, "password": PASSWORD})
    assert throttled.status_code == 429, throttled.text
    assert 0 < int(throttled.headers["retry-after"]) <= 15 * 60
    # another user is not affected, and the window passes
    with web.engine.begin() as conn:
        create_user(conn, binh, PASSWORD, "service", actor=audit.SYSTEM)
    assert web.login(binh)
    web.clock.now += 15 * 60 * 1_000_000 + 1
    assert web.login(mai)
    with web.engine.connect() as conn:
        failures = conn.execute(
            select(audit_log.c.object_id).where(
                audit_log.c.action == "user.sign_in_failed", audit_log.c.id > before
            )
        ).scalars()
        assert sorted(failures) == sorted([mai] * 5 + [nobody])


def test_one_address_trying_many_usernames_is_throttled(engine: Engine, database_url: str) -> None:
    settings = Settings(database_url=database_url, sign_in_max_client_failures=3)
    app = build_app(settings, engine, run_worker=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        for name in ("ann", "ben", "cat"):
            tried = client.post("/auth/login", json={"username": name, "password": PASSWORD})
            assert tried.status_code == 401
        stuffed = client.post("/auth/login", json={"username": "dan", "password": PASSWORD})
        assert stuffed.status_code == 429 and "address" in stuffed.json()["message"]


def test_a_disabled_user_cannot_sign_in_and_their_sessions_end(web: Web) -> None:
    web.login()
    assert web.client.get("/api/segments").status_code == 200
    with web.engine.begin() as conn:
        set_disabled(conn, web.user, True, actor=audit.SYSTEM)
    assert web.client.get("/api/segments").status_code == 401
    again = web.client.post("/auth/login", json={"username": web.user, "password": PASSWORD})
    assert (
        again.status_code == 401 and again.json()["message"] == "the username or password is wrong"
    )
    with web.engine.begin() as conn:
        set_disabled(conn, web.user, False, actor=audit.SYSTEM)
    assert web.login()


def test_a_new_password_ends_every_session(web: Web) -> None:
    web.login()
    with web.engine.begin() as conn:
        set_password(conn, web.user, "a different long password", actor=audit.SYSTEM)
    assert web.client.get("/api/segments").status_code == 401
    assert web.login(password="a different long password")


def test_sessions_expire_when_idle_and_after_their_maximum_age(web: Web) -> None:
    web.login()
    web.clock.now += 11 * HOUR_US
    assert web.client.get("/api/segments").status_code == 200  # used: the idle timer restarts
    web.clock.now += 11 * HOUR_US
    assert web.client.get("/api/segments").status_code == 200
    web.clock.now += 12 * HOUR_US + 1
    assert web.client.get("/api/segments").status_code == 401  # idle 12 h

    signed_in = web.clock.now
    web.login()
    for _ in range(20):  # used every 11 h: never idle, but 7 days is the most
        web.clock.now += 11 * HOUR_US
        if web.client.get("/api/segments").status_code == 401:
            break
    else:
        pytest.fail("a session outlived its maximum age")
    age = web.clock.now - signed_in
    assert 7 * 24 * HOUR_US < age <= 7 * 24 * HOUR_US + 11 * HOUR_US


def test_users_and_keys_commands(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("C360_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    made = runner.invoke(
        cli, ["users", "create", "Alice", "--role", "admin"], input=PASSWORD + "\n"
    )
    assert made.exit_code == 0, made.output
    short = runner.invoke(cli, ["users", "create", "bob", "--role", "sales"], input="short\n")
    assert short.exit_code == 2 and "12 characters" in short.output
    writer = runner.invoke(
        cli, ["users", "create", "bob", "--role", "writer"], input=PASSWORD + "\n"
    )
    assert writer.exit_code == 2 and "unknown role" in writer.output
    twice = runner.invoke(
        cli, ["users", "create", "alice", "--role", "admin"], input=PASSWORD + "\n"
    )
    assert twice.exit_code == 5
    assert runner.invoke(cli, ["users", "disable", "alice"]).exit_code == 0
    listing = runner.invoke(cli, ["users", "list"])
    assert "alice" in listing.output and "disabled" in listing.output
    assert runner.invoke(cli, ["users", "enable", "alice"]).exit_code == 0
    changed = runner.invoke(cli, ["users", "passwd", "alice"], input="another long password\n")
    assert changed.exit_code == 0, changed.output
    with engine.connect() as conn:
        stored = conn.execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "another long password" not in stored

    created = runner.invoke(cli, ["keys", "create", "--name", "crm team", "--role", "marketer"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("mk_")
    rotated = runner.invoke(cli, ["keys", "rotate", "1", "--grace", "30m"])
    assert rotated.exit_code == 0, rotated.output
    new_secret = rotated.stdout.strip().splitlines()[-1]
    assert new_secret.startswith("mk_") and new_secret != secret
    assert runner.invoke(cli, ["keys", "rotate", "1", "--grace", "soon"]).exit_code == 2
    assert runner.invoke(cli, ["keys", "revoke", "2"]).exit_code == 0
    listing = runner.invoke(cli, ["keys", "list"])
    assert "rotated, works until" in listing.output and "revoked" in listing.output
    with engine.connect() as conn:
        rows = conn.execute(select(api_keys.c.role, api_keys.c.expires_at_us)).all()
        actions = conn.execute(
            select(audit_log.c.action, audit_log.c.object_type, audit_log.c.object_id)
        ).all()
    assert [r.role for r in rows] == ["marketer", "marketer"]
    expires = rows[0].expires_at_us - system_clock()
    assert 29 * 60 * 1_000_000 < expires <= 30 * 60 * 1_000_000
    assert [a for a in actions if a.object_type == "api_key"] == [
        ("key.create", "api_key", "1"),
        ("key.rotate", "api_key", "1"),
        ("key.revoke", "api_key", "2"),
    ]
    assert [a.action for a in actions if a.object_type == "user"] == [
        "user.create",
        "user.disable",
        "user.enable",
        "user.password",
    ]
