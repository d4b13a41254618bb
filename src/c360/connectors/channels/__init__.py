"""Channel providers: each module speaks one provider's documented API to satisfy
``c360.activation.channels.Channel``. ``build_channels`` makes the configured ones; an entry
point builds them from ``Settings.channels``, hands them to the dispatcher, and closes them
(``aclose``) when it stops. See ``docs/channels.md``."""

import importlib
from typing import TYPE_CHECKING, Any

from c360.activation.channels import Channel, ChannelName
from c360.connectors.channels.config import (
    ChannelsConfig,
    EmailConfig,
    LineConfig,
    PushConfig,
    TwilioConfig,
    WebhookConfig,
    ZaloConfig,
)

if TYPE_CHECKING:
    from c360.connectors.channels.email import SmtpEmail
    from c360.connectors.channels.line import LineChannel
    from c360.connectors.channels.push import FcmPush
    from c360.connectors.channels.sms import TwilioSms
    from c360.connectors.channels.webhook import WebhookChannel
    from c360.connectors.channels.zalo import ZaloChannel

_ADAPTERS = {
    "SmtpEmail": "email",
    "LineChannel": "line",
    "FcmPush": "push",
    "TwilioSms": "sms",
    "WebhookChannel": "webhook",
    "ZaloChannel": "zalo",
}
"""The adapters load when first used (their HTTP and SMTP clients are slow to import, and
every command reads the settings, which import this package's configuration)."""


def __getattr__(name: str) -> Any:
    if name in _ADAPTERS:
        module = importlib.import_module(f"c360.connectors.channels.{_ADAPTERS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ChannelsConfig",
    "EmailConfig",
    "FcmPush",
    "LineChannel",
    "LineConfig",
    "PushConfig",
    "SmtpEmail",
    "TwilioConfig",
    "TwilioSms",
    "WebhookChannel",
    "WebhookConfig",
    "ZaloChannel",
    "ZaloConfig",
    "build_channels",
    "configured_channels",
]


def configured_channels(config: ChannelsConfig) -> set[ChannelName]:
    """The channels that have a provider configured (without building the adapters)."""
    names = {
        ChannelName.EMAIL: config.email,
        ChannelName.SMS: config.sms,
        ChannelName.LINE: config.line,
        ChannelName.ZALO: config.zalo,
        ChannelName.PUSH: config.push,
        ChannelName.WEBHOOK: config.webhook,
    }
    return {name for name, provider in names.items() if provider}


def build_channels(config: ChannelsConfig) -> dict[ChannelName, Channel]:
    """An adapter for each configured provider (none opens a connection before its first
    send)."""
    from c360.connectors.channels.email import SmtpEmail
    from c360.connectors.channels.line import LineChannel
    from c360.connectors.channels.push import FcmPush
    from c360.connectors.channels.sms import TwilioSms
    from c360.connectors.channels.webhook import WebhookChannel
    from c360.connectors.channels.zalo import ZaloChannel

    channels: dict[ChannelName, Channel] = {}
    if config.email:
        channels[ChannelName.EMAIL] = SmtpEmail(config.email)
    if config.sms:
        channels[ChannelName.SMS] = TwilioSms(config.sms)
    if config.line:
        channels[ChannelName.LINE] = LineChannel(config.line)
    if config.zalo:
        channels[ChannelName.ZALO] = ZaloChannel(config.zalo)
    if config.push:
        channels[ChannelName.PUSH] = FcmPush(config.push)
    if config.webhook:
        channels[ChannelName.WEBHOOK] = WebhookChannel(config.webhook)
    return channels
