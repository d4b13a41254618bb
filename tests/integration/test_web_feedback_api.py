"""The web app's feedback inbox API: items most urgent first across pages, the assignee filter,
and the values the inbox's filters offer."""

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from tests.conftest import fresh_database
from tests.customer360 import track
from tests.factories import identify
from tests.factories import track as tracked

from c360.feedback.model import FeedbackConfig
from c360.kernel.clock import system_clock
from c360.storage import create_engine_for, upgrade_to_head
from c360.workers.feedback import feedback_cycle

TEXTS = {
    "u-1": "ไดร์เป่าผมมีควันและไฟช็อต อันตรายมาก จะฟ้องร้อง!!!",
    "u-2": "Giao hàng quá chậm, tôi muốn hoàn tiền",
    "u-3": "Thanks, the staff at the Siam branch were lovely",
    "u-4": "The app logs me out every day, annoying",
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory.mktemp("store"), migrated=True) as url:
        yield url


@pytest.fixture(scope="module")
def client(store_url: str) -> Iterator[Any]:
    """The four items, triaged, and the app, once per store. The inbox lists every item of
    the store, so the tests share these four: only the assignee test changes them (it assigns
    two), and no other test reads what an assignment changes (the order is by level, priority
    and id, and the pages hold every item whatever its status)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from fastapi.testclient import TestClient
    from tests.conftest import make_keys

    from c360.api.app import build_app
    from c360.settings import Settings

    engine = create_engine_for(store_url)
    upgrade_to_head(engine)
    for user, text in TEXTS.items():
        message = tracked(user, "Feedback Submitted", properties={"text": text})
        message["_at_us"] = system_clock()
        track(engine, identify(user), message)
    assert feedback_cycle(engine, FeedbackConfig()) == len(TEXTS)
    _, admin = make_keys(store_url)
    app = build_app(Settings(database_url=store_url), engine, run_worker=False)
    try:
        with TestClient(app, raise_server_exceptions=False) as test_client:
            test_client.headers["Authorization"] = f"Bearer {admin}"
            yield test_client
    finally:
        engine.dispose()


def urgency(item: dict[str, Any]) -> tuple[str, int, int]:
    return (item["level"], -item["priority"], -item["id"])


def test_the_inbox_pages_most_urgent_first(client: Any) -> None:
    whole = client.get("/api/feedback-inbox").json()
    assert whole["next"] is None
    items = whole["items"]
    assert len(items) == len(TEXTS)
    assert items == sorted(items, key=urgency)
    assert items[0]["priority"] > items[-1]["priority"]
    assert items[-1]["sentiment"] == "positive"
    paged: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/feedback-inbox", params=params).json()
        paged += page["items"]
        cursor = page["next"]
        if cursor is None:
            break
    assert [i["id"] for i in paged] == [i["id"] for i in items]


def test_the_inbox_filters_by_assignee_and_lists_who_has_items(client: Any) -> None:
    items = client.get("/api/feedback-inbox").json()["items"]
    first, second = items[0]["id"], items[1]["id"]
    assert client.get("/api/feedback-inbox/filters").json()["assignees"] == []
    client.post(f"/api/feedback/{first}/assign", json={"assignee": "ploy"}).raise_for_status()
    client.post(f"/api/feedback/{second}/assign", json={"assignee": "Anh"}).raise_for_status()
    mine = client.get("/api/feedback-inbox", params={"assignee": "ploy"}).json()["items"]
    assert [i["id"] for i in mine] == [first]
    nobody = client.get("/api/feedback-inbox", params={"unassigned": True}).json()["items"]
    assert {i["id"] for i in nobody} == {i["id"] for i in items[2:]}
    both = client.get("/api/feedback-inbox", params={"status": "assigned"}).json()["items"]
    assert [i["id"] for i in both] == [first, second]
    offered = client.get("/api/feedback-inbox/filters").json()
    assert offered["assignees"] == ["Anh", "ploy"]
    assert {"delivery", "product_quality", "price"} <= set(offered["topics"])
    assert {"shipping", "service", "billing"} <= set(offered["teams"])
    assert "open" not in offered["statuses"] and "in_progress" in offered["statuses"]


def test_a_malformed_cursor_is_refused(client: Any) -> None:
    answer = client.get("/api/feedback-inbox", params={"cursor": "12"})
    assert answer.status_code == 422
