"""The consent ledger: every statement a person made about a purpose or a channel, with its
proof, and what they consent to now.

A statement is one of two kinds, kept apart:

- ``purpose``: consent to a purpose, purpose-wide (channel ``*``) or on one channel;
  ``granted`` or ``withdrawn``. The business configures its purposes
  (:mod:`c360.privacy.purposes`); a statement from outside may name another, and is kept
  all the same, shown as not configured;
- ``subscription``: a channel's subscription to marketing messages (``email``, ``sms``,
  ``line``, ``zalo``, ``push``, ``phone``); ``subscribed`` or ``unsubscribed``. A channel
  without any is *never asked*.

Statements come from the log and the records, never from anywhere else, so the ledger is a
derived view like the profile (``c360 rebuild`` recomputes it):

- tracked messages' ``context.consent.categoryPreferences`` (purpose-wide, method
  ``tracking``; a repeated identical preference is one entry), and the "Segment Consent
  Preference Updated" event, whose properties may carry the notice shown;
- c360's unsubscribe links (``... Unsubscribed`` events);
- ``subscription`` records from forms and imports: without a ``purpose`` field a channel
  subscription, with one a purpose statement;
- "Consent Changed" events that ``POST /api/consents``, ``c360 consent grant|withdraw`` and
  the proof import append as c360's own messages.

What a person consents to now (:func:`fold`) is what the profile's view holds under ``"c"``
(per purpose, per channel) and ``"s"`` (subscriptions), and what :func:`consented` reads: the
newest channel statement beats the purpose-wide one; an unsubscribed channel blocks
marketing on it whatever the purpose says; an expired grant counts as not given. None of
this depends on which purposes are configured: the list only decides what may be stated
and named (:func:`c360.privacy.purposes.check_purpose`) and how a purpose is shown.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update

from c360.errors import InvalidInput
from c360.kernel.clock import from_us, isoformat_us, parse_timestamp
from c360.privacy.purposes import REQUIRED_PURPOSE, configured_purposes, is_configured
from c360.storage.dialect import key_in
from c360.storage.tables import consent_ledger, messages, profiles

CHANNELS = ("email", "sms", "line", "zalo", "push", "phone")
ANY_CHANNEL = "*"
METHODS = (
    "form",
    "checkbox",
    "double_opt_in",
    "call_recording",
    "api",
    "import",
    "tracking",
    "unsubscribe_link",
)
PURPOSE, SUBSCRIPTION = "purpose", "subscription"
GRANTED, WITHDRAWN, SUBSCRIBED, UNSUBSCRIBED = "granted", "withdrawn", "subscribed", "unsubscribed"
NEVER_ASKED = "never_asked"
STATES = {PURPOSE: (GRANTED, WITHDRAWN), SUBSCRIPTION: (SUBSCRIBED, UNSUBSCRIBED)}
SUBSCRIPTION_PURPOSE = REQUIRED_PURPOSE
"""The purpose a channel subscription is for: unsubscribed, no marketing on that channel."""

CHANGE_EVENT = "Consent Changed"
"""c360's own event for a change recorded over the API, the CLI or an import."""
PREFERENCE_EVENT = "Segment Consent Preference Updated"

_GIVEN = frozenset(
    {"subscribed", "active", "opted_in", "opt_in", "yes", "true", "confirmed", "granted"}
)
_MAX_TEXT = 20_000


@dataclass(frozen=True, slots=True)
class Statement:
    """One ledger entry: what was said, when, and its proof."""

    kind: str
    purpose: str
    channel: str
    state: str
    at_us: int
    source: str
    method: str
    notice_version: str | None = None
    notice_text: str | None = None
    notice_sha256: str | None = None
    evidence: str | None = None
    expires_at_us: int | None = None
    time_zone: str | None = None
    seq: int | None = None
    """The log entry it came from (an event), else None."""
    record_id: str | None = None
    """The source record it came from (with ``source``), else None."""
    position: int = 0

    @property
    def given(self) -> bool:
        return self.state in (GRANTED, SUBSCRIBED)

    def given_at(self, now_us: int) -> bool:
        """Given, and not expired at ``now_us``."""
        return self.given and (self.expires_at_us is None or self.expires_at_us > now_us)

    def proof(self) -> dict[str, Any]:
        """What the entry says, without where it is stored: equal entries have equal proofs
        (the round trip through ``export`` and ``import`` keeps these)."""
        return {
            "kind": self.kind,
            "purpose": self.purpose,
            "channel": self.channel,
            "state": self.state,
            "at_us": self.at_us,
            "source": self.source,
            "method": self.method,
            "notice_version": self.notice_version,
            "notice_text": self.notice_text,
            "notice_sha256": self.notice_sha256,
            "evidence": self.evidence,
            "expires_at_us": self.expires_at_us,
            "time_zone": self.time_zone,
        }

    def entry_key(self) -> str:
        origin = {"seq": self.seq, "record_id": self.record_id, "position": self.position}
        body = orjson.dumps({**self.proof(), **origin}, option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(body).hexdigest()


def notice_hash(text: str | None) -> str | None:
    """SHA-256 (hex) of the notice text as shown (UTF-8), the proof that it was this text."""
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- extraction: the log and the records -> statements ------------------------------------


def extract(events: Iterable[Any], records: Iterable[Any]) -> list[Statement]:
    """Every statement in a profile's events and records, oldest first (see the module
    docstring); a tracked preference repeated unchanged on later messages is kept once.

    ``events`` have ``seq``, ``type``, ``name``, ``properties``, ``context``, ``at_us`` and
    ``source`` (:class:`c360.profiles.traits.EventFact`); ``records`` have ``source``,
    ``record_id``, ``kind``, ``fields`` and ``updated_at_us``."""
    found: list[Statement] = []
    for event in events:
        found.extend(_of_event(event))
    for record in records:
        if record.kind == "subscription":
            found.extend(_of_record(record))
    return _collapse(sorted(found, key=_order))


def _order(s: Statement) -> tuple[int, int, int]:
    return (s.at_us, s.seq or 0, s.position)


def _of_event(event: Any) -> list[Statement]:
    context = event.context if isinstance(event.context, Mapping) else {}
    props = event.properties if isinstance(event.properties, Mapping) else {}
    zone = _zone_name(context.get("timezone"))
    out: list[Statement] = []
    source = getattr(event, "source", "")
    base = {"at_us": event.at_us, "source": source, "seq": event.seq, "time_zone": zone}
    explicit = event.type == "track" and event.name == PREFERENCE_EVENT
    consent = context.get("consent")
    prefs: dict[str, Any] = {}
    if isinstance(consent, Mapping) and isinstance(consent.get("categoryPreferences"), Mapping):
        prefs.update(consent["categoryPreferences"])
    if explicit and isinstance(props.get("categoryPreferences"), Mapping):
        prefs.update(props["categoryPreferences"])
    proof = _proof_fields(props, default_method="form") if explicit else {"method": "tracking"}
    for purpose, given in prefs.items():
        if isinstance(given, bool) and _word(purpose):
            out.append(
                Statement(
                    PURPOSE,
                    purpose,
                    ANY_CHANNEL,
                    GRANTED if given else WITHDRAWN,
                    position=len(out),
                    **base,
                    **proof,
                )
            )
    if event.type != "track" or not isinstance(event.name, str):
        return out
    if event.name.endswith(" Unsubscribed"):
        asked, channel = props.get("consent_purpose"), props.get("consent_channel")
        if (
            isinstance(asked, str)
            and isinstance(channel, str)
            and _word(asked)
            and _word(channel, 10)
        ):
            evidence = props.get("message_id")
            common = {
                "method": "unsubscribe_link",
                "evidence": f"message {evidence}" if evidence is not None else None,
                "position": len(out),
                **base,
            }
            if asked == SUBSCRIPTION_PURPOSE:
                out.append(Statement(SUBSCRIPTION, asked, channel, UNSUBSCRIBED, **common))
            else:
                out.append(Statement(PURPOSE, asked, channel, WITHDRAWN, **common))
    elif event.name == CHANGE_EVENT and isinstance(props.get("statements"), list):
        for item in props["statements"]:
            if isinstance(item, Mapping):
                statement = _of_change(item, event, zone, len(out))
                if statement is not None:
                    out.append(statement)
    return out


def _of_change(
    item: Mapping[str, Any], event: Any, zone: str | None, position: int
) -> Statement | None:
    """A statement from a "Consent Changed" event (validated when it was written; anything
    else found in the log is skipped rather than trusted)."""
    try:
        found = statement_from(
            dict(item), default_source=getattr(event, "source", ""), default_at_us=event.at_us
        )
    except InvalidInput:
        return None
    return replace(found, seq=event.seq, position=position, time_zone=found.time_zone or zone)


def _of_record(record: Any) -> list[Statement]:
    fields = record.fields
    at_record = _instant(fields.get("created_at")) or record.updated_at_us
    subscribed_at = _instant(fields.get("subscribed_at"))
    unsubscribed_at = _instant(fields.get("unsubscribed_at"))
    status = fields.get("status")
    given = isinstance(status, str) and status.strip().lower() in _GIVEN and not unsubscribed_at
    purpose = fields["purpose"].strip().lower() if isinstance(fields.get("purpose"), str) else None
    channel = fields["channel"].strip().lower() if isinstance(fields.get("channel"), str) else None
    base = {
        "source": record.source,
        "record_id": record.record_id,
        "expires_at_us": _instant(fields.get("expires_at")),
        **_proof_fields(fields, default_method="import"),
    }
    out: list[Statement] = []
    if _word(purpose) and (purpose != SUBSCRIPTION_PURPOSE or channel is None):
        # consent to a purpose (a form's checkbox), purpose-wide unless it names a channel
        word = channel if channel is not None and _word(channel, 10) else ANY_CHANNEL
        at = (subscribed_at if given else unsubscribed_at) or at_record
        state = GRANTED if given else WITHDRAWN
        return [Statement(PURPOSE, str(purpose), word, state, at_us=at, **base)]
    word = channel if channel is not None and _word(channel, 10) else "email"
    if subscribed_at is not None:
        out.append(
            Statement(SUBSCRIPTION, SUBSCRIPTION_PURPOSE, word, SUBSCRIBED, subscribed_at, **base)
        )
    if not given:
        at = unsubscribed_at or at_record
        out.append(
            Statement(
                SUBSCRIPTION,
                SUBSCRIPTION_PURPOSE,
                word,
                UNSUBSCRIBED,
                at,
                position=len(out),
                **base,
            )
        )
    elif subscribed_at is None:
        out.append(
            Statement(SUBSCRIPTION, SUBSCRIPTION_PURPOSE, word, SUBSCRIBED, at_record, **base)
        )
    return out


def _proof_fields(data: Mapping[str, Any], *, default_method: str) -> dict[str, Any]:
    method = data.get("method")
    text = _text(data.get("notice_text"))
    return {
        "method": method if isinstance(method, str) and method in METHODS else default_method,
        "notice_version": _text(data.get("notice_version"), 100),
        "notice_text": text,
        "notice_sha256": notice_hash(text),
        "evidence": _text(data.get("evidence")),
    }


def _collapse(ordered: list[Statement]) -> list[Statement]:
    """Drop tracked preferences that repeat the state already in force for their key."""
    last: dict[tuple[str, str, str], str] = {}
    kept: list[Statement] = []
    for s in ordered:
        key = (s.kind, s.purpose, s.channel)
        if s.method == "tracking" and last.get(key) == s.state:
            continue
        last[key] = s.state
        kept.append(s)
    return kept


# --- current state ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Current:
    """What a person consents to at one moment."""

    consent: dict[str, dict[str, bool]]
    """Per purpose: ``{"*": bool, channel: bool}`` (the view's ``"c"``)."""
    subscriptions: dict[str, str]
    """Per channel: subscribed or unsubscribed (absent: never asked; the view's ``"s"``)."""
    next_expiry_us: int | None
    """When a grant in force expires next (the profile is refreshed then)."""


def fold(statements: Iterable[Statement], now_us: int) -> Current:
    """The state at ``now_us`` (statements later than it count too: times come from the
    devices that made them)."""
    consent: dict[str, dict[str, bool]] = {}
    subs: dict[str, str] = {}
    expiries: list[int] = []
    for s in sorted(statements, key=_order):
        given = s.given_at(now_us)
        if s.given and s.expires_at_us is not None and s.expires_at_us > now_us:
            expiries.append(s.expires_at_us)
        if s.kind == SUBSCRIPTION:
            subs[s.channel] = SUBSCRIBED if given else UNSUBSCRIBED
            consent.setdefault(SUBSCRIPTION_PURPOSE, {})[s.channel] = given
        else:
            consent.setdefault(s.purpose, {})[s.channel] = given
    for channel, state in subs.items():
        if state == UNSUBSCRIBED:  # unsubscribed blocks marketing there, whatever else says
            consent.setdefault(SUBSCRIPTION_PURPOSE, {})[channel] = False
    return Current(consent, subs, min(expiries) if expiries else None)


def consented(consent: Mapping[str, Any], purpose: str, channel: str | None) -> bool:
    """The newest statement for the channel decides, else the purpose-wide one; nothing said
    is no consent. ``consent`` is the view's ``"c"``."""
    given = consent.get(purpose)
    if not isinstance(given, Mapping):
        return False
    if channel is not None and isinstance(given.get(channel), bool):
        return bool(given[channel])
    return given.get(ANY_CHANNEL) is True


def permits(view: Any, purpose: str | None, channel: str | None = None) -> bool:
    """Whether a profile's view document allows using the person for ``purpose`` (None: no
    consent needed) on ``channel`` (None: purpose-wide)."""
    if purpose is None:
        return True
    consent = view.get("c") if isinstance(view, Mapping) else None
    return consented(consent if isinstance(consent, Mapping) else {}, purpose, channel)


# --- statements from people (API, CLI, proof import) ---------------------------------------


def statement_from(data: dict[str, Any], *, default_source: str, default_at_us: int) -> Statement:
    """A statement from a change as given (API body, CLI options, an exported proof entry),
    checked; raises InvalidInput naming the field."""
    kind = data.get("kind") or PURPOSE
    if kind not in STATES:
        raise InvalidInput(f"kind {kind!r}: use purpose or subscription")
    purpose = data.get("purpose") or (SUBSCRIPTION_PURPOSE if kind == SUBSCRIPTION else None)
    if not _word(purpose):
        raise InvalidInput("purpose: give a name such as marketing or analytics")
    if kind == SUBSCRIPTION and purpose != SUBSCRIPTION_PURPOSE:
        raise InvalidInput(f"a subscription is for {SUBSCRIPTION_PURPOSE}, not {purpose!r}")
    channel = data.get("channel") or ANY_CHANNEL
    if not _word(channel, 10):
        raise InvalidInput(f"channel {channel!r}: use one of {', '.join(CHANNELS)} or *")
    if kind == SUBSCRIPTION and channel == ANY_CHANNEL:
        raise InvalidInput("a subscription names its channel (email, sms, line, ...)")
    state = data.get("state")
    if state not in STATES[kind]:
        raise InvalidInput(f"state {state!r}: a {kind} is {' or '.join(STATES[kind])}")
    method = data.get("method") or "api"
    if method not in METHODS:
        raise InvalidInput(f"method {method!r}: use one of {', '.join(METHODS)}")
    text = data.get("notice_text")
    if text is not None and (not isinstance(text, str) or len(text) > _MAX_TEXT):
        raise InvalidInput(f"notice_text: text of at most {_MAX_TEXT} characters")
    given_hash = data.get("notice_sha256")
    if given_hash is not None and given_hash != notice_hash(text):
        raise InvalidInput("notice_sha256 does not match notice_text: the text was changed")
    zone = data.get("time_zone")
    if zone is not None and _zone_name(zone) is None:
        raise InvalidInput(f"time_zone {zone!r}: not an IANA time zone such as Asia/Bangkok")
    source = data.get("source") or default_source
    if not isinstance(source, str) or len(source) > 100:
        raise InvalidInput("source: a name of at most 100 characters")
    return Statement(
        kind,
        str(purpose),
        str(channel),
        str(state),
        at_us=_time(data, "at", default_at_us),
        source=source,
        method=str(method),
        notice_version=_checked_text(data, "notice_version", 100),
        notice_text=text,
        notice_sha256=notice_hash(text),
        evidence=_checked_text(data, "evidence", 1000),
        expires_at_us=_time(data, "expires_at", None),
        time_zone=zone,
    )


def change_properties(statements: Sequence[Statement]) -> dict[str, Any]:
    """The properties of a "Consent Changed" event carrying ``statements``."""
    return {"statements": [_as_change(s) for s in statements]}


def _as_change(s: Statement) -> dict[str, Any]:
    out = {k: v for k, v in s.proof().items() if k not in ("at_us", "expires_at_us")}
    out["at"] = isoformat_us(s.at_us)
    out["at_us"] = s.at_us
    if s.expires_at_us is not None:
        out["expires_at_us"] = s.expires_at_us
    return {k: v for k, v in out.items() if v is not None}


# --- the ledger table --------------------------------------------------------------------------


def write_ledger(conn: Connection, by_profile: Mapping[str, Sequence[Statement]]) -> None:
    """Make the ledger rows of these profiles what their statements say (only changed rows
    are written). A profile merged away passes no statements: its rows go."""
    if not by_profile:
        return
    ids = sorted(by_profile)
    have: dict[tuple[str, str], int] = {
        (row.profile_id, row.entry_key): row.id
        for row in conn.execute(
            select(
                consent_ledger.c.id, consent_ledger.c.profile_id, consent_ledger.c.entry_key
            ).where(key_in(conn, consent_ledger.c.profile_id, ids))
        )
    }
    wanted: dict[tuple[str, str], Statement] = {}
    for pid, statements in by_profile.items():
        for s in statements:
            wanted[(pid, s.entry_key())] = s
    gone = [i for key, i in have.items() if key not in wanted]
    if gone:
        conn.execute(delete(consent_ledger).where(key_in(conn, consent_ledger.c.id, gone)))
    new = [
        {"profile_id": pid, "entry_key": key, **_row(s)}
        for (pid, key), s in wanted.items()
        if (pid, key) not in have
    ]
    if new:
        conn.execute(insert(consent_ledger), new)


def _row(s: Statement) -> dict[str, Any]:
    return {**s.proof(), "seq": s.seq, "record_id": s.record_id, "position": s.position}


def ledger(conn: Connection, profile_id: str) -> list[Statement]:
    """The profile's ledger, oldest first."""
    rows = conn.execute(
        select(consent_ledger)
        .where(consent_ledger.c.profile_id == profile_id)
        .order_by(consent_ledger.c.at_us, consent_ledger.c.seq, consent_ledger.c.position)
    )
    return [
        Statement(
            r.kind,
            r.purpose,
            r.channel,
            r.state,
            r.at_us,
            r.source,
            r.method,
            r.notice_version,
            r.notice_text,
            r.notice_sha256,
            r.evidence,
            r.expires_at_us,
            r.time_zone,
            r.seq,
            r.record_id,
            r.position,
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class Unconfigured:
    """A purpose that ledger entries name but the configuration does not list."""

    purpose: str
    entries: int
    profiles: int
    sources: dict[str, int]
    """Entries per source (where each statement was given)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "entries": self.entries,
            "profiles": self.profiles,
            "sources": dict(self.sources),
        }


def unconfigured(conn: Connection) -> list[Unconfigured]:
    """The purposes stated in the ledger that are not configured (arrived from outside, or
    configured once and removed since), most entries first. Their statements are kept and
    count as soon as the purpose is configured; this is where they are seen meanwhile."""
    names = [p.name for p in configured_purposes()]
    named = (consent_ledger.c.kind == PURPOSE, consent_ledger.c.purpose.not_in(names))
    sources: dict[str, dict[str, int]] = {}
    for purpose, source, count in conn.execute(
        select(consent_ledger.c.purpose, consent_ledger.c.source, func.count())
        .where(*named)
        .group_by(consent_ledger.c.purpose, consent_ledger.c.source)
        .order_by(consent_ledger.c.purpose, consent_ledger.c.source)
    ):
        sources.setdefault(purpose, {})[source] = int(count)
    found = [
        Unconfigured(purpose, int(entries), int(people), sources.get(purpose, {}))
        for purpose, entries, people in conn.execute(
            select(
                consent_ledger.c.purpose,
                func.count(),
                func.count(func.distinct(consent_ledger.c.profile_id)),
            )
            .where(*named)
            .group_by(consent_ledger.c.purpose)
        )
    ]
    return sorted(found, key=lambda u: (-u.entries, u.purpose))


def state_of(statements: Sequence[Statement], now_us: int) -> dict[str, Any]:
    """The current state as the API shows it: every configured purpose (in the
    configuration's order, with its labels), then any other a statement named (``configured``
    false), purpose-wide and per channel; and every channel's subscription."""
    current = fold(statements, now_us)
    labels = {p.name: dict(p.labels) for p in configured_purposes()}
    purposes: dict[str, Any] = {}
    for purpose in dict.fromkeys([*labels, *sorted(current.consent)]):
        given = current.consent.get(purpose, {})
        purposes[purpose] = {
            "configured": purpose in labels,
            "labels": labels.get(purpose, {}),
            "granted": consented(current.consent, purpose, None),
            "stated": ANY_CHANNEL in given,
            "channels": {
                c: consented(current.consent, purpose, c)
                for c in dict.fromkeys([*CHANNELS, *(k for k in given if k != ANY_CHANNEL)])
            },
        }
    return {
        "purposes": purposes,
        "subscriptions": {c: current.subscriptions.get(c, NEVER_ASKED) for c in CHANNELS},
        "next_expiry_at": isoformat_us(current.next_expiry_us)
        if current.next_expiry_us is not None
        else None,
    }


def proof_entry(s: Statement, zone: ZoneInfo) -> dict[str, Any]:
    """One exported ledger entry: the proof, its times in UTC and in the person's zone, and
    whether its purpose is a configured one."""
    own = _zone(s.time_zone) or zone
    out: dict[str, Any] = s.proof()
    out["configured"] = is_configured(s.purpose)
    out["at"] = isoformat_us(s.at_us)
    out["at_local"] = from_us(s.at_us).astimezone(own).isoformat()
    if s.expires_at_us is not None:
        out["expires_at"] = isoformat_us(s.expires_at_us)
        out["expires_at_local"] = from_us(s.expires_at_us).astimezone(own).isoformat()
    out["origin"] = (
        {"seq": s.seq} if s.seq is not None else {"source": s.source, "record_id": s.record_id}
    )
    return out


def parse_proof(document: Any) -> tuple[str | None, list[Statement]]:
    """(profile id, statements) of an exported proof document (``export``'s JSON); raises
    InvalidInput naming the entry at fault."""
    if not isinstance(document, Mapping) or not isinstance(document.get("entries"), list):
        raise InvalidInput("a consent proof is a JSON object with an 'entries' list")
    profile_id = document.get("profile_id")
    out: list[Statement] = []
    for n, entry in enumerate(document["entries"], start=1):
        if not isinstance(entry, Mapping):
            raise InvalidInput(f"entries[{n}]: an object")
        data = {k: v for k, v in entry.items() if k not in ("origin", "at_local")}
        try:
            out.append(statement_from(data, default_source="import", default_at_us=0))
        except InvalidInput as exc:
            raise InvalidInput(f"entries[{n}]: {exc}") from None
    return profile_id if isinstance(profile_id, str) else None, out


def import_message_id(profile_id: str, s: Statement) -> str:
    """The same entry imported again is the same log message (stored once)."""
    body = orjson.dumps({"p": profile_id, **s.proof()}, option=orjson.OPT_SORT_KEYS)
    return f"consent-import-{hashlib.sha256(body).hexdigest()[:32]}"


# --- acting on a change now --------------------------------------------------------------------


def cancel_unconsented(
    conn: Connection, profile_ids: Collection[str], consent: Mapping[str, Any], now_us: int
) -> int:
    """Cancel the queued messages of ``profile_ids`` that ``consent`` (a view's ``"c"``) no
    longer allows; returns how many. Done when a withdrawal is recorded, so that nothing
    queued goes out while the log processor catches up."""
    rows = conn.execute(
        select(messages.c.id, messages.c.consent, messages.c.channel).where(
            key_in(conn, messages.c.profile_id, sorted(profile_ids)),
            messages.c.status == "queued",
            messages.c.consent.is_not(None),
        )
    ).all()
    ids = [r.id for r in rows if not consented(consent, r.consent, r.channel)]
    if ids:
        conn.execute(
            update(messages)
            .where(key_in(conn, messages.c.id, ids), messages.c.status == "queued")
            .values(
                status="cancelled",
                reason="consent withdrawn",
                next_attempt_us=None,
                updated_at_us=now_us,
            )
        )
    return len(ids)


def merged_ids(conn: Connection, profile_id: str) -> list[str]:
    """``profile_id`` and every profile merged into it (directly or through another)."""
    found = [profile_id]
    frontier = [profile_id]
    for _ in range(100):
        if not frontier:
            break
        frontier = list(
            conn.execute(
                select(profiles.c.id).where(key_in(conn, profiles.c.merged_into, frontier))
            ).scalars()
        )
        found.extend(frontier)
    return found


def zone_of(name: Any) -> ZoneInfo | None:
    """The IANA zone of that name, else None."""
    return _zone(name)


# --- small helpers -------------------------------------------------------------------------------


def _word(value: Any, limit: int = 50) -> bool:
    """A purpose or channel name as a statement may carry it (sources name purposes their
    own way: "Advertising", "analytics"); the API asks for lowercase names."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= limit
        and value == value.strip()
        and value.isprintable()
    )


def _text(value: Any, limit: int = _MAX_TEXT) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _checked_text(data: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput(f"{name}: text of at most {limit} characters")
    return value


def _time(data: Mapping[str, Any], name: str, default: int | None) -> Any:
    """``name_us`` (epoch microseconds) or ``name`` (ISO 8601) from ``data``."""
    raw_us = data.get(f"{name}_us")
    if isinstance(raw_us, int) and not isinstance(raw_us, bool):
        return raw_us
    raw = data.get(name)
    if raw is None:
        return default
    try:
        return parse_timestamp(raw)
    except (ValueError, TypeError):
        raise InvalidInput(
            f"{name} {raw!r}: an ISO 8601 time such as 2026-12-07T09:00:00Z"
        ) from None


def _instant(value: Any) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_timestamp(value if "T" in value else f"{value}T00:00:00Z")
    except ValueError:
        return None


def _zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name or len(name) > 50:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _zone_name(name: Any) -> str | None:
    return name if _zone(name) is not None else None
