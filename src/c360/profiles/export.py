"""Profiles as files: every live profile with its golden record, and a segment's members as
CSV or JSON Lines (the CLI and the API write the same lines)."""

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from c360.kernel.clock import isoformat_us
from c360.privacy.consent import permits
from c360.privacy.restrict import restricted
from c360.profiles.golden import display_name, golden_values
from c360.segments.evaluate import MISSING, lookup
from c360.storage.dialect import key_in
from c360.storage.tables import identity_nodes, profiles

EXPORT_COLUMNS = ("profile_id", "entered_at", "name", "email", "phone", "country")
EXPORT_PURPOSE = "marketing"
"""The consent an export needs unless it names another: exported audiences are used for
campaigns (docs/consent.md)."""


def iter_profiles(conn: Connection, batch_size: int = 5_000) -> Iterator[dict[str, Any]]:
    """Live profiles in id order, with how many records and identities each holds."""
    after = ""
    while True:
        rows = conn.execute(
            select(
                profiles.c.id,
                profiles.c.household_id,
                profiles.c.created_seq,
                profiles.c.updated_seq,
                profiles.c.traits,
                profiles.c.golden,
            )
            .where(profiles.c.merged_into.is_(None), profiles.c.id > after)
            .order_by(profiles.c.id)
            .limit(batch_size)
        ).all()
        if not rows:
            return
        counts: dict[str, int] = dict(
            conn.execute(
                select(identity_nodes.c.profile_id, func.count())
                .where(identity_nodes.c.profile_id.in_([r.id for r in rows]))
                .group_by(identity_nodes.c.profile_id)
            ).all()
        )
        for row in rows:
            yield {
                "id": row.id,
                "household_id": row.household_id,
                "created_seq": row.created_seq,
                "updated_seq": row.updated_seq,
                "records": counts.get(row.id, 0),
                "traits": row.traits or {},
                "golden": row.golden,
            }
        after = rows[-1].id


def people(conn: Connection, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each profile's values (the view's ``v``, else its golden values) by id."""
    wanted = sorted(set(ids))
    out: dict[str, dict[str, Any]] = {}
    if not wanted:
        return out
    rows = conn.execute(
        select(profiles.c.id, profiles.c.attributes, profiles.c.golden).where(
            key_in(conn, profiles.c.id, wanted)
        )
    )
    for pid, attributes, golden in rows:
        out[pid] = values_of(attributes) or golden_values(golden)
    return out


def values_of(attributes: Any) -> dict[str, Any]:
    """The values of a profile's view document (``{"v": {...}}``)."""
    values = attributes.get("v") if isinstance(attributes, dict) else None
    return values if isinstance(values, dict) else {}


def parse_traits(traits: str | None) -> list[str]:
    """``a,b.c`` as names (dotted paths into the profile's values)."""
    names = [t.strip() for t in (traits or "").split(",") if t.strip()]
    return list(dict.fromkeys(names))


def member_row(
    profile_id: str, entered_at_us: int, attributes: Any, traits: list[str]
) -> dict[str, Any]:
    """One exported member: the fixed columns, then each trait asked for."""
    values = values_of(attributes)
    row: dict[str, Any] = {
        "profile_id": profile_id,
        "entered_at": isoformat_us(entered_at_us),
        "name": display_name(values),
        "email": values.get("email"),
        "phone": values.get("phone"),
        "country": values.get("country"),
    }
    for name in traits:
        found = lookup(values, name)
        row.setdefault(name, None if found is MISSING else found)
    return row


def columns_for(traits: list[str]) -> list[str]:
    return list(EXPORT_COLUMNS) + [t for t in traits if t not in EXPORT_COLUMNS]


def csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


def csv_line(values: Iterable[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([csv_cell(v) for v in values])
    return buffer.getvalue()


def export_lines(
    chunks: Iterable[list[Any]], file_format: str, traits: list[str]
) -> Iterator[tuple[str, int]]:
    """The export's text, a chunk of members at a time, with how many members it holds
    (CSV starts with its header)."""
    columns = columns_for(traits)
    if file_format == "csv":
        yield csv_line(columns), 0
    for chunk in chunks:
        rows = [member_row(pid, at, attributes, traits) for pid, at, attributes in chunk]
        if file_format == "csv":
            text = "".join(csv_line(row[c] for c in columns) for row in rows)
        else:
            text = "".join(orjson.dumps(row).decode() + "\n" for row in rows)
        yield text, len(rows)


@dataclass(slots=True)
class LeftOut:
    """Members an export left out, and why."""

    consent: int = 0
    """Without consent to the export's purpose (on its channel, when it names one)."""
    restricted: int = 0
    """Whose processing is restricted."""


def permitted(
    conn: Connection,
    chunks: Iterable[list[Any]],
    purpose: str | None,
    channel: str | None,
    left_out: LeftOut,
) -> Iterator[list[Any]]:
    """The members of ``chunks`` (``(profile id, entered at, view document)``) an export may
    hold: consent to ``purpose`` checked at the moment of export, restricted people never;
    the rest are counted in ``left_out``."""
    for chunk in chunks:
        held = restricted(conn, [row[0] for row in chunk])
        kept = []
        for row in chunk:
            if row[0] in held:
                left_out.restricted += 1
            elif not permits(row[2], purpose, channel):
                left_out.consent += 1
            else:
                kept.append(row)
        yield kept
