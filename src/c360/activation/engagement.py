"""What people do with messages, back into their profile: opens, clicks, replies, unsubscribes.

Each is recorded on the message and appended to the event log as a track event filed under
the person's profile (``c360.activation.outbox``), so it shows on the timeline, counts for the
preferred channel and best contact time, and can trigger or end journeys like any event. An
unsubscribe is a consent statement (purpose and channel) that the dispatcher and every later
send respect.
"""

from typing import Any

from sqlalchemy import Connection, select, update

from c360.activation.outbox import BadToken, append_events, link_secret, message_event, read_token
from c360.errors import NotFound
from c360.storage.tables import messages


def _message(conn: Connection, key: str) -> Any:
    row = conn.execute(select(messages).where(messages.c.key == key)).first()
    if row is None:
        raise BadToken("this link's message no longer exists")
    return row


def record_open(conn: Connection, token: str, now_us: int) -> None:
    """An open (the pixel was fetched; LINE/Zalo read receipts come as replies' events)."""
    data = read_token(link_secret(conn), token)
    row = _message(conn, str(data.get("k")))
    if row.opened_at_us is None:
        conn.execute(update(messages).where(messages.c.id == row.id).values(opened_at_us=now_us))
        append_events(conn, [message_event(row, "opened", now_us)], now_us)


def record_click(conn: Connection, token: str, now_us: int) -> str:
    """A click on a tracked link; returns where it goes. Only URLs c360 signed are followed."""
    data = read_token(link_secret(conn), token)
    url = data.get("u")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise BadToken("this link has no destination")
    row = _message(conn, str(data.get("k")))
    values: dict[str, Any] = {"clicked_at_us": row.clicked_at_us or now_us}
    if row.opened_at_us is None:
        values["opened_at_us"] = now_us  # a click is an open the pixel may have missed
    conn.execute(update(messages).where(messages.c.id == row.id).values(**values))
    append_events(conn, [message_event(row, "clicked", now_us, {"url": url})], now_us)
    return url


def unsubscribe_token(conn: Connection, key: str) -> str:
    from c360.activation.outbox import make_token

    return make_token(link_secret(conn), {"k": key, "a": "unsubscribe"})


def record_unsubscribe(conn: Connection, token: str, now_us: int) -> Any:
    """The person asked for no more messages of this purpose on this channel."""
    data = read_token(link_secret(conn), token)
    if data.get("a") != "unsubscribe":
        raise BadToken("not an unsubscribe link")
    row = _message(conn, str(data.get("k")))
    append_events(
        conn,
        [
            message_event(
                row,
                "unsubscribed",
                now_us,
                {"consent_purpose": row.consent or row.purpose, "consent_channel": row.channel},
            )
        ],
        now_us,
    )
    return row


def record_reply(conn: Connection, channel: str, address: str, text: str, now_us: int) -> Any:
    """A reply from ``address`` on ``channel`` (a LINE or Zalo message, an SMS): filed under
    the profile of the latest message sent to that address."""
    row = conn.execute(
        select(messages)
        .where(messages.c.channel == channel, messages.c.address == address)
        .order_by(messages.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NotFound(f"no message was sent to this {channel} address")
    append_events(conn, [message_event(row, "replied", now_us, {"text": text[:4000]})], now_us)
    return row


def record_receipt(
    conn: Connection, channel: str, provider_id: str, outcome: str, now_us: int, reason: str = ""
) -> Any:
    """A provider's receipt for a message it took (``delivered``, ``failed``, ``opened``),
    found by the provider's id for it; None when c360 sent no such message."""
    row = conn.execute(
        select(messages).where(messages.c.channel == channel, messages.c.provider_id == provider_id)
    ).first()
    if row is None:
        return None
    if outcome == "opened":
        if row.opened_at_us is None:
            conn.execute(
                update(messages).where(messages.c.id == row.id).values(opened_at_us=now_us)
            )
            append_events(conn, [message_event(row, "opened", now_us)], now_us)
        return row
    if row.status == outcome:
        return row  # a receipt repeated
    conn.execute(
        update(messages)
        .where(messages.c.id == row.id)
        .values(status=outcome, reason=reason or row.reason, updated_at_us=now_us)
    )
    extra = {"reason": reason} if reason else {}
    append_events(conn, [message_event(row, outcome, now_us, extra)], now_us)
    return row
