"""``GET /api/dashboard``: the home page's numbers equal what the store holds, per calendar
day in the deployment's time zone, and each section is there only for roles that may see it."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from tests.conftest import fresh_database
from tests.customer360 import track
from tests.factories import identify
from tests.factories import track as tracked

from c360.api.app import build_app
from c360.api.dashboard import build_dashboard, first_seq_since
from c360.changes.feed import ChangeKind
from c360.privacy.keys import Role, create_key
from c360.settings import Settings
from c360.storage import create_engine_for, upgrade_to_head
from c360.storage.tables import event_log, profile_changes, profiles

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

BANGKOK = ZoneInfo("Asia/Bangkok")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One store per module and engine: every test here reads the same forty people."""
    with fresh_database(request.param, tmp_path_factory.mktemp("store"), migrated=True) as url:
        yield url


@pytest.fixture(scope="module")
def busy(store_url: str) -> Iterator[Engine]:
    """Forty people, each identified and then browsing, from two sources: built once per store
    (logging and applying 80 messages is most of this module's time). No test here logs an
    event or changes a profile, so each reads the store as this fixture left it."""
    engine = create_engine_for(store_url)
    upgrade_to_head(engine)
    for n in range(40):
        track(engine, identify(f"user-{n}", email=f"p{n}@example.com"), source="web")
        track(engine, tracked(f"user-{n}", "Product Viewed"), source="app" if n % 3 else "web")
    yield engine
    engine.dispose()


def test_the_numbers_are_the_stores_per_local_day(busy: Engine) -> None:
    with busy.connect() as conn:
        stamps = conn.execute(select(event_log.c.received_at_us)).scalars().all()
        created = (
            conn.execute(
                select(profile_changes.c.at_us).where(
                    profile_changes.c.kind == ChangeKind.PROFILE_CREATED.value
                )
            )
            .scalars()
            .all()
        )
        live = conn.execute(
            select(func.count()).select_from(profiles).where(profiles.c.merged_into.is_(None))
        ).scalar_one()
        now_us = max(stamps) + 3_600_000_000
        board = build_dashboard(conn, Role.ADMIN, BANGKOK, 7, now_us)

    def per_day(values: list[int]) -> Counter[str]:
        return Counter(datetime.fromtimestamp(v / 1e6, BANGKOK).date().isoformat() for v in values)

    shown = {d.day: d.count for d in board.events_per_day}
    assert len(shown) == 7 and sum(shown.values()) == len(stamps) == 80
    assert {d: n for d, n in shown.items() if n} == dict(per_day(stamps))
    assert board.profiles == live == 40
    # the change feed is stamped by the wall clock, the test's log by its own clock
    with busy.connect() as conn:
        later = build_dashboard(conn, Role.ADMIN, BANGKOK, 7, max(created) + 3_600_000_000)
    assert {d.day: d.count for d in later.new_profiles if d.count} == dict(per_day(created))
    assert len(created) == 40
    assert {s.name: s.events for s in board.sources or []} == {"web": 40 + 14, "app": 26}


def test_the_window_starts_at_local_midnight_and_finds_its_first_position(busy: Engine) -> None:
    with busy.connect() as conn:
        rows = conn.execute(select(event_log.c.seq, event_log.c.received_at_us)).all()
        for _, at in [*rows[::7], (0, rows[-1][1] + 1), (0, 0)]:
            expected = min((s for s, t in rows if t >= at), default=rows[-1][0] + 1)
            assert first_seq_since(conn, at) == expected
        now_us = rows[-1][1]
        assert build_dashboard(conn, Role.ADMIN, BANGKOK, 1, now_us).events_per_day[0].day == (
            datetime.fromtimestamp(now_us / 1e6, BANGKOK).date().isoformat()
        )


@pytest.fixture(scope="module")
def client(busy: Engine, store_url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    keys = {}
    with busy.begin() as conn:
        for role in (Role.ADMIN, Role.FINANCE, Role.ANALYST):
            _, keys[role.value] = create_key(conn, name=role.value, role=role, source=None)
        _, keys["writer"] = create_key(conn, name="site", role=Role.WRITER, source="web")
    app = build_app(
        Settings(database_url=store_url, timezone="Asia/Bangkok"), busy, run_worker=False
    )
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client, keys


def test_each_role_gets_the_sections_of_its_areas(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    http, keys = client

    def board(role: str, status: int = 200) -> dict[str, object]:
        answer = http.get("/api/dashboard", headers={"Authorization": f"Bearer {keys[role]}"})
        assert answer.status_code == status, answer.text
        return dict(answer.json())

    admin = board("admin")
    assert admin["profiles"] == 40 and admin["timezone"] == "Asia/Bangkok"
    assert {"sources", "top_segments", "journeys", "feedback_by_sentiment"} <= {
        k for k, v in admin.items() if v is not None
    }
    finance = board("finance")
    assert finance["profiles"] == 40
    assert finance["sources"] is None and finance["journeys"] is None
    assert finance["top_segments"] == [] and finance["feedback_by_sentiment"] == {}
    analyst = board("analyst")
    assert analyst["sources"] is not None and analyst["journeys"] == []
    board("writer", 403)
    assert (
        http.get(
            "/api/dashboard",
            params={"days": 0},
            headers={"Authorization": f"Bearer {keys['admin']}"},
        ).status_code
        == 422
    )
