"""Saving journeys: create, update, pause, resume, delete, read.

A journey is not derived from the log: ``c360 rebuild`` keeps it and the people in it. A new
journey sees only what happens after it is saved (events after the log's current end, feed
changes after the feed's current end), so saving one never floods people with old triggers.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, insert, select, update

from c360.activation import policy
from c360.activation.model import WEEKDAYS, Journey, JourneyError, parse_journey
from c360.changes.egress import UnresolvableHost
from c360.changes.feed import last_change_id
from c360.changes.subscriptions import check_url
from c360.errors import Conflict, InvalidInput, NotFound
from c360.eventlog.service import last_seq
from c360.kernel.clock import from_us, system_clock, to_us
from c360.privacy.purposes import check_purpose
from c360.segments import language as L
from c360.segments.membership import zone
from c360.storage.tables import journey_entries, journeys

ACTIVE = "active"
PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class SavedJourney:
    id: int
    name: str
    journey: Journey
    text: str
    status: str
    version: int
    start_seq: int
    start_change_id: int
    next_run_us: int | None
    created_at_us: int
    updated_at_us: int
    active_entries: int = 0
    total_entries: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "version": self.version,
            "definition": self.journey.as_json(),
            "text": self.text,
            "active_entries": self.active_entries,
            "total_entries": self.total_entries,
            "next_run_us": self.next_run_us,
            "created_at_us": self.created_at_us,
            "updated_at_us": self.updated_at_us,
        }


def _saved(row: Any, counts: tuple[int, int] = (0, 0)) -> SavedJourney:
    return SavedJourney(
        row.id,
        row.name,
        parse_journey(data=row.definition),
        row.text,
        row.status,
        row.version,
        row.start_seq,
        row.start_change_id,
        row.next_run_us,
        row.created_at_us,
        row.updated_at_us,
        *counts,
    )


def next_run_us(journey: Journey, after_us: int, default_tz: str) -> int | None:
    """When a scheduled journey next runs after ``after_us`` (None for other triggers)."""
    schedule = journey.trigger.schedule
    if schedule is None:
        return None
    tz = zone(journey.timezone or default_tz)
    return next_local_time(after_us, schedule.at, schedule.days, tz)


def next_local_time(after_us: int, at: str, days: tuple[str, ...], tz: ZoneInfo) -> int:
    """The first moment strictly after ``after_us`` that is ``at`` (HH:MM) on one of ``days``
    in ``tz``. A time a daylight-saving jump skips happens at the same wall time shifted by it."""
    hour, minute = (int(p) for p in at.split(":"))
    local = from_us(after_us).astimezone(tz)
    day = local.date()
    for _ in range(8):
        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
        at_us = to_us(candidate)
        if at_us > after_us and WEEKDAYS[candidate.weekday()] in days:
            return at_us
        day += timedelta(days=1)
    raise AssertionError("a week always holds one of the days")


def check_labels(journey: Journey, rules: policy.RuleBook) -> None:
    """Refuse a send step whose template lacks a label some country's rules require for its
    channel and purpose (Vietnam's ``[QC]`` on advertising SMS), before anything is sent."""
    for step in journey.steps:
        send = step.send
        if send is None:
            continue
        countries = send.countries or tuple(
            sorted({key[0] for key in rules.rules if key[0] != "*"})
        )
        for country in countries:
            for channel in send.channels:
                verdict = policy.check_label(
                    rules,
                    country=country,
                    channel=channel.value,
                    purpose=send.purpose,
                    text=send.template.body,
                )
                if isinstance(verdict, policy.Block):
                    raise JourneyError(
                        f"step {step.id!r}: {verdict.reason} (or limit the step with "
                        "'countries:' to people elsewhere)"
                    )


def check_webhooks(journey: Journey, allowed_hosts: str) -> None:
    """Refuse webhook steps aimed at internal addresses (loopback, private, metadata...) unless
    allowed; the dispatcher checks again before every request. A name that does not resolve
    now is let through: it is checked when it is called."""
    for step in journey.steps:
        if step.webhook is None:
            continue
        try:
            check_url(step.webhook.url, allowed_hosts=allowed_hosts)
        except UnresolvableHost:
            continue
        except InvalidInput as exc:
            raise JourneyError(f"step {step.id!r}: {exc}") from None


def check_purposes(journey: Journey) -> None:
    """Refuse a send step needing, or a condition asking about, a consent purpose that is not
    configured: a typo would otherwise skip everyone, silently."""
    conditions = [("entry_when", journey.entry_when), ("exit_when", journey.exit_when)]
    for step in journey.steps:
        if step.send is not None and step.send.consent_purpose is not None:
            try:
                check_purpose(step.send.consent_purpose, "consent")
            except InvalidInput as exc:
                raise JourneyError(f"step {step.id!r}: {exc}") from None
        if step.branch is not None:
            conditions.append((f"step {step.id!r} branch", step.branch.if_))
    for where, text in conditions:
        if text is None:
            continue
        for purpose in sorted(L.purposes_named(L.parse(text))):
            try:
                check_purpose(purpose, "consented to")
            except InvalidInput as exc:
                raise JourneyError(f"{where}: {exc}") from None


def create_journey(
    conn: Connection,
    text: str | None = None,
    data: Any = None,
    *,
    default_tz: str = "UTC",
    now_us: int | None = None,
    rules: policy.RuleBook = policy.DEFAULT_RULES,
    allowed_hosts: str = "",
) -> SavedJourney:
    journey = parse_journey(text, data)
    check_labels(journey, rules)
    check_webhooks(journey, allowed_hosts)
    check_purposes(journey)
    if conn.execute(select(journeys.c.id).where(journeys.c.name == journey.name)).first():
        raise Conflict(f"a journey called {journey.name!r} exists: update it or pick another name")
    now = system_clock() if now_us is None else now_us
    conn.execute(
        insert(journeys).values(
            name=journey.name,
            definition=journey.as_json(),
            text=text if text is not None else _yaml(journey),
            status=ACTIVE,
            version=1,
            start_seq=last_seq(conn),
            start_change_id=last_change_id(conn),
            next_run_us=next_run_us(journey, now, default_tz),
            created_at_us=now,
            updated_at_us=now,
        )
    )
    return get_journey(conn, journey.name)


def update_journey(
    conn: Connection,
    name: str,
    text: str | None = None,
    data: Any = None,
    *,
    default_tz: str = "UTC",
    now_us: int | None = None,
    rules: policy.RuleBook = policy.DEFAULT_RULES,
    allowed_hosts: str = "",
) -> SavedJourney:
    """Replace a journey's definition. People waiting at a step the new version still has go
    on from there; a step they are at may not be removed while anyone waits at it."""
    saved = get_journey(conn, name)
    journey = parse_journey(text, data)
    check_labels(journey, rules)
    check_webhooks(journey, allowed_hosts)
    check_purposes(journey)
    if journey.name != name:
        raise Conflict(f"the definition is called {journey.name!r}; renaming is not supported")
    kept = {s.id for s in journey.steps}
    waiting = conn.execute(
        select(journey_entries.c.step, func.count())
        .where(journey_entries.c.journey_id == saved.id, journey_entries.c.status == ACTIVE)
        .group_by(journey_entries.c.step)
    ).all()
    stranded = {step: n for step, n in waiting if step not in kept}
    if stranded:
        listing = ", ".join(f"{n} at {step!r}" for step, n in sorted(stranded.items()))
        raise Conflict(
            f"journey {name!r} has people at steps the new version removes ({listing}); keep "
            "those step ids, or pause the journey and wait until they move on"
        )
    now = system_clock() if now_us is None else now_us
    conn.execute(
        update(journeys)
        .where(journeys.c.id == saved.id)
        .values(
            definition=journey.as_json(),
            text=text if text is not None else _yaml(journey),
            version=saved.version + 1,
            next_run_us=next_run_us(journey, now, default_tz),
            updated_at_us=now,
        )
    )
    return get_journey(conn, name)


def set_status(
    conn: Connection, name: str, status: str, *, now_us: int | None = None
) -> SavedJourney:
    """Pause (nobody enters, nobody moves on; waits keep their times) or resume."""
    saved = get_journey(conn, name)
    now = system_clock() if now_us is None else now_us
    conn.execute(
        update(journeys).where(journeys.c.id == saved.id).values(status=status, updated_at_us=now)
    )
    return get_journey(conn, name)


def delete_journey(conn: Connection, name: str, *, now_us: int | None = None) -> int:
    """Delete a journey. People still in it leave (their entries end with "journey deleted";
    entries and messages stay as history). Returns how many were still in it."""
    saved = get_journey(conn, name)
    now = system_clock() if now_us is None else now_us
    result = conn.execute(
        update(journey_entries)
        .where(journey_entries.c.journey_id == saved.id, journey_entries.c.status == ACTIVE)
        .values(status="ended", ended_at_us=now, end_reason="journey deleted", wake_at_us=None)
    )
    conn.execute(journeys.delete().where(journeys.c.id == saved.id))
    return int(result.rowcount or 0)


def _counts(conn: Connection, ids: list[int]) -> dict[int, tuple[int, int]]:
    out: dict[int, tuple[int, int]] = {}
    rows = conn.execute(
        select(
            journey_entries.c.journey_id,
            func.sum((journey_entries.c.status == ACTIVE).cast(journey_entries.c.entry_no.type)),
            func.count(),
        )
        .where(journey_entries.c.journey_id.in_(ids))
        .group_by(journey_entries.c.journey_id)
    )
    for jid, active, total in rows:
        out[jid] = (int(active or 0), int(total))
    return out


def get_journey(conn: Connection, name: str) -> SavedJourney:
    row = conn.execute(select(journeys).where(journeys.c.name == name)).first()
    if row is None:
        raise NotFound(f"no journey called {name!r} (c360 journeys list shows them)")
    return _saved(row, _counts(conn, [row.id]).get(row.id, (0, 0)))


def list_journeys(conn: Connection) -> list[SavedJourney]:
    rows = conn.execute(select(journeys).order_by(journeys.c.name)).all()
    counts = _counts(conn, [r.id for r in rows]) if rows else {}
    return [_saved(r, counts.get(r.id, (0, 0))) for r in rows]


def load_active(conn: Connection) -> list[SavedJourney]:
    """Every journey, active and paused (paused ones keep converting and exiting people)."""
    return [_saved(r) for r in conn.execute(select(journeys).order_by(journeys.c.id))]


def _yaml(journey: Journey) -> str:
    import yaml

    return str(yaml.safe_dump(journey.as_json(), allow_unicode=True, sort_keys=False))
