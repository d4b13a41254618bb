"""Test data: Thai and Vietnamese people, Segment messages, by default."""

from __future__ import annotations

import itertools
import uuid
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from c360.eventlog.model import LogRow

PEOPLE = [
    ("สมชาย ใจดี", "somchai@example.co.th", "+66812345678"),
    ("Nguyễn Văn An", "an.nguyen@example.vn", "+84912345678"),
    ("วิไลวรรณ ศรีสุข", "wilaiwan@example.co.th", "+66898765432"),
    ("Trần Thị Bích", "bich.tran@example.vn", "+84987654321"),
]
_counter = itertools.count(1)


def message_id() -> str:
    return str(uuid.uuid4())


def identify(user_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    name, email, phone = PEOPLE[next(_counter) % len(PEOPLE)]
    message = {
        "type": "identify",
        "messageId": message_id(),
        "userId": user_id or f"user-{uuid.uuid4().hex[:8]}",
        "traits": {"name": name, "email": email, "phone": phone},
        "timestamp": "2026-11-23T10:00:00.000+07:00",
    }
    message.update(overrides)
    return message


def track(
    user_id: str | None = None, event: str = "Product Viewed", **overrides: Any
) -> dict[str, Any]:
    message = {
        "type": "track",
        "messageId": message_id(),
        "userId": user_id or f"user-{uuid.uuid4().hex[:8]}",
        "event": event,
        "properties": {"sku": "TH-001", "price": 1290, "currency": "THB"},
        "timestamp": "2026-11-23T03:00:00.123Z",
    }
    message.update(overrides)
    return message


def log_row(source_id: int, message: dict[str, Any], at_us: int) -> LogRow:
    """A Segment message as the tracking API logs it, received (and timestamped) at
    ``at_us``."""
    from c360.eventlog.model import LogRow

    return LogRow(
        source_id=source_id,
        message_id=message["messageId"],
        type=message["type"],
        received_at_us=at_us,
        sent_at_us=None,
        original_timestamp_us=None,
        timestamp_us=at_us,
        payload=orjson.dumps(message).decode(),
    )
