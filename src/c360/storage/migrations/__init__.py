"""Alembic migrations, run from code: a new database is migrated on first use."""

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

_HERE = Path(__file__).parent


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to ``engine`` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.attributes["engine"] = engine
    return config


@cache
def head_revision() -> str | None:
    """The newest migration's revision, read from the migration files once per process."""
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    return ScriptDirectory.from_config(config).get_current_head()


def upgrade_to_head(engine: Engine) -> None:
    """Apply every migration the database has not had yet.

    A database already at the newest revision is told so by one query: every process opens
    the store (each CLI command, each server start), and Alembic's upgrade would load every
    migration file to find there is nothing to do."""
    if current_revision(engine) == head_revision():
        return
    command.upgrade(alembic_config(engine), "head")


def downgrade_to(engine: Engine, revision: str) -> None:
    """Undo migrations down to ``revision`` (``base`` removes every table)."""
    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        rev: str | None = MigrationContext.configure(conn).get_current_revision()
        return rev
