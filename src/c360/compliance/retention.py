"""Retention: policies that say how long each kind of data is kept, and the job that removes
what is older (storage limitation: GDPR 5(1)(e), PDPA s.37(3)).

Policies come from a YAML file (``C360_RETENTION_CONFIG``); without one nothing is removed.
Each policy names one kind of data and how long to keep it:

- ``events``: tracked messages of some sources (and types, event names). The log is the
  source of truth, so purging must leave a log that ``c360 rebuild`` turns into the same
  identities. An old message is deleted unless it is the only trace of something about an
  identity (the first or last message naming it, a userId/anonymousId/previousId link not
  carried by another old message, identify traits): such a message is kept *at its place in
  the log* but stripped to that identity content, as an ``identify`` (or ``alias``) stamped
  with the run's time. Behaviour and context (pages, properties, IP, user agent) go; the
  person's identity stays, with the same profile ids after a rebuild. Messages that carry a
  consent statement the ledger holds are kept whole: they are the proof of consent.
- ``records``: source records of some kinds, by when they last changed: every log version,
  their identifiers and their identity node go, and their profiles are resolved again.
- ``quarantine``, ``messages`` (final statuses only), ``changes`` (the change feed, never
  past a subscriber's cursor) and ``feedback`` (closed items): deleted by age.

Every run is recorded in ``retention_runs`` and in the audit log.
"""

import calendar
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, or_, select, update

from c360.errors import InvalidInput
from c360.eventlog.model import StoredEvent
from c360.eventlog.service import PROFILES_CHECKPOINT, STORED_COLUMNS, get_checkpoint
from c360.feedback.model import OPEN_STATUSES
from c360.identity.features import NODE_RECORD
from c360.identity.service import NodeChanges, Resolver, resolve_changed
from c360.ingest.records import RECORD_TYPE
from c360.kernel.clock import from_us, isoformat_us, system_clock, to_us
from c360.privacy import audit
from c360.profiles.model import OWN_SOURCES, previous_id_of, traits_of
from c360.profiles.refresh import refresh_profiles
from c360.profiles.service import follow_resolution, profile_handle, tracked_nodes
from c360.storage.dialect import key_in
from c360.storage.sealing import sealing_on
from c360.storage.tables import (
    consent_ledger,
    event_log,
    feedback_history,
    feedback_items,
    identity_keys,
    identity_nodes,
    identity_pairs,
    identity_reviews,
    messages,
    profile_changes,
    profile_events,
    profile_terms,
    profiles,
    record_identifiers,
    rejects,
    retention_runs,
    segment_members,
    source_records,
    sources,
    subscription_dead_letters,
    subscriptions,
    sync_destinations,
)
from c360.workers.retention import RetentionLoop

__all__ = [
    "Duration",
    "Policy",
    "PolicyOutcome",
    "RetentionReport",
    "apply_retention",
    "list_runs",
    "load_policies",
    "parse_duration",
    "start_retention_loop",
]

OWN_SOURCE_PREFIX = "c360-"
"""c360's own sources (activation, rectification, consent...): never purged by a policy that
does not name them."""
UNFINISHED_MESSAGES = ("queued", "sending", "scheduled", "waiting")
"""Outbox statuses still to be acted on: never removed by age."""
_CHUNK = 500
_US_PER_DAY = 86_400_000_000

Target = Literal["events", "records", "quarantine", "messages", "changes", "feedback"]


# --- policies ------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+)\s*(day|days|d|week|weeks|w|month|months|year|years|y)\s*$")


@dataclass(frozen=True, slots=True)
class Duration:
    """How long to keep: days and weeks are exact, months and years are calendar ones (13
    months back from 31 March is 28 or 29 February)."""

    amount: int
    unit: Literal["day", "week", "month", "year"]

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}{'' if self.amount == 1 else 's'}"

    def cutoff_us(self, now_us: int) -> int:
        """The instant ``now_us`` minus this duration: data older than it is removed."""
        if self.unit in ("day", "week"):
            days = self.amount * (7 if self.unit == "week" else 1)
            return now_us - days * _US_PER_DAY
        months = self.amount * (12 if self.unit == "year" else 1)
        moment = from_us(now_us)
        index = moment.year * 12 + moment.month - 1 - months
        year, month = divmod(index, 12)
        if year < 1:
            raise InvalidInput(f"keep {self} reaches before year 1")
        day = min(moment.day, calendar.monthrange(year, month + 1)[1])
        return to_us(moment.replace(year=year, month=month + 1, day=day))


def parse_duration(text: str) -> Duration:
    """``13 months``, ``5 years``, ``90 days``, ``2 weeks`` (singular or plural)."""
    found = _DURATION.match(str(text).lower())
    if found is None:
        raise ValueError(
            f"{text!r} is not a duration: write a whole number and days, weeks, months or years "
            "(e.g. '13 months', '90 days')"
        )
    amount = int(found.group(1))
    if amount <= 0:
        raise ValueError(f"{text!r}: keep at least 1 day")
    unit = {"d": "day", "w": "week", "y": "year"}.get(found.group(2), found.group(2).rstrip("s"))
    return Duration(amount, unit)  # type: ignore[arg-type]


class _EventScope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sources: list[str] | None = Field(None, min_length=1)
    types: list[Literal["track", "page", "screen", "identify", "group", "alias"]] | None = Field(
        None, min_length=1
    )
    names: list[str] | None = Field(None, min_length=1)


class _RecordScope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kinds: list[str] = Field(min_length=1)
    sources: list[str] | None = Field(None, min_length=1)


class _SourceScope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sources: list[str] = Field(min_length=1)


class _PolicyBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=100)
    keep: str
    events: _EventScope | None = None
    records: _RecordScope | None = None
    quarantine: bool | _SourceScope = False
    messages: bool = False
    changes: bool = False
    feedback: bool = False

    @field_validator("keep", mode="before")
    @classmethod
    def _keep(cls, value: Any) -> str:
        parse_duration(str(value))
        return str(value)

    @model_validator(mode="after")
    def _one_target(self) -> "_PolicyBody":
        targets = self.targets()
        if len(targets) != 1:
            raise ValueError(
                "a policy names exactly one kind of data: events, records, quarantine, "
                f"messages, changes or feedback (found {', '.join(targets) or 'none'})"
            )
        return self

    def targets(self) -> list[str]:
        return [
            name
            for name in ("events", "records", "quarantine", "messages", "changes", "feedback")
            if getattr(self, name) not in (None, False)
        ]


class _ConfigBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    policies: list[_PolicyBody] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> "_ConfigBody":
        seen: set[str] = set()
        for policy in self.policies:
            if policy.name in seen:
                raise ValueError(f"two policies are called {policy.name!r}: names must differ")
            seen.add(policy.name)
        return self


@dataclass(frozen=True, slots=True)
class Policy:
    """One validated policy: what (``target`` and its filters) and how long (``keep``)."""

    name: str
    target: Target
    keep: Duration
    sources: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None
    names: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None

    def describe(self) -> str:
        """What the policy applies to, in words."""
        parts: list[str] = [self.target]
        for label, values in (
            ("kinds", self.kinds),
            ("sources", self.sources),
            ("types", self.types),
            ("names", self.names),
        ):
            if values:
                parts.append(f"{label} {', '.join(values)}")
        return "; ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": self.target,
            "keep": str(self.keep),
            "sources": list(self.sources) if self.sources else None,
            "types": list(self.types) if self.types else None,
            "names": list(self.names) if self.names else None,
            "kinds": list(self.kinds) if self.kinds else None,
        }


def _policy(body: _PolicyBody) -> Policy:
    target: Target = body.targets()[0]  # type: ignore[assignment]
    keep = parse_duration(body.keep)
    if body.events is not None:
        e = body.events
        return Policy(
            body.name,
            target,
            keep,
            sources=tuple(e.sources) if e.sources else None,
            types=tuple(e.types) if e.types else None,
            names=tuple(e.names) if e.names else None,
        )
    if body.records is not None:
        r = body.records
        return Policy(
            body.name,
            target,
            keep,
            sources=tuple(r.sources) if r.sources else None,
            kinds=tuple(r.kinds),
        )
    if isinstance(body.quarantine, _SourceScope):
        return Policy(body.name, target, keep, sources=tuple(body.quarantine.sources))
    return Policy(body.name, target, keep)


def parse_policies(body: Any, where: str = "retention configuration") -> list[Policy]:
    """Validate a parsed configuration (``{"policies": [...]}``); errors name the policy and
    the key."""
    if body is None:
        return []
    if not isinstance(body, dict):
        raise InvalidInput(f"{where}: expected a mapping with a 'policies' list")
    try:
        config = _ConfigBody.model_validate(body)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            loc = list(e["loc"])
            if len(loc) >= 2 and loc[0] == "policies" and isinstance(loc[1], int):
                items = body.get("policies") or []
                name = items[loc[1]].get("name") if isinstance(items[loc[1]], dict) else None
                loc[1] = f"{loc[1] + 1}" + (f" ({name})" if name else "")
            message = str(e["msg"]).removeprefix("Value error, ")
            problems.append(f"{'.'.join(str(p) for p in loc) or '(top)'}: {message}")
        raise InvalidInput(f"{where}: {'; '.join(problems)}") from exc
    return [_policy(p) for p in config.policies]


def load_policies(path: Path | None) -> list[Policy]:
    """The policies in ``path`` (YAML); none when no file is configured."""
    if path is None:
        return []
    try:
        body = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read the retention configuration {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path} is not valid YAML: {exc}") from exc
    return parse_policies(body, str(path))


# --- reports -------------------------------------------------------------------------------


@dataclass(slots=True)
class PolicyOutcome:
    """What one policy removed (or, in a dry run, would remove)."""

    policy: Policy
    cutoff_us: int
    removed: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    kept_as_identity: int = 0
    """Old messages kept, stripped to the identity they carry (events)."""
    kept_as_consent_proof: int = 0
    """Old messages kept whole because the consent ledger cites them (events)."""
    deferred: int = 0
    """Old messages the log processor has not applied yet: the next run takes them."""
    profiles_refreshed: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy.name,
            "target": self.policy.target,
            "keep": str(self.policy.keep),
            "cutoff": isoformat_us(self.cutoff_us),
            "removed": self.removed,
            "by_source": dict(sorted(self.by_source.items())),
            "kept_as_identity": self.kept_as_identity,
            "kept_as_consent_proof": self.kept_as_consent_proof,
            "deferred": self.deferred,
            "profiles_refreshed": self.profiles_refreshed,
        }


@dataclass(slots=True)
class RetentionReport:
    started_at_us: int
    dry_run: bool
    outcomes: list[PolicyOutcome] = field(default_factory=list)
    finished_at_us: int | None = None
    run_id: int | None = None

    @property
    def removed(self) -> int:
        return sum(o.removed for o in self.outcomes)

    def by_source(self) -> dict[str, int]:
        """Everything removed, per source (events, records and quarantine name one)."""
        total: dict[str, int] = {}
        for outcome in self.outcomes:
            for source, count in outcome.by_source.items():
                total[source] = total.get(source, 0) + count
        return dict(sorted(total.items()))

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "started_at": isoformat_us(self.started_at_us),
            "finished_at": isoformat_us(self.finished_at_us) if self.finished_at_us else None,
            "removed": self.removed,
            "by_source": self.by_source(),
            "policies": [o.as_json() for o in self.outcomes],
        }


# --- the job -------------------------------------------------------------------------------


class _DryRun(Exception):
    """Raised inside a policy's transaction to roll back what it did: a dry run counts with
    exactly the code that removes."""


def apply_retention(
    engine: Engine,
    policies: Sequence[Policy],
    *,
    now_us: int,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    actor: audit.Actor = audit.SYSTEM,
    run_id: int | None = None,
) -> RetentionReport:
    """Apply every policy as of ``now_us``, one transaction each; record the run (in
    ``retention_runs`` and the audit log) unless it is a dry run, which changes nothing.
    ``run_id``: the run the daily loop claimed (``c360.workers.retention.claim_run``), whose
    row is completed instead of a new one added."""
    report = RetentionReport(now_us, dry_run)

    def apply(conn: Connection, done: int, policy: Policy) -> None:
        outcome = PolicyOutcome(policy, policy.keep.cutoff_us(now_us))
        _APPLY[policy.target](conn, policy, outcome, now_us)
        report.outcomes.append(outcome)
        if progress is not None:
            progress(done, len(policies))

    if dry_run:
        # one transaction rolled back at the end: each policy sees what those before it did
        try:
            with engine.begin() as conn:
                for done, policy in enumerate(policies, start=1):
                    apply(conn, done, policy)
                raise _DryRun
        except _DryRun:
            pass
    else:
        for done, policy in enumerate(policies, start=1):
            with engine.begin() as conn:
                apply(conn, done, policy)
    report.finished_at_us = max(now_us, system_clock())
    if dry_run:
        return report
    with engine.begin() as conn:
        body = {k: v for k, v in report.as_json().items() if k != "run_id"}
        if run_id is not None:
            conn.execute(
                update(retention_runs)
                .where(retention_runs.c.id == run_id)
                .values(finished_at_us=report.finished_at_us, report=body)
            )
            report.run_id = run_id
        else:
            inserted = conn.execute(
                insert(retention_runs).values(
                    started_at_us=report.started_at_us,
                    finished_at_us=report.finished_at_us,
                    dry_run=0,
                    report=body,
                )
            )
            key = inserted.inserted_primary_key
            assert key is not None
            report.run_id = int(key[0])
        counts = {o.policy.name: o.removed for o in report.outcomes}
        audit.record(
            conn,
            actor,
            "retention.run",
            object_type="retention_run",
            object_id=str(report.run_id),
            detail={"removed": counts, "by_source": report.by_source()},
        )
    return report


def list_runs(conn: Connection, limit: int = 20) -> list[dict[str, Any]]:
    """Past runs, newest first."""
    rows = conn.execute(
        select(retention_runs).order_by(retention_runs.c.id.desc()).limit(limit)
    ).mappings()
    return [dict(row) for row in rows]


def last_run_us(conn: Connection) -> int | None:
    """When the last (real) run started."""
    value = conn.execute(
        select(func.max(retention_runs.c.started_at_us)).where(retention_runs.c.dry_run == 0)
    ).scalar()
    return int(value) if value is not None else None


def start_retention_loop(
    engine: Engine, config: Path | None, *, every_s: float = 86_400.0
) -> RetentionLoop | None:
    """Start the daily run for ``c360 serve`` and ``c360 worker`` (None without policies); a
    bad configuration is refused here, at start-up."""
    policies = load_policies(config)
    if not policies:
        return None

    def run(now_us: int, run_id: int) -> None:
        apply_retention(engine, policies, now_us=now_us, run_id=run_id)

    return RetentionLoop(engine, run, every_s=every_s).start()


# --- sources -------------------------------------------------------------------------------


def _source_ids(conn: Connection, policy: Policy) -> dict[int, str]:
    """The sources a policy covers, by id: those it names, else every source but c360's own."""
    rows = conn.execute(select(sources.c.id, sources.c.name)).all()
    if policy.sources:
        wanted = set(policy.sources)
        return {sid: name for sid, name in rows if name in wanted}
    return {sid: name for sid, name in rows if not name.startswith(OWN_SOURCE_PREFIX)}


def _count(outcome: PolicyOutcome, source: str, n: int = 1) -> None:
    outcome.removed += n
    outcome.by_source[source] = outcome.by_source.get(source, 0) + n


# --- events --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Old:
    """One old message: what it names and whether it is the only trace of something."""

    seq: int
    source_id: int
    message_id: str
    type: str
    received_at_us: int
    payload: dict[str, Any]
    nodes: list[tuple[int, str, str]]
    carries: bool


def _apply_events(conn: Connection, policy: Policy, outcome: PolicyOutcome, now_us: int) -> None:
    checkpoint = get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)
    names = _source_ids(conn, policy)
    if not names:
        return
    cited = select(consent_ledger.c.seq).where(consent_ledger.c.seq.is_not(None))
    query = select(*STORED_COLUMNS).where(
        key_in(conn, event_log.c.source_id, sorted(names)),
        event_log.c.type != RECORD_TYPE,
        event_log.c.timestamp_us < outcome.cutoff_us,
    )
    if policy.types:
        query = query.where(event_log.c.type.in_(policy.types))
    outcome.deferred = int(
        conn.execute(
            select(func.count()).select_from(query.where(event_log.c.seq > checkpoint).subquery())
        ).scalar_one()
    )
    query = query.where(event_log.c.seq <= checkpoint)
    outcome.kept_as_consent_proof = int(
        conn.execute(
            select(func.count()).select_from(query.where(event_log.c.seq.in_(cited)).subquery())
        ).scalar_one()
    )
    query = query.where(event_log.c.seq.not_in(cited)).order_by(event_log.c.seq)
    old: list[_Old] = []
    first: dict[tuple[int, str, str], int] = {}
    last: dict[tuple[int, str, str], int] = {}
    said: dict[tuple[int, str, str], set[tuple[str, str, str]]] = {}
    for row in _paged(conn, query):
        event = StoredEvent(*row)
        payload: dict[str, Any] = orjson.loads(event.payload)
        if policy.names and _name_of(event.type, payload) not in policy.names:
            continue
        # c360's own messages about a profile are filed under it, not under an identity
        own = names[event.source_id] in OWN_SOURCES and profile_handle(payload) is not None
        inputs = [] if own else tracked_nodes(event, payload)
        carries = bool(not own and event.type == "identify" and traits_of(payload))
        keys = []
        for item in inputs:
            key = (item.source_id, item.node_type, item.key)
            keys.append(key)
            first.setdefault(key, event.seq)
            last[key] = event.seq
            # identifiers and links are sets: a message adding none that an earlier old
            # message has not already given changes nothing a rebuild would see
            facts = {("i", t, v) for t, v in item.identifiers} | {
                ("l", t, v) for t, v in item.links
            }
            known = said.setdefault(key, set())
            if not facts <= known:
                carries = True
                known |= facts
        old.append(
            _Old(
                event.seq,
                event.source_id,
                event.message_id,
                event.type,
                event.received_at_us,
                payload,
                keys,
                carries,
            )
        )
    bounds = set(first.values()) | set(last.values())
    keep = [o for o in old if o.carries or o.seq in bounds]
    gone = [o for o in old if not (o.carries or o.seq in bounds)]
    outcome.kept_as_identity = sum(1 for o in keep if not _already_stripped(o))
    touched: set[str] = set()
    for chunk in _chunks([o.seq for o in old]):
        touched.update(
            conn.execute(
                select(profile_events.c.profile_id)
                .where(key_in(conn, profile_events.c.seq, chunk))
                .distinct()
            ).scalars()
        )
    rewritten = [
        {
            "s": o.seq,
            "t": "alias" if o.type == "alias" else "identify",
            "p": orjson.dumps(_stripped(o, policy)).decode(),
            # an identify or alias has no facts to keep beside a sealed payload
            "f": "{}" if sealing_on() else None,
        }
        for o in keep
    ]
    if rewritten:
        conn.execute(
            update(event_log)
            .where(event_log.c.seq == bindparam("s"))
            .values(
                type=bindparam("t"),
                payload=bindparam("p"),
                facts=bindparam("f"),
                timestamp_us=now_us,
                sent_at_us=None,
                original_timestamp_us=None,
            ),
            rewritten,
        )
        for chunk in _chunks([o.seq for o in keep]):
            conn.execute(
                update(profile_events)
                .where(key_in(conn, profile_events.c.seq, chunk))
                .values(at_us=now_us)
            )
    for chunk in _chunks([o.seq for o in gone]):
        conn.execute(delete(profile_events).where(key_in(conn, profile_events.c.seq, chunk)))
        conn.execute(delete(event_log).where(key_in(conn, event_log.c.seq, chunk)))
    for o in gone:
        _count(outcome, names[o.source_id])
    live = _live(conn, touched)
    refresh_profiles(conn, live, checkpoint, now_us=now_us)
    outcome.profiles_refreshed = len(live)


def _paged(conn: Connection, query: Any, size: int = 5000) -> Iterator[Any]:
    """The rows of ``query`` (ordered by seq) a page at a time."""
    after = 0
    while True:
        rows = conn.execute(query.where(event_log.c.seq > after).limit(size)).all()
        yield from rows
        if len(rows) < size:
            return
        after = rows[-1].seq


def _name_of(kind: str, payload: dict[str, Any]) -> str | None:
    value = payload.get("event") if kind == "track" else payload.get("name")
    return value if isinstance(value, str) and kind in ("track", "page", "screen") else None


_IDENTITY_KEYS = ("userId", "anonymousId")


def _stripped(old: _Old, policy: Policy) -> dict[str, Any]:
    """The identity content of an old message, as ``tracked_nodes`` reads it: its ids, an
    alias's previousId, an identify's traits; nothing else."""
    body: dict[str, Any] = {
        "type": "alias" if old.type == "alias" else "identify",
        "messageId": old.message_id,
    }
    for key in _IDENTITY_KEYS:
        if old.payload.get(key) is not None:
            body[key] = old.payload[key]
    if old.type == "alias":
        previous = previous_id_of(old.payload)
        if previous is not None:
            body["previousId"] = previous
    if old.type == "identify":
        traits = traits_of(old.payload)
        if traits:
            body["traits"] = traits
    marker = old.payload.get("context", {}).get("c360", {}) if _already_stripped(old) else {}
    body["context"] = {
        "c360": {
            "retention": policy.name,
            "was": marker.get("was", old.type),
        }
    }
    return body


def _already_stripped(old: _Old) -> bool:
    context = old.payload.get("context")
    return (
        isinstance(context, dict)
        and isinstance(context.get("c360"), dict)
        and ("retention" in context["c360"])
    )


def _live(conn: Connection, profile_ids: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(profile_ids)):
        found.update(
            conn.execute(
                select(profiles.c.id).where(
                    key_in(conn, profiles.c.id, chunk), profiles.c.merged_into.is_(None)
                )
            ).scalars()
        )
    return found


# --- records -------------------------------------------------------------------------------


def _apply_records(conn: Connection, policy: Policy, outcome: PolicyOutcome, now_us: int) -> None:
    checkpoint = get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)
    names = _source_ids(conn, policy)
    if not names or not policy.kinds:
        return
    rows = conn.execute(
        select(
            source_records.c.source_id,
            source_records.c.record_id,
            source_records.c.version,
        )
        .where(
            key_in(conn, source_records.c.source_id, sorted(names)),
            source_records.c.kind.in_(policy.kinds),
            source_records.c.updated_at_us < outcome.cutoff_us,
            source_records.c.last_seq <= checkpoint,
        )
        .order_by(source_records.c.source_id, source_records.c.record_id)
    ).all()
    if not rows:
        return
    touched: set[str] = set()
    removed_nodes: set[int] = set()
    for source_id, record_id, version in rows:
        versions = [f"rec:{v}:{record_id}" for v in range(1, int(version) + 1)]
        for chunk in _chunks(versions):
            conn.execute(
                delete(event_log).where(
                    event_log.c.source_id == source_id,
                    event_log.c.type == RECORD_TYPE,
                    key_in(conn, event_log.c.message_id, chunk),
                )
            )
        where = (record_identifiers.c.source_id == source_id) & (
            record_identifiers.c.record_id == record_id
        )
        conn.execute(delete(record_identifiers).where(where))
        conn.execute(
            delete(source_records).where(
                source_records.c.source_id == source_id, source_records.c.record_id == record_id
            )
        )
        node = conn.execute(
            select(identity_nodes.c.id, identity_nodes.c.profile_id).where(
                identity_nodes.c.source_id == source_id,
                identity_nodes.c.node_type == NODE_RECORD,
                identity_nodes.c.node_key == record_id,
            )
        ).first()
        if node is not None:
            removed_nodes.add(int(node.id))
            if node.profile_id is not None:
                touched.add(node.profile_id)
        _count(outcome, names[source_id])
    _remove_nodes(conn, removed_nodes)
    _resolve_again(conn, touched, checkpoint, now_us, outcome)


def _remove_nodes(conn: Connection, node_ids: set[int]) -> None:
    for chunk in _chunks(sorted(node_ids)):
        conn.execute(delete(identity_keys).where(key_in(conn, identity_keys.c.node_id, chunk)))
        for table in (identity_pairs, identity_reviews):
            conn.execute(
                delete(table).where(
                    or_(key_in(conn, table.c.a, chunk), key_in(conn, table.c.b, chunk))
                )
            )
        conn.execute(delete(profile_events).where(key_in(conn, profile_events.c.node_id, chunk)))
        conn.execute(delete(identity_nodes).where(key_in(conn, identity_nodes.c.id, chunk)))


def _resolve_again(
    conn: Connection, profile_ids: set[str], seq: int, now_us: int, outcome: PolicyOutcome
) -> None:
    """Cluster the nodes left in ``profile_ids`` again (a record that held them together may
    be gone) and refresh what changed; a profile left without nodes goes, as a rebuild would
    never make it."""
    remaining: set[int] = set()
    for chunk in _chunks(sorted(profile_ids)):
        remaining.update(
            conn.execute(
                select(identity_nodes.c.id).where(key_in(conn, identity_nodes.c.profile_id, chunk))
            ).scalars()
        )
    resolver = Resolver.load(conn)
    changes = NodeChanges(changed=remaining)
    result = resolve_changed(conn, resolver, changes, seq)
    still = _live(conn, profile_ids)
    held: set[str] = set()
    for chunk in _chunks(sorted(still)):
        held.update(
            conn.execute(
                select(identity_nodes.c.profile_id)
                .where(key_in(conn, identity_nodes.c.profile_id, chunk))
                .distinct()
            ).scalars()
        )
    empty = still - held
    follow_resolution(conn, result, seq, extra=still)
    outcome.profiles_refreshed = len(still | result.touched)
    _drop_profiles(conn, empty)


def _drop_profiles(conn: Connection, profile_ids: set[str]) -> None:
    for chunk in _chunks(sorted(profile_ids)):
        for table in (profile_events, profile_terms, segment_members, consent_ledger):
            conn.execute(delete(table).where(key_in(conn, table.c.profile_id, chunk)))
        conn.execute(delete(profiles).where(key_in(conn, profiles.c.id, chunk)))


# --- plain deletes by age ------------------------------------------------------------------


def _apply_quarantine(
    conn: Connection, policy: Policy, outcome: PolicyOutcome, now_us: int
) -> None:
    names = _source_ids(conn, policy) if policy.sources else None
    query = select(rejects.c.source_id, func.count()).where(
        rejects.c.received_at_us < outcome.cutoff_us
    )
    if names is not None:
        query = query.where(key_in(conn, rejects.c.source_id, sorted(names) or [-1]))
    every = dict(conn.execute(select(sources.c.id, sources.c.name)).all())
    for source_id, n in conn.execute(query.group_by(rejects.c.source_id)).all():
        _count(outcome, every.get(source_id, str(source_id)), int(n))
    condition = rejects.c.received_at_us < outcome.cutoff_us
    if names is not None:
        condition = condition & key_in(conn, rejects.c.source_id, sorted(names) or [-1])
    conn.execute(delete(rejects).where(condition))


def _apply_messages(conn: Connection, policy: Policy, outcome: PolicyOutcome, now_us: int) -> None:
    condition = (messages.c.updated_at_us < outcome.cutoff_us) & messages.c.status.not_in(
        UNFINISHED_MESSAGES
    )
    for channel, n in conn.execute(
        select(messages.c.channel, func.count()).where(condition).group_by(messages.c.channel)
    ).all():
        _count(outcome, f"outbox:{channel}", int(n))
    conn.execute(delete(messages).where(condition))


def _apply_changes(conn: Connection, policy: Policy, outcome: PolicyOutcome, now_us: int) -> None:
    # a change a subscriber or a sync destination has not taken yet stays, however old
    cursors = [
        *conn.execute(
            select(subscriptions.c.cursor).where(subscriptions.c.disabled_at_us.is_(None))
        ).scalars(),
        *conn.execute(
            select(sync_destinations.c.cursor).where(sync_destinations.c.disabled_at_us.is_(None))
        ).scalars(),
    ]
    condition = profile_changes.c.at_us < outcome.cutoff_us
    if cursors:
        condition = condition & (profile_changes.c.id <= min(int(c) for c in cursors))
    waiting = select(subscription_dead_letters.c.change_id).where(
        subscription_dead_letters.c.redelivered_at_us.is_(None)
    )
    condition = condition & profile_changes.c.id.not_in(waiting)
    n = int(
        conn.execute(
            select(func.count()).select_from(profile_changes).where(condition)
        ).scalar_one()
    )
    if n:
        _count(outcome, "change feed", n)
        conn.execute(delete(profile_changes).where(condition))


def _apply_feedback(conn: Connection, policy: Policy, outcome: PolicyOutcome, now_us: int) -> None:
    condition = (
        feedback_items.c.received_at_us < outcome.cutoff_us
    ) & feedback_items.c.status.not_in([s.value for s in OPEN_STATUSES])
    rows = conn.execute(
        select(feedback_items.c.id, feedback_items.c.source_id).where(condition)
    ).all()
    every = dict(conn.execute(select(sources.c.id, sources.c.name)).all())
    for chunk in _chunks([r.id for r in rows]):
        conn.execute(
            delete(feedback_history).where(key_in(conn, feedback_history.c.feedback_id, chunk))
        )
        conn.execute(delete(feedback_items).where(key_in(conn, feedback_items.c.id, chunk)))
    for row in rows:
        _count(outcome, every.get(row.source_id, str(row.source_id)))


_APPLY: dict[str, Callable[[Connection, Policy, PolicyOutcome, int], None]] = {
    "events": _apply_events,
    "records": _apply_records,
    "quarantine": _apply_quarantine,
    "messages": _apply_messages,
    "changes": _apply_changes,
    "feedback": _apply_feedback,
}


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
