"""The event log: append-only, keyed by (source, message id), the source of truth.

Ingest appends to it (durably, before the caller is told "accepted"); everything to its right
is a view derived from it by reading it in ``seq`` order from a stored checkpoint.
"""

from c360.eventlog.model import LogRow, RejectRow, Source, StoredEvent
from c360.eventlog.writer import GroupCommitWriter, WriterClosed

__all__ = ["GroupCommitWriter", "LogRow", "RejectRow", "Source", "StoredEvent", "WriterClosed"]
