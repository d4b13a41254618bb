"""The web app's frame: sign-in, navigation by role, languages, offline assets, the home
dashboard, and that every page's labels exist in English, Thai and Vietnamese."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import httpx
from tests.web.conftest import (
    PASSWORD,
    WebApp,
    choose_language,
    open_page,
    screenshot,
    sign_in,
)

PAGES = sorted(
    p.name.removesuffix(".js")
    for p in resources.files("c360.web").joinpath("static/js/pages").iterdir()
    if p.name.endswith(".js")
)


def test_a_wrong_password_is_refused_and_the_right_one_opens_the_home_page(
    page: Any, web_app: WebApp
) -> None:
    page.goto("/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="Wrong username or password").wait_for()
    assert page.locator("nav").count() == 0
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#view[data-ready='/']").wait_for()
    assert page.get_by_role("heading", name="Home").is_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "c360_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    screenshot(page, "home")


def test_the_dashboard_shows_the_stores_numbers(page: Any, web_app: WebApp) -> None:
    with web_app.server.admin() as client:
        board = client.get("/api/dashboard").json()
    assert board["profiles"] > 100
    assert sum(d["count"] for d in board["events_per_day"]) > 1000  # the import, today
    sign_in(page)
    profiles = page.locator("[data-stat=profiles] .stat").inner_text()
    assert int(re.sub(r"\D", "", profiles)) == board["profiles"]
    sources = page.locator("#sources tbody tr")
    assert sources.count() == len(board["sources"])
    assert page.locator("#sources").get_by_text("crm", exact=True).is_visible()
    assert page.locator("figure.chart svg[role=img]").count() >= 2


def test_each_role_sees_only_its_areas(page: Any, web_app: WebApp) -> None:
    sign_in(page, "finance")
    nav = page.locator("nav a").all_inner_texts()
    assert nav == ["Home", "Customers", "Segments", "Feedback"]
    assert page.locator("#sources").count() == 0  # finance does not read sources
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Username").wait_for()
    sign_in(page, "analyst")
    assert "Data" in page.locator("nav a").all_inner_texts()
    assert page.locator("#sources").is_visible()


def test_signing_out_ends_the_session_on_the_server(page: Any, web_app: WebApp) -> None:
    sign_in(page)
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "c360_session")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Username").wait_for()
    answer = httpx.get(f"{web_app.url}/api/dashboard", cookies={"c360_session": token})
    assert answer.status_code == 401


def test_thai_and_vietnamese_labels_dates_and_numbers(page: Any, web_app: WebApp) -> None:
    sign_in(page)
    choose_language(page, "th")
    assert page.locator("nav a").first.inner_text() == "หน้าแรก"
    assert page.get_by_role("heading", name="โปรไฟล์ลูกค้า").is_visible()
    # the app's formatters follow the language: Thai dates count years in the Buddhist era
    formatted = page.evaluate(
        """() => import('/static/js/core/i18n.js').then(m =>
             [m.date('2026-03-01T12:00:00'), m.number(1234567.5), m.money(1500, 'THB')])"""
    )
    assert "2569" in formatted[0] and "มี.ค." in formatted[0], formatted
    assert formatted[1] == "1,234,567.5" and "฿" in formatted[2], formatted
    day = page.locator("figure.chart text").nth(2).text_content() or ""
    assert re.search(r"[ก-๙]", day), f"a Thai month name, not {day!r}"
    screenshot(page, "home-th")
    choose_language(page, "vi")
    assert page.locator("nav a").nth(1).inner_text() == "Khách hàng"
    assert page.get_by_role("heading", name="Hồ sơ khách hàng").is_visible()
    page.reload()
    page.locator("#view[data-ready]").wait_for()
    assert page.locator("html").get_attribute("lang") == "vi"  # the choice is remembered
    formatted = page.evaluate(
        """() => import('/static/js/core/i18n.js')
             .then(m => [m.number(1234567.5), m.money(1500, 'VND')])"""
    )
    assert formatted[0] == "1.234.567,5" and "₫" in formatted[1], formatted


def test_thai_and_vietnamese_text_render_in_the_bundled_fonts(page: Any, web_app: WebApp) -> None:
    sign_in(page)
    choose_language(page, "th")
    for family, sample in (("Noto Sans Thai", "สมชาย ใจดี"), ("Noto Sans", "Nguyễn Thị Ánh")):
        loaded = page.evaluate(
            "([f, s]) => document.fonts.load(`16px '${f}'`, s).then(fs => fs.length)",
            [family, sample],
        )
        assert loaded >= 1, f"{family} did not load for {sample}"


def test_nothing_is_loaded_from_elsewhere(page: Any, web_app: WebApp) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page)
    choose_language(page, "th")
    for path in ("/customers", "/segments", "/journeys", "/data", "/feedback"):
        open_page(page, path)
    outside = [u for u in requested if not u.startswith(web_app.url)]
    assert requested and not outside, outside


def test_the_keyboard_reaches_the_skip_link_and_the_navigation(page: Any, web_app: WebApp) -> None:
    sign_in(page)
    # after signing in, and after each navigation, the keyboard is in the page's content
    assert page.evaluate("() => document.activeElement.id") == "view"
    open_page(page, "/customers")
    assert page.evaluate("() => document.activeElement.id") == "view"
    # a page loaded afresh starts at the skip link, then the brand and the navigation
    open_page(page, "/")
    page.reload()
    page.locator("#view[data-ready]").wait_for()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "c360"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.dataset.nav") == "dashboard"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # the skip link: to the content, the address unchanged
    assert page.evaluate("() => document.activeElement.id") == "view"
    assert page.evaluate("() => window.location.hash") == "#/"
    # the language selector keeps the focus while the page redraws in the new language
    page.locator("#language").focus()
    page.keyboard.press("ArrowDown")  # English -> Thai
    page.wait_for_function("() => document.documentElement.lang === 'th'")
    page.locator("#view[data-ready]").wait_for()
    assert page.evaluate("() => document.activeElement.id") == "language"


def test_every_page_has_every_label_in_every_language(page: Any, web_app: WebApp) -> None:
    sign_in(page)
    assert {"dashboard"} <= set(PAGES)
    gaps = page.evaluate(
        """async (pages) => {
          const out = [];
          const modules = [["core/common", await import("/static/js/core/common.js")]];
          for (const name of pages) {
            modules.push([name, await import(`/static/js/pages/${name}.js`)]);
          }
          for (const [name, m] of modules) {
            const keys = new Set(Object.values(m.messages).flatMap(Object.keys));
            for (const lang of ["en", "th", "vi"]) {
              for (const key of keys) {
                const text = (m.messages[lang] || {})[key];
                if (!text) out.push(`${name} ${lang} ${key}`);
              }
            }
          }
          return out;
        }""",
        PAGES,
    )
    assert gaps == []
