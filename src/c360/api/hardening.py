"""What every response outside the tracking API gets on its way: a cap on request bodies, a rate
limit per caller and security headers.

One ASGI wrapper around the management API, the web app and the public routes, so no route
can forget it. The tracking API (``/v1``) has its own limits, per source and per message
(:mod:`c360.api.tracking`).
"""

import hashlib
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from c360.ingest.ratelimit import RateLimiter

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Pages c360 serves itself load nothing from elsewhere; the interactive API docs (/docs,
# /redoc) are FastAPI's and load their scripts from a CDN, so they get no CSP of ours.
WEB_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_DOCS = ("/docs", "/redoc", "/openapi.json")
_MAX_CALLERS = 50_000
"""Rate-limit buckets kept at most; beyond that the idle ones are forgotten."""


def security_headers(path: str, https: bool) -> list[tuple[bytes, bytes]]:
    """The headers every response gets: no MIME sniffing, no framing, no referrer leaks; HSTS
    when the request came over HTTPS; a CSP on c360's own pages."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]
    if https:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    if not path.startswith(_DOCS):
        headers.append((b"content-security-policy", WEB_CSP.encode("ascii")))
    return headers


def caller_key(scope: Scope) -> int:
    """Who is calling, for the rate limit: the bearer token or session cookie when there is one
    (hashed: the key itself is never kept), else the client address."""
    token = b""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            token = value
            break
        if name == b"cookie" and b"c360_session=" in value:
            token = value
    if not token:
        client = scope.get("client")
        token = f"ip:{client[0] if client else '-'}".encode()
    return int.from_bytes(hashlib.blake2b(token, digest_size=8).digest(), "big")


class Hardening:
    """Wraps ``app``: refuses bodies over ``max_body_bytes`` with 413 (before reading them when
    ``Content-Length`` says so, else as soon as the count passes the cap), answers 429 with
    ``Retry-After`` when a caller goes over ``rate_per_s`` (``None``: no limit), and adds
    :func:`security_headers` to every response."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        rate_per_s: float | None,
        burst_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.rate_per_s = rate_per_s
        self.limiter = RateLimiter(burst_s)
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = without_nul(scope)
        path = str(scope.get("path", ""))
        https = scope.get("scheme") == "https"
        extra = security_headers(path, https)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                message["headers"] = [
                    *message.get("headers", ()),
                    *(h for h in extra if h[0] not in present),
                ]
            await send(message)

        if self.rate_per_s is not None:
            if len(self.limiter) > _MAX_CALLERS:
                self.limiter.forget_idle(self.clock())
            wait = self.limiter.admit(caller_key(scope), self.rate_per_s, 1, self.clock())
            if wait:
                await _error(
                    send_with_headers,
                    429,
                    "rate_limited",
                    f"too many requests from this caller; retry after {wait:.0f} s",
                    retry_after=wait,
                )
                return
        length = _content_length(scope)
        if length is not None and length > self.max_body_bytes:
            await _error(send_with_headers, 413, "payload_too_large", self._too_large())
            return
        body, complete = await _read_body(receive, self.max_body_bytes)
        if not complete:
            await _error(send_with_headers, 413, "payload_too_large", self._too_large())
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect

        await self.app(scope, replay, send_with_headers)

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_body_bytes} bytes"


_NUL_IN_QUERY = re.compile(rb"%00")
_REPLACEMENT = b"%EF%BF%BD"


def without_nul(scope: Scope) -> Scope:
    """The request with every NUL in its path and query read as U+FFFD.

    No text c360 stores can hold a NUL (PostgreSQL refuses it), so a filter or an id with one
    matches nothing either way; read as U+FFFD it reaches the query as a value that finds
    nothing, instead of an error from the database."""
    query = scope.get("query_string", b"")
    path = scope.get("path", "")
    if b"%00" not in query and "\x00" not in path:
        return scope
    return {
        **scope,
        "query_string": _NUL_IN_QUERY.sub(_REPLACEMENT, query),
        "path": path.replace("\x00", "\ufffd"),
    }


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _read_body(receive: Receive, cap: int) -> tuple[bytes, bool]:
    """The whole body, or (what was read, False) once it passes ``cap`` (the rest is not read:
    a lying or missing Content-Length costs at most ``cap`` bytes of memory)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return b"", False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


async def _error(
    send: Send, status: int, code: str, message: str, retry_after: float | None = None
) -> None:
    body = orjson.dumps({"code": code, "message": message})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(max(1, round(retry_after))).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
