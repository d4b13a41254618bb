"""Webhook subscriptions to the change feed, delivered to a real HTTP receiver on loopback."""

from __future__ import annotations

import itertools
import json
import random
import re
import socket
import ssl
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, insert, select, text
from tests.cli import CommandResult, run_c360
from tests.conftest import (
    drop_postgres_database,
    free_port,
    fresh_database,
    new_postgres_database,
)
from tests.factories import PEOPLE

from c360.changes.delivery import Deliverer, DeliveryThread, verify_signature
from c360.changes.feed import ChangeKind, NewChange, last_change_id, record_changes
from c360.changes.subscriptions import (
    Start,
    Subscription,
    add_subscription,
    dead_letters,
    get_subscription,
    list_subscriptions,
    pending_changes,
    redeliver_dead_letters,
    remove_subscription,
)
from c360.errors import InvalidInput, NotFound
from c360.kernel.clock import system_clock
from c360.storage import create_engine_for, upgrade_to_head
from c360.storage.tables import metadata, profile_changes, subscriptions

T = ChangeKind.TRAIT_CHANGED
M = ChangeKind.MERGED
C = ChangeKind.PROFILE_CREATED


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """One migrated PostgreSQL database for this module, emptied before each test: a new one
    per test (as ``tests.conftest`` makes) took most of this file's time."""
    url = new_postgres_database()
    engine = create_engine_for(url)
    upgrade_to_head(engine)
    engine.dispose()
    yield url
    drop_postgres_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database with no data on each store: a copy of a migrated SQLite file, or
    this module's PostgreSQL database emptied."""
    if request.param == "sqlite":
        with fresh_database("sqlite", tmp_path, migrated=True) as url:
            yield url
        return
    url = request.getfixturevalue("postgres_url")
    engine = create_engine_for(url)
    quote = engine.dialect.identifier_preparer.quote
    # the audit log refuses DELETE (append-only); earlier tests' entries do not matter here.
    # DELETE and a restart of the sequences leave what TRUNCATE ... RESTART IDENTITY did, in a
    # tenth of its time (TRUNCATE makes new files for every table, half a second in all).
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if table.name != "audit_log":
                conn.execute(table.delete())
        for sequence in conn.execute(OWNED_SEQUENCES).scalars():
            conn.execute(text(f"ALTER SEQUENCE {quote(sequence)} RESTART"))
    engine.dispose()
    yield url


OWNED_SEQUENCES = text(
    "SELECT s.relname FROM pg_class s"
    " JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass"
    " JOIN pg_class t ON t.oid = d.refobjid"
    " WHERE s.relkind = 'S' AND d.deptype IN ('a', 'i') AND t.relname <> 'audit_log'"
    " AND s.relnamespace = 'public'::regnamespace"
)
"""The sequences of every table's identity or serial column but the audit log's."""


@dataclass
class Request:
    headers: dict[str, str]
    body: bytes
    status: int
    at_us: int
    """The receiver's clock when the request came (a test's fake clock, if it set one)."""

    @property
    def change_ids(self) -> list[int]:
        return [c["id"] for c in json.loads(self.body)["changes"]]


class Receiver:
    """A webhook receiver on loopback: records every request, answers 200 unless told to fail
    (``fail``, or ``answer`` deciding each status), can be slow (``delay_s``) or gone
    (``stop``, then ``start`` on the same port)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[Request] = []
        self.planned: deque[tuple[int, dict[str, str]]] = deque()
        self.answer: Callable[[], tuple[int, dict[str, str]]] | None = None
        self.clock: Callable[[], int] = system_clock
        self.delay_s = 0.0
        self.on_request: Callable[[], None] | None = None
        self.tls: ssl.SSLContext | None = None
        self.server_names: list[str | None] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def host_port(self) -> str:
        """The entry that allows this receiver in ``allowed_hosts``."""
        return f"127.0.0.1:{self.port}"

    def fail(self, times: int, status: int = 500, headers: dict[str, str] | None = None) -> None:
        self.planned.extend([(status, headers or {})] * times)

    def accepted(self) -> list[int]:
        """Change ids of the requests answered 2xx, in arrival order."""
        return [i for r in self.requests if r.status == 200 for i in r.change_ids]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                with receiver._lock:
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
                try:
                    body = self.rfile.read(int(self.headers["Content-Length"]))
                    if receiver.on_request is not None:
                        receiver.on_request()
                    time.sleep(receiver.delay_s)
                    if receiver.planned:
                        status, extra = receiver.planned.popleft()
                    elif receiver.answer is not None:
                        status, extra = receiver.answer()
                    else:
                        status, extra = 200, {}
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.requests.append(Request(headers, body, status, receiver.clock()))
                    self.send_response(status)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                finally:
                    with receiver._lock:
                        receiver.in_flight -= 1

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def canary() -> Iterator[Receiver]:
    """A loopback server nothing may reach: internal targets point at its port."""
    server = Receiver().start()
    try:
        yield server
    finally:
        server.stop()


class FakeClock:
    """A clock that stands still until a test moves it, so hours of retries take no time."""

    def __init__(self) -> None:
        self.now_us = system_clock()

    def __call__(self) -> int:
        return self.now_us

    def move_to(self, moment_us: int) -> None:
        self.now_us = max(self.now_us, moment_us)


@pytest.fixture
def make_deliverer(engine: Engine, receiver: Receiver) -> Iterator[Callable[..., Deliverer]]:
    """Deliverers allowed to reach the receiver, with tiny back-off (10 ms doubling), a
    fixed random seed and a 60 s retry window."""
    made: list[Deliverer] = []

    def make(**options: Any) -> Deliverer:
        settings: dict[str, Any] = {
            "base_delay_s": 0.01,
            "max_delay_s": 1.0,
            "retry_window_s": 60.0,
            "timeout_s": 5.0,
            "allowed_hosts": receiver.host_port,
            "rng": random.Random(7),
            **options,
        }
        deliverer = Deliverer(engine, **settings)
        made.append(deliverer)
        return deliverer

    yield make
    for deliverer in made:
        deliverer.close()


def add_changes(engine: Engine, kinds: list[ChangeKind]) -> list[int]:
    """Record one change per kind (Thai and Vietnamese trait values); return their ids."""
    with engine.begin() as conn:
        before = last_change_id(conn)
        changes = [
            NewChange(
                profile_id=str(uuid.uuid4()),
                kind=kind,
                detail={"trait": "name", "new": PEOPLE[i % len(PEOPLE)][0]},
            )
            for i, kind in enumerate(kinds)
        ]
        record_changes(conn, changes, seq=1)
        return list(
            conn.execute(
                select(profile_changes.c.id)
                .where(profile_changes.c.id > before)
                .order_by(profile_changes.c.id)
            ).scalars()
        )


def subscribe(
    engine: Engine,
    url: str,
    kinds: list[str] | None = None,
    start: Start = "now",
    allowed_hosts: str | None = None,
) -> tuple[Subscription, str]:
    """Add a subscription; the URL's own host:port is allowed unless ``allowed_hosts`` says."""
    allowed = urlsplit(url).netloc if allowed_hosts is None else allowed_hosts
    with engine.begin() as conn:
        return add_subscription(conn, url, kinds or [], start=start, allowed_hosts=allowed)


def insert_subscription(engine: Engine, url: str) -> int:
    """A subscription row written directly, past every check ``add_subscription`` makes (a
    row from before the checks, or edited in the database); from the newest change on."""
    with engine.begin() as conn:
        return int(
            conn.execute(
                insert(subscriptions)
                .values(
                    url=url,
                    kinds=[],
                    secret="whsec_test",
                    created_at_us=system_clock(),
                    disabled_at_us=None,
                    cursor=last_change_id(conn),
                    attempts=0,
                    next_attempt_us=None,
                    last_error=None,
                )
                .returning(subscriptions.c.id)
            ).scalar_one()
        )


def current(engine: Engine, subscription_id: int) -> Subscription:
    with engine.connect() as conn:
        return get_subscription(conn, subscription_id)


def drain(deliverer: Deliverer, now_us: int | None = None, passes: int = 50) -> int:
    total = 0
    for _ in range(passes):
        delivered = deliverer.run_once(now_us)
        if not delivered:
            return total
        total += delivered
    raise AssertionError(f"still delivering after {passes} passes")


def test_a_delivery_is_signed_so_that_only_the_unaltered_recent_body_verifies(
    engine: Engine, receiver: Receiver, make_deliverer: Callable[..., Deliverer]
) -> None:
    subscription, secret = subscribe(engine, receiver.url)
    ids = add_changes(engine, [T, M])

    assert make_deliverer().run_once() == 1

    [request] = receiver.requests
    body, headers = request.body, request.headers
    timestamp, signature = headers["x-c360-timestamp"], headers["x-c360-signature"]
    assert headers["content-type"] == "application/json"
    assert signature.startswith("sha256=")
    assert uuid.UUID(headers["x-c360-delivery"])
    sent = json.loads(body)
    assert sent["subscription_id"] == subscription.id
    assert [c["id"] for c in sent["changes"]] == ids
    assert sent["changes"][0]["kind"] == "trait_changed"
    assert sent["changes"][0]["detail"]["new"] == PEOPLE[0][0]
    assert abs(int(timestamp) - time.time()) < 60

    assert verify_signature(secret, timestamp, body, signature)
    assert verify_signature(secret, timestamp, body.decode(), signature)
    assert not verify_signature(secret + "x", timestamp, body, signature)
    assert not verify_signature(secret, timestamp, body.replace(b'"merged"', b'"split"'), signature)
    assert not verify_signature(secret, str(int(timestamp) + 1), body, signature)
    assert not verify_signature(secret, "not-a-time", body, signature)
    assert not verify_signature(secret, timestamp, body, signature.upper())
    assert not verify_signature(secret, timestamp, body, "sha256=ข้อมูล")
    assert not verify_signature(secret, f"{timestamp}.5", body, signature)
    sent_s = int(timestamp)
    assert verify_signature(secret, timestamp, body, signature, now_s=sent_s + 299)
    assert not verify_signature(secret, timestamp, body, signature, now_s=sent_s + 301)
    assert not verify_signature(secret, timestamp, body, signature, now_s=sent_s - 301)
    assert verify_signature(secret, timestamp, body, signature, 3600, now_s=sent_s + 3000)


def test_changes_arrive_in_order_in_batches_and_only_once(
    engine: Engine, receiver: Receiver, make_deliverer: Callable[..., Deliverer]
) -> None:
    subscription, _ = subscribe(engine, receiver.url)
    ids = add_changes(engine, [C, T, T, M, T, T, C, T])

    deliverer = make_deliverer(batch_size=3)
    assert drain(deliverer) == 3

    assert [r.change_ids for r in receiver.requests] == [ids[0:3], ids[3:6], ids[6:8]]
    assert current(engine, subscription.id).cursor == ids[-1]
    assert deliverer.run_once() == 0
    assert len(receiver.requests) == 3


def test_a_subscription_starts_after_the_newest_change_unless_asked_for_the_beginning(
    engine: Engine, receiver: Receiver, make_deliverer: Callable[..., Deliverer]
) -> None:
    earlier = add_changes(engine, [C, T])
    from_now, _ = subscribe(engine, receiver.url + "?from=now")
    from_start, _ = subscribe(engine, receiver.url + "?from=beginning", start="beginning")
    later = add_changes(engine, [T])

    assert drain(make_deliverer()) == 2

    assert sorted(r.change_ids for r in receiver.requests) == sorted([later, earlier + later])
    assert current(engine, from_now.id).cursor == current(engine, from_start.id).cursor == later[0]


def test_only_the_subscribed_kinds_are_sent_and_other_kinds_move_the_cursor(
    engine: Engine, receiver: Receiver, make_deliverer: Callable[..., Deliverer]
) -> None:
    subscription, _ = subscribe(engine, receiver.url, ["trait_changed", "merged"])
    assert subscription.kinds == ("trait_changed", "merged")
    ids = add_changes(engine, [C, T, C, M, C])

    deliverer = make_deliverer()
    assert drain(deliverer) == 1
    assert receiver.accepted() == [ids[1], ids[3]]
    assert current(engine, subscription.id).cursor == ids[-1]

    others = add_changes(engine, [C, C])
    assert deliverer.run_once() == 0
    assert len(receiver.requests) == 1
    assert current(engine, subscription.id).cursor == others[-1]


def test_failures_are_retried_with_growing_back_off_and_nothing_is_lost_or_reordered(
    engine: Engine, receiver: Receiver, make_deliverer: Callable[..., Deliverer]
) -> None:
    subscription, _ = subscribe(engine, receiver.url)
    ids = add_changes(engine, [C, T, T, M, T])
    deliverer = make_deliverer(batch_size=2)
    receiver.fail(2, status=500)
    now = system_clock()
    waits: list[int] = []
    errors: list[str | None] = []

    def attempt() -> None:
        nonlocal now
        assert deliverer.run_once(now) == 0
        state = current(engine, subscription.id)
        assert state.next_attempt_us is not None and state.cursor < ids[0]
        waits.append(state.next_attempt_us - now)
        errors.append(state.last_error)
        # Not due again before the back-off is over: no request is made.
        requests = len(receiver.requests)
        assert deliverer.run_once(now + waits[-1] - 1) == 0
        assert len(receiver.requests) == requests
        now += waits[-1]

    attempt()
    attempt()
    receiver.stop()  # the connection is refused now
    attempt()
    attempt()
    late = add_changes(engine, [T, M])  # made while the receiver was away

    assert errors == ["HTTP 500", "HTTP 500", "ConnectError", "ConnectError"]
    assert all(a < b for a, b in itertools.pairwise(waits)), waits
    assert current(engine, subscription.id).attempts == 4

    receiver.start()
    assert drain(deliverer, now) == 4

    assert receiver.accepted() == ids + late
    first_batch = [r.headers["x-c360-delivery"] for r in receiver.requests[:3]]
    assert len(set(first_batch)) == 1  # every retry of a batch carries the same delivery id
    state = current(engine, subscription.id)
    assert (state.attempts, state.last_error, state.cursor) == (0, None, late[-1])


def test_a_retry_waits_at_least_as_long_as_retry_after_asks(
    engine: Engine, receiver: Receiver, make_deliverer: Callable[..., Deliverer]
) -> None:
    subscription, _ = subscribe(engine, receiver.url)
    add_changes(engine, [T])
    receiver.fail(1, status=429, headers={"Retry-After": "30"})
    now = system_clock()

    assert make_deliverer().run_once(now) == 0

    state = current(engine, subscription.id)
    assert state.last_error == "HTTP 429"
    assert state.next_attempt_us is not None and state.next_attempt_us - now >= 30_000_000


def fail_until_dead_lettered(
    engine: Engine,
    receiver: Receiver,
    deliverer: Deliverer,
    subscription_id: int,
    now: int,
    status: int = 500,
) -> int:
    """Let the receiver fail until the deliverer gives up on the batch; return the clock."""
    receiver.planned.clear()
    receiver.fail(1000, status=status)
    for _ in range(100):
        assert deliverer.run_once(now) == 0
        state = current(engine, subscription_id)
        if state.next_attempt_us is None:
            receiver.planned.clear()
            return now
        now = state.next_attempt_us
    raise AssertionError("the deliverer never gave up")


def test_a_batch_is_dead_lettered_after_the_retry_window_and_delivery_moves_on(
    engine: Engine, receiver: Receiver, make_deliverer: Callable[..., Deliverer]
) -> None:
    subscription, _ = subscribe(engine, receiver.url)
    ids = add_changes(engine, [T, T, M, T, C])
    deliverer = make_deliverer(batch_size=2, retry_window_s=0.5)
    start = system_clock()

    now = fail_until_dead_lettered(engine, receiver, deliverer, subscription.id, start)

    assert now - start == 500_000  # the last retry is made when the window ends
    tries = len(receiver.requests)
    with engine.connect() as conn:
        letters = dead_letters(conn, subscription.id)
    assert [d.change_id for d in letters] == ids[:2]
    reason = "HTTP 500; still failing after 0.5 s (the retry window is 0.5 s)"
    assert {(d.attempts, d.last_error, d.queued) for d in letters} == {(tries, reason, False)}
    state = current(engine, subscription.id)
    assert (state.cursor, state.attempts, state.last_error) == (ids[1], 0, reason)
    assert state.failing_since_us is None

    assert drain(deliverer, now) == 2
    assert receiver.accepted() == ids[2:]


def test_redelivered_dead_letters_are_sent_before_newer_changes(
    engine: Engine, receiver: Receiver, make_deliverer: Callable[..., Deliverer]
) -> None:
    subscription, _ = subscribe(engine, receiver.url)
    ids = add_changes(engine, [T, M])
    deliverer = make_deliverer(batch_size=2, retry_window_s=0.1)
    now = fail_until_dead_lettered(engine, receiver, deliverer, subscription.id, system_clock())
    newer = add_changes(engine, [T])

    # Sent again, failing again: they wait for the operator again, with the new error.
    with engine.begin() as conn:
        assert redeliver_dead_letters(conn, subscription.id) == 2
        assert all(d.queued for d in dead_letters(conn, subscription.id))
    now = fail_until_dead_lettered(engine, receiver, deliverer, subscription.id, now, 503)
    with engine.connect() as conn:
        letters = dead_letters(conn, subscription.id)
    assert [(d.change_id, d.last_error.split(";")[0], d.queued) for d in letters] == [
        (ids[0], "HTTP 503", False),
        (ids[1], "HTTP 503", False),
    ]
    assert receiver.accepted() == []

    with engine.begin() as conn:
        assert redeliver_dead_letters(conn, subscription.id) == 2
        assert redeliver_dead_letters(conn, subscription.id) == 0  # already queued
    assert drain(deliverer, now) == 2

    assert [r.change_ids for r in receiver.requests if r.status == 200] == [ids, newer]
    with engine.connect() as conn:
        assert dead_letters(conn, subscription.id) == []
    assert current(engine, subscription.id).cursor == newer[-1]


def deliver_until_idle(
    engine: Engine,
    deliverer: Deliverer,
    clock: FakeClock,
    subscription_id: int,
    between: Callable[[], None] = lambda: None,
    passes: int = 200,
) -> None:
    """Run the deliverer, moving the clock to each retry, until nothing is left to send."""
    for _ in range(passes):
        deliverer.run_once()
        between()
        with engine.connect() as conn:
            state = get_subscription(conn, subscription_id)
            queued = any(d.queued for d in dead_letters(conn, subscription_id))
            if state.next_attempt_us is None and not queued and not pending_changes(conn, state):
                return
        clock.move_to(state.next_attempt_us or clock())
    raise AssertionError(f"still delivering after {passes} passes")


def test_a_receiver_down_ten_minutes_then_rate_limiting_gets_every_change_once_in_order(
    engine: Engine, receiver: Receiver, make_deliverer: Callable[..., Deliverer]
) -> None:
    subscription, _ = subscribe(engine, receiver.url)
    ids = add_changes(engine, [C, T, T, M, T])
    clock = FakeClock()
    start = clock()
    receiver.clock = clock
    told_to_wait: list[int] = []

    def answer() -> tuple[int, dict[str, str]]:
        if clock() < start + 600_000_000:
            return 500, {}
        if not told_to_wait:
            told_to_wait.append(clock())
            return 429, {"Retry-After": "30"}
        return 200, {}

    receiver.answer = answer
    late: list[int] = []

    def add_late_changes() -> None:
        if len(receiver.requests) == 3 and not late:
            late.extend(add_changes(engine, [T, M]))  # made while the receiver is down

    # The defaults: 1 s doubling up to 10 min, a 4 h window.
    deliverer = make_deliverer(
        batch_size=2, clock=clock, base_delay_s=1.0, max_delay_s=600.0, retry_window_s=4 * 3600
    )
    deliver_until_idle(engine, deliverer, clock, subscription.id, add_late_changes)

    assert receiver.accepted() == ids + late  # each change once, in order
    with engine.connect() as conn:
        assert dead_letters(conn, subscription.id) == []
    state = current(engine, subscription.id)
    assert (state.attempts, state.last_error, state.failing_since_us) == (0, None, None)

    failed = [r for r in receiver.requests if r.status == 500]
    assert failed[-1].at_us < start + 600_000_000 <= told_to_wait[0]
    gaps_s = [(b.at_us - a.at_us) / 1e6 for a, b in itertools.pairwise(failed)]
    for attempt, gap_s in enumerate(gaps_s, start=1):
        full_s = min(600.0, 2.0 ** (attempt - 1))
        assert full_s / 2 <= gap_s <= full_s, (attempt, gaps_s)  # back-off with jitter
    assert any(gap_s < min(600.0, 2.0 ** (i - 1)) * 0.95 for i, gap_s in enumerate(gaps_s, 1))
    after_429 = next(r for r in receiver.requests if r.at_us > told_to_wait[0])
    assert after_429.at_us - told_to_wait[0] >= 30_000_000  # never before Retry-After
    first_batch = [r for r in receiver.requests if r.change_ids == ids[:2]]
    assert len(first_batch) == len(failed) + 2  # the 500s, the 429, then the 200
    assert len({r.headers["x-c360-delivery"] for r in first_batch}) == 1


def test_a_receiver_refusing_with_400_gets_each_batch_once_and_it_is_dead_lettered(
    engine: Engine, receiver: Receiver, make_deliverer: Callable[..., Deliverer]
) -> None:
    subscription, _ = subscribe(engine, receiver.url)
    ids = add_changes(engine, [T, M, T])
    receiver.answer = lambda: (400, {})
    deliverer = make_deliverer(batch_size=2)

    assert deliverer.run_once() == 0
    assert deliverer.run_once() == 0
    assert deliverer.run_once() == 0

    assert [r.change_ids for r in receiver.requests] == [ids[:2], ids[2:]]  # no retry
    with engine.connect() as conn:
        letters = dead_letters(conn, subscription.id)
    assert [(d.change_id, d.attempts, d.last_error) for d in letters] == [
        (i, 1, "HTTP 400: the receiver refused the changes") for i in ids
    ]
    state = current(engine, subscription.id)
    assert (state.cursor, state.attempts, state.next_attempt_us) == (ids[-1], 0, None)


def test_a_receiver_failing_past_the_retry_window_is_dead_lettered_when_it_ends_not_before(
    engine: Engine, receiver: Receiver, make_deliverer: Callable[..., Deliverer]
) -> None:
    subscription, _ = subscribe(engine, receiver.url)
    ids = add_changes(engine, [T, M])
    clock = FakeClock()
    receiver.clock = clock
    receiver.answer = lambda: (500, {})
    # Deliverer's own defaults: a 4 h window, 1 s doubling up to 10 min.
    deliverer = Deliverer(
        engine, allowed_hosts=receiver.host_port, clock=clock, rng=random.Random(3)
    )
    window_us = 4 * 3600 * 1_000_000

    with deliverer:
        for _ in range(100):
            deliverer.run_once()
            state = current(engine, subscription.id)
            if state.next_attempt_us is None:
                break
            with engine.connect() as conn:
                assert dead_letters(conn, subscription.id) == []  # not before the window ends
            assert state.failing_since_us == receiver.requests[0].at_us
            clock.move_to(state.next_attempt_us)

    first, last = receiver.requests[0].at_us, receiver.requests[-1].at_us
    assert last - first == window_us
    assert receiver.requests[-2].at_us - first < window_us
    assert 30 < len(receiver.requests) < 60
    with engine.connect() as conn:
        letters = dead_letters(conn, subscription.id)
    reason = "HTTP 500; still failing after 4 h (the retry window is 4 h)"
    assert [(d.change_id, d.last_error, d.at_us) for d in letters] == [
        (i, reason, last) for i in ids
    ]
    assert {d.attempts for d in letters} == {len(receiver.requests)}
    state = current(engine, subscription.id)
    assert (state.cursor, state.last_error, state.failing_since_us) == (ids[-1], reason, None)


def test_a_removed_subscription_gets_nothing_and_stays_listed_as_history(
    engine: Engine, receiver: Receiver, make_deliverer: Callable[..., Deliverer]
) -> None:
    kept, _ = subscribe(engine, receiver.url + "?kept")
    removed, _ = subscribe(engine, receiver.url + "?removed")
    with engine.begin() as conn:
        assert remove_subscription(conn, removed.id).disabled_at_us is not None
    ids = add_changes(engine, [T, M])

    assert drain(make_deliverer()) == 1

    assert [r.change_ids for r in receiver.requests] == [ids]
    assert json.loads(receiver.requests[0].body)["subscription_id"] == kept.id
    with engine.begin() as conn:
        assert [s.id for s in list_subscriptions(conn)] == [kept.id]
        assert [s.id for s in list_subscriptions(conn, include_removed=True)] == [
            kept.id,
            removed.id,
        ]
        assert get_subscription(conn, removed.id).cursor == removed.cursor
        with pytest.raises(InvalidInput, match="removed"):
            redeliver_dead_letters(conn, removed.id)
        with pytest.raises(NotFound, match="subscription 999"):
            remove_subscription(conn, 999)


def test_a_bad_url_or_kind_is_refused_saying_which(engine: Engine) -> None:
    cases = [
        ("https://example.com/hook", ["trait_changed", "trait_change"], "'trait_change'"),
        ("ftp://example.com/hook", [], "http:// or https://"),
        ("https:///hook", [], "http:// or https://"),
        ("https://user:pw@example.com/hook", [], "user and password"),
        ("https://example.com:99999/hook", [], "port"),
        ("https://example.com/a hook", [], "spaces"),
    ]
    for url, kinds, message in cases:
        with engine.begin() as conn, pytest.raises(InvalidInput, match=message):
            add_subscription(conn, url, kinds)
    with engine.connect() as conn:
        assert list_subscriptions(conn, include_removed=True) == []


def test_no_database_connection_is_held_while_a_request_is_in_flight(
    engine: Engine, receiver: Receiver, make_deliverer: Callable[..., Deliverer]
) -> None:
    subscribe(engine, receiver.url)
    add_changes(engine, [T])
    held: list[int] = []
    receiver.on_request = lambda: held.append(engine.pool.checkedout())  # type: ignore[attr-defined]

    assert make_deliverer().run_once() == 1

    assert held == [0]


def test_two_deliverers_never_send_to_one_subscription_at_once(
    engine: Engine, receiver: Receiver, make_deliverer: Callable[..., Deliverer]
) -> None:
    subscription, _ = subscribe(engine, receiver.url)
    ids = add_changes(engine, [T, M, T])
    receiver.delay_s = 0.3
    deliverers = [make_deliverer(), make_deliverer()]
    start = threading.Barrier(2)
    results: list[int] = []

    def run(deliverer: Deliverer) -> None:
        start.wait()
        results.append(deliverer.run_once())

    threads = [threading.Thread(target=run, args=(d,)) for d in deliverers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(results) == [0, 1]
    assert receiver.max_in_flight == 1
    assert receiver.accepted() == ids
    assert current(engine, subscription.id).cursor == ids[-1]


def test_an_answer_after_the_lease_ended_is_not_recorded_over_the_new_claim(
    engine: Engine, receiver: Receiver, make_deliverer: Callable[..., Deliverer]
) -> None:
    subscription, _ = subscribe(engine, receiver.url)
    ids = add_changes(engine, [T, M])
    receiver.delay_s = 0.4
    slow = make_deliverer(lease_s=0.05)  # the lease ends while its request is in flight
    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(slow.run_once()))
    first.start()
    time.sleep(0.15)

    assert make_deliverer().run_once() == 1
    first.join(30)

    # At least once: the batch went twice, and the cursor moved once, past it.
    assert results == [1]
    assert receiver.accepted() == ids + ids
    state = current(engine, subscription.id)
    assert (state.cursor, state.attempts, state.next_attempt_us) == (ids[-1], 0, None)


def test_the_delivery_thread_delivers_in_the_background_until_stopped(
    engine: Engine, receiver: Receiver
) -> None:
    subscribe(engine, receiver.url)
    thread = DeliveryThread(engine, poll_s=0.05, allowed_hosts=receiver.host_port).start()
    try:
        ids = add_changes(engine, [T, M])
        thread.notify()
        deadline = time.monotonic() + 10
        while receiver.accepted() != ids and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        thread.stop(10)
    assert receiver.accepted() == ids
    assert thread.errors == 0
    late = add_changes(engine, [T])
    time.sleep(0.2)
    assert late[0] not in receiver.accepted()


PUBLIC_ADDRESS = "93.184.215.14"

INTERNAL_TARGETS = {
    "127.0.0.1": "127.0.0.1 is a loopback address",
    "localhost": "localhost is a loopback or cloud metadata name",
    "[::1]": "::1 is a loopback address",
    "0.0.0.0": "0.0.0.0 is an unspecified address",
    "10.0.0.1": "10.0.0.1 is a private address",
    "172.16.0.1": "172.16.0.1 is a private address",
    "192.168.0.1": "192.168.0.1 is a private address",
    "169.254.169.254": "169.254.169.254 is a cloud metadata address",
    "metadata.google.internal": "metadata.google.internal is a loopback or cloud metadata name",
    "100.100.100.200": "100.100.100.200 is a cloud metadata address",
    "[::ffff:169.254.169.254]": "::ffff:169.254.169.254 is a cloud metadata address "
    "(169.254.169.254 inside IPv6)",
    "2130706433": "2130706433 is 127.0.0.1, a loopback address",
    "0177.0.0.1": "0177.0.0.1 is 127.0.0.1, a loopback address",
    "0x7f000001": "0x7f000001 is 127.0.0.1, a loopback address",
    "100.64.0.1": "100.64.0.1 is a shared (carrier-grade NAT) address",
    "loopback.test": "loopback.test resolves to 127.0.0.1, a loopback address",
    "private.test": "private.test resolves to 10.1.2.3, a private address",
    "mixed.test": "mixed.test resolves to 127.0.0.1, a loopback address",
}
"""Webhook hosts c360 must never send to, and the reason it gives (S7)."""


class StubResolver:
    """``socket.getaddrinfo`` for made-up names: each lookup takes the next answer, the last
    one repeats; every other host goes to the system resolver."""

    def __init__(self, system: Callable[..., Any]) -> None:
        self.system = system
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def add(self, name: str, *answers: list[str]) -> None:
        self.answers[name] = list(answers)

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:
            return self.system(host, port, *args, **kwargs)
        self.lookups.append(name)
        answers = self.answers[name]
        addresses = answers.pop(0) if len(answers) > 1 else answers[0]
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, int(port or 0), 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, int(port or 0)))
            for a in addresses
        ]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> StubResolver:
    stub = StubResolver(socket.getaddrinfo)
    stub.add("loopback.test", ["127.0.0.1"])
    stub.add("private.test", ["10.1.2.3"])
    stub.add("mixed.test", [PUBLIC_ADDRESS, "127.0.0.1"])
    monkeypatch.setattr(socket, "getaddrinfo", stub)
    return stub


_recording: list[list[Any]] = []


def _record_connects(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect" and _recording:
        _recording[-1].append(args[1])


@pytest.fixture(scope="session")
def _connect_hook() -> None:
    sys.addaudithook(_record_connects)  # hooks cannot be removed: added once, idle when unused


@pytest.fixture
def connects(_connect_hook: None) -> Iterator[list[Any]]:
    """The address of every ``socket.connect`` made while the test runs (an audit hook)."""
    made: list[Any] = []
    _recording.append(made)
    try:
        yield made
    finally:
        _recording.remove(made)


def reasons(engine: Engine, subscription_id: int) -> list[tuple[int, int, str]]:
    """(change id, attempts, reason) of the subscription's dead letters."""
    with engine.connect() as conn:
        return [
            (d.change_id, d.attempts, d.last_error) for d in dead_letters(conn, subscription_id)
        ]


def test_internal_targets_are_refused_when_a_subscription_is_saved(
    engine: Engine, canary: Receiver, resolver: StubResolver
) -> None:
    for host, reason in INTERNAL_TARGETS.items():
        for scheme in ("http", "https"):
            url = f"{scheme}://{host}:{canary.port}/hook"
            with engine.begin() as conn, pytest.raises(InvalidInput) as refused:
                add_subscription(conn, url, [])
            message = str(refused.value)
            assert f"{url!r}: {reason}; webhooks go to public addresses only" in message
            assert "C360_WEBHOOK_ALLOWED_HOSTS" in message

    with engine.connect() as conn:
        assert list_subscriptions(conn, include_removed=True) == []
    assert canary.requests == []


def test_internal_targets_written_past_the_checks_are_blocked_at_send(
    engine: Engine, canary: Receiver, resolver: StubResolver, connects: list[Any]
) -> None:
    saved = {
        host: insert_subscription(engine, f"http://{host}:{canary.port}/hook")
        for host in INTERNAL_TARGETS
    }
    [change] = add_changes(engine, [T])

    with Deliverer(engine, timeout_s=2.0) as deliverer:
        assert deliverer.run_once() == 0

    assert canary.requests == []
    assert connects == []
    for host, subscription_id in saved.items():
        assert reasons(engine, subscription_id) == [
            (change, 1, f"blocked: {INTERNAL_TARGETS[host]}")
        ]


def test_a_name_that_rebinds_to_loopback_after_it_is_saved_is_blocked_at_send(
    engine: Engine, canary: Receiver, resolver: StubResolver, connects: list[Any]
) -> None:
    resolver.add("rebind.test", [PUBLIC_ADDRESS], ["127.0.0.1"])
    subscription, _ = subscribe(engine, f"http://rebind.test:{canary.port}/hook", allowed_hosts="")
    [change] = add_changes(engine, [T])

    with Deliverer(engine, timeout_s=2.0) as deliverer:
        assert deliverer.run_once() == 0

    assert resolver.lookups == ["rebind.test", "rebind.test"]  # at save, then at send
    assert canary.requests == []
    assert connects == []
    assert reasons(engine, subscription.id) == [
        (change, 1, "blocked: rebind.test resolves to 127.0.0.1, a loopback address")
    ]


def test_a_redirect_to_an_internal_address_is_not_followed(
    engine: Engine,
    receiver: Receiver,
    canary: Receiver,
    make_deliverer: Callable[..., Deliverer],
    connects: list[Any],
) -> None:
    subscription, _ = subscribe(engine, receiver.url)
    add_changes(engine, [T])
    receiver.answer = lambda: (302, {"Location": canary.url})

    assert make_deliverer().run_once() == 0

    assert canary.requests == []
    assert {address[1] for address in connects} == {receiver.port}
    state = current(engine, subscription.id)
    assert state.last_error == "HTTP 302 (redirects are not followed)"
    assert state.next_attempt_us is not None  # retried, to the same URL


def test_only_the_internal_hosts_an_operator_lists_are_allowed(
    engine: Engine,
    receiver: Receiver,
    canary: Receiver,
    resolver: StubResolver,
    connects: list[Any],
) -> None:
    allowed = f"{receiver.host_port},hooks.internal"
    resolver.add("hooks.internal", ["127.0.0.1"])
    by_address, _ = subscribe(engine, receiver.url, allowed_hosts=allowed)
    named_url = f"http://hooks.internal:{receiver.port}/named"
    by_name, _ = subscribe(engine, named_url, allowed_hosts=allowed)
    refused = {
        canary.url: "127.0.0.1 is a loopback address",  # the same host on another port
        f"http://localhost:{receiver.port}/hook": "localhost is a loopback",
        f"http://10.0.0.1:{receiver.port}/hook": "10.0.0.1 is a private address",
        f"http://loopback.test:{receiver.port}/hook": "loopback.test resolves to 127.0.0.1",
    }
    for url, reason in refused.items():
        with engine.begin() as conn, pytest.raises(InvalidInput, match=re.escape(reason)):
            add_subscription(conn, url, [], allowed_hosts=allowed)
    past_checks = insert_subscription(engine, canary.url)
    resolver.lookups.clear()
    [change] = add_changes(engine, [T])

    with Deliverer(engine, allowed_hosts=allowed) as deliverer:
        assert deliverer.run_once() == 2

    assert canary.requests == []
    assert {address[1] for address in connects} == {receiver.port}
    assert sorted(r.headers["host"] for r in receiver.requests) == sorted(
        [receiver.host_port, f"hooks.internal:{receiver.port}"]
    )
    assert resolver.lookups == ["hooks.internal"]  # once: the request goes to that address
    assert reasons(engine, past_checks) == [(change, 1, "blocked: 127.0.0.1 is a loopback address")]

    # Without the opt-in the same receivers are blocked at send too.
    [later] = add_changes(engine, [M])
    with Deliverer(engine) as deliverer:
        assert deliverer.run_once() == 0
    assert len(receiver.requests) == 2
    assert reasons(engine, by_address.id) == [
        (later, 1, "blocked: 127.0.0.1 is a loopback address")
    ]
    assert reasons(engine, by_name.id) == [
        (later, 1, "blocked: hooks.internal resolves to 127.0.0.1, a loopback address")
    ]


def c360(database_url: str, *args: str, **env: str) -> CommandResult:
    """``c360 subscriptions ARGS``, in this process (tests/cli.py), tables 250 columns wide."""
    return run_c360(
        "subscriptions",
        *args,
        env={"C360_DATABASE_URL": database_url, "COLUMNS": "250", **env},
    )


@pytest.fixture
def tls_receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """A receiver on loopback serving HTTPS as ``hooks.test`` (a self-signed certificate the
    deliverer trusts through ``SSL_CERT_FILE``); it records the TLS server names asked for."""
    pytest.importorskip("cryptography", reason="cryptography makes the test certificate")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = Receiver()
    server.server_names = []
    context.sni_callback = lambda _socket, server_name, _context: server.server_names.append(
        server_name
    )
    server.tls = context
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_https_goes_to_the_checked_address_with_the_name_for_tls_and_the_host_header(
    engine: Engine, tls_receiver: Receiver, resolver: StubResolver, connects: list[Any]
) -> None:
    # At save, at send, then nowhere: a lookup by the HTTP client would miss the receiver.
    resolver.add("hooks.test", ["127.0.0.1"], ["127.0.0.1"], ["127.0.0.2"])
    url = f"https://hooks.test:{tls_receiver.port}/hook"
    subscription, _ = subscribe(engine, url, allowed_hosts="hooks.test")
    ids = add_changes(engine, [T])
    resolver.lookups.clear()

    with Deliverer(engine, allowed_hosts="hooks.test") as deliverer:
        assert deliverer.run_once() == 1

    assert tls_receiver.accepted() == ids
    assert tls_receiver.requests[0].headers["host"] == f"hooks.test:{tls_receiver.port}"
    assert tls_receiver.server_names == ["hooks.test"]  # the certificate was checked for it
    assert resolver.lookups == ["hooks.test"]
    assert connects == [("127.0.0.1", tls_receiver.port)]
    assert current(engine, subscription.id).cursor == ids[-1]


def test_the_cli_adds_lists_delivers_to_and_removes_a_subscription(
    database_url: str, engine: Engine, receiver: Receiver
) -> None:
    allowed = {"C360_WEBHOOK_ALLOWED_HOSTS": receiver.host_port}
    added = c360(database_url, "add", receiver.url, "--events", "trait_changed,merged", **allowed)
    assert added.returncode == 0, added.stderr
    secret = added.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert "created subscription 1" in added.stderr
    assert "X-C360-Signature" in added.stderr

    internal = c360(database_url, "add", "http://169.254.169.254/latest/meta-data", **allowed)
    assert internal.returncode == 2
    assert "169.254.169.254 is a cloud metadata address" in internal.stderr
    assert "C360_WEBHOOK_ALLOWED_HOSTS" in internal.stderr

    ids = add_changes(engine, [T, C, M])
    # A retry window of 0 (a setting): the first failure dead-letters the batch.
    receiver.fail(1, status=500)
    delivered = c360(database_url, "deliver", "--once", C360_WEBHOOK_RETRY_WINDOW_S="0", **allowed)
    assert delivered.returncode == 0, delivered.stderr
    assert "delivered 0 batches" in delivered.stdout
    [request] = receiver.requests
    assert request.change_ids == [ids[0], ids[2]]
    assert verify_signature(
        secret,
        request.headers["x-c360-timestamp"],
        request.body,
        request.headers["x-c360-signature"],
    )
    letters = c360(database_url, "dead-letters", "1")
    assert letters.returncode == 0, letters.stderr
    assert "HTTP 500; still failing after" in letters.stdout
    assert str(ids[2]) in letters.stdout

    removed = c360(database_url, "remove", "1")
    assert removed.returncode == 0, removed.stderr
    history = c360(database_url, "list", "--all")
    assert history.returncode == 0, history.stderr
    row = next(line for line in history.stdout.splitlines() if receiver.url in line)
    assert "trait_changed, merged" in row
    assert secret not in history.stdout
    assert re.search(r"\d{4}-\d\d-\d\dT[\d:.]+Z", row), row  # the time it was removed
