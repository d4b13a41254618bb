"""Delivery of the change feed to webhook subscriptions: signed, in order, at least once.

Receiving deliveries
--------------------

Each delivery is an HTTP ``POST`` to the subscription's URL with a JSON body::

    {"subscription_id": 3,
     "changes": [{"id": 1041, "profile_id": "7c9e...", "kind": "trait_changed",
                  "detail": {...}, "seq": 88123, "at": "2025-01-31T08:15:02.123456Z"}]}

and these headers::

    Content-Type: application/json
    X-C360-Timestamp: 1738311302            Unix seconds when this attempt was sent
    X-C360-Signature: sha256=5f1c...         hex HMAC-SHA256, below
    X-C360-Delivery: 0b6f0e8e-...            the same for every retry of the same batch

The signature is HMAC-SHA256, keyed with the subscription's secret (printed once by
``c360 subscriptions add``), over the bytes ``<X-C360-Timestamp>.<body>``: the timestamp
header as sent, a full stop, then the raw request body. A receiver should

1. compute it over the body bytes exactly as received (before any JSON parsing),
2. compare it with the header in constant time (``hmac.compare_digest``), and
3. refuse timestamps more than five minutes from its own clock, so a captured request cannot
   be replayed later.

``verify_signature`` does all three::

    from c360.changes.delivery import verify_signature

    ok = verify_signature(secret, request.headers["X-C360-Timestamp"], raw_body,
                          request.headers["X-C360-Signature"])

Answer with any 2xx once the changes are stored. Every change ends either delivered or
dead-lettered with its reason (``c360 subscriptions dead-letters``):

- a 4xx other than 429 means the receiver refuses these changes: they are dead-lettered at
  once, without a retry (``HTTP 400: the receiver refused the changes``);
- anything else (a 5xx, a 429, a 3xx: redirects are not followed; no answer within the
  timeout, a refused connection, a name that does not resolve) is retried: the same batch is
  sent again after a wait that doubles, 1 s, 2 s, 4 s ... up to 10 minutes (each between
  half and all of that, at random, so that receivers coming back are not hit all at once),
  and never sooner than a 429's or 503's ``Retry-After`` (up to an hour);
- a batch still failing four hours after its first failure (the retry window) is
  dead-lettered, and delivery goes on with the next batch, so one change a receiver refuses
  cannot hold back the rest. The last retry is made when the window ends.

The window and the delays are settings (``C360_WEBHOOK_RETRY_WINDOW_S``,
``C360_WEBHOOK_RETRY_BASE_DELAY_S``, ``C360_WEBHOOK_RETRY_MAX_DELAY_S``). A URL whose host is
internal (``c360.changes.egress``) is checked again before each request; a blocked one is
dead-lettered at once (``blocked: 127.0.0.1 is a loopback address``).

Changes of one subscription arrive in ``id`` order, at least once: a batch the receiver took
but did not acknowledge in time is sent again, so receivers keep the change ids they have
seen. Dead letters sent again (``c360 subscriptions redeliver``) arrive after later changes.

Claiming
--------

No transaction is open while a request is in flight. A deliverer claims a subscription in a
short transaction by setting its ``next_attempt_us`` to a lease (now + ``lease_s``); other
deliverers, in this process or another, skip it until the outcome is recorded or the lease
ends (a crashed deliverer's subscriptions wait that long). The outcome is recorded only if the
lease is still the one taken, so a late answer never moves the cursor of a batch another
deliverer has sent again. PostgreSQL claims with ``FOR UPDATE SKIP LOCKED``; SQLite takes the
database write lock (``BEGIN IMMEDIATE``), which serialises claims across processes too.
"""

import hashlib
import hmac
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson
from sqlalchemy import Connection, Engine, delete, insert, or_, select, update

from c360 import __version__
from c360.changes.egress import (
    MAX_ADDRESSES_TRIED,
    AllowedHosts,
    BlockedTarget,
    Target,
    UnresolvableHost,
    resolve_target,
)
from c360.changes.feed import Change, ChangeKind, changes_after, last_change_id
from c360.changes.subscriptions import mask_change
from c360.errors import InvalidInput
from c360.kernel.background import BackgroundLoop
from c360.kernel.clock import Clock, system_clock
from c360.privacy.consent import permits
from c360.privacy.restrict import restricted
from c360.storage.engine import reader
from c360.storage.tables import (
    profile_changes,
    profiles,
    subscription_dead_letters,
    subscriptions,
)

log = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_S = 300
DEFAULT_RETRY_WINDOW_S = 4 * 3600.0
"""How long a batch is retried after its first failure before it is dead-lettered (Segment
also retries for 4 h)."""
DEFAULT_BASE_DELAY_S = 1.0
DEFAULT_MAX_DELAY_S = 600.0
MAX_RETRY_AFTER_S = 3600.0
"""A receiver's Retry-After is honoured up to an hour, so a broken one cannot park a
subscription for days."""

_DELIVERY_NAMESPACE = uuid.UUID("5f2c8a52-3a9f-4d1e-9c55-0c3600000002")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-C360-Signature`` value of ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes | str,
    signature: str,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
    *,
    now_s: float | None = None,
) -> bool:
    """Whether a delivery is from c360 and recent: for receivers (see the module docstring).

    ``timestamp`` and ``signature`` are the ``X-C360-Timestamp`` and ``X-C360-Signature``
    headers, ``body`` the raw request body.
    """
    text = str(timestamp).strip()
    if not (text.isascii() and text.isdigit()):
        return False
    now = time.time() if now_s is None else now_s
    if abs(now - int(text)) > tolerance_s:
        return False
    raw = body.encode() if isinstance(body, str) else body
    expected = sign(secret, text, raw).encode()
    return hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace"))


def backoff_s(attempts: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """The wait after the ``attempts``-th failure in a row: base·2^(attempts-1), at most
    ``cap_s``, its upper half random so that receivers coming back are not hit all at once."""
    delay = min(cap_s, base_s * 2.0 ** min(max(attempts - 1, 0), 60))
    return delay / 2 + rng.uniform(0, delay / 2)


def retry_after_s(value: str | None, now_s: float) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now_s)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


@dataclass(frozen=True, slots=True)
class _Claim:
    subscription_id: int
    url: str
    secret: str
    claimed_us: int
    lease_us: int
    """The ``next_attempt_us`` set when claiming: the outcome is recorded only if it is still
    there."""
    cursor: int
    end: int
    """The cursor once this batch is delivered or given up on (the cursor, for redeliveries)."""
    attempts: int
    failing_since_us: int | None
    changes: list[Change]
    dead_letter_ids: list[int]
    """The queued dead letters this batch sends again (empty: the batch is from the cursor)."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    ok: bool
    error: str | None = None
    retry_after_s: float | None = None
    final: bool = False
    """Not worth retrying (a 4xx, a blocked host): dead-letter now."""


class Deliverer:
    """Sends each due subscription its next batch of changes; see the module docstring.

    ``retry_window_s``, ``base_delay_s`` and ``max_delay_s`` shape the retries (tests make
    them small, or pass a ``clock`` they move). ``allowed_hosts`` lists internal receivers
    (``"127.0.0.1:8123,hooks.internal"``, see ``c360.changes.egress``). ``lease_s`` (default:
    the longer of a minute and ten timeouts) must be longer than any request can take.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        batch_size: int = 100,
        timeout_s: float = 5.0,
        retry_window_s: float = DEFAULT_RETRY_WINDOW_S,
        base_delay_s: float = DEFAULT_BASE_DELAY_S,
        max_delay_s: float = DEFAULT_MAX_DELAY_S,
        allowed_hosts: str = "",
        lease_s: float | None = None,
        clock: Clock = system_clock,
        rng: random.Random | None = None,
    ) -> None:
        if batch_size < 1 or timeout_s <= 0:
            raise ValueError("batch_size and timeout_s must be positive")
        if retry_window_s < 0 or base_delay_s <= 0 or max_delay_s <= 0:
            raise ValueError("retry_window_s must be 0 or more, the delays positive")
        self._engine = engine
        self._batch_size = batch_size
        self._window_us = int(retry_window_s * 1e6)
        self._base_delay_s = base_delay_s
        self._max_delay_s = max_delay_s
        self._allowed = AllowedHosts.parse(allowed_hosts)
        self._lease_us = int((lease_s if lease_s is not None else max(60.0, 10 * timeout_s)) * 1e6)
        self._clock = clock
        self._rng = rng or random.Random()
        self._timeout_s = timeout_s
        self._clients: dict[str | None, httpx.Client] = {}

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> "Deliverer":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def run_once(self, now_us: int | None = None, *, stop: threading.Event | None = None) -> int:
        """Send one batch to each due subscription that has one; return how many the receivers
        accepted. ``now_us`` (tests) stands for the clock when deciding what is due and when
        to retry; ``stop``, once set, ends the pass before the next subscription."""
        now = self._clock() if now_us is None else now_us
        delivered = 0
        for subscription_id in self._due(now):
            if stop is not None and stop.is_set():
                break
            claim = self._claim(subscription_id, now)
            if claim is None:
                continue
            outcome = self._send(claim)
            self._record(claim, outcome, self._clock() if now_us is None else now_us)
            if outcome.ok:
                delivered += 1
        return delivered

    def _due(self, now_us: int) -> list[int]:
        """Subscriptions due now with something to send (read without taking a write lock)."""
        with reader(self._engine).connect() as conn:
            high = last_change_id(conn)
            queued = set(
                conn.execute(
                    select(subscription_dead_letters.c.subscription_id)
                    .where(subscription_dead_letters.c.redelivered_at_us.is_not(None))
                    .distinct()
                ).scalars()
            )
            rows = conn.execute(
                select(subscriptions.c.id, subscriptions.c.cursor)
                .where(*_due_now(now_us))
                .order_by(subscriptions.c.id)
            ).all()
        return [row.id for row in rows if row.cursor < high or row.id in queued]

    def _claim(self, subscription_id: int, now_us: int) -> _Claim | None:
        """Take the subscription's next batch and lease the subscription, or None when another
        deliverer holds it or there is nothing to send (other kinds only move the cursor)."""
        with self._engine.begin() as conn:
            row = conn.execute(
                select(subscriptions)
                .where(subscriptions.c.id == subscription_id, *_due_now(now_us))
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            changes, dead_letter_ids = self._queued_dead_letters(conn, subscription_id)
            end = row.cursor
            if not changes:
                changes, end = self._next_changes(conn, row.cursor, list(row.kinds or ()))
                changes = withhold(conn, changes, row.consent_purpose)
            if not changes:
                if end > row.cursor:
                    conn.execute(
                        update(subscriptions)
                        .where(subscriptions.c.id == subscription_id)
                        .values(cursor=end)
                    )
                return None
            changes = [mask_change(c, row.fields) for c in changes]  # its allow-list only
            lease_us = now_us + self._lease_us
            conn.execute(
                update(subscriptions)
                .where(subscriptions.c.id == subscription_id)
                .values(next_attempt_us=lease_us)
            )
        return _Claim(
            subscription_id=subscription_id,
            url=row.url,
            secret=row.secret,
            claimed_us=now_us,
            lease_us=lease_us,
            cursor=row.cursor,
            end=end,
            attempts=row.attempts,
            failing_since_us=row.failing_since_us,
            changes=changes,
            dead_letter_ids=dead_letter_ids,
        )

    def _queued_dead_letters(
        self, conn: Connection, subscription_id: int
    ) -> tuple[list[Change], list[int]]:
        """The next batch of dead letters queued for redelivery, with their row ids; rows whose
        change is gone (erased) are dropped, as there is nothing left to send."""
        queued = conn.execute(
            select(subscription_dead_letters.c.id, subscription_dead_letters.c.change_id)
            .where(
                subscription_dead_letters.c.subscription_id == subscription_id,
                subscription_dead_letters.c.redelivered_at_us.is_not(None),
            )
            .order_by(subscription_dead_letters.c.change_id, subscription_dead_letters.c.id)
            .limit(self._batch_size)
        ).all()
        if not queued:
            return [], []
        found = {c.id: c for c in _changes_by_id(conn, sorted({q.change_id for q in queued}))}
        gone = [q.id for q in queued if q.change_id not in found]
        if gone:
            conn.execute(
                delete(subscription_dead_letters).where(subscription_dead_letters.c.id.in_(gone))
            )
        kept = [q for q in queued if q.change_id in found]
        changes = list({q.change_id: found[q.change_id] for q in kept}.values())
        return changes, [q.id for q in kept]

    def _next_changes(
        self, conn: Connection, cursor: int, kinds: list[str]
    ) -> tuple[list[Change], int]:
        """The next batch after ``cursor`` of the given kinds, and the cursor after it."""
        # The newest id is read first: ids commit in order (see c360.changes.feed), so every
        # change up to it is visible to the next statement even under READ COMMITTED, and the
        # cursor may pass changes of other kinds up to it.
        high = last_change_id(conn)
        found = changes_after(conn, cursor, self._batch_size, kinds or None)
        batch = [c for c in found if c.id <= high]
        if len(found) == self._batch_size and found[-1].id <= high:
            return batch, found[-1].id
        return batch, high

    def _send(self, claim: _Claim) -> _Outcome:
        try:
            # Looked up again for every request: the host may resolve elsewhere since it was
            # saved. The request goes to an address checked here, never to the name.
            target = resolve_target(claim.url, self._allowed)
        except BlockedTarget as exc:
            return _Outcome(ok=False, error=f"blocked: {exc.reason}", final=True)
        except UnresolvableHost as exc:
            return _Outcome(ok=False, error=str(exc))
        except InvalidInput as exc:
            return _Outcome(ok=False, error=f"refused: {exc}", final=True)
        body = orjson.dumps(
            {
                "subscription_id": claim.subscription_id,
                "changes": [c.as_json() for c in claim.changes],
            }
        )
        now_s = self._clock() / 1e6
        timestamp = str(int(now_s))
        batch_key = ",".join(str(c.id) for c in claim.changes)
        headers = {
            "Content-Type": "application/json",
            "Host": target.host_header,
            "X-C360-Timestamp": timestamp,
            "X-C360-Signature": sign(claim.secret, timestamp, body),
            "X-C360-Delivery": str(
                uuid.uuid5(_DELIVERY_NAMESPACE, f"{claim.subscription_id}:{batch_key}")
            ),
        }
        try:
            status, retry_after = self._post(target, body, headers)
        except Exception as exc:  # timeouts, refused connections: all retried
            return _Outcome(ok=False, error=type(exc).__name__)
        if 200 <= status < 300:
            return _Outcome(ok=True)
        if status == 429 or status == 503:
            wait = retry_after_s(retry_after, now_s)
            return _Outcome(ok=False, error=f"HTTP {status}", retry_after_s=wait)
        if 400 <= status < 500:
            return _Outcome(
                ok=False, error=f"HTTP {status}: the receiver refused the changes", final=True
            )
        if 300 <= status < 400:
            return _Outcome(ok=False, error=f"HTTP {status} (redirects are not followed)")
        return _Outcome(ok=False, error=f"HTTP {status}")

    def _post(self, target: Target, body: bytes, headers: dict[str, str]) -> tuple[int, str | None]:
        """POST to the target's first checked address that takes the connection; return the
        status and the Retry-After header."""
        extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
        addresses = target.addresses[:MAX_ADDRESSES_TRIED]
        for i, address in enumerate(addresses):
            try:
                # Streamed so that the response body is never read: only the status matters.
                with self._client(target).stream(
                    "POST",
                    target.url_for(address),
                    content=body,
                    headers=headers,
                    extensions=extensions,
                ) as response:
                    return response.status_code, response.headers.get("retry-after")
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if i == len(addresses) - 1:
                    raise
        raise AssertionError("a target has at least one address")

    def _client(self, target: Target) -> httpx.Client:
        """The HTTP client for the target's TLS name (one for plain HTTP): connections are
        pooled by address, and one verified for a name must not carry another name's
        requests."""
        client = self._clients.get(target.sni_hostname)
        if client is None:
            client = self._clients[target.sni_hostname] = httpx.Client(
                timeout=httpx.Timeout(self._timeout_s),
                follow_redirects=False,
                headers={"User-Agent": f"c360-webhooks/{__version__}"},
            )
        return client

    def _record(self, claim: _Claim, outcome: _Outcome, now_us: int) -> None:
        attempts = 0 if outcome.ok else claim.attempts + 1
        since_us = claim.claimed_us if claim.failing_since_us is None else claim.failing_since_us
        failing_us = now_us - since_us
        error = outcome.error or "failed"
        give_up = not outcome.ok and (outcome.final or failing_us >= self._window_us)
        if give_up and not outcome.final:
            error = (
                f"{error}; still failing after {_duration(failing_us / 1e6)} "
                f"(the retry window is {_duration(self._window_us / 1e6)})"
            )
        values: dict[str, Any]
        if outcome.ok or give_up:
            values = {
                "cursor": claim.end,
                "attempts": 0,
                "next_attempt_us": None,
                "last_error": None if outcome.ok else error,
                "failing_since_us": None,
            }
        else:
            values = {
                "attempts": attempts,
                "next_attempt_us": self._next_attempt_us(attempts, outcome, now_us, since_us),
                "last_error": error,
                "failing_since_us": since_us,
            }
        if not outcome.ok:
            log.warning(
                "subscription %d: delivery of %d changes failed (%s), attempt %d, failing "
                "for %s of the %s retry window",
                claim.subscription_id,
                len(claim.changes),
                outcome.error,
                attempts,
                _duration(failing_us / 1e6),
                _duration(self._window_us / 1e6),
            )
        with self._engine.begin() as conn:
            updated = conn.execute(
                update(subscriptions)
                .where(
                    subscriptions.c.id == claim.subscription_id,
                    subscriptions.c.next_attempt_us == claim.lease_us,
                    subscriptions.c.cursor == claim.cursor,
                    subscriptions.c.disabled_at_us.is_(None),
                )
                .values(**values)
            ).rowcount
            if not updated:
                log.warning(
                    "subscription %d: removed or re-claimed while a delivery was in flight; "
                    "its outcome is not recorded",
                    claim.subscription_id,
                )
                return
            if outcome.ok and claim.dead_letter_ids:
                conn.execute(
                    delete(subscription_dead_letters).where(
                        subscription_dead_letters.c.id.in_(claim.dead_letter_ids)
                    )
                )
            elif give_up:
                self._dead_letter(conn, claim, attempts, error, now_us)

    def _next_attempt_us(self, attempts: int, outcome: _Outcome, now_us: int, since_us: int) -> int:
        """When to try again: after the back-off, no sooner than Retry-After, and at the end
        of the retry window at the latest (unless Retry-After asks for later)."""
        delay_us = int(backoff_s(attempts, self._base_delay_s, self._max_delay_s, self._rng) * 1e6)
        floor_us = 0
        if outcome.retry_after_s is not None:
            floor_us = int(min(outcome.retry_after_s, MAX_RETRY_AFTER_S) * 1e6)
        window_end_us = since_us + self._window_us
        return max(min(now_us + delay_us, window_end_us), now_us + floor_us, now_us + 1)

    def _dead_letter(
        self, conn: Connection, claim: _Claim, attempts: int, error: str, now_us: int
    ) -> None:
        log.error(
            "subscription %d: gave up on %d changes (%d to %d) after %d attempts (%s); "
            "see c360 subscriptions dead-letters %d",
            claim.subscription_id,
            len(claim.changes),
            claim.changes[0].id,
            claim.changes[-1].id,
            attempts,
            error,
            claim.subscription_id,
        )
        if claim.dead_letter_ids:
            # Sent again and failed again: they wait for the operator again, with the new error.
            conn.execute(
                update(subscription_dead_letters)
                .where(subscription_dead_letters.c.id.in_(claim.dead_letter_ids))
                .values(redelivered_at_us=None, attempts=attempts, last_error=error, at_us=now_us)
            )
            return
        conn.execute(
            insert(subscription_dead_letters),
            [
                {
                    "subscription_id": claim.subscription_id,
                    "change_id": change.id,
                    "attempts": attempts,
                    "last_error": error,
                    "at_us": now_us,
                    "redelivered_at_us": None,
                }
                for change in claim.changes
            ],
        )


def _duration(seconds: float) -> str:
    """``4 h``, ``90 min``, ``2.5 s``: a retry window or a time spent failing, for people."""
    if seconds >= 3600 and seconds % 3600 < 60:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.3g} s"


def withhold(conn: Connection, changes: list[Change], purpose: str | None) -> list[Change]:
    """The changes a subscription may receive: none about a person whose processing is
    restricted, or (with a ``purpose``) who lacks consent to it at the moment of delivery.
    Changes about nobody in particular pass, and so does an erasure (receivers delete their
    copies whatever the person had consented to). Left-out changes are passed by the cursor."""
    people = {c.profile_id for c in changes if c.profile_id and c.kind != ChangeKind.PROFILE_ERASED}
    if not people:
        return changes
    held = restricted(conn, people)
    if purpose is not None:
        views = dict(
            conn.execute(
                select(profiles.c.id, profiles.c.attributes).where(
                    profiles.c.id.in_(sorted(people - held))
                )
            ).all()
        )
        held |= {p for p in people - held if not permits(views.get(p), purpose)}
    return [c for c in changes if c.kind == ChangeKind.PROFILE_ERASED or c.profile_id not in held]


def _due_now(now_us: int) -> list[Any]:
    return [
        subscriptions.c.disabled_at_us.is_(None),
        or_(subscriptions.c.next_attempt_us.is_(None), subscriptions.c.next_attempt_us <= now_us),
    ]


def _changes_by_id(conn: Connection, ids: list[int]) -> list[Change]:
    rows = conn.execute(
        select(
            profile_changes.c.id,
            profile_changes.c.profile_id,
            profile_changes.c.kind,
            profile_changes.c.detail,
            profile_changes.c.seq,
            profile_changes.c.at_us,
        )
        .where(profile_changes.c.id.in_(ids))
        .order_by(profile_changes.c.id)
    )
    return [Change(r.id, r.profile_id, r.kind, dict(r.detail), r.seq, r.at_us) for r in rows]


class DeliveryThread(BackgroundLoop):
    """Runs a ``Deliverer`` in a background thread until stopped (``c360 serve``); a pass that
    delivered something is followed at once by another, else it waits ``poll_s`` or until
    ``notify``. It owns the deliverer and closes it when it stops.

    Without a ``deliverer`` it makes one with the retry window, delays and allowed hosts
    given (entry points pass the ``webhook_*`` settings).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        poll_s: float = 1.0,
        deliverer: Deliverer | None = None,
        retry_window_s: float = DEFAULT_RETRY_WINDOW_S,
        base_delay_s: float = DEFAULT_BASE_DELAY_S,
        max_delay_s: float = DEFAULT_MAX_DELAY_S,
        allowed_hosts: str = "",
    ) -> None:
        self._deliverer = deliverer or Deliverer(
            engine,
            retry_window_s=retry_window_s,
            base_delay_s=base_delay_s,
            max_delay_s=max_delay_s,
            allowed_hosts=allowed_hosts,
        )
        self._poll_s = poll_s
        super().__init__("c360-delivery")

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    delivered = self._deliverer.run_once(stop=self._stop)
                except Exception as exc:
                    self.errors += 1
                    # The type only: database errors quote rows, which hold personal data.
                    log.error(
                        "delivering to subscriptions failed (%s); retrying", type(exc).__name__
                    )
                    delivered = 0
                if not delivered:
                    self._wake.wait(self._poll_s)
                    self._wake.clear()
        finally:
            self._deliverer.close()
