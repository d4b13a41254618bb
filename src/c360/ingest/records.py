"""Records from files, databases and webhooks into the log, each row once per change.

A row is logged as it came (all its columns, so a fixed mapping can re-read it later) with the
record id its mapping finds, the mapping version, where it came from and a content hash. The
log keys it by ``(source, "rec:<version>:<record id>")``, where ``version`` counts the record's
changes: a re-import of an unchanged row logs nothing, a changed row logs the next version (an
update of the same record, never a second record), and a crashed import run again logs the
same keys, which the log ignores.
"""

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, select, tuple_, update

from c360.eventlog.model import LogRow, RejectRow
from c360.ingest.mapping import Mapping, parse_mapping
from c360.kernel.clock import system_clock
from c360.privacy.suppression import record_screen
from c360.storage.dialect import key_in
from c360.storage.tables import source_mappings, source_records

RECORD_TYPE = "record"
"""The log entry type of a source record (the tracking API's types are Segment's)."""


@dataclass(frozen=True, slots=True)
class MappingVersion:
    source_id: int
    version: int
    mapping: Mapping
    fingerprint: str


def register_mapping(conn: Connection, source_id: int, mapping: Mapping, text: str) -> int:
    """Make ``mapping`` the source's current one; its version (reused if seen before).

    A source that imports several files (contacts, invoices, payments) goes back and forth
    between their mappings: each keeps its version, so re-importing changes nothing.
    """
    fingerprint = mapping.fingerprint()
    now = system_clock()
    known = conn.execute(
        select(source_mappings.c.version).where(
            source_mappings.c.source_id == source_id,
            source_mappings.c.fingerprint == fingerprint,
        )
    ).scalar_one_or_none()
    if known is not None:
        conn.execute(
            update(source_mappings)
            .where(source_mappings.c.source_id == source_id, source_mappings.c.version == known)
            .values(registered_at_us=now)
        )
        return int(known)
    latest = conn.execute(
        select(func.max(source_mappings.c.version)).where(source_mappings.c.source_id == source_id)
    ).scalar_one_or_none()
    version = 1 if latest is None else int(latest) + 1
    conn.execute(
        insert(source_mappings).values(
            source_id=source_id,
            version=version,
            fingerprint=fingerprint,
            kind=mapping.kind.value,
            body=text,
            created_at_us=now,
            registered_at_us=now,
        )
    )
    return version


def mapping_versions(
    conn: Connection, wanted: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], MappingVersion]:
    """The mappings for these (source id, version) pairs."""
    keys = sorted(set(wanted))
    if not keys:
        return {}
    rows = conn.execute(
        select(
            source_mappings.c.source_id,
            source_mappings.c.version,
            source_mappings.c.body,
            source_mappings.c.fingerprint,
        ).where(tuple_(source_mappings.c.source_id, source_mappings.c.version).in_(keys))
    )
    found = {}
    for row in rows:
        mapping = parse_mapping(row.body, origin=f"stored mapping v{row.version}")
        found[(row.source_id, row.version)] = MappingVersion(
            row.source_id, row.version, mapping, row.fingerprint
        )
    return found


def latest_mapping(conn: Connection, source_id: int) -> MappingVersion | None:
    """The source's most recently given mapping, or None when it has never had one."""
    version = conn.execute(
        select(source_mappings.c.version)
        .where(source_mappings.c.source_id == source_id)
        .order_by(source_mappings.c.registered_at_us.desc(), source_mappings.c.version.desc())
        .limit(1)
    ).scalar_one_or_none()
    if version is None:
        return None
    return mapping_versions(conn, [(source_id, int(version))])[(source_id, int(version))]


def latest_mappings_by_kind(conn: Connection, source_id: int) -> dict[str, MappingVersion]:
    """Per record kind, the source's most recently given mapping of that kind."""
    rows = conn.execute(
        select(source_mappings.c.kind, source_mappings.c.version)
        .where(source_mappings.c.source_id == source_id)
        .order_by(source_mappings.c.registered_at_us, source_mappings.c.version)
    ).all()
    newest = {kind: int(version) for kind, version in rows}
    found = mapping_versions(conn, [(source_id, v) for v in newest.values()])
    return {kind: found[(source_id, v)] for kind, v in newest.items()}


def content_hash(fingerprint: str, values: dict[str, Any]) -> str:
    """What a record's log entry says, as 32 hex digits: the row and the mapping that reads it."""
    body = orjson.dumps(values, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    return hashlib.blake2b(fingerprint.encode() + body, digest_size=16).hexdigest()


@dataclass(slots=True)
class Prepared:
    """One batch, classified against the records as they stand."""

    rows: list[LogRow] = field(default_factory=list)
    rejects: list[RejectRow] = field(default_factory=list)
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    suppressed: int = 0  # named an erased person: counted, not stored


@dataclass(frozen=True, slots=True)
class IncomingRow:
    """A row read from a file, a table or a webhook, and where it came from."""

    values: dict[str, Any]
    origin: str


@dataclass(frozen=True, slots=True)
class BadInput:
    """A row that could not even be read (undecodable, not an object...)."""

    reason: str
    detail: str
    origin: str
    raw: bytes


def prepare_batch(
    conn: Connection,
    source_id: int,
    mapping: MappingVersion,
    batch: Sequence[IncomingRow | BadInput],
    *,
    stage: str,
) -> Prepared:
    """Log rows for what is new or changed, quarantine entries for what cannot be used.

    The records must be current (the processor has applied every earlier entry): a record's
    next version is counted from the stored one.
    """
    now = system_clock()
    out = Prepared()
    keyed: list[tuple[IncomingRow, str]] = []
    screen = record_screen(conn, source_id)  # None (no cost) while nobody is erased
    for item in batch:
        if isinstance(item, BadInput):
            out.rejects.append(
                _reject(source_id, item.reason, item.detail, item, item.raw, now, stage)
            )
            continue
        record_id = mapping.mapping.record_id_of(item.values)
        if screen is not None and screen.blocks(record_id, item.values):
            continue
        if record_id is None:
            columns = ", ".join(repr(c) for c in mapping.mapping.record_id_columns)
            raw = orjson.dumps(item.values, default=str, option=orjson.OPT_NON_STR_KEYS)
            detail = f"{item.origin}: no record id (column {columns} is empty or missing)"
            out.rejects.append(
                _reject(source_id, "missing_record_id", detail, item, raw, now, stage)
            )
            continue
        keyed.append((item, record_id))
    if screen is not None:
        out.suppressed = screen.flush()
    current = current_versions(conn, source_id, [rid for _, rid in keyed])
    kind = mapping.mapping.kind.value
    for item, record_id in keyed:
        digest = content_hash(mapping.fingerprint, item.values)
        version, known_hash = current.get(record_id, (0, None))
        if known_hash == digest:
            out.unchanged += 1
            continue
        if version:
            out.updated += 1
        else:
            out.new += 1
        current[record_id] = (version + 1, digest)
        payload = {
            "kind": kind,
            "record_id": record_id,
            "mapping": mapping.version,
            "hash": digest,
            "origin": item.origin,
            "row": item.values,
        }
        out.rows.append(
            LogRow(
                source_id=source_id,
                message_id=f"rec:{version + 1}:{record_id}",
                type=RECORD_TYPE,
                received_at_us=now,
                sent_at_us=None,
                original_timestamp_us=None,
                timestamp_us=now,
                payload=orjson.dumps(payload, default=str, option=orjson.OPT_NON_STR_KEYS).decode(),
            )
        )
    return out


def _reject(
    source_id: int,
    reason: str,
    detail: str,
    item: IncomingRow | BadInput,
    raw: bytes,
    now: int,
    stage: str,
) -> RejectRow:
    return RejectRow(
        source_id=source_id,
        received_at_us=now,
        reason=reason,
        detail=detail,
        message_id=None,
        payload=raw,
        stage=stage,
        origin=item.origin,
    )


def current_versions(
    conn: Connection, source_id: int, record_ids: Sequence[str]
) -> dict[str, tuple[int, str | None]]:
    """(version, content hash) of the records that exist, by record id."""
    found: dict[str, tuple[int, str | None]] = {}
    unique = list(dict.fromkeys(record_ids))
    if not unique:
        return found
    rows = conn.execute(
        select(
            source_records.c.record_id, source_records.c.version, source_records.c.content_hash
        ).where(
            source_records.c.source_id == source_id,
            key_in(conn, source_records.c.record_id, unique),
        )
    )
    for row in rows:
        found[row.record_id] = (int(row.version), row.content_hash)
    return found
