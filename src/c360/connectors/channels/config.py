"""What each channel provider needs to be reached: one pydantic model per provider.

Credentials are ``SecretStr``: they print as ``**********`` in reprs, logs and errors, and only
the adapter reads them, when it builds a request. ``base_url`` defaults to the real provider;
tests point it at a local server. Settings nest these under ``channels`` (environment variables
such as ``C360_CHANNELS__LINE__CHANNEL_ACCESS_TOKEN``); see ``docs/channels.md``.
"""

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator


def _base_url(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError("give an http:// or https:// URL, such as https://api.line.me")
    return value.rstrip("/")


BaseUrl = Annotated[str, AfterValidator(_base_url)]


class _Provider(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_s: float = Field(10.0, gt=0)
    """Longest wait for one request, connecting included."""
    max_connections: int = Field(100, ge=1)
    """Connections kept open to the provider at once (requests beyond wait for one)."""
    country: str | None = Field(None, pattern=r"^[A-Za-z]{2}$")
    """ISO 3166 alpha-2 code of where the provider processes messages, for the transfer
    register (unset: the provider's default there, ``c360.compliance.register``)."""


class EmailConfig(_Provider):
    """An SMTP server (a relay, or a provider's SMTP endpoint)."""

    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    """``starttls`` (port 587) upgrades a plain connection and fails if the server cannot;
    ``tls`` (port 465) starts with TLS; ``none`` only for a relay on a trusted network."""
    ca_file: Path | None = None
    """CA bundle to verify the server's certificate with, instead of the system's."""
    username: str | None = None
    password: SecretStr | None = None
    from_address: str
    from_name: str | None = None
    one_click_unsubscribe: bool = False
    """Add ``List-Unsubscribe-Post`` (RFC 8058): only when every ``unsubscribe_url`` takes a
    one-click POST."""
    max_connections: int = Field(4, ge=1)

    @model_validator(mode="after")
    def _login_pair(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        if "@" not in self.from_address:
            raise ValueError("from_address must be an email address")
        return self


class TwilioConfig(_Provider):
    """Twilio Programmable Messaging (SMS)."""

    account_sid: str
    auth_token: SecretStr
    from_number: str | None = None
    """The sender: an E.164 number (``+6621234567``) or an alphanumeric sender ID."""
    messaging_service_sid: str | None = None
    """Send through a Messaging Service (``MG...``), which picks the sender, instead."""
    base_url: BaseUrl = "https://api.twilio.com"
    status_callback_url: str | None = None
    """Where Twilio reports each message's delivery (``StatusCallback``): c360's
    ``{C360_PUBLIC_URL}/api/inbound/twilio/status`` to get ``SMS Delivered`` events."""

    @model_validator(mode="after")
    def _one_sender(self) -> Self:
        if (self.from_number is None) == (self.messaging_service_sid is None):
            raise ValueError("give exactly one of from_number and messaging_service_sid")
        return self


class LineConfig(_Provider):
    """A LINE Official Account's Messaging API channel."""

    channel_access_token: SecretStr
    base_url: BaseUrl = "https://api.line.me"


class ZaloConfig(_Provider):
    """A Zalo Official Account (OA) with an OA access token."""

    access_token: SecretStr
    base_url: BaseUrl = "https://openapi.zalo.me"


class PushConfig(_Provider):
    """Firebase Cloud Messaging (HTTP v1) for one Firebase project."""

    project_id: str
    access_token: SecretStr
    """An OAuth 2.0 access token with the ``firebase.messaging`` scope, minted outside c360
    (``gcloud auth print-access-token``, workload identity); it expires within an hour."""
    base_url: BaseUrl = "https://fcm.googleapis.com"


class WebhookConfig(_Provider):
    """Signed webhooks to the URL each message names."""

    signing_secret: SecretStr
    allowed_hosts: str = ""
    """Internal receivers allowed despite the SSRF rules (``host`` or ``host:port``,
    comma-separated), as ``C360_WEBHOOK_ALLOWED_HOSTS`` for subscriptions."""


class ChannelsConfig(BaseModel):
    """The providers configured: a channel without one is not built."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: EmailConfig | None = None
    sms: TwilioConfig | None = None
    line: LineConfig | None = None
    zalo: ZaloConfig | None = None
    push: PushConfig | None = None
    webhook: WebhookConfig | None = None
