"""``c360 resolve``: catch the log up, then resolve every node at once."""

from collections.abc import Callable

from sqlalchemy import Engine

from c360.eventlog.service import get_checkpoint
from c360.identity.config import IdentityConfig
from c360.identity.service import BatchReport, resolve_all
from c360.profiles.service import follow_resolution
from c360.workers.processor import PROFILES_CHECKPOINT, process_available

Progress = Callable[[str, int, int | None], None]


def _quiet(step: str, done: int, total: int | None) -> None:
    return None


def resolve_everything(
    engine: Engine,
    config: IdentityConfig,
    *,
    train: bool = True,
    batch_size: int = 2000,
    progress: Progress = _quiet,
) -> BatchReport:
    """Apply every pending log entry, then re-resolve all nodes with ``config`` (training
    the match model on the data unless ``train`` is false) in one transaction."""
    while process_available(engine, batch_size):
        progress("applying the log", 0, None)
    with engine.begin() as conn:
        seq = get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)
        report = resolve_all(conn, config, train=train, seq=seq, progress=progress)
        progress("updating profiles", 0, None)
        follow_resolution(conn, report.changes, seq)
    return report
