"""The Python client (``c360.client``) against a live ``c360 serve``, on SQLite and PostgreSQL.

A customer in the CRM with five shop orders and tracked events (sent with a writer key to
``/v1``) is read back through the client: by id and by a phone in local formats, by search in
Thai and romanized, the timeline and events page by page, the briefing. The change feed is
paged, resumed from a cursor and followed live across a server restart. Every error answer
arrives as the exception of its status, with the server's message.

The tests share one ``c360 serve`` per store; each works in sources and keys of its own, and
only the reading test has Somchai: the others have a customer of their own.
"""

from __future__ import annotations

import ast
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import LiveServer, free_port
from tests.e2e.test_customer360_live import (
    CONTACT,
    ORDER,
    customer_of_its_own,
    own,
    post,
    server_slice,
    writer_for,
)

import c360.client
from c360.client import (
    C360Client,
    Change,
    ConnectionFailed,
    Forbidden,
    InvalidRequest,
    NotFound,
    Unauthorized,
)
from c360.privacy.keys import Role, create_key
from c360.storage import create_engine_for

ORDERS = [
    {**ORDER, "id": oid, "order_id": oid, "ordered_at": at, "store": store}
    for oid, at, store in [
        ("o-1", "2024-10-01T10:00:00+07:00", "Siam Paragon"),
        ("o-2", "2024-10-15T10:00:00+07:00", "Siam Paragon"),
        ("o-3", "2024-10-15T10:00:00+07:00", "Online"),  # the same time as o-2: a tie to page
        ("o-4", "2024-11-01T10:00:00+07:00", "Chiang Mai Nimman"),
        ("o-5", "2024-11-20T10:00:00+07:00", "Chiang Mai Nimman"),
    ]
]
TRACKED = [
    ("t-1", "Product Viewed", "2024-10-10T08:00:00Z"),
    ("t-2", "Product Viewed", "2024-10-20T08:00:00Z"),
    ("t-3", "Coupon Applied", "2024-11-05T08:00:00Z"),
    ("t-4", "Product Viewed", "2024-11-21T08:00:00Z"),
]
WAIT_S = 15.0


@pytest.fixture
def live_server(shared_live_server: LiveServer) -> LiveServer:
    """The module's server on each store (one ``c360 serve`` per store), with keys of this
    test's own (see ``server_slice``)."""
    return server_slice(shared_live_server)


def somchai_with_history(server: LiveServer) -> str:
    """Somchai from the CRM, with five orders from the shop and five tracked messages from
    the web (this test's ``crm-<tag>``, ``shop-<tag>`` and ``web-<tag>``); his profile's id."""
    return with_history(server, CONTACT, suffix="")


def with_history(server: LiveServer, contact: dict[str, Any], suffix: str) -> str:
    """``contact`` with the history ``somchai_with_history`` gives Somchai, every order id,
    user id and message id ending in ``suffix``; the id of the profile."""
    who = {k: contact[k] for k in ("first_name", "last_name", "email", "phone")}
    orders = [
        {**o, **who, "id": o["id"] + suffix, "order_id": o["order_id"] + suffix} for o in ORDERS
    ]
    crm_source, shop_source = own(server, "crm"), own(server, "shop")
    crm = writer_for(server, crm_source, "contact", contact)
    shop = writer_for(server, shop_source, "order", orders[0])
    post(server, crm_source, crm, [contact])
    post(server, shop_source, shop, orders)
    send = httpx.Client(base_url=server.url, auth=(server.write_key, ""), timeout=10)
    user_id = "u-1" + suffix
    with send:
        identify = {
            "userId": user_id,
            "messageId": "id-1" + suffix,
            "traits": {"email": contact["email"]},
            "timestamp": "2024-09-01T08:00:00Z",
        }
        assert send.post("/v1/identify", json=identify).status_code == 200
        for message_id, event, at in TRACKED:
            body = {
                "userId": user_id,
                "messageId": message_id + suffix,
                "event": event,
                "timestamp": at,
            }
            assert send.post("/v1/track", json=body).status_code == 200
    server.wait_processed()
    with C360Client(server.url, server.admin_key) as c360:
        return c360.profile_by_identifier("phone", contact["phone"]).id


def read_key(server: LiveServer) -> str:
    engine = create_engine_for(server.database_url)
    with engine.begin() as conn:
        _, key = create_key(conn, name="analyst", role=Role.READ, source=None)
    engine.dispose()
    return key


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_S} s: {what}")
        time.sleep(0.02)


def test_reads_a_profile_its_timeline_events_and_briefing(live_server: LiveServer) -> None:
    pid = somchai_with_history(live_server)
    with C360Client(live_server.url, live_server.admin_key) as c360:
        profile = c360.profile(pid)
        assert profile.id == pid
        assert profile.golden_value("first_name") == "สมชาย"
        assert profile.golden_value("phone") == "+66812345678"
        assert sorted(profile.identifiers_of("order_id")) == ["o-1", "o-2", "o-3", "o-4", "o-5"]
        assert profile.linked["order"] == 5
        assert profile.computed["order_count"] == 5
        assert profile.event_count == 5
        for local in ("081-234-5678", "0812345678", "+66 81 234 5678"):
            assert c360.profile_by_identifier("phone", local).id == pid
        assert c360.profile_by_identifier("order_id", "o-3").id == pid

        for query in ("สมชาย", "somchai", "ใจดี"):
            hits = c360.search(query)
            assert [h.id for h in hits] == [pid], query
            assert hits[0].name == "สมชาย ใจดี"

        everything = list(c360.timeline(pid, page_size=500))
        assert Counter(i.kind for i in everything) == {"order": 5, "event": 5, "contact": 1}
        paged = c360.timeline(pid, page_size=2)
        items = list(paged)
        assert paged.pages == 6
        assert items == everything
        keys = [(i.kind, i.source, i.record_id or i.message_id) for i in items]
        assert len(set(keys)) == len(items)  # each item exactly once
        assert [i.at for i in items] == sorted((i.at for i in items), reverse=True)

        october = c360.timeline(
            pid,
            kinds=["order"],
            since=datetime(2024, 10, 1, tzinfo=UTC),
            until="2024-10-31T00:00:00Z",
            page_size=1,
        )
        assert sorted(i.record_id or "" for i in october) == ["o-1", "o-2", "o-3"]

        events = list(c360.events(pid, page_size=2))
        assert [e.message_id for e in events] == ["t-4", "t-3", "t-2", "t-1", "id-1"]
        assert [e.seq for e in events] == sorted((e.seq for e in events), reverse=True)
        assert events[0].payload["event"] == "Product Viewed"
        status = c360.message_status("t-3")
        assert status.accepted and status.processed
        assert status.records[0].source == live_server.source

        briefing = c360.briefing(pid)
        assert briefing.profile_id == pid
        assert briefing.name == "สมชาย ใจดี"
        assert briefing.recent_orders[0]["order_id"] == "o-5"
        assert briefing.next_action["action"]

        identity = c360.identity(pid)
        shop = own(live_server, "shop")
        assert (shop, "o-5") in {(r.source, r.record_id) for r in identity.records}
        assert identity.edges
        # none of Somchai's records is left for review (the review queue is the whole store's:
        # the change-feed test's split, on this shared server, leaves items of its own there)
        crm_source = own(live_server, "crm")
        mine = {crm_source, shop, live_server.source}
        assert [r for r in c360.reviews() if {r.a["source"], r.b["source"]} & mine] == []
        assert {crm_source, shop, live_server.source} <= {s.name for s in c360.sources()}
        crm = next(q for q in c360.quality() if q.source == crm_source)
        assert crm.records == 1
        assert list(c360.rejects(crm_source)) == []


@pytest.mark.slow
def test_pages_resumes_and_follows_the_change_feed(
    live_server: LiveServer, shared_live_server: LiveServer
) -> None:
    tag = live_server.source.removeprefix("web-")
    contact = customer_of_its_own(tag)
    suffix = f"-{tag}"
    pid = with_history(live_server, contact, suffix)
    crm_source = own(live_server, "crm")
    crm = writer_for(live_server, crm_source, "contact", contact)
    with C360Client(live_server.url, live_server.admin_key, backoff_s=0.05) as c360:
        feed = c360.changes()
        everything = list(feed)
        last = everything[-1].id
        assert feed.cursor == str(last)
        assert [c.id for c in everything] == sorted({c.id for c in everything})
        paged = c360.changes(page_size=3)
        assert [c.id for c in paged if c.id <= last] == [c.id for c in everything]
        assert paged.pages > 2

        head = list(itertools.islice(c360.changes(page_size=3), 4))
        rest = list(c360.changes(since=head[-1].id, page_size=3))
        assert [c.id for c in head + rest if c.id <= last] == [c.id for c in everything]
        created = list(c360.changes(kinds=["profile_created"], profile_id=pid))
        assert [c.profile_id for c in created] == [pid]

        stream = c360.follow_changes(kinds="trait_changed,split")
        received: list[Change] = []

        def follow() -> None:
            for change in stream:
                received.append(change)

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()

        def postal_code_became(value: str) -> bool:
            return any(
                c.profile_id == pid
                and c.detail.get("trait") == "golden.postal_code"
                and c.detail.get("new") == value
                for c in received
            )

        post(live_server, crm_source, crm, [{**contact, "postal_code": "50200"}])
        wait_until(lambda: postal_code_became("50200"), "the stream shows the new postal code")
        assert list(c360.changes(since=feed.cursor, kinds="trait_changed"))

        # the stream breaks; the client reconnects with Last-Event-ID (the module's server is
        # restarted on the same port, for the tests after this one too)
        shared_live_server.kill()
        shared_live_server.start()
        post(live_server, crm_source, crm, [{**contact, "postal_code": "10110"}])
        wait_until(lambda: postal_code_became("10110"), "the stream shows it after a restart")
        assert stream.connections >= 2

        parts = c360.split(
            pid, [(own(live_server, "shop"), "o-5" + suffix)], reason="a gift bought for a friend"
        )
        assert pid in parts and len(set(parts)) >= 2
        wait_until(lambda: any(c.kind == "split" for c in received), "the stream shows a split")
        assert c360.profile_by_identifier("order_id", "o-5" + suffix).id != pid
        assert c360.profile_by_identifier("order_id", "o-1" + suffix).id == pid

        stream.stop()
        follower.join(5)
        assert not follower.is_alive()
        ids = [c.id for c in received]
        assert ids == sorted(set(ids))  # in order, none twice across the reconnection
        assert {c.kind for c in received} <= {"trait_changed", "split"}
        assert stream.last_id == ids[-1]


def test_errors_arrive_as_exceptions_with_the_servers_message(live_server: LiveServer) -> None:
    contact = customer_of_its_own(live_server.source.removeprefix("web-"))
    crm_source = own(live_server, "crm")
    crm = writer_for(live_server, crm_source, "contact", contact)
    post(live_server, crm_source, crm, [contact])
    live_server.wait_processed()
    with C360Client(live_server.url, live_server.admin_key) as c360:
        pid = c360.profile_by_identifier("email", contact["email"]).id
        with pytest.raises(NotFound) as missing:
            c360.profile("no-such-profile")
        assert missing.value.status == 404
        assert missing.value.code == "not_found"
        assert "no-such-profile" in missing.value.message
        with pytest.raises(NotFound):
            c360.profile_by_identifier("phone", "099-999-9999")
        with pytest.raises(InvalidRequest) as bad_kind:
            c360.changes(kinds=["trait_change"])
        assert bad_kind.value.status == 422
        assert "trait_changed" in bad_kind.value.message
        with pytest.raises(InvalidRequest):
            c360.timeline(pid, kinds="orders")
        with pytest.raises(InvalidRequest):
            c360.follow_changes(kinds="trait_change")
        with pytest.raises(NotFound):
            # a pair of nodes no store of a test holds (the review queue is the whole store's)
            c360.decide_review("999999998-999999999", "same", reason="checked by phone")

    with C360Client(live_server.url, "not-a-key") as stranger:
        with pytest.raises(Unauthorized) as refused:
            stranger.sources()
        assert refused.value.status == 401
        assert "key" in refused.value.message

    with C360Client(live_server.url, read_key(live_server)) as analyst:
        assert analyst.profile(pid).id == pid
        with pytest.raises(Forbidden) as forbidden:
            analyst.split(pid, [(crm_source, contact["id"])], reason="should not be allowed")
        assert forbidden.value.status == 403
        assert "read" in forbidden.value.message
    with C360Client(live_server.url, live_server.write_key) as writer, pytest.raises(Forbidden):
        writer.profile(pid)


class CountingTransport(httpx.HTTPTransport):
    """httpx's own transport, counting the requests it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return super().handle_request(request)


def test_a_read_is_retried_before_a_server_that_is_down_is_reported() -> None:
    transport = CountingTransport()
    url = f"http://127.0.0.1:{free_port()}"
    c360 = C360Client(url, "any", retries=2, backoff_s=0.01, transport=transport)
    with c360, pytest.raises(ConnectionFailed) as down:
        c360.sources()
    assert transport.sent == 3
    assert down.value.status is None
    assert "127.0.0.1" in down.value.message


def test_the_client_imports_nothing_of_the_server() -> None:
    """Users install the client next to a server they do not run: it may use
    ``c360.__version__`` and itself, nothing else of c360."""
    package = Path(c360.client.__file__).parent
    outside: dict[str, list[str]] = {}
    for module in sorted(package.glob("*.py")):
        names: list[str] = []
        for node in ast.walk(ast.parse(module.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "c360":
                names.extend(f"c360.{a.name}" for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.append(node.module)
            elif isinstance(node, ast.Import):
                names.extend(a.name for a in node.names)
        outside[module.name] = [
            n
            for n in names
            if n.split(".")[0] == "c360"
            and n != "c360.__version__"
            and not n.startswith("c360.client")
        ]
    assert outside == {name: [] for name in outside}
