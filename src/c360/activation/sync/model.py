"""What two-way sync works with: destinations, their field rules, what c360 knows of each app
row, and what a target (a table, a REST API) must do. No SQL, no I/O."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from c360.errors import UpstreamError


class Ownership(StrEnum):
    """Which side wins a field."""

    C360 = "c360"
    """c360 writes it to the app; the app's own changes to it are ignored (and recorded) on
    the way in, and overwritten by the next push."""
    APP = "app"
    """The app's: c360 never writes it, the app's changes come in as any source's do."""
    NEWEST = "newest"
    """Whichever side c360 saw change last: the app's change comes in, and c360 writes a
    golden value only when it is newer than the app's last change of the field."""


class ConflictOutcome(StrEnum):
    IGNORED_C360_OWNS = "ignored_c360_owns"
    """The app changed a field c360 owns: c360's value was kept and is written back."""
    KEPT_APP_NEWER = "kept_app_newer"
    """A ``newest`` field the app changed after c360's value: the app's value was kept."""


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One synced field: a golden value (``address_line1``, ``delivery_address.postal_code``)
    and the app's column (or JSON field) that holds it."""

    path: str
    column: str
    owner: Ownership

    @property
    def field(self) -> str:
        """The golden field the path starts with (``delivery_address``)."""
        return self.path.partition(".")[0]

    @property
    def part(self) -> str | None:
        """The part of an object value (``postal_code`` of an address), or None."""
        return self.path.partition(".")[2] or None


@dataclass(frozen=True, slots=True)
class TableSpec:
    """Another application's table: rows upserted by ``key``, read back past ``cursor``."""

    url: str
    """SQLAlchemy URL without a password (the password is the secret ``password_secret``)."""
    table: str
    key: str
    cursor: str | None = None
    version_column: str | None = None
    password_secret: str | None = None
    delete: bool = True
    """Erasure deletes the person's rows."""


@dataclass(frozen=True, slots=True)
class RestSpec:
    """Another application's REST API: ``{url}/{key}`` updated with ``method``, created with
    ``PUT``."""

    url: str
    method: str = "PATCH"
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    auth_secret: str | None = None
    version_field: str | None = None
    timeout_s: float = 10.0
    delete_method: str | None = None
    """How the app deletes a record on erasure (None: it cannot)."""
    delete_path: str | None = None
    """Where: ``{key}`` under ``url``, or an absolute path on its host."""


@dataclass(frozen=True, slots=True)
class Destination:
    """A business app c360 keeps in step with the golden record, and how far it has got."""

    id: int
    name: str
    kind: str
    """``table`` or ``rest``."""
    source_id: int
    source: str
    """The app's source in c360: its record ids are the app's keys."""
    record_kind: str | None
    """Only the source's records of this kind are rows of the app (None: every kind)."""
    rules: tuple[FieldRule, ...]
    create_missing: bool
    table: TableSpec | None
    rest: RestSpec | None
    mapping_text: str | None
    """How the app's table is read back as the source (a mapping, ``docs/sources.md``)."""
    config: dict[str, Any]
    created_at_us: int
    updated_at_us: int
    disabled_at_us: int | None
    cursor: int
    """The last change id taken from the feed."""
    attempts: int
    next_attempt_us: int | None
    failing_since_us: int | None
    last_error: str | None
    pulled_at_us: int | None
    pull_attempts: int
    next_pull_us: int | None
    pull_error: str | None
    country: str | None = None
    """ISO 3166 alpha-2 code of where the app is hosted (None: not stated)."""

    @property
    def deletes(self) -> bool:
        """Whether the app can delete a record when c360 erases a person."""
        if self.table is not None:
            return self.table.delete
        return self.rest is not None and self.rest.delete_method is not None

    @property
    def enabled(self) -> bool:
        return self.disabled_at_us is None

    @property
    def pulls(self) -> bool:
        """Whether c360 reads the app's changes back itself (tables); REST apps send theirs
        to ``/v1/webhooks/{source}``."""
        return self.table is not None and self.mapping_text is not None

    @property
    def target(self) -> str:
        """Where it writes, for people (no password)."""
        if self.table is not None:
            return f"{self.table.url}#{self.table.table}"
        assert self.rest is not None
        return self.rest.url


@dataclass(frozen=True, slots=True)
class SyncState:
    """What c360 knows of one app row: the hash of the whole row as last seen, the synced
    columns as the app had them, what c360 last wrote and when the app last changed each."""

    app_key: str
    profile_id: str | None
    seen_hash: str | None
    app_values: dict[str, Any] = field(default_factory=dict)
    pushed: dict[str, Any] = field(default_factory=dict)
    app_changed_at: dict[str, int] = field(default_factory=dict)
    version: int = 0
    pushed_at_us: int | None = None


@dataclass(frozen=True, slots=True)
class ConflictNote:
    """The app and c360 disagree on a field; ``outcome`` says which side was kept."""

    app_key: str
    column: str
    field: str
    app_value: Any
    c360_value: Any
    outcome: ConflictOutcome


@dataclass(frozen=True, slots=True)
class Conflict:
    id: int
    destination_id: int
    app_key: str
    profile_id: str | None
    column: str
    field: str
    app_value: Any
    c360_value: Any
    outcome: str
    at_us: int


@dataclass(frozen=True, slots=True)
class QueueItem:
    """A profile whose golden record is still to be pushed to a destination."""

    destination_id: int
    profile_id: str
    enqueued_at_us: int
    attempts: int
    next_attempt_us: int | None
    failing_since_us: int | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A push given up on: the app refused it, or it failed past the retry window."""

    id: int
    destination_id: int
    profile_id: str
    app_key: str | None
    attempts: int
    error: str
    at_us: int


@dataclass(frozen=True, slots=True)
class Upserted:
    """What a target did with one row: the row before and after (None where the target
    cannot read rows, or there was none) and the values it wrote (empty: nothing to write)."""

    before: dict[str, Any] | None
    after: dict[str, Any] | None
    written: dict[str, Any]
    created: bool = False


Decide = Callable[[Mapping[str, Any] | None], dict[str, Any]]
"""Given the app's current row (None: missing, or unknown to a target that cannot read rows),
the columns to write."""


class SyncFailed(UpstreamError):
    """A target could not take a row. ``retryable``: the app is down or busy (try again, not
    before ``retry_after_s``); otherwise it refused the row for good (dead-lettered)."""

    def __init__(
        self, message: str, *, retryable: bool, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.retry_after_s = retry_after_s


class SyncTarget(Protocol):
    """An app c360 writes golden values to (``c360.connectors.destinations``)."""

    @property
    def reads_rows(self) -> bool:
        """Whether ``upsert`` shows ``decide`` the app's current row (a table does; a REST API
        is only written)."""
        ...

    def upsert(self, key: str, decide: Decide, *, create: bool, version: int) -> Upserted:
        """Write the row ``key`` with what ``decide`` returns (nothing if it returns nothing),
        creating it when missing if ``create``; ``version`` is the row's sync version, carried
        by the write. Raises ``SyncFailed``."""
        ...

    def delete(self, key: str) -> bool:
        """Delete the row ``key`` (a person is erased): True when it was there, False when the
        app had no such row. Raises ``SyncFailed`` (``retryable`` when the app is down)."""
        ...

    def close(self) -> None: ...
