"""The rules of two-way sync, pure: what to write to an app row, and what of an app row that
comes back is new.

Loop prevention rests on three of them:

- **echoes**: c360 remembers a hash of each app row as it last saw it (read back, or re-read
  right after its own write). A row read back with that hash is an echo of what c360 knows,
  and is not logged again; so c360's own write never comes back as a change of the app's.
- **no needless writes**: a value is written only when the app's current value differs (and,
  for an API c360 cannot read, never back to the record the golden value came from).
- **ownership**: a field the app owns is never written; an app change to a field c360 owns
  is not taken in (it is recorded as a conflict and overwritten); for ``newest`` fields the
  side c360 saw change last wins.
"""

import hashlib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from c360.activation.sync.model import (
    ConflictNote,
    ConflictOutcome,
    FieldRule,
    Ownership,
    SyncState,
    Upserted,
)


def row_hash(row: Mapping[str, Any]) -> str:
    """A row's content as 32 hex digits (whatever its key order)."""
    body = orjson.dumps(
        dict(row), option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str
    )
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def same_value(a: Any, b: Any) -> bool:
    """Whether an app's value and c360's say the same: blank is empty, numbers and text
    compare as text (an INT postal code column holds "10110"), text in Unicode NFC."""
    return bool(_canonical(a) == _canonical(b))


def _canonical(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        text = unicodedata.normalize("NFC", value.strip())
        return text or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()
    return str(value)


def _empty(value: Any) -> bool:
    return _canonical(value) is None


@dataclass(frozen=True, slots=True)
class Desired:
    """A golden value to put in a column, with its provenance."""

    value: Any
    at_us: int
    source: str | None
    record_id: str | None


def desired_values(
    rules: Iterable[FieldRule], golden: Mapping[str, Any] | None
) -> dict[str, Desired]:
    """By column, the golden values the rules name that the profile has (an empty value is
    not a statement that the person has none, so it is never written)."""
    if not golden:
        return {}
    values = golden.get("values") or {}
    found: dict[str, Desired] = {}
    for rule in rules:
        if rule.field == "latest_delivery_address":
            latest = golden.get("latest_delivery_address") or {}
            value: Any = latest.get("parts")
            at_us, source, record_id = (
                latest.get("last_at_us"),
                latest.get("source"),
                latest.get("record_id"),
            )
        else:
            entry = values.get(rule.field) or {}
            value = entry.get("value")
            at_us, source, record_id = (
                entry.get("at_us"),
                entry.get("source"),
                entry.get("record_id"),
            )
        if rule.part is not None:
            value = value.get(rule.part) if isinstance(value, dict) else None
        if _empty(value):
            continue
        found[rule.column] = Desired(value, int(at_us or 0), source, record_id)
    return found


@dataclass(frozen=True, slots=True)
class PushPlan:
    writes: dict[str, Any] = field(default_factory=dict)
    conflicts: tuple[ConflictNote, ...] = ()
    app_changed_at: dict[str, int] = field(default_factory=dict)
    """Columns found changed by the app since c360 last saw the row (not yet read back)."""


def plan_push(
    rules: Iterable[FieldRule],
    desired: Mapping[str, Desired],
    *,
    key: str,
    source: str,
    current: Mapping[str, Any] | None,
    reads_rows: bool,
    state: SyncState | None,
    now_us: int,
) -> PushPlan:
    """The columns to write to app row ``key``: golden values (``desired``) the app does not
    have, of fields it does not own; ``current`` is the app's row (None: missing, or unknown
    when the target cannot read rows)."""
    writes: dict[str, Any] = {}
    conflicts: list[ConflictNote] = []
    app_changed: dict[str, int] = {}
    seen = state.app_values if state is not None else {}
    for rule in rules:
        want = desired.get(rule.column)
        if rule.owner is Ownership.APP or want is None:
            continue
        column = rule.column
        if (
            want.source == source
            and want.record_id == key
            and (rule.owner is Ownership.NEWEST or not reads_rows)
        ):
            # The golden value came from this very row: the app's value is the newest (and
            # an API c360 cannot read has it already). Only c360's own fields are written
            # back, in c360's standardized form.
            continue
        if current is not None:
            if same_value(current.get(column), want.value):
                continue
            have = current.get(column)
            # changed by the app since c360 last saw the row, and not read back yet
            moved = column in seen and not same_value(have, seen[column])
        elif reads_rows:
            have, moved = None, False  # the row is missing: it is created
        else:
            # An API c360 cannot read: compare with what c360 last knew the app had.
            if column in seen and same_value(seen[column], want.value):
                continue
            have, moved = seen.get(column), False
        if rule.owner is Ownership.NEWEST:
            app_at = now_us if moved else (state.app_changed_at.get(column) if state else None)
            if moved:
                app_changed[column] = now_us
            if app_at is not None and app_at >= want.at_us:
                conflicts.append(
                    ConflictNote(
                        key, column, rule.path, have, want.value, ConflictOutcome.KEPT_APP_NEWER
                    )
                )
                continue
        elif moved:
            conflicts.append(
                ConflictNote(
                    key, column, rule.path, have, want.value, ConflictOutcome.IGNORED_C360_OWNS
                )
            )
        writes[column] = want.value
    return PushPlan(writes, tuple(conflicts), app_changed)


def state_after_push(
    state: SyncState | None,
    *,
    key: str,
    profile_id: str,
    rules: Iterable[FieldRule],
    plan: PushPlan,
    upserted: Upserted,
    now_us: int,
) -> SyncState:
    """What c360 knows of the row after a push (or after deciding there was nothing to push)."""
    old = state or SyncState(app_key=key, profile_id=profile_id, seen_hash=None)
    columns = [r.column for r in rules]
    app_values = dict(old.app_values)
    seen_hash = old.seen_hash
    after = upserted.after
    if after is not None and upserted.written:
        if upserted.before is None:
            knew_row = upserted.created  # c360 made the row: all of it is c360's
        else:
            knew_row = old.seen_hash is not None and row_hash(upserted.before) == old.seen_hash
        if knew_row:
            # Nothing in the row is news to c360 but its own write: reading it back is an echo.
            seen_hash = row_hash(after)
            app_values.update({c: after.get(c) for c in columns})
        else:
            # The app changed the row since c360 last saw it: reading it back takes that in.
            app_values.update({c: after.get(c, upserted.written[c]) for c in upserted.written})
    else:
        app_values.update(upserted.written)
    return replace(
        old,
        profile_id=profile_id,
        seen_hash=seen_hash,
        app_values=app_values,
        pushed={**old.pushed, **upserted.written},
        app_changed_at={**old.app_changed_at, **plan.app_changed_at},
        version=old.version + 1 if upserted.written else old.version,
        pushed_at_us=now_us if upserted.written else old.pushed_at_us,
    )


@dataclass(frozen=True, slots=True)
class Screened:
    """An app row read back, judged against what c360 knows of it."""

    log: dict[str, Any] | None
    """The row to log as the app's record (c360-owned columns the app changed hold c360's
    value), or None when it says nothing new."""
    state: SyncState
    conflicts: tuple[ConflictNote, ...] = ()
    needs_push: bool = False
    """c360's values must be written back (the app changed a field c360 owns)."""
    echo: bool = False
    """The row is exactly as c360 last saw it (often: as c360 wrote it)."""


def screen_row(
    rules: Iterable[FieldRule],
    key: str,
    row: Mapping[str, Any],
    state: SyncState | None,
    now_us: int,
    c360_values: Mapping[str, Any] | None = None,
) -> Screened:
    """Judge app row ``key`` read back: an echo, new, or changed by the app (and by whose
    rules its changes count). ``c360_values`` are the golden values of the row's profile by
    column (``desired_values``): what a field c360 owns should hold."""
    digest = row_hash(row)
    rules = list(rules)
    if state is None:
        values = {r.column: row.get(r.column) for r in rules}
        changed_at = {c: now_us for c, v in values.items() if not _empty(v)}
        fresh = SyncState(key, None, digest, values, {}, changed_at)
        return Screened(dict(row), fresh)
    if state.seen_hash == digest:
        return Screened(None, state, echo=True)
    wanted = c360_values or {}
    logged = dict(row)
    restored = dict(row)
    app_values = dict(state.app_values)
    changed_at = dict(state.app_changed_at)
    conflicts: list[ConflictNote] = []
    for rule in rules:
        column = rule.column
        value = row.get(column)
        if column in state.app_values and same_value(value, state.app_values[column]):
            continue
        app_values[column] = value
        kept = wanted.get(column, state.app_values.get(column))
        if (
            rule.owner is Ownership.C360
            and column in state.app_values
            and not same_value(value, kept)
        ):
            # Not taken in: the row is logged with c360's value, and the push writes it back.
            conflicts.append(
                ConflictNote(key, column, rule.path, value, kept, ConflictOutcome.IGNORED_C360_OWNS)
            )
            logged[column] = kept
            restored[column] = state.app_values[column]
        else:
            changed_at[column] = now_us
    new_state = replace(state, seen_hash=digest, app_values=app_values, app_changed_at=changed_at)
    # Only ignored changes: nothing new to log.
    nothing_new = state.seen_hash is not None and row_hash(restored) == state.seen_hash
    return Screened(
        None if nothing_new else logged,
        new_state,
        tuple(conflicts),
        needs_push=bool(conflicts),
    )
