"""The retention schedule, as ``c360 serve`` and ``c360 worker`` run it: once a day, the
policies are applied (``c360.compliance.retention``, which builds this loop with its job:
compliance sits above the workers)."""

import logging
from collections.abc import Callable

from sqlalchemy import Engine, func, select

from c360.kernel.background import BackgroundLoop
from c360.kernel.clock import Clock, system_clock
from c360.storage.engine import reader
from c360.storage.tables import retention_runs

log = logging.getLogger(__name__)


def next_run_us(engine: Engine, every_s: float) -> int:
    """When the next run is due: ``every_s`` after the last real run started (now, if
    there never was one). Read from the store, so several processes share one schedule."""
    with reader(engine).connect() as conn:
        last = conn.execute(
            select(func.max(retention_runs.c.started_at_us)).where(retention_runs.c.dry_run == 0)
        ).scalar()
    return 0 if last is None else int(last) + int(every_s * 1_000_000)


class RetentionLoop(BackgroundLoop):
    """Runs ``job(now_us)`` when a run is due, checking every ``poll_s`` seconds."""

    def __init__(
        self,
        engine: Engine,
        job: Callable[[int], object],
        *,
        every_s: float = 86_400.0,
        poll_s: float = 600.0,
        clock: Clock = system_clock,
    ) -> None:
        self._engine = engine
        self._job = job
        self._every_s = every_s
        self._poll_s = poll_s
        self._clock = clock
        self.runs = 0
        super().__init__("c360-retention")

    def run_if_due(self) -> bool:
        """One check: run the job if it is due; return whether it ran."""
        now = self._clock()
        if now < next_run_us(self._engine, self._every_s):
            return False
        self._job(now)
        self.runs += 1
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_if_due()
            except Exception as exc:
                self.errors += 1
                # the type only: database errors quote the rows, which hold personal data
                log.error("the retention run failed (%s); trying again later", type(exc).__name__)
            self._wake.wait(self._poll_s)
            self._wake.clear()
