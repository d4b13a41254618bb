"""Statements whose SQL differs between SQLite and PostgreSQL."""

from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

import psycopg
from psycopg import sql as psycopg_sql
from sqlalchemy import BigInteger, Column, Connection, MetaData, Table, bindparam, select
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
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    before_insert: Callable[[Connection], None] | None = None,
) -> None:
    """Append many rows, skipping those whose unique key exists, as fast as the engine allows.

    The hot path of ingestion, so it hands tuples straight to the driver (SQLAlchemy's
    per-row parameter processing cost more than the insert itself; the SQL is still compiled
    by SQLAlchemy from the table). SQLite: executemany of INSERT ... ON CONFLICT DO NOTHING.
    PostgreSQL: COPY into a per-connection temporary table, then one INSERT ... SELECT ... ON
    CONFLICT DO NOTHING in arrival order (about twice as fast as executemany).
    ``before_insert`` runs just before the rows reach ``table`` (after the COPY), so a lock it
    takes is held as briefly as possible.
    """
    if not rows:
        if before_insert is not None:
            before_insert(conn)
        return
    columns = _data_columns(table)
    values = map(itemgetter(*columns), rows)
    if conn.dialect.name != "postgresql":
        if before_insert is not None:
            before_insert(conn)
        # Multi-row INSERTs, not executemany: sqlite3 releases and retakes the GIL around
        # every statement step, and under load each retake waited for the request thread.
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            pending = list(values)
            for start in range(0, len(pending), _SQLITE_ROWS_PER_INSERT):
                chunk = pending[start : start + _SQLITE_ROWS_PER_INSERT]
                cursor.execute(
                    _sqlite_insert(conn, table, columns, len(chunk)),
                    list(chain.from_iterable(chunk)),
                )
        finally:
            cursor.close()
        return
    staging = _staging_table(table)
    driver: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
    # Every time, not once per connection: a rolled-back transaction takes the table with it.
    conn.execute(CreateTable(staging, if_not_exists=True))
    copy_sql = psycopg_sql.SQL("COPY {} ({}) FROM STDIN").format(
        psycopg_sql.Identifier(staging.name),
        psycopg_sql.SQL(", ").join(psycopg_sql.Identifier(n) for n in columns),
    )
    with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for row in values:
            copy.write_row(row)
    if before_insert is not None:
        before_insert(conn)
    source = select(*(staging.c[n] for n in columns)).order_by(staging.c.arrival)
    conn.execute(postgresql.insert(table).from_select(columns, source).on_conflict_do_nothing())


_SQLITE_ROWS_PER_INSERT = 500
_compiled_inserts: dict[tuple[str, int], str] = {}


def _sqlite_insert(conn: Connection, table: Table, columns: list[str], rows: int) -> str:
    """INSERT ... VALUES (...), ... (``rows`` times) ON CONFLICT DO NOTHING, compiled once."""
    sql = _compiled_inserts.get((table.name, rows))
    if sql is None:
        statement = (
            sqlite.insert(table)
            .values([{c: bindparam(f"{c}_{i}") for c in columns} for i in range(rows)])
            .on_conflict_do_nothing()
        )
        compiled = statement.compile(dialect=conn.dialect)
        sql = str(compiled)
        # positional parameters in row-major order, as the caller flattens them
        expected = [f"{c}_{i}" for i in range(rows) for c in columns]
        assert compiled.positiontup == expected, "unexpected parameter order"
        _compiled_inserts[(table.name, rows)] = sql
    return sql


def _data_columns(table: Table) -> list[str]:
    """Columns a row supplies: all but a generated (autoincrement) primary key."""
    return [c.name for c in table.c if not (c.primary_key and c.autoincrement is True)]
