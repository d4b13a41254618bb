"""Feedback configuration and values: where feedback comes from, how it is prioritised, who gets
it and how fast (docs/feedback.md).

Everything has a default, so feedback works with no configuration; a YAML file
(``C360_FEEDBACK_CONFIG``) changes any part of it.
"""

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from c360.errors import InvalidInput


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    NOTIFIED = "customer_notified"


OPEN_STATUSES = (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS)

NEXT: dict[Status, tuple[Status, ...]] = {
    Status.NEW: (Status.ASSIGNED, Status.IN_PROGRESS, Status.RESOLVED),
    Status.ASSIGNED: (Status.ASSIGNED, Status.IN_PROGRESS, Status.RESOLVED),
    Status.IN_PROGRESS: (Status.ASSIGNED, Status.RESOLVED),
    Status.RESOLVED: (Status.IN_PROGRESS, Status.NOTIFIED),
    Status.NOTIFIED: (Status.IN_PROGRESS,),
}
"""Allowed moves. Resolved or notified items can be reopened (back to in progress)."""

Kind = Literal["direct", "indirect", "inferred"]
LEVELS = ("P1", "P2", "P3", "P4")
TEAMS = ("service", "shipping", "billing", "product", "sales")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventSource(_Strict):
    """A tracked event that is feedback, and where its text and rating are."""

    event: str
    kind: Kind = "direct"
    channel: str | None = None
    """Default channel when the event does not say (``properties.channel``)."""
    text: tuple[str, ...] = ("text", "comment", "feedback", "message", "review_body", "body")
    subject: tuple[str, ...] = ("subject", "title")
    rating: tuple[str, ...] = ("score", "nps", "nps_score", "rating", "csat")
    rating_scale: int | None = None
    """10 for NPS; 5 for 1..5 stars/CSAT; None: ``properties.rating_scale``, else 10 when the
    rating is named score/nps, else 5."""


class InferredEvent(_Strict):
    """A behaviour that says something without words (a failed payment, rage clicks)."""

    event: str
    topic: str
    sentiment: Literal["negative", "neutral", "positive"] = "negative"
    channel: str = "web"
    note: str = ""


class Weights(_Strict):
    """Priority = 100 x (weighted mean of the factors, each 0..1); docs/feedback.md."""

    urgency: float = Field(35, ge=0)
    sentiment: float = Field(25, ge=0)
    value: float = Field(15, ge=0)
    open_orders: float = Field(15, ge=0)
    spike: float = Field(10, ge=0)


class Sla(_Strict):
    respond_h: float = Field(gt=0)
    resolve_h: float = Field(gt=0)


class Rule(_Strict):
    """Send items matching every given test to ``team`` (lists mean any of)."""

    team: str
    topic: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    language: tuple[str, ...] = ()
    level: tuple[str, ...] = ()
    sentiment: tuple[str, ...] = ()
    cue: tuple[str, ...] = ()


class Notify(_Strict):
    """The thank-you sent when an item is resolved with ``notify``."""

    channels: tuple[str, ...] = ("line", "zalo", "email", "sms")
    hours: str = "08:00-21:00"
    """Local hours in the person's time zone; outside them the message waits."""
    consent_purpose: str = "customer_service"
    require_opt_in: bool = False
    """False: sent unless the person withdrew ``consent_purpose`` on the channel (a reply to
    someone who wrote in); True: only with that consent given."""
    subject: dict[str, str] = Field(
        default_factory=lambda: {
            "en": "Thank you for your feedback",
            "th": "ขอบคุณสำหรับความคิดเห็นของคุณ",
            "vi": "Cảm ơn góp ý của bạn",
        }
    )
    body: dict[str, str] = Field(
        default_factory=lambda: {
            "en": "Hello {{ profile.first_name | default('there') }}, thank you for telling us"
            " about this. It has been resolved: {{ event.resolution }}",
            "th": "สวัสดีค่ะ คุณ{{ profile.first_name | default('ลูกค้า') }} ขอบคุณที่แจ้งเรื่องนี้"
            "กับเรา เรื่องของคุณได้รับการแก้ไขแล้ว: {{ event.resolution }}",
            "vi": "Xin chào {{ profile.first_name | default('quý khách') }}, cảm ơn bạn đã góp "
            "ý. Vấn đề của bạn đã được giải quyết: {{ event.resolution }}",
        }
    )


def _default_events() -> tuple[EventSource, ...]:
    return (
        EventSource(event="Feedback Submitted"),
        EventSource(event="Survey Answered", channel="survey"),
        EventSource(event="Survey Submitted", channel="survey"),
        EventSource(event="NPS Submitted", channel="survey", rating_scale=10),
        EventSource(event="Product Reviewed", channel="review", rating_scale=5),
        EventSource(event="Comment Posted", channel="forum"),
        EventSource(event="Social Mention", kind="indirect", channel="social"),
        EventSource(event="Call Note Added", kind="indirect", channel="phone"),
        EventSource(event="Sales Note Added", kind="indirect", channel="sales"),
    )


def _default_inferred() -> tuple[InferredEvent, ...]:
    return (
        InferredEvent(event="Payment Failed", topic="billing", note="a payment failed"),
        InferredEvent(event="Checkout Error", topic="website_app", note="checkout failed"),
        InferredEvent(event="Rage Click", topic="website_app", note="repeated clicks"),
        InferredEvent(event="Error Page Viewed", topic="website_app", note="an error page"),
        InferredEvent(
            event="Call Abandoned", topic="service", channel="phone", note="hung up waiting"
        ),
        InferredEvent(
            event="Return Requested", topic="product_quality", channel="store", note="a return"
        ),
        InferredEvent(
            event="Store Visited",
            topic="other",
            sentiment="neutral",
            channel="store",
            note="visited a store",
        ),
    )


def _default_sla() -> dict[str, Sla]:
    return {
        "P1": Sla(respond_h=1, resolve_h=8),
        "P2": Sla(respond_h=4, resolve_h=24),
        "P3": Sla(respond_h=24, resolve_h=72),
        "P4": Sla(respond_h=72, resolve_h=168),
    }


def _default_teams() -> dict[str, str]:
    return {
        "delivery": "shipping",
        "billing": "billing",
        "product_quality": "product",
        "website_app": "product",
        "price": "sales",
        "service": "service",
        "other": "service",
    }


class FeedbackConfig(_Strict):
    events: tuple[EventSource, ...] = Field(default_factory=_default_events)
    inferred: tuple[InferredEvent, ...] = Field(default_factory=_default_inferred)
    record_kinds: tuple[str, ...] = ("feedback", "ticket", "survey_response")
    topics: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """More topics, or more terms for a built-in one: topic -> terms (any language)."""
    weights: Weights = Field(default_factory=Weights)
    levels: dict[str, int] = Field(default_factory=lambda: {"P1": 70, "P2": 50, "P3": 30})
    """Lowest priority score of each level; below the last: P4."""
    sla: dict[str, Sla] = Field(default_factory=_default_sla)
    rules: tuple[Rule, ...] = (Rule(team="service", cue=("legal", "safety")),)
    """Checked in order; the first match routes. No match: ``teams`` by topic."""
    teams: dict[str, str] = Field(default_factory=_default_teams)
    spike_days: int = Field(14, ge=1, le=90)
    spike_min: int = Field(5, ge=1)
    """A topic spikes on a day when it has at least this many items and more than its mean of
    the ``spike_days`` before plus three standard deviations (Poisson: 3 x sqrt(mean))."""
    value_tiers: tuple[str, ...] = ("bronze", "silver", "gold", "platinum")
    """Value tiers (computed trait ``value_tier``) from low to high; the value factor is the
    tier's place in this list (an unknown tier or "none" counts 0)."""
    timezone: str | None = None
    """The zone days are counted in for spikes and reports (default: C360_TIMEZONE)."""
    notify: Notify = Field(default_factory=Notify)

    @field_validator("sla")
    @classmethod
    def _every_level(cls, value: dict[str, Sla]) -> dict[str, Sla]:
        missing = [level for level in LEVELS if level not in value]
        if missing:
            raise ValueError(f"give an SLA for every level; missing {', '.join(missing)}")
        return value

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: dict[str, int]) -> dict[str, int]:
        if sorted(value) != ["P1", "P2", "P3"]:
            raise ValueError("levels gives the lowest score of P1, P2 and P3 (P4 is the rest)")
        if not value["P1"] > value["P2"] > value["P3"] >= 0:
            raise ValueError("levels must fall: P1 > P2 > P3 >= 0")
        return value

    def event_source(self, name: str) -> EventSource | None:
        wanted = name.strip().lower()
        return next((e for e in self.events if e.event.lower() == wanted), None)

    def inferred_event(self, name: str) -> InferredEvent | None:
        wanted = name.strip().lower()
        return next((e for e in self.inferred if e.event.lower() == wanted), None)


def load_config(path: Path | None) -> FeedbackConfig:
    """The configuration in ``path`` (YAML), or the defaults; errors name the key."""
    if path is None:
        return FeedbackConfig()
    try:
        body: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise InvalidInput(f"cannot read the feedback configuration {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidInput(f"{path}: expected a mapping of settings")
    try:
        return FeedbackConfig.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"{path}: {problems}") from exc


@dataclass(frozen=True, slots=True)
class Incoming:
    """One piece of feedback as read from the log, before analysis."""

    source_id: int
    origin_key: str
    seq: int
    kind: Kind
    channel: str
    received_at_us: int
    subject: str | None
    text: str | None
    rating: float | None
    rating_scale: int | None
    language_hint: str | None = None
    inferred: InferredEvent | None = None
    record_status: str | None = None
