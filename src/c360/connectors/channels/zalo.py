"""Zalo: a customer-service text message ("tin tư vấn") from an Official Account to one user.

``POST {base}/v3.0/oa/message/cs`` with the OA access token in the ``access_token`` header and
``{"recipient": {"user_id": <id>}, "message": {"text": <body>}}``. Zalo answers HTTP 200 either
way; its JSON ``error`` says what happened: 0 with ``data.message_id`` is sent, anything else is
a code from Zalo's error table (Official Account API, "Mã lỗi"):

- retried: -32 (rate limit, per minute), -200 (send failed), -211 (out of quota), -218 (the
  user's receive quota), -234 (not sent at night);
- the token: -216 (invalid), -220 (expired or revoked), -124 (invalid) are "credentials
  rejected"; an OA access token lasts about 25 hours, and refreshing it is not done here;
- final, with Zalo's text: -213 (not a follower), -230 (no interaction in 7 days), -232 (no
  interaction, or it expired), -227 (banned or inactive for 45 days), -201 (a field such as
  the user id is invalid), -244 (the user restricted these messages) and every other code.

Customer-service messages are the kind a user's own interaction opens (within 7 days); the
transaction and promotion endpoints take template attachments, not plain text, and are not used.
"""

from typing import Any

from c360.activation.channels import ChannelName, Message, SendFailed, SendResult
from c360.connectors.channels.config import ZaloConfig
from c360.connectors.channels.http import (
    HttpChannel,
    HttpClient,
    clip,
    credentials_rejected,
    reply_failed,
)

RETRYABLE = frozenset({-32, -200, -211, -218, -234})
TOKEN_REJECTED = frozenset({-216, -220, -124})
RATE_WINDOW_S = 60.0
"""Zalo's request limits are per minute (-32)."""


class ZaloChannel(HttpChannel):
    name = ChannelName.ZALO

    def __init__(self, config: ZaloConfig) -> None:
        super().__init__(
            HttpClient("Zalo", timeout_s=config.timeout_s, max_connections=config.max_connections)
        )
        self._url = f"{config.base_url}/v3.0/oa/message/cs"
        self._token = config.access_token

    async def send(self, message: Message) -> SendResult:
        reply = await self._http.post(
            self._url,
            json={"recipient": {"user_id": message.to}, "message": {"text": message.body}},
            headers={"access_token": self._token.get_secret_value()},
        )
        body: Any = reply.json()
        if not reply.ok:
            raise reply_failed("Zalo", reply)
        if not isinstance(body, dict) or not isinstance(body.get("error"), int):
            # Not Zalo's envelope (a proxy's page?): whether the message went is unknown.
            raise SendFailed("Zalo: the answer is not Zalo API JSON", retryable=True, status=200)
        code: int = body["error"]
        if code == 0:
            data = body.get("data")
            message_id = data.get("message_id") if isinstance(data, dict) else None
            return SendResult(None if message_id is None else str(message_id))
        detail = f"{code} {body.get('message') or 'no message'}"
        if code in TOKEN_REJECTED:
            raise credentials_rejected("Zalo", "the Zalo access_token", detail)
        retryable = code in RETRYABLE
        raise SendFailed(
            clip(f"Zalo error {detail}"),
            retryable=retryable,
            retry_after_s=RATE_WINDOW_S if code == -32 else None,
        )
