"""Background upkeep of the store that must stay off the commit path."""

import logging
import threading

from sqlalchemy import Engine

log = logging.getLogger(__name__)


class WalCheckpointer:
    """Copies SQLite's write-ahead log back into the database file every ``interval_s``.

    SQLite would otherwise checkpoint inside whichever commit crosses the WAL size limit,
    stalling that request; a PASSIVE checkpoint here never blocks writers.
    """

    def __init__(self, engine: Engine, interval_s: float = 1.0) -> None:
        self._engine = engine
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="c360-wal-checkpoint", daemon=True)

    def start(self) -> "WalCheckpointer":
        if self._engine.dialect.name == "sqlite":
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                raw = self._engine.raw_connection()
                try:
                    raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    raw.close()
            except Exception as exc:  # a failed checkpoint is retried on the next tick
                log.warning("WAL checkpoint failed: %s", type(exc).__name__)
