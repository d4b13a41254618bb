"""Every migration goes up and down on both stores."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from tests.conftest import fresh_database

from c360.storage import create_engine_for
from c360.storage.migrations import current_revision, downgrade_to, upgrade_to_head
from c360.storage.tables import metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: the migrations start from nothing here."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


def test_migrations_create_every_table_and_remove_them_again(database_url: str) -> None:
    engine = create_engine_for(database_url)
    try:
        upgrade_to_head(engine)
        assert set(metadata.tables) <= set(inspect(engine).get_table_names())
        head = current_revision(engine)
        assert head is not None

        downgrade_to(engine, "base")
        assert not set(metadata.tables) & set(inspect(engine).get_table_names())
        assert current_revision(engine) is None

        upgrade_to_head(engine)
        assert current_revision(engine) == head
    finally:
        engine.dispose()


def test_upgrading_a_current_database_changes_nothing(database_url: str) -> None:
    engine = create_engine_for(database_url)
    try:
        upgrade_to_head(engine)
        before = sorted(inspect(engine).get_table_names())
        upgrade_to_head(engine)
        assert sorted(inspect(engine).get_table_names()) == before
    finally:
        engine.dispose()
