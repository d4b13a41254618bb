"""``is_conflict`` tells a transaction the store aborted for another one (retry it) from a
fault, with real errors from both stores: the log workers count their retries by it."""

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from tests.conftest import drop_postgres_database_later, new_postgres_database

from c360.storage import create_engine_for
from c360.storage.dialect import is_conflict


def test_a_deadlock_on_postgresql_is_a_conflict_and_a_duplicate_key_is_not() -> None:
    url = new_postgres_database()
    engine = create_engine_for(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE pair (id int PRIMARY KEY)"))
            conn.execute(text("INSERT INTO pair VALUES (1), (2)"))
        locked = [threading.Event(), threading.Event()]
        errors: list[BaseException] = []

        def lock_in_turn(side: int) -> None:
            """Lock one row, wait until the other side holds the other, then ask for it."""
            mine, theirs = (1, 2) if side == 0 else (2, 1)
            try:
                with engine.begin() as conn:
                    lock = text("SELECT id FROM pair WHERE id = :id FOR UPDATE")
                    conn.execute(lock, {"id": mine})
                    locked[side].set()
                    locked[1 - side].wait(10)
                    conn.execute(lock, {"id": theirs})
            except OperationalError as exc:
                errors.append(exc)

        sides = [threading.Thread(target=lock_in_turn, args=(side,)) for side in (0, 1)]
        for thread in sides:
            thread.start()
        for thread in sides:
            thread.join(30)
        assert len(errors) == 1, f"expected one side of the deadlock to fail: {errors}"
        assert is_conflict(errors[0]), repr(errors[0])

        with pytest.raises(IntegrityError) as duplicate, engine.begin() as conn:
            conn.execute(text("INSERT INTO pair VALUES (1)"))
        assert not is_conflict(duplicate.value)
    finally:
        engine.dispose()
        drop_postgres_database_later(url)


def test_a_locked_sqlite_database_is_a_conflict_and_a_missing_table_is_not(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, timeout=0, isolation_level=None)
    waiter = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as locked:
            waiter.execute("BEGIN IMMEDIATE")
        assert is_conflict(locked.value), repr(locked.value)
        with pytest.raises(sqlite3.OperationalError) as missing:
            holder.execute("SELECT * FROM nowhere")
        assert not is_conflict(missing.value)
    finally:
        holder.close()
        waiter.close()
