"""Storage: the engine, the tables and their migrations, and per-engine differences.

Below every area that keeps state; SQLite (embedded default) and PostgreSQL (production).
"""

from sqlalchemy import Engine

from c360.storage.engine import DurabilityReport, check_durability, create_engine_for
from c360.storage.migrations import upgrade_to_head

__all__ = [
    "DurabilityReport",
    "check_durability",
    "create_engine_for",
    "open_store",
    "upgrade_to_head",
]


def open_store(url: str) -> "Engine":
    """An engine for ``url``, migrated to the newest schema (a new database is created)."""
    engine = create_engine_for(url)
    upgrade_to_head(engine)
    return engine
