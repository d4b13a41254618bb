"""``c360 rebuild``: recompute every derived view from the log."""

from collections.abc import Callable

from sqlalchemy import Engine

from c360.changes.feed import MUTED_CHECKPOINT, muted_until
from c360.eventlog.service import last_seq, set_checkpoint
from c360.storage.dialect import empty_tables
from c360.storage.tables import DERIVED_TABLES
from c360.workers.processor import PROFILES_CHECKPOINT, process_available


def rebuild(
    engine: Engine, batch_size: int = 2000, progress: Callable[[int, int], None] | None = None
) -> int:
    """Empty the derived tables and replay the whole log; return the entries applied.

    A crash part-way leaves a consistent partial state with its checkpoint: running rebuild
    again starts over and gives the same result.
    """
    with engine.begin() as conn:
        total = last_seq(conn)
        empty_tables(conn, DERIVED_TABLES)
        set_checkpoint(conn, PROFILES_CHECKPOINT, 0)
        set_checkpoint(conn, MUTED_CHECKPOINT, max(total, muted_until(conn)))
    applied = 0
    while True:
        step = process_available(engine, batch_size)
        if not step:
            return applied
        applied += step
        if progress is not None:
            progress(applied, total)
