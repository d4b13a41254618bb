"""Apply record entries of the log to the source records: standardize, keep the newest.

Run by the log processor in its transaction, for a file import, a database import and a
webhook alike (one code path for batch and real time). An entry whose content the record
already has changes nothing, so replays and retries are harmless.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from sqlalchemy import Connection, delete, select

from c360.eventlog.model import StoredEvent
from c360.ingest.records import MappingVersion, mapping_versions
from c360.standardize.records import StandardizedRecord, standardize_row
from c360.storage.dialect import insert_many_ignoring_duplicates, key_in, upsert_many
from c360.storage.tables import record_identifiers, source_records


@dataclass(slots=True)
class _Current:
    version: int
    content_hash: str
    first_seq: int


@dataclass(frozen=True, slots=True)
class ChangedRecord:
    """A record whose content changed, as identity resolution needs it."""

    source_id: int
    record_id: str
    kind: str
    fields: dict[str, Any]
    identifiers: list[tuple[str, str]]
    seq: int
    at_us: int
    first_seq: int


class Standardizer(Protocol):
    """Turns logged rows into standardized records (in line, or spread over processes)."""

    def standardize(
        self, items: Sequence[tuple[MappingVersion, str]]
    ) -> list[StandardizedRecord]: ...


class InlineStandardizer:
    """Standardizes in the calling thread (the server's worker, small imports)."""

    def standardize(self, items: Sequence[tuple[MappingVersion, str]]) -> list[StandardizedRecord]:
        return [
            standardize_row(m.mapping, m.fingerprint, orjson.loads(payload)["row"])
            for m, payload in items
        ]


INLINE = InlineStandardizer()


def apply_records(
    conn: Connection, events: Sequence[StoredEvent], standardizer: Standardizer = INLINE
) -> list[ChangedRecord]:
    """Apply record entries in log order; return the records that changed (newest version)."""
    if not events:
        return []
    decoded = [(event, orjson.loads(event.payload)) for event in events]
    mappings = mapping_versions(conn, {(e.source_id, int(p["mapping"])) for e, p in decoded})
    current = _load_current(conn, {(e.source_id, p["record_id"]) for e, p in decoded})
    # First which entries change their record (and to which version), then the standardizing
    # of just those, which is most of the work and may run in other processes.
    todo: list[tuple[StoredEvent, dict[str, Any], MappingVersion, _Current | None]] = []
    for event, payload in decoded:
        key = (event.source_id, payload["record_id"])
        known = current.get(key)
        if known is not None and known.content_hash == payload["hash"]:
            continue
        mapping = mappings.get((event.source_id, int(payload["mapping"])))
        if mapping is None:
            raise LookupError(f"mapping version {payload['mapping']} of the source is missing")
        todo.append((event, payload, mapping, known))
        version = (known.version if known else 0) + 1
        first_seq = known.first_seq if known else event.seq
        current[key] = _Current(version, payload["hash"], first_seq)
    if not todo:
        return []
    records = standardizer.standardize([(m, e.payload) for e, _, m, _ in todo])
    changed: dict[tuple[int, str], dict[str, Any]] = {}
    identifiers: dict[tuple[int, str], list[tuple[str, str]]] = {}
    replaced: set[tuple[int, str]] = set()
    for (event, payload, mapping, known), record in zip(todo, records, strict=True):
        key = (event.source_id, payload["record_id"])
        previous = changed.get(key)
        row = _record_row(event, payload, mapping, record, previous, known)
        changed[key] = row
        identifiers[key] = record.identifiers
        if known is not None:
            replaced.add(key)
    _delete_identifiers(conn, replaced)
    upsert_many(conn, source_records, list(changed.values()))
    insert_many_ignoring_duplicates(
        conn,
        record_identifiers,
        [
            {"type": t, "value": v, "source_id": key[0], "record_id": key[1]}
            for key, found in identifiers.items()
            for t, v in found
        ],
    )
    return [
        ChangedRecord(
            key[0],
            key[1],
            row["kind"],
            row["fields"],
            identifiers[key],
            row["last_seq"],
            row["updated_at_us"],
            row["first_seq"],
        )
        for key, row in changed.items()
    ]


def _record_row(
    event: StoredEvent,
    payload: dict[str, Any],
    mapping: MappingVersion,
    record: StandardizedRecord,
    previous: dict[str, Any] | None,
    known: _Current | None,
) -> dict[str, Any]:
    """The record's new row; ``previous`` is its row from earlier in the same batch."""
    if previous is not None:
        version, first_seq = previous["version"] + 1, previous["first_seq"]
    else:
        version = (known.version if known else 0) + 1
        first_seq = known.first_seq if known else event.seq
    return {
        "source_id": event.source_id,
        "record_id": payload["record_id"],
        "kind": payload["kind"],
        "fields": record.fields,
        "raw": record.raw,
        "flags": record.flags,
        "extra": record.extra,
        "content_hash": payload["hash"],
        "version": version,
        "mapping_version": mapping.version,
        "first_seq": first_seq,
        "last_seq": event.seq,
        "updated_at_us": event.received_at_us,
        "origin": payload.get("origin"),
    }


def _load_current(conn: Connection, keys: set[tuple[int, str]]) -> dict[tuple[int, str], _Current]:
    found: dict[tuple[int, str], _Current] = {}
    for source_id, record_ids in _by_source(keys).items():
        rows = conn.execute(
            select(
                source_records.c.record_id,
                source_records.c.version,
                source_records.c.content_hash,
                source_records.c.first_seq,
            ).where(
                source_records.c.source_id == source_id,
                key_in(conn, source_records.c.record_id, record_ids),
            )
        )
        for row in rows:
            found[(source_id, row.record_id)] = _Current(
                row.version, row.content_hash, row.first_seq
            )
    return found


def _delete_identifiers(conn: Connection, keys: set[tuple[int, str]]) -> None:
    for source_id, record_ids in _by_source(keys).items():
        conn.execute(
            delete(record_identifiers).where(
                record_identifiers.c.source_id == source_id,
                key_in(conn, record_identifiers.c.record_id, record_ids),
            )
        )


def _by_source(keys: set[tuple[int, str]]) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = {}
    for source_id, record_id in keys:
        grouped.setdefault(source_id, []).append(record_id)
    return grouped


def iter_records(
    conn: Connection, source_id: int, *, kind: str | None = None, batch_size: int = 2000
) -> Iterator[dict[str, Any]]:
    """Every current record of a source in record id order, read in pages (keyset)."""
    after: str | None = None
    while True:
        query = select(*source_records.c).where(source_records.c.source_id == source_id)
        if kind is not None:
            query = query.where(source_records.c.kind == kind)
        if after is not None:
            query = query.where(source_records.c.record_id > after)
        rows = conn.execute(query.order_by(source_records.c.record_id).limit(batch_size))
        page = [dict(row) for row in rows.mappings()]
        if not page:
            return
        yield from page
        after = page[-1]["record_id"]
