"""Every error c360 raises on purpose.

::

    C360Error
    ├── InvalidInput      HTTP 422, CLI exit 2
    ├── Unauthorized      HTTP 401, CLI exit 3
    ├── Forbidden         HTTP 403, CLI exit 3
    ├── NotFound          HTTP 404, CLI exit 4
    ├── Conflict          HTTP 409, CLI exit 5
    ├── StoreUnavailable  HTTP 503, CLI exit 6 (the database refused or is unsafe)
    └── UpstreamError     a connector failed; ``.retryable`` says whether to try again

A message says what went wrong, where (file:line, field, id) and what to do about it.
"""


class C360Error(Exception):
    """Base of every error raised on purpose."""

    code = "error"


class InvalidInput(C360Error):
    code = "invalid_input"


class Unauthorized(C360Error):
    code = "unauthorized"


class Forbidden(C360Error):
    code = "forbidden"


class NotFound(C360Error):
    code = "not_found"


class Conflict(C360Error):
    code = "conflict"


class StoreUnavailable(C360Error):
    code = "store_unavailable"


class UpstreamError(C360Error):
    code = "upstream_error"

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable
