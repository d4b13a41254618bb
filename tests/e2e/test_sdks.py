"""The official Segment and RudderStack Python SDKs against a live ``c360 serve``.

Each SDK sends every message type through its own batching thread; the test then reads what a
user of the management API sees: the profile found by user id and by email, its traits and
identifiers, and every message on its event timeline, newest first, page by page.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
from tests.conftest import LiveServer, make_keys

SDKS = ["segment", "rudderstack"]

TRAITS: dict[str, Any] = {
    "name": "สมชาย ใจดี",
    "first_name": "สมชาย",
    "email": "somchai.sdk@example.co.th",
    "phone": "+66812345678",
    "city": "เชียงใหม่",
    "spouse": "Nguyễn Thị Bích Ngọc",
    "address": "12 Đường Lê Lợi, Quận 1, Thành phố Hồ Chí Minh",
    "plan": "gold",
    "age": 41,
}


@pytest.fixture
def live_server(shared_live_server: LiveServer) -> LiveServer:
    """The module's server on each store (one ``c360 serve`` per store), with a writer key for
    a source of this test's own and an admin key: tests never see each other's messages."""
    source = f"web-{uuid.uuid4().hex[:10]}"
    write_key, admin_key = make_keys(shared_live_server.database_url, source)
    return dataclasses.replace(
        shared_live_server, write_key=write_key, admin_key=admin_key, source=source
    )


def thai_mobile(tag: str) -> str:
    """A Thai mobile number (E.164) of this test's own: profiles sharing a phone are one."""
    return f"+6681{int(tag, 16) % 10_000_000:07d}"


@dataclass
class Uploads:
    """What the server answered an SDK: every HTTP status, and what ``on_error`` reported."""

    statuses: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def on_error(self, exc: Exception, batch: list[dict[str, Any]]) -> None:
        self.errors.append(f"{exc!r} for a batch of {len(batch)}")

    def on_response(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        self.statuses.append(response.status_code)


@contextmanager
def sdk_client(sdk: str, server: LiveServer) -> Iterator[tuple[Any, Uploads]]:
    """An asynchronous SDK client pointed at ``server``; flushed and shut down on exit.

    No retries, so any answer but 200 reaches ``on_error``; the SDK's own HTTP session also
    records every status it receives.
    """
    uploads = Uploads()
    common: dict[str, Any] = {
        "write_key": server.write_key,
        "host": server.url,
        "sync_mode": False,
        "on_error": uploads.on_error,
        "max_retries": 0,
        "upload_interval": 0.05,
        "timeout": 10,
    }
    if sdk == "segment":
        from segment.analytics import Client as SegmentClient
        from segment.analytics import request as sdk_request

        client: Any = SegmentClient(**common)
    else:
        from rudderstack.analytics import Client as RudderClient
        from rudderstack.analytics import request as sdk_request

        client = RudderClient(**common)  # gzip=True: RudderStack's default
    hooks = sdk_request._session.hooks["response"]
    hooks.append(uploads.on_response)
    try:
        yield client, uploads
    finally:
        # flush() waits for every queued message to be answered; join() ends the thread.
        client.shutdown()
        hooks.remove(uploads.on_response)


def send(sdk: str, server: LiveServer, calls: Callable[[Any], None]) -> None:
    """Run ``calls`` on a fresh client, flush, and require every upload answered 200."""
    with sdk_client(sdk, server) as (client, uploads):
        calls(client)
        client.flush()
        assert uploads.errors == [], f"{sdk} SDK reported failed uploads: {uploads.errors}"
        assert uploads.statuses and set(uploads.statuses) == {200}, uploads.statuses
    assert all(not consumer.is_alive() for consumer in client.consumers)


def get_json(client: httpx.Client, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
    return response.json()


def all_events(client: httpx.Client, profile_id: str, limit: int) -> list[dict[str, Any]]:
    """Every event of a profile, following ``next`` until it is null."""
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        page = get_json(client, f"/api/profiles/{profile_id}/events", **params)
        assert len(page["events"]) <= limit
        events.extend(page["events"])
        cursor = page["next"]
        if cursor is None:
            return events
        assert page["events"], "a page with a next cursor must not be empty"
    raise AssertionError("the events cursor never reached null")


def identifier_set(profile: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(i["type"], i["value"], i["source"]) for i in profile["identifiers"]}


@pytest.mark.parametrize("sdk", SDKS)
def test_sdk_messages_build_one_profile_with_traits_identifiers_and_timeline(
    sdk: str, live_server: LiveServer
) -> None:
    tag = uuid.uuid4().hex[:8]
    user_id = f"{sdk}-user-{tag}"
    anonymous_id = f"{sdk}-device-{tag}"
    old_login = f"{sdk}-old-login-{tag}"
    email = f"{tag}.{TRAITS['email']}"
    phone = thai_mobile(tag)
    traits = {**TRAITS, "email": email, "phone": phone}
    ids = {kind: f"{sdk}-{kind}-{tag}" for kind in ("identify", "track", "page", "screen")}
    ids |= {"group": f"{sdk}-group-{tag}", "alias": f"{sdk}-alias-{tag}"}

    def calls(client: Any) -> None:
        client.identify(user_id, traits, anonymous_id=anonymous_id, message_id=ids["identify"])
        client.track(
            user_id,
            "Đã xem sản phẩm",
            {"sku": "TH-001", "title": "ข้าวหอมมะลิ", "price": 1290, "currency": "THB"},
            message_id=ids["track"],
        )
        client.page(user_id, "Cửa hàng", "หน้าแรก", {"path": "/th/home"}, message_id=ids["page"])
        client.screen(user_id, "Ứng dụng", "ตะกร้าสินค้า", message_id=ids["screen"])
        client.group(
            user_id, f"company-{tag}", {"name": "Công ty TNHH Ánh Dương"}, message_id=ids["group"]
        )
        client.alias(old_login, user_id, message_id=ids["alias"])

    send(sdk, live_server, calls)
    live_server.wait_processed()

    with live_server.admin() as api:
        by_user = get_json(api, f"/api/profiles/by-identifier/user_id/{user_id}")
        assert by_user["traits"] == traits, "the profile must hold the traits identify sent"
        by_email = get_json(api, f"/api/profiles/by-identifier/email/{email}")
        assert by_email == by_user
        source = live_server.source
        assert identifier_set(by_user) == {
            ("user_id", user_id, source),
            ("anonymous_id", anonymous_id, source),
            ("email", email, source),
            ("phone", phone, source),
            ("previous_id", old_login, source),
        }
        assert by_user["event_count"] == 6

        events = all_events(api, by_user["id"], limit=4)
        assert [e["messageId"] for e in events] == [
            ids[kind] for kind in ("alias", "group", "screen", "page", "track", "identify")
        ]
        assert [e["type"] for e in events] == [
            "alias",
            "group",
            "screen",
            "page",
            "track",
            "identify",
        ]
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)
        assert all(e["source"] == source for e in events)
        track = next(e for e in events if e["type"] == "track")
        assert track["payload"]["event"] == "Đã xem sản phẩm"
        assert track["payload"]["properties"]["title"] == "ข้าวหอมมะลิ"
        # Paging one at a time gives the same timeline as one big page.
        assert all_events(api, by_user["id"], limit=1) == events
        assert all_events(api, by_user["id"], limit=1000) == events


@pytest.mark.parametrize("sdk", SDKS)
def test_sdk_alias_merges_the_anonymous_profile_into_the_users_profile(
    sdk: str, live_server: LiveServer
) -> None:
    tag = uuid.uuid4().hex[:8]
    user_id = f"{sdk}-user-{tag}"
    anonymous_id = f"{sdk}-visitor-{tag}"
    anonymous_ids = [f"{sdk}-anon-{n}-{tag}" for n in range(3)]
    user_ids = [f"{sdk}-known-{n}-{tag}" for n in range(2)]
    alias_id = f"{sdk}-alias-{tag}"

    def browse_anonymously(client: Any) -> None:
        client.page(
            None, "Cửa hàng", "หน้าแรก", anonymous_id=anonymous_id, message_id=anonymous_ids[0]
        )
        client.track(
            None,
            "Product Viewed",
            {"sku": "VN-042", "title": "Cà phê sữa đá"},
            anonymous_id=anonymous_id,
            message_id=anonymous_ids[1],
        )
        client.track(
            None,
            "Product Added",
            {"sku": "VN-042"},
            anonymous_id=anonymous_id,
            message_id=anonymous_ids[2],
        )

    def sign_up(client: Any) -> None:
        client.identify(
            user_id,
            {"name": "Trần Thị Bích", "email": f"bich.{tag}@example.vn"},
            message_id=user_ids[0],
        )
        client.track(user_id, "Signed Up", {"plan": "ฟรี"}, message_id=user_ids[1])

    send(sdk, live_server, browse_anonymously)
    send(sdk, live_server, sign_up)
    live_server.wait_processed()
    with live_server.admin() as api:
        anonymous_profile = get_json(
            api, f"/api/profiles/by-identifier/anonymous_id/{anonymous_id}"
        )
        user_profile = get_json(api, f"/api/profiles/by-identifier/user_id/{user_id}")
    assert anonymous_profile["id"] != user_profile["id"], "no link yet: two profiles"
    assert anonymous_profile["event_count"] == 3 and user_profile["event_count"] == 2

    send(sdk, live_server, lambda client: client.alias(anonymous_id, user_id, message_id=alias_id))
    live_server.wait_processed()

    with live_server.admin() as api:
        merged = get_json(api, f"/api/profiles/by-identifier/user_id/{user_id}")
        assert get_json(api, f"/api/profiles/by-identifier/anonymous_id/{anonymous_id}") == merged
        # Both ids the profiles had before the alias answer with the one surviving profile.
        assert get_json(api, f"/api/profiles/{anonymous_profile['id']}") == merged
        assert get_json(api, f"/api/profiles/{user_profile['id']}") == merged
        assert merged["id"] in (anonymous_profile["id"], user_profile["id"])
        source = live_server.source
        assert {("user_id", user_id, source), ("anonymous_id", anonymous_id, source)} <= (
            identifier_set(merged)
        )
        assert merged["event_count"] == 6
        timeline = [e["messageId"] for e in all_events(api, merged["id"], limit=2)]
        assert timeline == [alias_id, *reversed(user_ids), *reversed(anonymous_ids)]
        for old_id in (anonymous_profile["id"], user_profile["id"]):
            old_timeline = [e["messageId"] for e in all_events(api, old_id, limit=5)]
            assert old_timeline == timeline
