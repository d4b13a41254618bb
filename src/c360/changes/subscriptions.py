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

Transfers: a subscription records the country its receiver is hosted in and, optionally, the
profile fields its changes may carry (``fields``); a receiver abroad must have that allow-list
(``check_transfer``), and every change is masked down to it before it leaves
(``mask_change``). Both go into the transfer register (``c360.compliance.register``).
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlsplit

import phonenumbers
from sqlalchemy import Connection, Row, func, insert, select, update

from c360.changes.egress import AllowedHosts, resolve_target
from c360.changes.feed import KINDS, Change, ChangeKind, last_change_id
from c360.errors import InvalidInput, NotFound
from c360.kernel.clock import system_clock
from c360.kernel.ids import new_secret_key
from c360.privacy.purposes import check_purpose
from c360.storage.tables import profile_changes, subscription_dead_letters, subscriptions

Start = Literal["now", "beginning"]

MAX_URL_CHARS = 2048
HOME_COUNTRY = "TH"
"""Where the business is, unless ``C360_HOME_COUNTRY`` says otherwise."""
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS) | {"AQ", "BV", "GS", "HM", "PN", "TF", "UM"}
"""ISO 3166-1 alpha-2 codes (the regions libphonenumber knows, and the few without phones)."""
_FIELD = re.compile(
    r"^(golden|traits|computed|identifiers)\.([A-Za-z0-9_][A-Za-z0-9_.-]{0,99}|\*)$"
)
FIELD_GROUPS = ("golden", "traits", "computed", "identifiers")


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
    country: str | None = None
    """ISO 3166 alpha-2 code of where the receiver is hosted (None: added before c360 asked)."""
    fields: tuple[str, ...] | None = None
    """The profile fields its changes may carry (``golden.email``, ``traits.*``,
    ``identifiers.phone``); None: every field."""

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
    country: str | None = None,
    fields: Sequence[str] | None = None,
    home_country: str = HOME_COUNTRY,
) -> tuple[Subscription, str]:
    """A new subscription and its signing secret (returned once, for the receiver to keep).

    ``kinds`` empty means every kind. ``start="now"`` delivers only changes made from now on;
    ``"beginning"`` replays the whole feed first. The URL's host must be public unless
    ``allowed_hosts`` (``"127.0.0.1:8123,hooks.internal"``) lists it; see ``check_url``.
    ``country`` is where the receiver is hosted; outside ``home_country`` it needs ``fields``,
    the profile fields its changes may carry (``check_transfer``).
    """
    chosen = check_kinds(kinds)
    if start not in ("now", "beginning"):
        raise InvalidInput(f"start {start!r}: use 'now' or 'beginning'")
    url = check_url(url, allowed_hosts=allowed_hosts)
    if consent_purpose is not None:
        check_purpose(consent_purpose, "consent purpose")
    allowed = check_fields(fields) if fields is not None else None
    country = check_transfer(
        f"subscription to {urlsplit(url).hostname}",
        country,
        allow_list=allowed is not None,
        home_country=home_country,
        hint="--fields golden.email,traits.plan",
    )
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
            country=country,
            fields=list(allowed) if allowed is not None else None,
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


# --- transfers: where a receiver is and what it may receive ----------------------------------


def country_code(value: str, where: str) -> str:
    """``value`` as an upper-case ISO 3166 alpha-2 code, or InvalidInput naming ``where``."""
    code = value.strip().upper()
    if code not in COUNTRIES:
        raise InvalidInput(
            f"{where}: country {value!r} is not an ISO 3166 alpha-2 code (TH, VN, SG, JP, US ...)"
        )
    return code


def check_transfer(
    what: str,
    country: str | None,
    *,
    allow_list: bool,
    home_country: str = HOME_COUNTRY,
    hint: str = "",
) -> str | None:
    """The checked country of a destination about to be created or enabled.

    A destination hosted outside ``home_country`` is a transfer abroad (PDPA s.28-29, Law 91,
    GDPR Art. 44+): it needs a stated country and a field allow-list, so the register can say
    what leaves for where. None stays None (not stated: the register flags it)."""
    if country is None:
        return None
    code = country_code(country, what)
    home = country_code(home_country, "C360_HOME_COUNTRY")
    if code != home and not allow_list:
        example = f" ({hint})" if hint else ""
        raise InvalidInput(
            f"{what} is hosted in {code}, outside {home} (C360_HOME_COUNTRY): a transfer abroad "
            f"needs a field allow-list, the fields it may receive{example}"
        )
    return code


def check_fields(fields: Iterable[str]) -> tuple[str, ...]:
    """A subscription's field allow-list, deduplicated and checked: ``golden.<field>``,
    ``traits.<name>``, ``computed.<name>``, ``identifiers.<type>``, or ``<group>.*``."""
    given = list(dict.fromkeys(f.strip() for f in fields if f.strip()))
    if not given:
        raise InvalidInput(
            "a field allow-list names at least one field, such as golden.email or traits.*"
        )
    bad = [f for f in given if not _FIELD.match(f)]
    if bad:
        raise InvalidInput(
            f"field {bad[0]!r}: name a profile field as golden.<field>, traits.<name>, "
            "computed.<name> or identifiers.<type> (or golden.* for a whole group)"
        )
    return tuple(given)


def _allows(fields: Sequence[str], group: str, name: str) -> bool:
    return f"{group}.{name}" in fields or f"{group}.*" in fields


def mask_change(change: Change, fields: Sequence[str] | None) -> Change:
    """``change`` with the profile values its receiver may not have taken out.

    ``profile_created`` keeps the allowed golden values, computed traits and identifiers;
    ``trait_changed`` of a field not allowed keeps its name and says ``"masked": true``;
    ``identifier_added``/``_removed`` of a type not allowed keeps the type. Other kinds carry
    no profile values (ids, segment names, feedback topics) and pass as they are."""
    if fields is None:
        return change
    detail = change.detail
    if change.kind == ChangeKind.PROFILE_CREATED:
        masked: dict[str, Any] = {}
        for group in ("golden", "computed"):
            values = detail.get(group)
            if isinstance(values, dict):
                masked[group] = {k: v for k, v in values.items() if _allows(fields, group, k)}
        identifiers = detail.get("identifiers")
        if isinstance(identifiers, list):
            masked["identifiers"] = [
                i
                for i in identifiers
                if isinstance(i, str) and _allows(fields, "identifiers", i.partition(":")[0])
            ]
        return replace(change, detail=masked)
    if change.kind == ChangeKind.TRAIT_CHANGED:
        group, _, name = str(detail.get("trait", "")).partition(".")
        if _allows(fields, group, name):
            return change
        return replace(change, detail={"trait": detail.get("trait"), "masked": True})
    if change.kind in (ChangeKind.IDENTIFIER_ADDED, ChangeKind.IDENTIFIER_REMOVED):
        if _allows(fields, "identifiers", str(detail.get("type", ""))):
            return change
        return replace(change, detail={"type": detail.get("type"), "masked": True})
    return change


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
        country=row.country,
        fields=tuple(row.fields) if row.fields is not None else None,
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
