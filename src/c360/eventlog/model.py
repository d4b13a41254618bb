"""Rows of the log and of its quarantine, and the sources they belong to."""

from dataclasses import dataclass
from typing import NotRequired, TypedDict


class LogRow(TypedDict):
    """One accepted message, as appended (plain dict: it is built per event on the hot path)."""

    source_id: int
    message_id: str
    type: str
    received_at_us: int
    sent_at_us: int | None
    original_timestamp_us: int | None
    timestamp_us: int
    payload: str
    facts: NotRequired[str | None]  # set by ``append``: name and properties beside a sealed payload


class RejectRow(TypedDict):
    """One quarantined item: the reason code, a readable detail and the raw bytes."""

    source_id: int
    received_at_us: int
    reason: str
    detail: str
    message_id: str | None
    payload: bytes
    stage: NotRequired[str]
    origin: NotRequired[str | None]


@dataclass(frozen=True, slots=True)
class Source:
    """Where messages come from: an SDK, an import, a webhook."""

    id: int
    name: str
    rate_limit_per_s: float | None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A message read back from the log."""

    seq: int
    source_id: int
    message_id: str
    type: str
    received_at_us: int
    sent_at_us: int | None
    original_timestamp_us: int | None
    timestamp_us: int
    payload: str
