"""``GET /api/dashboard``: the numbers on the web app's home page, one request.

Each section is there only for roles that may see its area (segments, journeys, sources,
feedback); the profile and event counts are for every role that reads profiles. Days are
calendar days in the deployment's time zone.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, func, select

from c360.activation.report import journey_report
from c360.changes.feed import ChangeKind
from c360.eventlog import service as log_service
from c360.kernel.clock import Clock, isoformat_us, system_clock
from c360.privacy.roles import CAPABILITIES, Capability, Role
from c360.storage.tables import (
    event_log,
    feedback_items,
    journeys,
    profile_changes,
    profiles,
    rejects,
    segment_members,
    segments,
)

DAY_US = 86_400_000_000


class DayCount(BaseModel):
    day: str = Field(description="Calendar day (YYYY-MM-DD) in the deployment's time zone")
    count: int


class SourceHealth(BaseModel):
    name: str
    last_received_at: str | None = Field(
        None, description="Newest message in the window (null: nothing in the window)"
    )
    events: int = Field(description="Messages accepted in the window")
    quarantined: int = Field(description="Messages or rows quarantined in the window")


class SegmentSize(BaseModel):
    name: str
    members: int


class JourneyConversion(BaseModel):
    name: str
    status: str
    entries: int
    treatment_rate: float | None
    control_rate: float | None
    uplift: float | None = Field(None, description="Treatment rate minus control rate")


class Dashboard(BaseModel):
    generated_at: str
    timezone: str
    days: int
    profiles: int = Field(description="Live golden profiles")
    new_profiles: list[DayCount]
    events_per_day: list[DayCount]
    sources: list[SourceHealth] | None = Field(None, description="Roles that read sources")
    top_segments: list[SegmentSize] | None = Field(None, description="Roles that read segments")
    journeys: list[JourneyConversion] | None = Field(None, description="Roles that read journeys")
    feedback_by_sentiment: dict[str, int] | None = Field(
        None, description="Feedback received in the window; roles that read feedback"
    )


@dataclass(frozen=True, slots=True)
class Window:
    """The last ``days`` calendar days in ``zone``, ending today."""

    zone: ZoneInfo
    days: int
    now_us: int

    @property
    def start_us(self) -> int:
        now = datetime.fromtimestamp(self.now_us / 1e6, self.zone)
        first = (now - timedelta(days=self.days - 1)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        return int(first.timestamp() * 1_000_000)

    def day_of(self, at_us: int) -> str:
        return datetime.fromtimestamp(at_us / 1e6, self.zone).date().isoformat()

    def every_day(self) -> list[str]:
        start = datetime.fromtimestamp(self.start_us / 1e6, self.zone).date()
        return [(start + timedelta(days=i)).isoformat() for i in range(self.days)]

    def buckets(self, stamps: list[tuple[int, int]]) -> list[DayCount]:
        """(hour bucket start in µs, count) pairs summed into calendar days (hour buckets
        keep the SQL dialect-neutral while following any time zone's offset)."""
        counts = dict.fromkeys(self.every_day(), 0)
        for at_us, n in stamps:
            day = self.day_of(at_us)
            if day in counts:
                counts[day] += n
        return [DayCount(day=d, count=n) for d, n in counts.items()]


HOUR_US = 3_600_000_000


def first_seq_since(conn: Connection, since_us: int) -> int:
    """The first log position received at or after ``since_us``, found by bisecting the log
    (positions grow with arrival), so the window's queries use the primary key, not a scan."""
    bounds = conn.execute(select(func.min(event_log.c.seq), func.max(event_log.c.seq))).one()
    lo, hi = bounds
    if lo is None:
        return 0
    hi += 1
    while lo < hi:
        mid = (lo + hi) // 2
        row = conn.execute(
            select(event_log.c.seq, event_log.c.received_at_us)
            .where(event_log.c.seq >= mid)
            .order_by(event_log.c.seq)
            .limit(1)
        ).first()
        if row is None or row.received_at_us >= since_us:
            hi = mid
        else:
            lo = row.seq + 1
    return int(lo)


def build_dashboard(
    conn: Connection, role: Role, zone: ZoneInfo, days: int, now_us: int
) -> Dashboard:
    window = Window(zone, days, now_us)
    since_us = window.start_us
    allowed = CAPABILITIES[role]
    hour = event_log.c.received_at_us - event_log.c.received_at_us % HOUR_US
    first = first_seq_since(conn, since_us)
    per_source = conn.execute(
        select(
            event_log.c.source_id,
            hour.label("hour"),
            func.count().label("n"),
            func.max(event_log.c.received_at_us).label("newest"),
        )
        .where(event_log.c.seq >= first, event_log.c.received_at_us >= since_us)
        .group_by(event_log.c.source_id, hour)
    ).all()
    changed_hour = profile_changes.c.at_us - profile_changes.c.at_us % HOUR_US
    created = conn.execute(
        select(changed_hour, func.count())
        .where(
            profile_changes.c.kind == ChangeKind.PROFILE_CREATED.value,
            profile_changes.c.at_us >= since_us,
        )
        .group_by(changed_hour)
    ).all()
    board = Dashboard(
        generated_at=isoformat_us(now_us),
        timezone=str(zone),
        days=days,
        profiles=conn.execute(
            select(func.count()).select_from(profiles).where(profiles.c.merged_into.is_(None))
        ).scalar_one(),
        new_profiles=window.buckets([(int(h), int(n)) for h, n in created]),
        events_per_day=window.buckets([(int(r.hour), int(r.n)) for r in per_source]),
    )
    if Capability.SOURCES_READ in allowed:
        board.sources = _sources(conn, per_source, since_us)
    if Capability.SEGMENTS_READ in allowed:
        board.top_segments = _top_segments(conn)
    if Capability.JOURNEYS_READ in allowed:
        board.journeys = _journeys(conn)
    if Capability.FEEDBACK_READ in allowed:
        board.feedback_by_sentiment = {
            sentiment: int(n)
            for sentiment, n in conn.execute(
                select(feedback_items.c.sentiment, func.count())
                .where(feedback_items.c.received_at_us >= since_us)
                .group_by(feedback_items.c.sentiment)
            )
        }
    return board


def _sources(conn: Connection, per_source: Sequence[Any], since_us: int) -> list[SourceHealth]:
    events: dict[int, int] = {}
    newest: dict[int, int] = {}
    for row in per_source:
        events[row.source_id] = events.get(row.source_id, 0) + int(row.n)
        newest[row.source_id] = max(newest.get(row.source_id, 0), int(row.newest))
    quarantined: dict[int, int] = dict(
        conn.execute(
            select(rejects.c.source_id, func.count())
            .where(rejects.c.received_at_us >= since_us)
            .group_by(rejects.c.source_id)
        ).all()
    )
    return [
        SourceHealth(
            name=source.name,
            last_received_at=isoformat_us(newest[source.id]) if source.id in newest else None,
            events=events.get(source.id, 0),
            quarantined=int(quarantined.get(source.id, 0)),
        )
        for source in log_service.list_sources(conn)
    ]


def _top_segments(conn: Connection, limit: int = 5) -> list[SegmentSize]:
    members = func.count(segment_members.c.profile_id)
    rows = conn.execute(
        select(segments.c.name, members.label("n"))
        .select_from(
            segments.outerjoin(segment_members, segment_members.c.segment_id == segments.c.id)
        )
        .group_by(segments.c.name)
        .order_by(members.desc(), segments.c.name)
        .limit(limit)
    ).all()
    return [SegmentSize(name=name, members=int(n)) for name, n in rows]


def _journeys(conn: Connection) -> list[JourneyConversion]:
    out = []
    for name, status in conn.execute(
        select(journeys.c.name, journeys.c.status).order_by(journeys.c.name)
    ):
        report = journey_report(conn, name)
        treatment, control = report.treatment.rate, report.control.rate
        out.append(
            JourneyConversion(
                name=name,
                status=status,
                entries=report.entries,
                treatment_rate=treatment,
                control_rate=control,
                uplift=treatment - control
                if treatment is not None and control is not None
                else None,
            )
        )
    return out


def add_dashboard_routes(
    router: APIRouter, read_engine: Engine, timezone: str, clock: Clock = system_clock
) -> None:
    zone = ZoneInfo(timezone)

    @router.get("/dashboard", response_model=Dashboard, tags=["web"])
    def dashboard(request: Request, days: Annotated[int, Query(ge=1, le=366)] = 30) -> Dashboard:
        """The home page's numbers: profiles, new profiles and events per day, and (for the
        roles that may see them) source freshness and quarantine, the largest segments,
        journey conversion against the control group and feedback by sentiment."""
        role = Role(request.state.actor.role)
        with read_engine.connect() as conn:
            return build_dashboard(conn, role, zone, days, clock())
