"""Statements whose SQL differs between SQLite and PostgreSQL."""

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql as psycopg_sql
from sqlalchemy import BigInteger, Column, Connection, MetaData, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable
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


def empty_tables(conn: Connection, tables: Sequence[Table]) -> None:
    """Remove every row and restart generated ids, so a refill numbers rows as the first fill."""
    if conn.dialect.name == "postgresql":
        names = ", ".join(conn.dialect.identifier_preparer.format_table(t) for t in tables)
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY")
        return
    for table in tables:
        conn.execute(table.delete())


def lock_log_appends(conn: Connection) -> None:
    """Serialise appends to the log so that sequence order is commit order.

    Readers of the log advance a checkpoint over ``seq``; if two PostgreSQL transactions could
    commit out of sequence order a reader might pass a row that becomes visible later. SQLite
    already allows one writer at a time.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(3600001)")


_staging_metadata = MetaData()


def _staging_table(table: Table) -> Table:
    """A temporary twin of ``table`` (data columns plus arrival order) for COPY."""
    name = f"{table.name}_incoming"
    if name in _staging_metadata.tables:
        return _staging_metadata.tables[name]
    columns = [Column("arrival", BigInteger, primary_key=True, autoincrement=True)]
    columns += [
        Column(c.name, c.type) for c in table.c if not (c.primary_key and c.autoincrement is True)
    ]
    return Table(
        name,
        _staging_metadata,
        *columns,
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DELETE ROWS",
    )


def insert_many_ignoring_duplicates(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Append many rows, skipping those whose unique key exists, as fast as the engine allows.

    PostgreSQL: COPY into a per-connection temporary table, then one INSERT ... SELECT ...
    ON CONFLICT DO NOTHING in arrival order (about twice as fast as executemany). SQLite:
    executemany of the same INSERT, which is already the fast path there.
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert_ignoring_duplicates(conn, table), list(rows))
        return
    staging = _staging_table(table)
    data_columns = [c.name for c in staging.c if c.name != "arrival"]
    driver: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
    # Every time, not once per connection: a rolled-back transaction takes the table with it.
    conn.execute(CreateTable(staging, if_not_exists=True))
    copy_sql = psycopg_sql.SQL("COPY {} ({}) FROM STDIN").format(
        psycopg_sql.Identifier(staging.name),
        psycopg_sql.SQL(", ").join(psycopg_sql.Identifier(n) for n in data_columns),
    )
    with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row([row[n] for n in data_columns])
    source = select(*(staging.c[n] for n in data_columns)).order_by(staging.c.arrival)
    conn.execute(
        postgresql.insert(table).from_select(data_columns, source).on_conflict_do_nothing()
    )
