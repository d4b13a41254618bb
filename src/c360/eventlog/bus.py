"""Log notices on NATS JetStream: how API processes wake the workers in production mode.

The log in the store stays the source of truth; the bus only carries wake-up calls. After each
group commit an API process publishes a *notice*, the newest committed ``seq``, to a JetStream
stream. Every worker pulls from one shared durable consumer (a work queue: each notice goes to
one worker), processes the log until the checkpoint reaches the notice's ``seq``, then acks.
Workers also poll the log on a timer, so a notice the bus loses delays processing by one poll
and loses nothing. Exactly-once effects come from the checkpoint lock, never from the bus.

Each side owns its NATS connection in a daemon thread running an asyncio loop: publishing never
runs on a request's path, and an unreachable bus is logged (rate-limited), shown by ``status``
and retried, never raised into a request.
"""

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError
from sqlalchemy import Engine

from c360.eventlog.service import last_seq

log = logging.getLogger(__name__)

NOTICE_MAX_AGE_S = 3600.0
"""A notice older than this is dropped by the stream: by then the workers' poll has found its
entries in the log anyway."""
NOTICE_MAX_MSGS = 100_000
DUPLICATE_WINDOW_S = 120.0
"""Two API processes that publish the same ``seq`` within this window store one notice."""
RETRY_S = 1.0
"""Wait between attempts to reach an unreachable bus."""
COMPLAIN_EVERY_S = 30.0
"""At most one log line per problem this often while the bus stays unreachable."""
NOT_CONNECTED = "unreachable: not connected yet"


@dataclass(frozen=True, slots=True)
class BusNames:
    """Where notices go: one stream, one subject, one durable consumer shared by all workers."""

    stream: str = "C360_LOG"
    subject: str = "c360.log"
    consumer: str = "c360-workers"


def bus_servers(url: str) -> list[str]:
    """The server URLs of ``C360_EVENT_BUS`` (``nats://host:port``, comma-separated for a
    cluster); a malformed one raises ValueError naming it."""
    servers = [part.strip() for part in url.split(",") if part.strip()]
    if not servers:
        raise ValueError("C360_EVENT_BUS is empty; give nats://host:port or leave it unset")
    for server in servers:
        parts = urlsplit(server)
        if parts.scheme not in ("nats", "tls") or not parts.hostname:
            raise ValueError(
                f"C360_EVENT_BUS: {_redacted(server)!r} is not a NATS server URL; "
                "give nats://host:port (tls://host:port for TLS), comma-separated for a cluster"
            )
        try:
            parts.port  # noqa: B018 - parsing the port is the check
        except ValueError:
            raise ValueError(f"C360_EVENT_BUS: {_redacted(server)!r} has an invalid port") from None
    return servers


def _redacted(server: str) -> str:
    """The URL without its user and password (they never reach a log or /readyz)."""
    parts = urlsplit(server)
    if "@" not in parts.netloc:
        return server
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


class _Complaints:
    """Logs a recurring problem once, then at most every ``COMPLAIN_EVERY_S``."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def warn(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -COMPLAIN_EVERY_S) < COMPLAIN_EVERY_S:
                return
            self._last[key] = now
        log.warning(message, *args)

    def clear(self) -> None:
        with self._lock:
            self._last.clear()


async def ensure_stream(js: JetStreamContext, names: BusNames) -> None:
    """Create the notice stream unless it exists (an existing one is used as it is)."""
    try:
        await js.stream_info(names.stream)
        return
    except NotFoundError:
        pass
    try:
        await js.add_stream(
            StreamConfig(
                name=names.stream,
                description="c360 log notices: the newest committed log seq (a wake-up call; "
                "the log in the store is the truth)",
                subjects=[names.subject],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                max_age=NOTICE_MAX_AGE_S,
                max_msgs=NOTICE_MAX_MSGS,
                discard=DiscardPolicy.OLD,
                duplicate_window=DUPLICATE_WINDOW_S,
            )
        )
    except BadRequestError:
        # another process created it between our two calls
        await js.stream_info(names.stream)


class _BusThread:
    """A daemon thread running an asyncio loop that keeps one NATS connection."""

    def __init__(self, url: str, names: BusNames, thread_name: str) -> None:
        self._servers = bus_servers(url)
        self._where = ",".join(_redacted(s) for s in self._servers)
        self._names = names
        self._loop = asyncio.new_event_loop()
        self._stopping = asyncio.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._main, name=thread_name, daemon=True)
        self._complaints = _Complaints()
        self.status = NOT_CONNECTED
        """"ok", or "unreachable: ..." with the last problem (shown by /readyz)."""

    def start(self) -> "_BusThread":
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close the connection and end the thread (what is in flight is given a moment)."""
        self._stopped.set()
        if self._thread.ident is None:  # never started
            self._loop.close()
        elif self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                self._loop.call_soon_threadsafe(self._stopping.set)
            if self._thread is not threading.current_thread():
                self._thread.join(timeout_s)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._until_stopped())
        finally:
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
            self._loop.close()

    async def _until_stopped(self) -> None:
        session = asyncio.ensure_future(self._reconnecting())
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({session, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (session, stopping):
            if not task.done():
                task.cancel()
        await asyncio.gather(session, stopping, return_exceptions=True)

    async def _reconnecting(self) -> None:
        """Connect, run a session; on any failure mark the bus unreachable and start over."""
        while not self._stopping.is_set():
            nc: NATS | None = None
            try:
                nc = await nats.connect(
                    self._servers,
                    name=self._thread.name,
                    connect_timeout=2,
                    reconnect_time_wait=RETRY_S,
                    max_reconnect_attempts=-1,  # NATS restarts: keep trying, never give up
                    error_cb=self._nats_error,
                    disconnected_cb=self._nats_disconnected,
                    reconnected_cb=self._nats_reconnected,
                )
                js = nc.jetstream(timeout=5)
                await ensure_stream(js, self._names)
                await self._session(nc, js)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._unreachable(exc)
                await self._pause(RETRY_S)
            finally:
                if nc is not None:
                    await _close(nc)

    async def _session(self, nc: NATS, js: JetStreamContext) -> None:
        raise NotImplementedError

    def _ok(self) -> None:
        if self.status != "ok":
            log.info("event bus %s: connected", self._where)
            self._complaints.clear()
        self.status = "ok"

    def _unreachable(self, exc: BaseException) -> None:
        problem = _describe(exc)
        self.status = f"unreachable: {problem}"
        self._complaints.warn(
            "unreachable",
            "event bus %s unreachable (%s); retrying (the log is unaffected)",
            self._where,
            problem,
        )

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _nats_error(self, exc: Exception) -> None:
        self._unreachable(exc)

    async def _nats_disconnected(self) -> None:
        if not self._stopping.is_set():
            self._unreachable(ConnectionError("disconnected"))

    async def _nats_reconnected(self) -> None:
        self._ok()


async def _close(nc: NATS) -> None:
    with contextlib.suppress(Exception):  # the server may be gone already
        await asyncio.wait_for(nc.close(), 2)


class LogPublisher(_BusThread):
    """Publishes the newest committed log ``seq`` after commits, coalescing: however many
    commits happen while one notice is on its way, the next notice covers them all."""

    def __init__(self, url: str, engine: Engine, names: BusNames = BusNames()) -> None:
        super().__init__(url, names, "c360-bus-publisher")
        self._engine = engine
        self._pending = threading.Event()
        self._wake = asyncio.Event()
        self._published_seq = 0
        self.published = 0
        """Notices sent (after coalescing)."""

    def start(self) -> "LogPublisher":
        super().start()
        return self

    def notify(self) -> None:
        """Entries were committed (called from the writer thread; never blocks, never
        raises)."""
        if self._pending.is_set() or self._stopped.is_set():
            return
        self._pending.set()
        with contextlib.suppress(RuntimeError):  # the loop has closed: the process is stopping
            self._loop.call_soon_threadsafe(self._wake.set)

    def _newest_seq(self) -> int:
        with self._engine.connect() as conn:
            return last_seq(conn)

    async def _session(self, nc: NATS, js: JetStreamContext) -> None:
        self._ok()
        self._pending.set()  # one notice on (re)connecting covers whatever was missed
        while not self._stopping.is_set():
            if not self._pending.is_set():
                await self._woken()
                continue
            self._pending.clear()
            try:
                seq = await asyncio.to_thread(self._newest_seq)
            except Exception as exc:
                self._complaints.warn(
                    "store", "event bus: reading the newest log seq failed (%s)", type(exc).__name__
                )
                self._pending.set()
                await self._pause(RETRY_S)
                continue
            if seq <= self._published_seq:
                continue
            try:
                await js.publish(
                    self._names.subject,
                    str(seq).encode(),
                    timeout=2,
                    stream=self._names.stream,
                    headers={"Nats-Msg-Id": f"{self._names.stream}:{seq}"},
                )
            except Exception:
                self._pending.set()  # published once the bus answers again
                raise
            self._published_seq = seq
            self.published += 1
            self._ok()

    async def _woken(self) -> None:
        """Wait for ``notify`` (``stop`` cancels the whole session)."""
        self._wake.clear()
        if not self._pending.is_set():
            await self._wake.wait()


CatchUp = Callable[[int, threading.Event], bool]
"""Process the log until the checkpoint reaches the ``seq``; False if stopped first (the
``threading.Event`` is set when the consumer stops)."""


class LogConsumer(_BusThread):
    """Pulls notices from the shared durable consumer; for each batch, runs ``catch_up`` to the
    highest ``seq`` in it (keeping the notices' ack deadline moving meanwhile), then acks."""

    def __init__(
        self,
        url: str,
        catch_up: CatchUp,
        names: BusNames = BusNames(),
        *,
        ack_wait_s: float = 60.0,
        batch: int = 64,
        fetch_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(url, names, "c360-bus-consumer")
        self._catch_up = catch_up
        self._ack_wait_s = ack_wait_s
        self._batch = batch
        self._fetch_timeout_s = fetch_timeout_s
        self._stop_flag = threading.Event()
        self.handled = 0
        """Notices acked after the checkpoint reached them."""

    def start(self) -> "LogConsumer":
        super().start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop_flag.set()
        super().stop(timeout_s)

    async def _session(self, nc: NATS, js: JetStreamContext) -> None:
        sub = await js.pull_subscribe(
            self._names.subject,
            durable=self._names.consumer,
            stream=self._names.stream,
            config=ConsumerConfig(
                description="c360 workers: each notice wakes one worker",
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self._ack_wait_s,
                max_deliver=-1,
                # a new consumer starts from the newest notice: older entries are found by the
                # workers' poll of the log
                deliver_policy=DeliverPolicy.LAST,
                max_ack_pending=10_000,
            ),
        )
        self._ok()
        checked = time.monotonic()
        while True:  # until ``stop`` cancels the session
            msgs = await self._next_notices(sub)
            if not msgs:
                if time.monotonic() - checked > 10 * self._fetch_timeout_s:
                    # a quiet consumer may be one the server lost (NATS restarted empty)
                    await sub.consumer_info()
                    checked = time.monotonic()
                continue
            self._ok()
            checked = time.monotonic()
            await self._handle(msgs)

    async def _next_notices(self, sub: JetStreamContext.PullSubscription) -> list[Msg]:
        """The next notice and any already waiting behind it; [] after a quiet
        ``fetch_timeout_s``. (A fetch of many waits out its whole timeout once the first
        has come, so one is awaited and the rest taken only if already there.)"""
        try:
            msgs = await sub.fetch(1, timeout=self._fetch_timeout_s)
        except TimeoutError:  # nats.errors.TimeoutError is one too
            return []
        with contextlib.suppress(TimeoutError):
            msgs += await sub.fetch(self._batch, timeout=0.005)
        return msgs

    async def _handle(self, msgs: list[Msg]) -> None:
        seqs, notices = [], []
        for msg in msgs:
            try:
                seqs.append(int(msg.data))
            except ValueError:
                log.warning("event bus: a notice that is not a log seq was dropped")
                await msg.term()
            else:
                notices.append(msg)
        if not notices:
            return
        waiting = asyncio.ensure_future(
            asyncio.to_thread(self._catch_up, max(seqs), self._stop_flag)
        )
        try:
            while not (await asyncio.wait({waiting}, timeout=self._ack_wait_s / 3))[0]:
                # a long catch-up: tell the server these notices are still being worked on
                await asyncio.gather(*(m.in_progress() for m in notices), return_exceptions=True)
        except asyncio.CancelledError:
            # stopping: the catch-up sees the stop flag; the notices go to another worker
            waiting.add_done_callback(_result)
            raise
        reached = _result(waiting)
        for msg in notices:
            if reached:
                await msg.ack()
            else:
                await msg.nak(delay=1)  # another worker (or this one, later) takes it
        if reached:
            self.handled += len(notices)


def _result(task: "asyncio.Future[Any]") -> bool:
    try:
        return bool(task.result())
    except Exception as exc:
        log.error("event bus: processing up to a notice failed (%s)", type(exc).__name__)
        return False
