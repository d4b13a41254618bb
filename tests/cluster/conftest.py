"""The production layout on this machine: ``c360 serve --no-worker`` API processes and
``c360 worker`` processes on one PostgreSQL database, every process given the event bus
(``C360_EVENT_BUS``, NATS with JetStream).

These tests are marked ``cluster`` and left out of the default suite (``pytest -m cluster``
runs them). Without PostgreSQL or NATS they skip and say why; with ``C360_REQUIRE_NATS=1`` (CI
on this machine, where both run locally) they fail instead. ``C360_TEST_NATS_URL`` names
another NATS server (default nats://127.0.0.1:4222).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from tests.conftest import (
    NATS_URL,
    LiveServer,
    drop_postgres_database_later,
    free_port,
    kill_process,
    make_keys,
    nats_problem,
    new_postgres_database,
    postgres_problem,
    require,
    stop_process,
)

ROOT = Path(__file__).resolve().parents[2]
EVENT_BUS_URL = NATS_URL


def require_services() -> None:
    """Skip (or, with C360_REQUIRE_NATS=1, fail) unless PostgreSQL and NATS both answer."""
    require(postgres_problem(), nats_problem())


def process_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of every process of a cluster: this checkout's code first on the path
    (subprocesses run it, not whatever is installed), the store and the event bus."""
    path = [str(ROOT / "src"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(path),
        "C360_DATABASE_URL": database_url,
        "C360_EVENT_BUS": EVENT_BUS_URL,
        **extra,
    }


@dataclass
class WorkerProcess:
    """A ``c360 worker`` process."""

    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        """Start it and wait until it says it is processing the log."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "c360", "worker"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"c360 worker exited with {self.process.returncode}: " + self.log_tail()
                )
            if b"c360 worker:" in self.log_path.read_bytes()[offset:]:
                return
            time.sleep(0.1)
        raise RuntimeError("c360 worker did not start in time: " + self.log_tail())

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, its open transaction is left to the server."""
        kill_process(self.process)

    def stop(self) -> None:
        stop_process(self.process)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]


@dataclass
class Cluster:
    """API processes and workers sharing one PostgreSQL database."""

    database_url: str
    write_key: str
    admin_key: str
    apis: list[LiveServer] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)

    def stop(self) -> None:
        """Stop every process, killing what does not stop; the first error is raised after."""
        problems: list[BaseException] = []
        for process in [*self.apis, *self.workers]:
            try:
                process.stop()
            except BaseException as exc:
                problems.append(exc)
        if problems:
            raise problems[0]

    def worker_lag(self) -> int | None:
        """Log entries not yet processed, as any API process that answers reports it."""
        for api in self.apis:
            try:
                lag = httpx.get(f"{api.url}/readyz", timeout=5).json().get("worker_lag")
            except (httpx.HTTPError, ValueError):
                continue
            return None if lag is None else int(lag)
        return None

    def wait_caught_up(self, timeout_s: float) -> float:
        """Wait until the workers have applied the whole log; return the seconds waited."""
        started = time.monotonic()
        lag: int | None = None
        while time.monotonic() - started < timeout_s:
            lag = self.worker_lag()
            if lag == 0:
                return time.monotonic() - started
            dead = [w.log_tail() for w in self.workers if not w.alive]
            assert not dead, f"a worker died: {dead[0]}"
            time.sleep(0.2)
        raise AssertionError(f"workers still {lag} entries behind after {timeout_s}s")


@contextmanager
def running_cluster(
    directory: Path, apis: int, workers: int, start_timeout_s: float = 120.0, **env: str
) -> Iterator[Cluster]:
    """A fresh migrated PostgreSQL database with a writer key (source ``web``) and an admin
    key, ``apis`` API processes (``--no-worker``) and ``workers`` worker processes. Every
    process is stopped, or killed, and the database dropped when the block ends, however it
    ends."""
    require_services()
    url = new_postgres_database(migrated=True)
    cluster: Cluster | None = None
    try:
        write_key, admin_key = make_keys(url)
        cluster = Cluster(database_url=url, write_key=write_key, admin_key=admin_key)
        full_env = process_env(url, **env)
        run = uuid.uuid4().hex[:6]
        for n in range(apis):
            api = LiveServer(
                database_url=url,
                port=free_port(),
                write_key=write_key,
                admin_key=admin_key,
                source="web",
                env=full_env,
                log_path=directory / f"api-{run}-{n}.log",
                extra_args=["--no-worker"],
            )
            cluster.apis.append(api)
            api.start(timeout_s=start_timeout_s)
        for n in range(workers):
            worker = WorkerProcess(env=full_env, log_path=directory / f"worker-{run}-{n}.log")
            cluster.workers.append(worker)
            worker.start(timeout_s=start_timeout_s)
        yield cluster
    finally:
        try:
            if cluster is not None:
                cluster.stop()
        finally:
            drop_postgres_database_later(url)
