"""Shared fixtures: real stores (SQLite and PostgreSQL) and live servers.

PostgreSQL tests use the server named by ``C360_TEST_POSTGRES_URL`` (default: the local
server, ``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each test gets a fresh database.
Where no server answers, those tests skip and say why.

A migrated database is a copy of one migrated once: on PostgreSQL ``CREATE DATABASE ...
TEMPLATE``, on SQLite a copy of the file (migrating a new SQLite file takes 0.3-0.8 s, copying
it a few milliseconds). The migrations themselves run from empty in test_migrations.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from c360.privacy.keys import Role, create_key
from c360.storage import create_engine_for, upgrade_to_head

ADMIN_POSTGRES_URL = os.environ.get(
    "C360_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
_pg_problem: str | None = None
_pg_checked = False


def postgres_problem() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when the server answers."""
    global _pg_checked, _pg_problem
    if not _pg_checked:
        _pg_checked = True
        try:
            engine = create_engine(ADMIN_POSTGRES_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
        except Exception as exc:
            _pg_problem = f"PostgreSQL at {ADMIN_POSTGRES_URL} is not reachable: {exc!r}"[:300]
    return _pg_problem


def new_postgres_database(migrated: bool = False) -> str:
    """Create a database on the test server, empty or already migrated; return its URL.

    A migrated one is copied from a template database migrated once per set of migrations
    (``CREATE DATABASE ... TEMPLATE``): migrating a new database takes about a second, copying
    one a tenth to a half of that, and most tests want a migrated store. The copies are made
    ahead, in the background (see ``_ready_copies``), so a test rarely waits for one."""
    problem = postgres_problem()
    if problem:
        pytest.skip(problem)
    name = _ready_copies.take() if migrated else create_postgres_database(None)
    base = ADMIN_POSTGRES_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def create_postgres_database(template: str | None) -> str:
    """A new database on the test server (a copy of ``template``, when given); its name."""
    name = f"c360_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(ADMIN_POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            copy = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    finally:
        admin.dispose()
    return name


class _ReadyCopies:
    """Migrated databases made ahead by a thread of their own, a few at a time, while tests
    run: the copy costs the server 0.3-2 s (more when the machine is busy), which the test
    that takes one need not wait for. Each is handed out once; those left when the session
    ends are dropped."""

    AHEAD = 2

    def __init__(self) -> None:
        self._making: ThreadPoolExecutor | None = None
        self._pending: deque[Future[str]] = deque()

    def take(self) -> str:
        template = _migrated_template()  # in this thread: its failure is the test's
        if self._making is None:
            self._making = ThreadPoolExecutor(max_workers=1, thread_name_prefix="copy-database")
        while len(self._pending) <= self.AHEAD:
            self._pending.append(self._making.submit(create_postgres_database, template))
        return self._pending.popleft().result()

    def close(self) -> None:
        """Drop the copies nobody took."""
        if self._making is None:
            return
        self._making.shutdown(wait=True)
        base = ADMIN_POSTGRES_URL.rsplit("/", 1)[0]
        while self._pending:
            made = self._pending.popleft()
            if made.exception() is None:
                drop_postgres_database_later(f"{base}/{made.result()}")


_ready_copies = _ReadyCopies()


_TEMPLATE: str | None = None


def _migrated_template() -> str:
    """The template database for the current migrations, made by the first test process that
    needs it (others wait on an advisory lock)."""
    global _TEMPLATE
    if _TEMPLATE is not None:
        return _TEMPLATE
    versions = Path(__file__).resolve().parents[1] / "src/c360/storage/migrations/versions"
    digest = hashlib.sha256()
    for path in sorted(versions.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    name = f"c360_template_{digest.hexdigest()[:16]}"
    base = ADMIN_POSTGRES_URL.rsplit("/", 1)[0]
    admin = create_engine(ADMIN_POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(360360)"))
            try:
                found = conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                ).first()
                if found is None:
                    building = f"{name}_building"
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)'))
                    conn.execute(text(f'CREATE DATABASE "{building}"'))
                    engine = create_engine_for(f"{base}/{building}")
                    upgrade_to_head(engine)
                    engine.dispose()
                    # renamed only when complete: a crash halfway leaves no broken template
                    conn.execute(text(f'ALTER DATABASE "{building}" RENAME TO "{name}"'))
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(360360)"))
    finally:
        admin.dispose()
    _TEMPLATE = name
    return name


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(ADMIN_POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_dropping: ThreadPoolExecutor | None = None
_drops: list[Future[None]] = []


def drop_postgres_database_later(url: str) -> None:
    """Drop a database no test uses any more, in the background: the server spends a tenth to
    half a second on each drop (files removed, fsync), which the next test need not wait for.
    Every drop has finished, and any failure is reported, when the session ends."""
    global _dropping
    if _dropping is None:
        _dropping = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-test-database")
    _drops.append(_dropping.submit(drop_postgres_database, url))


DURATIONS = Path(__file__).with_name("durations.json")
"""Seconds each test file took in a whole run (``scripts/test-durations`` writes it from
``pytest --durations=0``): only the order below reads it, never a result."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest test files first. The suite runs a file per worker at a time (``--dist
    loadfile``) and hands out files in this order, so a long file started last would leave
    the other worker idle for minutes at the end; a file not yet timed counts as short."""
    seconds: dict[str, float] = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        first.setdefault(item.nodeid.split("::")[0], index)

    def order(item: pytest.Item) -> tuple[float, int]:
        path = item.nodeid.split("::")[0]
        return -seconds.get(path, 0.0), first[path]

    items.sort(key=order)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Wait for the background copies and drops: none may outlive the session or fail
    unseen."""
    if _SQLITE_TEMPLATE is not None:
        shutil.rmtree(_SQLITE_TEMPLATE.parent, ignore_errors=True)
    _ready_copies.close()
    if _dropping is None:
        return
    _dropping.shutdown(wait=True)
    failed = [repr(f.exception()) for f in _drops if f.exception() is not None]
    if failed:
        raise RuntimeError(f"{len(failed)} test database(s) could not be dropped: {failed[:3]}")


_SQLITE_TEMPLATE: Path | None = None


def _sqlite_template() -> Path:
    """A SQLite file migrated to head, made once per test process (in a directory of its own,
    removed when the session ends); its WAL is folded into the file, so a copy is complete."""
    global _SQLITE_TEMPLATE
    if _SQLITE_TEMPLATE is None:
        path = Path(tempfile.mkdtemp(prefix="c360-sqlite-template-")) / "template.db"
        engine = create_engine_for(f"sqlite:///{path}")
        upgrade_to_head(engine)
        engine.dispose()
        fold_wal(path)
        _SQLITE_TEMPLATE = path
    return _SQLITE_TEMPLATE


def fold_wal(path: Path | str) -> None:
    """Fold a SQLite file's write-ahead log into the file, so a copy of the file is complete
    (nobody may have it open for writing)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, f"{path} could not be checkpointed"
    finally:
        conn.close()


@contextmanager
def fresh_database(kind: str, directory: Path, migrated: bool = False) -> Iterator[str]:
    """The URL of a new database of ``kind`` (sqlite or postgresql), dropped after (PostgreSQL,
    in the background): empty, or (``migrated``) a copy of a migrated template."""
    if kind == "sqlite":
        path = directory / "c360.db"
        if migrated:
            shutil.copyfile(_sqlite_template(), path)
        yield f"sqlite:///{path}"
        return
    url = new_postgres_database(migrated=migrated)
    try:
        yield url
    finally:
        drop_postgres_database_later(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL on each store, copied from a migrated template (the migrations
    themselves are tested in test_migrations.py, from empty)."""
    with fresh_database(request.param, tmp_path, migrated=True) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated engine on each store (real migrations, never create_all)."""
    engine = create_engine_for(database_url)
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


NATS_URL = os.environ.get("C360_TEST_NATS_URL", "nats://127.0.0.1:4222")
"""The NATS server (with JetStream) the event bus tests use."""


def nats_problem(url: str = NATS_URL) -> str | None:
    """Why the NATS server at ``url`` cannot serve the tests (absent, or JetStream off), or
    None."""
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 4222), timeout=3
        ) as sock:
            sock.settimeout(3)
            greeting = b""
            while b"\r\n" not in greeting and len(greeting) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                greeting += chunk
    except OSError as exc:
        return f"NATS at {url} is not reachable ({exc!r}); start nats-server -js"
    line = greeting.split(b"\r\n", 1)[0]
    if not line.startswith(b"INFO "):
        return f"{url} did not greet like a NATS server: {line[:80]!r}"
    if not json.loads(line[5:]).get("jetstream"):
        return f"NATS at {url} runs without JetStream (start it with -js)"
    return None


def require(*problems: str | None) -> None:
    """Skip the test, saying why, where a server it needs is absent; with
    ``C360_REQUIRE_NATS=1`` (CI, where PostgreSQL and NATS run locally) fail instead."""
    reason = "; ".join(p for p in problems if p)
    if not reason:
        return
    if os.environ.get("C360_REQUIRE_NATS"):
        pytest.fail(reason + " and C360_REQUIRE_NATS is set")
    pytest.skip(reason)


def kill_process(process: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL: no shutdown code runs."""
    if process is not None and process.poll() is None:
        process.kill()
        process.wait(10)


def stop_process(process: subprocess.Popen[bytes] | None, grace_s: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it has not ended within ``grace_s``."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            kill_process(process)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A ``c360 serve`` process on loopback."""

    database_url: str
    port: int
    write_key: str
    admin_key: str
    source: str
    env: dict[str, str]
    log_path: Path
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "c360", "serve", "--port", str(self.port), *self.extra_args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"c360 serve exited with {self.process.returncode}: "
                    + self.log_path.read_text(errors="replace")[-2000:]
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        # a server that is still starting must not outlive the test (nor warn in the next one)
        self.kill()
        raise RuntimeError(
            f"c360 serve did not answer /healthz within {timeout_s:g} s: "
            + self.log_path.read_text(errors="replace")[-2000:]
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        kill_process(self.process)

    def stop(self) -> None:
        stop_process(self.process)

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.admin_key}"}, timeout=30
        )

    def wait_processed(self, timeout_s: float = 60.0) -> None:
        """Wait until the worker has applied everything in the log."""
        deadline = time.monotonic() + timeout_s
        body: dict[str, object] = {}
        while time.monotonic() < deadline:
            body = httpx.get(f"{self.url}/readyz", timeout=5).json()
            if body.get("worker_lag") == 0:
                return
            time.sleep(0.1)
        raise AssertionError(f"worker still behind after {timeout_s}s: {body}")


def make_keys(database_url: str, source: str = "web") -> tuple[str, str]:
    """(write key for ``source``, admin key) in a migrated store."""
    engine = create_engine_for(database_url)
    upgrade_to_head(engine)
    with engine.begin() as conn:
        _, write_key = create_key(conn, name="test writer", role=Role.WRITER, source=source)
        _, admin_key = create_key(conn, name="test admin", role=Role.ADMIN, source=None)
    engine.dispose()
    return write_key, admin_key


def start_server(database_url: str, tmp_path: Path, *extra_args: str, **env: str) -> LiveServer:
    write_key, admin_key = make_keys(database_url)
    full_env = {**os.environ, "C360_DATABASE_URL": database_url, **env}
    server = LiveServer(
        database_url=database_url,
        port=free_port(),
        write_key=write_key,
        admin_key=admin_key,
        source="web",
        env=full_env,
        log_path=tmp_path / f"server-{uuid.uuid4().hex[:6]}.log",
        extra_args=list(extra_args),
    )
    server.start()
    return server


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """``c360 serve`` on each store, with a writer key (source ``web``) and an admin key."""
    server = start_server(database_url, tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One ``c360 serve`` per test module and store, on a fresh migrated database: starting
    one costs 3-5 s. Tests sharing it each work in a slice of their own: a source and keys
    made with ``make_keys(server.database_url, source)``, and their own user ids, emails and
    phones, so they stay independent of each other and of their order."""
    directory = tmp_path_factory.mktemp("live-server")
    with fresh_database(request.param, directory, migrated=True) as url:
        server = start_server(url, directory)
        try:
            yield server
        finally:
            server.stop()


# --- S10: no personal data in c360's logs, in any test ----------------------------------------

SEEDED_PERSONAL_DATA = (
    "somchai@example.co.th",
    "081-234-5678",
    "+66812345678",
    "0812345678",
    "สมชาย",
    "ใจดี",
)
"""Values the tests use for their people (tests/customer360.py and others): none may appear in
a log line c360 writes at INFO or above, whatever the test does."""


class _LogWatch(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        from c360.privacy.logsafe import SafeFormatter

        self.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(("c360", "uvicorn")):
            return
        line = self.format(record)
        if any(value in line for value in SEEDED_PERSONAL_DATA):
            self.leaks.append(line[:500])


@pytest.fixture(autouse=True)
def no_personal_data_in_logs() -> Iterator[None]:
    """Every test runs with c360's loggers watched at INFO: a log line carrying one of the
    seeded people's email, phone or name fails the test that caused it."""
    watch = _LogWatch()
    loggers = [logging.getLogger("c360"), logging.getLogger("uvicorn")]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(watch)
        if lg.level == logging.NOTSET or lg.level > logging.INFO:
            lg.setLevel(logging.INFO)
    try:
        yield
    finally:
        for lg, level in zip(loggers, saved, strict=True):
            lg.removeHandler(watch)
            lg.setLevel(level)
    assert not watch.leaks, f"personal data in {len(watch.leaks)} log line(s): {watch.leaks[:3]}"


@pytest.fixture(autouse=True)
def sealing_from_the_environment() -> Iterator[None]:
    """Encryption at rest as the environment says: ``C360_ENCRYPTION_KEYS`` set runs every
    test with personal data sealed (docs/testing.md); unset, in clear. Set again after each
    test, so that keys a test configured do not reach the next."""
    from c360.storage.sealing import configure_sealing

    configure_sealing(os.environ.get("C360_ENCRYPTION_KEYS") or None)
    try:
        yield
    finally:
        configure_sealing(os.environ.get("C360_ENCRYPTION_KEYS") or None)


@pytest.fixture(params=["in clear", "encrypted at rest"])
def encryption_keys(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """A test run twice: with no keys, and with a keyring whose active key is not the first
    one (docs/encryption.md), which the test passes on in its settings."""
    from c360.storage.sealing import configure_sealing, new_key

    if request.param == "in clear":
        yield None
        return
    try:
        yield f"{new_key('k2')},{new_key('k1')}"
    finally:
        configure_sealing(None)


@pytest.fixture(autouse=True)
def wide_cli_output() -> Iterator[None]:
    """The CLI's consoles are made at import, in whichever test imports them first, so their
    width would depend on test order: tests read tables 200 columns wide."""
    from c360.cli.common import err, out

    saved = out.width, err.width
    out.width = err.width = 200
    try:
        yield
    finally:
        out.width, err.width = saved
