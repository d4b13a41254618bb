"""Push notifications through Firebase Cloud Messaging, HTTP v1 API.

``POST {base}/v1/projects/{project_id}/messages:send`` with a Bearer access token and
``{"message": {"token": <registration token>, "notification": {"title", "body"}, "data": {...}}}``
(``data`` is the message's metadata, string to string, and omitted when empty). FCM answers
with the message's ``name`` (``projects/p/messages/0:1500415314455276%31bd1c96``), the provider
message id.

The access token comes from the configuration as it is: Google's OAuth exchange of a
service-account key for a token is not implemented here, so whatever deploys c360 must keep
``access_token`` fresh (tokens last an hour). FCM's errors (``{"error": {"status", "message",
"details": [{"errorCode"}]}}``) give the reason: UNREGISTERED (404, the app was uninstalled or
the token expired: drop it) and INVALID_ARGUMENT (400) are final, as is SENDER_ID_MISMATCH (403);
QUOTA_EXCEEDED (429), UNAVAILABLE (503) and INTERNAL (500) are retried, not before
``Retry-After``; 401 means the access token is refused.
"""

from typing import Any

from c360.activation.channels import ChannelName, Message, SendResult
from c360.connectors.channels.config import PushConfig
from c360.connectors.channels.http import HttpChannel, HttpClient, Reply, reply_failed


class FcmPush(HttpChannel):
    name = ChannelName.PUSH

    def __init__(self, config: PushConfig) -> None:
        super().__init__(
            HttpClient("FCM", timeout_s=config.timeout_s, max_connections=config.max_connections)
        )
        self._url = f"{config.base_url}/v1/projects/{config.project_id}/messages:send"
        self._token = config.access_token

    async def send(self, message: Message) -> SendResult:
        notification = {"body": message.body}
        if message.subject:
            notification["title"] = message.subject
        fcm: dict[str, Any] = {"token": message.to, "notification": notification}
        if message.metadata:
            fcm["data"] = dict(message.metadata)
        reply = await self._http.post(
            self._url,
            json={"message": fcm},
            headers={"Authorization": f"Bearer {self._token.get_secret_value()}"},
        )
        if reply.ok:
            body: Any = reply.json()
            return SendResult(body.get("name") if isinstance(body, dict) else None)
        raise reply_failed("FCM", reply, _detail(reply), credentials="the FCM access_token")


def _detail(reply: Reply) -> str | None:
    """``UNREGISTERED: Requested entity was not found.``: FCM's own error code when it gives
    one, else the Google API status."""
    body: Any = reply.json()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    code = error.get("status")
    for detail in error.get("details") or ():
        if isinstance(detail, dict) and detail.get("errorCode"):
            code = detail["errorCode"]
    return f"{code or 'error'}: {error.get('message', '')}".rstrip(": ")
