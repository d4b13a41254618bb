"""A running server: a purchase at a new branch and a changed address reach the profile, its
timeline and the change feed (polled and streamed) within one second; search finds the
customer by Thai, romanized and Vietnamese names and by local phone formats.

The tests share one ``c360 serve`` per store; each works in sources and keys of its own, and
only the search test has Somchai: the other has a customer of its own."""

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import LiveServer, make_keys
from tests.customer360 import SOMCHAI, mapping_for

from c360.eventlog.service import ensure_source
from c360.ingest.mapping import parse_mapping
from c360.ingest.records import register_mapping
from c360.privacy.keys import Role, create_key
from c360.storage import create_engine_for

CONTACT = {
    "id": "c-1",
    **SOMCHAI,
    "address": "99/1 ถนนสุขุมวิท คลองเตย",
    "postal_code": "10110",
    "country": "TH",
}
ORDER = {
    "id": "pos-1",
    "order_id": "pos-1",
    **SOMCHAI,
    "ordered_at": "2026-11-23T19:00:00+07:00",
    "status": "completed",
    "channel": "store",
    "store": "Chiang Mai Nimman",
    "total": "2,000.00 THB",
}


@pytest.fixture
def live_server(shared_live_server: LiveServer) -> LiveServer:
    """The module's server on each store (one ``c360 serve`` per store), with keys of this
    test's own (see ``server_slice``)."""
    return server_slice(shared_live_server)


def server_slice(shared: LiveServer) -> LiveServer:
    """``shared`` with a writer key for a new source (``web-<tag>``) and an admin key of one
    test's own. Only ``shared`` itself may be stopped or restarted."""
    source = f"web-{uuid.uuid4().hex[:10]}"
    write_key, admin_key = make_keys(shared.database_url, source)
    return dataclasses.replace(shared, write_key=write_key, admin_key=admin_key, source=source)


def own(server: LiveServer, name: str) -> str:
    """The source ``name`` of this test's own (``crm-<tag>`` beside its ``web-<tag>``)."""
    return f"{name}-{server.source.removeprefix('web-')}"


def customer_of_its_own(tag: str) -> dict[str, Any]:
    """A customer shaped like ``CONTACT`` sharing no name, email, phone or address with
    Somchai nor with another test's customer: on a shared server each test finds only its
    own (and no two are close enough to be put up for review)."""
    number = int(uuid.uuid5(uuid.NAMESPACE_URL, tag).hex[:12], 16) % 10_000_000
    given = tag.translate(str.maketrans("0123456789", "ghijklmnop")).capitalize()
    return {
        "id": f"c-{tag}",
        "first_name": given,  # a name of its own: no blocking key in common with another
        "last_name": "Mankong",
        "email": f"{given.lower()}.mankong@example.co.th",
        "phone": f"089{number:07d}",
        "address": "7 ถนนมิตรภาพ ในเมือง",
        "postal_code": "40000",
        "country": "TH",
    }


def writer_for(server: LiveServer, source: str, kind: str, row: dict[str, Any]) -> str:
    """A source with a mapping for ``kind`` and a write key for it."""
    engine = create_engine_for(server.database_url)
    text = mapping_for(source, kind, row)
    with engine.begin() as conn:
        found = ensure_source(conn, source)
        register_mapping(conn, found.id, parse_mapping(text), text)
        _, key = create_key(conn, name=f"{source} writer", role=Role.WRITER, source=source)
    engine.dispose()
    return key


def post(
    server: LiveServer, source: str, key: str, body: object, client: httpx.Client | None = None
) -> None:
    """Send ``body`` to the source's webhook (through ``client``, an open connection, where
    the time it takes is measured: a new client costs the test tens of milliseconds)."""
    url = f"{server.url}/v1/webhooks/{source}"
    if client is None:
        response = httpx.post(url, json=body, auth=(key, ""), timeout=10)
    else:
        response = client.post(url, json=body, auth=(key, ""))
    assert response.status_code == 200, response.text


class Stream(threading.Thread):
    """Reads ``/api/changes/stream`` from ``since`` and keeps every event it receives. It
    reconnects after each quiet second with ``Last-Event-ID``, as browsers' EventSource does,
    so resumption is exercised too."""

    def __init__(self, server: LiveServer, since: str) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.since = since
        self.events: list[dict[str, Any]] = []
        self.arrived: list[float] = []  # when each event arrived (time.monotonic)
        self.ids: list[int] = []
        self.connections = 0
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.content_type = ""

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.server.admin_key}"}
        timeout = httpx.Timeout(10, read=1.0)
        with httpx.Client(timeout=timeout) as client:
            while not self.stopping.is_set():
                resume = {"Last-Event-ID": str(self.ids[-1])} if self.ids else {}
                try:
                    with client.stream(
                        "GET",
                        f"{self.server.url}/api/changes/stream",
                        params={"since": self.since},
                        headers={**headers, **resume},
                    ) as response:
                        self.connections += 1
                        self.content_type = response.headers["content-type"]
                        for line in response.iter_lines():
                            self.ready.set()
                            if line.startswith("id: "):
                                self.ids.append(int(line[4:]))
                            elif line.startswith("data: "):
                                self.arrived.append(time.monotonic())
                                self.events.append(orjson.loads(line[6:]))
                except httpx.ReadTimeout:
                    continue

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)


def first_seen(
    api: httpx.Client,
    path: str,
    params: dict[str, Any],
    shows: Callable[[Any], bool],
    started: float,
    timeout_s: float = 5.0,
) -> float | None:
    """Seconds from ``started`` until a response of ``GET path`` arrived that ``shows`` the
    change (None: not within ``timeout_s``)."""
    while time.monotonic() - started < timeout_s:
        body = api.get(path, params=params).json()
        if shows(body):
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def test_a_new_branch_purchase_and_an_address_change_are_seen_within_one_second(
    live_server: LiveServer,
) -> None:
    tag = live_server.source.removeprefix("web-")
    contact = customer_of_its_own(tag)
    who = {k: contact[k] for k in ("first_name", "last_name", "email", "phone")}
    order = {**ORDER, **who, "id": f"pos-{tag}", "order_id": f"pos-{tag}"}
    crm_source, pos_source = own(live_server, "crm"), own(live_server, "pos")
    crm = writer_for(live_server, crm_source, "contact", contact)
    pos = writer_for(live_server, pos_source, "order", order)
    post(live_server, crm_source, crm, [contact])
    live_server.wait_processed()
    with live_server.admin() as api:
        check_within_one_second(
            live_server, api, contact, order, (crm_source, crm), (pos_source, pos)
        )


def check_within_one_second(
    live_server: LiveServer,
    api: httpx.Client,
    contact: dict[str, Any],
    order: dict[str, Any],
    crm: tuple[str, str],
    pos: tuple[str, str],
) -> None:
    """``contact`` buys ``order`` at a new branch and moves; ``crm`` and ``pos`` are each
    (source, write key)."""
    profile = api.get(f"/api/profiles/by-identifier/phone/{contact['phone']}").json()
    pid = profile["id"]
    assert profile["computed"].get("order_count", 0) == 0
    cursor = api.get("/api/changes", params={"limit": 1000}).json()["next"]
    stream = Stream(live_server, cursor)
    stream.start()
    assert stream.ready.wait(10)

    def profile_shows(body: Any) -> bool:
        postal_code = body["golden"]["values"]["postal_code"]["value"]
        return bool(body["computed"].get("order_count") == 1 and postal_code == "50200")

    def timeline_shows(body: Any) -> bool:
        return any(i["source"] == pos[0] for i in body["items"])

    def feed_shows(body: Any) -> bool:
        traits = {c["detail"].get("trait") for c in body["changes"]}
        return {"computed.order_count", "golden.postal_code"} <= traits

    # every connection is open before the clock starts: making a client costs tens of ms
    sender = httpx.Client(timeout=10)
    readers = [live_server.admin() for _ in range(3)]
    for client in (sender, *readers):
        client.get(f"{live_server.url}/healthz")
    started = time.monotonic()
    with closing(sender):
        post(live_server, *pos, [order], client=sender)
        post(
            live_server,
            *crm,
            [{**contact, "address": "12 ถนนนิมมานเหมินท์", "postal_code": "50200"}],
            client=sender,
        )
    # The stream pushes the changes: waiting for them costs the server nothing (polling every
    # view meanwhile would take the worker's CPU on a busy machine). Then each view is read by
    # a thread of its own until it shows them; a time is when a response showing them arrived.
    seen: dict[str, float] = {}
    while time.monotonic() - started < 5 and "stream" not in seen:
        streamed: set[str] = set()
        for at, event in zip(list(stream.arrived), list(stream.events), strict=False):
            if event["profile_id"] == pid:
                streamed.add(event["detail"].get("trait"))
            if {"computed.order_count", "golden.postal_code"} <= streamed:
                seen["stream"] = at - started
                break
        time.sleep(0.01)
    views: tuple[tuple[str, str, dict[str, Any], Callable[[Any], bool]], ...] = (
        ("profile", f"/api/profiles/{pid}", {}, profile_shows),
        ("timeline", f"/api/profiles/{pid}/timeline", {"kinds": "order"}, timeline_shows),
        ("feed", "/api/changes", {"since": cursor, "profile_id": pid}, feed_shows),
    )
    with ThreadPoolExecutor(max_workers=3) as pool:
        watched = {
            name: pool.submit(first_seen, reader, path, params, shows, started)
            for reader, (name, path, params, shows) in zip(readers, views, strict=True)
        }
        for name, future in watched.items():
            if (shown_at := future.result()) is not None:
                seen[name] = shown_at
    for reader in readers:
        reader.close()
    stream.stop()
    assert stream.content_type.startswith("text/event-stream")
    assert set(seen) == {"profile", "timeline", "feed", "stream"}, seen
    assert max(seen.values()) < 1.0, seen
    assert stream.ids == sorted(set(stream.ids))  # in order, none twice across reconnections
    branch = api.get(f"/api/profiles/{pid}/briefing").json()["recent_orders"][0]
    assert branch["store"] == "Chiang Mai Nimman"


def test_search_and_resume_the_feed_over_http(live_server: LiveServer) -> None:
    source = own(live_server, "crm")
    crm = writer_for(live_server, source, "contact", CONTACT)
    post(live_server, source, crm, [CONTACT])
    vn = {
        "id": "c-2",
        "first_name": "Thị Ánh",
        "last_name": "Nguyễn",
        "email": "anh.nguyen@example.vn",
        "phone": "+84 912 345 678",
        "country": "VN",
    }
    post(live_server, source, crm, [vn])
    live_server.wait_processed()
    with live_server.admin() as api:
        check_search_and_resumption(api)


def check_search_and_resumption(api: httpx.Client) -> None:
    def found(query: str) -> list[str]:
        response = api.get("/api/profiles", params={"query": query})
        assert response.status_code == 200, response.text
        return [p["name"] for p in response.json()["profiles"]]

    assert found("สมชาย") == ["สมชาย ใจดี"]
    assert found("somchai") == ["สมชาย ใจดี"]
    assert found("0812345678") == ["สมชาย ใจดี"]
    assert found("+66 81 234 5678") == ["สมชาย ใจดี"]
    assert len(found("nguyen thi anh")) == 1
    assert found("Nguyễn Thị Ánh") == found("nguyen thi anh")
    assert len(found("0912 345 678")) == 1
    assert found("ANH.NGUYEN@example.vn") == found("nguyen thi anh")
    assert api.get("/api/profiles", params={"query": ""}).status_code == 422
    assert found("- / .") == [], "punctuation alone finds no one (the CLI explains why)"

    first = api.get("/api/changes", params={"limit": 1}).json()
    rest = api.get("/api/changes", params={"since": first["next"], "limit": 1000}).json()
    everything = api.get("/api/changes", params={"limit": 1000}).json()
    assert [c["id"] for c in first["changes"] + rest["changes"]] == [
        c["id"] for c in everything["changes"]
    ]
    bad = api.get("/api/changes", params={"kinds": "trait_change"})
    assert bad.status_code == 422 and "trait_changed" in bad.json()["message"]
