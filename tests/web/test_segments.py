"""Segments in the browser: the builder's live count as a condition is typed or assembled,
mistakes shown at their line and column, saving, the list and the home page, the export link,
and a role that may read segments but not build them."""

from __future__ import annotations

import csv
import io
import re
from typing import Any
from urllib.parse import quote

import httpx
from tests.web.conftest import WebApp, choose_language, open_page, screenshot, sign_in


def preview(web_app: WebApp, condition: str) -> httpx.Response:
    with web_app.server.admin() as client:
        return client.post("/api/segments/preview", json={"condition": condition, "sample": 0})


def live_result(page: Any) -> dict[str, str]:
    """Wait until the live result is for the condition in the text box, then read it."""
    page.wait_for_function(
        """() => {
          const live = document.getElementById('seg-live');
          const text = document.getElementById('seg-text').value;
          const done = ['ok', 'error', 'idle'].includes(live.dataset.state);
          return live.dataset.condition === text && done;
        }"""
    )
    return page.evaluate("() => ({...document.getElementById('seg-live').dataset})")


def shown_number(text: str) -> int:
    return int(re.sub(r"\D", "", text))


def test_the_live_count_as_a_condition_is_typed_equals_the_apis_preview(
    page: Any, web_app: WebApp
) -> None:
    condition = 'country = "TH" and order_count >= 1'
    expected = preview(web_app, condition).json()["count"]
    everyone = preview(web_app, "country exists or not country exists").json()["count"]
    assert 0 < expected < everyone  # the condition really narrows the profiles down
    sign_in(page, "marketer")
    open_page(page, "/segments/new")
    area = page.get_by_label("Condition", exact=True)
    area.press_sequentially(condition, delay=10)
    result = live_result(page)
    assert result["state"] == "ok"
    assert int(result["count"]) == expected
    assert shown_number(page.locator("#seg-count").inner_text()) == expected
    assert page.locator("#seg-live tbody tr").count() == min(10, expected)
    # a sample member links to the profile
    link = page.locator("#seg-live tbody a").first.get_attribute("href") or ""
    assert link.startswith("#/profiles/")
    screenshot(page, "segment-builder")


def test_the_assembling_form_writes_the_condition_and_counts_it(page: Any, web_app: WebApp) -> None:
    sign_in(page, "marketer")
    open_page(page, "/segments/new")
    page.get_by_label("Value name").fill("country")
    page.get_by_label("Comparison").select_option("=")
    page.get_by_label("Compare with").fill("VN")
    page.get_by_role("button", name="Add to condition").click()
    page.get_by_label("Compare with").fill("TH")
    page.get_by_label("Join with").select_option("or")
    page.get_by_role("button", name="Add to condition").click()
    text = page.get_by_label("Condition", exact=True).input_value()
    assert text == 'country = "VN"\n  or country = "TH"'
    result = live_result(page)
    vn, th = (preview(web_app, f'country = "{c}"').json()["count"] for c in ("VN", "TH"))
    assert vn > 0 and th > 0
    assert result["state"] == "ok" and int(result["count"]) == vn + th  # "or" joined them

    page.get_by_label("Test", exact=True).select_option("event")
    page.get_by_label("Event name").fill("Order Completed")
    page.get_by_label("Whether they did it").select_option("not")
    page.get_by_label("In the last (days)").fill("30")
    page.get_by_label("Join with").select_option("and")
    page.get_by_role("button", name="Add to condition").click()
    text = page.get_by_label("Condition", exact=True).input_value()
    assert text.endswith('\n  and not did "Order Completed" in last 30 days')
    result = live_result(page)
    assert result["state"] == "ok"
    assert int(result["count"]) == preview(web_app, text).json()["count"]


def test_a_mistake_is_shown_at_its_line_and_column(page: Any, web_app: WebApp) -> None:
    condition = 'country = "TH" and\n    (lifetime_value >= 1 or province = "a" ignoring cases)'
    refused = preview(web_app, condition)
    assert refused.status_code == 422
    line, column = refused.json()["line"], refused.json()["column"]
    assert line == 2 and column > 40  # at 'cases', on the second line
    sign_in(page, "marketer")
    open_page(page, "/segments/new")
    page.get_by_label("Condition", exact=True).fill(condition)
    result = live_result(page)
    assert result["state"] == "error"
    error = page.locator("#seg-error")
    assert error.get_attribute("role") == "alert"
    assert (error.get_attribute("data-line"), error.get_attribute("data-column")) == (
        str(line),
        str(column),
    )
    assert f"Line {line}, column {column}" in error.inner_text()
    assert "ignoring cases" in error.inner_text()  # the line itself, with a caret under 'cases'
    caret = error.locator("pre").inner_text().split("\n")[1]
    assert caret.index("^") == column - 1


def test_a_saved_segment_is_listed_and_among_the_largest_on_the_home_page(
    page: Any, web_app: WebApp
) -> None:
    name = "web builder everyone with a country"
    condition = "country exists"
    expected = preview(web_app, condition).json()["count"]
    sign_in(page, "marketer")
    open_page(page, "/segments/new")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Description").fill("Made in the browser test")
    page.get_by_label("Condition", exact=True).fill(condition)
    assert int(live_result(page)["count"]) == expected
    page.get_by_role("button", name="Save segment").click()
    page.wait_for_function(
        "path => document.getElementById('view').dataset.ready === path",
        arg=f"/segments/{quote(name)}",
    )
    with web_app.server.admin() as client:
        saved = client.get(f"/api/segments/{quote(name)}").json()
    assert saved["members"] == expected and saved["condition"] == condition
    assert shown_number(page.locator("[data-stat=members] .stat").inner_text()) == expected
    assert page.locator("#seg-condition").inner_text() == condition
    assert page.locator("tbody tr").count() == min(10, expected)

    open_page(page, "/segments")
    row = page.locator(f"tbody tr[data-segment='{name}']")
    assert shown_number(row.locator("td.num").inner_text()) == expected
    screenshot(page, "segments")
    choose_language(page, "vi")
    assert page.get_by_role("heading", name="Phân khúc").is_visible()
    choose_language(page, "en")
    open_page(page, "/")
    assert page.locator("#segments").get_by_role("link", name=name).is_visible()

    # editing it: the condition changes, the count follows
    open_page(page, f"/segments/{quote(name)}/edit")
    narrower = 'country = "TH"'
    page.get_by_label("Condition", exact=True).fill(narrower)
    fewer = preview(web_app, narrower).json()["count"]
    assert int(live_result(page)["count"]) == fewer < expected
    page.get_by_role("button", name="Save segment").click()
    page.wait_for_function(
        "path => document.getElementById('view').dataset.ready === path",
        arg=f"/segments/{quote(name)}",
    )
    assert shown_number(page.locator("[data-stat=members] .stat").inner_text()) == fewer
    with web_app.server.admin() as client:
        assert client.get(f"/api/segments/{quote(name)}").json()["version"] == 2


def test_an_analyst_downloads_the_export_of_consenting_members_masked(
    page: Any, web_app: WebApp
) -> None:
    name = "web export thai"
    with web_app.server.admin() as client:
        created = client.post("/api/segments", json={"name": name, "condition": 'country = "TH"'})
        assert created.status_code == 201, created.text
        members = client.get(f"/api/segments/{quote(name)}/members", params={"limit": 5}).json()
        consenting = {m["profile_id"] for m in members["members"]}
        for pid in consenting:  # exports hold members who consented to marketing
            answer = client.post(
                "/api/consents",
                json={"profile_id": pid, "purpose": "marketing", "state": "granted"},
            )
            assert answer.status_code == 202, answer.text
        web_app.server.wait_processed()
        full = client.get(f"/api/segments/{quote(name)}/export", params={"format": "csv"})
    admin_rows = list(csv.DictReader(io.StringIO(full.text)))
    assert {r["profile_id"] for r in admin_rows} == consenting
    sign_in(page, "analyst")
    open_page(page, f"/segments/{quote(name)}")
    assert page.get_by_role("link", name="Edit").count() == 0  # an analyst builds nothing
    with page.expect_download() as download:
        page.get_by_role("link", name="Export members (CSV)").click()
    text = download.value.path().read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["profile_id"] for r in rows) == sorted(consenting)
    emails = {r["profile_id"]: r["email"] for r in rows if r["email"]}
    assert emails, "the consenting members have email addresses"
    for row in admin_rows:
        if row["profile_id"] in emails:
            assert emails[row["profile_id"]] != row["email"] and "***" in emails[row["profile_id"]]


def test_finance_reads_segments_but_sees_no_builder(page: Any, web_app: WebApp) -> None:
    name = "web finance can read"
    with web_app.server.admin() as client:
        client.post("/api/segments", json={"name": name, "condition": 'country = "VN"'})
    sign_in(page, "finance")
    open_page(page, "/segments")
    assert page.locator(f"tbody tr[data-segment='{name}']").is_visible()
    assert page.get_by_role("link", name="New segment").count() == 0
    open_page(page, f"/segments/{quote(name)}")
    assert page.get_by_role("link", name="Edit").count() == 0
    assert page.get_by_role("link", name="Export members (CSV)").count() == 0
    open_page(page, "/segments/new")
    assert page.locator("textarea").count() == 0
    assert page.get_by_text("may read segments but not change them").is_visible()
