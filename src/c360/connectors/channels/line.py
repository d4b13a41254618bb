"""LINE: a text push message to one user through the Messaging API.

``POST {base}/v2/bot/message/push`` with the channel access token as a Bearer token and the body
``{"to": <userId>, "messages": [{"type": "text", "text": <body>}]}``. Every request carries an
``X-Line-Retry-Key``, a UUID derived from the message's idempotency key, so a retry after a
lost answer cannot send twice: LINE answers a key it already accepted with 409 and the
``x-line-accepted-request-id`` of the first request, which counts as sent.

The provider message id is the ``x-line-request-id`` of the request that was accepted. 429
(rate limit, or the month's message allowance used up: LINE's text says which) and 5xx are
retried; 400 (bad user id, too long a text) and 403 (the plan does not allow the API) are not.
"""

import uuid
from typing import Any

from c360.activation.channels import ChannelName, Message, SendResult
from c360.connectors.channels.config import LineConfig
from c360.connectors.channels.http import HttpChannel, HttpClient, Reply, reply_failed

RETRY_KEY_NAMESPACE = uuid.UUID("5f2c8a52-3a9f-4d1e-9c55-0c3600000101")


def retry_key(idempotency_key: str) -> str:
    """The ``X-Line-Retry-Key`` of every try of one message."""
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, idempotency_key))


class LineChannel(HttpChannel):
    name = ChannelName.LINE

    def __init__(self, config: LineConfig) -> None:
        super().__init__(
            HttpClient("LINE", timeout_s=config.timeout_s, max_connections=config.max_connections)
        )
        self._url = f"{config.base_url}/v2/bot/message/push"
        self._token = config.channel_access_token

    async def send(self, message: Message) -> SendResult:
        reply = await self._http.post(
            self._url,
            json={"to": message.to, "messages": [{"type": "text", "text": message.body}]},
            headers={
                "Authorization": f"Bearer {self._token.get_secret_value()}",
                "X-Line-Retry-Key": retry_key(message.idempotency_key),
            },
        )
        if reply.ok:
            return SendResult(reply.headers.get("x-line-request-id"))
        if reply.status == 409 and "x-line-accepted-request-id" in reply.headers:
            return SendResult(reply.headers["x-line-accepted-request-id"])
        raise reply_failed(
            "LINE", reply, _detail(reply), credentials="the LINE channel_access_token"
        )


def _detail(reply: Reply) -> str | None:
    """LINE's error text and the first of its details: ``The request body has 1 error(s)
    (messages[0].text: Length must be between 1 and 5000)``."""
    body: Any = reply.json()
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return None
    text: str = body["message"]
    details = body.get("details")
    if isinstance(details, list) and details and isinstance(details[0], dict):
        first = details[0]
        text += f" ({first.get('property', '?')}: {first.get('message', '')})"
    return text
