"""Statements whose SQL differs between SQLite and PostgreSQL."""

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

import orjson
import psycopg
from psycopg import sql as psycopg_sql
from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy import values as sa_values
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.dml import Insert

from c360.storage.sealing import driver_value


def insert_ignoring_duplicates(conn: Connection, table: Table) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING for the connection's engine."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()


def empty_tables(conn: Connection, tables: Sequence[Table]) -> None:
    """Remove every row and restart generated ids, so a refill numbers rows as the first fill."""
    if conn.dialect.name == "postgresql":
        names = ", ".join(conn.dialect.identifier_preparer.format_table(t) for t in tables)
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY")
        return
    for table in tables:
        conn.execute(table.delete())


LOG_LOCK_KEY = 3600001
"""PostgreSQL advisory lock that serialises appends to the event log, so that sequence order
is commit order: readers advance a checkpoint over ``seq`` and must never pass a row that
becomes visible later. SQLite already allows one writer at a time."""


_SQLITE_BUSY_CODES = frozenset({5, 6})
"""SQLITE_BUSY and SQLITE_LOCKED; their extended codes share the low byte."""


def is_conflict(exc: BaseException) -> bool:
    """Whether the store aborted a transaction because another one conflicted with it
    (PostgreSQL: a serialization failure or a deadlock; SQLite: the database stayed locked
    past the busy timeout). Nothing was written, and the same work can succeed when tried
    again; any other error says something is wrong with the work or the store."""
    cause = getattr(exc, "orig", None) or exc
    if isinstance(cause, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
        return True
    code = getattr(cause, "sqlite_errorcode", None)
    return isinstance(cause, sqlite3.OperationalError) and (
        isinstance(code, int) and code & 0xFF in _SQLITE_BUSY_CODES
    )


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
    lock_key: int | None = None,
) -> None:
    """Append many rows, skipping those whose unique key exists, as fast as the engine allows.

    The hot path of ingestion, so it hands tuples straight to the driver (SQLAlchemy's
    per-row parameter processing cost more than the insert itself; the SQL is still compiled
    by SQLAlchemy from the table). SQLite: executemany of INSERT ... ON CONFLICT DO NOTHING.
    PostgreSQL: COPY into a per-connection temporary table, then one INSERT ... SELECT ... ON
    CONFLICT DO NOTHING in arrival order (about twice as fast as executemany); a few rows go
    in one INSERT ... SELECT FROM VALUES instead, saving the COPY's round trips.
    ``lock_key`` (PostgreSQL) names a transaction-level advisory lock taken just before the
    rows reach ``table``, so that it is held as briefly as possible.
    """
    if not rows:
        return
    columns = _data_columns(table)
    values = _driver_rows(table, columns, rows)
    if conn.dialect.name != "postgresql":
        # Multi-row INSERTs, not executemany: sqlite3 releases and retakes the GIL around
        # every statement step, and under load each retake waited for the request thread.
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            pending = list(values)
            for start, size in _sqlite_chunks(len(pending)):
                chunk = pending[start : start + size]
                cursor.execute(
                    _sqlite_insert(conn, table, columns, len(chunk)),
                    list(chain.from_iterable(chunk)),
                )
        finally:
            cursor.close()
        return
    if len(rows) <= _PG_ROWS_WITHOUT_COPY:
        _insert_few_postgresql(conn, table, columns, list(values), lock_key)
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
    if lock_key is not None:
        conn.execute(select(func.pg_advisory_xact_lock(lock_key)))
    source = select(*(staging.c[n] for n in columns)).order_by(staging.c.arrival)
    conn.execute(postgresql.insert(table).from_select(columns, source).on_conflict_do_nothing())


_SQLITE_ROWS_PER_INSERT = 512


def _sqlite_chunks(count: int) -> list[tuple[int, int]]:
    """(start, size) of each INSERT: full chunks, then the rest in powers of two, so that a
    handful of compiled statements serve every row count."""
    chunks = []
    start = 0
    while count - start >= _SQLITE_ROWS_PER_INSERT:
        chunks.append((start, _SQLITE_ROWS_PER_INSERT))
        start += _SQLITE_ROWS_PER_INSERT
    size = _SQLITE_ROWS_PER_INSERT // 2
    while start < count:
        if count - start >= size:
            chunks.append((start, size))
            start += size
        size //= 2
    return chunks


_PG_ROWS_WITHOUT_COPY = 64


def _insert_few_postgresql(
    conn: Connection,
    table: Table,
    columns: list[str],
    rows: list[tuple[Any, ...]],
    lock_key: int | None,
) -> None:
    """One statement for a few rows: the lock (in a CTE every row joins, so it is taken before
    any id is drawn), then INSERT ... SELECT FROM VALUES ... ON CONFLICT DO NOTHING.
    Compiled once per row count and run on the driver: building the statement per call cost
    more than the round trips it saves."""
    key = (table.name, len(rows), lock_key)
    sql = _compiled_few.get(key)
    if sql is None:
        incoming = sa_values(*(Column(c, table.c[c].type) for c in columns), name="incoming")
        incoming = incoming.data(
            [
                tuple(bindparam(f"{c}_{i}", type_=table.c[c].type) for c in columns)
                for i in range(len(rows))
            ]
        )
        source = select(*(incoming.c[c] for c in columns))
        if lock_key is not None:
            locked = func.pg_advisory_xact_lock(literal_column(str(int(lock_key))))
            lock = select(locked.label("locked")).cte("log_lock")
            source = source.select_from(incoming.join(lock, true()))
        statement = postgresql.insert(table).from_select(columns, source)
        sql = str(statement.on_conflict_do_nothing().compile(dialect=conn.dialect))
        _compiled_few[key] = sql
    params = {
        f"{c}_{i}": v for i, row in enumerate(rows) for c, v in zip(columns, row, strict=True)
    }
    driver: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
    with driver.cursor() as cursor:
        cursor.execute(sql, params)


_compiled_few: dict[tuple[str, int, int | None], str] = {}
_compiled_inserts: dict[tuple[str, int, bool], str] = {}


def _sqlite_insert(
    conn: Connection, table: Table, columns: list[str], rows: int, *, ignore: bool = True
) -> str:
    """INSERT ... VALUES (...), ... (``rows`` times), ON CONFLICT DO NOTHING with ``ignore``.

    SQLAlchemy compiles the one-row statement; the row's placeholders are repeated from it
    (compiling 512 rows of bound parameters took a tenth of a second per statement)."""
    sql = _compiled_inserts.get((table.name, rows, ignore))
    if sql is None:
        statement = sqlite.insert(table).values({c: bindparam(c) for c in columns})
        compiled = statement.compile(dialect=conn.dialect)
        assert list(compiled.positiontup or ()) == columns, "unexpected parameter order"
        head, _, group = str(compiled).partition(" VALUES ")
        assert group == f"({', '.join('?' * len(columns))})", f"unexpected INSERT: {compiled}"
        sql = f"{head} VALUES {', '.join([group] * rows)}"
        if ignore:
            sql += " ON CONFLICT DO NOTHING"
        _compiled_inserts[(table.name, rows, ignore)] = sql
    return sql


def insert_many(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT many rows, each naming every column but a generated id, as fast as the engine
    allows; a duplicate key fails the statement as any INSERT does.

    Like :func:`insert_many_ignoring_duplicates`, the rows go to the driver as tuples (JSON
    columns serialised here as the engine's ``json_serializer`` would): SQLite takes
    multi-row INSERTs, PostgreSQL a COPY into the table. For the journey engine's outbox and
    steps, SQLAlchemy's executemany cost 13-21 us a row on PostgreSQL, COPY 2-4.
    """
    if not rows:
        return
    columns = _data_columns(table)
    values = list(_driver_rows(table, columns, rows))
    if conn.dialect.name != "postgresql":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            for start, size in _sqlite_chunks(len(values)):
                cursor.execute(
                    _sqlite_insert(conn, table, columns, size, ignore=False),
                    list(chain.from_iterable(values[start : start + size])),
                )
        finally:
            cursor.close()
        return
    driver: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
    copy_sql = psycopg_sql.SQL("COPY {} ({}) FROM STDIN").format(
        psycopg_sql.Identifier(table.name),
        psycopg_sql.SQL(", ").join(psycopg_sql.Identifier(n) for n in columns),
    )
    with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for row in values:
            copy.write_row(row)


def _driver_rows(
    table: Table, columns: list[str], rows: Sequence[Mapping[str, Any]]
) -> Iterator[tuple[Any, ...]]:
    """The rows as the driver takes them: JSON columns serialised as the engine's
    ``json_serializer`` would, sealed columns encrypted (:mod:`c360.storage.sealing`)."""
    makers: list[Callable[[Any], Any] | None] = []
    for name in columns:
        column_type = table.c[name].type
        maker = driver_value(column_type)
        if maker is None and isinstance(column_type, JSON):
            maker = _json_text
        makers.append(maker)
    if not any(makers):
        yield from map(itemgetter(*columns), rows)
        return
    for row in rows:
        yield tuple(
            row[c] if make is None else make(row[c])
            for c, make in zip(columns, makers, strict=True)
        )


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _data_columns(table: Table) -> list[str]:
    """Columns a row supplies: all but a generated (autoincrement) primary key."""
    return [c.name for c in table.c if not (c.primary_key and c.autoincrement is True)]


def upsert_many(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows, replacing the non-key columns of rows whose primary key exists.

    On SQLite the statement is compiled once and the rows go to the driver as tuples, JSON
    columns serialised here: SQLAlchemy's per-row parameter processing cost more than the
    upsert itself on an import of millions of records.
    """
    if not rows:
        return
    keys = [c.name for c in table.primary_key.columns]
    if conn.dialect.name == "sqlite":
        columns = [c.name for c in table.c]
        sql = _compiled_upserts.get(table.name)
        if sql is None:
            statement = sqlite.insert(table).values({c: bindparam(c) for c in columns})
            updates = {c: statement.excluded[c] for c in columns if c not in keys}
            compiled = statement.on_conflict_do_update(index_elements=keys, set_=updates).compile(
                dialect=conn.dialect
            )
            assert list(compiled.positiontup or ()) == columns, "unexpected parameter order"
            sql = _compiled_upserts[table.name] = str(compiled)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, _driver_rows(table, columns, rows))
        finally:
            cursor.close()
        return
    upsert = postgresql.insert(table)
    updates = {c.name: upsert.excluded[c.name] for c in table.c if c.name not in keys}
    conn.execute(upsert.on_conflict_do_update(index_elements=keys, set_=updates), list(rows))


_compiled_upserts: dict[str, str] = {}


def update_many(
    conn: Connection, table: Table, key: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Set new values in many rows in one statement: each row maps ``key`` to the row to
    change and the same columns to their new values (texts, whole numbers, nulls).

    UPDATE ... FROM the rows given as one JSON parameter (SQLite) or one array per column
    (PostgreSQL), instead of an executemany that SQLAlchemy processes and the server runs
    row by row."""
    if not rows:
        return
    columns = [c for c in rows[0] if c != key]
    for name in (key, *columns):
        if not isinstance(table.c[name].type, Integer | String):
            raise TypeError(f"update_many sets texts and whole numbers, not {table.c[name]}")
    item: list[Any]
    if conn.dialect.name == "sqlite":
        data = orjson.dumps([[row[key], *(row[c] for c in columns)] for row in rows]).decode()
        incoming = func.json_each(bindparam(None, data, unique=True)).table_valued("value")
        incoming = incoming.alias("incoming")
        item = [func.json_extract(incoming.c.value, f"$[{i}]") for i in range(len(columns) + 1)]
    else:
        names = ["k", *(f"c{i}" for i in range(len(columns)))]
        arrays = [
            cast(bindparam(None, [row[n] for row in rows], unique=True), ARRAY(table.c[n].type))
            for n in (key, *columns)
        ]
        incoming = func.unnest(*arrays).table_valued(*names).render_derived("incoming")
        item = [incoming.c[n] for n in names]
    conn.execute(
        update(table)
        .where(table.c[key] == item[0])
        .values({c: item[i + 1] for i, c in enumerate(columns)})
    )


def key_in(conn: Connection, column: Any, values: Sequence[Any]) -> Any:
    """``column IN (values)`` as one bound parameter (a JSON array on SQLite, an array on
    PostgreSQL): thousands of values without compiling thousands of placeholders."""
    if conn.dialect.name == "sqlite":
        table_values: Any = select(literal_column("value")).select_from(
            func.json_each(bindparam(None, orjson.dumps(list(values)).decode(), unique=True))
        )
        return column.in_(table_values.scalar_subquery())
    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type), unique=True))
