"""Group commit: many concurrent requests, one durable transaction.

Every request's rows wait in a queue; a writer thread (two on PostgreSQL) takes everything
waiting (up to a row cap), appends it in a single transaction, and only after the commit returns
tells each request. Under load one fsync covers hundreds of requests, so durable acknowledgement
stays fast.
"""

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from c360.errors import C360Error
from c360.eventlog.model import LogRow, RejectRow
from c360.eventlog.service import append

log = logging.getLogger(__name__)


class WriterClosed(C360Error):
    """The writer is shutting down and takes no more work."""

    code = "shutting_down"


@dataclass(slots=True)
class _Request:
    rows: Sequence[LogRow]
    rejects: Sequence[RejectRow]
    done: Callable[[BaseException | None], None]


_STOP = object()

Screen = Callable[
    [Connection, Sequence[LogRow], Sequence[RejectRow]],
    tuple[Sequence[LogRow], Sequence[RejectRow]],
]
"""Takes out, inside the commit's transaction, items that must not be stored (the erasure
suppression, ``c360.privacy.suppression.screen_events``)."""


class GroupCommitWriter:
    """Appends to the log from one thread, committing everything that waits together."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_rows: int = 5000,
        on_commit: Callable[[], None] | None = None,
        threads: int | None = None,
        screen: Screen | None = None,
    ) -> None:
        self._engine = engine
        self._screen = screen
        self._max_rows = max_rows
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[_Request | object] = queue.SimpleQueue()
        self._local = threading.local()
        self._closed = False
        # SQLite takes one writer at a time. PostgreSQL lets a second thread COPY its rows
        # while the first holds the log lock, so each commit's round trips overlap.
        count = (
            threads if threads is not None else (2 if engine.dialect.name == "postgresql" else 1)
        )
        self._threads = [
            threading.Thread(target=self._run, name=f"c360-log-writer-{n}", daemon=True)
            for n in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(
        self,
        rows: Sequence[LogRow],
        rejects: Sequence[RejectRow],
        done: Callable[[BaseException | None], None],
    ) -> None:
        """Queue rows for the next commit; ``done`` is called from a writer thread with None
        once they are durable, or with the error that kept them from being stored."""
        if self._closed:
            raise WriterClosed("the server is shutting down; retry the request")
        self._queue.put(_Request(rows, rejects, done))

    def close(self, timeout_s: float = 30.0) -> None:
        """Commit what is queued, then stop."""
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout_s)

    def _run(self) -> None:
        self._local.connection = None
        try:
            self._loop()
        finally:
            if self._local.connection is not None:
                self._local.connection.close()

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                break
            batch: list[_Request] = [item]  # type: ignore[list-item]
            rows = len(batch[0].rows) + len(batch[0].rejects)
            while rows < self._max_rows:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)  # type: ignore[arg-type]
                rows += len(item.rows) + len(item.rejects)  # type: ignore[attr-defined]
            self._commit(batch)

    def _commit(self, batch: list[_Request]) -> None:
        try:
            self._append(
                [r for req in batch for r in req.rows], [r for req in batch for r in req.rejects]
            )
        except Exception as exc:
            if len(batch) == 1:
                log.error("log append failed: %s", type(exc).__name__)
                batch[0].done(exc)
                return
            # One request must not fail the others: retry each alone.
            for request in batch:
                try:
                    self._append(request.rows, request.rejects)
                except Exception as single_exc:
                    log.error("log append failed: %s", type(single_exc).__name__)
                    request.done(single_exc)
                else:
                    request.done(None)
        else:
            for request in batch:
                request.done(None)
        if self._on_commit is not None:
            self._on_commit()

    def _append(self, rows: Sequence[LogRow], rejects: Sequence[RejectRow]) -> None:
        # Each writer thread keeps its own connection: no pool checkout (and no pre-ping
        # round trip) per commit. A failed commit drops the connection; the next one reconnects.
        conn = self._local.connection
        if conn is None or conn.closed or conn.invalidated:
            conn = self._local.connection = self._engine.connect()
        try:
            with conn.begin():
                if self._screen is not None:
                    rows, rejects = self._screen(conn, rows, rejects)
                append(conn, rows, rejects)
        except Exception:
            conn.close()
            self._local.connection = None
            raise
