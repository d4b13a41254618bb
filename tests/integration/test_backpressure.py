"""Back-pressure: /v1 refuses new messages (429 ``worker_lag``) while the workers are more than
``C360_MAX_WORKER_LAG`` log entries behind, on SQLite and PostgreSQL.

No worker runs in these tests (``run_worker=False``, ``--no-worker``), so the lag only moves
when the test sends or calls ``process_available``.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine, func, select
from tests import factories
from tests.conftest import LiveServer, fresh_database, start_server

from c360.api import build_app
from c360.privacy.keys import Role, create_key
from c360.settings import Settings
from c360.storage import open_store
from c360.storage.tables import event_log
from c360.workers.backlog import Backlog, retry_after_s
from c360.workers.processor import process_available

with warnings.catch_warnings():
    # Starlette asks for the httpx2 package; the installed httpx works the same for these tests.
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient


@dataclass
class Server:
    app: Any
    client: TestClient
    engine: Engine
    source: str
    write_key: str

    def send(self, messages: list[dict[str, Any]]) -> httpx.Response:
        return self.client.post(
            "/v1/batch",
            content=orjson.dumps({"batch": messages}),
            headers={"Content-Type": "application/json", "Authorization": basic(self.write_key)},
        )

    def logged(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(event_log)).scalar_one())

    def ready(self) -> tuple[int, dict[str, Any]]:
        response = self.client.get("/readyz")
        return response.status_code, response.json()

    def catch_up(self) -> None:
        while process_available(self.engine, 500):
            pass


def basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:".encode()).decode()


@contextmanager
def serve(database_url: str, max_worker_lag: int) -> Iterator[Server]:
    """The app with no worker of its own, a writer key for a new source."""
    engine = open_store(database_url)
    source = f"web-{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        _, write_key = create_key(conn, name="writer", role=Role.WRITER, source=source)
    settings = Settings(database_url=database_url, max_worker_lag=max_worker_lag)
    app = build_app(settings, engine, run_worker=False)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Server(app, client, engine, source, write_key)
    finally:
        engine.dispose()


def test_sends_over_the_lag_limit_get_429_until_the_workers_catch_up(database_url: str) -> None:
    with serve(database_url, max_worker_lag=10) as server:
        response = server.send([factories.track() for _ in range(10)])
        assert response.status_code == 200, response.text
        status, body = server.ready()
        assert (status, body["worker_lag"], body["max_worker_lag"]) == (200, 10, 10)
        assert body["backpressure"] is False

        response = server.send([factories.track()])  # at the limit: still accepted
        assert response.status_code == 200, response.text
        status, body = server.ready()  # reads the lag now, for /v1 too
        assert status == 200, body  # still ready: every process shares the lag
        assert body["status"] == "ready"
        assert (body["worker_lag"], body["max_worker_lag"], body["backpressure"]) == (11, 10, True)

        refused = factories.track()
        response = server.send([refused])
        assert response.status_code == 429, response.text
        assert response.json()["code"] == "worker_lag"
        assert "11 log entries behind" in response.json()["message"]
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert server.logged() == 11  # nothing of the refused request was stored
        webhook = server.client.post(
            f"/v1/webhooks/{server.source}",
            content=b'[{"id": "1"}]',
            headers={"Authorization": basic(server.write_key)},
        )
        assert webhook.status_code == 429, webhook.text
        assert webhook.json()["code"] == "worker_lag"
        assert server.logged() == 11
        # The management API is not throttled.
        assert server.client.get("/healthz").status_code == 200

        server.catch_up()
        status, body = server.ready()
        assert (status, body["worker_lag"], body["backpressure"]) == (200, 0, False)
        response = server.send([refused])  # the client's retry
        assert response.status_code == 200, response.text
        assert server.logged() == 12
        webhook = server.client.post(
            f"/v1/webhooks/{server.source}",
            content=b'[{"id": "1"}]',
            headers={"Authorization": basic(server.write_key)},
        )
        assert webhook.json()["code"] == "no_mapping"  # past back-pressure, to the intake


def test_the_background_reading_starts_refusing_without_readyz(database_url: str) -> None:
    with serve(database_url, max_worker_lag=3) as server:
        assert server.send([factories.track() for _ in range(4)]).status_code == 200
        # the lag is read every half second: within a few seconds sends are refused
        deadline = time.monotonic() + 15
        answers: list[int] = []
        while time.monotonic() < deadline:
            answers.append(server.send([factories.track()]).status_code)
            if answers[-1] == 429:
                break
            time.sleep(0.1)
        assert answers[-1] == 429, answers
        assert server.logged() == 4 + answers.count(200)


def test_no_limit_never_refuses(database_url: str) -> None:
    with serve(database_url, max_worker_lag=0) as server:
        for _ in range(3):
            assert server.send([factories.track() for _ in range(5)]).status_code == 200
        status, body = server.ready()
        assert (status, body["worker_lag"], body["max_worker_lag"]) == (200, 15, 0)
        assert body["backpressure"] is False


def test_refusal_does_not_read_the_body(database_url: str) -> None:
    """A large body whose bytes never arrive: the answer comes without waiting for them."""
    with serve(database_url, max_worker_lag=1) as server:
        assert server.send([factories.track(), factories.track()]).status_code == 200
        assert server.ready()[1]["backpressure"] is True
        reads = 0
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            nonlocal reads
            reads += 1
            await asyncio.Event().wait()  # the body never comes
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/batch",
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"400000"),
                (b"authorization", basic(server.write_key).encode()),
            ],
        }
        asyncio.run(asyncio.wait_for(server.app(scope, receive, send), timeout=10))
        assert reads == 0
        start = sent[0]
        assert start["status"] == 429
        headers = dict(start["headers"])
        assert 1 <= int(headers[b"retry-after"]) <= 60
        assert orjson.loads(sent[1]["body"])["code"] == "worker_lag"
        assert server.logged() == 2


@pytest.mark.slow
def test_live_api_process_refuses_a_large_body_before_it_arrives(tmp_path: Path) -> None:
    """Over a socket, on PostgreSQL with ``--no-worker`` (the production layout; the refusal
    itself touches no store): a 400 kB request whose body is never sent is answered 429."""
    with fresh_database("postgresql", tmp_path, migrated=True) as url:
        server = start_server(url, tmp_path, "--no-worker", C360_MAX_WORKER_LAG="2")
        try:
            _refuses_a_body_that_never_comes(server)
        finally:
            server.stop()


def _refuses_a_body_that_never_comes(server: LiveServer) -> None:
    auth = (server.write_key, "")
    batch = {"batch": [factories.track() for _ in range(3)]}
    response = httpx.post(f"{server.url}/v1/batch", json=batch, auth=auth, timeout=10)
    assert response.status_code == 200, response.text
    assert httpx.get(f"{server.url}/readyz", timeout=10).json()["backpressure"] is True
    head = (
        "POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: {basic(server.write_key)}\r\nContent-Length: 400000\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(head + b'{"batch": [')  # and nothing more
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
        took_s = time.monotonic() - started
    status_line, *header_lines = answer.partition(b"\r\n\r\n")[0].decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    assert status_line.split()[1] == "429", answer
    assert 1 <= int(headers["retry-after"]) <= 60
    assert took_s < 5, took_s  # the socket timeout (10 s) would fail it first if it waited


def test_backlog_measures_the_processing_rate_for_retry_after(database_url: str) -> None:
    with serve(database_url, max_worker_lag=0) as server:
        assert server.send([factories.track() for _ in range(30)]).status_code == 200
        now = [100.0]
        backlog = Backlog(server.engine, max_lag=10, clock=lambda: now[0])
        first = backlog.refresh()
        assert (first.lag, first.rate_per_s) == (30, None)
        assert backlog.overloaded() == first
        assert retry_after_s(first.lag, 10, first.rate_per_s) == 60  # no progress measured

        assert process_available(server.engine, 8) == 8
        now[0] += 2.0
        second = backlog.refresh()
        assert (second.lag, second.checkpoint - first.checkpoint) == (22, 8)
        assert second.rate_per_s == pytest.approx(4.0)
        # 12 entries over the limit at 4 a second
        assert retry_after_s(second.lag, 10, second.rate_per_s) == 3

        server.catch_up()
        now[0] += 1.0
        assert backlog.refresh().lag == 0
        assert backlog.overloaded() is None
