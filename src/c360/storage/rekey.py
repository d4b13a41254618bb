"""Which keys the sealed columns use, and re-sealing them: ``c360 encryption status|rotate``.

Rotation reads each sealed table in primary-key order, a batch at a time, and rewrites the
values that are in clear or sealed with a key other than the active one: one UPDATE per
column, run for the whole batch. Each rewrite is a compare-and-set on the value read, so a
row the application changed meanwhile is left as the application wrote it (already with the
active key) and counted, never overwritten with what rotation read before.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    LargeBinary,
    Text,
    bindparam,
    cast,
    func,
    select,
    tuple_,
    type_coerce,
    update,
)

from c360.storage.sealing import (
    PREFIX,
    Sealed,
    event_facts,
    key_id_of,
    keyring,
    sealed_columns,
)
from c360.storage.tables import Json, event_log, metadata

Progress = Callable[[str, int, int], None]
"""Called with (column, rows done, rows in all) as rotation goes."""

_BATCH = 500


@dataclass(slots=True)
class ColumnKeys:
    """How one sealed column's values are stored."""

    column: str
    rows: int = 0
    clear: int = 0
    keys: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"column": self.column, "rows": self.rows, "clear": self.clear, "keys": self.keys}


def key_usage(engine: Engine) -> list[ColumnKeys]:
    """Per sealed column: rows holding a value, rows in clear and rows per key id (read from
    each value's first bytes, never opened: no key is needed). Nulls are not counted. One
    pass over each table, for all its sealed columns."""
    usage: list[ColumnKeys] = []
    with engine.connect() as conn:
        for table, columns in _sealed_tables():
            found = [ColumnKeys(f"{table.name}.{c.name}") for c in columns]
            query = select(*_heads(columns)).execution_options(yield_per=5000)
            for heads in conn.execute(query):
                for column, head, counts in zip(columns, heads, found, strict=True):
                    if _empty(column.type, head):
                        continue
                    counts.rows += 1
                    kid = _kid(column.type, head)
                    if kid is None:
                        counts.clear += 1
                    else:
                        counts.keys[kid] = counts.keys.get(kid, 0) + 1
            usage += found
    return usage


@dataclass(slots=True)
class Rotation:
    """What ``rotate`` did, per column: values rewritten, and values the application changed
    while rotation ran (left as written, which is with the active key)."""

    target: str
    rewritten: dict[str, int] = field(default_factory=dict)
    raced: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"target": self.target, "rewritten": self.rewritten, "raced": self.raced}


def rotate(engine: Engine, *, to_clear: bool = False, progress: Progress | None = None) -> Rotation:
    """Re-seal every sealed value with the active key (``to_clear``: store every value in
    clear, before turning encryption off)."""
    ring = keyring()
    if ring is None and not to_clear:
        raise RuntimeError("no encryption keys are configured (C360_ENCRYPTION_KEYS)")
    target = "clear" if to_clear else (ring.active if ring is not None else "clear")
    rotation = Rotation(target)
    tables = _sealed_tables()
    with engine.connect() as conn:
        totals = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t, _ in tables
        }
    for table, columns in tables:
        keys = list(table.primary_key.columns)
        after: tuple[Any, ...] | None = None
        done = 0
        while True:
            with engine.begin() as conn:
                extra = [table.c.type] if table is event_log else []
                query = select(*keys, *(_raw(c) for c in columns), *extra)
                query = query.order_by(*keys).limit(_BATCH)
                if after is not None:
                    query = query.where(tuple_(*keys) > tuple_(*after))
                rows = conn.execute(query).all()
                _rewrite(conn, table, keys, columns, rows, target, rotation)
            if not rows:
                break
            after = tuple(rows[-1][: len(keys)])
            done += len(rows)
            if progress is not None:
                progress(table.name, done, totals[table.name])
    return rotation


def _rewrite(
    conn: Connection,
    table: Any,
    keys: list[Any],
    columns: list[Any],
    rows: Sequence[Any],
    target: str,
    rotation: Rotation,
) -> None:
    """Rewrite the values of ``rows`` (as read) not yet in ``target``: one UPDATE per column,
    run for every row at once, each a compare-and-set on the value read."""
    wanted = None if target == "clear" else target
    for index, column in enumerate(columns, start=len(keys)):
        sealed: Sealed = column.type
        params = []
        for row in rows:
            raw = row[index]
            if _empty(sealed, raw) or _kid(sealed, raw) == wanted:
                continue
            clear = sealed.loaded(orjson.loads(raw) if sealed.kind == "json" else raw)
            item = {f"k_{k.name}": row[i] for i, k in enumerate(keys)}
            item |= {"old": raw, "new": clear if target == "clear" else sealed.stored(clear)}
            if column is event_log.c.payload:
                # a sealed payload has its facts beside it, for segments (0016)
                item["facts"] = None if target == "clear" else event_facts(row.type, clear)
            params.append(item)
        if not params:
            continue
        values: dict[str, Any] = {column.name: type_coerce(bindparam("new"), _impl(sealed))}
        if column is event_log.c.payload:
            values["facts"] = bindparam("facts")
        statement = (
            update(table)
            .where(*(k == bindparam(f"k_{k.name}") for k in keys))
            .where(_raw(column) == bindparam("old"))
            .values(values)
        )
        changed = conn.execute(statement, params).rowcount
        name = f"{table.name}.{column.name}"
        rotation.rewritten[name] = rotation.rewritten.get(name, 0) + changed
        if changed < len(params):
            rotation.raced[name] = rotation.raced.get(name, 0) + len(params) - changed
        if not rotation.rewritten[name]:
            del rotation.rewritten[name]


def _impl(sealed: Sealed) -> Any:
    return {"json": Json, "bytes": LargeBinary}.get(sealed.kind, Text)


def _raw(column: Any) -> Any:
    """The column as stored: bytes for a binary column, text otherwise (JSON as its text)."""
    if column.type.kind == "bytes":
        return type_coerce(column, LargeBinary)
    if column.type.kind == "json":
        return cast(type_coerce(column, Json), Text)
    return type_coerce(column, Text)


def _empty(sealed: Sealed, raw: Any) -> bool:
    """SQL NULL, or JSON's null: nothing to seal (and left as it is)."""
    return raw is None or (sealed.kind == "json" and raw == "null")


def _kid(sealed: Sealed, head: Any) -> str | None:
    if sealed.kind == "json" and isinstance(head, str) and head.startswith('"'):
        head = head[1:]
    return key_id_of(head)


def missing_keys(engine: Engine) -> list[str]:
    """What this process's keys cannot open, read from the newest row of each table with
    sealed columns (a cheap check at start; ``c360 encryption status`` reads every value):
    one line per column whose newest value is sealed with a key that is not configured."""
    ring = keyring()
    problems = []
    with engine.connect() as conn:
        for table, columns in _sealed_tables():
            keys = list(table.primary_key.columns)
            # the newest row, nulls and all: walking back to non-null values could read a
            # whole table (messages.html where every message is a LINE one)
            newest = conn.execute(
                select(*_heads(columns)).order_by(*(k.desc() for k in keys)).limit(1)
            ).first()
            for column, head in zip(columns, newest or (), strict=False):
                kid = None if head is None else _kid(column.type, head)
                if kid is not None and (ring is None or kid not in ring.keys):
                    problems.append(
                        f"{table.name}.{column.name} holds values sealed with key {kid!r}"
                    )
    return problems


def _sealed_tables() -> list[tuple[Any, list[Any]]]:
    """Each table with sealed columns, and those columns."""
    by_table: dict[Any, list[Any]] = {}
    for table, column in sealed_columns(metadata):
        by_table.setdefault(table, []).append(column)
    return list(by_table.items())


def _heads(columns: list[Any]) -> list[Any]:
    """The first bytes of each column as stored: enough for the token prefix and key id."""
    return [func.substr(_raw(c), 1, len(PREFIX) + 34) for c in columns]
