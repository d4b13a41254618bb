"""SMS through Twilio Programmable Messaging.

``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP Basic auth (account SID
and auth token) and the form fields ``To``, ``Body`` and ``From`` or ``MessagingServiceSid``;
Twilio answers 201 with the message's ``sid``, the provider message id.

Twilio's errors are JSON with its own code (``{"code": 21211, "message": "...", "status": 400}``),
kept in the reason: 400s such as 21211 (not a valid number), 21610 (the recipient replied STOP),
21614 (not a mobile number) are final; 401 (20003) means the SID or token is wrong; 429 (20429)
and 5xx are retried, not before ``Retry-After``. Twilio does not deduplicate these requests: a
request whose answer was lost and is retried may send the SMS twice.
"""

import base64
from typing import Any

from pydantic import SecretStr

from c360.activation.channels import ChannelName, Message, SendResult
from c360.connectors.channels.config import TwilioConfig
from c360.connectors.channels.http import HttpChannel, HttpClient, reply_failed


class TwilioSms(HttpChannel):
    name = ChannelName.SMS

    def __init__(self, config: TwilioConfig) -> None:
        super().__init__(
            HttpClient("Twilio", timeout_s=config.timeout_s, max_connections=config.max_connections)
        )
        self._url = f"{config.base_url}/2010-04-01/Accounts/{config.account_sid}/Messages.json"
        pair = f"{config.account_sid}:{config.auth_token.get_secret_value()}".encode()
        self._authorization = SecretStr(f"Basic {base64.b64encode(pair).decode()}")
        self._sender = (
            {"MessagingServiceSid": config.messaging_service_sid}
            if config.messaging_service_sid
            else {"From": config.from_number or ""}
        )
        if config.status_callback_url:
            self._sender["StatusCallback"] = config.status_callback_url

    async def send(self, message: Message) -> SendResult:
        reply = await self._http.post(
            self._url,
            form={"To": message.to, "Body": message.body, **self._sender},
            headers={"Authorization": self._authorization.get_secret_value()},
        )
        body: Any = reply.json()
        if not isinstance(body, dict):
            body = {}
        if reply.ok:
            return SendResult(body.get("sid"))
        detail = None
        if "message" in body:
            detail = f"{body.get('code', '?')} {body['message']}"
        raise reply_failed(
            "Twilio", reply, detail, credentials="the Twilio account_sid and auth_token"
        )
