"""The Customer 360 pages in a real browser: finding a profile by a Thai name in script or
romanized and by a phone written another way, the profile with its golden values and their
sources, the timeline filtered by kind, why its records are one person, a split, the review
queue, a marketer's masked view and the Thai labels."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from typing import Any

from tests.web.conftest import WebApp, choose_language, open_page, screenshot, sign_in

THAI = re.compile(r"[\u0e00-\u0e7f]")


def _persons(web_app: WebApp) -> dict[str, list[tuple[str, str]]]:
    """Person id -> the (source, record id) records the sample company gave them."""
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with (web_app.data / "ground_truth.csv").open(encoding="utf-8") as file:
        for row in csv.DictReader(file):
            found[row["person_id"]].append((row["source"], row["record_id"]))
    return found


def _profile_of_crm(client: Any, crm_id: str) -> dict[str, Any] | None:
    answer = client.get(f"/api/profiles/by-identifier/customer_id/{crm_id}")
    return answer.json() if answer.status_code == 200 else None


def _thai_with_romanized(web_app: WebApp) -> tuple[dict[str, Any], str, str]:
    """A profile whose golden name is in Thai script and whose CRM record spells it in Latin
    letters: (profile, Thai full name, romanized full name)."""
    with web_app.server.admin() as client:
        for records in _persons(web_app).values():
            crm = [r for s, r in records if s == "crm"]
            if not crm:
                continue
            profile = _profile_of_crm(client, crm[0])
            if profile is None or not profile["golden"]:
                continue
            values = profile["golden"]["values"]
            alts = profile["golden"]["alternatives"]
            if not {"first_name", "last_name"} <= set(values):
                continue
            thai = f"{values['first_name']['value']} {values['last_name']['value']}"
            latin = [
                next((a["value"] for a in alts[f] if not THAI.search(a["value"])), None)
                for f in ("first_name", "last_name")
            ]
            if THAI.search(thai) and all(latin) and "phone" in values:
                return profile, thai, f"{latin[0]} {latin[1]}"
    raise AssertionError("the sample company has no Thai customer with a romanized record")


def _merged_contacts(web_app: WebApp) -> list[tuple[str, list[dict[str, Any]]]]:
    """Vietnamese customers whose CRM and billing contacts were merged into one profile,
    those holding the most records first: (profile id, its identity records)."""
    found = []
    with web_app.server.admin() as client:
        for records in _persons(web_app).values():
            crm = [r for s, r in records if s == "crm"]
            billing = [r for s, r in records if s == "billing" and r.startswith("BVN")]
            if not crm or not billing:
                continue
            profile = _profile_of_crm(client, crm[0])
            if profile is None:
                continue
            identity = client.get(f"/api/profiles/{profile['id']}/identity").json()
            held = {(r["source"], r["record_id"]) for r in identity["records"]}
            if ("crm", crm[0]) in held and ("billing", billing[0]) in held and len(held) > 3:
                found.append((profile["id"], identity["records"]))
    assert len(found) >= 2, "the sample company has too few merged Vietnamese customers"
    return sorted(found, key=lambda f: (-len(f[1]), f[0]))


def _search(page: Any, text: str) -> None:
    box = page.get_by_label("Find a customer")
    box.fill(text)
    box.press("Enter")
    page.wait_for_function(
        "q => new URLSearchParams(location.hash.split('?')[1] || '').get('q') === q", arg=text
    )
    page.locator("#view[data-ready='/customers'] #results[data-count]").wait_for()


def _result_ids(page: Any) -> list[str]:
    return page.locator("#results a[data-profile]").evaluate_all(
        "links => links.map(a => a.dataset.profile)"
    )


def test_a_thai_name_in_script_or_romanized_and_a_phone_in_any_format_find_the_profile(
    page: Any, web_app: WebApp
) -> None:
    profile, thai, romanized = _thai_with_romanized(web_app)
    phone = profile["golden"]["values"]["phone"]["value"]  # +66812345678
    national = "0" + phone[3:]
    dashed = f"{national[:3]}-{national[3:6]}-{national[6:]}"
    spaced = f"+66 {phone[3:5]} {phone[5:8]} {phone[8:]}"
    sign_in(page)
    open_page(page, "/customers")
    for query in (thai, romanized, dashed, spaced):
        _search(page, query)
        assert profile["id"] in _result_ids(page), query
        with web_app.server.admin() as client:
            expected = client.get("/api/profiles", params={"query": query}).json()["profiles"]
        assert _result_ids(page) == [p["id"] for p in expected]
        heading = page.locator("#results h2")
        found = "1 customer" if len(expected) == 1 else f"{len(expected)} customers"
        assert heading.inner_text() == f"{found} found for “{query}”"
    row = page.locator("#results tr", has=page.locator(f"a[data-profile='{profile['id']}']"))
    sources = sorted({i["source"] for i in profile["identifiers"]})
    assert row.locator(".badge").all_inner_texts() == sources
    assert phone in row.inner_text()
    screenshot(page, "customers")
    # the query is kept in the address: a reload shows the same answer
    page.reload()
    page.locator("#view[data-ready='/customers'] #results[data-count]").wait_for()
    assert page.get_by_label("Find a customer").input_value() == spaced
    row.locator("a").click()
    page.locator(f"#view[data-ready='/profiles/{profile['id']}']").wait_for()
    assert page.locator("#profile-name").inner_text() == thai
    _search_nothing(page)


def _search_nothing(page: Any) -> None:
    open_page(page, "/customers")
    _search(page, "qqqxxzzz nobody")
    assert page.locator("#results[data-count='0']").is_visible()
    assert page.get_by_text("No customer matches “qqqxxzzz nobody”").is_visible()


def test_the_profile_shows_golden_values_with_sources_the_timeline_and_the_identity_panel(
    page: Any, web_app: WebApp
) -> None:
    profile_id, _ = _merged_contacts(web_app)[0]
    with web_app.server.admin() as client:
        profile = client.get(f"/api/profiles/{profile_id}").json()
        identity = client.get(f"/api/profiles/{profile_id}/identity").json()
        everything = client.get(f"/api/profiles/{profile_id}/timeline", params={"limit": 500})
        orders = client.get(
            f"/api/profiles/{profile_id}/timeline", params={"kinds": "order", "limit": 500}
        ).json()["items"]
        briefing = client.get(f"/api/profiles/{profile_id}/briefing").json()
    total = len(everything.json()["items"])
    sign_in(page)
    open_page(page, f"/profiles/{profile_id}")
    # each golden value with the source it was taken from
    values = profile["golden"]["values"]
    for name in ("first_name", "last_name", "email", "phone"):
        if name not in values:
            continue
        row = page.locator("#golden tbody tr", has=page.locator(f"[data-field='{name}']"))
        assert row.locator(f"[data-field='{name}']").inner_text() == values[name]["value"]
        assert row.locator("[data-source]").inner_text() == values[name]["source"]
        assert values[name]["record_id"] in row.inner_text()
    assert page.locator("#identifiers tbody tr").count() == len(profile["identifiers"])
    assert page.locator("#next-action").get_by_text(briefing["next_action"]["action"]).is_visible()
    # the timeline: a first page of everything, then only orders, then older orders
    timeline = page.locator("#timeline")
    assert timeline.get_attribute("data-count") == str(min(total, 25))
    assert total > 25 and timeline.get_by_role("button", name="Load older items").is_visible()
    timeline.get_by_label("Order", exact=True).check()
    timeline.get_by_role("button", name="Apply filter").click()
    page.wait_for_function(
        "n => document.querySelector('#timeline').dataset.count === n && "
        "document.querySelector('#timeline').dataset.state === 'ready'",
        arg=str(min(len(orders), 25)),
    )
    kinds = set(timeline.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.kind)"))
    assert orders and kinds == {"order"}
    first = orders[0]
    assert first["record_id"] in timeline.locator("tbody tr").first.inner_text()
    if len(orders) > 25:
        timeline.get_by_role("button", name="Load older items").click()
        page.wait_for_function(
            "n => document.querySelector('#timeline').dataset.count === n", arg=str(len(orders))
        )
    # why the records are one person: every link the API gives, in words
    identity_panel = page.locator("#identity")
    assert identity_panel.locator("[data-because]").count() == len(identity["edges"])
    because = identity_panel.locator("[data-because]").all_text_contents()
    assert all(e["because"] in b for e, b in zip(identity["edges"], because, strict=True))
    assert identity_panel.locator("input[data-record]").count() == len(identity["records"])
    screenshot(page, "profile")


def test_splitting_a_merged_profile_moves_the_records_into_their_own_profile(
    page: Any, web_app: WebApp
) -> None:
    profile_id, records = _merged_contacts(web_app)[-1]  # the profile test reads the first
    crm = next(r for r in records if r["source"] == "crm" and r["kind"] == "contact")
    billing = next(r for r in records if r["source"] == "billing" and r["kind"] == "contact")
    sign_in(page)
    open_page(page, f"/profiles/{profile_id}")
    panel = page.locator("#identity")
    # nothing ticked: the split explains itself instead of asking the server
    panel.get_by_role("button", name="Split the ticked records").click()
    assert (
        panel.get_by_role("alert").inner_text() == "Tick at least one record, and not all of them."
    )
    panel.get_by_label(f"Move crm {crm['record_id']}").check()
    panel.get_by_label("Reason").fill("Two people share this phone")
    panel.get_by_role("button", name="Split the ticked records").click()
    confirm = panel.locator("#split-confirm")
    assert "Move 1 records out of this profile for good?" in confirm.inner_text()
    confirm.get_by_role("button", name="Yes, split").click()
    result = panel.locator("#split-result")
    result.wait_for()
    shown = result.locator("a[data-profile]").all_inner_texts()
    assert len(shown) == 2 and profile_id in shown
    with web_app.server.admin() as client:
        moved = client.get(f"/api/profiles/by-identifier/customer_id/{crm['record_id']}").json()
        kept = client.get(f"/api/profiles/by-identifier/customer_id/{billing['record_id']}").json()
        parts = [client.get(f"/api/profiles/{p}/identity").json() for p in shown]
    # the CRM contact and the billing contact are two people now, each in one of the parts
    assert moved["id"] != kept["id"] and {moved["id"], kept["id"]} == set(shown)
    held = [{(r["source"], r["record_id"]) for r in part["records"]} for part in parts]
    assert sum(("crm", crm["record_id"]) in h for h in held) == 1
    assert sum(("billing", billing["record_id"]) in h for h in held) == 1
    assert sum(len(h) for h in held) == len(records)  # nothing lost, nothing doubled
    result.locator(f"a[data-profile='{moved['id']}']").click()
    page.locator(f"#view[data-ready='/profiles/{moved['id']}']").wait_for()
    assert page.locator("#identity").get_by_text(crm["record_id"]).first.is_visible()


def test_a_marketer_sees_the_same_profile_with_contact_data_masked(
    page: Any, web_app: WebApp
) -> None:
    profile, thai, _ = _thai_with_romanized(web_app)
    values = profile["golden"]["values"]
    sign_in(page, "marketer")
    open_page(page, "/customers")
    assert page.locator("[data-tab=reviews]").count() == 0  # no identity decisions
    _search(page, thai)
    row = page.locator("#results tr", has=page.locator(f"a[data-profile='{profile['id']}']"))
    assert values["phone"]["value"] not in row.inner_text()
    assert row.locator(".masked").count() >= 2
    open_page(page, f"/profiles/{profile['id']}")
    for name in ("email", "phone", "first_name"):
        if name not in values:
            continue
        cell = page.locator(f"#golden [data-field='{name}'] .masked")
        assert cell.get_attribute("title") == "hidden for your role"
        text = cell.inner_text()
        assert text != values[name]["value"] and ("*" in text or "●" in text), text
    row = page.locator("#golden tbody tr", has=page.locator("[data-field='phone']"))
    assert row.locator("[data-source]").inner_text() == values["phone"]["source"]  # provenance
    assert values["phone"]["value"] not in page.locator("#view").inner_text()
    assert page.locator("#split").count() == 0  # no identity.write


def test_a_review_item_is_resolved_from_the_queue(page: Any, web_app: WebApp) -> None:
    sign_in(page)
    open_page(page, "/customers")
    page.locator("[data-tab=reviews]").click()
    page.locator("#view[data-ready='/customers'] #reviews").wait_for()
    with web_app.server.admin() as client:
        before = client.get("/api/identity/reviews", params={"limit": 10}).json()
    status = page.locator("#review-status")
    assert status.get_attribute("data-total") == str(before["total"])
    item = before["items"][0]
    article = page.locator(f"article[data-review='{item['id']}']")
    assert item["a"]["record_id"] in article.locator("[data-side=a]").inner_text()
    assert item["b"]["record_id"] in article.locator("[data-side=b]").inner_text()
    assert item["reason"] in article.inner_text()
    article.get_by_label("Note (optional)").fill("different birth dates")
    article.get_by_role("button", name="Different people: keep apart").click()
    page.locator(f"article[data-review='{item['id']}'][data-decided='apart']").wait_for()
    with web_app.server.admin() as client:
        after = client.get("/api/identity/reviews", params={"limit": 1000}).json()
    assert after["total"] == before["total"] - 1
    assert item["id"] not in {i["id"] for i in after["items"]}
    assert status.get_attribute("data-total") == str(after["total"])


def test_an_analyst_reads_the_queue_but_cannot_decide(page: Any, web_app: WebApp) -> None:
    sign_in(page, "analyst")
    open_page(page, "/customers?tab=reviews")
    assert page.locator("article[data-review]").count() > 0
    assert page.get_by_role("button", name="Same person: merge").count() == 0


def test_the_profile_page_in_thai(page: Any, web_app: WebApp) -> None:
    profile, thai, _ = _thai_with_romanized(web_app)
    sign_in(page)
    choose_language(page, "th")
    open_page(page, f"/profiles/{profile['id']}")
    assert page.get_by_role("heading", name="ข้อมูลหลัก (Golden record)").is_visible()
    assert page.get_by_role("heading", name="ไทม์ไลน์").is_visible()
    assert page.get_by_role("heading", name="ทำไมระเบียนเหล่านี้จึงเป็นคนเดียวกัน").is_visible()
    assert page.locator("#profile-name").inner_text() == thai
    when = page.locator("#timeline tbody tr td").first.inner_text()
    assert re.search(r"25[5-7]\d", when), f"a Buddhist-era year, not {when!r}"
    screenshot(page, "profile-th")
