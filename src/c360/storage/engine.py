"""Engines for SQLite and PostgreSQL, configured and checked for durable commits."""

from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from c360.errors import InvalidInput
from c360.kernel.textfold import FOLD_TABLES

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=60000",
    "PRAGMA cache_size=-131072",  # 128 MiB: keeps the message-id index hot
    "PRAGMA foreign_keys=ON",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA wal_autocheckpoint=16384",  # 64 MiB; WalCheckpointer normally runs first
)

READ_ONLY = "c360_read_only"
"""Execution option: on SQLite, begin with a plain (deferred) BEGIN instead of IMMEDIATE."""


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


def create_engine_for(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for ``url`` with c360's durability and locking settings applied."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise InvalidInput(
            f"C360_DATABASE_URL {url!r} is not a database URL; "
            "use sqlite:///path/c360.db or postgresql+psycopg://user@host/db"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(
            parsed,
            json_serializer=_json_dumps,
            connect_args={"check_same_thread": False},
            hide_parameters=True,  # errors must not carry personal data into logs
        )
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed,
            json_serializer=_json_dumps,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            hide_parameters=True,
        )
    raise InvalidInput(
        f"database {backend!r} is not supported: use SQLite (sqlite:///...) or "
        "PostgreSQL (postgresql+psycopg://...)"
    )


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling is switched off so that SQLAlchemy's BEGIN is the
    # real one: writers take the lock up front (BEGIN IMMEDIATE) and never fail half-way with
    # "database is locked" when another connection wrote after their snapshot.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()
        # segment conditions that ignore case or accents fold text as the Python side does
        dbapi_connection.create_function("c360_fold", 2, _sqlite_fold, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _sqlite_fold(text: Any, how: Any) -> Any:
    if not isinstance(text, str) or how not in FOLD_TABLES:
        return text
    return text.translate(FOLD_TABLES[how])


def reader(engine: Engine) -> Engine:
    """The same engine, for transactions that only read."""
    return engine.execution_options(**{READ_ONLY: True})


@dataclass(frozen=True, slots=True)
class DurabilityReport:
    """What the store says about durable commits, and whether that is what c360 needs."""

    backend: str
    settings: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def check_durability(engine: Engine) -> DurabilityReport:
    """Ask the store for its commit settings (D2): WAL + synchronous FULL, or fsync on."""
    with reader(engine).connect() as conn:
        if engine.dialect.name == "sqlite":
            journal = str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()).lower()
            level = int(conn.exec_driver_sql("PRAGMA synchronous").scalar() or 0)
            sync_name = {0: "off", 1: "normal", 2: "full", 3: "extra"}.get(level, str(level))
            settings = {"journal_mode": journal, "synchronous": sync_name}
            problems = []
            if journal != "wal":
                problems.append(f"SQLite journal_mode is {journal}, expected wal")
            if sync_name not in ("full", "extra"):
                problems.append(f"SQLite synchronous is {sync_name}, expected full or extra")
            return DurabilityReport("sqlite", settings, tuple(problems))
        settings = {
            name: str(conn.execute(text(f"SHOW {name}")).scalar())
            for name in ("fsync", "synchronous_commit", "full_page_writes")
        }
        problems = []
        if settings["fsync"] != "on":
            problems.append("PostgreSQL fsync is off")
        if settings["synchronous_commit"] == "off":
            problems.append("PostgreSQL synchronous_commit is off")
        if settings["full_page_writes"] != "on":
            problems.append("PostgreSQL full_page_writes is off")
        return DurabilityReport("postgresql", settings, tuple(problems))
