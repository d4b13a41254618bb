"""The web app in a real browser: Playwright drives the system's Chromium (Debian's
``chromium`` package; Playwright downloads no browser) against a live ``c360 serve`` on a
small sample company, signed in as users of each role.

Screenshots: set ``C360_SCREENSHOTS=DIR`` and the tests save each page they show there
(``scripts/screenshots`` refreshes ``docs/screenshots``).

The sample company (generated, imported, resolved, with the users) is built once per test
session, by the first xdist worker that needs it, and each worker serves a copy of its store.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import LiveServer, fold_wal, start_server

from c360.privacy import audit
from c360.privacy.roles import Role
from c360.privacy.users import create_user
from c360.storage.engine import create_engine_for
from c360.storage.migrations import upgrade_to_head

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PASSWORD = "a long test passphrase 7"
USERS = {
    "admin": Role.ADMIN,
    "marketer": Role.MARKETER,
    "sales": Role.SALES,
    "service": Role.SERVICE,
    "finance": Role.FINANCE,
    "analyst": Role.ANALYST,
}
"""Username -> role; every user signs in with PASSWORD."""

CUSTOMERS = 400
SEED = 7


@dataclass
class WebApp:
    """The running server, the sample company it holds, and who can sign in."""

    server: LiveServer
    data: Path
    manifest: Any  # c360.demo.generate.Manifest

    @property
    def url(self) -> str:
        return self.server.url


def _build_company(directory: Path) -> None:
    """Into ``directory``: ``company/`` (the sample company's files) and ``c360.db`` (a SQLite
    store holding it imported and resolved, with the USERS), its WAL folded into the file so
    that a copy of the file is the whole store."""
    from c360.cli.demo import _generate, import_company, resolve_company

    path = directory / "c360.db"
    engine = create_engine_for(f"sqlite:///{path}")
    upgrade_to_head(engine)
    data = directory / "company"
    manifest = _generate(data, CUSTOMERS, SEED)
    import_company(engine, data, manifest)
    resolve_company(engine)
    with engine.begin() as conn:
        for username, role in USERS.items():
            create_user(
                conn,
                username,
                PASSWORD,
                role,
                actor=audit.Actor("cli:test"),
                display_name=f"Test {username}",
            )
    engine.dispose()
    fold_wal(path)


def _sample_company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of the built sample company, shared by the session's xdist workers (the
    pytest-xdist pattern: a file lock in the directory above the workers' own temporary
    directories; ``fcntl.flock`` from the standard library stands in for the ``filelock``
    package). The first worker builds it, the others wait for it; it is complete once its
    ``ready`` file is there (built in place: the store names the files it imported by their
    paths). Without xdist the session's own temporary directory holds it."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    company = shared / "c360-web-company"
    with (shared / "c360-web-company.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (company / "ready").exists():
                shutil.rmtree(company, ignore_errors=True)  # a build that failed halfway
                company.mkdir()
                _build_company(company)
                (company / "ready").touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return company


@pytest.fixture(scope="session")
def web_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebApp]:
    """``c360 serve`` on SQLite holding a 400-customer sample company, resolved: this worker's
    own copy of the store built once per session (the company's files are shared, read only)."""
    from c360.demo.generate import Manifest

    company = _sample_company(tmp_path_factory)
    root = tmp_path_factory.mktemp("webapp")
    shutil.copyfile(company / "c360.db", root / "c360.db")
    url = f"sqlite:///{root / 'c360.db'}"
    data = company / "company"
    server = start_server(url, root)
    try:
        server.wait_processed()
        yield WebApp(server=server, data=data, manifest=Manifest.load(data))
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium, per test module: Playwright's sync API keeps an asyncio loop running while it
    is open, and tests of other modules in the same worker call ``asyncio.run``."""
    if CHROMIUM is None:
        reason = "Chromium is not installed (Debian package chromium; make test installs it)"
        if os.environ.get("C360_REQUIRE_BROWSER"):
            pytest.fail(reason + " and C360_REQUIRE_BROWSER is set")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, web_app: WebApp) -> Iterator[Any]:
    """A fresh browser tab (no cookies, English) on the web app. The test fails if the page
    logs a JavaScript error or a Content-Security-Policy violation, or asks for a label that
    is missing in the language shown."""
    context = browser.new_context(
        base_url=web_app.url, locale="en-GB", viewport={"width": 1280, "height": 900}
    )
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # API answers of 4xx are the app's business (a wrong password is a 401); the browser
    # logs them as "Failed to load resource", so responses are checked here instead.
    tab.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    tab.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} {response.url}")
            if response.status >= 500
            or (
                response.status >= 400
                and "/api/" not in response.url
                and "/auth/" not in response.url
            )
            else None
        ),
    )
    try:
        yield tab
        missing = tab.evaluate("() => [...(window.__c360_missing || [])]")
        assert not missing, f"labels missing a translation: {missing}"
        assert not problems, "\n".join(problems)
    finally:
        context.close()


def sign_in(page: Any, username: str = "admin", password: str = PASSWORD) -> None:
    """Open the app, sign in through the form, and wait for the home page."""
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#view[data-ready]").wait_for()


def open_page(page: Any, path: str) -> None:
    """Go to ``#path`` and wait until the page has drawn itself."""
    page.evaluate("path => { window.location.hash = path }", path)
    page.wait_for_function(
        "path => document.getElementById('view').dataset.ready === path.split('?')[0]", arg=path
    )


def screenshot(page: Any, name: str) -> None:
    """Save the page as ``NAME.png`` when ``C360_SCREENSHOTS`` names a directory."""
    target = os.environ.get("C360_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=True)


def choose_language(page: Any, code: str) -> None:
    """Switch the language with the header's selector and wait for the page to redraw."""
    page.locator("#language").select_option(code)
    page.wait_for_function("code => document.documentElement.lang === code", arg=code)
    page.locator("#view[data-ready]").wait_for()
