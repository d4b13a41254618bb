"""Statements whose SQL differs between SQLite and PostgreSQL."""

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def insert_ignoring_duplicates(conn: Connection, table: Table) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING for the connection's engine."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()


def upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], key: list[str]) -> None:
    """Insert ``rows``, replacing the non-key columns of rows whose ``key`` exists."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table)
    changed = {c.name: stmt.excluded[c.name] for c in table.c if c.name not in key}
    conn.execute(stmt.on_conflict_do_update(index_elements=key, set_=changed), rows)


def lock_log_appends(conn: Connection) -> None:
    """Serialise appends to the log so that sequence order is commit order.

    Readers of the log advance a checkpoint over ``seq``; if two PostgreSQL transactions could
    commit out of sequence order a reader might pass a row that becomes visible later. SQLite
    already allows one writer at a time.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(3600001)")
