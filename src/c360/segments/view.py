"""What conditions read about a profile: one JSON document per profile, built in Python when the
profile is refreshed and stored in ``profiles.attributes``.

Both evaluators read the same document, so the work of typing values is done once, here::

    {
      "v": {...},   # the values: tracked traits, then golden values, then computed traits
                    # (a later one wins a name), and "identifiers": {type: [values]}
      "t": {...},   # every time-like value as epoch microseconds, by dotted path: ISO dates
                    # and datetimes, and computed "*_at_us" values (also under "*_at")
      "d": {...},   # the month and day ("05-31") of each time-like value, for anniversaries
      "c": {...},   # consent: {purpose: {"*": bool, channel: bool}}, newest statement wins
                    # (c360.privacy.consent: an unsubscribed channel is false for marketing)
      "s": {...}    # channel subscriptions: {channel: "subscribed" | "unsubscribed"}
    }

Dates without a time are midnight UTC and keep their own month and day; datetimes without an
offset are UTC.

Text comparisons that ignore case or accents use :func:`fold`, a character-for-character
table that the SQL side applies with ``translate`` (PostgreSQL) or the same table (SQLite), so
both sides fold identically.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from c360.kernel.clock import from_us, system_clock
from c360.kernel.textfold import FOLD_TABLES, fold, fold_pairs
from c360.privacy import consent as consent_rules

__all__ = ["FOLD_TABLES", "build_view", "consent_statements", "fold", "fold_pairs", "time_of"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$"
)
_DEPTH = 6


def build_view(
    traits: Mapping[str, Any],
    golden: Mapping[str, Any],
    computed: Mapping[str, Any],
    identifiers: Iterable[tuple[str, str]],
    consent: Mapping[str, Mapping[str, bool]],
    subscriptions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The document conditions read (see the module docstring)."""
    values: dict[str, Any] = {}
    for part in (traits, golden, computed):
        values.update({k: v for k, v in part.items() if v is not None})
    by_type: dict[str, list[str]] = {}
    for id_type, value in identifiers:
        by_type.setdefault(id_type, []).append(value)
    values["identifiers"] = {t: sorted(set(v)) for t, v in sorted(by_type.items())}
    times: dict[str, int] = {}
    days: dict[str, str] = {}
    _collect_times(values, "", times, days, 0)
    view = {"v": values, "t": times, "d": days, "c": {p: dict(c) for p, c in consent.items()}}
    if subscriptions:
        view["s"] = dict(subscriptions)
    return view


def _collect_times(
    data: Mapping[str, Any], prefix: str, times: dict[str, int], days: dict[str, str], depth: int
) -> None:
    if depth > _DEPTH:
        return
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _collect_times(value, path + ".", times, days, depth + 1)
            continue
        moment = time_of(key, value)
        if moment is None:
            continue
        instant, month_day = moment
        times[path] = instant
        days[path] = month_day
        if key.endswith("_at_us"):
            times[path[: -len("_us")]] = instant
            days[path[: -len("_us")]] = month_day


def time_of(key: str, value: Any) -> tuple[int, str] | None:
    """(epoch microseconds, "MM-DD") of a time-like value, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and key.endswith("_at_us"):
        try:
            moment = from_us(value)
        except (OverflowError, ValueError, OSError):
            return None
        return value, moment.strftime("%m-%d")
    if not isinstance(value, str) or len(value) > 40:
        return None
    if _DATE.match(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return None
        instant = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return _us(instant), value[5:10]
    if _DATETIME.match(value):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return _us(parsed), parsed.astimezone(UTC).strftime("%m-%d")
    return None


def _us(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# --- consent -------------------------------------------------------------------------------


def consent_statements(
    events: Iterable[Any], records: Iterable[Any], now_us: int | None = None
) -> dict[str, dict[str, bool]]:
    """Consent per purpose and channel (the view's ``"c"``), from the same statements the
    consent ledger holds (:func:`c360.privacy.consent.extract`, one code path): the newest
    statement wins, a channel's unsubscription blocks marketing on it, and a grant expired
    at ``now_us`` (default: now) counts as not given.

    ``events`` are :class:`c360.profiles.traits.EventFact`, ``records`` are
    :class:`c360.profiles.traits.RecordFact` or ``(kind, fields, at_us)``."""
    now = system_clock() if now_us is None else now_us
    facts = [_Record(*r) if isinstance(r, tuple) else r for r in records]
    return consent_rules.fold(consent_rules.extract(events, facts), now).consent


@dataclass(frozen=True, slots=True)
class _Record:
    """A record given as ``(kind, fields, at_us)``: from no named source."""

    kind: str
    fields: Mapping[str, Any]
    updated_at_us: int
    source: str = ""
    record_id: str = ""
