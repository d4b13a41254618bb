"""Following the change feed as server-sent events, across dropped connections.

``GET /api/changes/stream`` sends each change as ``id: <change id>``, ``event: <kind>``,
``data: <change JSON>`` and a comment line every 15 s while quiet. ``ChangeStream`` reads it
and, when the connection drops (network error, server restart, silence longer than
``read_timeout_s``), connects again with ``Last-Event-ID`` set to the last change it handed
out, so no change is lost or repeated.
"""

import json
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from c360.client.errors import C360Error, ConnectionFailed, error_from
from c360.client.model import Change

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({502, 503, 504})
MAX_BACKOFF_S = 5.0
"""The longest wait between two tries of a request."""
RECONNECT_MAX_S = 2.0
"""The longest wait between two tries to reconnect a stream: a follower wants changes soon
after a restart, and one connection attempt every 2 s costs a recovering server nothing."""
STREAM_PATH = "/api/changes/stream"


@dataclass(frozen=True, slots=True)
class ServerEvent:
    id: str | None
    """The last event id seen on the stream (it carries over events without one)."""
    event: str
    data: str


class EventParser:
    """Server-sent events from a stream's lines (the WHATWG parsing rules)."""

    def __init__(self) -> None:
        self._data: list[str] = []
        self._event = ""
        self.last_id: str | None = None

    def feed(self, line: str) -> ServerEvent | None:
        """Take one line (without its end); a blank line completes an event."""
        if line == "":
            data, event = self._data, self._event
            self._data, self._event = [], ""
            if not data:
                return None
            return ServerEvent(id=self.last_id, event=event or "message", data="\n".join(data))
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self.last_id = value
        return None


class ChangeStream(Iterator[Change]):
    """Changes as they happen, until ``stop()``.

    Connecting the first time follows the client's retry policy and raises what the server
    refused (a bad key, an unknown kind). Once connected, a dropped connection is re-made
    without end, waiting a little longer after each failure (up to ``RECONNECT_MAX_S``); only
    an answer like 401 or 403 ends the stream with an error. ``stop()`` may be called from
    any thread: iteration then ends at once, even while waiting for the next change.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        since: int | None,
        kinds: str | None,
        retries: int,
        backoff_s: float,
        read_timeout_s: float,
    ) -> None:
        self._http = http
        self._kinds = kinds
        self._retries = retries
        self._backoff_s = backoff_s
        self._timeout = httpx.Timeout(http.timeout.connect or 10.0, read=read_timeout_s)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._response: httpx.Response | None = None
        self._lines: Iterator[str] | None = None
        self._parser = EventParser()
        self.last_id: int | None = since
        """The id of the last change handed out (or ``since``): where a new stream resumes.
        None until the first change when started without ``since`` ("from now on")."""
        self.connections = 0
        """How many times the stream connected (more than 1 after a reconnection)."""
        self._connect(first=True)

    def __iter__(self) -> "ChangeStream":
        return self

    def __next__(self) -> Change:
        while True:
            if self._stopping.is_set() or (self._lines is None and not self._connect()):
                self.close()
                raise StopIteration
            assert self._lines is not None
            try:
                line = next(self._lines)
            except StopIteration:
                log.info("the change stream ended; connecting again after %s", self.last_id)
                self._drop()
                continue
            except httpx.TransportError as exc:
                if not self._stopping.is_set():
                    log.warning("the change stream broke (%r); connecting again", exc)
                self._drop()
                continue
            event = self._parser.feed(line)
            if event is None:
                continue
            change = _change(event)
            self.last_id = change.id
            return change

    def stop(self) -> None:
        """End the stream; safe from any thread (a reader blocked on the socket wakes up)."""
        self._stopping.set()
        with self._lock:  # held so the connection cannot go back to the pool meanwhile
            if self._response is not None:
                _shut_down(self._response)

    def close(self) -> None:
        """Stop and release the connection (call from the iterating thread, or after it)."""
        self.stop()
        self._drop()

    def __enter__(self) -> "ChangeStream":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def stopped(self) -> bool:
        return self._stopping.is_set()

    def _connect(self, first: bool = False) -> bool:
        """Open the stream; False when stopped while trying."""
        if not first and self._stopping.wait(self._backoff_s):
            return False  # a pause first, so a server that ends streams at once is not hammered
        failures = 0
        while not self._stopping.is_set():
            try:
                response = self._http.send(self._request(), stream=True)
            except httpx.TransportError as exc:
                failure: C360Error = ConnectionFailed(
                    f"could not reach {self._http.base_url}: {exc!r}", code="connection_failed"
                )
            else:
                if response.status_code == 200:
                    with self._lock:
                        self._response = response
                    self._lines = response.iter_lines()
                    self._parser = EventParser()
                    self.connections += 1
                    if self._stopping.is_set():  # stop() came while connecting
                        self._drop()
                        return False
                    return True
                response.read()
                response.close()
                failure = error_from(response)
                if response.status_code not in RETRY_STATUSES:
                    raise failure
            failures += 1
            if first and failures > self._retries:
                raise failure
            wait_s = min(self._backoff_s * 2 ** (failures - 1), RECONNECT_MAX_S)
            log.warning("the change stream is not connected (%s); again in %.1f s", failure, wait_s)
            self._stopping.wait(wait_s)
        return False

    def _request(self) -> httpx.Request:
        headers = {"Accept": "text/event-stream"}
        params: dict[str, str] = {}
        if self.last_id is not None:
            headers["Last-Event-ID"] = str(self.last_id)
        if self._kinds:
            params["kinds"] = self._kinds
        return self._http.build_request(
            "GET", STREAM_PATH, params=params, headers=headers, timeout=self._timeout
        )

    def _drop(self) -> None:
        self._lines = None
        with self._lock:
            response, self._response = self._response, None
            if response is not None:
                with suppress(httpx.HTTPError):  # a broken connection has nothing to release
                    response.close()


def _change(event: ServerEvent) -> Change:
    try:
        body: Any = json.loads(event.data)
        return Change.from_json(body)
    except (ValueError, KeyError, TypeError) as exc:
        raise C360Error(
            f"the change stream sent an event that is not a change: {event.data[:200]!r}",
            status=200,
            code="unexpected_answer",
        ) from exc


def _shut_down(response: httpx.Response) -> None:
    """Wake a thread blocked reading ``response``: shut its socket down (the reading thread
    then sees the stream end and closes it)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)
