"""Time as c360 stores it: integer microseconds since the Unix epoch, UTC."""

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], int]
"""A function returning the current time in epoch microseconds."""


def system_clock() -> int:
    """The current time in epoch microseconds."""
    return time.time_ns() // 1000


def to_us(moment: datetime) -> int:
    """Epoch microseconds of an aware datetime (a naive one is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    """The aware UTC datetime of epoch microseconds."""
    return datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000)


def isoformat_us(us: int) -> str:
    """ISO-8601 text with ``Z`` for epoch microseconds, as the API returns times."""
    return from_us(us).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_timestamp(value: object) -> int:
    """Epoch microseconds of an ISO-8601 timestamp string; naive times are UTC.

    Accepts ``Z`` or an offset and any number of fraction digits (nanoseconds are truncated).
    Raises ValueError for anything else.
    """
    if not isinstance(value, str) or not value:
        raise ValueError("timestamp must be an ISO-8601 string")
    return to_us(datetime.fromisoformat(value))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_TIMESTAMP_US = to_us(datetime(1, 1, 1, tzinfo=UTC))
MAX_TIMESTAMP_US = to_us(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
"""The span a datetime can show: times outside it are refused at the door."""
