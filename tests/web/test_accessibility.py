"""Every page of the web app passes axe-core's WCAG 2.x A and AA rules (labels, names, roles,
contrast, headings, landmarks) in each language, and none is wider than a phone's screen."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from tests.web.conftest import WebApp, choose_language, open_page, sign_in

WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
PAGES = [
    "/",
    "/customers",
    "/profiles/{profile}",
    "/segments",
    "/segments/new",
    "/journeys",
    "/data/sources",
    "/data/quality",
    "/data/privacy",
    "/data/audit",
    "/data/keys",
    "/feedback",
    "/feedback/report",
]


def some_profile(web_app: WebApp) -> str:
    with web_app.server.admin() as client:
        sample = client.post(
            "/api/segments/preview", json={"condition": "email exists", "sample": 1}
        ).json()["sample"]
    return str(sample[0]["id"])


def violations(page: Any) -> list[str]:
    results = Axe().run(page, options=WCAG)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
    ]


def test_the_sign_in_page(page: Any, web_app: WebApp) -> None:
    page.goto("/")
    page.get_by_label("Username").wait_for()
    assert violations(page) == []


@pytest.mark.parametrize("language", ["en", "th"])
def test_every_page(page: Any, web_app: WebApp, language: str) -> None:
    sign_in(page)
    if language != "en":
        choose_language(page, language)
    profile = some_profile(web_app)
    found = {}
    for path in PAGES:
        open_page(page, path.format(profile=profile))
        found[path] = violations(page)
    assert {p: v for p, v in found.items() if v} == {}


def test_pages_fit_a_phone(browser: Any, web_app: WebApp) -> None:
    context = browser.new_context(base_url=web_app.url, viewport={"width": 375, "height": 740})
    phone = context.new_page()
    try:
        sign_in(phone)
        too_wide = {}
        for path in ("/", "/customers", "/segments", "/journeys", "/data/sources", "/feedback"):
            open_page(phone, path)
            width = phone.evaluate("() => document.documentElement.scrollWidth")
            if width > 375:
                too_wide[path] = width
        assert too_wide == {}
    finally:
        context.close()
