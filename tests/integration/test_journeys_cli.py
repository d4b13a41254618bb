"""``c360 journeys`` as an operator uses it: create from YAML, list, show, pause, resume,
update, report and delete, and a definition with a mistake. On SQLite only: each command is
a new process; what the commands call is tested on both stores elsewhere."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.cli import c360
from tests.integration.test_journeys import CART, CONFIG, MINUTE, T0, act, person

from c360.activation.engine import run_cycle


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'c360.db'}"


def ok(database_url: str, *args: str) -> str:
    result = c360(database_url, *args)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def test_create_list_show_pause_resume_report_and_delete(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    definition = tmp_path / "cart.yaml"
    definition.write_text(CART, encoding="utf-8")
    created = ok(database_url, "journeys", "create", str(definition))
    assert "journey 'cart-abandonment' created and active (2 steps)" in created
    taken = c360(database_url, "journeys", "create", str(definition))
    assert taken.returncode == 5 and "exists" in taken.stderr

    listed = ok(database_url, "journeys", "list")
    assert "cart-abandonment" in listed and "event Product Added" in listed
    shown = json.loads(ok(database_url, "journeys", "show", "cart-abandonment", "--json"))
    assert shown["definition"]["goal"]["event"] == "Order Completed"

    assert "is paused" in ok(database_url, "journeys", "pause", "cart-abandonment")
    assert "is active" in ok(database_url, "journeys", "resume", "cart-abandonment")

    somchai = person(engine, tmp_path, 40)
    act(engine, somchai, "Product Added", T0)
    run_cycle(engine, CONFIG, T0)
    run_cycle(engine, CONFIG, T0 + 61 * MINUTE)
    report = ok(database_url, "journeys", "report", "cart-abandonment")
    assert "1 entries" in report and "line" in report and "queued" in report
    as_json = json.loads(ok(database_url, "journeys", "report", "cart-abandonment", "--json"))
    assert as_json["treatment"]["entries"] == 1
    assert as_json["uplift"]["reasons"] == ["the control group is empty"]

    changed = tmp_path / "cart-v2.yaml"
    changed.write_text(CART.replace("1 hour", "2 hours"), encoding="utf-8")
    assert "version 2" in ok(database_url, "journeys", "update", "cart-abandonment", str(changed))

    gone = ok(database_url, "journeys", "delete", "cart-abandonment", "--yes")
    assert "deleted" in gone
    assert "no journeys yet" in ok(database_url, "journeys", "list")


def test_a_definition_with_a_mistake_exits_2_naming_the_field(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    definition = tmp_path / "bad.yaml"
    definition.write_text("name: x\ntrigger: {event: A}\nsteps: [{wait: someday}]\n", "utf-8")
    result = c360(database_url, "journeys", "create", str(definition))
    assert result.returncode == 2
    assert "steps.0.wait" in result.stderr and "not a duration" in result.stderr
    missing = c360(database_url, "journeys", "create", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    unknown = c360(database_url, "journeys", "show", "nope")
    assert unknown.returncode == 4 and "c360 journeys list" in unknown.stderr
