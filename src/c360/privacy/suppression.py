"""The erasure tombstone: keyed hashes of an erased person's identifiers, and the screen that
keeps ingest from creating them again.

What is kept of an erased person is one row per identifier in ``privacy_suppressions``:
its type and ``HMAC-SHA256(key, normal form)``. The key is ``C360_PRIVACY_KEY`` when the
operator sets one (entry points pass it to :func:`configure_key`), else a random key the store
makes for itself and keeps in ``link_secrets`` (name ``privacy``). With the key outside the
database, a copy of the database alone cannot be used to test guesses (a phone number space is
small enough to enumerate against a plain hash); with the store's own key it can, by whoever
holds the copy. ``docs/privacy-requests.md`` says what the tombstone proves and what it cannot.

Normal forms are the ones c360's standardizers give (E.164 phones, lower-cased e-mail
addresses, NFC text), computed here with the same libraries: ingest sits below
``c360.standardize`` in the layers and must still be able to screen what arrives.

Screening: the tracking API's writer (:func:`screen_events`) and the record path
(:func:`record_screen`, used by imports, webhooks and quarantine retries) hash the identifiers
an item names and look them up in a set cached per process and store. An item that names a
suppressed identifier is accepted and counted in ``privacy_suppressed_arrivals`` (which
suppression, which source, when; never its content), and not stored. The cache is refreshed
when this process changes the set (:func:`changed`) and otherwise checked at most every
:data:`REFRESH_S` seconds with one small query; while the set is empty nothing is hashed.
"""

import contextlib
import hashlib
import hmac
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import phonenumbers
from sqlalchemy import Connection, func, insert, select, update

from c360.errors import Conflict
from c360.eventlog.model import LogRow, RejectRow
from c360.kernel.clock import system_clock
from c360.storage.dialect import insert_many_ignoring_duplicates
from c360.storage.tables import (
    link_secrets,
    privacy_suppressed_arrivals,
    privacy_suppressions,
)

KEY_NAME = "privacy"
"""The ``link_secrets`` row holding the store's own key, or the fingerprint of the configured
one (so that a process started without it, or with another, is refused instead of hashing
with the wrong key and letting an erased person back in)."""
REFRESH_S = 2.0
"""How stale another process's change to the set may be seen here (the same as key caching)."""

RECORD_TYPE = "record"
"""Suppression type of a source's record id (its value is ``<source id>:<record id>``)."""
ID_FIELDS = ("userId", "anonymousId", "previousId")
"""Fields of a tracked message whose value is an identity whatever its length."""

PHONE_REGIONS = ("TH", "VN")
_PHONE_SHAPE = re.compile(r"\+?[\d\s().\-]{6,24}")
_NOT_DIGITS = re.compile(r"\D")
_EMAIL_WRAPPING = "<>\"'()[] ,;:"
MIN_FREE_CHARS = 4
"""A value found anywhere in an item (not in an identity field) is compared only from this
length: short codes ("123", "THB") are everywhere and are nobody's identifier."""
MAX_VALUE_CHARS = 320

_configured: bytes | None = None
_generation = 0
_lock = threading.Lock()


def configure_key(value: str | None) -> None:
    """Use ``C360_PRIVACY_KEY`` (``None``: the store's own key); entry points call this once."""
    global _configured
    _configured = value.encode("utf-8") if value else None
    changed()


def changed() -> None:
    """The suppression set changed in this process: every cache reloads on its next use."""
    global _generation
    with _lock:
        _generation += 1


# --- normal forms and hashes ---------------------------------------------------------------


def normal_email(value: str) -> str | None:
    """A lower-cased, NFKC address without wrapping (``<An@X.com>`` -> ``an@x.com``)."""
    text = unicodedata.normalize("NFKC", value).strip().strip(_EMAIL_WRAPPING).rstrip(".")
    if text[:7].lower() == "mailto:":
        text = text[7:].split("?", 1)[0]
    text = text.lower()
    local, at, domain = text.partition("@")
    if not at or not local or "." not in domain or " " in text:
        return None
    with contextlib.suppress(UnicodeError):  # a domain IDNA refuses stays as typed
        domain = domain.encode("idna").decode("ascii")
    return f"{local}@{domain}"


def normal_phones(value: str) -> list[str]:
    """Every E.164 reading of a phone number written the Thai or the Vietnamese way (a
    ``0912...`` number is a valid number in both)."""
    found: list[str] = []
    text = unicodedata.normalize("NFKC", value).strip()
    if not _PHONE_SHAPE.fullmatch(text) or not 8 <= len(_NOT_DIGITS.sub("", text)) <= 15:
        return found
    for region in PHONE_REGIONS:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if e164 not in found:
                found.append(e164)
    return found


def normal_text(value: str) -> str:
    """An opaque identifier's form: NFC, trimmed."""
    return unicodedata.normalize("NFC", value).strip()


def normal_form(id_type: str, value: str) -> str:
    """The form an identifier of ``id_type`` is hashed in (identity values are already
    standardized; this makes the hash independent of how they were written)."""
    if id_type == "email":
        return normal_email(value) or normal_text(value).lower()
    if id_type == "phone":
        phones = normal_phones(value)
        return phones[0] if phones else normal_text(value)
    return normal_text(value)


def record_value(source_id: int, record_id: str) -> str:
    return f"{source_id}:{normal_text(record_id)}"


def value_hash(key: bytes, form: str) -> str:
    return hmac.new(key, form.encode("utf-8"), hashlib.sha256).hexdigest()


def candidate_forms(value: str, *, identity: bool = False) -> Iterator[str]:
    """The forms a value an item holds could be a suppressed identifier in: as an address,
    as a phone number (also its bare digits, for national ids written with dashes), as an
    opaque identifier. ``identity``: the value sits in an identity field (any length)."""
    if len(value) > MAX_VALUE_CHARS:
        return
    plain = normal_text(value)
    if identity or len(plain) >= MIN_FREE_CHARS:
        yield plain
    if "@" in plain:
        address = normal_email(plain)
        if address is not None:
            yield address
    elif any(c.isdigit() for c in plain[:4]) or plain[:1] in "+(":
        phones = normal_phones(plain)
        yield from phones
        if phones or _PHONE_SHAPE.fullmatch(plain):
            digits = _NOT_DIGITS.sub("", plain)
            if len(digits) >= 9 and digits != plain:
                yield digits


# --- the key ---------------------------------------------------------------------------------


def _fingerprint(key: bytes) -> str:
    return "configured:" + hashlib.sha256(b"c360 privacy key\n" + key).hexdigest()[:24]


def store_key(conn: Connection) -> bytes:
    """The key suppressions are hashed with in this store (made on first use when no key is
    configured). Refuses a configured key that is not the one the suppressions were made with,
    and a missing one when they were made with a configured key."""
    row = conn.execute(select(link_secrets.c.value).where(link_secrets.c.name == KEY_NAME)).first()
    if _configured is not None:
        mark = _fingerprint(_configured)
        if row is None:
            _put_key(conn, mark)
            return _configured
        if row.value == mark:
            return _configured
        if not row.value.startswith("configured:") and not _any_suppression(conn):
            conn.execute(
                update(link_secrets).where(link_secrets.c.name == KEY_NAME).values(value=mark)
            )
            return _configured
        raise Conflict(
            "C360_PRIVACY_KEY is not the key this store's erasure suppressions were made with "
            "(they were made with "
            + (
                "another configured key"
                if row.value.startswith("configured:")
                else "the store's own key"
            )
            + "); set the original key, or unset C360_PRIVACY_KEY"
        )
    if row is None:
        _put_key(conn, secrets.token_hex(32))
        row = conn.execute(
            select(link_secrets.c.value).where(link_secrets.c.name == KEY_NAME)
        ).first()
        assert row is not None
    if row.value.startswith("configured:"):
        raise Conflict(
            "this store's erasure suppressions were made with C360_PRIVACY_KEY: set it (to the "
            "same key) for every c360 process, or erased people could come back"
        )
    return bytes.fromhex(row.value)


def _put_key(conn: Connection, value: str) -> None:
    insert_many_ignoring_duplicates(
        conn, link_secrets, [{"name": KEY_NAME, "value": value, "created_at_us": system_clock()}]
    )


def _any_suppression(conn: Connection) -> bool:
    return conn.execute(select(privacy_suppressions.c.id).limit(1)).first() is not None


# --- writing the tombstone -------------------------------------------------------------------


def suppress(
    conn: Connection, identifiers: Iterable[tuple[str, str]], *, request_id: int | None
) -> list[int]:
    """Add (or re-activate) a suppression per ``(type, value)``; returns their ids. Call
    :func:`changed` once the transaction has committed."""
    key = store_key(conn)
    now = system_clock()
    wanted: dict[tuple[str, str], None] = {}
    for id_type, value in identifiers:
        form = normal_form(id_type, value)
        if form:
            wanted[(id_type, value_hash(key, form))] = None
    ids: list[int] = []
    for id_type, digest in wanted:
        row = conn.execute(
            select(privacy_suppressions.c.id, privacy_suppressions.c.lifted_at_us).where(
                privacy_suppressions.c.id_type == id_type,
                privacy_suppressions.c.value_hash == digest,
            )
        ).first()
        if row is None:
            ids.append(
                int(
                    conn.execute(
                        insert(privacy_suppressions)
                        .values(
                            id_type=id_type,
                            value_hash=digest,
                            request_id=request_id,
                            created_at_us=now,
                        )
                        .returning(privacy_suppressions.c.id)
                    ).scalar_one()
                )
            )
            continue
        if row.lifted_at_us is not None:
            conn.execute(
                update(privacy_suppressions)
                .where(privacy_suppressions.c.id == row.id)
                .values(lifted_at_us=None, request_id=request_id, created_at_us=now)
            )
        ids.append(int(row.id))
    return ids


def lift(conn: Connection, suppression_ids: Sequence[int]) -> int:
    """Let these identifiers in again (the operator chose to, e.g. the person came back and
    asked to be a customer again); returns how many were active."""
    if not suppression_ids:
        return 0
    return int(
        conn.execute(
            update(privacy_suppressions)
            .where(
                privacy_suppressions.c.id.in_(list(suppression_ids)),
                privacy_suppressions.c.lifted_at_us.is_(None),
            )
            .values(lifted_at_us=system_clock())
        ).rowcount
    )


def find(conn: Connection, id_type: str, value: str) -> int | None:
    """The active suppression of one identifier, if any."""
    state = _active(conn)
    if not state.hashes or state.key is None:
        return None
    return state.hashes.get(value_hash(state.key, normal_form(id_type, value)))


# --- the per-process set ---------------------------------------------------------------------


@dataclass(slots=True)
class _State:
    key: bytes | None = None
    hashes: dict[str, int] = field(default_factory=dict)
    probe: tuple[Any, ...] | None = None
    checked_at: float = -1e18
    generation: int = -1


_states: dict[str, _State] = {}


def _active(conn: Connection) -> _State:
    """The store's active suppressions as this process last saw them (fresh enough)."""
    name = conn.engine.url.render_as_string(hide_password=True)
    state = _states.get(name)
    now = time.monotonic()
    generation = _generation
    if state is not None and state.generation == generation and now - state.checked_at < REFRESH_S:
        return state
    probe = tuple(
        conn.execute(
            select(
                func.count(),
                func.max(privacy_suppressions.c.id),
                func.max(privacy_suppressions.c.lifted_at_us),
                func.max(privacy_suppressions.c.created_at_us),
            )
        ).one()
    )
    if state is None or state.probe != probe or state.generation != generation:
        rows = conn.execute(
            select(privacy_suppressions.c.id, privacy_suppressions.c.value_hash).where(
                privacy_suppressions.c.lifted_at_us.is_(None)
            )
        ).all()
        hashes = {str(r.value_hash): int(r.id) for r in rows}
        state = _State(store_key(conn) if hashes else None, hashes, probe)
        with _lock:
            _states[name] = state
    state.checked_at = now
    state.generation = generation
    return state


def _match(state: _State, forms: Iterable[str]) -> int | None:
    assert state.key is not None
    for form in forms:
        found = state.hashes.get(value_hash(state.key, form))
        if found is not None:
            return found
    return None


def forms_in(item: Any, *, top: bool = True) -> Iterator[str]:
    """Candidate forms of every value in a decoded item (identity fields of a tracked
    message at any length, numbers only there)."""
    if isinstance(item, dict):
        for name, value in item.items():
            if top and name in ID_FIELDS and isinstance(value, str | int) and value != "":
                if isinstance(value, bool):
                    continue
                yield from candidate_forms(str(value), identity=True)
            else:
                yield from forms_in(value, top=False)
    elif isinstance(item, list):
        for value in item:
            yield from forms_in(value, top=False)
    elif isinstance(item, str):
        yield from candidate_forms(item)
    elif isinstance(item, int) and not isinstance(item, bool) and abs(item) >= 10_000_000:
        yield from candidate_forms(str(item))  # a phone or an id a spreadsheet made a number


def _arrival(suppression_id: int, source_id: int, kind: str, at_us: int) -> dict[str, Any]:
    return {"suppression_id": suppression_id, "source_id": source_id, "kind": kind, "at_us": at_us}


def count_arrivals(conn: Connection, arrivals: Sequence[Mapping[str, Any]]) -> None:
    if arrivals:
        conn.execute(insert(privacy_suppressed_arrivals), list(arrivals))


def screen_events(
    conn: Connection, rows: Sequence[LogRow], rejects: Sequence[RejectRow]
) -> tuple[Sequence[LogRow], Sequence[RejectRow]]:
    """The tracking API's rows and quarantined items without those naming an erased person
    (counted as arrivals in the same transaction). Returns its input unchanged, without
    reading a byte of it, while nothing is suppressed."""
    state = _active(conn)
    if not state.hashes:
        return rows, rejects
    arrivals: list[dict[str, Any]] = []
    kept_rows: list[LogRow] = []
    for row in rows:
        try:
            decoded = orjson.loads(row["payload"])
        except orjson.JSONDecodeError:
            decoded = None
        found = _match(state, forms_in(decoded))
        if found is None:
            kept_rows.append(row)
        else:
            arrivals.append(_arrival(found, row["source_id"], "event", row["received_at_us"]))
    kept_rejects: list[RejectRow] = []
    for reject in rejects:
        try:
            decoded = orjson.loads(reject["payload"])
        except orjson.JSONDecodeError:
            decoded = None  # unreadable: nothing to compare, quarantined as it is
        found = _match(state, forms_in(decoded)) if decoded is not None else None
        if found is None:
            kept_rejects.append(reject)
        else:
            arrivals.append(_arrival(found, reject["source_id"], "event", reject["received_at_us"]))
    count_arrivals(conn, arrivals)
    return kept_rows, kept_rejects


class RecordScreen:
    """Screens the rows of one batch of a source's records (see :func:`record_screen`)."""

    def __init__(self, conn: Connection, state: _State, source_id: int) -> None:
        self._conn = conn
        self._state = state
        self._source_id = source_id
        self._arrivals: list[dict[str, Any]] = []
        self._now = system_clock()

    def blocks(self, record_id: str | None, values: Mapping[str, Any]) -> bool:
        """Whether the row names an erased person (then counted, to be left out)."""
        forms: Iterator[str] = forms_in(dict(values), top=False)
        if record_id is not None:
            forms = _chain([record_value(self._source_id, record_id)], forms)
        found = _match(self._state, forms)
        if found is None:
            return False
        self._arrivals.append(_arrival(found, self._source_id, "record", self._now))
        return True

    def flush(self) -> int:
        """Count the rows left out; returns how many."""
        count = len(self._arrivals)
        count_arrivals(self._conn, self._arrivals)
        self._arrivals = []
        return count


def _chain(first: Iterable[str], rest: Iterator[str]) -> Iterator[str]:
    yield from first
    yield from rest


def record_screen(conn: Connection, source_id: int) -> RecordScreen | None:
    """A screen for a batch of ``source_id``'s rows, or None while nothing is suppressed."""
    state = _active(conn)
    if not state.hashes:
        return None
    return RecordScreen(conn, state, source_id)
