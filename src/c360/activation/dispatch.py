"""The dispatcher: hands queued messages to their channels and records what happened.

A round claims due messages (``queued``, due now) and marks them ``sending`` in one
transaction, after checking once more that the person still consents and the address is not
suppressed (consent withdrawn while a message waited cancels it). It sends them concurrently
on one asyncio loop, then records every outcome in one transaction:

- accepted: ``sent`` and a ``<Channel> Sent`` event on the person's timeline;
- refused for good (bad address, unknown mailbox): ``failed`` (an email refused with a 5xx
  reply is ``bounced`` and its address suppressed) and a ``Failed``/``Bounced`` event;
- refused for now: ``queued`` again, due after exponential backoff with jitter, never before
  the provider's ``Retry-After``, until the retry window is over (then ``failed``).

A crash after a provider took a message and before it was recorded leaves it ``sending``; after
the lease it is sent again with the same idempotency key, so a provider that deduplicates
(LINE's retry key, webhook receivers) sees it once (the "crash between send and ack" case).
"""

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from c360.activation.channels import Channel, ChannelName, Message, SendFailed
from c360.activation.outbox import append_events, message_event
from c360.changes.delivery import backoff_s
from c360.kernel.background import BackgroundLoop
from c360.kernel.clock import system_clock
from c360.privacy.restrict import RESTRICTED_REASON, restricted
from c360.segments.evaluate import consented
from c360.storage.dialect import insert_many_ignoring_duplicates, key_in, update_many
from c360.storage.tables import messages, profiles, suppressions

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    batch: int = 500
    concurrency: int = 256
    lease_s: float = 120.0
    retry_window_s: float = 4 * 3600.0
    retry_base_s: float = 30.0
    retry_cap_s: float = 1800.0


@dataclass(slots=True)
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        channels: Mapping[ChannelName, Channel],
        config: DispatchConfig | None = None,
        *,
        clock: Callable[[], int] = system_clock,
        rng: random.Random | None = None,
    ) -> None:
        self._engine = engine
        self._channels = dict(channels)
        self._config = config or DispatchConfig()
        self._clock = clock
        self._rng = rng or random.Random()
        self._loop = asyncio.new_event_loop()

    def close(self) -> None:
        for channel in self._channels.values():
            self._loop.run_until_complete(channel.aclose())
        self._loop.close()

    def __enter__(self) -> "Dispatcher":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def run_once(self, now_us: int | None = None) -> DispatchReport:
        now = self._clock() if now_us is None else now_us
        report = DispatchReport()
        claimed = self._claim(now, report)
        if not claimed:
            return report
        outcomes = self._loop.run_until_complete(self._send_all(claimed))
        self._record(claimed, outcomes, self._clock() if now_us is None else now_us, report)
        return report

    def run_until_idle(self, now_us: int | None = None, rounds: int = 1000) -> DispatchReport:
        total = DispatchReport()
        for _ in range(rounds):
            report = self.run_once(now_us)
            for name in ("claimed", "sent", "retrying", "failed", "cancelled"):
                setattr(total, name, getattr(total, name) + getattr(report, name))
            for reason, n in report.reasons.items():
                total.reasons[reason] = total.reasons.get(reason, 0) + n
            if not report.claimed:
                break
        return total

    # -- claiming --

    def _claim(self, now: int, report: DispatchReport) -> list[Any]:
        lease_us = int(self._config.lease_s * 1_000_000)
        with self._engine.connect() as conn:
            # a look that writes nothing first: an idle dispatcher takes no write lock
            waiting = conn.execute(
                select(messages.c.id)
                .where(
                    ((messages.c.status == "queued") & (messages.c.next_attempt_us <= now))
                    | (
                        (messages.c.status == "sending")
                        & (messages.c.updated_at_us < now - lease_us)
                    )
                )
                .limit(1)
            ).first()
        if waiting is None:
            return []
        with self._engine.begin() as conn:
            # messages left "sending" by a crashed dispatcher go again (same idempotency key)
            conn.execute(
                update(messages)
                .where(messages.c.status == "sending", messages.c.updated_at_us < now - lease_us)
                .values(status="queued", next_attempt_us=now)
            )
            rows = list(
                conn.execute(
                    select(messages)
                    .where(messages.c.status == "queued", messages.c.next_attempt_us <= now)
                    .order_by(messages.c.next_attempt_us, messages.c.id)
                    .limit(self._config.batch)
                    .with_for_update(skip_locked=True)
                )
            )
            if not rows:
                return []
            cancel = self._not_allowed(conn, rows)
            claimed = [r for r in rows if r.id not in cancel]
            _set(
                conn,
                [
                    _state(
                        r.id,
                        "cancelled",
                        now,
                        reason=cancel[r.id],
                        next_attempt_us=None,
                        attempts=r.attempts,
                    )
                    for r in rows
                    if r.id in cancel
                ]
                + [
                    _state(
                        r.id,
                        "sending",
                        now,
                        attempts=r.attempts + 1,
                        reason=r.reason,
                        next_attempt_us=r.next_attempt_us,
                    )
                    for r in claimed
                ],
            )
            report.cancelled += len(cancel)
            report.claimed = len(claimed)
            return claimed

    def _not_allowed(self, conn: Connection, rows: list[Any]) -> dict[int, str]:
        """Messages that may no longer go: the person's processing restricted, consent
        withdrawn, address suppressed, channel without a provider."""
        held = restricted(conn, {r.profile_id for r in rows})
        pids = sorted({r.profile_id for r in rows if r.consent})
        views = (
            dict(
                conn.execute(
                    select(profiles.c.id, profiles.c.attributes).where(
                        key_in(conn, profiles.c.id, pids)
                    )
                ).all()
            )
            if pids
            else {}
        )
        addresses = sorted({r.address for r in rows})
        blocked = {
            (c, a)
            for c, a in conn.execute(
                select(suppressions.c.channel, suppressions.c.address).where(
                    key_in(conn, suppressions.c.address, addresses)
                )
            ).all()
        }
        out: dict[int, str] = {}
        for row in rows:
            if row.profile_id in held:
                out[row.id] = RESTRICTED_REASON
            elif (row.channel, row.address) in blocked or ("*", row.address) in blocked:
                out[row.id] = f"address suppressed on {row.channel}"
            elif ChannelName(row.channel) not in self._channels:
                out[row.id] = f"no provider configured for {row.channel}"
            elif row.consent:
                view = views.get(row.profile_id) or {}
                if not consented(view.get("c", {}), row.consent, row.channel):
                    out[row.id] = f"consent for {row.consent} on {row.channel} withdrawn"
        return out

    # -- sending --

    async def _send_all(self, rows: list[Any]) -> list[tuple[str | None, SendFailed | None]]:
        """Send ``rows`` with at most ``concurrency`` in flight: that many workers each take
        the next row until none is left (cheaper than a task per row behind a semaphore)."""
        outcomes: list[tuple[str | None, SendFailed | None]] = [(None, None)] * len(rows)
        todo = iter(enumerate(rows))

        async def worker() -> None:
            for i, row in todo:
                outcomes[i] = await self._send_one(row)

        await asyncio.gather(*(worker() for _ in range(min(self._config.concurrency, len(rows)))))
        return outcomes

    async def _send_one(self, row: Any) -> tuple[str | None, SendFailed | None]:
        name = ChannelName(row.channel)
        channel = self._channels[name]
        message = Message(
            idempotency_key=row.key,
            channel=name,
            to=row.address,
            body=row.body,
            subject=row.subject,
            html=row.html,
            metadata={"message_id": str(row.id)},
        )
        try:
            result = await channel.send(message)
        except SendFailed as exc:
            return None, exc
        except Exception as exc:  # an adapter bug must not lose the round
            log.exception("channel %s failed unexpectedly", row.channel)
            return None, SendFailed(f"unexpected error: {type(exc).__name__}", retryable=True)
        return result.provider_message_id or "", None

    # -- recording --

    def _record(
        self,
        rows: list[Any],
        outcomes: list[tuple[str | None, SendFailed | None]],
        now: int,
        report: DispatchReport,
    ) -> None:
        events: list[dict[str, Any]] = []
        suppress: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        window_us = int(self._config.retry_window_s * 1_000_000)
        for row, (provider_id, failure) in zip(rows, outcomes, strict=True):
            if failure is None:
                changes.append(
                    _state(
                        row.id,
                        "sent",
                        now,
                        provider_id=provider_id or None,
                        sent_at_us=now,
                        attempts=row.attempts + 1,
                    )
                )
                events.append(message_event(row, "sent", now))
                report.sent += 1
                continue
            report.reasons[failure.reason] = report.reasons.get(failure.reason, 0) + 1
            if failure.retryable and now - row.created_at_us < window_us:
                delay = backoff_s(
                    row.attempts + 1,
                    self._config.retry_base_s,
                    self._config.retry_cap_s,
                    self._rng,
                )
                if failure.retry_after_s is not None:
                    delay = max(delay, failure.retry_after_s)
                changes.append(
                    _state(
                        row.id,
                        "queued",
                        now,
                        reason=failure.reason,
                        next_attempt_us=now + int(delay * 1_000_000),
                        attempts=row.attempts + 1,
                    )
                )
                report.retrying += 1
                continue
            bounced = row.channel == "email" and (failure.status or 0) >= 500
            status = "bounced" if bounced else "failed"
            reason = (
                failure.reason
                if not failure.retryable
                else f"gave up after {row.attempts + 1} attempts: {failure.reason}"
            )
            changes.append(
                _state(
                    row.id,
                    status,
                    now,
                    reason=reason,
                    next_attempt_us=None,
                    attempts=row.attempts + 1,
                )
            )
            events.append(message_event(row, status, now, {"reason": reason}))
            if bounced:
                suppress.append(
                    {
                        "channel": row.channel,
                        "address": row.address,
                        "reason": f"bounced: {failure.reason}",
                        "created_at_us": now,
                    }
                )
            report.failed += 1
        with self._engine.begin() as conn:
            _set(conn, changes)
            insert_many_ignoring_duplicates(conn, suppressions, suppress)
            append_events(conn, events, now)


def _state(
    message_id: int,
    status: str,
    now: int,
    *,
    attempts: int,
    reason: str | None = None,
    next_attempt_us: int | None = None,
    provider_id: str | None = None,
    sent_at_us: int | None = None,
) -> dict[str, Any]:
    return {
        "id": message_id,
        "status": status,
        "attempts": attempts,
        "reason": reason,
        "next_attempt_us": next_attempt_us,
        "provider_id": provider_id,
        "sent_at_us": sent_at_us,
        "updated_at_us": now,
    }


def _set(conn: Connection, changes: list[dict[str, Any]]) -> None:
    """Write many messages' new states in one statement."""
    update_many(conn, messages, "id", changes)


class DispatchLoop(BackgroundLoop):
    def __init__(self, dispatcher: Dispatcher, *, poll_s: float = 0.5) -> None:
        super().__init__("c360-dispatch")
        self._dispatcher = dispatcher
        self._poll_s = poll_s

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    report = self._dispatcher.run_once()
                except Exception:
                    log.exception("dispatch round failed; retrying")
                    report = DispatchReport()
                if not report.claimed:
                    self._wake.wait(self._poll_s)
                    self._wake.clear()
        finally:
            self._dispatcher.close()
