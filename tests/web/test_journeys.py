"""Journeys in the browser: building a simple journey, the list with pause and resume, the
report of treatment against control once people have entered and converted, and a message
preview for one profile."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
from tests.web.conftest import WebApp, choose_language, open_page, screenshot, sign_in

TRIGGER = "Web Test Signed Up"
GOAL = "Web Test Purchased"


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def track(web_app: WebApp, event: str, users: list[str], properties: dict[str, Any]) -> None:
    batch = [
        {
            "type": "track",
            "userId": user,
            "event": event,
            "properties": properties,
            "messageId": uuid.uuid4().hex,
        }
        for user in users
    ]
    answer = httpx.post(
        f"{web_app.url}/v1/batch",
        json={"batch": batch},
        auth=(web_app.server.write_key, ""),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def shown_number(text: str) -> int:
    return int(re.sub(r"\D", "", text))


def wait_ready(page: Any, path: str) -> None:
    page.wait_for_function("p => document.getElementById('view').dataset.ready === p", arg=path)


def test_a_journey_built_in_the_browser_runs_and_reports_against_its_control_group(
    page: Any, web_app: WebApp
) -> None:
    name = "web-welcome"
    sign_in(page, "marketer")
    open_page(page, "/journeys/new")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Description").fill("Welcome new sign-ups")
    page.get_by_label("People enter when they").select_option("event")
    page.get_by_label("Event name", exact=True).fill(TRIGGER)
    page.get_by_label("How long").fill("1")
    page.get_by_label("Unit").select_option("days")
    page.get_by_label("Then continue only if").fill('country = "TH"')
    page.get_by_label("Channel").select_option("email")
    page.get_by_label("Subject (email)").fill("ยินดีต้อนรับ {{ profile.first_name }}")
    page.get_by_label("Text", exact=True).fill("สวัสดีคุณ{{ profile.first_name }}")
    page.get_by_label("Goal event").fill(GOAL)
    page.get_by_label("Hold out for control (%)").fill("50")
    screenshot(page, "journey-builder")
    page.get_by_role("button", name="Save journey").click()
    wait_ready(page, f"/journeys/{name}")

    with web_app.server.admin() as client:
        saved = client.get(f"/api/journeys/{name}").json()
    definition = saved["definition"]
    assert definition["trigger"] == {"event": TRIGGER}
    assert [s["id"] for s in definition["steps"]] == ["wait", "check", "send"]
    assert definition["steps"][0]["wait"] == "1 day"
    assert definition["steps"][1]["branch"] == {"if": 'country = "TH"', "else": "end"}
    assert definition["steps"][2]["send"]["channels"] == ["email"]
    assert definition["goal"]["event"] == GOAL and definition["control"] == 0.5
    # the page shows the definition: trigger, the steps in order
    assert page.locator("#jny-definition").get_by_text(f"does {TRIGGER}").is_visible()
    steps = page.locator("#jny-definition li[data-step]")
    assert [steps.nth(i).get_attribute("data-step") for i in range(3)] == ["wait", "check", "send"]

    # listed, paused and resumed from the list
    open_page(page, "/journeys")
    row = page.locator(f"tbody tr[data-journey='{name}']")
    assert row.locator("[data-status]").inner_text() == "active"
    row.get_by_role("button", name="Pause").click()
    row.locator("[data-status=paused]").wait_for()
    with web_app.server.admin() as client:
        assert client.get(f"/api/journeys/{name}").json()["status"] == "paused"
    page.locator(f"tbody tr[data-journey='{name}']").get_by_role("button", name="Resume").click()
    page.locator(f"tbody tr[data-journey='{name}'] [data-status=active]").wait_for()
    with web_app.server.admin() as client:
        assert client.get(f"/api/journeys/{name}").json()["status"] == "active"

    # people enter (half held out) and two in three of them convert
    users = [f"web-journey-{i}" for i in range(30)]
    track(web_app, TRIGGER, users, {"plan": "free"})

    def report() -> dict[str, Any]:
        with web_app.server.admin() as client:
            body: dict[str, Any] = client.get(f"/api/journeys/{name}/report").json()
            return body

    wait_until(lambda: report()["entries"] == 30, "30 entries")
    track(web_app, GOAL, users[:20], {"revenue": 250})
    wait_until(
        lambda: report()["treatment"]["conversions"] + report()["control"]["conversions"] == 20,
        "20 conversions",
    )
    found = report()
    assert found["treatment"]["entries"] > 0 and found["control"]["entries"] > 0

    open_page(page, "/")  # away and back: the list is drawn anew
    open_page(page, "/journeys")
    row = page.locator(f"tbody tr[data-journey='{name}']")
    assert shown_number(row.locator("td.num").first.inner_text()) == 30
    conversion = row.locator("td.num").nth(2).inner_text().replace("%", "")
    assert abs(float(conversion) - 100 * found["treatment"]["conversion_rate"]) < 0.051
    screenshot(page, "journeys")

    row.get_by_role("link", name=name).click()
    wait_ready(page, f"/journeys/{name}")
    card = page.locator("#jny-report")
    assert shown_number(card.locator("[data-stat=entries] .stat").inner_text()) == 30
    groups = card.locator("table").first.locator("tbody tr")
    for i, arm in enumerate(("treatment", "control")):
        cells = groups.nth(i).locator("td")
        assert shown_number(cells.nth(1).inner_text()) == found[arm]["entries"]
        assert shown_number(cells.nth(2).inner_text()) == found[arm]["conversions"]
        shown_rate = cells.nth(3).inner_text().replace("%", "")
        assert abs(float(shown_rate) - 100 * found[arm]["conversion_rate"]) < 0.051
    chart = card.locator("figure.chart svg[role=img]")
    assert chart.get_attribute("aria-label") == "Conversion rate: treatment against control"
    assert card.locator("figure.chart rect.bar").count() == 2
    uplift = found["uplift"]
    assert uplift["absolute"] is not None and uplift["absolute_ci"] is not None
    text = card.locator("#jny-uplift").inner_text()
    assert "95% CI" in text
    low = f"{100 * uplift['absolute_ci']['low']:.1f}%"
    high = f"{100 * uplift['absolute_ci']['high']:.1f}%"
    assert low in text and high in text, (low, high, text)
    screenshot(page, "journey-report")
    choose_language(page, "th")
    assert page.get_by_role("heading", name="รายงาน").is_visible()
    assert page.locator("#jny-report figure.chart svg").get_attribute("aria-label") == (
        "อัตราการเปลี่ยน: กลุ่มทดลองเทียบกับกลุ่มควบคุม"
    )


def test_the_message_preview_renders_the_saved_template_for_a_profile(
    page: Any, web_app: WebApp
) -> None:
    name = "web-preview"
    definition = {
        "name": name,
        "trigger": {"event": "Web Test Preview"},
        "steps": [
            {
                "id": "hello",
                "send": {
                    "channels": ["email"],
                    "template": {
                        "subject": "{{ profile.first_name }}: {{ event.name }}",
                        "body": "สวัสดีคุณ{{ profile.first_name }} {{ event.name }}",
                    },
                },
            }
        ],
    }
    with web_app.server.admin() as client:
        assert client.post("/api/journeys", json={"definition": definition}).status_code == 201
        sample = client.post(
            "/api/segments/preview",
            json={"condition": 'first_name exists and country = "TH"', "sample": 1},
        ).json()["sample"]
        pid = sample[0]["id"]
        expected = client.post(
            f"/api/journeys/{name}/preview",
            json={"profile_id": pid, "step": "hello", "event": {"name": "รองเท้าวิ่ง"}},
        ).json()
    assert "รองเท้าวิ่ง" in expected["body"] and "{{" not in expected["body"]
    sign_in(page, "admin")
    open_page(page, f"/journeys/{quote(name)}/edit")
    # the form holds the saved journey
    assert page.get_by_label("Event name", exact=True).input_value() == "Web Test Preview"
    assert (
        page.get_by_label("Text", exact=True).input_value()
        == definition["steps"][0]["send"]["template"]["body"]
    )  # type: ignore[index]
    page.get_by_label("Profile (id)").fill(pid)
    page.get_by_label("Event name for").fill("รองเท้าวิ่ง")
    page.get_by_role("button", name="Preview").click()
    page.locator("#jny-preview-body").wait_for()
    assert page.locator("#jny-preview-body").inner_text() == expected["body"]
    assert page.locator("#jny-preview-subject").inner_text() == expected["subject"]

    # an edit not saved yet is previewed as written, through the same sandbox
    edited = "Xin chào {{ profile.first_name }}, {{ event.name }} vẫn còn trong giỏ"
    page.get_by_label("Text", exact=True).fill(edited)
    page.get_by_role("button", name="Preview").click()
    # the rendered body, not the draft's JSON box, which holds the same words
    page.locator("#jny-preview-body", has_text="vẫn còn trong giỏ").wait_for()
    with web_app.server.admin() as client:
        draft = client.post(
            "/api/journeys/preview",
            json={
                "profile_id": pid,
                "template": {
                    "subject": definition["steps"][0]["send"]["template"]["subject"],  # type: ignore[index]
                    "body": edited,
                },
                "event": {"name": "รองเท้าวิ่ง"},
            },
        ).json()
        saved = client.get(f"/api/journeys/{name}").json()
    assert page.locator("#jny-preview-body").inner_text() == draft["body"] != expected["body"]
    assert "{{" not in draft["body"]
    assert saved["definition"]["steps"][0]["send"]["template"]["body"] != edited  # not saved
    # what the sandbox refuses is shown as the API's error, nothing rendered
    page.get_by_label("Text", exact=True).fill("{{ profile.__class__.__mro__ }}")
    page.get_by_role("button", name="Preview").click()
    page.locator("#jny-preview-out [role=alert]").wait_for()
    assert page.locator("#jny-preview-body").count() == 0


def test_an_analyst_reads_journeys_but_cannot_change_them(page: Any, web_app: WebApp) -> None:
    name = "web-read-only"
    definition = {
        "name": name,
        "trigger": {"segment": "vip"},
        "steps": [{"wait": "1 hour"}, {"exit": "done"}],
    }
    with web_app.server.admin() as client:
        answer = client.post("/api/journeys", json={"definition": definition})
        assert answer.status_code == 201, answer.text
    sign_in(page, "analyst")
    open_page(page, "/journeys")
    row = page.locator(f"tbody tr[data-journey='{name}']")
    assert row.is_visible()
    assert page.get_by_role("button", name="Pause").count() == 0
    assert page.get_by_role("link", name="New journey").count() == 0
    open_page(page, f"/journeys/{name}")
    assert page.locator("#jny-definition").get_by_text("enters segment vip").is_visible()
    assert page.get_by_role("link", name="Edit").count() == 0
    open_page(page, "/journeys/new")
    assert page.locator("form").count() == 0


def test_a_journey_the_form_cannot_show_is_edited_as_its_definition(
    page: Any, web_app: WebApp
) -> None:
    name = "web-raw-edit"
    text = (
        f"name: {name}\ntrigger: {{event: Web Test Raw}}\n"
        "steps:\n  - wait: 1 hour\n  - exit: done\n"
    )
    with web_app.server.admin() as client:
        answer = client.post("/api/journeys", json={"definition": text})
        assert answer.status_code == 201, answer.text
    sign_in(page, "admin")
    open_page(page, f"/journeys/{name}/edit")
    editor = page.get_by_label("Definition (YAML or JSON)")
    assert editor.input_value() == text
    editor.fill(text.replace("1 hour", "2 hours"))
    page.get_by_role("button", name="Save journey").click()
    wait_ready(page, f"/journeys/{name}")
    with web_app.server.admin() as client:
        saved = client.get(f"/api/journeys/{name}").json()
    assert saved["definition"]["steps"][0]["wait"] == "2 hours" and saved["version"] == 2
    assert page.locator("#jny-definition li[data-step=step1]").inner_text() == "step1: wait 2 hours"
