"""The Segment-compatible tracking API (``/v1/*``) as a lean ASGI handler.

It reads the raw body (never more than the configured cap, compressed or not), decodes it once,
authenticates, and answers ``200 {"success": true}`` only after the group-commit writer has
made the accepted messages durable. Every other answer is JSON with ``code`` and ``message``.
"""

import asyncio
import base64
import binascii
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson

from c360.api.webhooks import PREFIX as WEBHOOK_PREFIX
from c360.api.webhooks import NoMapping, WebhookIntake, parse_items
from c360.eventlog import GroupCommitWriter
from c360.ingest import InvalidBody, Limits, accept_items, decode_envelope
from c360.ingest.ratelimit import RateLimiter
from c360.kernel.clock import Clock
from c360.privacy.keys import ApiKey, KeyCache, Role
from c360.workers.backlog import Backlog, retry_after_s

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ENDPOINTS: dict[str, str | None] = {
    "/v1/batch": None,
    "/v1/import": None,
    "/v1/identify": "identify",
    "/v1/track": "track",
    "/v1/page": "page",
    "/v1/screen": "screen",
    "/v1/group": "group",
    "/v1/alias": "alias",
}

_SUCCESS = b'{"success": true}'
_JSON = (b"content-type", b"application/json")
_SUCCESS_HEADERS = [
    _JSON,
    (b"content-length", str(len(_SUCCESS)).encode()),
    (b"access-control-allow-origin", b"*"),
]
_CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"POST, OPTIONS"),
    (
        b"access-control-allow-headers",
        b"authorization, content-type, content-encoding, x-write-key",
    ),
    (b"access-control-max-age", b"86400"),
]
_PREFLIGHT = [*_CORS, (b"content-length", b"0")]


@dataclass
class _Refusal(Exception):
    status: int
    code: str
    message: str
    retry_after_s: float | None = None


class TrackingAPI:
    """ASGI callable for ``/v1/*``."""

    def __init__(
        self,
        *,
        writer: Callable[[], GroupCommitWriter | None],
        keys: KeyCache,
        limits: Limits,
        max_batch_bytes: int,
        clock: Clock,
        durable: Callable[[], bool],
        rate_limiter: RateLimiter,
        webhooks: Callable[[], WebhookIntake | None] = lambda: None,
        backlog: Callable[[], Backlog | None] = lambda: None,
    ) -> None:
        self._webhooks = webhooks
        self._backlog = backlog
        self._writer = writer
        self._keys = keys
        self._limits = limits
        self._max_batch_bytes = max_batch_bytes
        self._clock = clock
        self._durable = durable
        self._rates = rate_limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._handle(scope, receive, send)
        except _Refusal as refusal:
            await _reply_error(send, refusal)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].rstrip("/")
        if path.startswith(WEBHOOK_PREFIX) and scope["method"] == "POST":
            await self._webhook(scope, receive, send, path[len(WEBHOOK_PREFIX) :])
            return
        if path not in ENDPOINTS:
            raise _Refusal(404, "not_found", f"no tracking endpoint at {scope['path']}")
        if scope["method"] == "OPTIONS":
            await send({"type": "http.response.start", "status": 200, "headers": _PREFLIGHT})
            await send({"type": "http.response.body", "body": b""})
            return
        if scope["method"] != "POST":
            raise _Refusal(405, "method_not_allowed", f"{path} accepts POST only")
        endpoint_type = ENDPOINTS[path]
        if not self._durable():
            raise _Refusal(
                503,
                "unsafe_durability",
                "the store's durability settings are off, so nothing can be acknowledged; "
                "see /readyz",
            )
        self._refuse_while_behind()
        headers = _headers(scope)
        body = await self._read_body(headers, receive, endpoint_type)
        try:
            envelope = decode_envelope(body, endpoint_type)
        except InvalidBody as exc:
            raise _Refusal(400, exc.code, exc.message) from None
        key = self._authenticate(headers, envelope.write_key)
        assert key.source_id is not None
        wait_s = self._rates.admit(
            key.source_id, key.source_rate_limit_per_s, len(envelope.items), time.monotonic()
        )
        if wait_s:
            raise _Refusal(
                429,
                "rate_limited",
                f"source {key.source_name} is over its limit of "
                f"{key.source_rate_limit_per_s:g} messages per second; retry later",
                wait_s,
            )
        rows, rejected = accept_items(
            envelope,
            endpoint_type,
            source_id=key.source_id,
            received_at_us=self._clock(),
            limits=self._limits,
        )
        writer = self._writer()
        if writer is None:
            raise _Refusal(503, "not_ready", "the server is starting or stopping; retry", 1)
        loop = asyncio.get_running_loop()
        committed: asyncio.Future[None] = loop.create_future()

        def done(error: BaseException | None) -> None:  # called in the writer thread
            loop.call_soon_threadsafe(_settle, committed, error)

        try:
            writer.submit(rows, rejected, done)
            await committed
        except Exception as exc:
            log.error("could not commit a request: %s", type(exc).__name__)
            raise _Refusal(
                503, "store_unavailable", "the messages could not be stored; retry", 1
            ) from None
        await send({"type": "http.response.start", "status": 200, "headers": _SUCCESS_HEADERS})
        await send({"type": "http.response.body", "body": _SUCCESS})

    async def _webhook(self, scope: Scope, receive: Receive, send: Send, source: str) -> None:
        """A webhook call: every item logged as a record of ``source`` or quarantined."""
        if not self._durable():
            raise _Refusal(503, "unsafe_durability", "the store's durability settings are off")
        self._refuse_while_behind()
        intake = self._webhooks()
        if intake is None:
            raise _Refusal(503, "not_ready", "the server is starting or stopping; retry", 1)
        headers = _headers(scope)
        body = await self._read_body(headers, receive, None)
        try:
            items = parse_items(body)
        except orjson.JSONDecodeError as exc:
            raise _Refusal(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
        key = self._authenticate(headers, None)
        if key.source_name != source:
            raise _Refusal(
                403,
                "wrong_source",
                f"this key writes to source {key.source_name!r}, not {source!r}",
            )
        assert key.source_id is not None
        wait_s = self._rates.admit(
            key.source_id, key.source_rate_limit_per_s, len(items), time.monotonic()
        )
        if wait_s:
            raise _Refusal(429, "rate_limited", f"source {source} is over its limit", wait_s)
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(None, intake.accept, key.source_id, source, items)
        except NoMapping as exc:
            raise _Refusal(409, "no_mapping", str(exc)) from None
        except Exception as exc:
            log.error("could not commit a webhook call: %s", type(exc).__name__)
            raise _Refusal(
                503, "store_unavailable", "the items could not be stored; retry", 1
            ) from None
        reply = orjson.dumps(
            {"success": True, "accepted": result.accepted, "quarantined": result.quarantined}
        )
        headers_out = [_JSON, (b"content-length", str(len(reply)).encode()), *_CORS[:1]]
        await send({"type": "http.response.start", "status": 200, "headers": headers_out})
        await send({"type": "http.response.body", "body": reply})

    def _refuse_while_behind(self) -> None:
        """Refuse while the workers are too far behind the log: before the body is read or a
        key looked up, so a refusal costs an overloaded server next to nothing."""
        backlog = self._backlog()
        reading = backlog.overloaded() if backlog is not None else None
        if backlog is None or reading is None:
            return
        raise _Refusal(
            429,
            "worker_lag",
            f"the workers are {reading.lag} log entries behind (the limit is "
            f"{backlog.max_lag}); nothing was stored, retry later",
            retry_after_s(reading.lag, backlog.max_lag, reading.rate_per_s),
        )

    async def _read_body(
        self, headers: dict[bytes, bytes], receive: Receive, endpoint_type: str | None
    ) -> bytes:
        cap = self._max_batch_bytes if endpoint_type is None else self._limits.max_message_bytes
        # A single message may carry a writeKey and batch envelope fields on top of its limit.
        if endpoint_type is not None:
            cap += 1024
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding not in (b"identity", b"gzip", b"deflate", b""):
            raise _Refusal(
                415, "unsupported_encoding", "Content-Encoding must be gzip, deflate or identity"
            )
        too_large = _Refusal(
            413, "payload_too_large", f"the request body is larger than {cap} bytes"
        )
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Refusal(400, "client_disconnected", "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if encoding in (b"gzip", b"deflate"):
            body = _inflate(body, encoding, cap, too_large)
        return body

    def _authenticate(self, headers: dict[bytes, bytes], body_key: str | None) -> ApiKey:
        candidates = credentials(headers, body_key)
        if not candidates:
            raise _Refusal(
                401,
                "missing_write_key",
                "send the source's write key as the Basic auth user name, in X-Write-Key "
                "or as writeKey in the body",
            )
        for secret in candidates:
            key = self._keys.lookup(secret)
            if key is not None and key.role is Role.WRITER:
                return key
        raise _Refusal(401, "invalid_write_key", "the write key is not valid or was revoked")


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope["headers"]}


def credentials(headers: dict[bytes, bytes], body_key: str | None) -> list[str]:
    found: list[str] = []
    authorization = headers.get(b"authorization", b"").strip()
    scheme, _, token = authorization.partition(b" ")
    token = token.strip()
    if scheme.lower() == b"basic" and token:
        try:
            user = base64.b64decode(token, validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            user = ""
        if user:
            found.append(user)
    header_key = headers.get(b"x-write-key", b"").strip()
    if header_key:
        found.append(header_key.decode("latin-1"))
    if body_key:
        found.append(body_key)
    if scheme.lower() == b"bearer" and token:
        found.append(token.decode("latin-1"))
    return found


def _inflate(body: bytes, encoding: bytes, cap: int, too_large: _Refusal) -> bytes:
    """Decompress at most ``cap`` bytes: a decompression bomb stops at the cap.

    A gzip body may hold several members (RFC 1952); anything else after the end is refused.
    """
    name = encoding.decode()
    wbits = 16 + zlib.MAX_WBITS if encoding == b"gzip" else zlib.MAX_WBITS
    out: list[bytes] = []
    size = 0
    data = body
    while True:
        inflater = zlib.decompressobj(wbits)
        try:
            chunk = inflater.decompress(data, cap + 1 - size)
        except zlib.error as exc:
            raise _Refusal(
                400, "invalid_encoding", f"the body is not valid {name}: {exc}"
            ) from None
        size += len(chunk)
        out.append(chunk)
        if size > cap or inflater.unconsumed_tail:
            raise too_large
        if not inflater.eof:
            raise _Refusal(400, "invalid_encoding", f"the {name} body is truncated")
        data = inflater.unused_data
        if not data:
            return b"".join(out)
        if encoding != b"gzip" or not data.startswith(b"\x1f\x8b"):
            raise _Refusal(
                400, "invalid_encoding", f"the body has bytes after the end of its {name} data"
            )


def _settle(future: "asyncio.Future[None]", error: BaseException | None) -> None:
    if future.done():  # the client went away and the request was cancelled
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


async def _reply_error(send: Send, refusal: _Refusal) -> None:
    body = orjson.dumps({"code": refusal.code, "message": refusal.message})
    headers = [_JSON, (b"content-length", str(len(body)).encode()), *_CORS[:1]]
    if refusal.retry_after_s is not None:
        headers.append((b"retry-after", str(int(max(1, refusal.retry_after_s))).encode()))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
