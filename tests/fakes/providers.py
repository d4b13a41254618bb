"""Channel providers played by local servers, for any test that sends messages.

Each fake is a real server on 127.0.0.1 (a port the OS picks) in a thread of its own, so
sync and async tests alike use it as a context manager::

    with FakeLine(token="line-token") as line:
        channel = LineChannel(LineConfig(channel_access_token="line-token", base_url=line.url))
        ...
        assert line.delivered[0].json()["to"] == "U4af4980629..."

The HTTP fakes check what the provider's documented API checks (the credentials, the request's
shape) and answer as it does; ``received`` keeps every request, ``delivered`` the ones the
provider took. ``script`` makes the next answers something else, for failures::

    line.script(429, {"message": "Too Many Requests"}, headers={"Retry-After": "2"})  # once
    line.script(500, accept=True)  # takes the message, but the answer says 500

``FakeSmtp`` is an aiosmtpd server that keeps each delivered message (``delivered[i].message``
is it parsed by the ``email`` package) and can refuse mailboxes or answer 4xx for a while.
"""

import asyncio
import base64
import itertools
import re
import ssl
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Self
from urllib.parse import parse_qsl

import orjson
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from multidict import CIMultiDict

from c360.changes.delivery import verify_signature


@dataclass(frozen=True)
class Received:
    """One request as the fake provider got it."""

    method: str
    path: str
    headers: CIMultiDict[str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass(frozen=True)
class Answer:
    status: int
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    accept: bool = False
    """Take the message (as ``delivered``) and still answer this: the answer that got lost."""
    hold_s: float = 0.0
    """Wait this long before answering (a caller may die meanwhile)."""


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers=headers,
    )


class FakeProvider:
    """An HTTP provider on a local port; subclasses play one provider's API."""

    route = "/{tail:.*}"

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.delivered: list[Received] = []
        self._script: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(
        self,
        status: int,
        json: Any = None,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
        accept: bool = False,
        hold_s: float = 0.0,
    ) -> None:
        """Answer the next ``times`` requests (past the credentials check) this way."""
        with self._lock:
            self._script.extend([Answer(status, json, headers or {}, accept, hold_s)] * times)

    # What a provider does; subclasses override.

    def refuse(self, request: Received) -> web.Response | None:
        """Refused before anything else (bad credentials), or None."""
        return None

    def validate(self, request: Received) -> web.Response | None:
        """The provider's answer to a request it cannot take, or None."""
        return None

    def deliver(self, request: Received) -> web.Response:
        """Take the message and answer as the provider does."""
        self.delivered.append(request)
        return web.Response(status=200)

    # The server.

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        received = Received(
            request.method, request.path_qs, CIMultiDict(request.headers), await request.read()
        )
        self.received.append(received)
        refused = self.refuse(received)
        if refused is not None:
            return refused
        with self._lock:
            answer = self._script.popleft() if self._script else None
        if answer is not None:
            if answer.accept:
                self.deliver(received)
            if answer.hold_s:
                await asyncio.sleep(answer.hold_s)
            return json_response(answer.status, answer.json, answer.headers)
        return self.validate(received) or self.deliver(received)

    def __enter__(self) -> Self:
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(started,), daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start")
        return self

    def _serve(self, started: threading.Event) -> None:
        self._loop = loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_route("*", self.route, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        started.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def __exit__(self, *_: object) -> None:
        assert self._loop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def _bearer(request: Received) -> str:
    return request.headers.get("Authorization", "").removeprefix("Bearer ")


class FakeLine(FakeProvider):
    """LINE Messaging API push: ``POST /v2/bot/message/push``, with retry keys."""

    route = "/v2/bot/message/push"

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.accepted_keys: dict[str, str] = {}
        """Retry key → the request id that took it."""

    def refuse(self, request: Received) -> web.Response | None:
        if _bearer(request) != self.token:
            return json_response(
                401,
                {
                    "message": "Authentication failed. Confirm that the access token in the "
                    "authorization header is valid."
                },
            )
        key = request.headers.get("X-Line-Retry-Key")
        if key in self.accepted_keys:
            return json_response(
                409,
                {"message": "The retry key is already accepted"},
                {
                    "x-line-request-id": str(uuid.uuid4()),
                    "x-line-accepted-request-id": self.accepted_keys[key],
                },
            )
        return None

    def validate(self, request: Received) -> web.Response | None:
        key = request.headers.get("X-Line-Retry-Key")
        if key is not None and not re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", key):
            return json_response(400, {"message": "The retry key is invalid"})
        body = request.json()
        problems = []
        if not re.fullmatch(r"U[0-9a-f]{32}", str(body.get("to", ""))):
            problems.append({"message": "invalid user id", "property": "to"})
        messages = body.get("messages")
        if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
            problems.append({"message": "Size must be between 1 and 5", "property": "messages"})
        else:
            for i, item in enumerate(messages):
                if item.get("type") != "text" or not 1 <= len(item.get("text", "")) <= 5000:
                    problems.append(
                        {
                            "message": "Length must be between 1 and 5000",
                            "property": f"messages[{i}].text",
                        }
                    )
        if problems:
            return json_response(
                400,
                {"message": f"The request body has {len(problems)} error(s)", "details": problems},
            )
        return None

    def deliver(self, request: Received) -> web.Response:
        self.delivered.append(request)
        request_id = str(uuid.uuid4())
        key = request.headers.get("X-Line-Retry-Key")
        if key is not None:
            self.accepted_keys[key] = request_id
        return json_response(
            200,
            {
                "sentMessages": [
                    {
                        "id": str(461230966842064897 + len(self.delivered)),
                        "quoteToken": "IStG5h1Tz7b...",
                    }
                ]
            },
            {"x-line-request-id": request_id},
        )


class FakeTwilio(FakeProvider):
    """Twilio ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form-encoded)."""

    route = "/2010-04-01/Accounts/{account}/Messages.json"

    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.unsubscribed: set[str] = set()
        """Numbers that replied STOP: Twilio answers 21610."""
        self._sids = itertools.count(1)

    def refuse(self, request: Received) -> web.Response | None:
        expected = f"{self.account_sid}:{self.auth_token}".encode()
        authorization = f"Basic {base64.b64encode(expected).decode()}"
        path_account = request.path.split("/")[3]
        if request.headers.get("Authorization") != authorization or (
            path_account != self.account_sid
        ):
            return self._error(401, 20003, "Authenticate")
        return None

    def validate(self, request: Received) -> web.Response | None:
        form = request.form
        to = form.get("To", "")
        if not form.get("Body"):
            return self._error(400, 21602, "Message body is required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return self._error(400, 21603, "The 'From' phone number is required.")
        if not re.fullmatch(r"\+[1-9]\d{6,14}", to):
            return self._error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if to in self.unsubscribed:
            return self._error(400, 21610, "Attempt to send to unsubscribed recipient")
        return None

    def deliver(self, request: Received) -> web.Response:
        self.delivered.append(request)
        form = request.form
        sid = f"SM{next(self._sids):032x}"
        return json_response(
            201,
            {
                "sid": sid,
                "account_sid": self.account_sid,
                "to": form["To"],
                "from": form.get("From"),
                "body": form["Body"],
                "status": "queued",
                "error_code": None,
                "error_message": None,
            },
        )

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        return json_response(
            status,
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
        )


class FakeZalo(FakeProvider):
    """Zalo OA ``POST /v3.0/oa/message/cs``: HTTP 200, the outcome in ``error``."""

    route = "/v3.0/oa/message/cs"

    def __init__(self, access_token: str) -> None:
        super().__init__()
        self.access_token = access_token
        self.followers: set[str] = set()
        """Users who interacted with the OA lately; anyone else gets -230."""

    def refuse(self, request: Received) -> web.Response | None:
        if request.headers.get("access_token") != self.access_token:
            return json_response(200, {"error": -216, "message": "Access token is invalid"})
        return None

    def validate(self, request: Received) -> web.Response | None:
        body = request.json()
        user_id = str(body.get("recipient", {}).get("user_id", ""))
        if not user_id.isdigit():
            return json_response(200, {"error": -201, "message": "user_id is invalid!"})
        if not body.get("message", {}).get("text"):
            return json_response(200, {"error": -201, "message": "message is invalid!"})
        if user_id not in self.followers:
            return json_response(
                200,
                {
                    "error": -230,
                    "message": "User has not interacted with the OA in the past 7 days",
                },
            )
        return None

    def deliver(self, request: Received) -> web.Response:
        self.delivered.append(request)
        return json_response(
            200,
            {
                "data": {
                    "message_id": uuid.uuid4().hex,
                    "user_id": request.json()["recipient"]["user_id"],
                },
                "error": 0,
                "message": "Success",
            },
        )


class FakeFcm(FakeProvider):
    """FCM HTTP v1 ``POST /v1/projects/{project}/messages:send``."""

    route = "/v1/projects/{project}/messages:send"

    def __init__(self, project_id: str, access_token: str) -> None:
        super().__init__()
        self.project_id = project_id
        self.access_token = access_token
        self.unregistered: set[str] = set()
        """Registration tokens of uninstalled apps: FCM answers 404 UNREGISTERED."""
        self._ids = itertools.count(1500415314455276)

    @staticmethod
    def error(status: int, code: str, message: str, fcm_code: str | None = None) -> Any:
        """FCM's error body (``fcm_code`` as the FcmError detail)."""
        details = (
            [
                {
                    "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                    "errorCode": fcm_code,
                }
            ]
            if fcm_code
            else []
        )
        return {"error": {"code": status, "message": message, "status": code, "details": details}}

    def refuse(self, request: Received) -> web.Response | None:
        if _bearer(request) != self.access_token:
            return json_response(
                401,
                self.error(
                    401, "UNAUTHENTICATED", "Request had invalid authentication credentials."
                ),
            )
        return None

    def validate(self, request: Received) -> web.Response | None:
        message = request.json().get("message", {})
        token = message.get("token")
        if not token:
            return json_response(
                400,
                self.error(
                    400,
                    "INVALID_ARGUMENT",
                    "Recipient of the message is not set.",
                    "INVALID_ARGUMENT",
                ),
            )
        data = message.get("data", {})
        if any(not isinstance(value, str) for value in data.values()):
            return json_response(
                400,
                self.error(400, "INVALID_ARGUMENT", "Invalid value at 'message.data'"),
            )
        if token in self.unregistered:
            return json_response(
                404,
                self.error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"),
            )
        return None

    def deliver(self, request: Received) -> web.Response:
        self.delivered.append(request)
        name = f"projects/{self.project_id}/messages/0:{next(self._ids)}%31bd1c9631bd1c96"
        return json_response(200, {"name": name})


class FakeWebhookReceiver(FakeProvider):
    """A receiver of c360's signed webhooks: takes a request only when its signature holds."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def validate(self, request: Received) -> web.Response | None:
        signed = verify_signature(
            self.secret,
            request.headers.get("X-C360-Timestamp", ""),
            request.body,
            request.headers.get("X-C360-Signature", ""),
        )
        return None if signed else web.Response(status=401, text="bad signature")

    def deliver(self, request: Received) -> web.Response:
        self.delivered.append(request)
        return web.Response(status=204)


@dataclass(frozen=True)
class Delivered:
    """One message the SMTP server took."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class FakeSmtp:
    """An SMTP server on a local port, keeping what it was given.

    ``unknown`` mailboxes are refused with 550; ``script("451 4.3.0 Try again later")`` answers
    the next RCPT that way; ``login`` makes it check AUTH; ``tls_context`` offers STARTTLS and
    refuses mail without it; ``idle_timeout_s`` closes connections idle that long."""

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        login: tuple[str, str] | None = None,
        tls_context: ssl.SSLContext | None = None,
        idle_timeout_s: float = 300,
    ) -> None:
        self.delivered: list[Delivered] = []
        self.unknown: set[str] = set()
        self.logins: list[str] = []
        self.connections = 0
        self.tls_sessions = 0
        self._login = login
        self._script: deque[str] = deque()
        kwargs: dict[str, Any] = {"auth_require_tls": False, "timeout": idle_timeout_s}
        if login is not None:
            kwargs["authenticator"] = self._authenticate
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        self._controller = _Controller(self, hostname=self.host, port=0, **kwargs)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def script(self, reply: str, *, times: int = 1) -> None:
        self._script.extend([reply] * times)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append(data.login.decode())
        ok = self._login == (data.login.decode(), data.password.decode())
        return AuthResult(success=ok, handled=False)

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if session.ssl is None:
            self.connections += 1
        else:
            self.tls_sessions += 1
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self._script:
            return self._script.popleft()
        if address in self.unknown:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        self.delivered.append(Delivered(str(envelope.mail_from), list(envelope.rcpt_tos), data))
        return f"250 2.0.0 Ok: queued as {len(self.delivered):08X}"

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._controller.stop()


class _Controller(Controller):
    """aiosmtpd's controller on the port the OS picked (it wants to know it to check the
    server is up)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()
