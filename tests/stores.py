"""Stores tests share rather than build each: a store loaded once and copied per test, and a
PostgreSQL store put back to new between tests.

Loading a sample (imports through the real path, processing) costs a test a second or more,
and a new PostgreSQL database up to a second on a busy machine; a copy of a loaded SQLite file
costs milliseconds and ``CREATE DATABASE ... TEMPLATE`` a fraction of the load.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, select
from tests.conftest import (
    ADMIN_POSTGRES_URL,
    create_postgres_database,
    drop_postgres_database_later,
    fold_wal,
    fresh_database,
)

from c360.privacy import suppression
from c360.storage import create_engine_for
from c360.storage.tables import metadata


@dataclass(frozen=True)
class Loaded:
    """A store loaded once, to be copied (``copy_of``): a SQLite file, or a PostgreSQL
    database used as a template."""

    kind: str
    location: str
    """The file's path, or the database's name."""


@contextmanager
def loaded_store(
    kind: str, directory: Path, load: Callable[[Engine, Path], object]
) -> Iterator[Loaded]:
    """A new migrated store of ``kind`` with what ``load(engine, directory)`` puts in it,
    removed afterwards. Tests do not use it: each gets a copy."""
    with fresh_database(kind, directory, migrated=True) as url:
        engine = create_engine_for(url)
        try:
            load(engine, directory)
        finally:
            engine.dispose()
        if kind == "sqlite":
            path = url.removeprefix("sqlite:///")
            fold_wal(path)
            yield Loaded(kind, path)
        else:
            yield Loaded(kind, url.rsplit("/", 1)[1])


@contextmanager
def copy_of(loaded: Loaded, directory: Path) -> Iterator[str]:
    """The URL of a new store holding what ``loaded`` holds, as if just loaded; a PostgreSQL
    copy is dropped afterwards."""
    if loaded.kind == "sqlite":
        path = directory / f"c360-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(loaded.location, path)
        yield f"sqlite:///{path}"
        return
    url = f"{ADMIN_POSTGRES_URL.rsplit('/', 1)[0]}/{create_postgres_database(loaded.location)}"
    try:
        yield url
    finally:
        drop_postgres_database_later(url)


Rows = dict[Table, list[dict[str, Any]]]

TABLES = [t for t in reversed(metadata.sorted_tables) if t.name != "audit_log"]
"""Every table but the audit log (append-only), those referring to others first."""


@dataclass
class SharedStore:
    """One PostgreSQL database per module, put back to new before each test (``renew``)."""

    url: str
    engine: Engine
    new: Rows
    """What the store held before anyone used it (the migrations write a checkpoint)."""

    @classmethod
    def of(cls, url: str, engine: Engine) -> SharedStore:
        with engine.connect() as conn:
            found = {t: [dict(r._mapping) for r in conn.execute(select(t))] for t in TABLES}
        return cls(url, engine, {table: rows for table, rows in found.items() if rows})

    def renew(self) -> None:
        """Every table but the audit log emptied, and the rows the migrations wrote put back:
        a tenth of what a new database costs.

        Ids go on from where they were (PostgreSQL's sequences are not restarted): c360
        caches what it read of a store by its URL and ids (source names by id, for one),
        trusting that an id is never used twice in one store. An emptied SQLite file would
        use its ids again, so SQLite tests get a new file each (a copy: milliseconds). The
        suppressions this process cached for the store are forgotten."""
        with self.engine.begin() as conn:
            for table in TABLES:
                conn.execute(table.delete())
            for table in reversed(TABLES):  # those referred to first
                if table in self.new:
                    conn.execute(table.insert(), self.new[table])
        suppression.changed()


@contextmanager
def shared_postgres(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedStore | None]:
    """For a module-scoped fixture parametrized by store: a shared PostgreSQL store, or None
    for SQLite."""
    if request.param == "sqlite":
        yield None
        return
    with fresh_database("postgresql", tmp_path_factory.mktemp("store"), migrated=True) as url:
        engine = create_engine_for(url)
        try:
            yield SharedStore.of(url, engine)
        finally:
            engine.dispose()


@contextmanager
def new_store(shared: SharedStore | None, directory: Path) -> Iterator[str]:
    """A new store's URL: the shared PostgreSQL one renewed, or (SQLite, ``shared`` None) a
    copy of a migrated file in ``directory``."""
    if shared is None:
        with fresh_database("sqlite", directory, migrated=True) as url:
            yield url
        return
    shared.renew()
    yield shared.url


@contextmanager
def engine_on(shared: SharedStore | None, url: str) -> Iterator[Engine]:
    """The shared store's engine, or a new one on ``url`` disposed afterwards."""
    if shared is not None:
        yield shared.engine
        return
    engine = create_engine_for(url)
    try:
        yield engine
    finally:
        engine.dispose()
