"""HTTP for the channel adapters: one pooled aiohttp session per adapter, and the common reading
of a provider's answer as ``SendFailed``.

What every HTTP provider shares: redirects are not followed, proxies from the environment are
not used, a request that gets no answer (refused, reset, timed out) may be retried, and so are
408, 429 and 5xx answers, not before their ``Retry-After``; 401 means the configured
credentials were refused; any other 4xx refuses the message for good. Adapters read the
provider's error body for the reason and override this where the provider documents otherwise.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from multidict import CIMultiDictProxy

from c360 import __version__
from c360.activation.channels import ChannelName, SendFailed
from c360.changes.delivery import retry_after_s as parse_retry_after

MAX_BODY_BYTES = 64 * 1024
"""Read of an answer's body; a longer one is cut (error texts are short)."""
MAX_REASON_CHARS = 300


class ConnectFailed(SendFailed):
    """No connection could be opened: nothing was sent, so another address may be tried."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None

    def retry_after_s(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"), time.time())


class HttpClient:
    """Requests to one provider, over a connection pool opened on first use (inside the
    running event loop, as aiohttp requires) and closed by ``aclose``."""

    def __init__(self, provider: str, *, timeout_s: float, max_connections: int) -> None:
        self.provider = provider
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def post(
        self,
        url: str,
        *,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        server_hostname: str | None = None,
    ) -> Reply:
        """POST and read the answer; SendFailed (retryable) when there is none."""
        all_headers = dict(headers or {})
        data: bytes | Mapping[str, str] | None = form if content is None else content
        if json is not None:
            data = orjson.dumps(json)
            all_headers["Content-Type"] = "application/json"
        try:
            async with self._open().post(
                url,
                data=data,
                headers=all_headers,
                server_hostname=server_hostname,
                allow_redirects=False,
            ) as response:
                return Reply(response.status, response.headers, await _read(response))
        # The type only: aiohttp's messages carry the URL, which may carry an account id.
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise ConnectFailed(
                f"{self.provider}: could not connect ({type(exc).__name__})", retryable=True
            ) from None
        except TimeoutError:
            raise SendFailed(
                f"{self.provider}: no answer within {self._timeout.total:g} s", retryable=True
            ) from None
        except aiohttp.ClientError as exc:
            raise SendFailed(
                f"{self.provider}: the connection failed ({type(exc).__name__})", retryable=True
            ) from None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                timeout=self._timeout,
                headers={"User-Agent": f"c360/{__version__}"},
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _read(response: aiohttp.ClientResponse) -> bytes:
    length = response.content_length
    if length is not None and length <= MAX_BODY_BYTES:
        return await response.read()
    body = bytearray()
    async for chunk in response.content.iter_chunked(16 * 1024):
        body += chunk
        if len(body) >= MAX_BODY_BYTES:
            break
    return bytes(body[:MAX_BODY_BYTES])


def reply_failed(
    provider: str, reply: Reply, detail: str | None = None, *, credentials: str = "credentials"
) -> SendFailed:
    """The SendFailed for a reply that is not a success, by its status (module docstring);
    ``detail`` is the provider's own account of it, ``credentials`` names the setting to check
    when the provider refuses them."""
    status = reply.status
    if status == 401:
        return credentials_rejected(provider, credentials, detail, status=status)
    retryable = status in (408, 429) or status >= 500 or 300 <= status < 400
    reason = f"{provider} HTTP {status}"
    if 300 <= status < 400:
        reason += " (redirects are not followed)"
    if detail:
        reason += f": {detail}"
    return SendFailed(
        clip(reason),
        retryable=retryable,
        retry_after_s=reply.retry_after_s() if retryable else None,
        status=status,
    )


def credentials_rejected(
    provider: str, credentials: str, detail: str | None = None, *, status: int | None = None
) -> SendFailed:
    """The provider refused the configured credentials: no message can go until they are
    fixed, so it is not retried."""
    reason = f"{provider} rejected the credentials: check {credentials}"
    if detail:
        reason += f" ({detail})"
    return SendFailed(clip(reason), retryable=False, status=status)


def clip(text: str) -> str:
    """A provider's text cut to a length fit for a stored reason."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


class HttpChannel:
    """What the HTTP adapters share: their name and their client's lifetime."""

    name: ChannelName

    def __init__(self, http: HttpClient) -> None:
        self._http = http

    async def aclose(self) -> None:
        await self._http.aclose()
