"""Reading a table of another application (a CRM, a billing system), incrementally.

With a cursor column (``updated_at``, an increasing id), a run reads only rows whose cursor is
at or past the value stored by the previous run, in cursor order, and the new value is stored
in the same transaction as the rows it covers: a crashed run resumes where it committed. Rows
exactly at the stored value are read again (another row may have been written with the same
value after the last run read); they are unchanged records, so they log nothing.
"""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchTableError, SQLAlchemyError

from c360.errors import InvalidInput, UpstreamError
from c360.ingest.records import IncomingRow
from c360.kernel.clock import system_clock
from c360.storage.dialect import upsert_many
from c360.storage.tables import import_cursors

_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}
_DRIVERS |= {"mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql"}


def is_database_url(location: str) -> bool:
    return "://" in location


def external_engine(url: str) -> tuple[Engine, str]:
    """An engine for another application's database, and its URL with the password hidden."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput(f"not a database URL: {url!r}") from None
    if "+" not in parsed.drivername and parsed.drivername in _DRIVERS:
        parsed = parsed.set(drivername=_DRIVERS[parsed.drivername])
    backend = parsed.get_backend_name()
    if backend not in ("postgresql", "mysql", "mariadb", "sqlite"):
        raise InvalidInput(
            f"database imports read PostgreSQL, MariaDB/MySQL or SQLite, not {backend!r}"
        )
    shown = parsed.render_as_string(hide_password=True)
    return create_engine(parsed, pool_pre_ping=True), shown


@dataclass(frozen=True, slots=True)
class TableRead:
    """One table to read, and where the previous run stopped."""

    engine: Engine
    shown_url: str
    table: Table
    cursor_column: str | None
    after: Any

    @property
    def location(self) -> str:
        return f"{self.shown_url}#{self.table.name}"


def open_table(
    conn: Connection, source_id: int, url: str, table_name: str, cursor_column: str | None
) -> TableRead:
    """Reflect ``table_name`` and find the stored cursor of this source for it."""
    engine, shown = external_engine(url)
    try:
        return _open(conn, source_id, engine, shown, table_name, cursor_column)
    except BaseException:
        engine.dispose()
        raise


def _open(
    conn: Connection,
    source_id: int,
    engine: Engine,
    shown: str,
    table_name: str,
    cursor_column: str | None,
) -> TableRead:
    schema, _, name = table_name.rpartition(".")
    try:
        table = Table(name, MetaData(), schema=schema or None, autoload_with=engine)
    except NoSuchTableError:
        raise InvalidInput(f"{shown} has no table {table_name!r}") from None
    except SQLAlchemyError as exc:
        raise UpstreamError(
            f"cannot read {shown}: {type(exc).__name__}: {str(exc).splitlines()[0]}",
            retryable=True,
        ) from None
    if cursor_column is not None and cursor_column not in table.c:
        columns = ", ".join(table.c.keys())
        raise InvalidInput(f"table {table_name!r} has no column {cursor_column!r} ({columns})")
    after = None
    if cursor_column is not None:
        stored = conn.execute(
            select(import_cursors.c.value, import_cursors.c.column_name).where(
                import_cursors.c.source_id == source_id,
                import_cursors.c.location == f"{shown}#{table.name}",
            )
        ).first()
        if stored is not None and stored.column_name == cursor_column:
            after = decode_cursor(stored.value)
    return TableRead(engine, shown, table, cursor_column, after)


def count_rows(read: TableRead) -> int | None:
    """How many rows the run will read (for the progress bar), if the database says quickly."""
    query = select(func.count()).select_from(read.table)
    if read.cursor_column is not None and read.after is not None:
        query = query.where(read.table.c[read.cursor_column] >= read.after)
    try:
        with read.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
    except SQLAlchemyError:
        return None


def read_rows(read: TableRead, batch_size: int = 2000) -> Iterator[tuple[IncomingRow, Any]]:
    """Rows in cursor order (or the table's natural order), each with its cursor value."""
    table = read.table
    query = select(table)
    if read.cursor_column is not None:
        column = table.c[read.cursor_column]
        if read.after is not None:
            query = query.where(column >= read.after)
        query = query.order_by(column, *table.primary_key.columns)
    elif table.primary_key.columns:
        query = query.order_by(*table.primary_key.columns)
    keys = [c.name for c in table.primary_key.columns]
    try:
        with read.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(
                query
            )
            for number, row in enumerate(result.mappings(), start=1):
                values = {k: plain_value(v) for k, v in row.items()}
                where = ",".join(str(values[k]) for k in keys) if keys else f"#{number}"
                cursor = row[read.cursor_column] if read.cursor_column else None
                yield IncomingRow(values, f"{table.name} row {where}"), cursor
    except SQLAlchemyError as exc:
        raise UpstreamError(
            f"reading {read.location} failed: {type(exc).__name__}: {str(exc).splitlines()[0]}",
            retryable=True,
        ) from None
    finally:
        read.engine.dispose()


def plain_value(value: Any) -> Any:
    """A JSON-ready value: Decimals keep their digits as text, times become ISO strings."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def store_cursor(conn: Connection, source_id: int, read: TableRead, value: Any) -> None:
    """Remember how far this source has read the table (in the batch's transaction)."""
    if read.cursor_column is None or value is None:
        return
    upsert_many(
        conn,
        import_cursors,
        [
            {
                "source_id": source_id,
                "location": read.location,
                "column_name": read.cursor_column,
                "value": encode_cursor(value),
                "updated_at_us": system_clock(),
            }
        ],
    )


def encode_cursor(value: Any) -> str:
    """The cursor as JSON with its type, so the next run compares like with like."""
    if isinstance(value, dt.datetime):
        return orjson.dumps({"t": "datetime", "v": value.isoformat()}).decode()
    if isinstance(value, dt.date):
        return orjson.dumps({"t": "date", "v": value.isoformat()}).decode()
    if isinstance(value, Decimal):
        return orjson.dumps({"t": "decimal", "v": str(value)}).decode()
    return orjson.dumps({"v": value}).decode()


def decode_cursor(text: str) -> Any:
    stored = orjson.loads(text)
    kind, value = stored.get("t"), stored["v"]
    if kind == "datetime":
        return dt.datetime.fromisoformat(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    if kind == "decimal":
        return Decimal(value)
    return value
