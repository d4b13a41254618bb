"""What a channel is to a journey: a way to hand one message to a provider.

Adapters in ``c360.connectors.channels`` implement ``Channel``; the dispatcher calls ``send`` and
records the outcome. ``SendFailed.retryable`` separates a provider that is busy or down (try again,
not before ``retry_after_s``) from one that refused the message for good (bad address, blocked
user, unsubscribed): the second is recorded and never retried.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from c360.errors import UpstreamError


class ChannelName(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    LINE = "line"
    ZALO = "zalo"
    PUSH = "push"
    WEBHOOK = "webhook"


@dataclass(frozen=True, slots=True)
class Message:
    """One rendered message to one address.

    ``idempotency_key`` is the same every time this message is tried (journey entry and step), so
    a provider that deduplicates (LINE's retry key, a webhook receiver) sees one message even when
    c360 crashed after sending and before recording it.
    """

    idempotency_key: str
    channel: ChannelName
    to: str
    body: str
    subject: str | None = None
    html: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_id: str | None


class SendFailed(UpstreamError):
    """The provider did not take the message; ``reason`` is short and safe to store and show."""

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        retry_after_s: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(reason, retryable=retryable)
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.status = status


class Channel(Protocol):
    """A provider adapter. ``send`` raises ``SendFailed``; it never logs credentials."""

    @property
    def name(self) -> ChannelName: ...

    async def send(self, message: Message) -> SendResult: ...

    async def aclose(self) -> None: ...
