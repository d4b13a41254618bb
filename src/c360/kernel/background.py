"""A loop that runs in a daemon thread: woken early by ``notify``, ended by ``stop``."""

import logging
import threading
from collections.abc import Callable
from typing import Self

log = logging.getLogger(__name__)


class BackgroundLoop:
    """Subclasses write ``_run``: loop until ``self._stop`` is set, waiting on ``self._wake``
    (set by ``notify``) between rounds."""

    def __init__(self, name: str) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.errors = 0

    def start(self) -> Self:
        self._thread.start()
        return self

    def notify(self) -> None:
        """There may be work: look now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish the round in progress and end (safe from a signal handler)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def run_forever(self) -> None:
        """Run in the calling thread until ``stop``."""
        self._run()

    def _run(self) -> None:
        raise NotImplementedError

    def _repeat(
        self,
        step: Callable[[], object],
        every_s: float,
        what: str,
        *,
        told: tuple[type[Exception], ...] = (),
    ) -> None:
        """Run ``step`` every ``every_s`` seconds (sooner when notified) until stopped. A
        failure is counted and logged, by the exception's type only (database errors quote
        the rows, which hold personal data) unless it is one of ``told``, whose messages are
        c360's own; the next round tries again."""
        while not self._stop.is_set():
            try:
                step()
            except Exception as exc:
                self.errors += 1
                shown = str(exc) if isinstance(exc, told) else type(exc).__name__
                log.error("%s failed (%s); trying again later", what, shown)
            self._wake.wait(every_s)
            self._wake.clear()
