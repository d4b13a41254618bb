"""The outbox, and what c360 tells the event log about messages.

A journey step that sends writes a ``messages`` row in the step's transaction; the dispatcher
sends it later. Every outcome a person could see or cause (sent, delivered, bounced, opened,
clicked, replied, unsubscribed) is appended to the event log as a track event from the
``c360-activation`` source, filed under the profile it names, so it shows on the timeline and
feeds computed traits (preferred channel, best contact time) like any tracked event.

Links in a message are rewritten to signed redirect links; an HTML message gets an open pixel.
A token names the message and the link and is signed with the store's link secret, so nobody
can forge an open or a click, or make c360 redirect somewhere a message never linked to.
"""

import base64
import hashlib
import hmac
import re
import secrets as pysecrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection, select

from c360.errors import InvalidInput
from c360.eventlog.model import LogRow
from c360.eventlog.service import append, ensure_source
from c360.kernel.clock import isoformat_us, parse_timestamp, system_clock
from c360.profiles.model import ACTIVATION_SOURCE, PROFILE_ID_TYPE
from c360.storage.dialect import insert_ignoring_duplicates, insert_many_ignoring_duplicates
from c360.storage.tables import link_secrets, messages

# Event names by channel and outcome: what the timeline shows, and what computed traits read
# (``Email Opened``, ``LINE Message Read``... are the names ``preferred_channel`` counts).
_CHANNEL_WORD = {
    "email": "Email",
    "sms": "SMS",
    "line": "LINE Message",
    "zalo": "Zalo Message",
    "push": "Push Notification",
    "webhook": "Webhook",
}
_OUTCOME_WORD = {
    "sent": "Sent",
    "delivered": "Delivered",
    "bounced": "Bounced",
    "failed": "Failed",
    "opened": "Opened",
    "clicked": "Link Clicked",
    "replied": "Replied",
    "unsubscribed": "Unsubscribed",
}
_LINE_READ = {"line": "LINE Message Read", "zalo": "Zalo Message Read"}
_URL = re.compile(r"https?://[^\s<>\"')\]]+")
_HREF = re.compile(r'(href\s*=\s*")(https?://[^"]+)(")', re.IGNORECASE)


def event_name(channel: str, outcome: str) -> str:
    if outcome == "opened" and channel in _LINE_READ:
        return _LINE_READ[channel]
    if outcome == "opened" and channel == "push":
        return "Push Notification Opened"
    return f"{_CHANNEL_WORD[channel]} {_OUTCOME_WORD[outcome]}"


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    key: str
    journey_id: int | None
    entry_id: int | None
    step: str | None
    profile_id: str
    channel: str
    address: str
    purpose: str
    consent: str | None
    subject: str | None
    body: str
    html: str | None


def queue(conn: Connection, message: QueuedMessage, now_us: int) -> int:
    """Put a message in the outbox (once per key); returns its id."""
    row = {
        "key": message.key,
        "journey_id": message.journey_id,
        "entry_id": message.entry_id,
        "step": message.step,
        "profile_id": message.profile_id,
        "channel": message.channel,
        "address": message.address,
        "purpose": message.purpose,
        "consent": message.consent,
        "subject": message.subject,
        "body": message.body,
        "html": message.html,
        "status": "queued",
        "attempts": 0,
        "next_attempt_us": now_us,
        "created_at_us": now_us,
        "updated_at_us": now_us,
    }
    return _insert_once(conn, row)


def _insert_once(conn: Connection, row: dict[str, Any]) -> int:
    conn.execute(insert_ignoring_duplicates(conn, messages).values(**row))
    found = conn.execute(select(messages.c.id).where(messages.c.key == row["key"])).scalar_one()
    return int(found)


# --- events about messages -------------------------------------------------------------------


def activation_event(
    profile_id: str,
    name: str,
    properties: dict[str, Any],
    message_id: str,
    at_us: int,
    *,
    kind: str = "track",
    traits: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Segment-spec message from c360 about ``profile_id``."""
    body: dict[str, Any] = {
        "type": kind,
        "messageId": message_id,
        "anonymousId": f"c360:{profile_id}",
        "timestamp": _timestamp(at_us),
        "context": {
            "library": {"name": "c360", "version": "1"},
            "externalIds": [
                {
                    "id": profile_id,
                    "type": PROFILE_ID_TYPE,
                    "collection": "users",
                    "encoding": "none",
                }
            ],
        },
    }
    if kind == "track":
        body["event"] = name
        body["properties"] = properties
    else:
        body["traits"] = traits or {}
    return body


def append_events(conn: Connection, bodies: list[dict[str, Any]], now_us: int) -> None:
    """Append c360's own messages to the log (a repeated message id is stored once)."""
    if not bodies:
        return
    source = ensure_source(conn, ACTIVATION_SOURCE)
    rows: list[LogRow] = []
    for body in bodies:
        at_us = _at(body, now_us)
        rows.append(
            {
                "source_id": source.id,
                "message_id": str(body["messageId"]),
                "type": str(body["type"]),
                "received_at_us": now_us,
                "sent_at_us": None,
                "original_timestamp_us": at_us,
                "timestamp_us": at_us,
                "payload": orjson.dumps(body).decode(),
            }
        )
    append(conn, rows, [])


def _at(body: dict[str, Any], now_us: int) -> int:
    timestamp = body.get("timestamp")
    try:
        return (
            _timestamp_us(timestamp) if isinstance(timestamp, str) else parse_timestamp(timestamp)
        )
    except (InvalidInput, ValueError, TypeError):
        return now_us


# A dispatcher round's or an engine cycle's events share a few moments: each is written and
# read back once, not once per event.
_timestamp = lru_cache(maxsize=256)(isoformat_us)
_timestamp_us = lru_cache(maxsize=256)(parse_timestamp)


def message_event(
    message: Any, outcome: str, at_us: int, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The event for ``outcome`` of a ``messages`` row (one per message and outcome)."""
    properties: dict[str, Any] = {
        "channel": message.channel,
        "message_id": message.id,
        "journey_id": message.journey_id,
        "step": message.step,
        "purpose": message.purpose,
        **(extra or {}),
    }
    suffix = outcome if outcome not in ("clicked", "opened", "replied") else f"{outcome}:{at_us}"
    return activation_event(
        message.profile_id,
        event_name(message.channel, outcome),
        properties,
        f"msg:{message.key}:{suffix}",
        at_us,
    )


# --- signed links ----------------------------------------------------------------------------


def link_secret(conn: Connection) -> bytes:
    """The store's secret for link tokens, made on first use (kept in the store so every
    process and restart agrees)."""
    found = conn.execute(select(link_secrets.c.value).where(link_secrets.c.name == "links")).first()
    if found is None:
        insert_many_ignoring_duplicates(
            conn,
            link_secrets,
            [{"name": "links", "value": pysecrets.token_hex(32), "created_at_us": system_clock()}],
        )
        found = conn.execute(
            select(link_secrets.c.value).where(link_secrets.c.name == "links")
        ).first()
    assert found is not None
    return bytes.fromhex(found[0])


def make_token(secret: bytes, payload: dict[str, Any]) -> str:
    data = base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=")
    signer = _signer(secret).copy()
    signer.update(data)
    mac = signer.digest()[:16]
    return f"{data.decode()}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


@lru_cache(maxsize=8)
def _signer(secret: bytes) -> hmac.HMAC:
    """HMAC-SHA256 keyed with ``secret``, to copy for each token: the key is set up once (a
    store has one link secret), not for every link of every message."""
    return hmac.new(secret, digestmod=hashlib.sha256)


class BadToken(InvalidInput):
    """A tracking link that c360 did not make or that was altered."""


def read_token(secret: bytes, token: str) -> dict[str, Any]:
    data, _, mac = token.partition(".")
    if not data or not mac or len(token) > 4_000:
        raise BadToken("not a c360 link")
    expected = hmac.new(secret, data.encode(), hashlib.sha256).digest()[:16]
    try:
        given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
        if not hmac.compare_digest(given, expected):
            raise BadToken("this link's signature does not match: it was altered or not ours")
        value = orjson.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise BadToken("not a c360 link") from None
    if not isinstance(value, dict):
        raise BadToken("not a c360 link")
    return value


def track_links(
    secret: bytes, base_url: str, key: str, body: str, html: str | None
) -> tuple[str, str | None]:
    """Rewrite links to signed redirects and add an open pixel to HTML."""
    base = base_url.rstrip("/")

    def tracked(url: str) -> str:
        return f"{base}/t/c/{make_token(secret, {'k': key, 'u': url})}"

    new_body = _URL.sub(lambda m: tracked(m.group(0)), body)
    new_html = None
    if html is not None:
        new_html = _HREF.sub(lambda m: m.group(1) + tracked(m.group(2)) + m.group(3), html)
        pixel_url = f"{base}/t/o/{make_token(secret, {'k': key})}.gif"
        pixel = f'<img src="{pixel_url}" width="1" height="1" alt="">'
        new_html = (
            new_html.replace("</body>", pixel + "</body>")
            if "</body>" in new_html
            else (new_html + pixel)
        )
    return new_body, new_html


__all__ = [
    "BadToken",
    "QueuedMessage",
    "activation_event",
    "append_events",
    "event_name",
    "link_secret",
    "make_token",
    "message_event",
    "queue",
    "read_token",
    "track_links",
]
