"""``C360Client``: the management API (``/api/*``) over HTTP, one method per use."""

import logging
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx

from c360 import __version__
from c360.client.errors import C360Error, ConnectionFailed, error_from
from c360.client.model import (
    Briefing,
    Change,
    Event,
    Identity,
    MessageStatus,
    Profile,
    RecordRef,
    Reject,
    ReviewDecision,
    ReviewItem,
    SearchHit,
    Source,
    SourceQuality,
    TimelineItem,
)
from c360.client.paging import Page, Pages
from c360.client.stream import MAX_BACKOFF_S, RETRY_STATUSES, ChangeStream

log = logging.getLogger(__name__)

T = TypeVar("T")

Time = datetime | str
"""An aware ``datetime``, or an ISO 8601 string passed on as it is."""

Kinds = str | Iterable[str]
"""``"order,ticket"`` or ``["order", "ticket"]``."""

NOTHING_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures before the request left: safe to retry whatever the method."""
READ_FAILURES = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
"""Failures a read (GET) is retried after: asking again changes nothing."""


class C360Client:
    """A c360 server's management API, with an admin or read key.

    ::

        with C360Client("https://cdp.example.com", api_key) as c360:
            profile = c360.profile_by_identifier("phone", "081-234-5678")

    Reads are retried ``retries`` times after a connection failure or a 502, 503 or 504,
    waiting ``backoff_s``, then twice as long each time, or the server's ``Retry-After`` when
    longer (at most 5 s). Writes (``split``, ``decide_review``) are retried only when
    the request never left. ``transport`` replaces httpx's (a proxy, a test double).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 10.0,
        retries: int = 2,
        backoff_s: float = 0.2,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        self.retries = retries
        self.backoff_s = backoff_s
        self._http = httpx.Client(
            base_url=base_url,
            headers={
                **(headers or {}),
                "Authorization": f"Bearer {api_key}",
                "User-Agent": f"c360-client/{__version__} httpx/{httpx.__version__}",
            },
            timeout=timeout_s,
            transport=transport,
        )
        self._streams: weakref.WeakSet[ChangeStream] = weakref.WeakSet()

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    def close(self) -> None:
        """Stop every change stream and close the connections."""
        for stream in list(self._streams):
            stream.stop()
        self._http.close()

    def __enter__(self) -> "C360Client":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- profiles -------------------------------------------------------------------------

    def profile(self, profile_id: str) -> Profile:
        """A profile by id; an id merged into another answers with the surviving profile."""
        return _parse(Profile.from_json, self._get(f"/api/profiles/{_segment(profile_id)}"))

    def profile_by_identifier(self, type: str, value: str) -> Profile:
        """The profile an identifier belongs to: ``("phone", "081-234-5678")`` in any local
        format, ``("email", ...)``, ``("customer_id", ...)``."""
        path = f"/api/profiles/by-identifier/{_segment(type)}/{_segment(value)}"
        return _parse(Profile.from_json, self._get(path))

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        """Profiles by name (Thai or Vietnamese script or romanized), email, phone or any
        identifier, best match first."""
        body = self._get("/api/profiles", {"query": query, "limit": limit})
        return [_parse(SearchHit.from_json, hit) for hit in body["profiles"]]

    def timeline(
        self,
        profile_id: str,
        kinds: Kinds | None = None,
        since: Time | None = None,
        until: Time | None = None,
        page_size: int = 50,
    ) -> Pages[TimelineItem]:
        """Everything a profile did or had done to it, newest first, page by page:
        tracked events, orders with their lines, tickets, shipments, payments..."""
        path = f"/api/profiles/{_segment(profile_id)}/timeline"
        params = {
            "kinds": _kinds(kinds),
            "since": _time(since, "since"),
            "until": _time(until, "until"),
            "limit": page_size,
        }

        def fetch(cursor: str | None) -> Page[TimelineItem]:
            body = self._get(path, {**params, "cursor": cursor})
            items = [_parse(TimelineItem.from_json, i) for i in body["items"]]
            return Page(items, body.get("next"), body.get("next") is not None)

        return Pages(fetch)

    def events(self, profile_id: str, page_size: int = 100) -> Pages[Event]:
        """A profile's tracked events as stored in the log, newest first."""
        path = f"/api/profiles/{_segment(profile_id)}/events"

        def fetch(cursor: str | None) -> Page[Event]:
            body = self._get(path, {"limit": page_size, "cursor": cursor})
            items = [_parse(Event.from_json, e) for e in body["events"]]
            return Page(items, body.get("next"), body.get("next") is not None)

        return Pages(fetch)

    def briefing(self, profile_id: str) -> Briefing:
        """What an agent reads before answering: who, how to reach them, recent orders and
        deliveries, open tickets, sentiment, value and a suggested next action."""
        path = f"/api/profiles/{_segment(profile_id)}/briefing"
        return _parse(Briefing.from_json, self._get(path))

    # -- the change feed ------------------------------------------------------------------

    def changes(
        self,
        since: int | str = 0,
        kinds: Kinds | None = None,
        profile_id: str | None = None,
        page_size: int = 100,
    ) -> Pages[Change]:
        """Changes after ``since`` (a change id), oldest first, until caught up. Resume
        later from the last change's ``id``, or from ``.cursor`` once iteration ended."""
        params = {"kinds": _kinds(kinds), "profile_id": profile_id, "limit": page_size}

        def fetch(cursor: str | None) -> Page[Change]:
            body = self._get("/api/changes", {**params, "since": cursor})
            items = [_parse(Change.from_json, c) for c in body["changes"]]
            return Page(items, str(body["next"]), len(items) >= page_size)

        return Pages(fetch, str(_change_id(since)))

    def follow_changes(
        self,
        since: int | str | None = None,
        kinds: Kinds | None = None,
        *,
        read_timeout_s: float = 45.0,
    ) -> ChangeStream:
        """Changes as they happen (server-sent events), after ``since`` or, without it, from
        now on; reconnects after network errors with ``Last-Event-ID``. Connected when this
        returns; iterate it (in a thread if need be) and end it with ``stop()``.

        ``read_timeout_s``: silence after which the connection counts as dead (the server
        sends a heartbeat every 15 s).
        """
        stream = ChangeStream(
            self._http,
            since=_change_id(since) if since is not None else None,
            kinds=_kinds(kinds),
            retries=self.retries,
            backoff_s=self.backoff_s,
            read_timeout_s=read_timeout_s,
        )
        self._streams.add(stream)
        return stream

    # -- identity -------------------------------------------------------------------------

    def identity(self, profile_id: str) -> Identity:
        """Why these records are one person: the records, the edges that hold them
        together, the merges and splits, the open questions."""
        path = f"/api/profiles/{_segment(profile_id)}/identity"
        return _parse(Identity.from_json, self._get(path))

    def split(
        self, profile_id: str, records: Iterable[RecordRef | tuple[str, str]], reason: str
    ) -> list[str]:
        """Move records out of a profile for good; the ids of the profiles they are in now.
        ``records`` are ``(source, record id or userId)`` pairs or ``identity().records``.
        Needs an admin key."""
        refs = [
            {"source": r.source, "record_id": r.record_id}
            if isinstance(r, RecordRef)
            else {"source": r[0], "record_id": r[1]}
            for r in records
        ]
        path = f"/api/profiles/{_segment(profile_id)}/split"
        body = self._post(path, {"records": refs, "reason": reason})
        return [str(p) for p in body["profile_ids"]]

    def reviews(self, page_size: int = 50) -> Pages[ReviewItem]:
        """Record pairs a person should decide on, strongest first. Deciding while iterating
        shifts later pages: collect the items first."""

        def fetch(cursor: str | None) -> Page[ReviewItem]:
            offset = int(cursor or 0)
            body = self._get("/api/identity/reviews", {"limit": page_size, "offset": offset})
            items = [_parse(ReviewItem.from_json, i) for i in body["items"]]
            after = offset + len(items)
            return Page(items, str(after), bool(items) and after < int(body["total"]))

        return Pages(fetch)

    def decide_review(
        self, item_id: str, decision: Literal["same", "apart"], reason: str = ""
    ) -> ReviewDecision:
        """``same``: one person (their profiles merge); ``apart``: never merged. Needs an
        admin key."""
        path = f"/api/identity/reviews/{_segment(item_id)}"
        body = self._post(path, {"decision": decision, "reason": reason})
        return _parse(ReviewDecision.from_json, body)

    # -- sources and messages -------------------------------------------------------------

    def sources(self) -> list[Source]:
        """Every source with its rate limit."""
        return [_parse(Source.from_json, s) for s in self._get("/api/sources")]

    def rejects(self, source: str, page_size: int = 100) -> Pages[Reject]:
        """A source's quarantined items, newest first, with reason and raw payload."""
        path = f"/api/sources/{_segment(source)}/rejects"

        def fetch(cursor: str | None) -> Page[Reject]:
            body = self._get(path, {"limit": page_size, "cursor": cursor})
            items = [_parse(Reject.from_json, r) for r in body["rejects"]]
            return Page(items, body.get("next"), body.get("next") is not None)

        return Pages(fetch)

    def quality(self) -> list[SourceQuality]:
        """Data quality per source and field (the same report as ``c360 quality``)."""
        return [_parse(SourceQuality.from_json, q) for q in self._get("/api/quality")]

    def message_status(self, message_id: str) -> MessageStatus:
        """Whether a message was accepted, processed or quarantined."""
        path = f"/api/events/{_segment(message_id)}"
        return _parse(MessageStatus.from_json, self._get(path))

    # -- HTTP -----------------------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, object] | None = None) -> Any:
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        return self._send(self._http.build_request("GET", path, params=query), idempotent=True)

    def _post(self, path: str, body: object) -> Any:
        return self._send(self._http.build_request("POST", path, json=body), idempotent=False)

    def _send(self, request: httpx.Request, idempotent: bool) -> Any:
        failures = 0
        while True:
            wait_s = min(self.backoff_s * 2**failures, MAX_BACKOFF_S)
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                retryable = isinstance(exc, NOTHING_SENT) or (
                    idempotent and isinstance(exc, READ_FAILURES)
                )
                if not retryable or failures >= self.retries:
                    raise ConnectionFailed(
                        f"{request.method} {request.url.path} got no answer from "
                        f"{self._http.base_url}: {exc!r}",
                        code="connection_failed",
                    ) from exc
            else:
                if response.is_success:
                    return _json(response)
                retryable = idempotent and response.status_code in RETRY_STATUSES
                if not retryable or failures >= self.retries:
                    raise error_from(response)
                wait_s = min(max(wait_s, _retry_after_s(response) or 0.0), MAX_BACKOFF_S)
            failures += 1
            log.info("%s %s failed; retrying in %.1f s", request.method, request.url.path, wait_s)
            time.sleep(wait_s)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise C360Error(
            f"{response.request.url.path} answered with something other than JSON: "
            f"{response.text[:200]!r}",
            status=response.status_code,
            code="unexpected_answer",
        ) from exc


def _parse(build: Callable[[dict[str, Any]], T], body: Any) -> T:
    """A model from an answer, or a C360Error when the answer lacks what the model needs."""
    try:
        return build(body)
    except (KeyError, TypeError, ValueError) as exc:
        raise C360Error(
            f"the server answered in an unexpected shape ({exc!r}); is it a c360 server of a "
            "compatible version?",
            status=200,
            code="unexpected_answer",
        ) from exc


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


def _segment(value: str) -> str:
    """``value`` as one path segment (a ``+`` or ``@`` in a phone or email stays itself)."""
    if not value:
        raise ValueError("an id or identifier must not be empty")
    return quote(value, safe="")


def _kinds(kinds: Kinds | None) -> str | None:
    if kinds is None:
        return None
    if isinstance(kinds, str):
        return kinds or None
    return ",".join(kinds) or None


def _time(value: Time | None, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone), not {value}")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _change_id(value: int | str) -> int:
    text = str(value)
    if not text.isdigit():
        raise ValueError(f"a change id is a whole number (the id of a change), not {value!r}")
    return int(text)
