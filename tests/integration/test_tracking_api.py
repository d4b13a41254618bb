"""The tracking API over HTTP, against the real app on SQLite and PostgreSQL.

Most tests build the app in-process (``build_app``) and drive it with Starlette's test client,
so the lifespan (group-commit writer, worker) runs as in ``c360 serve``. Body-size and gzip-bomb
tests (A2, A3) need a real socket and a separate process to measure: they use ``c360 serve``.
"""

from __future__ import annotations

import base64
import gzip
import re
import socket
import struct
import threading
import time
import uuid
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import pytest
from sqlalchemy import Engine, create_engine, func, inspect, select, text
from tests import factories
from tests.conftest import (
    ADMIN_POSTGRES_URL,
    LiveServer,
    drop_postgres_database,
    fresh_database,
    new_postgres_database,
    start_server,
)

from c360.api import build_app
from c360.eventlog.service import set_rate_limit
from c360.kernel.clock import system_clock
from c360.privacy.keys import Role, create_key, revoke_key
from c360.settings import Settings
from c360.storage import open_store
from c360.storage.tables import event_log, sources

with warnings.catch_warnings():
    # Starlette asks for the httpx2 package; the installed httpx works the same for these tests.
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

DAY_US = 86_400 * 1_000_000
SINGLE_ENDPOINTS = ["identify", "track", "page", "screen", "group", "alias"]


# --- an in-process server -----------------------------------------------------------------------


class FakeClock:
    """Real time shifted by an offset the test moves forward (the server's receivedAt)."""

    def __init__(self) -> None:
        self.offset_us = 0

    def __call__(self) -> int:
        return system_clock() + self.offset_us

    def advance(self, *, days: float) -> None:
        self.offset_us += int(days * DAY_US)


@dataclass
class Api:
    client: TestClient
    engine: Engine
    source: str
    write_key: str
    admin_key: str
    read_key: str
    writer_key_id: int
    clock: FakeClock

    def send(
        self,
        body: Any = None,
        path: str = "/v1/batch",
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        key: str | None = None,
        authenticate: bool = True,
    ) -> httpx.Response:
        """POST to the tracking API, with the write key as the Basic user name by default."""
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if authenticate:
            all_headers.setdefault("Authorization", basic(key or self.write_key))
        data = content if content is not None else orjson.dumps(body)
        return self.client.post(path, content=data, headers=all_headers)

    def get(self, path: str, key: str | None = None) -> httpx.Response:
        return self.client.get(path, headers={"Authorization": f"Bearer {key or self.admin_key}"})

    def stored(self, message_id: str | None = None, source: str | None = None) -> int:
        """How many log rows the source (this test's by default) holds with this message id."""
        source = source or self.source
        query = (
            select(func.count())
            .select_from(event_log.join(sources, sources.c.id == event_log.c.source_id))
            .where(sources.c.name == source)
        )
        if message_id is not None:
            query = query.where(event_log.c.message_id == message_id)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def quarantined(self) -> list[dict[str, Any]]:
        response = self.get(f"/api/sources/{self.source}/rejects")
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["rejects"]
        return found

    def add_writer(self, source: str) -> str:
        with self.engine.begin() as conn:
            _, secret = create_key(conn, name=f"{source} writer", role=Role.WRITER, source=source)
        return secret


def basic(user: str, password: str | None = "") -> str:
    """HTTP Basic with ``user`` as user name; ``password=None`` leaves out the colon."""
    raw = user if password is None else f"{user}:{password}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


@contextmanager
def serve(
    database_url: str,
    *,
    before_start: Callable[[Engine, str], None] | None = None,
    **settings: Any,
) -> Iterator[Api]:
    """The whole c360 app on ``database_url`` with a writer key for a new source of its own
    (so tests sharing a store never see each other's messages), an admin and a read key."""
    engine = open_store(database_url)
    source = f"web-{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        writer, write_key = create_key(conn, name="writer", role=Role.WRITER, source=source)
        _, admin_key = create_key(conn, name="admin", role=Role.ADMIN, source=None)
        _, read_key = create_key(conn, name="reader", role=Role.READ, source=None)
    if before_start is not None:
        before_start(engine, source)
    engine.dispose()  # sessions opened from here on see any setting changed by before_start
    clock = FakeClock()
    app = build_app(Settings(database_url=database_url, **settings), engine, clock=clock)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Api(client, engine, source, write_key, admin_key, read_key, writer.id, clock)
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One store per module and engine: a fresh PostgreSQL database costs about a second, and
    every test works in a source of its own (see ``serve``)."""
    with fresh_database(request.param, tmp_path_factory.mktemp("store")) as url:
        yield url


@dataclass
class Running:
    """One app per module and store, serving every test that needs no settings of its own."""

    client: TestClient
    engine: Engine
    clock: FakeClock


@pytest.fixture(scope="module")
def running_app(store_url: str) -> Iterator[Running]:
    """Building and starting the app costs about half a second, which most tests here need not
    pay: each gets a source and keys of its own in this one app (see ``api``), as in ``serve``."""
    engine = open_store(store_url)
    clock = FakeClock()
    app = build_app(Settings(database_url=store_url), engine, clock=clock)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Running(client, engine, clock)
    finally:
        engine.dispose()


@pytest.fixture
def api(running_app: Running) -> Iterator[Api]:
    """The shared app with a writer key for a new source of this test's own, an admin and a
    read key, and the clock back at real time."""
    engine = running_app.engine
    running_app.clock.offset_us = 0
    source = f"web-{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        writer, write_key = create_key(conn, name="writer", role=Role.WRITER, source=source)
        _, admin_key = create_key(conn, name="admin", role=Role.ADMIN, source=None)
        _, read_key = create_key(conn, name="reader", role=Role.READ, source=None)
    yield Api(
        running_app.client,
        engine,
        source,
        write_key,
        admin_key,
        read_key,
        writer.id,
        running_app.clock,
    )
    running_app.clock.offset_us = 0


def assert_success(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}


def assert_refused(response: httpx.Response, status: int, code: str | None = None) -> None:
    """A refusal: the status, and a JSON body with a string ``code`` and ``message``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body.get("code"), str) and body["code"], body
    assert isinstance(body.get("message"), str) and body["message"], body
    if code is not None:
        assert body["code"] == code, body


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> float:
    """Seconds until ``predicate`` held; fails after ``timeout_s``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"condition not met within {timeout_s}s")
        time.sleep(0.02)
    return time.monotonic() - started


# --- answers ----------------------------------------------------------------------------------


def test_batch_is_answered_exactly_200_success_true_and_stored(api: Api) -> None:
    messages = [factories.identify(), factories.track()]
    response = api.send({"batch": messages})
    assert_success(response)
    for message in messages:
        assert api.stored(message["messageId"]) == 1


def test_import_endpoint_takes_a_batch(api: Api) -> None:
    message = factories.track()
    assert_success(api.send({"batch": [message]}, "/v1/import"))
    assert api.stored(message["messageId"]) == 1


@pytest.mark.parametrize("kind", SINGLE_ENDPOINTS)
def test_single_endpoint_answers_200_success_true_and_stores_the_message(
    api: Api, kind: str
) -> None:
    message: dict[str, Any] = {
        "messageId": factories.message_id(),
        "userId": "u-1",
        "event": "Order Completed",
        "groupId": "g-1",
        "previousId": "anon-1",
        "traits": {"name": "Trần Thị Bích"},
    }
    assert_success(api.send(message, f"/v1/{kind}"))
    with api.engine.connect() as conn:
        kinds = (
            conn.execute(
                select(event_log.c.type).where(event_log.c.message_id == message["messageId"])
            )
            .scalars()
            .all()
        )
    assert kinds == [kind]


def test_invalid_json_is_refused_with_400(api: Api) -> None:
    assert_refused(api.send(content=b'{"batch": [{"type": "track",'), 400, "invalid_json")


@pytest.mark.parametrize(
    "content",
    [b"[]", b'"text"', b"42", b"null", b"{}", b'{"batch": {"a": 1}}', b""],
    ids=["array", "string", "number", "null", "no-batch", "batch-object", "empty"],
)
def test_body_that_is_not_a_batch_object_is_refused_with_400(api: Api, content: bytes) -> None:
    assert_refused(api.send(content=content), 400)


@pytest.mark.parametrize("content", [b"[]", b'"text"', b"{"], ids=["array", "string", "truncated"])
def test_single_endpoint_body_that_is_not_an_object_is_refused_with_400(
    api: Api, content: bytes
) -> None:
    assert_refused(api.send(content=content, path="/v1/track"), 400)


def test_unknown_tracking_path_and_wrong_method_answer_json(api: Api) -> None:
    assert_refused(api.send({"batch": []}, "/v1/purchase"), 404)
    assert_refused(api.client.get("/v1/batch"), 405)


def test_ten_thousand_levels_of_nesting_is_refused_with_400(api: Api) -> None:
    nested = b'{"batch":[{"type":"track","userId":"u","event":"e","properties":{"a":'
    body = nested + b"[" * 10_000 + b"]" * 10_000 + b"}}]}"
    assert_refused(api.send(content=body), 400, "invalid_json")


def test_hostile_unterminated_string_is_refused_quickly_even_without_a_key(api: Api) -> None:
    # 16 kB of escaped quotes in a string that never ends: each could start a string that runs
    # to the end of the body. Bodies are decoded before the key is checked.
    body = b'{"type":"track","userId":"u","event":"e","properties":{"v":"' + b'\\"' * 8_000
    started = time.monotonic()
    response = api.send(content=body, path="/v1/track", authenticate=False)
    took_s = time.monotonic() - started
    assert response.status_code in {400, 401}, response.text
    assert took_s < 0.5, f"answered after {took_s:.2f}s"


def test_million_element_array_is_refused_or_quarantined_quickly(api: Api) -> None:
    huge = factories.track(properties={"items": [0] * 1_000_000})  # 2 MB: over the body cap
    started = time.monotonic()
    assert_refused(api.send({"batch": [huge]}), 413, "payload_too_large")
    big = factories.track(properties={"items": [0] * 100_000})  # 200 kB: over the item cap
    assert_success(api.send({"batch": [big]}))
    assert time.monotonic() - started < 1.0
    assert api.stored(big["messageId"]) == 0
    assert [q["reason"] for q in api.quarantined()] == ["message_too_large"]


# --- authentication -----------------------------------------------------------------------------


def _auth_variants(api: Api) -> dict[str, tuple[str, dict[str, str], dict[str, Any]]]:
    """name -> (path, headers, extra body fields)."""
    key = api.write_key
    return {
        "basic-with-colon": ("/v1/batch", {"Authorization": basic(key, "")}, {}),
        "basic-without-colon": ("/v1/batch", {"Authorization": basic(key, None)}, {}),
        "basic-single": ("/v1/track", {"Authorization": basic(key, "")}, {}),
        "body-batch": ("/v1/batch", {}, {"writeKey": key}),
        "body-single": ("/v1/track", {}, {"writeKey": key}),
        "bearer-junk-plus-body": (
            "/v1/batch",
            {"Authorization": "Bearer not-a-key-at-all"},
            {"writeKey": key},
        ),
        "bearer-junk-plus-body-single": (
            "/v1/identify",
            {"Authorization": "Bearer x"},
            {"writeKey": key},
        ),
        "x-write-key": ("/v1/batch", {"X-Write-Key": key}, {}),
        "x-write-key-single": ("/v1/page", {"X-Write-Key": key}, {}),
    }


@pytest.mark.parametrize(
    "variant",
    [
        "basic-with-colon",
        "basic-without-colon",
        "basic-single",
        "body-batch",
        "body-single",
        "bearer-junk-plus-body",
        "bearer-junk-plus-body-single",
        "x-write-key",
        "x-write-key-single",
    ],
)
def test_write_key_is_accepted_in_every_supported_place(api: Api, variant: str) -> None:
    path, headers, extra = _auth_variants(api)[variant]
    message = factories.track()
    body = {"batch": [message], **extra} if path == "/v1/batch" else {**message, **extra}
    response = api.send(body, path, headers=headers, authenticate=False)
    assert_success(response)
    assert api.stored(message["messageId"]) == 1


def test_missing_write_key_is_refused_with_401(api: Api) -> None:
    message = factories.track()
    assert_refused(api.send({"batch": [message]}, authenticate=False), 401, "missing_write_key")
    assert_refused(api.send(message, "/v1/track", authenticate=False), 401)
    assert api.stored(message["messageId"]) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": basic("wk_" + "x" * 43)},
        {"Authorization": "Basic !!!not-base64!!!"},
        {"Authorization": basic("")},
        {"X-Write-Key": "wk_nonsense"},
        {"Authorization": "Bearer wk_nonsense"},
    ],
    ids=["unknown-basic", "bad-base64", "empty-user", "unknown-header", "unknown-bearer"],
)
def test_unknown_write_key_is_refused_with_401(api: Api, headers: dict[str, str]) -> None:
    message = factories.track()
    response = api.send({"batch": [message]}, headers=headers, authenticate=False)
    assert_refused(response, 401)
    assert api.stored(message["messageId"]) == 0


def test_unknown_body_write_key_is_refused_with_401(api: Api) -> None:
    message = factories.track()
    response = api.send({"batch": [message], "writeKey": "wk_nope"}, authenticate=False)
    assert_refused(response, 401, "invalid_write_key")


@pytest.mark.parametrize("role", ["admin", "read"])
def test_admin_and_read_keys_cannot_send_to_v1(api: Api, role: str) -> None:
    key = api.admin_key if role == "admin" else api.read_key
    message = factories.track()
    for headers, extra in [
        ({"Authorization": basic(key)}, {}),
        ({"Authorization": f"Bearer {key}"}, {}),
        ({"X-Write-Key": key}, {}),
        ({}, {"writeKey": key}),
    ]:
        response = api.send({"batch": [message], **extra}, headers=headers, authenticate=False)
        assert_refused(response, 401, "invalid_write_key")
    assert api.stored(message["messageId"]) == 0


def test_revoked_write_key_is_refused_within_the_key_cache_ttl(api: Api) -> None:
    ttl_s = Settings().key_cache_ttl_s
    assert_success(api.send({"batch": [factories.track()]}))  # the key is now cached
    with api.engine.begin() as conn:
        revoke_key(conn, api.writer_key_id)
    revoked_at = time.monotonic()

    def refused() -> bool:
        return api.send({"batch": [factories.track()]}).status_code == 401

    wait_until(refused, timeout_s=ttl_s + 3)
    took_s = time.monotonic() - revoked_at
    assert took_s <= min(5.0, ttl_s + 1.0), f"revocation took {took_s:.2f}s; TTL is {ttl_s}s"
    assert_refused(api.send({"batch": [factories.track()]}), 401, "invalid_write_key")


def test_key_sent_to_the_wrong_place_is_not_looked_up_as_a_write_key(api: Api) -> None:
    # The password half of Basic auth is not a write key.
    response = api.send(
        {"batch": [factories.track()]},
        headers={"Authorization": basic("someone", api.write_key)},
        authenticate=False,
    )
    assert_refused(response, 401, "invalid_write_key")


# --- S1: a write key cannot read ------------------------------------------------------------------

_PATH_VALUES = {"type": "email", "value": "somchai@example.co.th", "message_id": "m-1"}


def _management_operations(api: Api) -> list[tuple[str, str]]:
    paths = api.client.get("/openapi.json").json()["paths"]
    operations = []
    for path, item in paths.items():
        if not path.startswith("/api/"):
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: _PATH_VALUES.get(m.group(1), "web"), path)
        operations += [(method.upper(), url) for method in item if method != "parameters"]
    return operations


def test_write_key_is_forbidden_on_every_management_operation(api: Api) -> None:
    operations = _management_operations(api)
    assert len(operations) >= 6, operations
    for method, url in operations:
        response = api.client.request(
            method, url, headers={"Authorization": f"Bearer {api.write_key}"}
        )
        assert_refused(response, 403, "forbidden")
        basic_response = api.client.request(
            method, url, headers={"Authorization": basic(api.write_key)}
        )
        assert_refused(basic_response, 401)


def test_management_operations_refuse_missing_and_unknown_keys(api: Api) -> None:
    for method, url in _management_operations(api):
        assert_refused(api.client.request(method, url), 401)
        unknown = api.client.request(method, url, headers={"Authorization": "Bearer ak_nope"})
        assert_refused(unknown, 401)


# --- gzip and body size -------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_body_is_accepted(api: Api, encoding: str) -> None:
    messages = [factories.identify() for _ in range(20)]
    raw = orjson.dumps({"batch": messages})
    content = gzip.compress(raw) if encoding == "gzip" else zlib.compress(raw)
    assert_success(api.send(content=content, headers={"Content-Encoding": encoding}))
    assert all(api.stored(m["messageId"]) == 1 for m in messages)


def test_gzip_single_message_is_accepted(api: Api) -> None:
    message = factories.track()
    content = gzip.compress(orjson.dumps(message))
    assert_success(
        api.send(content=content, path="/v1/track", headers={"Content-Encoding": "gzip"})
    )
    assert api.stored(message["messageId"]) == 1


def test_truncated_gzip_is_refused_with_400(api: Api) -> None:
    messages = [factories.track() for _ in range(50)]
    content = gzip.compress(orjson.dumps({"batch": messages}))
    response = api.send(content=content[: len(content) // 2], headers={"Content-Encoding": "gzip"})
    assert_refused(response, 400, "invalid_encoding")
    assert all(api.stored(m["messageId"]) == 0 for m in messages)


def test_body_that_is_not_gzip_is_refused_with_400(api: Api) -> None:
    response = api.send({"batch": []}, headers={"Content-Encoding": "gzip"})
    assert_refused(response, 400, "invalid_encoding")


def test_unsupported_content_encoding_is_refused_with_415(api: Api) -> None:
    response = api.send({"batch": []}, headers={"Content-Encoding": "br"})
    assert_refused(response, 415, "unsupported_encoding")


def test_gzip_body_of_two_members_is_read_whole(api: Api) -> None:
    # RFC 1952: a gzip stream may hold several members; it inflates to their concatenation.
    first, second = factories.track(), factories.track()
    content = gzip.compress(b'{"batch":[' + orjson.dumps(first) + b",") + gzip.compress(
        orjson.dumps(second) + b"]}"
    )
    assert_success(api.send(content=content, headers={"Content-Encoding": "gzip"}))
    assert api.stored(first["messageId"]) == 1
    assert api.stored(second["messageId"]) == 1


def test_bytes_after_the_gzip_stream_are_refused(api: Api) -> None:
    message = factories.track()
    content = gzip.compress(orjson.dumps({"batch": [message]})) + b"trailing junk"
    assert_refused(api.send(content=content, headers={"Content-Encoding": "gzip"}), 400)
    assert api.stored(message["messageId"]) == 0


def test_ten_megabyte_body_is_refused_with_413_within_a_second(api: Api) -> None:
    body = b'{"batch":[' + b'{"type":"track"},' * (10 * 1024 * 1024 // 17) + b"{}]}"
    started = time.monotonic()
    response = api.send(content=body)
    took_s = time.monotonic() - started
    assert_refused(response, 413, "payload_too_large")
    assert took_s < 1.0, f"took {took_s:.2f}s"


def test_gzip_inflating_past_the_cap_is_refused_with_413(api: Api) -> None:
    # 130 kB of gzip inflating to 128 MiB: under the compressed cap, far over the inflated one.
    content = gzip_of_zeros(128 * 1024 * 1024)
    assert len(content) < 500 * 1024
    started = time.monotonic()
    response = api.send(content=content, headers={"Content-Encoding": "gzip"})
    assert_refused(response, 413, "payload_too_large")
    assert time.monotonic() - started < 1.0


def test_single_message_over_its_limit_is_refused_with_413(api: Api) -> None:
    message = factories.track(properties={"blob": "x" * 200_000})
    assert_refused(api.send(message, "/v1/track"), 413, "payload_too_large")


def test_message_over_32kb_in_a_batch_is_quarantined_not_refused(api: Api) -> None:
    big = factories.track(properties={"blob": "ก" * 20_000})
    small = factories.track()
    assert_success(api.send({"batch": [big, small]}))
    assert api.stored(small["messageId"]) == 1
    assert api.stored(big["messageId"]) == 0
    assert [r["reason"] for r in api.quarantined()] == ["message_too_large"]


def gzip_of_zeros(size: int) -> bytes:
    """A valid gzip member inflating to ``size`` zero bytes (``size`` a multiple of 16 MiB or
    smaller), built from one compressed segment repeated, so it takes milliseconds."""
    segment_size = min(size, 16 * 1024 * 1024)
    assert size % segment_size == 0
    zeros = bytes(segment_size)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, 9, zlib.Z_RLE)
    segment = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    tail = deflate.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(size // segment_size):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    return header + segment * (size // segment_size) + tail + trailer


def test_gzip_of_zeros_helper_builds_valid_gzip() -> None:
    assert gzip.decompress(gzip_of_zeros(32 * 1024 * 1024)) == bytes(32 * 1024 * 1024)
    assert gzip.decompress(gzip_of_zeros(1000)) == bytes(1000)


# --- A4: one bad item in a batch of 100 ----------------------------------------------------------

BAD_ITEMS = {
    "missing-ids": ({"type": "track", "event": "Viewed"}, "no_user_anon_id"),
    "event-not-a-string": ({"type": "track", "userId": "u", "event": {"a": 1}}, "invalid_event"),
    "301-properties": (
        {
            "type": "track",
            "userId": "u",
            "event": "e",
            "properties": {f"p{i}": i for i in range(301)},
        },
        "too_many_properties",
    ),
    "message-id-101-chars": (
        {"type": "track", "userId": "u", "event": "e", "messageId": "m" * 101},
        "invalid_message_id",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ITEMS))
def test_one_bad_item_in_a_batch_of_100_is_quarantined_and_99_are_stored(
    api: Api, case: str
) -> None:
    bad, reason = BAD_ITEMS[case]
    goods = [factories.track() for _ in range(99)]
    bad_bytes = orjson.dumps(bad)
    items = (
        [orjson.dumps(g) for g in goods[:50]] + [bad_bytes] + [orjson.dumps(g) for g in goods[50:]]
    )
    assert_success(api.send(content=b'{"batch":[' + b",".join(items) + b"]}"))
    assert api.stored() == 99
    assert all(api.stored(g["messageId"]) == 1 for g in goods)
    quarantined = api.quarantined()
    assert [q["reason"] for q in quarantined] == [reason]
    assert quarantined[0]["payload"].encode("utf-8") == bad_bytes
    assert quarantined[0]["detail"]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (
            b'{"type":"track","userId":"u","event":"e","properties":{"v":"\xff\xfe"}}',
            "invalid_utf8",
        ),
        (b'{"type":"track","userId":"u","event":"e","properties":{"v":"\\udc00"}}', "invalid_utf8"),
        (b'{"type":"track","userId":"u","event":"e","properties":{"v":NaN}}', "invalid_json"),
    ],
    ids=["invalid-utf8", "lone-surrogate", "nan"],
)
def test_undecodable_item_in_a_batch_of_100_is_quarantined_and_99_are_stored(
    api: Api, bad: bytes, reason: str
) -> None:
    goods = [factories.track() for _ in range(99)]
    items = [orjson.dumps(g) for g in goods[:10]] + [bad] + [orjson.dumps(g) for g in goods[10:]]
    assert_success(api.send(content=b'{"batch":[' + b",".join(items) + b"]}"))
    assert api.stored() == 99
    assert [q["reason"] for q in api.quarantined()] == [reason]


def test_quarantined_item_is_visible_by_its_message_id(api: Api) -> None:
    bad = {"type": "track", "userId": "u", "messageId": factories.message_id()}
    assert_success(api.send({"batch": [bad]}))
    response = api.get(f"/api/events/{bad['messageId']}")
    assert response.status_code == 200, response.text
    status = response.json()
    assert status["accepted"] is False
    assert status["records"] == []
    assert [q["reason"] for q in status["quarantined"]] == ["event_not_defined"]
    assert orjson.loads(status["quarantined"][0]["payload"]) == bad


def test_rejects_of_an_unknown_source_answer_404(api: Api) -> None:
    assert_refused(api.get("/api/sources/nowhere/rejects"), 404, "not_found")


# --- A5: hostile but valid text is stored byte for byte -------------------------------------------


def test_accepted_text_is_stored_byte_for_byte_on_the_store(database_url: str) -> None:
    # A store of its own: on PostgreSQL the NUL below stops the profile worker (see the next
    # test), which must not spill into tests sharing a store.
    texts = [
        "Nguy\u1ec5n Th\u1ecb B\u00edch",  # Vietnamese, NFC
        "Nguye\u0302\u0303n Thi\u0323 Bi\u0301ch",  # the same name, NFD
        "\u0e2a\u0e21\u0e28\u0e31\u0e01\u0e14\u0e34\u0e4c \u0e19\u0e49\u0e33",  # Thai
        "a\u200bb\u200dc\ufeffd",  # zero-width
        "\u202eexe.gnp",  # right-to-left override
        "nul\u0000byte",
    ]
    items = [
        orjson.dumps(factories.identify(traits={"name": t, t: t}, properties={"n": t}))
        for t in texts
    ]
    with serve(database_url) as api:
        assert_success(api.send(content=b'{"batch":[\n  ' + b" ,\n".join(items) + b"\n]}"))
        with api.engine.connect() as conn:
            stored = (
                conn.execute(
                    select(event_log.c.payload)
                    .join(sources, sources.c.id == event_log.c.source_id)
                    .where(sources.c.name == api.source)
                    .order_by(event_log.c.seq)
                )
                .scalars()
                .all()
            )
    assert [s.encode("utf-8") for s in stored] == items


@pytest.mark.parametrize(
    "overrides",
    [{"traits": {"name": "nul\u0000byte"}}, {"userId": "user\u0000nul"}],
    ids=["in-traits", "in-user-id"],
)
def test_nul_character_does_not_stop_later_messages_being_processed(
    database_url: str, overrides: dict[str, Any]
) -> None:
    # A store of its own: a stuck worker must not spill into tests sharing a store.
    with serve(database_url) as api:
        poison = factories.identify(**overrides)
        later = factories.identify()
        assert_success(api.send({"batch": [poison]}))
        assert_success(api.send({"batch": [later]}))

        def later_processed() -> bool:
            records = api.get(f"/api/events/{later['messageId']}").json()["records"]
            return bool(records[0]["processed"])

        wait_until(later_processed, timeout_s=5)
        profile = api.get(f"/api/profiles/by-identifier/user_id/{later['userId']}")
        assert profile.status_code == 200, profile.text


def test_message_id_with_nul_costs_only_its_item(api: Api) -> None:
    good = factories.track()
    odd = factories.track(messageId="id\u0000nul")
    response = api.send({"batch": [good, odd]})
    assert_success(response)
    assert api.stored(good["messageId"]) == 1


def test_a_request_the_store_refused_does_not_break_later_requests(api: Api) -> None:
    # Whatever the answer to the first request (stored, quarantined or refused), the next
    # well-formed requests on the same server must all be stored.
    api.send({"batch": [factories.track(messageId="id\u0000nul")]})
    answers = [api.send({"batch": [factories.track()]}) for _ in range(10)]
    assert [a.status_code for a in answers] == [200] * 10, [a.text for a in answers]
    assert api.stored() >= 10


# --- D5: duplicates -------------------------------------------------------------------------------


def test_same_message_id_sent_twice_is_stored_once(api: Api) -> None:
    message = factories.track()
    assert_success(api.send({"batch": [message]}))
    assert_success(api.send({"batch": [message]}))
    assert_success(api.send(message, "/v1/track"))
    assert api.stored(message["messageId"]) == 1


def test_same_message_id_twice_in_one_batch_is_stored_once(api: Api) -> None:
    message = factories.track()
    assert_success(api.send({"batch": [message, message]}))
    assert api.stored(message["messageId"]) == 1


def test_same_message_id_resent_after_eight_days_is_stored_once(api: Api) -> None:
    message = factories.track()
    assert_success(api.send({"batch": [message]}))

    def records() -> list[tuple[str, int, str]]:
        found = api.get(f"/api/events/{message['messageId']}").json()["records"]
        return [(r["source"], r["seq"], r["receivedAt"]) for r in found]

    first = records()
    api.clock.advance(days=8)
    assert_success(api.send({"batch": [message]}))
    assert api.stored(message["messageId"]) == 1
    assert records() == first


def test_same_message_id_from_two_sources_is_stored_for_each(api: Api) -> None:
    other = f"{api.source}-pos"
    other_key = api.add_writer(other)
    message = factories.identify()
    assert_success(api.send({"batch": [message]}))
    assert_success(api.send({"batch": [message]}, key=other_key))
    assert api.stored(message["messageId"]) == 1
    assert api.stored(message["messageId"], other) == 1
    records = api.get(f"/api/events/{message['messageId']}").json()["records"]
    assert sorted(r["source"] for r in records) == sorted([api.source, other])


def test_identical_message_without_id_retried_is_stored_once(api: Api) -> None:
    message = factories.track()
    del message["messageId"]
    assert_success(api.send({"batch": [message]}))
    assert_success(api.send({"batch": [message]}))
    assert api.stored() == 1


# --- message status, health ---------------------------------------------------------------------


def test_message_status_shows_accepted_then_processed(api: Api) -> None:
    message = factories.identify()
    assert_success(api.send({"batch": [message]}))

    def status() -> dict[str, Any]:
        response = api.get(f"/api/events/{message['messageId']}", key=api.read_key)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    first = status()
    assert first["messageId"] == message["messageId"]
    assert first["accepted"] is True
    assert first["quarantined"] == []
    assert [(r["source"], r["type"]) for r in first["records"]] == [(api.source, "identify")]
    wait_until(lambda: status()["records"][0]["processed"] is True)


def test_profile_events_stay_readable_when_a_corrected_time_falls_before_year_one(
    api: Api,
) -> None:
    # .NET's DateTime.MinValue as originalTimestamp, sent by a device whose clock runs an hour
    # ahead: receivedAt - (sentAt - originalTimestamp) lands an hour before 0001-01-01.
    person = factories.identify()
    ahead = datetime.now(UTC) + timedelta(hours=1)
    odd = factories.track(
        person["userId"], originalTimestamp="0001-01-01T00:00:00Z", sentAt=ahead.isoformat()
    )
    del odd["timestamp"]
    assert_success(api.send({"batch": [person, odd]}))

    def processed(message_id: str) -> bool:
        status = api.get(f"/api/events/{message_id}").json()
        return all(r["processed"] for r in status["records"])

    wait_until(lambda: processed(person["messageId"]) and processed(odd["messageId"]))
    profile = api.get(f"/api/profiles/by-identifier/user_id/{person['userId']}")
    assert profile.status_code == 200, profile.text
    events = api.get(f"/api/profiles/{profile.json()['id']}/events")
    assert events.status_code == 200, events.text


def test_unknown_message_status_answers_404(api: Api) -> None:
    assert_refused(api.get("/api/events/never-sent"), 404, "not_found")


def test_healthz_answers_ok(api: Api) -> None:
    response = api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_readyz_reports_a_ready_durable_store(api: Api, store_url: str) -> None:
    response = api.client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["store"] == "ok"
    assert body["unsafe_durability"] is False
    assert body["durability"]["ok"] is True
    assert body["durability"]["problems"] == []
    assert isinstance(body["worker_lag"], int)
    if store_url.startswith("sqlite"):
        assert body["durability"]["backend"] == "sqlite"
        assert body["durability"]["settings"]["journal_mode"] == "wal"
        assert body["durability"]["settings"]["synchronous"] in {"full", "extra"}
    else:
        assert body["durability"]["backend"] == "postgresql"
        settings = body["durability"]["settings"]
        assert settings["fsync"] == "on"
        assert settings["synchronous_commit"] != "off"
        assert settings["full_page_writes"] == "on"


# --- rate limits ----------------------------------------------------------------------------------


def test_source_over_its_rate_limit_gets_429_with_retry_after(store_url: str) -> None:
    def limit(engine: Engine, source: str) -> None:
        with engine.begin() as conn:
            set_rate_limit(conn, source, 1.0)

    with serve(store_url, before_start=limit) as api:
        other_key = api.add_writer(f"{api.source}-app")
        admitted = [factories.track() for _ in range(5)]
        assert_success(api.send({"batch": admitted}))
        refused = factories.track()
        response = api.send({"batch": [refused]})
        assert_refused(response, 429, "rate_limited")
        assert int(response.headers["Retry-After"]) >= 1
        assert api.stored(refused["messageId"]) == 0
        assert api.stored() == 5
        # Other sources have their own budget.
        assert_success(api.send({"batch": [factories.track()]}, key=other_key))


# --- D2: durability settings --------------------------------------------------------------------


@contextmanager
def postgres_with_synchronous_commit_off() -> Iterator[str]:
    url = new_postgres_database()
    try:
        admin = create_engine(ADMIN_POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            name = url.rsplit("/", 1)[1]
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        admin.dispose()
        yield url
    finally:
        drop_postgres_database(url)


def test_postgres_without_synchronous_commit_refuses_v1_and_readyz_says_why() -> None:
    with postgres_with_synchronous_commit_off() as url, serve(url) as api:
        message = factories.track()
        response = api.send({"batch": [message]})
        assert_refused(response, 503, "unsafe_durability")
        assert api.stored(message["messageId"]) == 0
        ready = api.client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "not_ready"
        assert body["unsafe_durability"] is False
        assert body["durability"]["ok"] is False
        assert body["durability"]["settings"]["synchronous_commit"] == "off"
        assert any("synchronous_commit" in p for p in body["durability"]["problems"])


def test_postgres_without_synchronous_commit_serves_with_unsafe_durability_visible() -> None:
    with postgres_with_synchronous_commit_off() as url, serve(url, unsafe_durability=True) as api:
        message = factories.track()
        assert_success(api.send({"batch": [message]}))
        assert api.stored(message["messageId"]) == 1
        body = api.client.get("/readyz").json()
        assert body["unsafe_durability"] is True
        assert body["durability"]["ok"] is False


# --- S2: no plaintext keys in the store -------------------------------------------------------


def _dump_store(engine: Engine) -> str:
    """Every value of every table, as text (binary values decoded both ways)."""
    parts: list[str] = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            # Table names come from the store's own catalogue, not from input.
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        raw = bytes(value)
                        parts += [raw.decode("latin-1"), raw.decode("utf-8", "replace")]
                    else:
                        parts.append(str(value))
    return "\n".join(parts)


def _secrets_found(dump: str, secrets: Iterable[str]) -> list[str]:
    # The stored key prefix (first 10 characters) is shown by `c360 keys list`; the rest never is.
    return [s[:10] + "…" for s in secrets if s in dump or s[10:] in dump]


def test_store_holds_no_plaintext_key_after_keys_are_used_everywhere(
    api: Api, store_url: str
) -> None:
    key = api.write_key
    assert_success(api.send({"batch": [factories.track()]}, headers={"Authorization": basic(key)}))
    assert_success(api.send({"batch": [factories.track()], "writeKey": key}, authenticate=False))
    assert_success(
        api.send({**factories.track(), "writeKey": key}, "/v1/track", authenticate=False)
    )
    assert_success(
        api.send({"batch": [{**factories.track(), "writeKey": key}]}, headers={"X-Write-Key": key})
    )
    assert_success(
        api.send(
            {"batch": [factories.identify()], "writeKey": key, "context": {"app": "pos"}},
            headers={"Authorization": "Bearer something-else"},
            authenticate=False,
        )
    )
    assert_refused(api.send({"batch": []}, key="wk_attempted_guess_1234567890"), 401)
    assert api.get("/api/sources").status_code == 200
    assert api.get("/api/sources", key=api.read_key).status_code == 200
    secrets = [key, api.admin_key, api.read_key, "wk_attempted_guess_1234567890"]
    assert _secrets_found(_dump_store(api.engine), secrets) == []
    if store_url.startswith("sqlite:///"):
        path = Path(store_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert _secrets_found(raw.decode("latin-1"), secrets) == []


def test_store_holds_no_plaintext_key_from_a_quarantined_message(api: Api) -> None:
    key = api.write_key
    # A track message without an event, authenticated by the writeKey in its own body.
    assert_success(api.send({"userId": "u-1", "writeKey": key}, "/v1/track", authenticate=False))
    assert_success(
        api.send({"batch": [{"type": "track", "userId": "u", "writeKey": key}]}, key=key)
    )
    assert len(api.quarantined()) == 2
    assert _secrets_found(_dump_store(api.engine), [key]) == []


# --- A2, A3 against a real server process ---------------------------------------------------------

LIVE_MAX_BATCH_BYTES = 4 * 1024 * 1024  # the setting recommended for rudder-sdk-python


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def big_body_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """``c360 serve`` with a 4 MiB body cap, shared by the tests that only send refused bodies."""
    tmp_path = tmp_path_factory.mktemp("live")
    with fresh_database(request.param, tmp_path) as url:
        server = start_server(url, tmp_path, C360_MAX_BATCH_BYTES=str(LIVE_MAX_BATCH_BYTES))
        try:
            yield server
        finally:
            server.stop()


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes
    took_s: float


def send_raw(port: int, head: bytes, body: Iterable[bytes], timeout_s: float = 10.0) -> RawAnswer:
    """Send ``head`` then ``body`` from a thread while reading the answer; time the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    started = time.monotonic()

    def pump() -> None:
        try:
            sock.sendall(head)
            for chunk in body:
                sock.sendall(chunk)
        except OSError:
            pass  # the server may stop reading once it has answered

    sender = threading.Thread(target=pump, daemon=True)
    sender.start()
    received = b""
    try:
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed before an answer: {received!r}")
            received += chunk
        head_bytes, _, rest = received.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        length = int(headers.get("content-length", "0"))
        while (b"0\r\n\r\n" not in rest) if chunked else (len(rest) < length):
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        took_s = time.monotonic() - started
    finally:
        sock.close()
        sender.join(timeout_s)
    return RawAnswer(status, headers, _dechunk(rest) if chunked else rest[:length], took_s)


def _dechunk(data: bytes) -> bytes:
    body = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return body
        body, data = body + data[:size], data[size + 2 :]


def _head(server: LiveServer, extra: str) -> bytes:
    return (
        "POST /v1/batch HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        f"Authorization: {basic(server.write_key)}\r\n"
        "Content-Type: application/json\r\n"
        f"{extra}\r\n"
    ).encode()


def _ten_megabytes() -> Iterator[bytes]:
    yield b'{"batch":['
    item = orjson.dumps(factories.track()) + b","
    chunk = item * (64 * 1024 // len(item))
    for _ in range(10 * 1024 * 1024 // len(chunk)):
        yield chunk
    yield b"{}]}"


def _chunked(parts: Iterable[bytes]) -> Iterator[bytes]:
    for part in parts:
        yield f"{len(part):x}\r\n".encode() + part + b"\r\n"
    yield b"0\r\n\r\n"


def _rss(server: LiveServer) -> int:
    assert server.process is not None
    return int(psutil.Process(server.process.pid).memory_info().rss)


def _warm_up(server: LiveServer) -> int:
    """Send ordinary traffic so the baseline RSS includes what serving normally allocates."""
    with httpx.Client(base_url=server.url, auth=(server.write_key, ""), timeout=10) as client:
        for _ in range(5):
            response = client.post(
                "/v1/batch", json={"batch": [factories.track() for _ in range(50)]}
            )
            assert response.status_code == 200, response.text
    return _rss(server)


def _assert_refused_raw(answer: RawAnswer, statuses: set[int]) -> None:
    assert answer.status in statuses, (answer.status, answer.body[:300])
    assert answer.took_s < 1.0, f"answered after {answer.took_s:.2f}s"
    assert answer.headers.get("content-type", "").startswith("application/json"), answer.headers
    body = orjson.loads(answer.body)
    assert isinstance(body["code"], str) and isinstance(body["message"], str), body


def test_live_ten_megabyte_body_is_refused_with_413_fast_and_memory_stays_flat(
    big_body_server: LiveServer,
) -> None:
    server = big_body_server
    baseline = _warm_up(server)
    total = sum(len(c) for c in _ten_megabytes())
    answer = send_raw(server.port, _head(server, f"Content-Length: {total}\r\n"), _ten_megabytes())
    _assert_refused_raw(answer, {413})
    assert answer.took_s < 1.0, f"answered after {answer.took_s:.2f}s"
    growth_mb = (_rss(server) - baseline) / 1e6
    assert growth_mb < 50, f"RSS grew {growth_mb:.1f} MB"


def test_live_chunked_ten_megabyte_body_is_refused_with_413_fast_and_memory_stays_flat(
    big_body_server: LiveServer,
) -> None:
    server = big_body_server
    baseline = _warm_up(server)
    answer = send_raw(
        server.port, _head(server, "Transfer-Encoding: chunked\r\n"), _chunked(_ten_megabytes())
    )
    _assert_refused_raw(answer, {413})
    assert answer.took_s < 1.0, f"answered after {answer.took_s:.2f}s"
    growth_mb = (_rss(server) - baseline) / 1e6
    assert growth_mb < 50, f"RSS grew {growth_mb:.1f} MB"


def test_live_ten_megabytes_behind_a_low_content_length_is_refused_fast(
    big_body_server: LiveServer,
) -> None:
    # The server can only take as many bytes as Content-Length says (a truncated batch); the
    # megabytes after them are not a valid next request, which uvicorn itself answers with a
    # plain-text 400 and a closed connection. 413 cannot be known here; a fast 4xx can.
    server = big_body_server
    baseline = _warm_up(server)
    answer = send_raw(server.port, _head(server, "Content-Length: 1000\r\n"), _ten_megabytes())
    assert answer.status in {400, 413}, (answer.status, answer.body[:300])
    assert answer.took_s < 1.0, f"answered after {answer.took_s:.2f}s"
    assert (_rss(server) - baseline) / 1e6 < 50
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200


def test_live_gzip_bomb_of_one_gigabyte_is_refused_with_413_fast_and_memory_stays_flat(
    big_body_server: LiveServer,
) -> None:
    server = big_body_server
    bomb = gzip_of_zeros(1024 * 1024 * 1024)
    assert len(bomb) < 1.1 * 1024 * 1024  # about 1 MB on the wire, under the 4 MiB cap
    baseline = _warm_up(server)
    head = _head(server, f"Content-Length: {len(bomb)}\r\nContent-Encoding: gzip\r\n")
    answer = send_raw(server.port, head, [bomb])
    _assert_refused_raw(answer, {413})
    assert answer.took_s < 1.0, f"answered after {answer.took_s:.2f}s"
    growth_mb = (_rss(server) - baseline) / 1e6
    assert growth_mb < 50, f"RSS grew {growth_mb:.1f} MB"


def test_live_well_formed_traffic_is_unharmed_while_oversize_bodies_arrive(
    big_body_server: LiveServer,
) -> None:
    server = big_body_server
    failures: list[str] = []
    sent_ids: list[str] = []
    stop = threading.Event()

    def well_formed() -> None:
        with httpx.Client(base_url=server.url, auth=(server.write_key, ""), timeout=10) as client:
            while not stop.is_set():
                messages = [factories.track() for _ in range(20)]
                response = client.post("/v1/batch", json={"batch": messages})
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                sent_ids.extend(m["messageId"] for m in messages)

    sender = threading.Thread(target=well_formed)
    sender.start()
    try:
        for _ in range(3):
            total = sum(len(c) for c in _ten_megabytes())
            head = _head(server, f"Content-Length: {total}\r\n")
            _assert_refused_raw(send_raw(server.port, head, _ten_megabytes()), {413})
            bomb_head = _head(server, "Transfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n")
            bomb = gzip_of_zeros(256 * 1024 * 1024)
            _assert_refused_raw(send_raw(server.port, bomb_head, _chunked([bomb])), {413})
    finally:
        stop.set()
        sender.join(30)
    assert failures == []
    assert sent_ids
    with server.admin() as admin:
        last = sent_ids[-1]
        assert admin.get(f"/api/events/{last}").json()["accepted"] is True
