"""Settings (``C360_*`` environment variables), validated once by each entry point."""

import ipaddress
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from c360.connectors.channels.config import ChannelsConfig
from c360.errors import InvalidInput
from c360.privacy.purposes import parse_purposes
from c360.storage.sealing import Keyring


class Settings(BaseSettings):
    """Everything an operator can configure; areas receive plain values, never this object."""

    # errors name the setting and the problem, never the value: it may be a key or a password
    model_config = SettingsConfigDict(
        env_prefix="C360_", extra="ignore", env_nested_delimiter="__", hide_input_in_errors=True
    )

    database_url: str = Field(
        "sqlite:///./c360.db",
        description="SQLAlchemy URL of the store: sqlite:///path or postgresql+psycopg://...",
    )
    host: str = "127.0.0.1"
    port: int = 8360
    max_message_bytes: int = Field(32 * 1024, gt=0, description="Largest single message.")
    max_batch_bytes: int = Field(
        500 * 1024,
        gt=0,
        description="Largest (decompressed) request body; set 4194304 for rudder-sdk-python.",
    )
    max_properties: int = Field(
        300, gt=0, description="Most top-level keys allowed in traits, properties or context."
    )
    unsafe_durability: bool = Field(
        False, description="Serve /v1 even when the store's durability settings are off."
    )
    key_cache_ttl_s: float = Field(
        2.0,
        ge=0,
        le=5,
        description="How long a key lookup is cached: a revoked key is refused at most this "
        "long after (5 s at most).",
    )
    session_idle_timeout_s: float = Field(
        12 * 3600.0, gt=0, description="A web session unused this long ends (default 12 h)."
    )
    session_max_age_s: float = Field(
        7 * 86400.0, gt=0, description="A web session ends this long after sign-in (7 days)."
    )
    session_cookie_secure: bool | None = Field(
        None,
        description="Mark the session cookie Secure; unset: when the request came over HTTPS "
        "(set true behind a TLS-terminating proxy).",
    )
    sign_in_max_failures: int = Field(
        5, gt=0, description="Wrong passwords per username before sign-in is refused (429)."
    )
    sign_in_max_client_failures: int = Field(
        20,
        gt=0,
        description="Failed sign-ins from one address (any usernames) before it gets 429.",
    )
    sign_in_window_s: float = Field(
        15 * 60.0, gt=0, description="The window the failed sign-ins are counted in."
    )
    worker_batch_size: int = Field(200, gt=0)
    worker_poll_s: float = Field(
        0.2,
        gt=0,
        description="How often a worker looks at the log for new entries; with the event bus "
        "this is only the safety net for lost notices, and the default becomes 2 s.",
    )
    event_bus: str | None = Field(
        None,
        description="Production mode: NATS JetStream server(s), nats://host:port (comma-"
        "separated for a cluster). API processes publish a notice after each commit and "
        "workers (c360 worker) are woken by it; the log in the store stays the truth. Unset: "
        "workers poll the log (docs/architecture.md#production-mode-the-event-bus).",
    )
    event_bus_stream: str = Field(
        "C360_LOG",
        pattern=r"^[A-Za-z0-9_-]+$",
        description="JetStream stream holding the log notices (created if missing).",
    )
    event_bus_subject: str = Field(
        "c360.log",
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Subject the notices are published on.",
    )
    event_bus_consumer: str = Field(
        "c360-workers",
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Durable pull consumer shared by all workers (each notice wakes one).",
    )
    max_worker_lag: int = Field(
        1_000_000,
        ge=0,
        description="Most log entries waiting for the workers before /v1 refuses new messages "
        "(429 worker_lag, with Retry-After) until they catch up; 0 for no limit.",
    )
    commit_batch_max_rows: int = Field(
        5000, gt=0, description="Most log rows the group-commit writer puts in one transaction."
    )
    rate_limit_burst_s: float = Field(
        2.0, gt=0, description="Seconds of a source's rate limit that may arrive at once."
    )
    max_api_body_bytes: int = Field(
        4 * 1024 * 1024,
        gt=0,
        description="Largest request body outside /v1 (management API, web app, webhooks in).",
    )
    api_rate_limit_per_s: float | None = Field(
        200.0,
        gt=0,
        description="Requests per second one caller (key, session or address) may make "
        "outside /v1; unset for no limit.",
    )
    api_rate_limit_burst_s: float = Field(
        5.0, gt=0, description="Seconds of a caller's rate limit that may arrive at once."
    )
    webhook_retry_window_s: float = Field(
        4 * 3600.0,
        ge=0,
        description="How long a failing webhook batch is retried (from its first failure) "
        "before its changes are dead-lettered.",
    )
    webhook_retry_base_delay_s: float = Field(
        1.0, gt=0, description="First wait before a webhook retry; it doubles on each failure."
    )
    webhook_retry_max_delay_s: float = Field(
        600.0, gt=0, description="Longest wait between two webhook retries."
    )
    timezone: str = Field(
        "UTC",
        description="The time zone a new segment's dates, days and anniversaries are read in "
        "when none is given (an IANA name such as Asia/Bangkok).",
    )
    webhook_allowed_hosts: str = Field(
        "",
        description="Internal webhook receivers to allow, host or host:port, comma-separated "
        "(e.g. 127.0.0.1:8123,hooks.internal); other loopback, private, link-local and "
        "metadata targets are refused.",
    )
    channels: ChannelsConfig = Field(
        default_factory=ChannelsConfig,
        description="Message providers (docs/channels.md), e.g. "
        "C360_CHANNELS__LINE__CHANNEL_ACCESS_TOKEN; a channel without one is never chosen.",
    )
    public_url: str | None = Field(
        None,
        description="The URL people's devices reach this server at, for tracked links, open "
        "pixels and unsubscribe links in messages (default: http://HOST:PORT).",
    )
    line_channel_secret: SecretStr | None = Field(
        None, description="LINE channel secret: checks the signature of LINE's webhook calls."
    )
    zalo_oa_secret_key: SecretStr | None = Field(
        None, description="Zalo OA secret key: checks the signature of Zalo's webhook calls."
    )
    zalo_app_id: str | None = Field(None, description="Zalo app id (part of Zalo's signature).")
    send_rules: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Send rules over the built-in ones, by 'COUNTRY/channel/purpose' (JSON), "
        'e.g. {"TH/sms/marketing": {"hours": "09:00-20:00", "caps": [{"max": 2, '
        '"window": "24h"}]}}; docs/activation-rules.md.',
    )
    personalize_origins: str = Field(
        "*",
        description="Web sites that may call /p/v1/personalize from a browser (CORS), "
        "comma-separated origins such as https://shop.example; * for any.",
    )
    activation_poll_s: float = Field(0.2, gt=0, description="How often journeys look for work.")
    feedback_config: Path | None = Field(
        None,
        description="YAML file configuring feedback: sources, topics, priority weights, "
        "routing rules, SLAs and the thank-you message (docs/feedback.md); default built in.",
    )
    retention_config: Path | None = Field(
        None,
        description="YAML file of retention policies (docs/retention.md), applied once a day "
        "by the worker; unset: nothing is purged.",
    )
    privacy_key: SecretStr | None = Field(
        None,
        description="Key of the erasure suppression hashes (HMAC-SHA256); kept out of the "
        "database, a copy of it cannot test guesses. Unset: the store makes its own key "
        "(docs/privacy-requests.md). Every process must use the same one.",
    )
    encryption_keys: SecretStr | None = Field(
        None,
        description="Keys that encrypt personal data at rest (AES-256-GCM), as "
        "id:base64key,id:base64key; the first seals new values, the others only open values "
        "sealed before a rotation (docs/encryption.md; `c360 encryption new-key` makes one). "
        "Unset: stored in clear. Every process must use the same keys.",
    )
    forwarded_allow_ips: str | None = Field(
        None,
        description="Addresses or networks of the proxies (load balancers) whose "
        "X-Forwarded-For and X-Forwarded-Proto headers are believed, comma-separated "
        "(10.0.0.5,10.1.0.0/16), or * for any peer. Unset: the headers are ignored and the "
        "peer's own address is the caller's (docs/deploy.md#behind-a-load-balancer).",
    )
    backup_dir: Path = Field(
        Path("backups"),
        description="Where `c360 backup create` writes encrypted backups (docs/backup.md).",
    )
    backup_keys: Path = Field(
        Path("c360-backup-keys"),
        description="The backup key store: a directory, on other storage than the backups, "
        "holding each backup's key until the backup expires (docs/backup.md).",
    )
    backup_every_hours: float | None = Field(
        None,
        gt=0,
        description="Take a backup when the newest is this many hours old (24: daily), in "
        "c360 serve and c360 worker; set it on one process. Unset: only c360 backup create.",
    )
    backup_keep_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="Days a backup can be read: its key is destroyed after (90: the Thai "
        "erasure notification's limit for backups).",
    )
    home_country: str = Field(
        "TH",
        pattern=r"^[A-Za-z]{2}$",
        description="ISO 3166 alpha-2 code of the country the business and this server are "
        "in; a sync destination or webhook subscription hosted elsewhere is a transfer abroad "
        "and needs a field allow-list (docs/privacy.md#transfers-abroad-and-the-register).",
    )
    privacy_deadlines: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Data subject request deadlines over the built-in ones, by law and kind "
        '(JSON), e.g. {"vn": {"erase": "72h"}, "pdpa": {"access": "30d"}}; '
        "docs/privacy-requests.md.",
    )

    consent_purposes: list[Any] | str | None = Field(
        None,
        description="The consent purposes the business uses: names, comma-separated "
        "(marketing,analytics,research), or a JSON list whose items are a name or "
        '{"name": ..., "labels": {"en": ..., "th": ..., "vi": ...}}, e.g. ["marketing", '
        '{"name": "loyalty_programme", "labels": {"th": "โปรแกรมสมาชิก"}}]; marketing is '
        "always one. Unset: marketing, analytics, personalisation, profiling, "
        "third_party_sharing (docs/consent.md#purposes).",
    )

    @field_validator("consent_purposes")
    @classmethod
    def _purposes(cls, value: list[Any] | str | None) -> list[Any] | str | None:
        try:
            parse_purposes(value)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _keyring(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        try:
            Keyring.parse(value.get_secret_value())
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        items = [item.strip() for item in value.split(",") if item.strip()]
        if items == ["*"]:
            return "*"
        for item in items:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network (10.0.0.5, 10.1.0.0/16) or *"
                ) from None
        return ",".join(items)

    @field_validator("event_bus")
    @classmethod
    def _nats_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from c360.eventlog.bus import bus_servers  # NATS is loaded only when configured

        bus_servers(value)  # ValueError names the bad URL
        return value.strip()

    @property
    def link_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def keyring(self) -> Keyring | None:
        """The encryption keys (``C360_ENCRYPTION_KEYS``), or ``None`` to store in clear."""
        keys = self.encryption_keys
        return Keyring.parse(keys.get_secret_value()) if keys is not None else None
