"""Production mode's event bus on a real NATS JetStream server and PostgreSQL.

API processes publish a notice (the newest committed log seq) after each commit; ``c360 worker``
processes are woken by it through one shared durable consumer. The log stays the truth: a lost
notice is found by the worker's poll, an unreachable bus never stops acknowledgements.

NATS is the server at ``C360_TEST_NATS_URL`` (default nats://127.0.0.1:4222); where none
answers these tests skip, unless ``C360_REQUIRE_NATS`` is set (CI), where they fail. Every
test uses a stream, subject and consumer of its own and deletes the stream after.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats
import orjson
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import Engine, func, select
from tests.conftest import (
    NATS_URL,
    free_port,
    fresh_database,
    nats_problem,
    require,
    start_server,
    stop_process,
)

from c360.api import build_app
from c360.eventlog.bus import BusNames
from c360.eventlog.model import LogRow
from c360.eventlog.service import (
    PROFILES_CHECKPOINT,
    append,
    ensure_source,
    get_checkpoint,
    last_seq,
)
from c360.kernel.clock import system_clock
from c360.privacy.keys import Role, create_key
from c360.settings import Settings
from c360.storage import open_store
from c360.storage.tables import event_log, profile_events

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

pytestmark = pytest.mark.slow

T = TypeVar("T")


def require_nats() -> None:
    require(nats_problem())


def run_js(work: Callable[[JetStreamContext], Awaitable[T]], url: str = NATS_URL) -> T:
    """Run ``work`` with a JetStream context of a connection of its own."""

    async def session() -> T:
        nc = await nats.connect(url, connect_timeout=3, max_reconnect_attempts=0)
        try:
            return await work(nc.jetstream(timeout=5))
        finally:
            await nc.close()

    return asyncio.run(session())


@dataclass
class Bus:
    url: str
    names: BusNames

    @property
    def env(self) -> dict[str, str]:
        return {
            "C360_EVENT_BUS": self.url,
            "C360_EVENT_BUS_STREAM": self.names.stream,
            "C360_EVENT_BUS_SUBJECT": self.names.subject,
            "C360_EVENT_BUS_CONSUMER": self.names.consumer,
        }

    @property
    def settings(self) -> dict[str, str]:
        return {
            "event_bus": self.url,
            "event_bus_stream": self.names.stream,
            "event_bus_subject": self.names.subject,
            "event_bus_consumer": self.names.consumer,
        }

    def notices(self) -> list[tuple[int, str | None]]:
        """Every notice in the stream: (the seq it announces, its Nats-Msg-Id)."""

        async def read(js: JetStreamContext) -> list[tuple[int, str | None]]:
            try:
                info = await js.stream_info(self.names.stream)
            except NotFoundError:
                return []
            found = []
            for n in range(info.state.first_seq, info.state.last_seq + 1):
                if info.state.messages == 0:
                    break
                msg = await js.get_msg(self.names.stream, n)
                found.append((int(msg.data or b"0"), (msg.headers or {}).get("Nats-Msg-Id")))
            return found

        return run_js(read, self.url)

    def publish(self, seq: int) -> None:
        async def send(js: JetStreamContext) -> None:
            await js.publish(self.names.subject, str(seq).encode(), stream=self.names.stream)

        run_js(send, self.url)

    def waiting_pulls(self) -> int:
        """Pull requests the workers have open on the shared consumer (0 if it is not made)."""

        async def read(js: JetStreamContext) -> int:
            try:
                info = await js.consumer_info(self.names.stream, self.names.consumer)
            except NotFoundError:
                return 0
            return int(info.num_waiting or 0)

        return run_js(read, self.url)

    def wait_for_workers(self, count: int = 1, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.waiting_pulls() < count:
            assert time.monotonic() < deadline, f"{count} worker(s) never pulled from the bus"
            time.sleep(0.2)

    def delete(self) -> None:
        async def drop(js: JetStreamContext) -> None:
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(self.names.stream)

        run_js(drop, self.url)


@pytest.fixture
def bus() -> Iterator[Bus]:
    require_nats()
    tag = uuid.uuid4().hex[:10]
    found = Bus(
        NATS_URL,
        BusNames(stream=f"C360_TEST_{tag}", subject=f"c360test.{tag}", consumer=f"workers-{tag}"),
    )
    try:
        yield found
    finally:
        found.delete()


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path, migrated=True) as url:
        yield url


def start_worker(database_url: str, log_path: Path, **env: str) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "c360", "worker"],
            env={**os.environ, "C360_DATABASE_URL": database_url, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def append_directly(engine: Engine, message_id: str) -> int:
    """Put one track message in the log the way ingest does, but with no notice on the bus
    (as if the notice were lost); return its seq."""
    now = system_clock()
    payload = {
        "type": "track",
        "event": "Order Completed",
        "userId": f"u-{message_id}",
        "messageId": message_id,
        "timestamp": "2026-01-01T00:00:00Z",
    }
    with engine.begin() as conn:
        source = ensure_source(conn, "bus-test")
        row = LogRow(
            source_id=source.id,
            message_id=message_id,
            type="track",
            received_at_us=now,
            sent_at_us=None,
            original_timestamp_us=None,
            timestamp_us=now,
            payload=orjson.dumps(payload).decode(),
        )
        append(conn, [row], [])
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(event_log.c.seq).where(event_log.c.message_id == message_id)
            ).scalar_one()
        )


def applied(engine: Engine, seq: int) -> bool:
    """The worker has filed the log entry under a profile (and moved the checkpoint past it)."""
    with engine.connect() as conn:
        filed = conn.execute(
            select(func.count()).select_from(profile_events).where(profile_events.c.seq == seq)
        ).scalar_one()
        return bool(filed) and get_checkpoint(conn, PROFILES_CHECKPOINT) >= seq


def seconds_until_applied(engine: Engine, seq: int, timeout_s: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if applied(engine, seq):
            return time.monotonic() - started
        time.sleep(0.02)
    return None


def track_batch(prefix: str, count: int) -> dict[str, Any]:
    return {
        "batch": [
            {
                "type": "track",
                "event": "Product Viewed",
                "userId": f"u-{prefix}-{n % 7}",
                "messageId": f"{prefix}-{n}",
                "properties": {"n": n},
            }
            for n in range(count)
        ]
    }


@dataclass
class InProcessApi:
    client: TestClient
    engine: Engine
    write_key: str

    def send(self, body: dict[str, Any]) -> httpx.Response:
        return self.client.post("/v1/batch", json=body, auth=(self.write_key, ""))


def in_process_api(database_url: str, **settings: Any) -> tuple[TestClient, Engine, str]:
    engine = open_store(database_url)
    with engine.begin() as conn:
        _, write_key = create_key(conn, name="writer", role=Role.WRITER, source="web")
    app = build_app(Settings(database_url=database_url, **settings), engine, run_worker=False)
    return TestClient(app), engine, write_key


def test_api_publishes_the_newest_committed_seq_after_a_commit(bus: Bus, pg_url: str) -> None:
    client, engine, write_key = in_process_api(pg_url, **bus.settings)
    try:
        with client:
            api = InProcessApi(client, engine, write_key)
            response = api.send(track_batch("pub", 5))
            assert response.status_code == 200, response.text
            with engine.connect() as conn:
                newest = last_seq(conn)
            assert newest > 0
            deadline = time.monotonic() + 10
            found = bus.notices()
            while not found or found[-1][0] < newest:
                assert time.monotonic() < deadline, f"no notice of seq {newest}: {found}"
                time.sleep(0.05)
                found = bus.notices()
            assert found[-1] == (newest, f"{bus.names.stream}:{newest}")
            assert all(seq <= newest for seq, _ in found)
            assert client.get("/readyz").json()["event_bus"] == "ok"
    finally:
        engine.dispose()


def test_a_worker_woken_by_the_bus_applies_at_once_while_its_poll_is_30_s(
    bus: Bus, pg_url: str, tmp_path: Path
) -> None:
    """The same worker, polling every 30 s: an entry with no notice waits for the poll, an
    entry followed by a notice is applied within moments, so the bus is what woke it."""
    engine = open_store(pg_url)
    worker = start_worker(pg_url, tmp_path / "worker.log", C360_WORKER_POLL_S="30", **bus.env)
    try:
        bus.wait_for_workers(1)
        time.sleep(0.5)  # past the worker's first round at start-up

        silent = append_directly(engine, "no-notice")
        waited = seconds_until_applied(engine, silent, timeout_s=3.0)
        assert waited is None, f"applied after {waited:.2f} s with no notice (poll is 30 s)"

        noticed = append_directly(engine, "with-notice")
        sent = time.monotonic()
        bus.publish(noticed)
        took = seconds_until_applied(engine, noticed, timeout_s=15.0)
        assert took is not None, (tmp_path / "worker.log").read_text()[-2000:]
        assert took < 5.0, f"the notice woke the worker only after {took:.2f} s"
        assert applied(engine, silent)  # the checkpoint moved over both, in log order
        print(f"notice to applied: {(time.monotonic() - sent) * 1000:.0f} ms", file=sys.stderr)
    finally:
        stop_process(worker, grace_s=20)
        engine.dispose()


def test_an_acknowledged_event_reaches_its_profile_promptly_through_api_bus_and_worker(
    bus: Bus, pg_url: str, tmp_path: Path
) -> None:
    server = start_server(pg_url, tmp_path, "--no-worker", **bus.env)
    worker = start_worker(pg_url, tmp_path / "worker.log", C360_WORKER_POLL_S="30", **bus.env)
    engine = open_store(pg_url)
    try:
        bus.wait_for_workers(1)
        time.sleep(0.5)
        latencies = []
        for n in range(5):
            sent = time.monotonic()
            response = httpx.post(
                f"{server.url}/v1/track",
                json={"userId": f"u-e2e-{n}", "event": "Signed Up", "messageId": f"e2e-{n}"},
                auth=(server.write_key, ""),
                timeout=10,
            )
            assert response.status_code == 200, response.text
            with engine.connect() as conn:
                seq = last_seq(conn)
            took = seconds_until_applied(engine, seq, timeout_s=15.0)
            assert took is not None, f"event {n} not applied in 15 s (poll 30 s)"
            latencies.append(time.monotonic() - sent)
        latencies.sort()
        print(f"ack→applied ms: {[round(x * 1000) for x in latencies]}", file=sys.stderr)
        assert latencies[2] < 3.0, f"median acknowledgement to profile {latencies[2]:.2f} s"
        assert httpx.get(f"{server.url}/readyz", timeout=5).json()["event_bus"] == "ok"
    finally:
        stop_process(worker, grace_s=20)
        server.stop()
        engine.dispose()


def test_entries_whose_notice_was_lost_are_applied_by_the_poll(
    bus: Bus, pg_url: str, tmp_path: Path
) -> None:
    engine = open_store(pg_url)
    worker = start_worker(pg_url, tmp_path / "worker.log", C360_WORKER_POLL_S="1", **bus.env)
    try:
        bus.wait_for_workers(1)
        seqs = [append_directly(engine, f"lost-{n}") for n in range(3)]
        assert bus.notices() == []  # nothing announced them
        took = seconds_until_applied(engine, seqs[-1], timeout_s=20.0)
        assert took is not None, (tmp_path / "worker.log").read_text()[-2000:]
        assert all(applied(engine, seq) for seq in seqs)
    finally:
        stop_process(worker, grace_s=20)
        engine.dispose()


def test_an_unreachable_bus_never_stops_acknowledgements_and_readyz_says_so(
    pg_url: str,
) -> None:
    closed = f"nats://127.0.0.1:{free_port()}"
    client, engine, write_key = in_process_api(pg_url, event_bus=closed)
    try:
        with client:
            api = InProcessApi(client, engine, write_key)
            started = time.monotonic()
            for n in range(3):
                response = api.send(track_batch(f"down-{n}", 4))
                assert response.status_code == 200, response.text
            took = time.monotonic() - started
            assert took < 5.0, f"three acknowledgements took {took:.2f} s with the bus down"
            with engine.connect() as conn:
                stored = conn.execute(select(func.count()).select_from(event_log)).scalar_one()
            assert stored == 12
            ready = client.get("/readyz")
            body = ready.json()
            assert body["event_bus"].startswith("unreachable"), body
            assert ready.status_code == 200  # the log is the truth: still ready to ingest
    finally:
        engine.dispose()


def test_readyz_reports_no_bus_when_none_is_configured(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path) as url:
        client, engine, _ = in_process_api(url)
        try:
            with client:
                body = client.get("/readyz").json()
            assert "event_bus" in body
            assert body["event_bus"] is None
        finally:
            engine.dispose()


def test_two_workers_apply_every_event_exactly_once_even_when_one_is_killed(
    bus: Bus, pg_url: str, tmp_path: Path
) -> None:
    server = start_server(pg_url, tmp_path, "--no-worker", **bus.env)
    workers = [
        start_worker(pg_url, tmp_path / f"worker-{n}.log", C360_WORKER_BATCH_SIZE="50", **bus.env)
        for n in range(2)
    ]
    engine = open_store(pg_url)
    batches, per_batch = 40, 10
    try:
        bus.wait_for_workers(2)

        def send(n: int) -> int:
            if n == batches // 2:
                workers[0].send_signal(signal.SIGKILL)  # mid-stream: the other carries on
            body = track_batch(f"two-{n}", per_batch)
            return httpx.post(
                f"{server.url}/v1/batch", json=body, auth=(server.write_key, ""), timeout=30
            ).status_code

        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(send, range(batches)))
        assert statuses == [200] * batches
        server.wait_processed(timeout_s=90)

        with engine.connect() as conn:
            per_message = dict(
                conn.execute(
                    select(event_log.c.message_id, func.count())
                    .select_from(
                        event_log.join(profile_events, profile_events.c.seq == event_log.c.seq)
                    )
                    .group_by(event_log.c.message_id)
                ).all()
            )
        expected = {f"two-{n}-{m}" for n in range(batches) for m in range(per_batch)}
        assert set(per_message) == expected
        assert set(per_message.values()) == {1}, {k: v for k, v in per_message.items() if v != 1}
        assert workers[1].poll() is None, "the surviving worker exited"
    finally:
        for worker in workers:
            stop_process(worker, grace_s=20)
        server.stop()
        engine.dispose()


NATS_SERVER = shutil.which("nats-server")


def test_publisher_and_worker_reconnect_when_nats_comes_back(pg_url: str, tmp_path: Path) -> None:
    """A NATS server of the test's own: down at start, up, killed, restarted on its store."""
    if NATS_SERVER is None:
        reason = "nats-server is not installed (it runs a private server for this test)"
        if os.environ.get("C360_REQUIRE_NATS"):
            pytest.fail(reason + " and C360_REQUIRE_NATS is set")
        pytest.skip(reason)
    port = free_port()
    private = Bus(f"nats://127.0.0.1:{port}", BusNames())

    def nats_server() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(tmp_path / "js")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while nats_problem(private.url):
            assert time.monotonic() < deadline, "the private nats-server did not start"
            time.sleep(0.1)
        return process

    client, engine, write_key = in_process_api(pg_url, **private.settings)
    worker = start_worker(pg_url, tmp_path / "worker.log", C360_WORKER_POLL_S="30", **private.env)
    server: subprocess.Popen[bytes] | None = None
    try:
        with client:
            api = InProcessApi(client, engine, write_key)
            assert api.send(track_batch("before", 3)).status_code == 200
            assert client.get("/readyz").json()["event_bus"].startswith("unreachable")

            server = nats_server()
            deadline = time.monotonic() + 20
            while client.get("/readyz").json()["event_bus"] != "ok":
                assert time.monotonic() < deadline, client.get("/readyz").json()
                time.sleep(0.1)
            with engine.connect() as conn:
                first = last_seq(conn)
            # the connecting publisher announces what was committed while the bus was down
            deadline = time.monotonic() + 10
            while not any(seq >= first for seq, _ in private.notices()):
                assert time.monotonic() < deadline, private.notices()
                time.sleep(0.1)

            private.wait_for_workers(1)
            server.send_signal(signal.SIGKILL)
            server.wait(10)
            assert api.send(track_batch("during", 3)).status_code == 200
            server = nats_server()
            private.wait_for_workers(1, timeout_s=30)
            assert api.send(track_batch("after", 3)).status_code == 200
            with engine.connect() as conn:
                newest = last_seq(conn)
            took = seconds_until_applied(engine, newest, timeout_s=15.0)
            assert took is not None, (tmp_path / "worker.log").read_text()[-2000:]
            assert client.get("/readyz").json()["event_bus"] == "ok"
    finally:
        stop_process(worker, grace_s=20)
        if server is not None:
            stop_process(server, grace_s=20)
        engine.dispose()
