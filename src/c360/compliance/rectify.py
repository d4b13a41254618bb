"""Rectification: correct a person's golden-record values on their request.

The event log is the source of truth, so a correction is not an edit of the profile (which
``c360 rebuild`` would undo) but a message of c360's own appended to the log: an ``identify``
from the source ``c360-privacy`` naming the profile in ``context.externalIds`` (type
``c360_profile_id``), as activation files its messages. The log processor files it under the
profile; the golden record ranks a rectification above every source and rule
(:func:`c360.profiles.golden.golden_record`), so neither a rebuild nor a later import of older
data brings the wrong value back. A newer rectification of the same field replaces it.

Values are standardized here with the same standardizers as imports, so what is stored is
canonical (E.164 phones, ISO dates) and a malformed value is refused before anything is written.
"""

import difflib
import hashlib
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, select

from c360.activation.outbox import activation_event
from c360.errors import InvalidInput
from c360.eventlog.model import LogRow
from c360.eventlog.service import append, ensure_source
from c360.identity.service import Resolver
from c360.ingest.schema import PERSON_FIELDS
from c360.kernel.clock import system_clock
from c360.profiles.golden import (
    ADDRESS_GROUP,
    NAME_GROUP,
    SURVIVING_FIELDS,
    golden_values,
    parse_rules,
)
from c360.profiles.model import RECTIFICATION_SOURCE
from c360.profiles.service import get_profile
from c360.standardize import STANDARDIZERS, full_name_parts
from c360.storage.tables import event_log

_NAME_PARTS = ("first_name", "middle_name", "last_name")
_HINTS = {
    "invalid_phone": "give the number with its country code, e.g. +66812345678",
    "invalid_date": "give the date as YYYY-MM-DD, e.g. 1987-03-15",
    "invalid_email": "give an address like name@example.com",
}


def rectify(
    conn: Connection, profile_id: str, changes: Mapping[str, Any], *, request_id: int
) -> dict[str, Any]:
    """Correct golden-record values of ``profile_id`` (field -> correct value) for privacy
    request ``request_id``; return what changes (field, old value, new value).

    The correction takes effect when the log processor reaches the appended message (the
    report's ``seq``). ``None`` removes a part of a name or an address (they survive together,
    from one record); any other field needs its correct value. Every problem is reported at
    once, naming the field, and nothing is written then.
    """
    profile = get_profile(conn, profile_id)  # follows merges; NotFound for an unknown id
    current = golden_values(profile.golden)
    if not changes:
        raise InvalidInput("rectification: give at least one field and its correct value")
    rules = parse_rules(Resolver.load(conn).config.survivorship or {})
    known = (*SURVIVING_FIELDS, *rules.extra_fields)
    region = _region(changes, current)
    standardized: dict[str, Any] = {}
    problems: list[str] = []
    for field, value in changes.items():
        problem = _check_field(field, value, known)
        if problem is not None:
            problems.append(problem)
            continue
        if value is None:
            standardized[field] = None
            continue
        result, problem = _standardize(field, value, region)
        if problem is not None:
            problems.append(problem)
        else:
            standardized[field] = result
    if problems:
        raise InvalidInput("rectification refused: " + "; ".join(problems))
    values = _with_groups(standardized, current)
    report = [
        {"field": field, "old": current.get(field), "new": value}
        for field, value in values.items()
        if field in standardized or current.get(field) != value
    ]
    traits = {k: v for k, v in values.items() if v is not None}
    if not traits:
        raise InvalidInput(
            "rectification: nothing would be left to record (a field cannot be emptied; give "
            "its correct value, or ask for erasure or restriction instead)"
        )
    seq, message_id = _append(conn, profile.id, traits, request_id)
    return {
        "profile_id": profile.id,
        "request_id": request_id,
        "message_id": message_id,
        "seq": seq,
        "changes": report,
        "changed": [r["field"] for r in report if r["old"] != r["new"]],
    }


def _check_field(field: str, value: Any, known: tuple[str, ...]) -> str | None:
    if field not in known:
        if field in ("customer_id", "created_at", "updated_at"):
            return f"{field}: describes a source's record, not the person; it cannot be rectified"
        close = difflib.get_close_matches(field, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{field}: not a field of the golden record{hint}"
    if value is None and field not in NAME_GROUP and field not in ADDRESS_GROUP:
        return (
            f"{field}: give the correct value (a value cannot be emptied by rectification; "
            "ask for erasure or restriction instead)"
        )
    if value is not None and not isinstance(value, str | int | float):
        return f"{field}: give the value as text, not {type(value).__name__}"
    return None


def _region(changes: Mapping[str, Any], current: Mapping[str, Any]) -> str | None:
    """The country a local phone number is read in: the corrected one, else the profile's."""
    for given in (changes.get("country"), current.get("country")):
        found = STANDARDIZERS["country"](given) if given else None
        if found is not None and found.ok and found.value:
            return str(found.value)
    return None


def _standardize(field: str, value: Any, region: str | None) -> tuple[Any, str | None]:
    """The canonical value, or a message naming the field and what is wrong."""
    kind = PERSON_FIELDS.get(field, "text")
    options: dict[str, Any] = {}
    if kind == "phone":
        text = str(value).strip()
        if region is None and not text.startswith("+"):
            return None, (
                f"phone: {text!r} has no country code and the profile has no country; "
                f"{_HINTS['invalid_phone']}"
            )
        options = {"default_region": region} if region else {}
    elif kind in ("province", "postal_code", "national_id") and region:
        options = {"country": region}
    elif kind == "date":
        options = {"day_first": True}
    result = STANDARDIZERS[kind](value, **options)
    if not result.ok or result.value is None:
        hint = _HINTS.get(result.flag or "", "give a valid value")
        return None, f"{field}: {value!r} is not a valid {kind} ({result.flag or 'empty'}); {hint}"
    return result.value, None


def _with_groups(standardized: dict[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The values the rectification records: name and address parts survive together from
    one record, so a corrected part carries the profile's other parts with it."""
    values = dict(standardized)
    for group in (NAME_GROUP, ADDRESS_GROUP):
        if not any(part in standardized for part in group):
            continue
        for part in group:
            if part not in values and current.get(part) is not None:
                values[part] = current[part]
    if any(part in standardized for part in _NAME_PARTS) and "full_name" not in standardized:
        values["full_name"] = _full_name(values, current)
    elif standardized.get("full_name") and not any(p in standardized for p in _NAME_PARTS):
        # a corrected full name gives its parts (the old parts would contradict it)
        for part, text in full_name_parts(standardized["full_name"]).items():
            values[part] = text or None
    return values


def _full_name(values: Mapping[str, Any], current: Mapping[str, Any]) -> str | None:
    """The profile's full name with its corrected parts put in place of the old ones, in
    the order it was written (Vietnamese family name first, Thai given name first); None
    (no full name) when the old one does not read as its old parts."""
    full = current.get("full_name")
    if not isinstance(full, str):
        return None
    tokens = full.split(" ")
    for part in _NAME_PARTS:
        old, new = current.get(part), values.get(part)
        if old == new:
            continue
        if old is None:
            return None  # a part added: where it goes in the written name is unknown
        old_tokens = str(old).split(" ")
        at = next(
            (i for i in range(len(tokens)) if tokens[i : i + len(old_tokens)] == old_tokens),
            None,
        )
        if at is None:
            return None
        replacement = str(new).split(" ") if new else []
        tokens[at : at + len(old_tokens)] = replacement
    return " ".join(t for t in tokens if t) or None


def _append(
    conn: Connection, profile_id: str, traits: dict[str, Any], request_id: int
) -> tuple[int, str]:
    """Log the rectification; the same request with the same values is logged once."""
    digest = hashlib.sha256(orjson.dumps(traits, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    message_id = f"rectify:{request_id}:{profile_id}:{digest}"
    now = system_clock()
    body = activation_event(profile_id, "", {}, message_id, now, kind="identify", traits=traits)
    body["context"]["privacy_request_id"] = request_id
    source = ensure_source(conn, RECTIFICATION_SOURCE)
    row: LogRow = {
        "source_id": source.id,
        "message_id": message_id,
        "type": "identify",
        "received_at_us": now,
        "sent_at_us": None,
        "original_timestamp_us": now,
        "timestamp_us": now,
        "payload": orjson.dumps(body).decode(),
    }
    append(conn, [row], [])
    seq = conn.execute(
        select(event_log.c.seq).where(
            event_log.c.source_id == source.id, event_log.c.message_id == message_id
        )
    ).scalar_one()
    return int(seq), message_id
