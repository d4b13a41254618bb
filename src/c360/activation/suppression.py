"""The global suppression list: addresses never to send to, whatever a journey says.

Bounced email addresses are added by the dispatcher; operators add others (a complaint, a
legal hold, a test inbox). Addresses are kept as channels use them: email lower-cased, phones
in E.164 (``+66812345678``), LINE and Zalo ids as given. ``*`` suppresses an address on every
channel.
"""

from dataclasses import dataclass

from sqlalchemy import Connection, delete, select

from c360.activation.channels import ChannelName
from c360.errors import InvalidInput, NotFound
from c360.kernel.clock import system_clock
from c360.standardize import email as standard_email
from c360.standardize import phone as standard_phone
from c360.storage.dialect import upsert_many
from c360.storage.tables import suppressions

CHANNELS = ("*", *(c.value for c in ChannelName if c is not ChannelName.WEBHOOK))


@dataclass(frozen=True, slots=True)
class Suppression:
    channel: str
    address: str
    reason: str
    created_at_us: int


def normal_address(channel: str, address: str) -> str:
    """The address as messages carry it, so a suppression matches however it was typed."""
    if channel not in CHANNELS:
        raise InvalidInput(f"channel {channel!r}: use one of {', '.join(CHANNELS)}")
    text = address.strip()
    if not text or len(text) > 500:
        raise InvalidInput("give an address of 1 to 500 characters")
    if channel == "email" or (channel == "*" and "@" in text):
        found = standard_email(text)
        if not found.ok or not found.value:
            raise InvalidInput(f"{text!r} is not an email address")
        return str(found.value)
    if channel == "sms" or (channel == "*" and text.startswith("+")):
        number = standard_phone(text)
        if not number.ok or not number.value:
            raise InvalidInput(f"{text!r} is not a phone number (write it with +66 / +84 ...)")
        return str(number.value)
    return text


def suppress(
    conn: Connection, channel: str, address: str, reason: str, *, now_us: int | None = None
) -> Suppression:
    if not reason.strip():
        raise InvalidInput("say why the address is suppressed (--reason)")
    found = Suppression(
        channel,
        normal_address(channel, address),
        reason.strip()[:1000],
        system_clock() if now_us is None else now_us,
    )
    upsert_many(
        conn,
        suppressions,
        [
            {
                "channel": found.channel,
                "address": found.address,
                "reason": found.reason,
                "created_at_us": found.created_at_us,
            }
        ],
    )
    return found


def unsuppress(conn: Connection, channel: str, address: str) -> None:
    try:
        normal = normal_address(channel, address)
    except InvalidInput:
        raise NotFound(f"{address!r} is not suppressed on {channel}") from None
    result = conn.execute(
        delete(suppressions).where(
            suppressions.c.channel == channel, suppressions.c.address == normal
        )
    )
    if not result.rowcount:
        raise NotFound(f"{normal} is not suppressed on {channel}")


def list_suppressions(conn: Connection, limit: int = 1000) -> list[Suppression]:
    rows = conn.execute(
        select(suppressions).order_by(suppressions.c.created_at_us.desc()).limit(limit)
    )
    return [Suppression(r.channel, r.address, r.reason, r.created_at_us) for r in rows]
