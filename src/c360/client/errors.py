"""What the client raises: the server's error answers, and failures to reach it.

::

    C360Error            .status, .code, .message
    ├── InvalidRequest   400, 422: a parameter or body the server refused
    ├── Unauthorized     401: no key, or a key that is unknown or revoked
    ├── Forbidden        403: the key's role may not do this (a read key writing)
    ├── NotFound         404
    ├── Conflict         409
    ├── ServerError      5xx (502, 503 and 504 after the retries of a read)
    └── ConnectionFailed no answer at all (status None), after the retries of a read

Every error answer of c360 is JSON ``{"code": ..., "message": ...}``; an answer that is not
(a proxy's HTML page) keeps its status, with code ``http_error`` and the start of its text.
"""

from typing import Any

import httpx


class C360Error(Exception):
    """Base of every error the client raises on purpose."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status is not None else "no answer"
        return f"{self.message} ({where}, {self.code})"


class InvalidRequest(C360Error):
    """400 or 422: the server refused a parameter or the body; ``message`` names it."""


class Unauthorized(C360Error):
    """401: no key, or a key that is unknown or revoked."""


class Forbidden(C360Error):
    """403: the key's role may not do this (a read key may only read, a writer key only send
    messages to ``/v1``)."""


class NotFound(C360Error):
    """404: no such profile, source, message or review item."""


class Conflict(C360Error):
    """409: the request conflicts with the current state (a decision on a changed profile)."""


class ServerError(C360Error):
    """5xx: the server failed or is not ready; reads were retried first."""


class ConnectionFailed(C360Error):
    """The server did not answer (refused, timed out, cut off); reads were retried first."""


BY_STATUS: dict[int, type[C360Error]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: InvalidRequest,
}


def error_from(response: httpx.Response) -> C360Error:
    """The exception for an error answer (the body must have been read)."""
    code, message = "http_error", ""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = str(body.get("code") or code)
        message = str(body.get("message") or "")
    if not message:
        text = response.text.strip()
        message = text[:300] if text else response.reason_phrase or "no message"
    if response.status_code >= 500:
        cls: type[C360Error] = ServerError
    else:
        cls = BY_STATUS.get(response.status_code, C360Error)
    return cls(message, status=response.status_code, code=code)
