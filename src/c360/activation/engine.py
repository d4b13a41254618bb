"""The journey engine: enters people, moves them along, and queues what steps send.

One cycle (``run_cycle``), in one transaction that holds the engine's checkpoint lock (so two
workers never move the same person at once):

1. new log entries the profile processor has filed (``journeys:events`` checkpoint): their
   conversions are counted, people waiting for them move on, people whose exit condition now
   holds leave, and journeys they trigger enter the person;
2. new ``segment_entered`` changes (``journeys:changes`` checkpoint) enter people in journeys
   triggered by that segment;
3. scheduled journeys that are due enter their audience;
4. entries whose wait is over take their next steps.

A step is done at most once per entry: ``journey_steps`` has a row per (entry, step), written in
the transaction that does the step's work (queues its message, appends its trait), so a crash
either did both or neither. Waits keep their end time in the store: people waiting survive
restarts and resume when their time comes.
"""

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import phonenumbers
from sqlalchemy import Connection, Engine, bindparam, func, select, update

from c360.activation import experiment, policy, templates
from c360.activation.channels import ChannelName
from c360.activation.journeys import ACTIVE, SavedJourney, load_active, next_local_time
from c360.activation.model import END, Journey, Step, duration_s
from c360.activation.outbox import (
    activation_event,
    append_events,
    link_secret,
    track_links,
)
from c360.activation.recommend import recommendations_for
from c360.changes.feed import ChangeKind, changes_after, last_change_id
from c360.errors import NotFound
from c360.eventlog.service import PROFILES_CHECKPOINT, get_checkpoint, set_checkpoint
from c360.identity.decisions import live_profile_id
from c360.kernel.background import BackgroundLoop
from c360.kernel.clock import system_clock
from c360.privacy.restrict import RESTRICTED_REASON, restricted
from c360.profiles.model import ACTIVATION_SOURCE
from c360.profiles.refresh import event_facts
from c360.profiles.traits import EventFact
from c360.segments import language as L
from c360.segments.evaluate import Facts, Moment, consented, evaluate, test_value
from c360.segments.membership import member_names, zone
from c360.segments.service import iter_members
from c360.storage.dialect import insert_many, key_in
from c360.storage.tables import (
    event_log,
    journey_entries,
    journey_steps,
    messages,
    profile_events,
    profiles,
    sources,
    suppressions,
)

log = logging.getLogger(__name__)

EVENTS_CHECKPOINT = "journeys:events"
CHANGES_CHECKPOINT = "journeys:changes"
ENDED = "ended"
_BATCH = 1000
_DUE_BATCH = _BATCH  # who enters in a cycle takes their first steps in it, with what it read
_ZONES = {"TH": "Asia/Bangkok", "VN": "Asia/Ho_Chi_Minh"}


@dataclass(frozen=True, slots=True)
class EngineConfig:
    default_tz: str = "UTC"
    channels: frozenset[ChannelName] = frozenset()
    """Channels with a configured provider; a send step only chooses among these."""
    base_url: str = "http://127.0.0.1:8360"
    """Where tracking links point (the API server as people's devices reach it)."""
    rules: policy.RuleBook = field(default_factory=policy.default_rules)
    """Send rules (quiet hours, caps, labels) by country, channel and purpose."""
    track_links: bool = True


# --- what the engine knows about a person ------------------------------------------------------


@dataclass(slots=True)
class Person:
    profile_id: str
    view: Mapping[str, Any]
    segments: frozenset[str]
    tz: ZoneInfo
    _conn: Connection | None = None
    _names: dict[int, str] | None = None
    _events: list[EventFact] | None = None
    _loader: "_EventBatch | None" = None

    @property
    def events(self) -> list[EventFact]:
        """The person's events, read the first time a condition needs them (with those of
        everyone read in the same batch)."""
        if self._events is None and self._loader is not None:
            self._loader.load()
        if self._events is None:
            assert self._conn is not None
            self._events = load_events(self._conn, self.profile_id, self._names)
        return self._events

    def facts(self, with_events: bool = True) -> Facts:
        return Facts(self.view, self.events if with_events else (), self.segments)

    @property
    def values(self) -> Mapping[str, Any]:
        values = self.view.get("v", {})
        return values if isinstance(values, Mapping) else {}


def load_person(
    conn: Connection, profile_id: str, default_tz: str, names: dict[int, str] | None = None
) -> Person | None:
    """What conditions and templates read about a live profile (None if merged away or gone)."""
    row = conn.execute(
        select(profiles.c.attributes, profiles.c.merged_into).where(profiles.c.id == profile_id)
    ).first()
    if row is None or row.merged_into is not None:
        return None
    view = row.attributes or {"v": {}, "t": {}, "d": {}, "c": {}}
    segments = frozenset(member_names(conn, [profile_id]).get(profile_id, []))
    return Person(profile_id, view, segments, person_zone(view, default_tz), conn, names)


def load_events(
    conn: Connection, profile_id: str, names: dict[int, str] | None = None
) -> list[EventFact]:
    if names is None:
        names = dict(conn.execute(select(sources.c.id, sources.c.name)).all())
    return [fact for _pid, fact, _body in event_facts(conn, [profile_id], names)]


def reads_events(condition: Any) -> bool:
    """Whether a condition looks at events (``did``, ``then``), not only at the view."""
    return any(isinstance(node, L.Did | L.Sequence) for node in L.walk(condition))


def person_country(values: Mapping[str, Any]) -> str:
    """The person's country (ISO code): their ``country``, else their address's, else their
    phone number's (+66 Thailand, +84 Vietnam); "" when none says."""
    given = values.get("country")
    address = values.get("address")
    if not given and isinstance(address, Mapping):
        given = address.get("country")
    if isinstance(given, str) and given.strip():
        return given.strip().upper()
    phone = values.get("phone")
    if isinstance(phone, str) and phone.startswith("+"):
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(phone))
        except phonenumbers.NumberParseException:
            return ""
        return region if region and region != "ZZ" else ""
    return ""


def person_zone(view: Mapping[str, Any], default_tz: str) -> ZoneInfo:
    """The person's own time zone: a ``timezone`` trait, else their country's, else the
    default."""
    values = view.get("v", {})
    for candidate in (values.get("timezone"), _ZONES.get(person_country(values))):
        if isinstance(candidate, str):
            try:
                return zone(candidate)
            except Exception:  # noqa: S112 - a bad trait value falls back to the next guess
                continue
    return zone(default_tz)


# --- the cycle ----------------------------------------------------------------------------------


@dataclass(slots=True)
class CycleReport:
    events: int = 0
    changes: int = 0
    entered: int = 0
    steps: int = 0
    queued: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.events or self.changes or self.entered or self.steps)


class _Parsed:
    """A journey definition's conditions and templates, parsed once per distinct definition."""

    def __init__(self, journey: Journey) -> None:
        self.where = journey.trigger.where_condition()
        self.entry_when = L.parse(journey.entry_when) if journey.entry_when else None
        self.exit_when = L.parse(journey.exit_when) if journey.exit_when else None
        self.branches = {s.id: L.parse(s.branch.if_) for s in journey.steps if s.branch is not None}
        self.goal_s = duration_s(journey.goal.within) if journey.goal else None
        conditions = (self.entry_when, self.exit_when, *self.branches.values())
        self.reads_events = {id(c): reads_events(c) for c in conditions if c is not None}
        """Whether each condition (by identity: this object keeps them) looks at events."""
        # checked and compiled here, once per journey version; every render still runs in the
        # sandbox within the limits
        self.templates = {
            s.id: templates.prepare(
                templates.compile_template(
                    subject=s.send.template.subject,
                    body=s.send.template.body,
                    html=s.send.template.html,
                )
            )
            for s in journey.steps
            if s.send is not None
        }
        self.webhook_bodies = {
            s.id: templates.prepare(templates.compile_template(body=s.webhook.body))
            for s in journey.steps
            if s.webhook is not None and s.webhook.body is not None
        }
        # recommendations cost a few milliseconds a person: only for templates that show them
        self.recommends = {
            step_id
            for step_id, p in (*self.templates.items(), *self.webhook_bodies.items())
            if "recommendations"
            in f"{p.template.subject or ''} {p.template.body} {p.template.html or ''}"
        }


_PARSED: dict[bytes, _Parsed] = {}


class _Compiled:
    """A saved journey as this cycle read it, with its parsed parts."""

    def __init__(self, saved: SavedJourney) -> None:
        self.saved = saved
        key = orjson.dumps(saved.journey.as_json(), option=orjson.OPT_SORT_KEYS)
        parsed = _PARSED.get(key)
        if parsed is None:
            if len(_PARSED) > 1000:
                _PARSED.clear()
            parsed = _PARSED[key] = _Parsed(saved.journey)
        self.where = parsed.where
        self.entry_when = parsed.entry_when
        self.exit_when = parsed.exit_when
        self.branches = parsed.branches
        self.goal_s = parsed.goal_s
        self.reads_events = parsed.reads_events
        self.templates = parsed.templates
        self.webhook_bodies = parsed.webhook_bodies
        self.recommends = parsed.recommends


def run_cycle(engine: Engine, config: EngineConfig, now_us: int | None = None) -> CycleReport:
    """One pass of the engine; see the module docstring."""
    now = system_clock() if now_us is None else now_us
    report = CycleReport()
    with engine.connect() as conn:
        # a look that writes nothing first: an idle engine must not take the store's write
        # lock (SQLite's only one) every poll
        if not has_work(conn, now):
            return report
    with engine.begin() as conn:
        cursor = get_checkpoint(conn, EVENTS_CHECKPOINT, lock=True)
        run = _Run(conn, config, now, report)
        if not run.journeys:
            return report
        # nothing before the oldest journey was saved can enter, move or convert anyone
        start_seq = min(j.saved.start_seq for j in run.journeys)
        start_change = min(j.saved.start_change_id for j in run.journeys)
        run.new_events(max(cursor, start_seq))
        run.new_changes(max(get_checkpoint(conn, CHANGES_CHECKPOINT), start_change))
        run.schedules()
        run.due_entries()
    return report


def has_work(conn: Connection, now_us: int) -> bool:
    """Whether a cycle would do anything: journeys exist and there are new events or changes
    after them, a schedule is due, or someone's wait is over."""
    from c360.storage.tables import journeys as journeys_table

    found = conn.execute(
        select(
            func.count(),
            func.min(journeys_table.c.start_seq),
            func.min(journeys_table.c.start_change_id),
            func.min(journeys_table.c.next_run_us),
        )
    ).one()
    count, start_seq, start_change, next_run = found
    if not count:
        return False
    cursor = max(get_checkpoint(conn, EVENTS_CHECKPOINT), int(start_seq))
    if get_checkpoint(conn, PROFILES_CHECKPOINT) > cursor:
        return True
    changes = max(get_checkpoint(conn, CHANGES_CHECKPOINT), int(start_change))
    if last_change_id(conn) > changes:
        return True
    if next_run is not None and int(next_run) <= now_us:
        return True
    due = conn.execute(
        select(journey_entries.c.id)
        .where(journey_entries.c.status == ACTIVE, journey_entries.c.wake_at_us <= now_us)
        .limit(1)
    ).first()
    return due is not None


@dataclass(slots=True)
class _Entry:
    """One row of ``journey_entries`` as this cycle sees it; written back when changed."""

    id: int | None
    journey_id: int
    profile_id: str
    entry_no: int
    arm: str
    status: str
    step: str | None
    wake_at_us: int | None
    waiting_for: str | None
    trigger: dict[str, Any]
    entered_at_us: int
    ended_at_us: int | None = None
    end_reason: str | None = None
    goal_until_us: int | None = None
    converted_at_us: int | None = None
    revenue: float | None = None
    dirty: bool = False

    @classmethod
    def of(cls, row: Any) -> "_Entry":
        return cls(
            row.id,
            row.journey_id,
            row.profile_id,
            row.entry_no,
            row.arm,
            row.status,
            row.step,
            row.wake_at_us,
            row.waiting_for,
            dict(row.trigger),
            row.entered_at_us,
            row.ended_at_us,
            row.end_reason,
            row.goal_until_us,
            row.converted_at_us,
            row.revenue,
        )

    def row(self) -> dict[str, Any]:
        return {
            "journey_id": self.journey_id,
            "profile_id": self.profile_id,
            "entry_no": self.entry_no,
            "arm": self.arm,
            "status": self.status,
            "step": self.step,
            "wake_at_us": self.wake_at_us,
            "waiting_for": self.waiting_for,
            "trigger": self.trigger,
            "entered_at_us": self.entered_at_us,
            "ended_at_us": self.ended_at_us,
            "end_reason": self.end_reason,
            "goal_until_us": self.goal_until_us,
            "converted_at_us": self.converted_at_us,
            "revenue": self.revenue,
        }


_STATE = (
    *("status", "step", "wake_at_us", "waiting_for", "ended_at_us", "end_reason"),
    *("converted_at_us", "revenue"),
)
"""What a cycle changes in an entry."""
_NEW_STATE = tuple(f"new_{name}" for name in _STATE)
_UPDATE_ENTRY = (
    update(journey_entries)
    .where(journey_entries.c.id == bindparam("entry_id"))
    .values({name: bindparam(new) for name, new in zip(_STATE, _NEW_STATE, strict=True)})
)


class _Run:
    """One cycle's work. Reads are made for a whole batch at once (people, their entries, the
    steps they did, their send history); writes are collected and made together by
    :meth:`flush`, once per phase."""

    def __init__(self, conn: Connection, config: EngineConfig, now: int, report: CycleReport):
        self.conn = conn
        self.config = config
        self.now = now
        self.report = report
        self.journeys = [_Compiled(s) for s in load_active(conn)]
        self.by_id = {j.saved.id: j for j in self.journeys}
        self.names = dict(conn.execute(select(sources.c.id, sources.c.name)).all())
        self.people: dict[str, Person | None] = {}
        self.entries_of: dict[str, list[_Entry]] = {}
        self.done: dict[tuple[int, str], dict[str, Any]] = {}
        self.history: dict[tuple[str, str, str], list[int]] = {}
        self.blocked: set[tuple[str, str]] = set()
        self.restricted: set[str] = set()
        """People whose processing is restricted: no entry, no step (c360.privacy.restrict)."""
        self.new_entries: list[_Entry] = []
        self.tracked: list[_Entry] = []
        """Every entry this cycle holds; the changed ones are written by ``flush``."""
        self.marks: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.pending_events: list[dict[str, Any]] = []
        self._secret: bytes | None = None

    # -- reading a batch --

    def prefetch(self, pids: set[str]) -> None:
        """Views and segments of ``pids`` in two queries; their events in one more, the first
        time a condition needs any of them."""
        wanted = sorted(p for p in pids if p not in self.people)
        if not wanted:
            return
        rows = {
            row.id: row
            for row in self.conn.execute(
                select(profiles.c.id, profiles.c.attributes, profiles.c.merged_into).where(
                    key_in(self.conn, profiles.c.id, wanted)
                )
            )
        }
        segments = member_names(self.conn, wanted)
        self.restricted |= restricted(self.conn, wanted)
        batch = _EventBatch(self.conn, self.names)
        for pid in wanted:
            row = rows.get(pid)
            if row is None or row.merged_into is not None:
                self.people[pid] = None
                continue
            view = row.attributes or {"v": {}, "t": {}, "d": {}, "c": {}}
            person = Person(
                pid,
                view,
                frozenset(segments.get(pid, [])),
                person_zone(view, self.config.default_tz),
                self.conn,
                self.names,
            )
            batch.add(person)
            self.people[pid] = person

    def person(self, profile_id: str) -> Person | None:
        if profile_id not in self.people:
            self.prefetch({profile_id})
        return self.people[profile_id]

    def load_entries(self, pids: set[str]) -> None:
        wanted = sorted(p for p in pids if p not in self.entries_of)
        for pid in wanted:
            self.entries_of[pid] = []
        if not wanted:
            return
        for row in self.conn.execute(
            select(journey_entries)
            .where(key_in(self.conn, journey_entries.c.profile_id, wanted))
            .order_by(journey_entries.c.entry_no)
        ):
            entry = _Entry.of(row)
            self.entries_of[row.profile_id].append(entry)
            self.tracked.append(entry)

    # -- 1. new log entries --

    def new_events(self, cursor: int) -> None:
        processed = get_checkpoint(self.conn, PROFILES_CHECKPOINT)
        if processed <= cursor:
            return
        rows = self.conn.execute(
            select(
                event_log.c.seq,
                event_log.c.type,
                event_log.c.source_id,
                event_log.c.timestamp_us,
                event_log.c.payload,
                profile_events.c.profile_id,
            )
            .select_from(event_log.join(profile_events, profile_events.c.seq == event_log.c.seq))
            .where(event_log.c.seq > cursor, event_log.c.seq <= processed)
            .order_by(event_log.c.seq)
            .limit(_BATCH)
        ).all()
        last = processed if len(rows) < _BATCH else rows[-1].seq
        own = next((i for i, n in self.names.items() if n == ACTIVATION_SOURCE), None)
        events: list[tuple[str, str, dict[str, Any], int, int]] = []
        for row in rows:
            self.report.events += 1
            if row.type != "track" or row.source_id == own:
                continue
            body = orjson.loads(row.payload)
            name = body.get("event")
            if not isinstance(name, str):
                continue
            properties = body.get("properties")
            props = properties if isinstance(properties, dict) else {}
            events.append((row.profile_id, name, props, row.seq, row.timestamp_us))
        if events:
            live = self.live_ids({e[0] for e in events})
            pids = {live[e[0]] for e in events if e[0] in live}
            self.load_entries(pids)
            self.prefetch(pids)
            for pid, name, props, seq, at_us in events:
                if pid in live:
                    self.on_event(live[pid], name, props, seq, at_us)
        set_checkpoint(self.conn, EVENTS_CHECKPOINT, last)
        self.flush()

    def live_ids(self, pids: set[str]) -> dict[str, str]:
        """Each profile id as it is now (following merges); erased ones are left out."""
        out: dict[str, str] = {}
        merged: list[str] = []
        for pid, into in self.conn.execute(
            select(profiles.c.id, profiles.c.merged_into).where(
                key_in(self.conn, profiles.c.id, sorted(pids))
            )
        ):
            if into is None:
                out[pid] = pid
            else:
                merged.append(pid)
        for pid in merged:
            try:
                out[pid] = live_profile_id(self.conn, pid)
            except NotFound:
                continue
        return out

    def on_event(self, pid: str, name: str, props: dict[str, Any], seq: int, at_us: int) -> None:
        self.load_entries({pid})
        for entry in list(self.entries_of[pid]):
            compiled = self.by_id.get(entry.journey_id)
            if compiled is None:
                continue
            journey = compiled.saved.journey
            if (
                journey.goal is not None
                and journey.goal.event == name
                and entry.converted_at_us is None
                and entry.goal_until_us is not None
                and entry.entered_at_us <= at_us <= entry.goal_until_us
                and seq > int(entry.trigger.get("seq", 0))
            ):
                revenue = props.get(journey.goal.revenue)
                entry.converted_at_us = at_us
                entry.revenue = float(revenue) if isinstance(revenue, int | float) else None
                entry.dirty = True
            if entry.status != ACTIVE or compiled.saved.status != ACTIVE:
                continue
            if compiled.exit_when is not None and self.holds(compiled.exit_when, pid, compiled):
                self.end(entry, "exit condition met")
                continue
            if entry.waiting_for == name and seq > int(entry.trigger.get("seq", 0)):
                step = journey.step(entry.step or END)
                assert step.wait_for is not None
                self.move(entry, journey.after(step, step.wait_for.on_event), wake=self.now)
        for compiled in self.journeys:
            trigger = compiled.saved.journey.trigger
            if trigger.event != name or seq <= compiled.saved.start_seq:
                continue
            if compiled.where is not None and not test_value(compiled.where, props):
                continue
            self.enter(compiled, pid, {"event": name, "properties": props, "seq": seq})

    # -- 2. segment entries --

    def new_changes(self, cursor: int) -> None:
        wanted = {j.saved.journey.trigger.segment for j in self.journeys}
        wanted.discard(None)
        changes = changes_after(self.conn, cursor, _BATCH, kinds=[ChangeKind.SEGMENT_ENTERED.value])
        hits = [
            (c, j)
            for c in changes
            if c.detail.get("segment") in wanted
            for j in self.journeys
            if j.saved.journey.trigger.segment == c.detail.get("segment")
            and c.id > j.saved.start_change_id
        ]
        self.report.changes += len(changes)
        pids = {c.profile_id for c, _ in hits}
        self.load_entries(pids)
        self.prefetch(pids)
        for change, compiled in hits:
            self.enter(
                compiled,
                change.profile_id,
                {"segment": change.detail.get("segment"), "change": change.id},
            )
        if changes:
            set_checkpoint(self.conn, CHANGES_CHECKPOINT, changes[-1].id)
        else:
            last = last_change_id(self.conn)
            if last > cursor:
                set_checkpoint(self.conn, CHANGES_CHECKPOINT, last)
        self.flush()

    # -- 3. schedules --

    def schedules(self) -> None:
        from c360.storage.tables import journeys as journeys_table

        for compiled in self.journeys:
            saved = compiled.saved
            schedule = saved.journey.trigger.schedule
            if schedule is None or saved.next_run_us is None or saved.next_run_us > self.now:
                continue
            if saved.status == ACTIVE:
                if schedule.segment is not None:
                    chunks: Iterator[list[str]] = (
                        [str(member[0]) for member in chunk]
                        for chunk in iter_members(self.conn, schedule.segment)
                    )
                else:
                    everyone = select(profiles.c.id).where(profiles.c.merged_into.is_(None))
                    chunks = iter([[str(p) for p in self.conn.execute(everyone).scalars()]])
                for chunk in chunks:
                    pids = set(chunk)
                    self.load_entries(pids)
                    self.prefetch(pids)
                    for pid in sorted(pids):
                        self.enter(compiled, pid, {"schedule": saved.next_run_us})
                    self.flush()
            tz = zone(saved.journey.timezone or self.config.default_tz)
            self.conn.execute(
                update(journeys_table)
                .where(journeys_table.c.id == saved.id)
                .values(next_run_us=next_local_time(self.now, schedule.at, schedule.days, tz))
            )
        self.flush()

    # -- 4. due entries --

    def due_entries(self) -> None:
        paused = [j.saved.id for j in self.journeys if j.saved.status != ACTIVE]
        query = select(journey_entries).where(
            journey_entries.c.status == ACTIVE, journey_entries.c.wake_at_us <= self.now
        )
        if paused:
            query = query.where(journey_entries.c.journey_id.not_in(paused))
        due = [
            _Entry.of(r)
            for r in self.conn.execute(
                query.order_by(journey_entries.c.wake_at_us).limit(_DUE_BATCH)
            )
        ]
        if not due:
            return
        self.tracked.extend(due)
        pids = {e.profile_id for e in due}
        self.prefetch(pids)
        ids = [e.id for e in due if e.id is not None]
        for entry_id, step, outcome in self.conn.execute(
            select(journey_steps.c.entry_id, journey_steps.c.step, journey_steps.c.outcome).where(
                key_in(self.conn, journey_steps.c.entry_id, ids)
            )
        ):
            self.done[(entry_id, step)] = dict(outcome)
        if any(s.send is not None for j in self.journeys for s in j.saved.journey.steps):
            self.load_history(pids)
        for entry in due:
            self.advance(entry)
        self.flush()

    def load_history(self, pids: set[str]) -> None:
        since = self.now - 8 * 86_400_000_000
        for pid, channel, purpose, at in self.conn.execute(
            select(
                messages.c.profile_id,
                messages.c.channel,
                messages.c.purpose,
                messages.c.created_at_us,
            ).where(
                key_in(self.conn, messages.c.profile_id, sorted(pids)),
                messages.c.status.in_(("queued", "sending", "sent", "delivered")),
                messages.c.created_at_us >= since,
            )
        ):
            self.history.setdefault((pid, channel, purpose), []).append(int(at))
        addresses = sorted(
            {
                a
                for pid in pids
                if (p := self.people.get(pid)) is not None
                for a in addresses_of(p).values()
            }
        )
        if addresses:
            self.blocked |= {
                (c, a)
                for c, a in self.conn.execute(
                    select(suppressions.c.channel, suppressions.c.address).where(
                        key_in(self.conn, suppressions.c.address, addresses)
                    )
                )
            }

    # -- entering, moving, ending --

    def enter(self, compiled: _Compiled, pid: str, trigger: dict[str, Any]) -> None:
        saved = compiled.saved
        if saved.status != ACTIVE:
            return
        journey = saved.journey
        self.load_entries({pid})
        mine = [e for e in self.entries_of[pid] if e.journey_id == saved.id]
        last = mine[-1] if mine else None
        if last is not None:
            wait_s = journey.reentry_after_s
            if last.status == ACTIVE or wait_s is None:
                return
            if last.entered_at_us + wait_s * 1_000_000 > self.now:
                return
        person = self.person(pid)
        if person is None or pid in self.restricted:
            return
        if compiled.entry_when is not None and not self.holds(compiled.entry_when, pid, compiled):
            return
        control = experiment.in_control(journey.name, pid, journey.control)
        entry = _Entry(
            None,
            saved.id,
            pid,
            (last.entry_no + 1) if last is not None else 1,
            "control" if control else "treatment",
            ENDED if control else ACTIVE,
            None if control else journey.steps[0].id,
            None if control else self.now,
            None,
            trigger,
            self.now,
            self.now if control else None,
            "control group: held out" if control else None,
            self.now + compiled.goal_s * 1_000_000 if compiled.goal_s else None,
        )
        self.entries_of[pid].append(entry)
        self.new_entries.append(entry)
        self.tracked.append(entry)
        self.report.entered += 1

    def move(self, entry: _Entry, target: str, *, wake: int | None) -> None:
        entry.step, entry.wake_at_us, entry.waiting_for = target, wake, None
        entry.dirty = True

    def end(self, entry: _Entry, reason: str) -> None:
        entry.status, entry.ended_at_us, entry.end_reason = ENDED, self.now, reason
        entry.wake_at_us = entry.waiting_for = None
        entry.dirty = True

    def holds(self, condition: Any, pid: str, compiled: _Compiled) -> bool:
        person = self.person(pid)
        if person is None:
            return False
        journey = compiled.saved.journey
        tz = person.tz if journey.timezone is None else zone(journey.timezone)
        with_events = compiled.reads_events.get(id(condition))
        if with_events is None:
            with_events = reads_events(condition)
        facts = person.facts(with_events=with_events)
        return bool(evaluate(condition, facts, Moment(self.now, tz)))

    def advance(self, entry: _Entry) -> None:
        """Take ``entry``'s steps until it waits or ends."""
        compiled = self.by_id.get(entry.journey_id)
        if compiled is None:
            self.end(entry, "journey deleted")
            return
        journey = compiled.saved.journey
        person = self.person(entry.profile_id)
        if person is None:
            live = self.live_ids({entry.profile_id}).get(entry.profile_id)
            person = self.person(live) if live is not None and live != entry.profile_id else None
            if person is None or live is None:
                self.end(entry, "profile no longer exists")
                return
            # the person was merged into another profile: they go on as that profile
            self.conn.execute(
                update(journey_entries)
                .where(journey_entries.c.id == entry.id)
                .values(profile_id=live)
            )
            entry.profile_id = live
            self.load_history({live})
        if person.profile_id in self.restricted:
            self.end(entry, RESTRICTED_REASON)
            return
        step_id = entry.step or END
        for _ in range(len(journey.steps) + 1):
            if step_id == END:
                self.end(entry, "completed")
                return
            try:
                step = journey.step(step_id)
            except KeyError:
                self.end(entry, f"step {step_id!r} no longer exists")
                return
            if compiled.exit_when is not None and self.holds(
                compiled.exit_when, person.profile_id, compiled
            ):
                self.end(entry, "exit condition met")
                return
            outcome = self.take(compiled, entry, step, person)
            if outcome.wait_until is not None:
                entry.step, entry.wake_at_us = step.id, outcome.wait_until
                entry.waiting_for = outcome.waiting_for
                entry.dirty = True
                return
            if outcome.exit is not None:
                self.end(entry, outcome.exit)
                return
            step_id = journey.after(step, outcome.target)
            self.report.steps += 1
        raise AssertionError("steps only go forward")

    def take(self, compiled: _Compiled, entry: _Entry, step: Step, person: Person) -> "_Outcome":
        """Do one step (or find it done, or waiting). Returns where to go or how long to wait."""
        assert entry.id is not None
        done = self.done.get((entry.id, step.id))
        if done is not None:
            return self.resume(step, done)
        action = step.action
        if action == "wait":
            assert step.wait is not None
            until = self.now + duration_s(step.wait) * 1_000_000
            self.mark(entry, step.id, {"until_us": until})
            return _Outcome(wait_until=until)
        if action == "wait_until":
            assert step.wait_until is not None
            until = next_local_time(
                self.now - 1, step.wait_until.time, step.wait_until.days, person.tz
            )
            self.mark(entry, step.id, {"until_us": until})
            return _Outcome(wait_until=until)
        if action == "wait_for":
            assert step.wait_for is not None
            until = self.now + duration_s(step.wait_for.timeout) * 1_000_000
            self.mark(entry, step.id, {"until_us": until, "event": step.wait_for.event})
            return _Outcome(wait_until=until, waiting_for=step.wait_for.event)
        if action == "branch":
            assert step.branch is not None
            taken = self.holds(compiled.branches[step.id], person.profile_id, compiled)
            self.mark(entry, step.id, {"branch": "then" if taken else "else"})
            return _Outcome(target=step.branch.then if taken else step.branch.else_)
        if action == "exit":
            self.mark(entry, step.id, {"exit": step.exit})
            return _Outcome(exit=f"exit step {step.id!r}: {step.exit}")
        if action == "set_trait":
            assert step.set_trait is not None
            self.pending_events.append(
                activation_event(
                    person.profile_id,
                    "",
                    {},
                    f"journey:{entry.id}:{step.id}",
                    self.now,
                    kind="identify",
                    traits={step.set_trait.name: step.set_trait.value},
                )
            )
            self.mark(entry, step.id, {"trait": step.set_trait.name})
            return _Outcome()
        if action == "send":
            return self.send(compiled, entry, step, person)
        if action == "webhook":
            return self.webhook(compiled, entry, step, person)
        raise AssertionError(action)

    def resume(self, step: Step, outcome: dict[str, Any]) -> "_Outcome":
        """A step already done: a wait whose time has come goes on; others go where they went."""
        if "until_us" in outcome:
            if self.now < int(outcome["until_us"]):
                return _Outcome(
                    wait_until=int(outcome["until_us"]), waiting_for=outcome.get("event")
                )
            if step.wait_for is not None:
                return _Outcome(target=step.wait_for.on_timeout)
            return _Outcome()
        if "branch" in outcome and step.branch is not None:
            then = outcome["branch"] == "then"
            return _Outcome(target=step.branch.then if then else step.branch.else_)
        if "exit" in outcome:
            return _Outcome(exit=f"exit step {step.id!r}: {step.exit}")
        return _Outcome()

    def mark(self, entry: _Entry, step_id: str, outcome: dict[str, Any]) -> None:
        assert entry.id is not None
        self.done[(entry.id, step_id)] = outcome
        self.marks.append(
            {"entry_id": entry.id, "step": step_id, "at_us": self.now, "outcome": outcome}
        )

    # -- sending --

    def context(self, entry: _Entry, person: Person, *, recommend: bool = False) -> dict[str, Any]:
        event = dict(entry.trigger.get("properties") or {})
        event.setdefault("name", entry.trigger.get("event"))
        found = (
            recommendations_for(self.conn, person.profile_id, 4, now_us=self.now)
            if recommend
            else []
        )
        return {
            "profile": dict(person.values),
            "event": event,
            "recommendations": [r.as_json() for r in found],
            "links": {},
        }

    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = link_secret(self.conn)
        return self._secret

    def message(self, entry: _Entry, step: Step, person: Person, **fields: Any) -> dict[str, Any]:
        assert entry.id is not None
        row = {
            "key": message_key(entry.id, step.id),
            "journey_id": entry.journey_id,
            "entry_id": entry.id,
            "step": step.id,
            "profile_id": person.profile_id,
            "channel": "none",
            "address": "",
            "purpose": "marketing",
            "consent": None,
            "subject": None,
            "body": "",
            "html": None,
            "status": "queued",
            "attempts": 0,
            "next_attempt_us": self.now,
            "provider_id": None,
            "reason": None,
            "created_at_us": self.now,
            "sent_at_us": None,
            "updated_at_us": self.now,
            "opened_at_us": None,
            "clicked_at_us": None,
        }
        row.update(fields)
        return row

    def skip(self, entry: _Entry, step: Step, person: Person, reason: str, **fields: Any) -> None:
        self.outbox.append(
            self.message(
                entry,
                step,
                person,
                status="skipped",
                reason=reason,
                next_attempt_us=None,
                **fields,
            )
        )
        self.mark(entry, step.id, {"skipped": reason})

    def send(self, compiled: _Compiled, entry: _Entry, step: Step, person: Person) -> "_Outcome":
        assert step.send is not None
        send = step.send
        values = person.values
        reachable = addresses_of(person)
        purpose = send.consent_purpose
        consent = person.view.get("c", {})
        allowed = [c for c in send.channels if c in self.config.channels]
        # only the allowed channels can be chosen: consent is asked for those alone
        agreed = {c for c in allowed if purpose is None or _consented(consent, purpose, c)}
        suppressed = {
            c
            for c, a in reachable.items()
            if (c.value, a) in self.blocked or ("*", a) in self.blocked
        }
        usable = {c: a for c, a in reachable.items() if c not in suppressed}
        common = {"purpose": send.purpose, "consent": purpose}
        choice = policy.choose_channel(_preferred(values), usable, agreed, allowed)
        if isinstance(choice, policy.Skip):
            reason = choice.reason
            if suppressed:
                reason += "; suppressed: " + ", ".join(sorted(suppressed))
            if not allowed:
                reason = "none of the step's channels has a provider configured"
            self.skip(entry, step, person, reason, **common)
            return _Outcome()
        channel, address = choice.channel, choice.address
        common |= {"channel": channel.value, "address": address}
        country = person_country(values)
        if send.countries is not None and country not in send.countries:
            self.skip(
                entry,
                step,
                person,
                f"the step is for people in {', '.join(send.countries)}",
                **common,
            )
            return _Outcome()
        try:
            rendered = compiled.templates[step.id].render(
                self.context(entry, person, recommend=step.id in compiled.recommends)
            )
        except templates.TemplateError as exc:
            self.skip(entry, step, person, f"template failed: {exc}", **common)
            return _Outcome()
        history = self.history.setdefault((person.profile_id, channel.value, send.purpose), [])
        verdict = policy.check_send(
            self.config.rules,
            country=country,
            channel=channel,
            purpose=send.purpose,
            tz=person.tz,
            now_us=self.now,
            history_us=history,
            body=rendered.body,
        )
        if isinstance(verdict, policy.Defer):
            # not now (quiet hours): the step is taken again when the window opens
            return _Outcome(wait_until=verdict.until_us)
        if isinstance(verdict, policy.Block):
            self.skip(
                entry,
                step,
                person,
                verdict.reason,
                subject=rendered.subject,
                body=rendered.body,
                html=rendered.html,
                **common,
            )
            return _Outcome()
        body, html = rendered.body, rendered.html
        if self.config.track_links:
            assert entry.id is not None
            body, html = track_links(
                self.secret(), self.config.base_url, message_key(entry.id, step.id), body, html
            )
        self.outbox.append(
            self.message(
                entry, step, person, subject=rendered.subject, body=body, html=html, **common
            )
        )
        history.append(self.now)
        self.report.queued += 1
        self.mark(
            entry,
            step.id,
            {"message": message_key(entry.id or 0, step.id), "channel": channel.value},
        )
        return _Outcome()

    def webhook(self, compiled: _Compiled, entry: _Entry, step: Step, person: Person) -> "_Outcome":
        assert step.webhook is not None
        journey = compiled.saved.journey
        if step.id in compiled.webhook_bodies:
            try:
                body = (
                    compiled.webhook_bodies[step.id]
                    .render(self.context(entry, person, recommend=step.id in compiled.recommends))
                    .body
                )
            except templates.TemplateError as exc:
                self.mark(entry, step.id, {"skipped": f"template failed: {exc}"})
                return _Outcome()
        else:
            body = orjson.dumps(
                {
                    "journey": journey.name,
                    "step": step.id,
                    "profile_id": person.profile_id,
                    "entry_id": entry.id,
                    "trigger": entry.trigger,
                    "profile": _plain(person.values),
                },
                default=str,
            ).decode()
        self.outbox.append(
            self.message(
                entry,
                step,
                person,
                channel=ChannelName.WEBHOOK.value,
                address=step.webhook.url,
                purpose="transactional",
                body=body,
            )
        )
        self.report.queued += 1
        self.mark(
            entry, step.id, {"message": message_key(entry.id or 0, step.id), "channel": "webhook"}
        )
        return _Outcome()

    # -- writing --

    def flush(self) -> None:
        """Write what the phase decided: new entries, changed entries, steps done, messages,
        events."""
        if self.new_entries:
            insert_many(self.conn, journey_entries, [e.row() for e in self.new_entries])
            self.read_new_ids(self.new_entries)
            self.new_entries = []
        changed: dict[int, tuple[Any, ...]] = {}
        for entry in self.tracked:
            if entry.dirty and entry.id is not None:
                changed[entry.id] = tuple(getattr(entry, name) for name in _STATE)
                entry.dirty = False
        self.update_entries(changed)
        if self.marks:
            insert_many(self.conn, journey_steps, self.marks)
            self.marks = []
        if self.outbox:
            insert_many(self.conn, messages, self.outbox)
            self.outbox = []
        append_events(self.conn, self.pending_events, self.now)
        self.pending_events = []

    def update_entries(self, changed: dict[int, tuple[Any, ...]]) -> None:
        """Write entries' new states (``_STATE`` order): one UPDATE ... WHERE id IN (...) per
        distinct state (people moving together share one: ended, or waiting for the same
        step until the same time), the rest in one executemany."""
        by_state: dict[tuple[Any, ...], list[int]] = {}
        for entry_id, state in changed.items():
            by_state.setdefault(state, []).append(entry_id)
        single = []
        for state, ids in by_state.items():
            if len(ids) == 1:
                single.append({"entry_id": ids[0], **dict(zip(_NEW_STATE, state, strict=True))})
                continue
            self.conn.execute(
                update(journey_entries)
                .where(key_in(self.conn, journey_entries.c.id, ids))
                .values(dict(zip(_STATE, state, strict=True)))
            )
        if single:
            self.conn.execute(_UPDATE_ENTRY, single)

    def read_new_ids(self, new: list[_Entry]) -> None:
        """The ids of entries just inserted, found by their unique (journey, profile, entry
        number): an INSERT ... RETURNING in parameter order cost SQLAlchemy 60-90 us a row on
        PostgreSQL, this query a few."""
        by_key = {(e.journey_id, e.profile_id, e.entry_no): e for e in new}
        found = self.conn.execute(
            select(
                journey_entries.c.id,
                journey_entries.c.journey_id,
                journey_entries.c.profile_id,
                journey_entries.c.entry_no,
            ).where(
                key_in(
                    self.conn, journey_entries.c.profile_id, sorted({e.profile_id for e in new})
                ),
                journey_entries.c.entered_at_us == self.now,
            )
        )
        for entry_id, journey_id, profile_id, entry_no in found:
            entry = by_key.get((journey_id, profile_id, entry_no))
            if entry is not None:
                entry.id = int(entry_id)
        missing = [e for e in new if e.id is None]
        if missing:
            raise AssertionError(f"{len(missing)} journey entries were not stored")


class _EventBatch:
    """Loads the events of every person of a batch in one query, when the first is needed."""

    def __init__(self, conn: Connection, names: dict[int, str]) -> None:
        self.conn = conn
        self.names = names
        self.people: dict[str, Person] = {}

    def add(self, person: Person) -> None:
        self.people[person.profile_id] = person
        person._loader = self

    def load(self) -> None:
        pending = sorted(p for p, person in self.people.items() if person._events is None)
        if not pending:
            return
        found: dict[str, list[EventFact]] = {pid: [] for pid in pending}
        for pid, fact, _body in event_facts(self.conn, pending, self.names):
            found[pid].append(fact)
        for pid, events in found.items():
            self.people[pid]._events = events


@dataclass(frozen=True, slots=True)
class _Outcome:
    target: str | None = None
    wait_until: int | None = None
    waiting_for: str | None = None
    exit: str | None = None


def message_key(entry_id: int, step_id: str) -> str:
    return f"e{entry_id}-{step_id}"


_ADDRESS_TYPES = {
    ChannelName.EMAIL: "email",
    ChannelName.SMS: "phone",
    ChannelName.LINE: "line_user_id",
    ChannelName.ZALO: "zalo_user_id",
    ChannelName.PUSH: "push_token",
}


def addresses_of(person: Person) -> dict[ChannelName, str]:
    identifiers = person.values.get("identifiers", {})
    return addresses(identifiers if isinstance(identifiers, Mapping) else {})


def addresses(identifiers: Mapping[str, Any]) -> dict[ChannelName, str]:
    """The address for each channel a person is reachable on (the first of each type)."""
    found: dict[ChannelName, str] = {}
    for channel, id_type in _ADDRESS_TYPES.items():
        values = identifiers.get(id_type)
        if isinstance(values, list) and values and isinstance(values[0], str):
            found[channel] = values[0]
    return found


_CHANNELS = {c.value: c for c in ChannelName}


def _preferred(values: Mapping[str, Any]) -> list[ChannelName]:
    preferred = values.get("preferred_channel")
    return [_CHANNELS[preferred]] if isinstance(preferred, str) and preferred in _CHANNELS else []


def _consented(consent: Any, purpose: str, channel: ChannelName) -> bool:
    return consented(consent if isinstance(consent, Mapping) else {}, purpose, channel.value)


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in values.items()}


class JourneyEngine(BackgroundLoop):
    """Runs cycles until stopped; ``notify`` wakes it early (new events were processed)."""

    def __init__(
        self,
        engine: Engine,
        config: EngineConfig,
        *,
        poll_s: float = 0.2,
        clock: Callable[[], int] = system_clock,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        super().__init__("c360-journeys")
        self._engine = engine
        self._config = config
        self._poll_s = poll_s
        self._clock = clock
        self._on_queued = on_queued

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                report = run_cycle(self._engine, self._config, self._clock())
            except Exception:
                log.exception("journey cycle failed; retrying")
                self._wake.wait(max(self._poll_s, 1.0))
                self._wake.clear()
                continue
            if report.queued and self._on_queued is not None:
                self._on_queued()
            if not report.busy:
                self._wake.wait(self._poll_s)
                self._wake.clear()


__all__ = [
    "CHANGES_CHECKPOINT",
    "EVENTS_CHECKPOINT",
    "CycleReport",
    "EngineConfig",
    "JourneyEngine",
    "Person",
    "addresses",
    "load_person",
    "message_key",
    "person_zone",
    "run_cycle",
]
