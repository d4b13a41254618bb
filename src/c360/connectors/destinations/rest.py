"""Another application's REST API as a sync target: ``{url}/{key}`` updated with PATCH (or
PUT), created with PUT, a JSON object of the synced fields as the body.

Each request carries the row's sync version (``X-C360-Sync-Version``, and ``version_field`` in
the body when configured) and an ``Idempotency-Key`` that is the same on every retry of that
version. The answer decides what happens next, as for webhooks (``c360.changes.delivery``):

- 2xx: written;
- 408, 425, 429, 5xx, a 3xx (redirects are not followed), a timeout or a refused connection:
  tried again after a back-off, never before a ``Retry-After``;
- 404 to an update: the app has no such record (dead-lettered; ``create_missing`` PUTs it);
- any other 4xx: the app refused the values (dead-lettered with the status).

The host is checked like a webhook's (``c360.changes.egress``): an internal app must be listed
in ``C360_WEBHOOK_ALLOWED_HOSTS``, and the request goes to the checked address.

When c360 erases a person, ``delete`` sends the configured delete request (``DELETE
{url}/{key}`` by default): 2xx is deleted, 404 and 410 are "the app had no such record",
408/425/429/5xx/3xx and network failures are retryable, any other 4xx a refusal.
"""

import time
import uuid
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import orjson

from c360 import __version__
from c360.activation.sync.model import Decide, RestSpec, SyncFailed, Upserted
from c360.changes.delivery import retry_after_s
from c360.changes.egress import (
    MAX_ADDRESSES_TRIED,
    AllowedHosts,
    BlockedTarget,
    UnresolvableHost,
    resolve_target,
)
from c360.errors import InvalidInput

_NAMESPACE = uuid.UUID("5f2c8a52-3a9f-4d1e-9c55-0c3600000007")
_RETRIED = frozenset({408, 425, 429})


class RestTarget:
    """Writes rows through ``spec.url``; ``token`` is the auth secret's value."""

    reads_rows = False

    def __init__(
        self,
        spec: RestSpec,
        *,
        token: str | None = None,
        allowed_hosts: str = "",
        name: str = "rest",
    ) -> None:
        self._spec = spec
        self._token = token
        self._allowed = AllowedHosts.parse(allowed_hosts)
        self._name = name
        self._client = httpx.Client(
            timeout=httpx.Timeout(spec.timeout_s),
            follow_redirects=False,
            headers={"User-Agent": f"c360-sync/{__version__}"},
        )

    def close(self) -> None:
        self._client.close()

    def upsert(self, key: str, decide: Decide, *, create: bool, version: int) -> Upserted:
        writes = decide(None)
        if not writes:
            return Upserted(None, None, {})
        method = "PUT" if create else self._spec.method
        url = f"{self._spec.url}/{quote(key, safe='')}"
        body: dict[str, Any] = dict(writes)
        if self._spec.version_field:
            body[self._spec.version_field] = version
        headers = {
            "Content-Type": "application/json",
            "X-C360-Sync-Version": str(version),
            "Idempotency-Key": str(uuid.uuid5(_NAMESPACE, f"{self._name}:{key}:{version}")),
        }
        if self._token is not None:
            scheme = self._spec.auth_scheme.strip()
            headers[self._spec.auth_header] = f"{scheme} {self._token}" if scheme else self._token
        status, retry_after = self._request(method, url, orjson.dumps(body, default=str), headers)
        where = f"{method} {self._spec.url}/{key}"
        if 200 <= status < 300:
            return Upserted(None, None, writes, created=create)
        if status in _RETRIED or status >= 500:
            wait = retry_after_s(retry_after, time.time()) if status in (429, 503) else None
            raise SyncFailed(f"{where}: HTTP {status}", retryable=True, retry_after_s=wait)
        if 300 <= status < 400:
            raise SyncFailed(f"{where}: HTTP {status} (redirects are not followed)", retryable=True)
        if status == 404 and not create:
            raise SyncFailed(
                f"{where}: HTTP 404, the app has no such record (set create_missing to create "
                "missing records)",
                retryable=False,
            )
        raise SyncFailed(f"{where}: HTTP {status}, the app refused the values", retryable=False)

    def delete(self, key: str) -> bool:
        method, path = self._spec.delete_method, self._spec.delete_path
        if method is None or path is None:
            raise SyncFailed(
                f"{self._name}: no delete request is configured (rest.delete)", retryable=False
            )
        url = delete_url(self._spec.url, path, key)
        headers = {"Idempotency-Key": str(uuid.uuid5(_NAMESPACE, f"{self._name}:{key}:erase"))}
        body = b""
        if method == "POST":
            headers["Content-Type"] = "application/json"
            body = orjson.dumps({"key": key, "reason": "erasure"})
        if self._token is not None:
            scheme = self._spec.auth_scheme.strip()
            headers[self._spec.auth_header] = f"{scheme} {self._token}" if scheme else self._token
        status, retry_after = self._request(method, url, body, headers)
        # The key stays out of the message: the erasure report keeps it after the person is gone.
        where = f"{method} {delete_url(self._spec.url, path, '{key}')}"
        if 200 <= status < 300:
            return True
        if status in (404, 410):
            return False
        if status in _RETRIED or status >= 500:
            wait = retry_after_s(retry_after, time.time()) if status in (429, 503) else None
            raise SyncFailed(f"{where}: HTTP {status}", retryable=True, retry_after_s=wait)
        if 300 <= status < 400:
            raise SyncFailed(f"{where}: HTTP {status} (redirects are not followed)", retryable=True)
        raise SyncFailed(f"{where}: HTTP {status}, the app refused the deletion", retryable=False)

    def _request(
        self, method: str, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str | None]:
        try:
            target = resolve_target(url, self._allowed)
        except BlockedTarget as exc:
            raise SyncFailed(f"blocked: {exc.reason}", retryable=False) from None
        except UnresolvableHost as exc:
            raise SyncFailed(str(exc), retryable=True) from None
        except InvalidInput as exc:
            raise SyncFailed(f"refused: {exc}", retryable=False) from None
        extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
        addresses = target.addresses[:MAX_ADDRESSES_TRIED]
        for i, address in enumerate(addresses):
            try:
                response = self._client.request(
                    method,
                    target.url_for(address),
                    content=body,
                    headers={**headers, "Host": target.host_header},
                    extensions=extensions,
                )
                return response.status_code, response.headers.get("retry-after")
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if i == len(addresses) - 1:
                    raise SyncFailed(
                        f"{method} {target.host_header}: {type(exc).__name__}", retryable=True
                    ) from None
            except httpx.HTTPError as exc:
                raise SyncFailed(
                    f"{method} {target.host_header}: {type(exc).__name__}", retryable=True
                ) from None
        raise AssertionError("a target has at least one address")


def delete_url(base: str, path: str, key: str) -> str:
    """The delete request's URL: ``path`` with the key (URL-encoded, unless it is the
    ``{key}`` placeholder shown in messages) under ``base``, or on its host when absolute."""
    filled = path.replace("{key}", key if key == "{key}" else quote(key, safe=""))
    if filled.startswith("/"):
        parts = urlsplit(base)
        return urlunsplit((parts.scheme, parts.netloc, filled, "", ""))
    return f"{base}/{filled}"
