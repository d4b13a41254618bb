"""The retention schedule, as ``c360 serve`` and ``c360 worker`` run it: once a day, the
policies are applied (``c360.compliance.retention``, which builds this loop with its job:
compliance sits above the workers).

Every API process and worker runs the loop; one run a day happens across all of them. A
process starts a run by claiming it: in one transaction that excludes the others (PostgreSQL:
an advisory lock; SQLite: the write lock ``BEGIN IMMEDIATE`` takes), it checks that a run is
due and records the run as started. A run that has not finished within :data:`LEASE_S` is
taken for dead (its process died) and another process may start one."""

from collections.abc import Callable

from sqlalchemy import Connection, Engine, func, insert, select

from c360.kernel.background import BackgroundLoop
from c360.kernel.clock import Clock, system_clock
from c360.storage.engine import reader
from c360.storage.tables import retention_runs

LEASE_S = 3600.0
"""How long a started run may take before another process takes it for dead."""
RETENTION_LOCK_KEY = 3600003
"""PostgreSQL advisory lock of the claim (the log's is 3600001)."""


def next_run_us(engine: Engine, every_s: float, lease_s: float = LEASE_S) -> int:
    """When the next run is due: ``every_s`` after the last finished run started (now, if
    there never was one), and not while another run is under way (started less than
    ``lease_s`` ago). Read from the store, so several processes share one schedule."""
    with reader(engine).connect() as conn:
        return _due_us(conn, every_s, lease_s)


def _due_us(conn: Connection, every_s: float, lease_s: float) -> int:
    real = retention_runs.c.dry_run == 0
    finished, running = conn.execute(
        select(
            func.max(retention_runs.c.started_at_us).filter(
                retention_runs.c.finished_at_us.is_not(None)
            ),
            func.max(retention_runs.c.started_at_us).filter(
                retention_runs.c.finished_at_us.is_(None)
            ),
        ).where(real)
    ).one()
    due = 0 if finished is None else int(finished) + int(every_s * 1_000_000)
    if running is not None:
        due = max(due, int(running) + int(lease_s * 1_000_000))
    return due


def claim_run(engine: Engine, now_us: int, every_s: float, lease_s: float = LEASE_S) -> int | None:
    """Start a run if one is due, atomically across processes: the new run's id, or None."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(RETENTION_LOCK_KEY)))
        if now_us < _due_us(conn, every_s, lease_s):
            return None
        return int(
            conn.execute(
                insert(retention_runs)
                .values(started_at_us=now_us, finished_at_us=None, dry_run=0, report={})
                .returning(retention_runs.c.id)
            ).scalar_one()
        )


class RetentionLoop(BackgroundLoop):
    """Runs ``job(now_us, run_id)`` when this process has claimed a due run (the job records
    the run's end under ``run_id``), checking every ``poll_s`` seconds."""

    def __init__(
        self,
        engine: Engine,
        job: Callable[[int, int], object],
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
            return False  # the common case, answered by a read
        run_id = claim_run(self._engine, now, self._every_s)
        if run_id is None:
            return False  # another process claimed it first
        self._job(now, run_id)
        self.runs += 1
        return True

    def _run(self) -> None:
        self._repeat(self.run_if_due, self._poll_s, "the retention run")
