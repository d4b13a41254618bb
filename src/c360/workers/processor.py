"""The log processor: applies new log entries to the profiles, exactly once.

Each step reads entries after the stored checkpoint and applies them and the new checkpoint in
one transaction, so a crash anywhere leaves either both or neither: at-least-once delivery with
idempotent effects.
"""

import logging
import threading
import time
from collections.abc import Callable
from functools import partial

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from c360.eventlog.model import StoredEvent
from c360.eventlog.service import (
    PROFILES_CHECKPOINT,
    get_checkpoint,
    last_seq,
    quarantine_entry,
    read_after,
    set_checkpoint,
)
from c360.ingest.records import RECORD_TYPE
from c360.kernel.background import BackgroundLoop
from c360.kernel.clock import system_clock
from c360.profiles.refresh import due_profiles, refresh_profiles
from c360.profiles.service import apply_entries as apply_to_profiles
from c360.standardize.service import INLINE, Standardizer, apply_records
from c360.storage.dialect import is_conflict
from c360.storage.engine import reader

log = logging.getLogger(__name__)

__all__ = [
    "DUE_BATCH",
    "PROFILES_CHECKPOINT",
    "Processor",
    "apply_entries",
    "lag",
    "process_available",
    "refresh_all_due",
    "refresh_due",
]


def process_available(engine: Engine, batch_size: int, standardizer: Standardizer = INLINE) -> int:
    """Apply one batch of unprocessed entries; return how many were applied."""
    try:
        with engine.begin() as conn:
            checkpoint = get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)
            events = read_after(conn, checkpoint, batch_size)
            if not events:
                return 0
            apply_entries(conn, events, standardizer)
            set_checkpoint(conn, PROFILES_CHECKPOINT, events[-1].seq)
        return len(events)
    except OperationalError:
        raise  # the store is unreachable or busy: retry the same batch later
    except Exception:
        # One entry the profiles cannot take must not stop every entry behind it.
        return _process_next_alone(engine)


def apply_entries(
    conn: Connection, events: list[StoredEvent], standardizer: Standardizer = INLINE
) -> None:
    """Records (files, databases, webhooks) are standardized into the source records; what
    changed, and the tracked messages, are resolved into profiles."""
    records = [e for e in events if e.type == RECORD_TYPE]
    if records:
        changed = apply_records(conn, records, standardizer)
        apply_to_profiles(conn, changed, [e for e in events if e.type != RECORD_TYPE])
    else:
        apply_to_profiles(conn, [], events)


def _process_next_alone(engine: Engine) -> int:
    """Apply the next entry by itself; if it still fails, quarantine it and move on."""
    with engine.begin() as conn:
        checkpoint = get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)
        events = read_after(conn, checkpoint, 1)
        if not events:
            return 0
        try:
            with conn.begin_nested():
                apply_entries(conn, events)
        except OperationalError:
            raise
        except Exception as exc:
            log.error(
                "log entry %d could not be applied (%s); quarantined",
                events[0].seq,
                type(exc).__name__,
            )
            quarantine_entry(
                conn,
                events[0],
                "processing_failed",
                f"the worker could not apply log entry {events[0].seq} ({type(exc).__name__}); "
                "it stays in the log and is applied again by c360 rebuild",
            )
        set_checkpoint(conn, PROFILES_CHECKPOINT, events[0].seq)
    return 1


DUE_BATCH = 500


def refresh_due(engine: Engine, now_us: int | None = None, limit: int = DUE_BATCH) -> int:
    """Recompute the computed traits that time alone has changed (an order leaving a 30-day
    window, churn risk rising); return how many profiles were refreshed."""
    now = system_clock() if now_us is None else now_us
    with engine.begin() as conn:
        # the checkpoint lock: the feed's changes commit in id order (see changes.feed)
        seq = get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)
        due = due_profiles(conn, now, limit)
        refresh_profiles(conn, due, seq, now_us=now)
    return len(due)


def refresh_all_due(
    engine: Engine,
    after_batch: Callable[[], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """``refresh_due`` until nothing is due (or ``stop`` is set); return the profiles
    refreshed. ``after_batch`` is told after each batch that refreshed some."""
    total = 0
    while (refreshed := refresh_due(engine)) and not (stop is not None and stop.is_set()):
        total += refreshed
        if after_batch is not None:
            after_batch()
        if refreshed < DUE_BATCH:
            break
    return total


def lag(engine: Engine) -> tuple[int, int]:
    """(entries not yet processed, checkpoint)."""
    with reader(engine).connect() as conn:
        checkpoint = get_checkpoint(conn, PROFILES_CHECKPOINT)
        return max(0, last_seq(conn) - checkpoint), checkpoint


class Processor(BackgroundLoop):
    """Runs ``process_available`` in a thread until stopped; woken early by ``notify``."""

    def __init__(
        self,
        engine: Engine,
        *,
        batch_size: int = 500,
        poll_s: float = 0.2,
        due_every_s: float = 1.0,
        on_applied: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._batch_size = batch_size
        self._poll_s = poll_s
        self._due_every_s = due_every_s
        self._due_checked = 0.0
        self._on_applied = on_applied
        """Told after each batch that may have added to the change feed (webhook delivery)."""
        self._rounds = 0
        self._round_done = threading.Condition()
        super().__init__("c360-processor")
        self.conflicts = 0
        """Rounds the store aborted because another transaction conflicted with them (a
        serialization failure or a deadlock) and that were tried again. Also in ``errors``;
        counted apart because workers sharing a store may meet these, while every other
        error is a fault."""

    def wait_until(self, seq: int, stop: threading.Event) -> bool:
        """Wake the loop and wait until the checkpoint reaches ``seq`` (or the newest entry,
        if the log ends before it); False if ``stop`` or the processor stopped first. Any
        worker may be the one that moves the checkpoint: the stored one is what counts."""
        while not (stop.is_set() or self._stop.is_set()):
            try:
                with self._engine.connect() as conn:
                    checkpoint = get_checkpoint(conn, PROFILES_CHECKPOINT)
                    if checkpoint >= seq or checkpoint >= last_seq(conn):
                        return True
            except OperationalError:
                stop.wait(1.0)  # the store is unreachable; the loop logs it
                continue
            with self._round_done:
                self.notify()
                self._round_done.wait_for(partial(self._finished_since, self._rounds), 1.0)
        return False

    def _finished_since(self, rounds: int) -> bool:
        return self._rounds != rounds

    def _round_finished(self) -> None:
        with self._round_done:
            self._rounds += 1
            self._round_done.notify_all()

    def _run(self) -> None:
        # SQLite has one writer at a time: a worker catching up would otherwise hold the lock
        # back to back and make every acknowledgement wait. It leaves the lock free for at least
        # as long as it held it, so ingestion keeps at least half the store's time.
        shares_lock = self._engine.dialect.name == "sqlite"
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                applied = process_available(self._engine, self._batch_size)
                if applied and self._on_applied is not None:
                    self._on_applied()
            except Exception as exc:
                self.errors += 1
                if is_conflict(exc):
                    self.conflicts += 1
                # The type only: database errors quote the rows, which hold personal data.
                log.error("processing the log failed (%s); retrying", type(exc).__name__)
                applied = 0
                self._stop.wait(1.0)
            self._round_finished()
            if applied < self._batch_size:
                self._refresh_due_now_and_then()
                self._wake.wait(self._poll_s)
                self._wake.clear()
            elif shares_lock:
                self._stop.wait(time.monotonic() - started)

    def _refresh_due_now_and_then(self) -> None:
        """Windows stay right as time passes: once the log is caught up, profiles whose
        computed traits fell due are recomputed (at most every ``due_every_s``)."""
        if time.monotonic() - self._due_checked < self._due_every_s:
            return
        self._due_checked = time.monotonic()
        try:
            refresh_all_due(self._engine, self._on_applied, self._stop)
        except Exception as exc:
            self.errors += 1
            if is_conflict(exc):
                self.conflicts += 1
            log.error("refreshing computed traits failed (%s); retrying", type(exc).__name__)
