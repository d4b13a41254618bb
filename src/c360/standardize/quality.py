"""The data quality report: how complete, valid, consistent and fresh each source's data is.

Per source and mapped field: completeness (share of records with a value), validity (share of
those values that standardized), duplicates within the source (identifier values held by more
than one record), conflicts with other sources (records of two sources that share a key
identifier but disagree on the field). Per source: records, last data received, quarantine,
and the consent statements it sent about purposes that are not configured (kept in the
ledger, counted here so they are seen).
Computed in SQL over the source records, so it costs a few scans, not a Python loop per row.
"""

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, and_, func, select, type_coerce

from c360.eventlog.service import list_sources
from c360.ingest.mapping import Mapping
from c360.ingest.records import latest_mappings_by_kind
from c360.ingest.schema import IDENTIFIER_TYPES
from c360.kernel.clock import isoformat_us
from c360.privacy.consent import unconfigured
from c360.storage.dialect import key_in
from c360.storage.sealing import sealing_on
from c360.storage.tables import Json, event_log, record_identifiers, rejects, source_records

KEY_TYPES = ("national_id", "email")
"""Identifiers that name one person across sources: two sources sharing one should agree.
(Customer ids are left out: each system numbers its own customers, and two numbering schemes
can collide.)"""

DUPLICATE_KINDS = ("contact", "subscription")
"""Kinds with one record per person, where two records sharing an identifier are duplicates
(two orders with one phone are one customer buying twice, not a duplicate)."""

COMPARED_FIELDS = ("phone", "email", "address_line1", "postal_code", "province", "birth_date")
"""Fields whose disagreement between sources is reported as a conflict."""


@dataclass(slots=True)
class FieldQuality:
    kind: str
    field: str
    section: str
    type: str
    present: int
    valid: int
    completeness: float
    validity: float | None
    duplicates: int | None = None
    conflicts: int | None = None


@dataclass(slots=True)
class SourceQuality:
    source: str
    records: int
    kinds: dict[str, int]
    last_received_at: str | None
    last_record_change_at: str | None
    quarantined_open: int
    quarantined_resolved: int
    quarantine_reasons: dict[str, int]
    fields: list[FieldQuality] = field(default_factory=list)
    unconfigured_purposes: dict[str, int] = field(default_factory=dict)
    """Consent ledger entries from this source per purpose that is not configured."""


def quality_report(conn: Connection) -> list[SourceQuality]:
    """The report for every source, by source name."""
    last_received = _last_received(conn)
    duplicates = _duplicates(conn)
    quarantine = _quarantine(conn)
    conflicts = _conflicts(conn)
    purposes: dict[str, dict[str, int]] = {}
    for found in unconfigured(conn):
        for name, count in found.sources.items():
            purposes.setdefault(name, {})[found.purpose] = count
    report = []
    for source in list_sources(conn):
        kinds = {
            kind: count
            for kind, count in conn.execute(
                select(source_records.c.kind, func.count())
                .where(source_records.c.source_id == source.id)
                .group_by(source_records.c.kind)
            )
        }
        changed = conn.execute(
            select(func.max(source_records.c.updated_at_us)).where(
                source_records.c.source_id == source.id
            )
        ).scalar_one_or_none()
        open_count, resolved, reasons = quarantine.get(source.id, (0, 0, {}))
        entry = SourceQuality(
            source=source.name,
            records=sum(kinds.values()),
            kinds=kinds,
            last_received_at=_iso(last_received.get(source.id)),
            last_record_change_at=_iso(changed),
            quarantined_open=open_count,
            quarantined_resolved=resolved,
            quarantine_reasons=reasons,
            unconfigured_purposes=purposes.get(source.name, {}),
        )
        for kind, version in sorted(latest_mappings_by_kind(conn, source.id).items()):
            entry.fields += _fields(
                conn,
                source.id,
                version.mapping,
                kinds.get(kind, 0),
                duplicates.get((source.id, kind), {}),
                conflicts.get((source.id, kind), {}),
            )
        report.append(entry)
    return report


def _present_and_flagged(
    conn: Connection, source_id: int, kind: str, names: list[str]
) -> list[int]:
    """Per field name: records holding a raw value, then records flagging it. Counted in the
    database, or, with the raw values sealed at rest, here."""
    where = (source_records.c.source_id == source_id, source_records.c.kind == kind)
    if not sealing_on():
        raw = type_coerce(source_records.c.raw, Json)
        columns = []
        for name in names:
            columns.append(func.count(raw[name].as_string()))
            columns.append(func.count(source_records.c.flags[name].as_string()))
        return [int(n) for n in conn.execute(select(*columns).where(*where)).one()]
    counts = [0] * (2 * len(names))
    rows = select(source_records.c.raw, source_records.c.flags).where(*where)
    for raw_values, flags in conn.execute(rows.execution_options(yield_per=1000)):
        for index, name in enumerate(names):
            counts[2 * index] += raw_values.get(name) is not None
            counts[2 * index + 1] += (flags or {}).get(name) is not None
    return counts


def _fields(
    conn: Connection,
    source_id: int,
    mapping: Mapping,
    records: int,
    duplicates: dict[str, int],
    conflicts: dict[str, int],
) -> list[FieldQuality]:
    if not records:
        return []
    wanted = [
        (section, name, mapping.field_type(section, name, spec))
        for section, name, spec in mapping.mapped_fields()
        if not (section == "identifiers" and name in mapping.fields)
    ]
    if not wanted:
        return []
    kind = mapping.kind.value
    counts = _present_and_flagged(conn, source_id, kind, [name for _, name, _ in wanted])
    result = []
    for index, (section, name, type_name) in enumerate(wanted):
        present, flagged = int(counts[2 * index]), int(counts[2 * index + 1])
        valid = present - flagged
        result.append(
            FieldQuality(
                kind=kind,
                field=name,
                section=section,
                type=type_name,
                present=present,
                valid=valid,
                completeness=round(present / records, 4),
                validity=round(valid / present, 4) if present else None,
                duplicates=duplicates.get(name, 0)
                if kind in DUPLICATE_KINDS and name in IDENTIFIER_TYPES
                else None,
                conflicts=conflicts.get(name, 0) if name in COMPARED_FIELDS else None,
            )
        )
    return result


def _duplicates(conn: Connection) -> dict[tuple[int, str], dict[str, int]]:
    """Per source and kind, per identifier type: values held by more than one record."""
    holders = record_identifiers.join(
        source_records,
        and_(
            source_records.c.source_id == record_identifiers.c.source_id,
            source_records.c.record_id == record_identifiers.c.record_id,
        ),
    )
    shared = (
        select(
            record_identifiers.c.source_id,
            source_records.c.kind,
            record_identifiers.c.type,
            record_identifiers.c.value,
        )
        .select_from(holders)
        .where(source_records.c.kind.in_(DUPLICATE_KINDS))
        .group_by(
            record_identifiers.c.source_id,
            source_records.c.kind,
            record_identifiers.c.type,
            record_identifiers.c.value,
        )
        .having(func.count() > 1)
        .subquery()
    )
    rows = conn.execute(
        select(shared.c.source_id, shared.c.kind, shared.c.type, func.count()).group_by(
            shared.c.source_id, shared.c.kind, shared.c.type
        )
    )
    found: dict[tuple[int, str], dict[str, int]] = {}
    for source_id, kind, type_name, count in rows:
        found.setdefault((source_id, kind), {})[type_name] = int(count)
    return found


def _conflicts(conn: Connection) -> dict[tuple[int, str], dict[str, int]]:
    """Per source, kind and field: key identifiers shared with another source that disagrees.
    Compared in the database, or, with the records' fields sealed at rest, here."""
    if sealing_on():
        return _conflicts_read(conn)
    mine, theirs = record_identifiers.alias("mine"), record_identifiers.alias("theirs")
    mine_rec, theirs_rec = source_records.alias("mine_rec"), source_records.alias("theirs_rec")
    found: dict[tuple[int, str], dict[str, int]] = {}
    for name in COMPARED_FIELDS:
        mine_value = type_coerce(mine_rec.c.fields, Json)[name].as_string()
        theirs_value = type_coerce(theirs_rec.c.fields, Json)[name].as_string()
        query = (
            select(mine.c.source_id, mine_rec.c.kind, func.count(func.distinct(mine.c.value)))
            .select_from(mine)
            .join(theirs, _same_key_elsewhere(mine, theirs))
            .join(
                mine_rec,
                and_(
                    mine_rec.c.source_id == mine.c.source_id,
                    mine_rec.c.record_id == mine.c.record_id,
                ),
            )
            .join(
                theirs_rec,
                and_(
                    theirs_rec.c.source_id == theirs.c.source_id,
                    theirs_rec.c.record_id == theirs.c.record_id,
                ),
            )
            .where(
                mine.c.type.in_(KEY_TYPES),
                mine_value.is_not(None),
                theirs_value.is_not(None),
                mine_value != theirs_value,
            )
            .group_by(mine.c.source_id, mine_rec.c.kind)
        )
        for source_id, kind, count in conn.execute(query):
            found.setdefault((source_id, kind), {})[name] = int(count)
    return found


def _same_key_elsewhere(mine: Any, theirs: Any) -> Any:
    """Join condition: ``theirs`` holds ``mine``'s identifier in another source."""
    return and_(
        theirs.c.type == mine.c.type,
        theirs.c.value == mine.c.value,
        theirs.c.source_id != mine.c.source_id,
    )


def _conflicts_read(conn: Connection) -> dict[tuple[int, str], dict[str, int]]:
    """:func:`_conflicts`, the records' fields opened and compared here."""
    mine, theirs = record_identifiers.alias("mine"), record_identifiers.alias("theirs")
    pairs = conn.execute(
        select(
            mine.c.source_id, mine.c.record_id, mine.c.value, theirs.c.source_id, theirs.c.record_id
        )
        .join(theirs, _same_key_elsewhere(mine, theirs))
        .where(mine.c.type.in_(KEY_TYPES))
    ).all()
    wanted = {(s, r) for p in pairs for s, r in ((p[0], p[1]), (p[3], p[4]))}
    records: dict[tuple[int, str], tuple[str, dict[str, Any]]] = {}
    for source_id in {s for s, _ in wanted}:
        ids = sorted(r for s, r in wanted if s == source_id)
        for start in range(0, len(ids), 2000):
            rows = conn.execute(
                select(
                    source_records.c.record_id, source_records.c.kind, source_records.c.fields
                ).where(
                    source_records.c.source_id == source_id,
                    key_in(conn, source_records.c.record_id, ids[start : start + 2000]),
                )
            )
            for record_id, kind, fields in rows:
                records[(source_id, record_id)] = (kind, fields or {})
    values: dict[tuple[int, str], dict[str, set[str]]] = {}
    for mine_source, mine_id, value, theirs_source, theirs_id in pairs:
        if (mine_source, mine_id) not in records or (theirs_source, theirs_id) not in records:
            continue
        kind, mine_fields = records[(mine_source, mine_id)]
        theirs_fields = records[(theirs_source, theirs_id)][1]
        for name in COMPARED_FIELDS:
            a, b = _as_string(mine_fields.get(name)), _as_string(theirs_fields.get(name))
            if a is not None and b is not None and a != b:
                values.setdefault((mine_source, kind), {}).setdefault(name, set()).add(value)
    return {k: {n: len(v) for n, v in names.items()} for k, names in values.items()}


def _as_string(value: Any) -> str | None:
    """A JSON value as the database's text extraction (``->>``) gives it."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _last_received(conn: Connection) -> dict[int, int]:
    newest = (
        select(event_log.c.source_id, func.max(event_log.c.seq).label("seq"))
        .group_by(event_log.c.source_id)
        .subquery()
    )
    rows = conn.execute(
        select(newest.c.source_id, event_log.c.received_at_us).join(
            event_log, event_log.c.seq == newest.c.seq
        )
    )
    return {s: int(t) for s, t in rows}


def _quarantine(conn: Connection) -> dict[int, tuple[int, int, dict[str, int]]]:
    rows = conn.execute(
        select(
            rejects.c.source_id,
            rejects.c.reason,
            rejects.c.resolved_at_us.is_(None).label("open"),
            func.count(),
        ).group_by(rejects.c.source_id, rejects.c.reason, rejects.c.resolved_at_us.is_(None))
    )
    found: dict[int, tuple[int, int, dict[str, int]]] = {}
    for source_id, reason, is_open, count in rows:
        open_count, resolved, reasons = found.get(source_id, (0, 0, {}))
        if is_open:
            open_count += int(count)
            reasons[reason] = reasons.get(reason, 0) + int(count)
        else:
            resolved += int(count)
        found[source_id] = (open_count, resolved, reasons)
    return found


def _iso(us: int | None) -> str | None:
    return isoformat_us(us) if us is not None else None


def as_json(report: list[SourceQuality]) -> list[dict[str, Any]]:
    """The report as plain JSON-ready dicts (the API's shape)."""
    return [asdict(entry) for entry in report]
