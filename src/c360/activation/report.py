"""A journey's results: who entered, what was sent, and whether it changed what people did.

Conversion counts every entry whose goal event came within the goal window, in both groups:
the control group entered the same way and was held out, so the difference in conversion
rate is what the journey's messages did (uplift, with a 95 % confidence interval).
"""

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from c360.activation import experiment
from c360.activation.journeys import get_journey
from c360.storage.tables import journey_entries, messages


@dataclass(frozen=True, slots=True)
class Arm:
    entries: int
    conversions: int
    revenue: float

    @property
    def rate(self) -> float | None:
        return self.conversions / self.entries if self.entries else None


@dataclass(frozen=True, slots=True)
class JourneyReport:
    name: str
    entries: int
    active: int
    treatment: Arm
    control: Arm
    sends: dict[str, dict[str, int]]
    """Messages by channel and status (queued, sent, failed, skipped...)."""
    skipped_reasons: dict[str, int]
    opened: int
    clicked: int
    uplift: experiment.Uplift
    goal: str | None

    def counted(self, *statuses: str) -> int:
        """Messages in any of ``statuses``, over every channel."""
        return sum(n for s in self.sends.values() for k, n in s.items() if k in statuses)

    def as_json(self) -> dict[str, Any]:
        sent = self.counted("sent", "delivered")
        attempted = sent + self.counted("failed", "bounced")
        return {
            "journey": self.name,
            "goal": self.goal,
            "entries": self.entries,
            "active": self.active,
            "treatment": _arm(self.treatment),
            "control": _arm(self.control),
            "sends_by_channel": self.sends,
            "skipped_reasons": self.skipped_reasons,
            "delivery_rate": sent / attempted if attempted else None,
            "open_rate": self.opened / sent if sent else None,
            "click_rate": self.clicked / sent if sent else None,
            "uplift": experiment_json(self.uplift),
            "revenue_attributed": self.treatment.revenue,
        }


def _arm(arm: Arm) -> dict[str, Any]:
    return {
        "entries": arm.entries,
        "conversions": arm.conversions,
        "conversion_rate": arm.rate,
        "revenue": arm.revenue,
    }


def experiment_json(uplift: experiment.Uplift) -> dict[str, Any]:
    return asdict(uplift)


def journey_report(conn: Connection, name: str) -> JourneyReport:
    saved = get_journey(conn, name)
    arms: dict[str, Arm] = {}
    for arm, entries, conversions, revenue in conn.execute(
        select(
            journey_entries.c.arm,
            func.count(),
            func.count(journey_entries.c.converted_at_us),
            func.coalesce(func.sum(journey_entries.c.revenue), 0.0),
        )
        .where(journey_entries.c.journey_id == saved.id)
        .group_by(journey_entries.c.arm)
    ):
        arms[arm] = Arm(int(entries), int(conversions), float(revenue or 0.0))
    empty = Arm(0, 0, 0.0)
    treatment, control = arms.get("treatment", empty), arms.get("control", empty)
    sends: dict[str, dict[str, int]] = {}
    for channel, status, n in conn.execute(
        select(messages.c.channel, messages.c.status, func.count())
        .where(messages.c.journey_id == saved.id)
        .group_by(messages.c.channel, messages.c.status)
    ):
        sends.setdefault(channel, {})[status] = int(n)
    reasons = {
        str(reason): int(n)
        for reason, n in conn.execute(
            select(messages.c.reason, func.count())
            .where(messages.c.journey_id == saved.id, messages.c.status == "skipped")
            .group_by(messages.c.reason)
        )
    }
    opened, clicked = conn.execute(
        select(func.count(messages.c.opened_at_us), func.count(messages.c.clicked_at_us)).where(
            messages.c.journey_id == saved.id
        )
    ).one()
    uplift = experiment.uplift(
        treatment.conversions, treatment.entries, control.conversions, control.entries
    )
    return JourneyReport(
        saved.name,
        treatment.entries + control.entries,
        saved.active_entries,
        treatment,
        control,
        sends,
        reasons,
        int(opened),
        int(clicked),
        uplift,
        saved.journey.goal.event if saved.journey.goal else None,
    )
