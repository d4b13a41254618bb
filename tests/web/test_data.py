"""The Data pages in a browser: sources with their import history, quality, quarantine and its
retry after a mapping fix, consents, privacy requests, the audit log and API keys; each tab
shows what the API holds, and only to the roles that may see it."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from tests.web.conftest import WebApp, open_page, screenshot, sign_in

from c360.ingest.mapping import parse_mapping
from c360.profiles.service import find_by_identifier
from c360.storage.engine import create_engine_for
from c360.storage.tables import profiles
from c360.workers.imports import import_file

BROKEN = """\
source: legacy
kind: contact
record_id: member_number
fields:
  full_name: name
identifiers:
  email: email
"""
ROWS = (
    "member_no,name,email\n"
    "L-1,Somchai Jaidee,somchai.legacy@example.co.th\n"
    "L-2,Nguyễn Văn An,an.legacy@example.vn\n"
)


def digits(text: str) -> int:
    return int(re.sub(r"\D", "", text))


def some_profile(web_app: WebApp) -> str:
    engine = create_engine_for(web_app.server.database_url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(select(profiles.c.id).limit(1)).scalar_one())
    finally:
        engine.dispose()


def test_sources_show_each_source_and_its_import_history(page: Any, web_app: WebApp) -> None:
    with web_app.server.admin() as client:
        sources = client.get("/api/sources").json()
        quality = {q["source"]: q for q in client.get("/api/quality").json()}
        runs = client.get("/api/sources/billing/imports").json()["runs"]
    sign_in(page)
    open_page(page, "/data")
    rows = page.locator("#tab-sources tbody tr")
    assert rows.count() == len(sources)
    crm = rows.filter(has=page.get_by_role("link", name="crm", exact=True))
    assert digits(crm.locator("td").nth(1).inner_text()) == quality["crm"]["records"]
    screenshot(page, "data-sources")
    page.get_by_role("link", name="billing", exact=True).click()
    page.wait_for_function(
        "() => document.getElementById('view').dataset.ready === '/data/sources/billing'"
    )
    assert page.get_by_role("heading", name="Import history of billing").is_visible()
    history = page.locator("#tab-sources tbody tr")
    assert history.count() == len(runs) == 4  # four files of the billing system
    assert history.first.locator("td").first.inner_text() == runs[0]["location"]
    assert history.first.locator("td").nth(2).inner_text() == "done"
    assert digits(history.first.locator("td").nth(4).inner_text()) == runs[0]["read"] > 0
    assert digits(history.first.locator("td").nth(5).inner_text()) == runs[0]["new"]


def test_quality_shows_every_source_and_field(page: Any, web_app: WebApp) -> None:
    with web_app.server.admin() as client:
        report = client.get("/api/quality").json()
    sign_in(page)
    open_page(page, "/data/quality")
    assert page.locator("#tab-quality section[data-source]").count() == len(report)
    crm = next(s for s in report if s["source"] == "crm")
    card = page.locator("section[data-source=crm]")
    assert card.locator("tbody tr").count() == len(crm["fields"])
    assert card.get_by_role("heading").inner_text().startswith("crm")
    screenshot(page, "data-quality")


def test_a_quarantined_row_is_inspected_and_retried_after_the_mapping_is_fixed(
    page: Any, web_app: WebApp, tmp_path: Path
) -> None:
    path = tmp_path / "legacy_members.csv"
    path.write_text(ROWS, "utf-8")
    engine = create_engine_for(web_app.server.database_url)
    try:
        summary = import_file(
            engine, path, source="legacy", mapping=parse_mapping(BROKEN), mapping_text=BROKEN
        )
    finally:
        engine.dispose()
    assert summary.quarantined == 2
    sign_in(page)
    open_page(page, "/data/quarantine?source=legacy")
    assert page.locator("[data-open]").get_attribute("data-open") == "2"
    with web_app.server.admin() as client:
        rejects = client.get("/api/sources/legacy/rejects").json()["rejects"]
    first = rejects[-1]
    page.get_by_role("button", name=f"Inspect item {first['id']}").click()
    detail = page.locator("#reject-detail")
    assert detail.get_by_text("missing_record_id").is_visible()
    assert detail.get_by_text("legacy_members.csv:2", exact=True).is_visible()
    assert detail.get_by_role("cell", name="Somchai Jaidee").is_visible()
    screenshot(page, "data-quarantine")

    mapping = page.get_by_label(re.compile(r"Mapping \(YAML\)"))
    mapping.fill(mapping.input_value().replace("member_number", "member_no"))
    page.get_by_role("button", name="Retry open rows").click()
    page.locator("[data-open='0']").wait_for()
    assert page.locator("#toast").inner_text().startswith("Retried 2: 2 brought in")
    with web_app.server.admin() as client:
        after = client.get("/api/sources/legacy/rejects").json()["rejects"]
        assert all(r["resolvedAt"] for r in after)
        assert client.get("/api/sources/legacy/mapping").json()["version"] == 2
        runs = client.get("/api/sources/legacy/imports").json()["runs"]
    assert (runs[0]["kind"], runs[0]["new"], runs[0]["quarantined"]) == ("retry", 2, 0)


def test_a_consent_is_recorded_and_shown_with_its_ledger(page: Any, web_app: WebApp) -> None:
    profile_id = some_profile(web_app)
    sign_in(page)
    open_page(page, f"/data/consents?profile={profile_id}")
    with web_app.server.admin() as client:
        before = client.get(f"/api/profiles/{profile_id}/consents").json()
    assert page.locator("[data-ledger]").get_attribute("data-ledger") == str(len(before["ledger"]))
    page.get_by_label("Purpose").select_option("marketing")
    page.get_by_label("Channel").select_option("email")
    page.get_by_label("Notice text shown to the person").fill("ยินยอมรับข่าวสารทางอีเมล")
    page.get_by_role("button", name="Record").click()
    page.locator(f"[data-ledger='{len(before['ledger']) + 1}']").wait_for()
    with web_app.server.admin() as client:
        after = client.get(f"/api/profiles/{profile_id}/consents").json()
    assert after["state"]["purposes"]["marketing"]["channels"]["email"] is True
    ledger = page.locator("[data-ledger] tbody tr")
    assert ledger.count() == len(after["ledger"])
    assert page.get_by_role("link", name="Download the proof (JSON)").is_visible()


def test_a_purpose_a_site_tracked_but_not_configured_is_shown_marked_and_not_offered(
    page: Any, web_app: WebApp
) -> None:
    user = f"cookie-{uuid.uuid4().hex[:10]}"
    given = {"marketing": True, "Advertising": False}
    with httpx.Client(
        base_url=web_app.url,
        headers={"Authorization": f"Bearer {web_app.server.write_key}"},
        timeout=30,
    ) as client:
        client.post(
            "/v1/page",
            json={"userId": user, "context": {"consent": {"categoryPreferences": given}}},
        ).raise_for_status()
    web_app.server.wait_processed()
    engine = create_engine_for(web_app.server.database_url)
    try:
        with engine.connect() as conn:
            profile_id = find_by_identifier(conn, "user_id", user).id
    finally:
        engine.dispose()
    sign_in(page)
    open_page(page, f"/data/consents?profile={profile_id}")
    page.locator("[data-ledger='2']").wait_for()
    state = page.locator("table").first
    row = state.locator("tbody tr").filter(has_text="Advertising")
    assert "not configured" in row.inner_text()
    marketing = state.locator("tbody tr").filter(has_text="Marketing")
    assert "not configured" not in marketing.inner_text()
    offered = page.get_by_label("Purpose").locator("option").all_inner_texts()
    assert "Advertising" not in offered and "Sharing with third parties" in offered


def test_an_access_request_is_filed_listed_with_its_deadline_and_run(
    page: Any, web_app: WebApp
) -> None:
    profile_id = some_profile(web_app)
    sign_in(page)
    open_page(page, "/data/privacy")
    page.get_by_label("Kind").select_option("access")
    page.get_by_label(re.compile("Who it is about")).fill(profile_id)
    page.get_by_role("button", name="File", exact=True).click()
    page.get_by_text(re.compile(r"Request \d+ filed; deadline")).wait_for()
    with web_app.server.admin() as client:
        items = client.get("/api/privacy/requests").json()["items"]
    mine = next(r for r in items if r["subject"] == profile_id and r["kind"] == "access")
    page.locator(f"#requests[data-count='{len(items)}']").wait_for()
    row = page.locator("#requests tbody tr").filter(
        has=page.get_by_role("link", name=f"Request {mine['id']}")
    )
    deadline = row.locator("[data-deadline]")
    assert deadline.get_attribute("data-deadline") == mine["deadline"]
    assert "received" in row.inner_text()
    screenshot(page, "data-privacy")
    row.get_by_role("link", name=f"Request {mine['id']}").click()
    page.get_by_role("button", name="Run").click()
    page.locator("#request-status").get_by_text("completed").wait_for()
    link = page.get_by_role("link", name="Download the access export (JSON)")
    answer = page.request.get(link.get_attribute("href"))
    assert answer.status == 200 and answer.json()["profile"]["id"] == profile_id


def test_the_audit_log_shows_the_sign_in_and_the_chain_check(page: Any, web_app: WebApp) -> None:
    sign_in(page)
    open_page(page, "/data/audit?actor=user:admin&action=user.sign_in")
    with web_app.server.admin() as client:
        entries = client.get(
            "/api/audit", params={"actor": "user:admin", "action": "user.sign_in"}
        ).json()["items"]
    assert entries, "the sign-in is in the log"
    rows = page.locator("#audit-rows tbody tr")
    assert rows.count() == len(entries)
    assert "user.sign_in" in rows.first.inner_text() and "user:admin" in rows.first.inner_text()
    page.get_by_role("button", name="Check the hash chain").click()
    chain = page.locator("#chain")
    chain.wait_for()
    assert chain.get_attribute("data-ok") == "true"
    assert re.search(r"The chain is intact: [\d,]+ entries verify", chain.inner_text())
    screenshot(page, "data-audit")


def test_a_key_is_created_shown_once_and_revoked(page: Any, web_app: WebApp) -> None:
    sign_in(page)
    open_page(page, "/data/keys")
    with web_app.server.admin() as client:
        keys = client.get("/api/keys").json()
    assert page.locator("#keys tbody tr").count() == len(keys)
    page.get_by_label("Name (who or what uses it)").fill("bi dashboard")
    page.get_by_label("Role", exact=True).select_option("analyst")
    page.get_by_role("button", name="Create", exact=True).click()
    secret = page.locator("[data-secret]").inner_text()
    assert secret.startswith("nk_")
    assert page.locator("#keys tbody tr").count() == len(keys) + 1
    made = httpx.get(f"{web_app.url}/api/quality", headers={"Authorization": f"Bearer {secret}"})
    assert made.status_code == 200
    screenshot(page, "data-keys")
    open_page(page, "/data/quality")
    open_page(page, "/data/keys")
    assert secret not in page.content()  # shown once
    with web_app.server.admin() as client:
        key = next(k for k in client.get("/api/keys").json() if k["name"] == "bi dashboard")
    page.get_by_role("button", name=f"Revoke key {key['id']}").click()
    page.get_by_text(f"Key {key['id']} revoked.").wait_for()
    deadline = time.monotonic() + 15  # servers cache keys for at most a few seconds
    status = 200
    while time.monotonic() < deadline and status != 401:
        status = httpx.get(
            f"{web_app.url}/api/quality", headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        time.sleep(0.5)
    assert status == 401


def test_an_analyst_sees_sources_and_quality_but_not_keys_or_audit(
    page: Any, web_app: WebApp
) -> None:
    sign_in(page, "analyst")
    open_page(page, "/data")
    tabs = page.locator("nav[aria-label='Data areas'] a").all_inner_texts()
    assert tabs == ["Sources", "Quality", "Quarantine"]
    open_page(page, "/data/quality")
    assert page.locator("#tab-quality section[data-source]").count() > 0
    for tab in ("keys", "audit"):
        open_page(page, f"/data/{tab}")
        assert page.get_by_text("Your role may not see this page.").is_visible()
        assert page.locator(f"#tab-{tab}").count() == 0
    assert page.request.get(f"{web_app.url}/api/keys").status == 403
