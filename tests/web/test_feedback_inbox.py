"""The feedback inbox in a real browser: new feedback sent to /v1 shows up most urgent first,
filters live in the URL, an agent assigns, starts, notes and resolves an item (thanking the
customer), a finance user only reads, and the report shows the API's numbers."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tests.web.conftest import WebApp, choose_language, open_page, screenshot, sign_in

URGENT = "สินค้าชำรุด เครื่องเป่าผมมีควันออกมา อันตรายมาก จะฟ้องร้อง!!!"  # product_quality, P1/P2
PRAISE = "Giao hàng nhanh, nhân viên giao hàng rất lịch sự, cảm ơn"  # positive delivery


def send(web_app: WebApp, event: str, properties: dict[str, Any]) -> str:
    """A person (new each time) sends feedback through the tracking API; returns the user id."""
    user = f"fb-{uuid.uuid4().hex[:10]}"
    auth = {"Authorization": f"Bearer {web_app.server.write_key}"}
    with httpx.Client(base_url=web_app.url, headers=auth, timeout=30) as client:
        client.post(
            "/v1/identify",
            json={
                "userId": user,
                "messageId": f"{user}-id",
                "traits": {"email": f"{user}@example.vn", "first_name": "Mai", "last_name": "Lê"},
            },
        ).raise_for_status()
        client.post(
            "/v1/track",
            json={
                "userId": user,
                "messageId": f"{user}-fb",
                "event": event,
                "properties": properties,
            },
        ).raise_for_status()
    return user


def item_of(web_app: WebApp, text: str, timeout_s: float = 30.0) -> dict[str, Any]:
    """Wait for the feedback loop to collect the item with this text (the newest such)."""
    deadline = time.monotonic() + timeout_s
    with web_app.server.admin() as client:
        while time.monotonic() < deadline:
            items = client.get("/api/feedback", params={"limit": 500}).json()["items"]
            found = sorted((i for i in items if i["text"] == text), key=lambda i: -i["id"])
            if found:
                return dict(found[0])
            time.sleep(0.3)
    raise AssertionError(f"no feedback item with text {text!r} after {timeout_s}s")


def inbox(web_app: WebApp, **params: Any) -> list[dict[str, Any]]:
    """Every item of the inbox API with these filters, across its pages."""
    items: list[dict[str, Any]] = []
    cursor = None
    with web_app.server.admin() as client:
        while True:
            query = {**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
            page = client.get("/api/feedback-inbox", params=query).json()
            items += page["items"]
            cursor = page["next"]
            if cursor is None:
                return items


def redrawn(page: Any, action: Any) -> None:
    """Do something that makes the app draw the page again, and wait until it has."""
    page.evaluate("() => { delete document.getElementById('view').dataset.ready }")
    action()
    page.locator("#view[data-ready]").wait_for()


def shown_ids(page: Any) -> list[int]:
    return [
        int(i)
        for i in page.locator("#fb-list tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.id)"
        )
    ]


def digits(text: str) -> int:
    return int(re.sub(r"\D", "", text))


def test_new_feedback_is_listed_most_urgent_first_and_filtered_by_status_and_topic(
    page: Any, web_app: WebApp
) -> None:
    send(web_app, "Feedback Submitted", {"text": URGENT, "channel": "line"})
    send(web_app, "Feedback Submitted", {"text": PRAISE, "channel": "zalo"})
    urgent, praise = item_of(web_app, URGENT), item_of(web_app, PRAISE)
    assert (urgent["topic"], urgent["sentiment"]) == ("product_quality", "negative")
    assert urgent["level"] in ("P1", "P2") and praise["level"] in ("P3", "P4")
    sign_in(page, "service")
    open_page(page, "/feedback")
    expected = [i["id"] for i in inbox(web_app, status="open")]
    assert len(expected) > 50  # the sample company's open items: more than a page
    assert shown_ids(page) == expected[:50]
    assert shown_ids(page).index(urgent["id"]) < 10
    row = page.locator(f"#fb-list tr[data-id='{urgent['id']}']")
    assert row.locator("[data-level]").inner_text() == urgent["level"]
    assert "Product quality" in row.inner_text() and "Negative" in row.inner_text()
    assert row.locator("[data-status]").inner_text() == "New"
    screenshot(page, "feedback")

    more = page.get_by_role("button", name="Load more")
    while more.is_visible():
        before = len(shown_ids(page))
        more.click()
        page.wait_for_function(
            "n => document.querySelectorAll('#fb-list tbody tr').length > n", arg=before
        )
    assert shown_ids(page) == expected
    assert praise["id"] in shown_ids(page)
    assert page.locator("#fb-shown").inner_text() == f"{len(expected)} items shown"

    page.get_by_label("Status").select_option("new")
    page.get_by_label("Topic").select_option("product_quality")
    redrawn(page, lambda: page.get_by_role("button", name="Apply filters").click())
    assert "status=new" in page.url and "topic=product_quality" in page.url
    wanted = [i["id"] for i in inbox(web_app, status="new", topic="product_quality")]
    assert shown_ids(page) == wanted[:50] and urgent["id"] in wanted
    assert praise["id"] not in shown_ids(page)
    assert page.get_by_label("Topic").input_value() == "product_quality"  # kept from the URL

    page.get_by_label("Status").select_option("resolved")
    redrawn(page, lambda: page.get_by_role("button", name="Apply filters").click())
    resolved = [i["id"] for i in inbox(web_app, status="resolved", topic="product_quality")]
    assert resolved and shown_ids(page) == resolved[:50]
    assert urgent["id"] not in shown_ids(page)

    page.reload()  # the filters are in the URL: a reload (or a shared link) shows the same
    page.locator("#view[data-ready]").wait_for()
    assert shown_ids(page) == resolved[:50]
    assert page.get_by_label("Status").input_value() == "resolved"


def test_an_agent_assigns_starts_notes_and_resolves_with_a_thank_you(
    page: Any, web_app: WebApp
) -> None:
    text = "Parcel arrived two weeks late and the box was crushed"
    send(web_app, "Feedback Submitted", {"text": text, "channel": "email"})
    item = item_of(web_app, text)
    assert item["profile_id"] and item["status"] == "new"
    sign_in(page, "service")
    open_page(page, f"/feedback/{item['id']}")
    assert page.locator("#fb-text").inner_text() == text
    person = page.get_by_role("link", name="Open the profile")
    assert person.get_attribute("href") == f"#/profiles/{item['profile_id']}"
    assert "Delivery" in page.locator("#fb-badges").inner_text()

    page.get_by_label("Assign to (user name)").fill("service")
    page.get_by_role("button", name="Assign").click()
    page.get_by_role("status").filter(has_text="Assigned to service.").wait_for()
    page.get_by_role("button", name="Start work").click()
    page.get_by_role("status").filter(has_text="Work has started.").wait_for()
    note = "Called the courier: a new parcel leaves today"
    page.get_by_role("textbox", name="Note", exact=True).fill(note)
    page.get_by_role("button", name="Add note").click()
    page.locator("#fb-history").get_by_text(note).wait_for()

    resolution = "Sent a new parcel by express; it arrives tomorrow"
    page.get_by_label("Resolution (the customer may read it)").fill(resolution)
    page.get_by_label("Notify the customer").check()
    page.get_by_role("button", name="Resolve").click()
    page.get_by_role("status").filter(has_text="Resolved.").wait_for()
    told = page.locator("#view .notice").inner_text()
    screenshot(page, "feedback-item")

    with web_app.server.admin() as client:
        stored = client.get(f"/api/feedback/{item['id']}").json()
    assert stored["status"] in ("resolved", "customer_notified")
    assert (stored["assignee"], stored["resolution"]) == ("service", resolution)
    actions = [h["action"] for h in stored["history"]]
    assert actions[:5] == ["received", "assigned", "started", "noted", "resolved"]
    # the work is the signed-in agent's, not an anonymous "api"
    assert {h["actor"] for h in stored["history"][1:5]} == {"user:service"}
    # the thank-you is queued, or the page says why not (here: no channel has a provider)
    thanks = stored["history"][5]
    if thanks["action"] == "notify_queued":
        assert f"queued on {thanks['detail']['channel']}" in told, told
    else:
        assert thanks["action"] == "notify_skipped"
        assert f"not notified: {thanks['detail']['reason']}" in told, told
    assert stored["history"][3]["detail"] == {"text": note}
    shown = page.locator("#fb-history [data-action]").all_inner_texts()
    assert shown[:5] == ["Received", "Assigned", "Started", "Note", "Resolved"]
    # what may follow a resolved item: reopening, not resolving or assigning again
    assert page.get_by_role("button", name="Resolve").is_disabled()
    assert page.get_by_role("button", name="Assign").is_disabled()
    assert page.get_by_role("button", name="Reopen").is_enabled()


def test_a_finance_user_reads_feedback_but_has_no_actions(page: Any, web_app: WebApp) -> None:
    send(web_app, "Feedback Submitted", {"text": URGENT, "channel": "line"})
    item = item_of(web_app, URGENT)
    sign_in(page, "finance")
    open_page(page, "/feedback")
    assert page.locator(f"#fb-list tr[data-id='{item['id']}']").is_visible()
    open_page(page, f"/feedback/{item['id']}")
    assert page.locator("#fb-text").inner_text() == URGENT
    assert page.locator("#fb-history [data-action=received]").is_visible()
    assert page.locator("#fb-actions").count() == 0
    for name in ("Assign", "Start work", "Add note", "Resolve"):
        assert page.get_by_role("button", name=name).count() == 0
    # and the server agrees: finance may not act on feedback
    auth = next(c["value"] for c in page.context.cookies() if c["name"] == "c360_session")
    refused = httpx.post(
        f"{web_app.url}/api/feedback/{item['id']}/start", cookies={"c360_session": auth}
    )
    assert refused.status_code == 403
    choose_language(page, "th")  # every label of the item and the inbox exists in Thai
    assert page.get_by_role("heading", name=f"ความคิดเห็น #{item['id']}").is_visible()
    open_page(page, "/feedback")
    assert page.get_by_role("heading", name="กล่องความคิดเห็น").is_visible()


def test_the_report_shows_the_apis_numbers(page: Any, web_app: WebApp) -> None:
    send(web_app, "NPS Submitted", {"score": 10, "comment": "Dịch vụ tuyệt vời, cảm ơn"})
    send(web_app, "NPS Submitted", {"score": 2, "comment": "แอพเด้งตลอด ใช้งานไม่ได้"})
    item_of(web_app, "แอพเด้งตลอด ใช้งานไม่ได้")
    today = datetime.now(UTC).date()
    since, until = today - timedelta(days=30), today
    with web_app.server.admin() as client:
        report = client.get(
            "/api/feedback/report",
            params={
                "since": f"{since}T00:00:00Z",
                "until": f"{until + timedelta(days=1)}T00:00:00Z",
                "period": "day",
            },
        ).json()
    assert report["totals"]["items"] >= 2 and report["nps"]
    sign_in(page, "analyst")
    open_page(page, f"/feedback/report?since={since}&until={until}&period=day")
    total = page.locator("[data-total=items] .stat").inner_text()
    assert digits(total) == report["totals"]["items"]
    for sentiment, count in report["totals"]["by_sentiment"].items():
        assert digits(page.locator(f"[data-total={sentiment}] .stat").inner_text()) == count
    by_topic: dict[str, int] = {}
    for row in report["volume"]:
        by_topic[row["topic"]] = by_topic.get(row["topic"], 0) + row["count"]
    for topic, count in by_topic.items():
        assert digits(page.locator(f"#fb-volume [data-topic={topic}]").inner_text()) == count
    for row in report["nps"]:
        shown = page.locator(f"[data-nps='{row['period']}']").inner_text()
        assert float(shown.replace(",", ".").replace("−", "-")) == row["nps"]
    for row in report["sla"]:
        assert digits(page.locator(f"[data-sla-items={row['level']}]").inner_text()) == row["items"]
    assert page.locator("#fb-nps figure.chart svg[role=img]").count() == 1
    assert page.locator("#fb-sla figure.chart svg[role=img]").count() == 1
    assert page.locator("#fb-volume-topic figure.chart").count() == 1
    screenshot(page, "feedback-report")

    page.get_by_label("Period").select_option("week")
    redrawn(page, lambda: page.get_by_role("button", name="Show").click())
    assert "period=week" in page.url
    weekly = page.locator("[data-total=items] .stat").inner_text()
    assert digits(weekly) == report["totals"]["items"]
    assert re.search(r"\d{4}-W\d{2}", page.locator("#fb-nps").inner_text())
