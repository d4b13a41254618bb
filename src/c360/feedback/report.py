"""Feedback reports: volume by topic and sentiment over time, NPS and CSAT trends, response and
resolution times against the SLA, and this week's top issues.

Periods are calendar days or ISO weeks (Monday first) in the configured time zone. NPS is
``% promoters (9-10) - % detractors (0-6)`` over items rated on a 0-10 scale; CSAT is the share
of 1-5 ratings that are 4 or 5, with the mean rating.
"""

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from c360.errors import InvalidInput
from c360.feedback.model import LEVELS, FeedbackConfig
from c360.feedback.service import spike_for
from c360.kernel.clock import from_us, isoformat_us, system_clock
from c360.storage.tables import feedback_items

Period = Literal["day", "week"]
_US = 1_000_000
_HOUR_US = 3600 * _US
_DAY_US = 86_400 * _US
MAX_DAYS = 731


@dataclass(frozen=True, slots=True)
class Report:
    since_us: int
    until_us: int
    period: str
    zone: str
    volume: list[dict[str, Any]]
    nps: list[dict[str, Any]]
    csat: list[dict[str, Any]]
    sla: list[dict[str, Any]]
    top_issues: list[dict[str, Any]]
    totals: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "since": isoformat_us(self.since_us),
            "until": isoformat_us(self.until_us),
            "period": self.period,
            "timezone": self.zone,
            "totals": self.totals,
            "volume": self.volume,
            "nps": self.nps,
            "csat": self.csat,
            "sla": self.sla,
            "top_issues": self.top_issues,
        }


def _label(at_us: int, zone: ZoneInfo, period: Period) -> str:
    day = from_us(at_us).astimezone(zone).date()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.isoformat()


def _median_hours(values: Sequence[int]) -> float | None:
    return round(statistics.median(values) / _HOUR_US, 2) if values else None


def build_report(
    conn: Connection,
    config: FeedbackConfig,
    *,
    since_us: int | None = None,
    until_us: int | None = None,
    period: Period = "day",
    default_tz: str = "UTC",
) -> Report:
    """The report over items received in [since, until) (default: the last 30 days)."""
    until = system_clock() if until_us is None else until_us
    since = until - 30 * _DAY_US if since_us is None else since_us
    # a report covers at most MAX_DAYS days, up to ``until``; since after until is empty
    since = min(max(since, until - MAX_DAYS * _DAY_US), until)
    if period not in ("day", "week"):
        raise InvalidInput("period is day or week")
    zone_name = config.timezone or default_tz
    zone = ZoneInfo(zone_name)
    rows = conn.execute(
        select(
            feedback_items.c.received_at_us,
            feedback_items.c.topic,
            feedback_items.c.sentiment,
            feedback_items.c.rating,
            feedback_items.c.rating_scale,
            feedback_items.c.level,
            feedback_items.c.priority,
            feedback_items.c.status,
            feedback_items.c.respond_by_us,
            feedback_items.c.resolve_by_us,
            feedback_items.c.responded_at_us,
            feedback_items.c.resolved_at_us,
            feedback_items.c.breached,
        ).where(feedback_items.c.received_at_us >= since, feedback_items.c.received_at_us < until)
    ).all()
    volume: Counter[tuple[str, str, str]] = Counter()
    nps: dict[str, Counter[str]] = defaultdict(Counter)
    csat: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        label = _label(r.received_at_us, zone, period)
        volume[(label, r.topic, r.sentiment)] += 1
        if r.rating is not None and r.rating_scale == 10 and 0 <= r.rating <= 10:
            nps[label][
                "promoters" if r.rating >= 9 else "passives" if r.rating >= 7 else "detractors"
            ] += 1
        elif r.rating is not None and r.rating_scale == 5 and 1 <= r.rating <= 5:
            csat[label].append(float(r.rating))
    return Report(
        since,
        until,
        period,
        zone_name,
        [
            {"period": p, "topic": t, "sentiment": s, "count": n}
            for (p, t, s), n in sorted(volume.items())
        ],
        [_nps_row(p, c) for p, c in sorted(nps.items())],
        [
            {
                "period": p,
                "responses": len(v),
                "average": round(sum(v) / len(v), 2),
                "csat": round(100 * sum(1 for x in v if x >= 4) / len(v), 1),
            }
            for p, v in sorted(csat.items())
        ],
        _sla_rows(rows, until),
        top_issues(conn, config, rows, until),
        {
            "items": len(rows),
            "by_sentiment": dict(Counter(r.sentiment for r in rows)),
            "by_status": dict(Counter(r.status for r in rows)),
        },
    )


def _nps_row(period: str, counts: Counter[str]) -> dict[str, Any]:
    total = sum(counts.values())
    return {
        "period": period,
        "responses": total,
        "promoters": counts["promoters"],
        "passives": counts["passives"],
        "detractors": counts["detractors"],
        "nps": round(100 * (counts["promoters"] - counts["detractors"]) / total, 1),
    }


def _sla_rows(rows: Sequence[Any], now_us: int) -> list[dict[str, Any]]:
    out = []
    for level in LEVELS:
        mine = [r for r in rows if r.level == level]
        timed = [r for r in mine if r.respond_by_us is not None]
        responded = [r for r in timed if r.responded_at_us is not None]
        resolved = [r for r in timed if r.resolved_at_us is not None]
        respond_in = [r for r in responded if r.responded_at_us <= r.respond_by_us]
        resolve_in = [r for r in resolved if r.resolved_at_us <= r.resolve_by_us]
        out.append(
            {
                "level": level,
                "items": len(mine),
                "with_sla": len(timed),
                "median_response_h": _median_hours(
                    [r.responded_at_us - r.received_at_us for r in responded]
                ),
                "median_resolution_h": _median_hours(
                    [r.resolved_at_us - r.received_at_us for r in resolved]
                ),
                "responded_within_sla_pct": _pct(len(respond_in), len(responded)),
                "resolved_within_sla_pct": _pct(len(resolve_in), len(resolved)),
                "open_breached": sum(
                    1 for r in timed if r.resolved_at_us is None and r.resolve_by_us < now_us
                ),
            }
        )
    return out


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def top_issues(
    conn: Connection, config: FeedbackConfig, rows: Sequence[Any], until_us: int, limit: int = 5
) -> list[dict[str, Any]]:
    """This week's (the 7 days up to ``until``) topics by count, with their negative share,
    mean priority and whether the topic spikes today."""
    week = [r for r in rows if r.received_at_us >= until_us - 7 * _DAY_US]
    by_topic: dict[str, list[Any]] = defaultdict(list)
    for r in week:
        by_topic[r.topic].append(r)
    ranked = sorted(by_topic.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:limit]
    out = []
    for topic, items in ranked:
        spike = spike_for(conn, config, topic, until_us - 1)
        out.append(
            {
                "topic": topic,
                "items": len(items),
                "negative_pct": _pct(
                    sum(1 for r in items if r.sentiment == "negative"), len(items)
                ),
                "average_priority": round(sum(r.priority for r in items) / len(items), 1),
                "open": sum(1 for r in items if r.resolved_at_us is None),
                "spike_today": spike["spike"],
                "today": spike["count"],
                "threshold": spike["threshold"],
            }
        )
    return out
