"""``c360 profile``, ``c360 traits`` and ``c360 changes`` as an operator uses them.

On SQLite only: each command is a new process, and what the commands call (briefing, search,
settings, refresh, the feed) is tested on both stores in test_customer360.py."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.cli import c360
from tests.customer360 import SOMCHAI, somchai_everywhere, track
from tests.factories import track as track_message


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'c360.db'}"


def test_profile_show_prints_the_briefing_by_identifier(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    somchai_everywhere(engine, tmp_path)
    shown = c360(database_url, "profile", "show", "phone:081-234-5678")
    assert shown.returncode == 0, shown.stderr
    assert "สมชาย ใจดี" in shown.stdout
    assert "Resolve ticket t-1" in shown.stdout
    assert "Running shoes" in shown.stdout
    as_json = c360(database_url, "profile", "show", f"email:{SOMCHAI['email']}", "--json")
    briefing = json.loads(as_json.stdout)
    assert briefing["open_tickets"][0]["ticket_id"] == "t-1"
    missing = c360(database_url, "profile", "show", "email:nobody@example.com")
    assert missing.returncode == 4 and "no profile" in missing.stderr


def test_profile_find_searches_thai_names_romanized(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    somchai_everywhere(engine, tmp_path)
    found = c360(database_url, "profile", "find", "somchai jaidee")
    assert found.returncode == 0, found.stderr
    assert "สมชาย ใจดี" in found.stdout and SOMCHAI["email"] in found.stdout


def test_traits_settings_define_a_trait_that_every_profile_gets(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    somchai_everywhere(engine, tmp_path)
    view = track_message("u-9", event="Product Viewed")
    view["properties"] = {"category": "Shoes"}
    track(engine, view)
    settings = tmp_path / "traits.yml"
    settings.write_text(
        "custom:\n"
        "  - name: shoe_views\n"
        "    of: event\n"
        "    event: Product Viewed\n"
        "    aggregation: count\n"
        "    where: [{property: category, op: eq, value: shoes}]\n",
        encoding="utf-8",
    )
    stored = c360(database_url, "traits", "set", str(settings))
    assert stored.returncode == 0, stored.stderr
    assert "version 1" in stored.stdout
    shown = c360(database_url, "traits", "show")
    assert "shoe_views" in shown.stdout and "base_currency: THB" in shown.stdout
    refreshed = c360(database_url, "traits", "refresh", "--all")
    assert refreshed.returncode == 0, refreshed.stderr
    listed = c360(database_url, "changes", "list", "--kinds", "trait_changed", "--limit", "1000")
    changes = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {"trait": "computed.shoe_views", "old": None, "new": 1} in [
        {k: c["detail"][k] for k in ("trait", "old", "new")} for c in changes
    ]
    bad = tmp_path / "bad.yml"
    bad.write_text("custom: [{name: bad_sum, of: event, aggregation: sum}]\n", encoding="utf-8")
    refused = c360(database_url, "traits", "set", str(bad))
    assert refused.returncode == 2
    assert "trait settings: custom" in refused.stderr and "needs a 'property'" in refused.stderr
