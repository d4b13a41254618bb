"""Webhooks: each message is a signed JSON ``POST`` to the URL in ``Message.to``.

The body is::

    {"idempotency_key": "journey-7:step-2:profile-9",
     "subject": null, "body": "...", "html": null, "metadata": {"order": "A-1"}}

signed as change-feed deliveries are (``c360.changes.delivery``: receivers verify both with
``verify_signature``): ``X-C360-Timestamp``, ``X-C360-Signature`` (HMAC-SHA256 of
``<timestamp>.<body>`` with the channel's ``signing_secret``), ``X-C360-Delivery`` (a UUID
from the idempotency key) and ``Idempotency-Key``, both the same on every retry, so a receiver
drops a message it already has.

The URL is someone's input that makes c360 send requests from inside its network, so before
each request its host is checked and resolved by ``c360.changes.egress`` (no loopback, private,
link-local, metadata addresses unless listed in ``allowed_hosts``), and the request connects to
an address that was checked, never to the name again. Redirects are not followed. 2xx is
delivered; 408, 429, 5xx, 3xx, no answer and a name that does not resolve are retried (not
before ``Retry-After``); other 4xx and a blocked host are final.
"""

import asyncio
import time
import uuid
from urllib.parse import urlsplit

import orjson

from c360.activation.channels import ChannelName, Message, SendFailed, SendResult
from c360.changes.delivery import sign
from c360.changes.egress import (
    MAX_ADDRESSES_TRIED,
    AllowedHosts,
    BlockedTarget,
    Target,
    UnresolvableHost,
    literal_address,
    resolve_target,
)
from c360.connectors.channels.config import WebhookConfig
from c360.connectors.channels.http import (
    ConnectFailed,
    HttpChannel,
    HttpClient,
    Reply,
    reply_failed,
)
from c360.errors import InvalidInput

DELIVERY_NAMESPACE = uuid.UUID("5f2c8a52-3a9f-4d1e-9c55-0c3600000102")


class WebhookChannel(HttpChannel):
    name = ChannelName.WEBHOOK

    def __init__(self, config: WebhookConfig) -> None:
        super().__init__(
            HttpClient(
                "webhook", timeout_s=config.timeout_s, max_connections=config.max_connections
            )
        )
        self._secret = config.signing_secret
        self._allowed = AllowedHosts.parse(config.allowed_hosts)

    async def send(self, message: Message) -> SendResult:
        target = await self._check(message.to)
        body = orjson.dumps(
            {
                "idempotency_key": message.idempotency_key,
                "subject": message.subject,
                "body": message.body,
                "html": message.html,
                "metadata": dict(message.metadata),
            }
        )
        timestamp = str(int(time.time()))
        delivery = str(uuid.uuid5(DELIVERY_NAMESPACE, message.idempotency_key))
        headers = {
            "Content-Type": "application/json",
            "Host": target.host_header,
            "X-C360-Timestamp": timestamp,
            "X-C360-Signature": sign(self._secret.get_secret_value(), timestamp, body),
            "X-C360-Delivery": delivery,
            "Idempotency-Key": message.idempotency_key,
        }
        reply = await self._post(target, body, headers)
        if reply.ok:
            return SendResult(delivery)
        refused = 400 <= reply.status < 500 and reply.status not in (408, 429)
        raise reply_failed(
            "webhook",
            reply,
            "the receiver refused it" if refused else None,
            credentials="the webhook signing_secret",
        )

    async def _check(self, url: str) -> Target:
        """The URL's host, checked; a name is looked up off the event loop."""
        try:
            if literal_address(urlsplit(url).hostname or "") is not None:
                return resolve_target(url, self._allowed)
            return await asyncio.to_thread(resolve_target, url, self._allowed)
        except BlockedTarget as exc:
            raise SendFailed(f"webhook blocked: {exc.reason}", retryable=False) from None
        except UnresolvableHost:
            host = urlsplit(url).hostname
            raise SendFailed(f"webhook: host {host} does not resolve", retryable=True) from None
        except InvalidInput:
            # Not the URL itself in the reason: webhook URLs often carry a token.
            raise SendFailed(
                "webhook: not a usable URL; give an http:// or https:// URL with a host name",
                retryable=False,
            ) from None

    async def _post(self, target: Target, body: bytes, headers: dict[str, str]) -> Reply:
        """POST to the first checked address that takes the connection."""
        addresses = target.addresses[:MAX_ADDRESSES_TRIED]
        for i, address in enumerate(addresses):
            try:
                return await self._http.post(
                    target.url_for(address),
                    content=body,
                    headers=headers,
                    server_hostname=target.sni_hostname,
                )
            except ConnectFailed:
                if i == len(addresses) - 1:
                    raise
        raise AssertionError("a checked target has at least one address")
