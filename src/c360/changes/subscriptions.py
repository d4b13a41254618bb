"""Webhook subscriptions to the change feed: where to send which kinds of change, and how far
each has got.

A subscription keeps a cursor (the last change id it has delivered or given up on) and sends
what comes after it, in order (``c360.changes.delivery``). Changes it gave up on after its
retries wait in ``subscription_dead_letters`` until an operator sends them again.

A dead letter is in one of two states: waiting for the operator (``redelivered_at_us`` empty)
or queued for redelivery (``redelivered_at_us`` set by ``redeliver_dead_letters``). The
deliverer sends queued ones before anything after the cursor; once the receiver accepts them
the rows are deleted (the change has arrived), and if they fail again they wait again, with
the new error.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import Connection, Row, func, insert, select, update

from c360.changes.egress import AllowedHosts, resolve_target
from c360.changes.feed import KINDS, ChangeKind, last_change_id
from c360.errors import InvalidInput, NotFound
from c360.kernel.clock import system_clock
from c360.kernel.ids import new_secret_key
from c360.storage.tables import profile_changes, subscription_dead_letters, subscriptions

Start = Literal["now", "beginning"]

MAX_URL_CHARS = 2048


@dataclass(frozen=True, slots=True)
class Subscription:
    """A subscription as operators see it (never its secret)."""

    id: int
    url: str
    kinds: tuple[str, ...]
    """The change kinds delivered; empty: every kind."""
    created_at_us: int
    disabled_at_us: int | None
    cursor: int
    """The last change id delivered or dead-lettered."""
    attempts: int
    """Failed deliveries in a row (0 after a success or a batch given up on)."""
    next_attempt_us: int | None
    last_error: str | None
    failing_since_us: int | None = None
    """The first failure of the batch being retried (None: not failing); the batch is
    dead-lettered once this is older than the deliverer's retry window."""
    consent_purpose: str | None = None
    """Changes about people without consent to it (or whose processing is restricted) are
    not delivered (None: only restriction applies; docs/consent.md)."""

    @property
    def enabled(self) -> bool:
        return self.disabled_at_us is None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A change a subscription gave up on after its retries."""

    id: int
    subscription_id: int
    change_id: int
    attempts: int
    last_error: str
    at_us: int
    redelivered_at_us: int | None
    """When an operator queued it to be sent again (None: waiting for the operator)."""

    @property
    def queued(self) -> bool:
        return self.redelivered_at_us is not None


def add_subscription(
    conn: Connection,
    url: str,
    kinds: Iterable[str],
    *,
    start: Start = "now",
    allowed_hosts: str = "",
    consent_purpose: str | None = None,
) -> tuple[Subscription, str]:
    """A new subscription and its signing secret (returned once, for the receiver to keep).

    ``kinds`` empty means every kind. ``start="now"`` delivers only changes made from now on;
    ``"beginning"`` replays the whole feed first. The URL's host must be public unless
    ``allowed_hosts`` (``"127.0.0.1:8123,hooks.internal"``) lists it; see ``check_url``.
    """
    chosen = check_kinds(kinds)
    if start not in ("now", "beginning"):
        raise InvalidInput(f"start {start!r}: use 'now' or 'beginning'")
    url = check_url(url, allowed_hosts=allowed_hosts)
    if consent_purpose is not None and not re.fullmatch(r"[a-z][a-z0-9_]{0,49}", consent_purpose):
        raise InvalidInput(f"consent purpose {consent_purpose!r}: a lowercase name")
    secret = new_secret_key("whsec")
    subscription_id = conn.execute(
        insert(subscriptions)
        .values(
            url=url,
            kinds=list(chosen),
            secret=secret,
            created_at_us=system_clock(),
            disabled_at_us=None,
            cursor=last_change_id(conn) if start == "now" else 0,
            attempts=0,
            next_attempt_us=None,
            last_error=None,
            failing_since_us=None,
            consent_purpose=consent_purpose,
        )
        .returning(subscriptions.c.id)
    ).scalar_one()
    return get_subscription(conn, subscription_id), secret


def check_url(url: str, *, allowed_hosts: str = "") -> str:
    """``url`` if c360 can deliver to it, else InvalidInput saying why.

    Its host is looked up now and refused when it is internal (loopback, private, link-local,
    cloud metadata ...: ``c360.changes.egress``) and not in ``allowed_hosts``; the deliverer
    checks again before every request, as the name may resolve elsewhere later.
    """
    url = url.strip()
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput(
            f"subscription URL is {len(url)} characters; the most is {MAX_URL_CHARS}"
        )
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InvalidInput(f"subscription URL {url!r} contains spaces or control characters")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise InvalidInput(f"subscription URL {url!r} has an invalid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            f"subscription URL {url!r}: give an http:// or https:// URL with a host, "
            "such as https://example.com/c360-webhook"
        )
    if parts.username is not None or parts.password is not None:
        # They would be shown by `subscriptions list` and kept in plain text; the signature
        # is how a receiver knows the request is from c360.
        raise InvalidInput(
            f"subscription URL for {parts.hostname}: leave user and password out of the URL; "
            "receivers authenticate c360 by the X-C360-Signature header"
        )
    resolve_target(url, AllowedHosts.parse(allowed_hosts))
    return url


def check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    """The kinds, deduplicated in feed order; InvalidInput naming any that is not a kind."""
    given = [k.strip() for k in kinds if k.strip()]
    unknown = [k for k in given if k not in KINDS]
    if unknown:
        raise InvalidInput(
            f"unknown change kind {', '.join(repr(k) for k in unknown)}; "
            f"the kinds are {', '.join(k.value for k in ChangeKind)}"
        )
    return tuple(k.value for k in ChangeKind if k.value in given)


def _to_subscription(row: Row[Any]) -> Subscription:
    return Subscription(
        id=row.id,
        url=row.url,
        kinds=tuple(row.kinds or ()),
        created_at_us=row.created_at_us,
        disabled_at_us=row.disabled_at_us,
        cursor=row.cursor,
        attempts=row.attempts,
        next_attempt_us=row.next_attempt_us,
        last_error=row.last_error,
        failing_since_us=row.failing_since_us,
        consent_purpose=row.consent_purpose,
    )


_COLUMNS = [c for c in subscriptions.c if c.name != "secret"]


def get_subscription(conn: Connection, subscription_id: int) -> Subscription:
    row = conn.execute(select(*_COLUMNS).where(subscriptions.c.id == subscription_id)).first()
    if row is None:
        raise NotFound(
            f"subscription {subscription_id} does not exist (c360 subscriptions list shows them)"
        )
    return _to_subscription(row)


def list_subscriptions(conn: Connection, *, include_removed: bool = False) -> list[Subscription]:
    """Subscriptions by id; removed ones only when asked for."""
    query = select(*_COLUMNS).order_by(subscriptions.c.id)
    if not include_removed:
        query = query.where(subscriptions.c.disabled_at_us.is_(None))
    return [_to_subscription(row) for row in conn.execute(query)]


def remove_subscription(conn: Connection, subscription_id: int) -> Subscription:
    """Stop delivering to a subscription; its row and dead letters stay as history."""
    get_subscription(conn, subscription_id)
    conn.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id, subscriptions.c.disabled_at_us.is_(None))
        .values(disabled_at_us=system_clock())
    )
    return get_subscription(conn, subscription_id)


def pending_changes(conn: Connection, subscription: Subscription) -> int:
    """How many changes of the subscription's kinds are after its cursor (its lag)."""
    query = select(func.count()).where(profile_changes.c.id > subscription.cursor)
    if subscription.kinds:
        query = query.where(profile_changes.c.kind.in_(subscription.kinds))
    return int(conn.execute(query).scalar_one())


def _to_dead_letter(row: Row[Any]) -> DeadLetter:
    return DeadLetter(
        id=row.id,
        subscription_id=row.subscription_id,
        change_id=row.change_id,
        attempts=row.attempts,
        last_error=row.last_error,
        at_us=row.at_us,
        redelivered_at_us=row.redelivered_at_us,
    )


def dead_letters(conn: Connection, subscription_id: int) -> list[DeadLetter]:
    """The subscription's dead letters (waiting or queued for redelivery), oldest change first."""
    get_subscription(conn, subscription_id)
    rows = conn.execute(
        select(subscription_dead_letters)
        .where(subscription_dead_letters.c.subscription_id == subscription_id)
        .order_by(subscription_dead_letters.c.change_id, subscription_dead_letters.c.id)
    )
    return [_to_dead_letter(row) for row in rows]


def redeliver_dead_letters(conn: Connection, subscription_id: int) -> int:
    """Queue the subscription's waiting dead letters to be sent again, before anything newer;
    return how many were queued."""
    subscription = get_subscription(conn, subscription_id)
    if not subscription.enabled:
        raise InvalidInput(
            f"subscription {subscription_id} was removed; add a new subscription to receive changes"
        )
    result = conn.execute(
        update(subscription_dead_letters)
        .where(
            subscription_dead_letters.c.subscription_id == subscription_id,
            subscription_dead_letters.c.redelivered_at_us.is_(None),
        )
        .values(redelivered_at_us=system_clock())
    )
    return int(result.rowcount)
