"""The change feed over HTTP: ``GET /api/changes`` pages, ``GET /api/changes/stream`` pushes
(server-sent events). Both resume from a cursor: the id of the last change a consumer saw."""

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from c360.changes.feed import (
    KINDS_PATTERN,
    Change,
    changes_after,
    last_change_id,
    parse_change_kinds,
)
from c360.errors import InvalidInput

SINCE_PATTERN = "^[0-9]{1,18}$"
STREAM_POLL_S = 0.1
"""How often a stream looks at the feed when no in-process worker rings (a separate worker)."""
HEARTBEAT_S = 15.0


class ChangeOut(BaseModel):
    id: int
    profile_id: str
    kind: str
    detail: dict[str, Any]
    seq: int = Field(description="The last log entry applied when the change was made")
    at: str


class ChangesPage(BaseModel):
    changes: list[ChangeOut]
    next: str = Field(description="Cursor to ask for what comes after (the last id seen)")


class FeedBell:
    """Rings every open stream when the in-process worker may have added changes, so a
    stream answers in milliseconds instead of at its next poll (streams still poll: a
    separate ``c360 worker`` process cannot ring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def ring(self) -> None:
        """Safe from any thread."""
        with self._lock:
            listeners = list(self._listeners)
        for loop, event in listeners:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(event.set)

    def listen(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        listener = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._listeners.add(listener)
        return listener

    def leave(self, listener: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self._lock:
            self._listeners.discard(listener)


def _since(value: str | None) -> int:
    if value is None or value == "":
        return 0
    if not value.isdigit() or len(value) > 18:
        raise InvalidInput("since must be a change id (the 'next' of a previous page), or 0")
    return int(value)


def add_change_routes(router: APIRouter, read_engine: Engine, bell: FeedBell) -> None:
    """``/changes`` and ``/changes/stream`` on ``router`` (its auth applies)."""

    @router.get("/changes", response_model=ChangesPage)
    def changes(
        since: Annotated[str | None, Query(pattern=SINCE_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        kinds: Annotated[str | None, Query(pattern=KINDS_PATTERN)] = None,
        profile_id: Annotated[str | None, Query(pattern="^[0-9A-Za-z-]{1,36}$")] = None,
    ) -> ChangesPage:
        """Changes to profiles after ``since``, oldest first: trait changed, identifier added
        or removed, merged, split, profile created. Keep ``next`` and ask again to follow."""
        cursor = _since(since)
        wanted = parse_change_kinds(kinds)
        with read_engine.connect() as conn:
            found = changes_after(conn, cursor, limit, wanted, profile_id)
        return ChangesPage(
            changes=[ChangeOut(**c.as_json()) for c in found],
            next=str(found[-1].id if found else cursor),
        )

    @router.get(
        "/changes/stream",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def change_stream(
        request: Request,
        since: Annotated[str | None, Query(pattern=SINCE_PATTERN)] = None,
        kinds: Annotated[str | None, Query(pattern=KINDS_PATTERN)] = None,
        last_event_id: Annotated[str | None, Header(pattern=SINCE_PATTERN)] = None,
    ) -> StreamingResponse:
        """Server-sent events: each change as ``id: <change id>``, ``event: <kind>``,
        ``data: <change JSON>``. Starts after ``since`` (or the ``Last-Event-ID`` a reconnecting
        client sends; without either, from now on); a comment line every 15 s keeps proxies
        from closing an idle stream."""
        wanted = parse_change_kinds(kinds)
        start = last_event_id if last_event_id else since
        if start is None or start == "":
            with read_engine.connect() as conn:
                cursor = last_change_id(conn)
        else:
            cursor = _since(start)
        return StreamingResponse(
            _events(request, read_engine, cursor, wanted, bell),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


async def _events(
    request: Request, read_engine: Engine, cursor: int, kinds: list[str] | None, bell: FeedBell
) -> AsyncIterator[bytes]:
    _loop, rung = listener = bell.listen()
    try:
        async for chunk in _stream(request, read_engine, cursor, kinds, rung):
            yield chunk
    finally:
        bell.leave(listener)


async def _stream(
    request: Request,
    read_engine: Engine,
    cursor: int,
    kinds: list[str] | None,
    rung: asyncio.Event,
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    # the position first: a client that reconnects before any change still resumes from here
    yield b": c360 change stream\nid: %d\n\n" % cursor
    while not await request.is_disconnected():
        rung.clear()
        found = await run_in_threadpool(_read, read_engine, cursor)
        for change in found:
            if kinds is None or change.kind in kinds:
                yield _sse(change)
            cursor = change.id
        if found:
            quiet_since = loop.time()
            continue
        if loop.time() - quiet_since >= HEARTBEAT_S:
            quiet_since = loop.time()
            yield b": heartbeat\n\n"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rung.wait(), STREAM_POLL_S)


def _read(read_engine: Engine, cursor: int) -> list[Change]:
    # every kind, filtered here: the cursor moves past changes the client did not ask for
    with read_engine.connect() as conn:
        return changes_after(conn, cursor, 500)


def _sse(change: Change) -> bytes:
    data = orjson.dumps(change.as_json())
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (change.id, change.kind.encode(), data)
