"""A table of another application's database (PostgreSQL, MariaDB/MySQL, SQLite) as a sync
target: each row is locked, compared, updated (or inserted) and read again in one of the app's
transactions, so c360 knows exactly what the row holds after its write."""

import datetime as dt
from typing import Any

import orjson
from sqlalchemy import DateTime, Integer, MetaData, Numeric, Table, delete, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    NoSuchTableError,
    OperationalError,
    SQLAlchemyError,
)

from c360.activation.sync.model import Decide, SyncFailed, TableSpec, Upserted

# The row must read exactly as ``c360.ingest.database.read_rows`` reads it when the table
# comes back as a source, or c360's own writes would not be recognised as echoes.
from c360.ingest.database import external_engine, plain_value


class TableTarget:
    """Upserts rows of ``spec.table`` by ``spec.key``; ``password`` completes the URL."""

    reads_rows = True

    def __init__(self, spec: TableSpec, *, password: str | None = None) -> None:
        url = make_url(spec.url)
        if password is not None:
            url = url.set(password=password)
        self._spec = spec
        self._engine, self._shown = external_engine(url.render_as_string(hide_password=False))
        self._table: Table | None = None

    @property
    def location(self) -> str:
        return f"{self._shown}#{self._spec.table}"

    def close(self) -> None:
        self._engine.dispose()

    def upsert(self, key: str, decide: Decide, *, create: bool, version: int) -> Upserted:
        table = self._reflected()
        key_column = table.c[self._spec.key]
        key_value = _key_value(key, key_column.type)
        where = key_column == key_value
        try:
            with self._engine.begin() as conn:
                found = (
                    conn.execute(select(table).where(where).with_for_update()).mappings().first()
                )
                before = _plain_row(found) if found is not None else None
                if before is None and not create:
                    raise SyncFailed(
                        f"{self.location} has no row with {self._spec.key} = {key} (deleted in "
                        "the app?); set create_missing to create missing rows",
                        retryable=False,
                    )
                writes = decide(before)
                if not writes:
                    return Upserted(before, before, {})
                values = {c: _db_value(v) for c, v in writes.items()}
                if self._spec.version_column is not None:
                    column = table.c[self._spec.version_column]
                    values[column.name] = _version_value(column.type, version)
                if before is None:
                    conn.execute(insert(table).values({key_column.name: key_value, **values}))
                else:
                    conn.execute(update(table).where(where).values(values))
                after = conn.execute(select(table).where(where)).mappings().first()
        except SyncFailed:
            raise
        except (OperationalError, InterfaceError, DisconnectionError) as exc:
            raise SyncFailed(
                f"{self.location} is unavailable: {_reason(exc)}", retryable=True
            ) from None
        except SQLAlchemyError as exc:
            raise SyncFailed(
                f"{self.location} refused row {self._spec.key} = {key}: {_reason(exc)}",
                retryable=False,
            ) from None
        return Upserted(
            before, _plain_row(after) if after is not None else None, writes, before is None
        )

    def delete(self, key: str) -> bool:
        """``DELETE FROM table WHERE key = ...`` in one of the app's transactions; a refusal
        (a foreign key of another of its tables) is final, an unavailable database retryable.
        Messages leave the key out: the erasure report outlives the person."""
        if not self._spec.delete:
            raise SyncFailed(
                f"{self.location}: deletion is turned off (table.delete)", retryable=False
            )
        table = self._reflected()
        key_column = table.c[self._spec.key]
        try:
            with self._engine.begin() as conn:
                removed = conn.execute(
                    delete(table).where(key_column == _key_value(key, key_column.type))
                ).rowcount
        except (OperationalError, InterfaceError, DisconnectionError) as exc:
            raise SyncFailed(
                f"{self.location} is unavailable: {_reason(exc)}", retryable=True
            ) from None
        except SQLAlchemyError as exc:
            raise SyncFailed(
                f"{self.location} refused to delete the row: {_reason(exc)}", retryable=False
            ) from None
        return bool(removed)

    def _reflected(self) -> Table:
        if self._table is not None:
            return self._table
        schema, _, name = self._spec.table.rpartition(".")
        try:
            table = Table(name, MetaData(), schema=schema or None, autoload_with=self._engine)
        except NoSuchTableError:
            raise SyncFailed(
                f"{self._shown} has no table {self._spec.table!r}", retryable=False
            ) from None
        except SQLAlchemyError as exc:
            raise SyncFailed(
                f"{self.location} is unavailable: {_reason(exc)}", retryable=True
            ) from None
        wanted = [
            self._spec.key,
            *([self._spec.version_column] if self._spec.version_column else []),
        ]
        missing = [c for c in wanted if c not in table.c]
        if missing:
            raise SyncFailed(
                f"{self.location} has no column {missing[0]!r} ({', '.join(table.c.keys())})",
                retryable=False,
            )
        self._table = table
        return table

    def check_columns(self, columns: list[str]) -> list[str]:
        """The columns (of those a destination writes) the table lacks."""
        table = self._reflected()
        return [c for c in columns if c not in table.c]


def _plain_row(row: Any) -> dict[str, Any]:
    return {k: plain_value(v) for k, v in row.items()}


def _key_value(key: str, column_type: Any) -> Any:
    """The app key (text in the crosswalk) as the key column's type."""
    if isinstance(column_type, Integer):
        try:
            return int(key)
        except ValueError:
            return key
    return key


def _db_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


def _version_value(column_type: Any, version: int) -> Any:
    """What the version column gets: the sync version in a number, the time in a timestamp."""
    if isinstance(column_type, DateTime):
        now = dt.datetime.now(dt.UTC)
        return now if column_type.timezone else now.replace(tzinfo=None)
    if isinstance(column_type, Integer | Numeric):
        return version
    return str(version)


def _reason(exc: SQLAlchemyError) -> str:
    """The database's message, first line and short: enough for an operator, without the
    statement and its parameters (SQLAlchemy appends them, and they hold personal data)."""
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    text = str(original).strip().splitlines()[0] if str(original).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
