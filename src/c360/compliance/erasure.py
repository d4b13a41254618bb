"""Erasure: remove a person from every table, keep only the suppression tombstone, and prove
by searching the whole database that nothing of them is left.

A person is a live profile and every profile merged into it (``profiles.merged_into``, followed
to the end). How each table's rows of the person are found:

=============================  =================================================================
event_log                      the entries filed under their profiles (``profile_events.seq``),
                               every logged version of their records (``rec:<n>:<record id>``
                               of the record's source), then any other entry naming one of
                               their identifiers (found by text, confirmed value by value;
                               a short user or anonymous id as its whole JSON string)
rejects                        items with the message id of an erased entry or naming them
                               (found by text, confirmed value by value); processing
                               failures of an erased entry (``origin`` "log entry <seq>")
source_records,                their record nodes' ``(source, record id)``
record_identifiers
identity_nodes                 ``profile_id`` in their profiles; other people's nodes lose
                               their links to the person's identifiers (the entries that made
                               them are erased) and are re-resolved, as a rebuild would
identity_keys                  ``node_id`` of their nodes, and those links
identity_pairs, _reviews       either side one of their nodes
identity_decision_nodes        their nodes' ``(source, type, key)``; a decision left without
identity_decisions             nodes goes too
profiles, profile_terms,       ``profile_id`` (``survivor_id``/``merged_id`` for merges)
profile_events, profile_merges
profile_changes                ``profile_id``; other profiles' entries naming them (found
                               by text, confirmed value by value); ``subscription_dead_letters``
                               by their change ids
segment_members                ``profile_id``
journey_entries, journey_steps ``profile_id``; steps by their entry ids
messages                       ``profile_id`` (queued ones are cancelled first: counted)
suppressions                   addresses that are their e-mail, phone or messaging ids
feedback_items, _history       ``profile_id``, or the origin of an erased entry or record
sync_queue, sync_state,        ``profile_id``; first each destination that held them (its
sync_dead_letters,             ``sync_state`` rows and their records of its source) is sent a
sync_conflicts                 deletion, and reported with its final status
recommend_purchases, _counted  ``profile_id`` (co-purchase and popularity counts are
                               aggregates of many people and stay)
consent_ledger                 ``profile_id``
privacy_restrictions           ``profile_id``
any other table                with a ``profile_id`` column: by it
privacy_requests               their requests stay (the proof that they asked and were
                               answered) with subject and detail cleared
audit_log                      stays: append-only, and it holds no personal data by contract
=============================  =================================================================

The event log is append-only everywhere else; erasure is its one sanctioned exception. Once
the entries are gone ``c360 rebuild`` cannot bring the person back, and the tombstone keeps
a later event or import from doing so (``c360.privacy.suppression``).

Identifiers another remaining profile also holds (a family's shared phone) are that person's
too: they are kept, not suppressed and not searched for, and the report counts them by type.
Held is decided by value, as the tombstone matches values: a device of someone else that the
person's alias named (linked as a user id and as an anonymous id) is theirs, and is kept.

The whole erasure is one transaction that holds the log processor's checkpoint lock (and, on
PostgreSQL, the log's append lock), so no entry about the person is applied or appended while
it runs.
"""

import hashlib
import json
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import phonenumbers
from sqlalchemy import (
    Connection,
    LargeBinary,
    String,
    Text,
    and_,
    case,
    cast,
    delete,
    func,
    inspect,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table

from c360.activation.sync import Destination, SyncFailed, SyncTarget
from c360.activation.sync.service import readable_destinations
from c360.changes.feed import ChangeKind, NewChange, record_changes
from c360.connectors.destinations import target_for
from c360.errors import C360Error
from c360.eventlog.service import PROFILES_CHECKPOINT, get_checkpoint
from c360.identity.features import NODE_RECORD
from c360.identity.service import forget_links
from c360.ingest.records import RECORD_TYPE
from c360.kernel.clock import system_clock
from c360.privacy import suppression
from c360.profiles.service import follow_resolution, identifier_lookup_keys
from c360.standardize import email as standard_email
from c360.standardize.cells import fold
from c360.storage.dialect import LOG_LOCK_KEY, key_in
from c360.storage.sealing import prefilter, sealed_columns, sealing_on
from c360.storage.tables import (
    Json,
    event_log,
    feedback_history,
    feedback_items,
    identity_decision_nodes,
    identity_decisions,
    identity_keys,
    identity_nodes,
    identity_pairs,
    identity_reviews,
    journey_entries,
    journey_steps,
    messages,
    metadata,
    privacy_requests,
    privacy_restrictions,
    privacy_suppressions,
    profile_changes,
    profile_events,
    profile_merges,
    profile_terms,
    profiles,
    recommend_counted,
    recommend_purchases,
    record_identifiers,
    rejects,
    segment_members,
    source_records,
    subscription_dead_letters,
    suppressions,
    sync_conflicts,
    sync_dead_letters,
    sync_destinations,
    sync_queue,
    sync_state,
)

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""Called before each step with (step name, step number from 1, steps in all)."""

STEPS = (
    "find the person",
    "journeys and messages",
    "feedback",
    "destinations",
    "source records",
    "identity graph",
    "profiles, segments, change feed",
    "other tables",
    "privacy requests",
    "event log",
    "quarantine",
    "suppression tombstone",
    "verification",
)

_CHUNK = 5000
TRACKED_IDENTITY_TYPES = ("user_id", "anonymous_id")
"""Identifier types a tracked message holds whole in ``userId``, ``anonymousId`` or
``previousId``, where suppression screens them at any length. An alias's ``previousId`` is
linked as both: c360 cannot tell which it was."""
_NAME_FIELDS = ("full_name", "first_name", "last_name", "name", "nickname")
_MIN_NAME_CHARS = 5
_QUEUED = ("queued", "sending", "scheduled", "waiting")
_HANDLED = frozenset(
    {
        "profiles",
        "profile_terms",
        "profile_events",
        "profile_changes",
        "profile_merges",
        "segment_members",
        "journey_entries",
        "messages",
        "feedback_items",
        "sync_queue",
        "sync_state",
        "sync_dead_letters",
        "sync_conflicts",
        "recommend_purchases",
        "recommend_counted",
        "identity_nodes",
        "privacy_restrictions",
        "privacy_requests",
        "audit_log",
    }
)
"""Tables with a ``profile_id`` column that a step of their own erases (or keeps)."""
KEPT_TABLES = frozenset({"audit_log"})
"""Searched, never changed (append-only by the database's own triggers)."""


@dataclass(slots=True)
class Person:
    """What erasure needs to know of one person, gathered before anything is removed."""

    live: str | None
    profile_ids: list[str] = field(default_factory=list)
    node_ids: list[int] = field(default_factory=list)
    node_refs: list[tuple[int, str, str]] = field(default_factory=list)  # source, type, key
    records: list[tuple[int, str]] = field(default_factory=list)  # source id, record id
    identifiers: set[tuple[str, str]] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    spellings: set[str] = field(default_factory=set)  # identifiers as sources wrote them
    shared: set[tuple[str, str]] = field(default_factory=set)

    def forms(self) -> set[str]:
        """The normal forms of the identifiers that are theirs alone."""
        return {
            suppression.normal_form(t, v)
            for t, v in self.identifiers - self.shared
            if t != RECORD_TYPE
        }


@dataclass(slots=True)
class Needle:
    """One form of one identifier to search for; ``kind`` names it without the value (the
    report must not repeat what was erased)."""

    kind: str
    text: str


@dataclass(slots=True)
class ErasureReport:
    profile_ids: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    cancelled_messages: int = 0
    destinations: list[dict[str, Any]] = field(default_factory=list)
    announced: int = 0
    """``profile_erased`` changes put on the feed (one per erased profile id)."""
    suppressed: dict[str, int] = field(default_factory=dict)
    shared_kept: dict[str, int] = field(default_factory=dict)
    searched: dict[str, int] = field(default_factory=dict)
    hits: list[dict[str, Any]] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def verified(self) -> bool:
        return not self.hits

    def count(self, table: str, removed: int) -> None:
        if removed:
            name = str(table)  # a Table's name is a str subclass, which JSON columns refuse
            self.removed[name] = self.removed.get(name, 0) + removed

    def as_json(self) -> dict[str, Any]:
        return {
            "profiles": self.profile_ids,
            "removed": dict(sorted(self.removed.items())),
            "removed_total": sum(self.removed.values()),
            "cancelled_messages": self.cancelled_messages,
            "destinations": self.destinations,
            "profile_erased_changes": self.announced,
            "suppressed": self.suppressed,
            "shared_identifiers_kept": self.shared_kept,
            "verification": {
                "verified": self.verified,
                "searched": self.searched,
                "hits": self.hits,
            },
            "elapsed_s": round(self.elapsed_s, 3),
        }


def erase(
    conn: Connection,
    profile_ids: Sequence[str],
    *,
    request_id: int | None,
    also: Sequence[tuple[str, str]] = (),
    progress: Progress | None = None,
    deletions: "DeletionAccess | None" = None,
) -> ErasureReport:
    """Erase the person who is ``profile_ids`` (any id merged into them will do; empty:
    nobody has a profile, erase what names ``also``) and search every table for what is left.

    Sync destinations that held the person are sent deletions with ``deletions`` (default:
    what the entry point configured, ``configure_deletions``).

    ``also``: identifiers the request gave (``("email", "x@y.com")``): every profile holding
    one is erased too, and they are suppressed and searched for whether or not a profile
    holds them. Runs in the caller's transaction; the caller calls ``suppression.changed()``
    after the commit.
    """
    started = system_clock()
    report = ErasureReport()

    def step(n: int) -> None:
        if progress is not None:
            progress(STEPS[n], n + 1, len(STEPS))

    step(0)
    seq = get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)  # the processor waits for us
    person = find_person(conn, [*profile_ids, *profiles_holding(conn, also)], also)
    report.profile_ids = len(person.profile_ids)
    for id_type, _ in person.shared:
        report.shared_kept[id_type] = report.shared_kept.get(id_type, 0) + 1
    needles = needles_for(person)
    # what finds their log entries and quarantined items; ``search`` (the proof) looks for
    # ``needles`` only, as a whole short identity would match other people's values there
    finding = [*needles, *whole_identity_needles(person)]
    seqs = _log_entries(conn, person) | _naming_entries(conn, person, finding)
    entries = _described(conn, seqs)

    # Rows other work may hold first (messages, feedback items, sync rows) come before the
    # log's append lock, taken last (appenders take their rows' locks, then the log's).
    step(1)
    _erase_journeys(conn, person, report)
    step(2)
    _erase_feedback(conn, person, entries, report)
    step(3)
    _erase_destinations(conn, person, report, deletions or _deletions)
    step(4)
    _erase_records(conn, person, report)
    step(5)
    _erase_identity(conn, person, report)
    step(6)
    _erase_profiles(conn, person, report)
    report.announced = record_changes(
        conn, [NewChange(p, ChangeKind.PROFILE_ERASED, {}) for p in person.profile_ids], seq
    )
    step(7)
    _erase_other_tables(conn, person, report)
    step(8)
    _clear_requests(conn, person, needles, report)
    step(9)
    if conn.dialect.name == "postgresql":
        # nothing is appended from here to the commit: an entry naming them that arrived
        # while the rest was erased is found now
        conn.execute(select(func.pg_advisory_xact_lock(LOG_LOCK_KEY)))
    late = _naming_entries(conn, person, finding) - seqs
    entries += _described(conn, late)
    _erase_log(conn, seqs | late, report)
    # other people's nodes linked to them by entries just erased: as a rebuild would have them
    relinked = forget_links(conn, _as_linked(person.identifiers - person.shared), seq)
    follow_resolution(conn, relinked, seq)
    # after the relinking: the profiles it refreshed announced losing the person's ids
    _erase_other_changes(conn, person, finding, report)
    step(10)
    _erase_rejects(conn, person, entries, finding, report)
    step(11)
    tombstone = sorted(person.identifiers - person.shared)
    made = suppression.suppress(conn, tombstone, request_id=request_id)
    report.suppressed = {
        str(id_type): int(n)
        for id_type, n in conn.execute(
            select(privacy_suppressions.c.id_type, func.count())
            .where(key_in(conn, privacy_suppressions.c.id, sorted(set(made))))
            .group_by(privacy_suppressions.c.id_type)
            .order_by(privacy_suppressions.c.id_type)
        )
    }
    step(12)
    report.hits = search(conn, needles, report.searched)
    report.elapsed_s = (system_clock() - started) / 1e6
    return report


# --- who the person is -----------------------------------------------------------------------


def profiles_holding(conn: Connection, identifiers: Sequence[tuple[str, str]]) -> list[str]:
    """Every profile with one of ``identifiers`` (as typed: any case, any local format)."""
    keys: list[str] = []
    for id_type, value in identifiers:
        keys += identifier_lookup_keys(conn, id_type, value)
    if not keys:
        return []
    return sorted(
        {
            pid
            for pid in conn.execute(
                select(identity_nodes.c.profile_id)
                .join(identity_keys, identity_keys.c.node_id == identity_nodes.c.id)
                .where(key_in(conn, identity_keys.c.key, keys), identity_keys.c.role == 0)
            ).scalars()
            if pid is not None
        }
    )


def find_person(
    conn: Connection, profile_ids: Sequence[str], also: Sequence[tuple[str, str]] = ()
) -> Person:
    """The person's profiles, nodes, records, identifiers, names and spellings."""
    lives = sorted({live for p in profile_ids if (live := _live(conn, p)) is not None})
    person = Person(lives[0] if lives else None)
    for id_type, value in also:
        person.identifiers.add((id_type, value))
        person.spellings.add(value.strip())
    for live in lives:
        person.profile_ids += [p for p in _merged_into(conn, live) if p not in person.profile_ids]
    if person.profile_ids:
        _read_nodes(conn, person)
        _read_profiles(conn, person)
        _read_records(conn, person)
    person.shared = _shared(conn, person)
    return person


def _live(conn: Connection, profile_id: str) -> str | None:
    for _ in range(100):
        row = conn.execute(
            select(profiles.c.merged_into).where(profiles.c.id == profile_id)
        ).first()
        if row is None:
            return None
        if row.merged_into is None:
            return profile_id
        profile_id = row.merged_into
    return profile_id


def _merged_into(conn: Connection, live: str) -> list[str]:
    """``live`` and every profile merged into it, directly or through another."""
    found = [live]
    frontier = [live]
    while frontier:
        merged = conn.execute(
            select(profiles.c.id).where(key_in(conn, profiles.c.merged_into, frontier))
        ).scalars()
        frontier = [m for m in merged if m not in found]
        found.extend(frontier)
    return found


def _read_nodes(conn: Connection, person: Person) -> None:
    rows = conn.execute(
        select(
            identity_nodes.c.id,
            identity_nodes.c.source_id,
            identity_nodes.c.node_type,
            identity_nodes.c.node_key,
            identity_nodes.c.identifiers,
            identity_nodes.c.traits,
        ).where(key_in(conn, identity_nodes.c.profile_id, person.profile_ids))
    ).all()
    for row in rows:
        person.node_ids.append(int(row.id))
        person.node_refs.append((int(row.source_id), row.node_type, row.node_key))
        if row.node_type == NODE_RECORD:
            person.records.append((int(row.source_id), row.node_key))
            person.identifiers.add(
                (RECORD_TYPE, suppression.record_value(int(row.source_id), row.node_key))
            )
        else:
            person.identifiers.add((row.node_type, row.node_key))
        held = row.identifiers or {}
        for id_type, value in [*held.get("ids", []), *held.get("links", [])]:
            person.identifiers.add((str(id_type), str(value)))
        _names_from(row.traits or {}, person)


def _read_profiles(conn: Connection, person: Person) -> None:
    rows = conn.execute(
        select(profiles.c.traits, profiles.c.golden).where(
            key_in(conn, profiles.c.id, person.profile_ids)
        )
    ).all()
    for row in rows:
        _names_from(row.traits or {}, person)
        golden = row.golden if isinstance(row.golden, dict) else {}
        fields = golden.get("values") or {}
        values: dict[str, Any] = {}
        for name in ("first_name", "middle_name", "last_name", "full_name", "nickname"):
            entry = fields.get(name) if isinstance(fields, dict) else None
            value = entry.get("value") if isinstance(entry, dict) else None
            if isinstance(value, str):
                values[name] = value
        _names_from(values, person)
        for name, alternatives in (golden.get("alternatives") or {}).items():
            if name in _NAME_FIELDS and isinstance(alternatives, list):
                for alternative in alternatives:
                    value = alternative.get("value") if isinstance(alternative, dict) else None
                    if isinstance(value, str):
                        _names_from({name: value}, person)


def _names_from(traits: Mapping[str, Any], person: Person) -> None:
    """Full names (a lone given name is too common to search for)."""
    given = traits.get("first_name")
    family = traits.get("last_name")
    candidates = [traits.get(n) for n in _NAME_FIELDS]
    if isinstance(given, str) and isinstance(family, str):
        candidates.append(f"{given} {family}")
    for value in candidates:
        if isinstance(value, str):
            text = " ".join(unicodedata.normalize("NFC", value).split())
            if len(text) >= _MIN_NAME_CHARS and " " in text:
                person.names.add(text)


def _read_records(conn: Connection, person: Person) -> None:
    """How the sources wrote the person's identifiers (and names), from their records."""
    forms = person.forms()
    for source_id, record_id in person.records:
        row = conn.execute(
            select(source_records.c.raw, source_records.c.fields).where(
                source_records.c.source_id == source_id,
                source_records.c.record_id == record_id,
            )
        ).first()
        if row is None:
            continue
        _spellings_in(row.raw, forms, person)
        fields = row.fields if isinstance(row.fields, dict) else {}
        _names_from({k: v for k, v in fields.items() if isinstance(v, str)}, person)


def _spellings_in(value: Any, forms: set[str], person: Person) -> None:
    if isinstance(value, dict):
        for inner in value.values():
            _spellings_in(inner, forms, person)
    elif isinstance(value, list):
        for inner in value:
            _spellings_in(inner, forms, person)
    elif isinstance(value, str) and any(
        f in forms for f in suppression.candidate_forms(value, identity=True)
    ):
        person.spellings.add(value.strip())


def _shared(conn: Connection, person: Person) -> set[tuple[str, str]]:
    """Identifiers a node of another profile also holds.

    The tombstone and the searches match a value's normal form whatever its type, so sharing
    is decided by value too: a tracked identity another profile holds as a ``user_id`` or an
    ``anonymous_id`` is shared under both types (the person's alias naming another person's
    device links it as both), and so is every identifier with the normal form of a shared
    one. Otherwise erasing the person would erase that device's events and suppress it."""
    if not person.identifiers:
        return set()
    shared: set[tuple[str, str]] = set()
    mine = set(person.node_ids)
    keys: dict[str, list[tuple[str, str]]] = {}
    for id_type, value in person.identifiers:
        if id_type == RECORD_TYPE:
            continue
        held_as = TRACKED_IDENTITY_TYPES if id_type in TRACKED_IDENTITY_TYPES else (id_type,)
        for key_type in held_as:
            keys.setdefault(f"{key_type}:{value}", []).append((id_type, value))
    if not keys:
        return shared
    # per-source identifier keys carry the source id: "customer_id:3:C-1"
    rows = conn.execute(
        select(identity_keys.c.key, identity_keys.c.node_id, identity_nodes.c.profile_id)
        .join(identity_nodes, identity_nodes.c.id == identity_keys.c.node_id)
        .where(key_in(conn, identity_keys.c.key, sorted(keys)), identity_keys.c.role == 0)
    ).all()
    for row in rows:
        if int(row.node_id) not in mine and row.profile_id is not None:
            shared.update(keys[row.key])
    forms = {suppression.normal_form(t, v) for t, v in shared}
    return shared | {
        (t, v)
        for t, v in person.identifiers
        if t != RECORD_TYPE and suppression.normal_form(t, v) in forms
    }


# --- what to search for ----------------------------------------------------------------------


def needles_for(person: Person) -> list[Needle]:
    """Every form of the person's identifiers and names to search the database for: as
    written, normalised (E.164, lower-cased address, NFC), folded as search folds names, and
    as a plain SHA-256 of the normalised form."""
    found: dict[str, Needle] = {}

    def add(kind: str, text: str, *, hashed: bool = True) -> None:
        text = text.strip()
        if len(text) < 3 or text.lower() in found:
            return
        found[text.lower()] = Needle(kind, text)
        if hashed:
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            found[digest] = Needle(f"sha256({kind})", digest)

    for id_type, value in sorted(person.identifiers - person.shared):
        if id_type == RECORD_TYPE:
            continue
        form = suppression.normal_form(id_type, value)
        if id_type == "email":
            add("email", form)
            standard = standard_email(value)
            if standard.ok and standard.value:
                add("email", str(standard.value))
        elif id_type == "phone":
            for phone in _phone_spellings(form):
                add("phone", phone, hashed=phone == form)
        else:
            if len(form) >= suppression.MIN_FREE_CHARS:
                add(id_type, form)
    for spelling in sorted(person.spellings):
        add("as written", spelling, hashed=False)
    for name in sorted(person.names):
        add("name", name)
        add("name folded", fold(name), hashed=False)
    escaped: list[Needle] = []
    for needle in found.values():
        as_json = json.dumps(needle.text)[1:-1]
        if as_json != needle.text:
            escaped.append(Needle(needle.kind + " (JSON-escaped)", as_json))
    return [*found.values(), *escaped]


def _as_linked(identifiers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Identifiers as other nodes may link to them: a tracked identity as a user id and as an
    anonymous id (an alias's ``previousId`` is linked as both)."""
    linked: set[tuple[str, str]] = set()
    for id_type, value in identifiers:
        if id_type == RECORD_TYPE:
            continue
        types = TRACKED_IDENTITY_TYPES if id_type in TRACKED_IDENTITY_TYPES else (id_type,)
        linked.update((t, value) for t in types)
    return sorted(linked)


def whole_identity_needles(person: Person) -> list[Needle]:
    """The person's tracked identities too short to search for as text (a ``userId`` of
    ``42``): as the whole JSON string a message holds them in (``"42"``, with its quotes).

    Ingest screens identity fields at any length (``suppression.ID_FIELDS``), so erasure must
    find them at any length too: another person's alias naming ``42`` as its ``previousId``,
    or an entry not processed yet, would otherwise keep naming the person after the erasure.
    Entries found are confirmed value by value, as every text match is."""
    found: dict[str, Needle] = {}
    for id_type, value in sorted(person.identifiers - person.shared):
        form = suppression.normal_form(id_type, value)
        if id_type in TRACKED_IDENTITY_TYPES and form and len(form) < suppression.MIN_FREE_CHARS:
            text = json.dumps(form, ensure_ascii=False)
            found.setdefault(text.lower(), Needle(f"{id_type} (whole value)", text))
    return list(found.values())


def _phone_spellings(e164: str) -> list[str]:
    """E.164 and the ways people write the same number at home (``0812345678``,
    ``081 234 5678``, ``66812345678``)."""
    spellings = [e164]
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return spellings
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    spellings += [e164.lstrip("+"), national, "".join(c for c in national if c.isdigit())]
    return list(dict.fromkeys(spellings))


# --- the event log and quarantine ------------------------------------------------------------


def _log_entries(conn: Connection, person: Person) -> set[int]:
    """The log positions of the person's entries: filed under their profiles, and every
    logged version of their records (``rec:1:<id>`` .. ``rec:<version>:<id>``)."""
    seqs: set[int] = set()
    for chunk in _chunks(person.profile_ids):
        seqs.update(
            conn.execute(
                select(profile_events.c.seq).where(key_in(conn, profile_events.c.profile_id, chunk))
            ).scalars()
        )
    for source_id, record_id in person.records:
        version = conn.execute(
            select(source_records.c.version).where(
                source_records.c.source_id == source_id, source_records.c.record_id == record_id
            )
        ).scalar_one_or_none()
        keys = [f"rec:{n}:{record_id}" for n in range(1, int(version or 0) + 1)]
        for chunk in _chunks(keys):
            seqs.update(
                conn.execute(
                    select(event_log.c.seq).where(
                        event_log.c.source_id == source_id,
                        key_in(conn, event_log.c.message_id, chunk),
                    )
                ).scalars()
            )
    return seqs


def _naming_entries(conn: Connection, person: Person, needles: Sequence[Needle]) -> set[int]:
    """Entries not filed under the person (not processed yet, or another person's) that hold
    one of their identifiers as a value: found by text, confirmed by decoding each."""
    forms = person.forms() | {v for t, v in person.identifiers if t == RECORD_TYPE}
    strong = [n for n in needles if not n.kind.startswith(("name", "sha256", "as written"))]
    seqs: set[int] = set()
    if not (strong and forms):
        return seqs
    # sealed payloads cannot be searched in the database (prefilter): every entry is read,
    # and searched here as the database would, case-insensitively, before it is decoded
    texts = [n.text.lower() for n in strong]
    query = select(event_log.c.seq, event_log.c.source_id, event_log.c.type, event_log.c.payload)
    query = query.where(prefilter(_any_contains(cast(event_log.c.payload, Text), strong)))
    for entry in conn.execute(query.execution_options(yield_per=1000)):
        if not any(t in entry.payload.lower() for t in texts):
            continue
        if _names_them(entry.payload, forms, entry):
            seqs.add(int(entry.seq))
    return seqs


def _described(conn: Connection, seqs: Iterable[int]) -> list[tuple[int, int, str]]:
    """(seq, source id, message id) of log entries."""
    found: list[tuple[int, int, str]] = []
    for chunk in _chunks(sorted(seqs)):
        found += [
            (int(r.seq), int(r.source_id), r.message_id)
            for r in conn.execute(
                select(event_log.c.seq, event_log.c.source_id, event_log.c.message_id).where(
                    key_in(conn, event_log.c.seq, chunk)
                )
            )
        ]
    return found


def _erase_log(conn: Connection, seqs: Iterable[int], report: ErasureReport) -> None:
    """Remove log entries (and where they were filed).

    The one exception to the log being append-only: everything else is derived from it,
    so only removing the entries keeps ``c360 rebuild`` from bringing the person back.
    """
    for chunk in _chunks(sorted(seqs)):
        report.count(
            "event_log",
            conn.execute(delete(event_log).where(key_in(conn, event_log.c.seq, chunk))).rowcount,
        )
        report.count(
            "profile_events",
            conn.execute(
                delete(profile_events).where(key_in(conn, profile_events.c.seq, chunk))
            ).rowcount,
        )


def _names_them(payload: str | bytes, forms: set[str], row: Any = None) -> bool:
    """Whether an item holds one of ``forms`` as a value (not merely inside a longer one)."""
    try:
        decoded = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return False
    if row is not None and getattr(row, "type", None) == RECORD_TYPE and isinstance(decoded, dict):
        record_id = decoded.get("record_id")
        if (
            isinstance(record_id, str)
            and suppression.record_value(row.source_id, record_id) in forms
        ):
            return True
    return any(f in forms for f in suppression.forms_in(decoded))


def _erase_rejects(
    conn: Connection,
    person: Person,
    erased: Sequence[tuple[int, int, str]],
    needles: Sequence[Needle],
    report: ErasureReport,
) -> None:
    ids: set[int] = set()
    message_ids = sorted({m for _, _, m in erased})
    for chunk in _chunks(message_ids):
        ids.update(
            conn.execute(
                select(rejects.c.id).where(key_in(conn, rejects.c.message_id, chunk))
            ).scalars()
        )
    origins = [f"log entry {seq}" for seq, _, _ in erased]
    for chunk in _chunks(origins):
        ids.update(
            conn.execute(
                select(rejects.c.id).where(
                    rejects.c.stage == "processing", key_in(conn, rejects.c.origin, chunk)
                )
            ).scalars()
        )
    # quarantined rows never reached the log: read each one that could name them
    # (a quarantined row may not even be JSON: its text is all there is to go by)
    texts = [n.text.lower() for n in needles if not n.kind.startswith(("sha256", "name folded"))]
    if texts:
        for row in conn.execute(
            select(rejects.c.id, rejects.c.payload, rejects.c.detail).execution_options(
                yield_per=1000
            )
        ):
            body = bytes(row.payload).decode("utf-8", "replace").lower()
            detail = (row.detail or "").lower()
            if any(t in body or t in detail for t in texts):
                ids.add(int(row.id))
    for chunk in _chunks(sorted(ids)):
        report.count(
            "rejects",
            conn.execute(delete(rejects).where(key_in(conn, rejects.c.id, chunk))).rowcount,
        )


# --- derived and operational tables ----------------------------------------------------------


def _erase_records(conn: Connection, person: Person, report: ErasureReport) -> None:
    for source_id, record_id in person.records:
        for table in (record_identifiers, source_records):
            report.count(
                table.name,
                conn.execute(
                    delete(table).where(
                        table.c.source_id == source_id, table.c.record_id == record_id
                    )
                ).rowcount,
            )


def _erase_identity(conn: Connection, person: Person, report: ErasureReport) -> None:
    decisions: set[int] = set()
    for source_id, node_type, node_key in person.node_refs:
        where = and_(
            identity_decision_nodes.c.source_id == source_id,
            identity_decision_nodes.c.node_type == node_type,
            identity_decision_nodes.c.node_key == node_key,
        )
        decisions.update(
            conn.execute(select(identity_decision_nodes.c.decision_id).where(where)).scalars()
        )
        report.count(
            identity_decision_nodes.name,
            conn.execute(delete(identity_decision_nodes).where(where)).rowcount,
        )
    for decision_id in sorted(decisions):
        left = conn.execute(
            select(func.count())
            .select_from(identity_decision_nodes)
            .where(identity_decision_nodes.c.decision_id == decision_id)
        ).scalar_one()
        if not left:
            report.count(
                identity_decisions.name,
                conn.execute(
                    delete(identity_decisions).where(identity_decisions.c.id == decision_id)
                ).rowcount,
            )
    for chunk in _chunks(person.node_ids):
        report.count(
            identity_keys.name,
            conn.execute(
                delete(identity_keys).where(key_in(conn, identity_keys.c.node_id, chunk))
            ).rowcount,
        )
        for table in (identity_pairs, identity_reviews):
            report.count(
                table.name,
                conn.execute(
                    delete(table).where(
                        or_(key_in(conn, table.c.a, chunk), key_in(conn, table.c.b, chunk))
                    )
                ).rowcount,
            )
        report.count(
            identity_nodes.name,
            conn.execute(
                delete(identity_nodes).where(key_in(conn, identity_nodes.c.id, chunk))
            ).rowcount,
        )


def _erase_profiles(conn: Connection, person: Person, report: ErasureReport) -> None:
    ids = person.profile_ids
    if not ids:
        return
    change_ids = list(
        conn.execute(
            select(profile_changes.c.id).where(key_in(conn, profile_changes.c.profile_id, ids))
        ).scalars()
    )
    _delete_changes(conn, change_ids, report)
    for table in (
        profile_terms,
        profile_events,
        segment_members,
        recommend_purchases,
        recommend_counted,
        privacy_restrictions,
    ):
        report.count(
            table.name,
            conn.execute(delete(table).where(key_in(conn, table.c.profile_id, ids))).rowcount,
        )
    report.count(
        profile_merges.name,
        conn.execute(
            delete(profile_merges).where(
                or_(
                    key_in(conn, profile_merges.c.survivor_id, ids),
                    key_in(conn, profile_merges.c.merged_id, ids),
                )
            )
        ).rowcount,
    )
    report.count(
        profiles.name,
        conn.execute(delete(profiles).where(key_in(conn, profiles.c.id, ids))).rowcount,
    )


def _erase_other_changes(
    conn: Connection, person: Person, needles: Sequence[Needle], report: ErasureReport
) -> None:
    """Other profiles' feed entries that name the person. A profile the person was split from
    (or that was created while they were part of it) said so in its feed: it gained their
    user id, its golden record had their name. The entries are found by text and confirmed
    value by value, and deleted as their log entries are: the feed stays append-only."""
    forms = person.forms()
    names = {unicodedata.normalize("NFC", n).casefold() for n in person.names}
    wanted = [n for n in needles if not n.kind.startswith("sha256")]
    if not (forms or names) or not wanted:
        return
    found: list[int] = []
    for change_id, detail in conn.execute(
        select(profile_changes.c.id, profile_changes.c.detail)
        .where(
            prefilter(
                _any_contains(cast(type_coerce(profile_changes.c.detail, Json), Text), wanted)
            )
        )
        .execution_options(yield_per=1000)
    ):
        if _change_names_them(detail, forms, names):
            found.append(int(change_id))
    _delete_changes(conn, found, report)


def _delete_changes(conn: Connection, change_ids: Sequence[int], report: ErasureReport) -> None:
    """Feed entries by id, with the dead letters of subscriptions that failed to take them."""
    for chunk in _chunks(change_ids):
        report.count(
            subscription_dead_letters.name,
            conn.execute(
                delete(subscription_dead_letters).where(
                    key_in(conn, subscription_dead_letters.c.change_id, chunk)
                )
            ).rowcount,
        )
        report.count(
            profile_changes.name,
            conn.execute(
                delete(profile_changes).where(key_in(conn, profile_changes.c.id, chunk))
            ).rowcount,
        )


def _change_names_them(detail: Any, forms: set[str], names: set[str]) -> bool:
    """Whether a feed entry's detail holds one of ``forms`` as a value, an identifier
    (``"user_id:u-1"``, ``{"type": ..., "value": ...}``) with one of them as its value, or one
    of ``names``."""
    if not isinstance(detail, dict):
        return False
    value, id_type = detail.get("value"), detail.get("type")
    if (
        isinstance(value, str)
        and isinstance(id_type, str)
        and suppression.normal_form(id_type, value) in forms
    ):
        return True
    for item in detail.get("identifiers") or []:
        if isinstance(item, str) and ":" in item:
            id_type, _, value = item.partition(":")
            if suppression.normal_form(id_type, value) in forms:
                return True
    if any(f in forms for f in suppression.forms_in(detail, top=False)):
        return True
    return bool(names) and any(
        unicodedata.normalize("NFC", text).casefold() in names for text in _strings(detail)
    )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


def _erase_journeys(conn: Connection, person: Person, report: ErasureReport) -> None:
    ids = person.profile_ids
    if ids:
        report.cancelled_messages = int(
            conn.execute(
                select(func.count())
                .select_from(messages)
                .where(key_in(conn, messages.c.profile_id, ids), messages.c.status.in_(_QUEUED))
            ).scalar_one()
        )
        report.count(
            messages.name,
            conn.execute(delete(messages).where(key_in(conn, messages.c.profile_id, ids))).rowcount,
        )
        entries = list(
            conn.execute(
                select(journey_entries.c.id).where(key_in(conn, journey_entries.c.profile_id, ids))
            ).scalars()
        )
        for chunk in _chunks(entries):
            report.count(
                journey_steps.name,
                conn.execute(
                    delete(journey_steps).where(key_in(conn, journey_steps.c.entry_id, chunk))
                ).rowcount,
            )
        report.count(
            journey_entries.name,
            conn.execute(
                delete(journey_entries).where(key_in(conn, journey_entries.c.profile_id, ids))
            ).rowcount,
        )
    addresses = sorted(
        {v for t, v in person.identifiers - person.shared if t != RECORD_TYPE}
        | {
            suppression.normal_form(t, v)
            for t, v in person.identifiers - person.shared
            if t != RECORD_TYPE
        }
    )
    for chunk in _chunks(addresses):
        report.count(
            suppressions.name,
            conn.execute(
                delete(suppressions).where(key_in(conn, suppressions.c.address, chunk))
            ).rowcount,
        )


def _erase_feedback(
    conn: Connection, person: Person, erased: Sequence[tuple[int, int, str]], report: ErasureReport
) -> None:
    ids: set[int] = set()
    if person.profile_ids:
        ids.update(
            conn.execute(
                select(feedback_items.c.id).where(
                    key_in(conn, feedback_items.c.profile_id, person.profile_ids)
                )
            ).scalars()
        )
    origins: dict[int, set[str]] = {}
    for _, source_id, message_id in erased:
        origins.setdefault(source_id, set()).add(f"e:{message_id}")
    for source_id, record_id in person.records:
        origins.setdefault(source_id, set()).add(f"r:{record_id}")
    for source_id, keys in origins.items():
        for chunk in _chunks(sorted(keys)):
            ids.update(
                conn.execute(
                    select(feedback_items.c.id).where(
                        feedback_items.c.source_id == source_id,
                        key_in(conn, feedback_items.c.origin_key, chunk),
                    )
                ).scalars()
            )
    for chunk in _chunks(sorted(ids)):
        report.count(
            feedback_history.name,
            conn.execute(
                delete(feedback_history).where(key_in(conn, feedback_history.c.feedback_id, chunk))
            ).rowcount,
        )
        report.count(
            feedback_items.name,
            conn.execute(
                delete(feedback_items).where(key_in(conn, feedback_items.c.id, chunk))
            ).rowcount,
        )


@dataclass(frozen=True, slots=True)
class DeletionAccess:
    """How erasure reaches the sync destinations: their secrets (``C360_SYNC_SECRET_*``, by
    upper-case name), the internal hosts allowed (``C360_WEBHOOK_ALLOWED_HOSTS``), and how
    hard it tries. The deletions are made inside the erasure's transaction, so the retries
    are few and short: a destination still failing is reported, not waited for."""

    secrets: Mapping[str, str] = field(default_factory=dict)
    allowed_hosts: str = ""
    attempts: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 5.0


_deletions = DeletionAccess()


def configure_deletions(access: DeletionAccess) -> None:
    """Use ``access`` for erasures run without their own (entry points call this at start)."""
    global _deletions
    _deletions = access


DELETED, NOT_FOUND, FAILED, NOT_SUPPORTED = "deleted", "not_found", "failed", "not_supported"


def _erase_destinations(
    conn: Connection, person: Person, report: ErasureReport, access: DeletionAccess
) -> None:
    """Ask every sync destination that held the person to delete their rows, report each
    one's final status, then forget what each was sent.

    A destination held them when c360 knows one of its rows as theirs (``sync_state``) or
    one of their records came from its source (the crosswalk: the app's keys). Statuses:
    ``deleted`` (every row it had), ``not_found`` (it had none of them), ``failed`` (with the
    reason, after ``access.attempts`` tries of a retryable failure), ``not_supported`` (the
    destination cannot delete: no ``rest.delete``, ``table.delete: false``, or removed). Its
    pull cannot bring the person back either way: the rows it reads are screened like any
    source's. Keys stay out of the report: it outlives the person."""
    ids = person.profile_ids
    if not ids:
        return
    held = _held_keys(conn, ids)
    if held:
        by_id = {d.id: d for d in readable_destinations(conn)[0]}
        names = dict(conn.execute(select(sync_destinations.c.id, sync_destinations.c.name)).all())
        for destination_id, keys in sorted(held.items(), key=lambda i: names.get(i[0], "")):
            name = str(names.get(destination_id, destination_id))
            found = by_id.get(destination_id)
            entry = (
                _delete_rows(found, keys, access)
                if found is not None
                else {
                    "status": FAILED,
                    "detail": "its configuration cannot be read: check it with c360 sync show "
                    f"{name}, and delete the person's rows in the app",
                }
            )
            report.destinations.append({"destination": name, "rows": len(keys), **entry})
            if entry["status"] not in (DELETED, NOT_FOUND):
                log.warning("erasure: sync destination %s: %s", name, entry["status"])
    for table in (sync_queue, sync_state, sync_dead_letters, sync_conflicts):
        report.count(
            table.name,
            conn.execute(delete(table).where(key_in(conn, table.c.profile_id, ids))).rowcount,
        )


def _held_keys(conn: Connection, ids: Sequence[str]) -> dict[int, list[str]]:
    """The app keys of the person's rows, by destination id."""
    held: dict[int, set[str]] = {}
    for destination_id, key in conn.execute(
        select(sync_state.c.destination_id, sync_state.c.app_key).where(
            key_in(conn, sync_state.c.profile_id, list(ids))
        )
    ):
        held.setdefault(destination_id, set()).add(str(key))
    rows = conn.execute(
        select(
            sync_destinations.c.id,
            sync_destinations.c.config,
            identity_nodes.c.kind,
            identity_nodes.c.node_key,
        )
        .select_from(
            sync_destinations.join(
                identity_nodes, identity_nodes.c.source_id == sync_destinations.c.source_id
            )
        )
        .where(
            identity_nodes.c.node_type == NODE_RECORD,
            key_in(conn, identity_nodes.c.profile_id, list(ids)),
        )
    )
    for destination_id, config, kind, key in rows:
        wanted = _record_kind(config)
        if wanted is None or wanted == kind:
            held.setdefault(destination_id, set()).add(str(key))
    return {d: sorted(keys) for d, keys in held.items()}


def _record_kind(config: Any) -> str | None:
    """The record kind a destination's rows are (None: every kind), read without validating
    the configuration (``DestinationConfig.record_kind``)."""
    if not isinstance(config, Mapping):
        return None
    mapping, rest = config.get("mapping"), config.get("rest")
    if isinstance(mapping, Mapping) and mapping.get("kind"):
        return str(mapping["kind"])
    if isinstance(rest, Mapping) and rest.get("record_kind"):
        return str(rest["record_kind"])
    return None


def _delete_rows(
    destination: Destination, keys: Sequence[str], access: DeletionAccess
) -> dict[str, Any]:
    """Delete ``keys`` in the destination's app: the report entry (without the keys)."""
    entry: dict[str, Any] = {"kind": destination.kind, "country": destination.country}
    if not destination.enabled:
        return {
            **entry,
            "status": NOT_SUPPORTED,
            "detail": "the destination was removed from c360: delete the person's rows in the app",
        }
    if not destination.deletes:
        how = "table.delete is false" if destination.table is not None else "no rest.delete"
        return {
            **entry,
            "status": NOT_SUPPORTED,
            "detail": f"the destination cannot delete rows ({how}): delete them in the app",
        }
    try:
        target = target_for(destination, secrets=access.secrets, allowed_hosts=access.allowed_hosts)
    except C360Error as exc:
        return {**entry, "status": FAILED, "detail": str(exc), "attempts": 0}
    counts = {DELETED: 0, NOT_FOUND: 0, FAILED: 0}
    attempts, reason = 0, None
    try:
        for key in keys:
            outcome, tries, error = _delete_one(target, key, access)
            counts[outcome] += 1
            attempts += tries
            reason = error or reason
    finally:
        target.close()
    status = FAILED if counts[FAILED] else DELETED if counts[DELETED] else NOT_FOUND
    return {**entry, "status": status, **counts, "attempts": attempts, "detail": reason}


def _delete_one(
    target: SyncTarget, key: str, access: DeletionAccess
) -> tuple[str, int, str | None]:
    """(outcome, attempts, the last failure) of deleting one row, retrying what may pass."""
    for attempt in range(1, access.attempts + 1):
        try:
            return (DELETED if target.delete(key) else NOT_FOUND), attempt, None
        except SyncFailed as exc:
            reason = str(exc).replace(key, "{key}")
            if not exc.retryable or attempt == access.attempts:
                return FAILED, attempt, reason
            delay = min(access.base_delay_s * 2 ** (attempt - 1), access.max_delay_s)
            time.sleep(min(max(delay, exc.retry_after_s or 0.0), access.max_delay_s))
    raise AssertionError("at least one attempt is made")


def _erase_other_tables(conn: Connection, person: Person, report: ErasureReport) -> None:
    """Every other table with a ``profile_id`` column (the consent ledger, and tables added
    after this was written): their rows of the person."""
    if not person.profile_ids:
        return
    inspector = inspect(conn)
    for name in sorted(inspector.get_table_names()):
        if name in _HANDLED:
            continue
        columns = {c["name"] for c in inspector.get_columns(name)}
        if "profile_id" not in columns:
            continue
        other = sql_table(name, sql_column("profile_id", String()))
        report.count(
            name,
            conn.execute(
                delete(other).where(key_in(conn, other.c.profile_id, person.profile_ids))
            ).rowcount,
        )


def _clear_requests(
    conn: Connection, person: Person, needles: Sequence[Needle], report: ErasureReport
) -> None:
    """Keep the person's requests as proof they were answered, without what named them."""
    if person.profile_ids:
        report.count(
            "privacy_requests (cleared)",
            conn.execute(
                update(privacy_requests)
                .where(key_in(conn, privacy_requests.c.profile_id, person.profile_ids))
                .values(subject=None, detail={})
            ).rowcount,
        )
    texts = [n for n in needles if n.kind in ("email", "phone", "as written")]
    if texts:
        report.count(
            "privacy_requests (cleared)",
            conn.execute(
                update(privacy_requests)
                .where(_any_contains(privacy_requests.c.subject, texts))
                .values(subject=None, detail={})
            ).rowcount,
        )


# --- verification ----------------------------------------------------------------------------


_SKIPPED_TYPES = ("INT", "FLOAT", "REAL", "DOUBLE", "NUMERIC", "DECIMAL", "BOOL", "DATE", "TIME")
"""Column types that cannot hold text (``BIGINT``, ``TIMESTAMP``... start with one of these)."""
_SAMPLE_ROWS = 1000


def search(
    conn: Connection, needles: Sequence[Needle], searched: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    """Every table and column of the database holding one of ``needles``, found by reading
    the schema (so tables added later are searched too). Text and JSON columns are searched
    in the database, case-insensitively (a regular expression on PostgreSQL, a function of
    this process's on SQLite), binary ones read here. Returns one hit per (table, column,
    kind of needle) with its row count; ``searched`` gets the counts of tables, columns and
    needles searched."""
    if not needles:
        return []
    texts = sorted({n.text.lower() for n in needles})
    matcher = _Matcher(conn, texts)
    inspector = inspect(conn)
    hits: list[dict[str, Any]] = []
    tables = columns = 0
    for name in sorted(inspector.get_table_names()):
        tables += 1
        text_columns: list[str] = []
        binary_columns: list[str] = []
        for info in inspector.get_columns(name):
            type_name = str(info["type"]).upper()
            if isinstance(info["type"], LargeBinary) or "BLOB" in type_name or "BYTEA" in type_name:
                binary_columns.append(info["name"])
            elif not type_name.startswith(_SKIPPED_TYPES):
                text_columns.append(info["name"])
        columns += len(text_columns) + len(binary_columns)
        if sealing_on():
            # sealed columns are opened and searched here; the database sees only tokens
            opened = [c for c in text_columns + binary_columns if (name, c) in _SEALED]
            text_columns = [c for c in text_columns if c not in opened]
            binary_columns = [c for c in binary_columns if c not in opened]
            for column_name in opened:
                column = metadata.tables[name].c[column_name]
                every = conn.execute(select(column).execution_options(yield_per=1000)).scalars()
                hits += _hits(name, column_name, map(_as_text, every), needles, None)
        found = matcher.count(name, text_columns) if text_columns else {}
        for column_name, rows in found.items():
            hits += _hits(name, column_name, matcher.sample(name, column_name), needles, rows)
        for column_name in binary_columns:
            query: Any = select(sql_column(column_name)).select_from(sql_table(name))
            every = conn.execute(query.execution_options(yield_per=1000)).scalars()
            hits += _hits(name, column_name, every, needles, None)
    if searched is not None:
        searched.update({"tables": tables, "columns": columns, "needles": len(needles)})
    return hits


_SEALED = {(table.name, column.name) for table, column in sealed_columns(metadata)}


def _as_text(value: Any) -> Any:
    """A sealed column's value, opened, as the text the database search reads."""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


class _Matcher:
    """Counts, in the database, the rows of each column that hold any of ``texts``."""

    def __init__(self, conn: Connection, texts: Sequence[str]) -> None:
        self._conn = conn
        self._postgresql = conn.dialect.name == "postgresql"
        self._pattern = "|".join(re.escape(t) for t in texts)
        if not self._postgresql:
            wanted = tuple(texts)

            def holds(value: Any) -> int:
                if value is None:
                    return 0
                body = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                body = body.lower()
                return int(any(t in body for t in wanted))

            driver: Any = conn.connection.driver_connection
            driver.create_function("c360_holds", 1, holds, deterministic=True)

    def _test(self, column_name: str) -> Any:
        column: Any = sql_column(column_name)
        if self._postgresql:
            return cast(column, Text).regexp_match(self._pattern, flags="i")
        return func.c360_holds(column) == 1

    def count(self, table: str, column_names: Sequence[str]) -> dict[str, int]:
        sums = [func.coalesce(func.sum(case((self._test(c), 1), else_=0)), 0) for c in column_names]
        row = self._conn.execute(select(*sums).select_from(sql_table(table))).one()
        return {c: int(n) for c, n in zip(column_names, row, strict=True) if n}

    def sample(self, table: str, column_name: str) -> list[Any]:
        query = (
            select(cast(sql_column(column_name), Text))
            .select_from(sql_table(table))
            .where(self._test(column_name))
            .limit(_SAMPLE_ROWS)
        )
        return list(self._conn.execute(query).scalars())


def _hits(
    table: str,
    column_name: str,
    values: Iterable[Any],
    needles: Sequence[Needle],
    rows: int | None,
) -> list[dict[str, Any]]:
    """Hits by kind of needle among ``values`` (``rows``: the column's count of rows with any
    hit, when the database counted them)."""
    lowered = [(n.kind, n.text.lower()) for n in needles]
    kinds: dict[str, int] = {}
    for value in values:
        if value is None:
            continue
        body = (
            bytes(value).decode("utf-8", "replace")
            if isinstance(value, bytes | memoryview)
            else str(value)
        )
        body = body.lower()
        for kind in {k for k, t in lowered if t in body}:
            kinds[kind] = kinds.get(kind, 0) + 1
    if rows is not None and not kinds:
        kinds["(case-insensitive match)"] = rows
    return [
        {"table": str(table), "column": str(column_name), "kind": kind, "rows": n}
        for kind, n in sorted(kinds.items())
    ]


# --- helpers ---------------------------------------------------------------------------------


def _any_contains(expression: Any, needles: Sequence[Needle]) -> Any:
    return or_(*(expression.icontains(n.text, autoescape=True) for n in needles))


def _chunks(items: Sequence[Any] | Iterable[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    values = list(items)
    for start in range(0, len(values), size):
        yield values[start : start + size]
