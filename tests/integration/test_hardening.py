"""Everything outside /v1: security headers, a cap on request bodies (A2 for the management
API), a rate limit per caller."""

import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
from pydantic import ValidationError

from c360.api import build_app
from c360.api.hardening import caller_key, security_headers
from c360.kernel.clock import Clock, system_clock
from c360.privacy.keys import Role, create_key
from c360.settings import Settings
from c360.storage import open_store

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

MB = 1024 * 1024


@contextmanager
def served(
    tmp_path: Path, clock: Clock = system_clock, **settings: Any
) -> Iterator[tuple[TestClient, str, str]]:
    url = f"sqlite:///{tmp_path / 'c360.db'}"
    engine = open_store(url)
    with engine.begin() as conn:
        _, admin = create_key(conn, name="admin", role=Role.ADMIN, source=None)
        _, other = create_key(conn, name="other admin", role=Role.ADMIN, source=None)
    app = build_app(Settings(database_url=url, **settings), engine, clock=clock)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, admin, other
    finally:
        engine.dispose()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_every_response_outside_v1_carries_the_security_headers(tmp_path: Path) -> None:
    with served(tmp_path) as (client, admin, _):
        for path, headers in [("/", {}), ("/healthz", {}), ("/api/sources", bearer(admin))]:
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.text)
            assert response.headers["x-content-type-options"] == "nosniff", path
            assert response.headers["x-frame-options"] == "DENY", path
            assert response.headers["referrer-policy"] == "no-referrer", path
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
            assert "strict-transport-security" not in response.headers, "HSTS only over https"
        refused = client.get("/api/sources")
        assert refused.status_code == 401
        assert refused.headers["x-frame-options"] == "DENY", "errors are covered too"
        # FastAPI's interactive docs load their scripts from a CDN: our CSP would break them
        assert "content-security-policy" not in client.get("/docs").headers


def test_hsts_is_sent_over_https_only() -> None:
    names = {name for name, _ in security_headers("/", https=True)}
    assert b"strict-transport-security" in names
    assert b"strict-transport-security" not in {n for n, _ in security_headers("/", False)}


def test_a_10_mb_body_is_refused_with_413_quickly_whatever_its_length_header_says(
    tmp_path: Path,
) -> None:
    body = b'{"name": "' + b"x" * (10 * MB) + b'"}'
    process = psutil.Process(os.getpid())
    with served(tmp_path, max_api_body_bytes=MB) as (client, admin, _):
        rss_before = process.memory_info().rss
        cases = {
            "honest length": (body, {}),
            "length lying low": (body, {"Content-Length": "100"}),
            "chunked, no length": (iter([body[i : i + MB] for i in range(0, len(body), MB)]), {}),
        }
        for case, (content, headers) in cases.items():
            started = time.perf_counter()
            response = client.post(
                "/api/segments",
                content=content,
                headers={**bearer(admin), "Content-Type": "application/json", **headers},
            )
            took = time.perf_counter() - started
            if case == "length lying low":
                # the server reads only as much as the header announces: the body is cut short,
                # so the JSON is malformed and refused as such, never read past the cap
                assert response.status_code in (400, 413, 422), (case, response.text)
            else:
                assert response.status_code == 413, (case, response.status_code, response.text)
                assert response.json()["code"] == "payload_too_large"
            assert took < 1.0, f"{case}: answered in {took:.2f} s"
        grown = (process.memory_info().rss - rss_before) / MB
        assert grown < 50, f"RSS grew {grown:.0f} MB"
        # the server still works for well-formed requests
        assert client.get("/api/sources", headers=bearer(admin)).status_code == 200


def test_a_caller_over_its_rate_gets_429_with_retry_after_and_others_are_not_affected(
    tmp_path: Path,
) -> None:
    now = system_clock()  # the server's clock stands still: no token comes back meanwhile
    with served(
        tmp_path, clock=lambda: now, api_rate_limit_per_s=5.0, api_rate_limit_burst_s=1.0
    ) as (client, admin, other):
        statuses = [client.get("/api/sources", headers=bearer(admin)).status_code for _ in range(8)]
        assert statuses == [200] * 5 + [429] * 3, statuses
        limited = client.get("/api/sources", headers=bearer(admin))
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["code"] == "rate_limited"
        assert client.get("/api/sources", headers=bearer(other)).status_code == 200


def test_without_a_limit_configured_nobody_is_limited(tmp_path: Path) -> None:
    with served(tmp_path, api_rate_limit_per_s=None) as (client, _admin, _):
        statuses = {client.get("/healthz").status_code for _ in range(300)}
        assert statuses == {200}


def test_callers_are_told_apart_by_key_then_by_address_never_by_keeping_the_key() -> None:
    def scope(headers: list[tuple[bytes, bytes]], client: str = "10.0.0.1") -> dict[str, Any]:
        return {"headers": headers, "client": (client, 1234)}

    a = caller_key(scope([(b"authorization", b"Bearer ak_one")]))
    b = caller_key(scope([(b"authorization", b"Bearer ak_two")]))
    assert a != b
    assert a == caller_key(scope([(b"authorization", b"Bearer ak_one")], client="10.0.0.2"))
    assert caller_key(scope([])) != caller_key(scope([], client="10.0.0.2"))
    assert isinstance(a, int)


def test_idle_callers_are_forgotten_only_once_their_bucket_is_full_again() -> None:
    from c360.ingest.ratelimit import RateLimiter

    limiter = RateLimiter(burst_s=1.0)
    assert limiter.admit("busy", 2.0, 10, now_s=0.0) == 0.0  # 2 tokens, 10 taken: in debt
    assert limiter.admit("idle", 2.0, 2, now_s=0.0) == 0.0
    limiter.forget_idle(now_s=0.5)
    assert len(limiter) == 2, "neither bucket has refilled yet"
    assert limiter.admit("idle", 2.0, 1, now_s=0.5) == 0.0
    limiter.forget_idle(now_s=2.0)
    assert len(limiter) == 1, "'idle' is full again and forgotten; 'busy' still owes tokens"
    assert limiter.admit("busy", 2.0, 1, now_s=2.0) > 0, "its debt was not forgiven"


def test_query_mistakes_are_refused_not_guessed(tmp_path: Path) -> None:
    """A parameter given twice (which one?) and a bare number given as a time (not seconds
    since 1970) are refused with 422 and the reason; a NUL, which no stored text can hold,
    finds nothing (rather than failing in PostgreSQL)."""
    with served(tmp_path) as (client, admin, _):
        nothing = client.get("/api/feedback?profile_id=a%00b", headers=bearer(admin))
        assert nothing.status_code == 200 and nothing.json()["items"] == [], nothing.text
        missing = client.get("/api/profiles/a%00b", headers=bearer(admin))
        assert missing.status_code == 404, missing.text
        cases = {
            "/api/feedback?limit=5&limit=500": "given 2 times",
            "/api/feedback/report?since=49.0": "ISO 8601",
            "/api/audit?until=0.88": "ISO 8601",
        }
        for url, reason in cases.items():
            response = client.get(url, headers=bearer(admin))
            assert response.status_code == 422, (url, response.text)
            assert reason in response.text, (url, response.text)
        fine = client.get("/api/feedback/report?since=2026-12-01", headers=bearer(admin))
        assert fine.status_code == 200, fine.text


def test_only_parameters_that_take_one_value_are_refused_when_repeated() -> None:
    from typing import Annotated

    from c360.api.management import takes_many

    assert takes_many(list[str]) and takes_many(list[str] | None)
    assert takes_many(Annotated[tuple[int, ...] | None, "doc"])
    assert not takes_many(str) and not takes_many(int | None)


def test_behind_a_trusted_proxy_the_forwarded_caller_and_scheme_count(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c360.db'}"
    engine = open_store(url)
    now = system_clock()
    settings = Settings(
        database_url=url,
        api_rate_limit_per_s=1.0,
        api_rate_limit_burst_s=1.0,
        forwarded_allow_ips=" 127.0.0.1, 10.1.0.0/16 ",
    )
    app = build_app(settings, engine, clock=lambda: now, run_worker=False)

    def get(client: TestClient, caller: str, proto: str | None = None) -> Any:
        headers = {"X-Forwarded-For": caller} | ({"X-Forwarded-Proto": proto} if proto else {})
        return client.get("/healthz", headers=headers)

    try:
        with TestClient(app, client=("10.1.4.2", 40000)) as proxy:
            assert get(proxy, "203.0.113.7").status_code == 200
            assert get(proxy, "203.0.113.7").status_code == 429, "that caller's token is spent"
            assert get(proxy, "198.51.100.9").status_code == 200, "another caller, same proxy"
            secure = get(proxy, "198.51.100.10", "https")
            assert secure.status_code == 200
            assert "strict-transport-security" in secure.headers
        # a peer that is not a trusted proxy: its headers are not believed
        with TestClient(app, client=("192.0.2.50", 40000)) as stranger:
            assert get(stranger, "203.0.113.99").status_code == 200
            spoofed = get(stranger, "198.51.100.77", "https")
            assert spoofed.status_code == 429, "its own address, its own (spent) token"
            assert "strict-transport-security" not in spoofed.headers
    finally:
        engine.dispose()
    assert settings.forwarded_allow_ips == "127.0.0.1,10.1.0.0/16"


def test_a_proxy_that_is_not_an_address_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match=r"'lb\.internal' is not an IP address or network"):
        Settings(forwarded_allow_ips="10.0.0.5,lb.internal")
    assert Settings(forwarded_allow_ips="*").forwarded_allow_ips == "*"
    assert Settings(forwarded_allow_ips=" ").forwarded_allow_ips is None
