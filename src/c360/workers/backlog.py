"""How far the log processor is behind the log, cheap enough to check on every request.

The tracking API refuses new messages (429 ``worker_lag``) while more than ``max_lag`` log
entries wait to be processed: accepting faster than the workers apply would delay every
profile, segment and journey without bound. Reading the lag costs two queries, so a thread
reads it at most every ``every_s`` and requests look at the last reading.
"""

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from c360.kernel.background import BackgroundLoop
from c360.workers.processor import lag

log = logging.getLogger(__name__)

MIN_RETRY_AFTER_S = 1
MAX_RETRY_AFTER_S = 60


@dataclass(frozen=True, slots=True)
class Reading:
    """One look at the log: entries not yet processed, the checkpoint, and how many entries
    per second the workers processed recently (None until two readings apart)."""

    lag: int
    checkpoint: int
    rate_per_s: float | None


class ProcessingRate:
    """Entries processed per second, from the checkpoint's advance over the last ``window_s``."""

    def __init__(self, window_s: float = 10.0, min_span_s: float = 0.25) -> None:
        self._window_s = window_s
        self._min_span_s = min_span_s
        self._seen: deque[tuple[float, int]] = deque()

    def add(self, at_s: float, checkpoint: int) -> float | None:
        """Take a checkpoint read at ``at_s`` (monotonic); return the rate over the window."""
        if self._seen and checkpoint < self._seen[-1][1]:
            self._seen.clear()  # the checkpoint went back (a rebuild): measure afresh
        # readings closer than min_span_s add nothing but memory (/readyz may be polled fast)
        if not self._seen or at_s - self._seen[-1][0] >= self._min_span_s:
            self._seen.append((at_s, checkpoint))
        # keep one reading at least window_s old, so the rate spans the whole window
        while len(self._seen) > 2 and at_s - self._seen[1][0] >= self._window_s:
            self._seen.popleft()
        first_at, first = self._seen[0]
        span_s = at_s - first_at
        if span_s < self._min_span_s:
            return None
        return (checkpoint - first) / span_s


def retry_after_s(lag: int, max_lag: int, rate_per_s: float | None) -> int:
    """Seconds a refused client should wait: how long the workers need, at their recent rate,
    to bring the lag back to the limit; 1 to 60, and 60 while they are not progressing."""
    if not rate_per_s or rate_per_s <= 0:
        return MAX_RETRY_AFTER_S
    wait_s = math.ceil(max(0, lag - max_lag) / rate_per_s)
    return min(MAX_RETRY_AFTER_S, max(MIN_RETRY_AFTER_S, wait_s))


class Backlog(BackgroundLoop):
    """Reads the processor's lag every ``every_s`` in a thread; ``overloaded`` answers from
    the last reading without touching the store."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_lag: int,
        every_s: float = 0.5,
        window_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_lag = max_lag
        """Most unprocessed entries before new messages are refused; 0: no limit."""
        self.reading: Reading | None = None
        self._engine = engine
        self._every_s = every_s
        self._clock = clock
        self._rate = ProcessingRate(window_s)
        # One reading at a time: a slow one finishing late never overwrites a newer one.
        self._reading_lock = threading.Lock()
        super().__init__("c360-backlog")

    def refresh(self) -> Reading:
        """Read the lag from the store now."""
        with self._reading_lock:
            behind, checkpoint = lag(self._engine)
            reading = Reading(behind, checkpoint, self._rate.add(self._clock(), checkpoint))
            self.reading = reading
        return reading

    def is_over(self, reading: Reading) -> bool:
        return 0 < self.max_lag < reading.lag

    def overloaded(self) -> Reading | None:
        """The last reading if it is over the limit (refuse new messages), else None."""
        reading = self.reading
        return reading if reading is not None and self.is_over(reading) else None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception as exc:
                # the last reading stands; a store that is down refuses the writes anyway
                self.errors += 1
                log.warning("reading the worker lag failed (%s); retrying", type(exc).__name__)
            self._stop.wait(self._every_s)
