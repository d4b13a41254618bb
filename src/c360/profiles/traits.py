"""Computed traits: what a profile's records and events say about the person (pure; no I/O).

The caller loads a profile's current records and tracked events into :class:`ProfileFacts`;
:func:`compute_traits` returns JSON-ready values and ``due_us``, the first moment a value
changes with time alone (an event leaving a window, an RFM recency band crossed, churn risk
rising), so a worker can recompute exactly the profiles that fall due. Values that change
every second (days since...) are never stored: :func:`at_read` derives them when shown.

The result depends only on the facts, the settings and ``now_us``: lists are sorted and ties
fall to the more recent fact, then to the name. Times are epoch microseconds UTC (``*_at_us``);
amounts in the base currency are floats rounded to 2 decimals (``lifetime_value_currency``
names the currency); ``revenue_by_currency`` keeps each currency's own amount.

Built-in traits:

==========================  ============================================================
name                        meaning
==========================  ============================================================
order_count                 purchases: ``order`` records whose status is not cancelled,
                            returned, refunded, void or failed (English, Thai, Vietnamese),
                            and tracked ``Order Completed`` events; an event naming the
                            ``order_id`` of an order record is that order (the record's
                            status decides), so it counts once
lifetime_value              sum of purchase totals converted to the base currency (float)
lifetime_value_currency     the base currency (ISO 4217)
revenue_by_currency         {currency: total in that currency (float)}; ``unknown`` holds
                            amounts that name no currency
unconverted_currencies      currencies in ``revenue_by_currency`` without an exchange rate:
                            left out of ``lifetime_value`` and ``average_order_value``
average_order_value         lifetime_value / purchases with a converted total; None if none
first_purchase_at_us        earliest purchase
last_purchase_at_us         latest purchase
average_purchase_gap_days   (last - first) / (order_count - 1) in days, 1 decimal; None
                            below 2 purchases
favourite_categories        up to 3 categories by quantity bought, then base amount, from
                            ``order_item`` records and ``Order Completed`` products (an
                            order's items, or its event's products when it has no items)
favourite_branch            the ``store`` of most purchases; ties: the most recent
purchase_channels           sorted channels of purchases (store, web, app...)
rfm                         {recency, frequency, monetary: 1..5, score: "R-F-M", label};
                            None without a purchase. Bands in ``settings.rfm``
value_tier                  the highest ``settings.value_tiers`` tier whose minimum the
                            lifetime value reaches; "none" without a purchase
last_contact_at_us          latest order, payment, ticket, survey response, registration,
                            web event record, or tracked track/page/screen event
preferred_channel           channel the person engages through most (tickets', surveys' and
                            registrations' ``channel``, email/push/LINE/Zalo/SMS opens,
                            clicks and replies); ties: the most recent.
                            email/sms/line/zalo/push/phone/web/store, or the source's own
                            word made a slug (``facebook``)
best_contact_hours          up to 3 local hours (0-23) with the most deliveries, opens and
                            answered phone calls; local time from ``ProfileFacts.country``
best_contact_weekdays       up to 2 local weekdays ("mon".."sun") likewise
open_tickets                tickets whose status is not closed/resolved/solved/cancelled
                            (English, Thai, Vietnamese); without a status, those not closed
last_ticket_at_us           latest ticket opened
last_nps                    {score 0..10, at_us, category promoter/passive/detractor} from
                            ``survey_response`` records and "Survey Answered"/"NPS
                            Submitted"/"Survey Submitted" events with a score
sentiment                   {last: positive/neutral/negative, score: -1..1, trend:
                            improving/worsening/steady} over feedback (see below)
churn_risk                  0..1, 2 decimals (see below); None without a purchase
churn_risk_reasons          sorted codes: purchase_overdue, open_tickets, nps_detractor,
                            negative_sentiment
==========================  ============================================================

Read-time values (:func:`at_read`): ``days_since_last_contact``, ``days_since_last_purchase``
(whole days, never negative; None when there is no such moment).

User-defined traits (``settings.custom``) add one value each under their own name.

**Moments.** A record happened at its kind's own time (``ordered_at``, ``paid_at``,
``opened_at``, ``responded_at``, ``registered_at``, ``issued_at``, ``delivered_at`` else
``scheduled_at``, ``subscribed_at``, ``occurred_at``, ``source_created_at``), else its
``created_at``; an order item at its order's time; anything else at ``updated_at_us``. A fact
dated after ``now_us`` counts already, except in a windowed custom trait, where it enters the
window when its moment comes.

**Sentiment.** Each feedback item (survey response, ticket, feedback record, NPS event,
"Product Reviewed" and "Feedback Submitted" events) scores the mean of what it has: its text
(the feedback analyser's score, ``c360.analysis``) and its rating (NPS promoter 1, passive 0,
detractor -1; a 1..5 product rating as (rating - 3) / 2); an item with neither is neutral (0).
``last`` is the latest item's
label (score >= 0.25 positive, <= -0.25 negative); ``trend`` compares the mean of the newer half
of the last 5 items with the older half (a change of 0.3 or more).

**Churn risk** is ``1 / (1 + exp(-z))`` with ``z = intercept + overdue_weight * days / gap
+ open_ticket_weight * min(open_tickets, max_open_tickets) + detractor_weight * [last NPS
detractor] + negative_sentiment_weight * [sentiment last negative or worsening]``, where
``days`` is whole days since the last purchase and ``gap`` the person's average purchase gap
(at least ``min_gap_days``), or ``default_gap_days`` below 2 purchases. It rises at most once
a day; ``purchase_overdue`` is a reason once ``days > gap``.
"""

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from c360.analysis import text_sentiment as analysed_sentiment
from c360.errors import InvalidInput
from c360.ingest.schema import RecordKind
from c360.kernel.clock import from_us, parse_timestamp
from c360.standardize.cells import fold

DAY_US = 86_400_000_000

BUILT_IN_TRAITS: tuple[str, ...] = (
    "order_count",
    "lifetime_value",
    "lifetime_value_currency",
    "revenue_by_currency",
    "unconverted_currencies",
    "average_order_value",
    "first_purchase_at_us",
    "last_purchase_at_us",
    "average_purchase_gap_days",
    "favourite_categories",
    "favourite_branch",
    "purchase_channels",
    "rfm",
    "value_tier",
    "last_contact_at_us",
    "preferred_channel",
    "best_contact_hours",
    "best_contact_weekdays",
    "open_tickets",
    "last_ticket_at_us",
    "last_nps",
    "sentiment",
    "churn_risk",
    "churn_risk_reasons",
)
"""The names :func:`compute_traits` always returns, in output order."""

AT_READ_TRAITS: tuple[str, ...] = ("days_since_last_contact", "days_since_last_purchase")
"""The names :func:`at_read` returns."""

UNKNOWN_CURRENCY = "unknown"
"""The ``revenue_by_currency`` key of amounts that name no currency."""

# --- settings ----------------------------------------------------------------------------

_SLUG = re.compile(r"[a-z][a-z0-9_]{0,62}")
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")

DEFAULT_EXCHANGE_RATES: dict[str, float] = {
    "THB": 1.0,
    "VND": 0.00134,
    "USD": 34.0,
    "EUR": 37.0,
    "SGD": 25.5,
    "JPY": 0.23,
}
"""Baht per unit, approximate (2025): a starting point meant to be overridden with the rates
the business books at. A base currency other than THB needs its own rates."""


class RfmSegment(BaseModel):
    """A label for the R, F and M scores within these inclusive ranges (1..5)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(min_length=1)
    recency: tuple[int, int] = (1, 5)
    frequency: tuple[int, int] = (1, 5)
    monetary: tuple[int, int] = (1, 5)

    @field_validator("recency", "frequency", "monetary")
    @classmethod
    def _score_range(cls, scores: tuple[int, int]) -> tuple[int, int]:
        low, high = scores
        if not 1 <= low <= high <= 5:
            raise ValueError(f"[{low}, {high}] is no range of scores within 1..5")
        return scores

    def fits(self, recency: int, frequency: int, monetary: int) -> bool:
        return all(
            low <= score <= high
            for score, (low, high) in (
                (recency, self.recency),
                (frequency, self.frequency),
                (monetary, self.monetary),
            )
        )


def _segment(label: str, recency: tuple[int, int], frequency: tuple[int, int]) -> RfmSegment:
    return RfmSegment(label=label, recency=recency, frequency=frequency)


DEFAULT_RFM_SEGMENTS: tuple[RfmSegment, ...] = (
    _segment("Champions", (5, 5), (4, 5)),
    _segment("Loyal", (3, 4), (4, 5)),
    _segment("Potential loyalist", (4, 5), (2, 3)),
    _segment("New", (5, 5), (1, 1)),
    _segment("Promising", (4, 4), (1, 1)),
    _segment("Need attention", (3, 3), (3, 3)),
    _segment("About to sleep", (3, 3), (1, 2)),
    _segment("Can't lose", (1, 2), (5, 5)),
    _segment("At risk", (1, 2), (3, 4)),
    _segment("Lost", (1, 1), (1, 1)),
    _segment("Hibernating", (1, 2), (1, 2)),
)
"""The common recency x frequency grid (every R, F pair has one label; the first match wins),
with R1 F1 called Lost rather than Hibernating."""


class RfmSettings(BaseModel):
    """Band edges between the five scores of each RFM dimension, and the segment labels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recency_days: tuple[int, int, int, int] = (30, 90, 180, 365)
    """Whole days since the last purchase: up to the first edge scores 5, up to the second 4,
    ... beyond the last 1."""
    frequency_orders: tuple[int, int, int, int] = (2, 3, 5, 8)
    """Purchases needed for scores 2, 3, 4, 5 (fewer than the first scores 1)."""
    monetary: tuple[float, float, float, float] = (1_000, 3_000, 10_000, 30_000)
    """Lifetime value (base currency) needed for scores 2, 3, 4, 5."""
    segments: tuple[RfmSegment, ...] = DEFAULT_RFM_SEGMENTS

    @field_validator("recency_days", "frequency_orders", "monetary")
    @classmethod
    def _increasing(cls, edges: tuple[float, ...]) -> tuple[float, ...]:
        if edges[0] < 0 or any(a >= b for a, b in pairwise(edges)):
            raise ValueError(f"{list(edges)} must be 4 increasing numbers, none below 0")
        return edges


class ChurnSettings(BaseModel):
    """The churn-risk score's parameters (module docstring): weights only ever raise it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_gap_days: float = Field(90, gt=0)
    min_gap_days: float = Field(7, gt=0)
    intercept: float = Field(-3.0, ge=-20, le=20)
    overdue_weight: float = Field(1.5, ge=0, le=20)
    open_ticket_weight: float = Field(0.5, ge=0, le=20)
    max_open_tickets: int = Field(3, ge=0)
    detractor_weight: float = Field(1.0, ge=0, le=20)
    negative_sentiment_weight: float = Field(0.75, ge=0, le=20)


Aggregation = Literal[
    "count", "sum", "min", "max", "average", "first", "last", "most_frequent", "distinct_count"
]
Operator = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "exists"]
_ORDERINGS: dict[str, Callable[[int], bool]] = {
    "gt": lambda c: c > 0,
    "gte": lambda c: c >= 0,
    "lt": lambda c: c < 0,
    "lte": lambda c: c <= 0,
}


class Condition(BaseModel):
    """``{property, op, value}``: one test on a property (a dotted path) of an event or record.

    Numbers compare by value, also when written as text (``"1,200.50"``) or given as money
    (its amount); text compares regardless of case (gt/lt in code-point order, which suits ISO
    dates); ``contains`` finds text in text or a value in a list. A property the fact lacks
    passes only ``ne``, ``not_in`` and ``exists: false``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    property: str
    op: Operator
    value: Any = None
    """A list for in/not_in; a number or text for gt/gte/lt/lte; a bool for exists (true when
    left out)."""

    @field_validator("property")
    @classmethod
    def _path(cls, path: str) -> str:
        return _checked_path(path)

    @model_validator(mode="after")
    def _value_fits(self) -> "Condition":
        value, op = self.value, self.op
        if op in ("in", "not_in") and not isinstance(value, list):
            raise ValueError(f"'{op}' needs a list 'value'")
        if op in _ORDERINGS and (
            isinstance(value, bool) or not isinstance(value, int | float | str)
        ):
            raise ValueError(f"'{op}' needs a number or text 'value'")
        if op == "exists" and value is not None and not isinstance(value, bool):
            raise ValueError("'exists' takes true or false as 'value'")
        if op in ("eq", "ne", "contains") and value is None:
            raise ValueError(f"'{op}' needs a 'value'")
        return self


def _checked_path(path: str) -> str:
    if not path or any(not part.strip() for part in path.split(".")):
        raise ValueError(f"{path!r} is no property path (names joined by '.')")
    return path


class CustomTrait(BaseModel):
    """A user-defined trait: an aggregation over matching events or records.

    ``{name: shoe_views_30d, of: event, event: Product Viewed, aggregation: count,
    window_days: 30, where: [{property: category, op: eq, value: shoes}]}``
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    of: Literal["event", "record"]
    event: str | None = None
    """The track event (or page/screen) name to take; case does not matter."""
    kind: str | None = None
    """The record kind to take (``order``, ``ticket``...)."""
    property: str | None = None
    """What to aggregate: a dotted path into the event's ``properties`` (``context.x`` and
    ``properties.x`` name the root) or the record's fields. Optional for ``count`` only."""
    aggregation: Aggregation
    window_days: int | None = Field(None, gt=0)
    """Only facts of the last ``window_days`` days (up to now) count."""
    where: tuple[Condition, ...] = ()
    """Every condition must hold."""

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _SLUG.fullmatch(name):
            raise ValueError(
                f"{name!r} is no trait name: lower-case letters, digits and '_', from a letter"
            )
        if name in BUILT_IN_TRAITS or name in AT_READ_TRAITS:
            raise ValueError(f"{name!r} is a built-in trait; choose another name")
        return name

    @field_validator("property")
    @classmethod
    def _property_path(cls, path: str | None) -> str | None:
        return None if path is None else _checked_path(path)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str | None) -> str | None:
        kinds = [k.value for k in RecordKind]
        if kind is not None and kind not in kinds:
            raise ValueError(f"unknown record kind {kind!r}; use one of: {', '.join(kinds)}")
        return kind

    @model_validator(mode="after")
    def _consistent(self) -> "CustomTrait":
        if self.property is None and self.aggregation != "count":
            raise ValueError(f"'{self.aggregation}' needs a 'property' to aggregate")
        if self.of == "event" and self.kind is not None:
            raise ValueError("'kind' applies to records; events are chosen by 'event'")
        if self.of == "record" and self.event is not None:
            raise ValueError("'event' applies to events; records are chosen by 'kind'")
        return self


class TraitSettings(BaseModel):
    """How computed traits are computed: currencies, RFM bands, value tiers, churn, custom."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_currency: str = "THB"
    exchange_rates: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_EXCHANGE_RATES))
    """Units of base currency per one unit of each currency."""
    value_tiers: dict[str, float] = Field(
        default_factory=lambda: {"vip": 50_000.0, "high": 15_000.0, "medium": 3_000.0, "low": 0.0}
    )
    """Tier name -> minimum lifetime value (base currency); one tier must start at 0."""
    rfm: RfmSettings = Field(default_factory=RfmSettings)
    churn: ChurnSettings = Field(default_factory=ChurnSettings)
    custom: tuple[CustomTrait, ...] = ()

    @field_validator("base_currency")
    @classmethod
    def _base_code(cls, code: str) -> str:
        if not _CURRENCY_CODE.fullmatch(code):
            raise ValueError(f"{code!r} is no ISO 4217 code (three capital letters: THB)")
        return code

    @field_validator("exchange_rates")
    @classmethod
    def _rates(cls, rates: dict[str, float]) -> dict[str, float]:
        for code, rate in rates.items():
            if not _CURRENCY_CODE.fullmatch(code):
                raise ValueError(f"{code!r} is no ISO 4217 code (three capital letters: VND)")
            if not rate > 0 or not math.isfinite(rate):
                raise ValueError(f"the rate of {code} must be a number above 0, not {rate}")
        return rates

    @field_validator("value_tiers")
    @classmethod
    def _tiers(cls, tiers: dict[str, float]) -> dict[str, float]:
        for name, minimum in tiers.items():
            if not _SLUG.fullmatch(name) or name == "none":
                raise ValueError(f"{name!r} is no tier name (a slug other than 'none')")
            if not minimum >= 0 or not math.isfinite(minimum):
                raise ValueError(f"the minimum of tier {name!r} must be 0 or more")
        if 0 not in tiers.values():
            raise ValueError("one tier must start at 0, so that every buyer has a tier")
        return tiers

    @model_validator(mode="after")
    def _consistent(self) -> "TraitSettings":
        base_rate = self.exchange_rates.get(self.base_currency, 1.0)
        if base_rate != 1.0:
            raise ValueError(
                f"exchange_rates gives the base currency {self.base_currency} the rate "
                f"{base_rate}; rates are in {self.base_currency}, so it must be 1 (give rates "
                "for the new base currency)"
            )
        names = [trait.name for trait in self.custom]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"custom trait names must be unique: {', '.join(twice)}")
        return self

    def rate(self, currency: str) -> Decimal | None:
        """Base currency per unit of ``currency``; None when there is no rate."""
        if currency == self.base_currency:
            return Decimal(1)
        rate = self.exchange_rates.get(currency)
        return None if rate is None else Decimal(repr(rate))


DEFAULT_SETTINGS = TraitSettings()


def parse_settings(
    body: Mapping[str, Any] | None, *, origin: str = "trait settings"
) -> TraitSettings:
    """Settings from a parsed body (API or YAML); errors name the key and the problem."""
    if body is None:
        return DEFAULT_SETTINGS
    if not isinstance(body, Mapping):
        raise InvalidInput(
            f"{origin}: expected an object with base_currency, exchange_rates, value_tiers, "
            f"rfm, churn and custom, got {type(body).__name__}"
        )
    try:
        return TraitSettings.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(_problem(body, e["loc"], e["msg"]) for e in exc.errors())
        raise InvalidInput(f"{origin}: {problems}") from None


def _problem(body: Mapping[str, Any], loc: tuple[int | str, ...], message: str) -> str:
    """``custom[shoe_views_30d].window_days: ...``: a custom trait is named by its name."""
    message = message.removeprefix("Value error, ")
    parts = [str(p) for p in loc]
    custom = body.get("custom")
    if len(loc) >= 2 and loc[0] == "custom" and isinstance(loc[1], int):
        index = loc[1]
        entry = custom[index] if isinstance(custom, list) and index < len(custom) else None
        name = entry.get("name") if isinstance(entry, Mapping) else None
        parts[:2] = [f"custom[{name if isinstance(name, str) and name else index}]"]
    return f"{'.'.join(parts)}: {message}" if parts else message


# --- facts and result --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordFact:
    """One current source record of the profile (an order, an invoice, a ticket...)."""

    source: str
    record_id: str
    kind: str
    """A ``c360.ingest.schema.RecordKind`` value."""
    fields: dict[str, Any]
    """Standardized canonical fields (money is ``{"amount": "123.00", "currency": "THB"}``,
    datetimes ISO 8601 UTC with ``Z``)."""
    updated_at_us: int
    """When the record last changed (epoch microseconds, UTC)."""


@dataclass(frozen=True, slots=True)
class EventFact:
    """One tracked message of the profile (Segment spec: track, page, screen, identify...)."""

    seq: int
    type: str
    name: str | None
    """The track event name ("Order Completed") or the page/screen name."""
    properties: dict[str, Any]
    context: dict[str, Any]
    at_us: int
    """Corrected timestamp, epoch microseconds UTC."""
    source: str


@dataclass(frozen=True, slots=True)
class ProfileFacts:
    records: list[RecordFact]
    events: list[EventFact]
    country: str | None = None
    """ISO country of the person (golden record): chooses the local time zone of
    ``best_contact_hours`` and ``best_contact_weekdays`` (TH, VN; otherwise UTC)."""


@dataclass(frozen=True, slots=True)
class Computed:
    values: dict[str, Any]
    """JSON-ready trait values (module docstring)."""
    due_us: int | None
    """The first moment after ``now_us`` when a value changes with time alone; None if never."""


# --- reading facts -----------------------------------------------------------------------

_MOMENT_FIELDS: dict[str, tuple[str, ...]] = {
    "contact": ("source_created_at",),
    "order": ("ordered_at",),
    "invoice": ("issued_at",),
    "payment": ("paid_at",),
    "shipment": ("delivered_at", "scheduled_at"),
    "ticket": ("opened_at",),
    "survey_response": ("responded_at",),
    "feedback": ("submitted_at",),
    "registration": ("registered_at",),
    "subscription": ("subscribed_at",),
    "web_event": ("occurred_at",),
}


@dataclass(frozen=True, slots=True)
class _Timed:
    """A record with the moment it happened (module docstring, "Moments")."""

    record: RecordFact
    at_us: int

    @property
    def fields(self) -> dict[str, Any]:
        return self.record.fields

    @property
    def tiebreak(self) -> str:
        """Orders facts of one moment: records by source and id, after events by seq."""
        return f"record:{self.record.source}:{self.record.record_id}"


def _timed_records(records: Iterable[RecordFact]) -> list[_Timed]:
    """Records with their moments, oldest first."""
    records = list(records)
    order_moments: dict[str, int] = {}
    for record in records:
        key = _order_key(record.fields.get("order_id"))
        at = _own_moment(record)
        if record.kind == "order" and key is not None and at is not None:
            order_moments[key] = at
    timed = []
    for record in records:
        at = _own_moment(record)
        if at is None and record.kind == "order_item":
            at = order_moments.get(_order_key(record.fields.get("order_id")) or "")
        timed.append(_Timed(record, record.updated_at_us if at is None else at))
    return sorted(timed, key=lambda t: (t.at_us, t.tiebreak))


def _own_moment(record: RecordFact) -> int | None:
    return record_moment(record.kind, record.fields)


def record_moment(kind: str, fields: Mapping[str, Any]) -> int | None:
    """When a record happened: its kind's own time field, else ``created_at`` (None when it
    has neither; the timeline then uses when the source last sent it)."""
    for name in (*_MOMENT_FIELDS.get(kind, ()), "created_at"):
        at = instant(fields.get(name))
        if at is not None:
            return at
    return None


def instant(value: Any) -> int | None:
    """Epoch microseconds of a standardized datetime (or date) string."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def _order_key(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _is_event(event: EventFact, names: Iterable[str]) -> bool:
    """Whether ``event`` is a track event with one of ``names`` (lower case)."""
    return event.type == "track" and (event.name or "").strip().casefold() in names


def _sorted_events(events: Iterable[EventFact]) -> list[EventFact]:
    return sorted(events, key=lambda e: (e.at_us, e.seq))


def _event_tiebreak(event: EventFact) -> str:
    return f"event:{event.seq:020d}"


_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def _number(value: Any) -> Decimal | None:
    """A number, numeric text (``"1,250.50"``) or money's amount as a Decimal; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        return Decimal(text) if _PLAIN_NUMBER.fullmatch(text) else None
    if isinstance(value, Mapping):
        return _number(value.get("amount"))
    return None


def _json_number(value: Decimal) -> int | float:
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    return float(value)


_CENT = Decimal("0.01")


def _rounded(value: Decimal) -> float:
    return float(value.quantize(_CENT, rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class _Amount:
    value: Decimal
    currency: str


def _amount(value: Any, currency: Any) -> _Amount | None:
    """An amount of money: a money dict names its currency; else ``currency`` does."""
    number = _number(value)
    if number is None:
        return None
    named = value.get("currency") if isinstance(value, Mapping) else None
    code = _text(named) or _text(currency)
    return _Amount(number, code.upper() if code else UNKNOWN_CURRENCY)


def _in_base(amount: _Amount | None, settings: TraitSettings) -> Decimal | None:
    if amount is None:
        return None
    rate = settings.rate(amount.currency)
    return None if rate is None else amount.value * rate


# --- words: statuses, channels, sentiment -------------------------------------------------


def _terms(words: Iterable[str]) -> re.Pattern[str]:
    """A pattern finding any of ``words`` in folded text: Latin words whole, Thai anywhere
    (Thai writes no spaces between words); longer words first, so phrases win."""
    alternatives = [
        rf"\b{re.escape(word)}\b" if word.isascii() else re.escape(word)
        for word in sorted(set(words), key=lambda w: (-len(w), w))
    ]
    return re.compile("|".join(alternatives))


_NEGATORS = frozenset(
    {"not", "no", "never", "cannot", "can't", "didn't", "don't", "isn't", "wasn't", "hardly"}
    | {"khong", "chua", "chang", "cha"}  # không, chưa, chẳng, chả
    | {"ไม่", "ไม่ค่อย", "ยังไม่", "ไม่ได้"}
)
_NEGATED = _terms(_NEGATORS)

_CANCELLED_STATUS = _terms(
    {"cancel", "cancelled", "canceled", "cancellation", "refund", "refunded", "return"}
    | {"returned", "void", "voided", "failed", "rejected", "declined", "chargeback"}
    | {"ยกเลิก", "คืนเงิน", "คืนสินค้า", "ตีกลับ", "ล้มเหลว"}
    | {"huy", "da huy", "hoan tien", "tra hang", "hoan hang", "that bai"}
)
_CLOSED_STATUS = _terms(
    {"closed", "close", "resolved", "solved", "done", "completed", "complete", "cancelled"}
    | {"canceled", "ปิด", "ปิดแล้ว", "เสร็จ", "เสร็จสิ้น", "แก้ไขแล้ว", "เรียบร้อย", "ยกเลิก"}
    | {"dong", "da dong", "giai quyet", "da giai quyet", "hoan thanh", "xong", "da xu ly", "huy"}
)
_DELIVERED_STATUS = _terms(
    {"delivered", "delivery successful", "completed", "received"}
    | {"ส่งแล้ว", "ส่งสำเร็จ", "จัดส่งสำเร็จ", "จัดส่งแล้ว", "ได้รับแล้ว"}
    | {"da giao", "giao thanh cong", "da nhan", "giao hang thanh cong"}
)


def is_cancelled(status: Any) -> bool:
    """An order status that says the order did not happen (cancelled, refunded, returned...,
    in English, Thai and Vietnamese)."""
    return _says(status, _CANCELLED_STATUS)


def is_finished(status: Any) -> bool:
    """A status that says the thing is done: delivered, completed, closed (English, Thai,
    Vietnamese)."""
    return _says(status, _DELIVERED_STATUS) or _says(status, _CLOSED_STATUS)


def _says(text: Any, terms: re.Pattern[str]) -> bool:
    """Whether a status says one of ``terms`` and nothing negates it ("chưa giải quyết")."""
    if not isinstance(text, str):
        return False
    folded = fold(text)
    return terms.search(folded) is not None and _NEGATED.search(folded) is None


_CHANNEL_NAMES: dict[str, str] = {
    **dict.fromkeys(("phone", "call", "calls", "telephone", "hotline", "call center"), "phone"),
    **dict.fromkeys(("โทรศัพท์", "โทร", "dien thoai", "goi dien"), "phone"),
    **dict.fromkeys(("email", "e-mail", "mail", "อีเมล", "อีเมล์"), "email"),
    **dict.fromkeys(("sms", "text", "text message", "tin nhan"), "sms"),
    **dict.fromkeys(("line", "line oa", "ไลน์"), "line"),
    **dict.fromkeys(("zalo", "zalo oa"), "zalo"),
    **dict.fromkeys(("push", "push notification", "app push", "notification"), "push"),
    **dict.fromkeys(("web", "website", "online", "chat", "live chat", "webchat"), "web"),
    **dict.fromkeys(("store", "in-store", "in store", "walk-in", "walk in", "shop"), "store"),
    **dict.fromkeys(("branch", "pos", "counter", "หน้าร้าน", "สาขา", "cua hang"), "store"),
    "tai cua hang": "store",
}
_NOT_SLUG = re.compile(r"[^\w]+")


def _channel_name(value: Any) -> str | None:
    """The channel a source's word means (``LINE`` -> line, ``in-store`` -> store); another
    word becomes a slug of itself (``Facebook`` -> facebook)."""
    text = _text(value)
    if text is None:
        return None
    key = " ".join(fold(text).split())
    return _CHANNEL_NAMES.get(key) or _NOT_SLUG.sub("_", key).strip("_") or None


_ENGAGEMENT_EVENTS: dict[str, str] = {
    "email opened": "email",
    "email link clicked": "email",
    "push notification opened": "push",
    "push notification tapped": "push",
    "line message read": "line",
    "zalo message read": "zalo",
    "sms link clicked": "sms",
    # what c360's own messages bring back (c360.activation.outbox.event_name)
    "line message link clicked": "line",
    "zalo message link clicked": "zalo",
    "push notification link clicked": "push",
    "line message replied": "line",
    "zalo message replied": "zalo",
    "sms replied": "sms",
    "email replied": "email",
}
"""Tracked events of the person answering a message, and the channel they answered on."""


def text_sentiment(text: str) -> float | None:
    """-1..1 from the feedback analyser (``c360.analysis``); None without a sentiment term."""
    return analysed_sentiment(text)


# --- purchases -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Purchase:
    order_key: str
    at_us: int
    total: _Amount | None
    store: str | None
    channel: str | None


@dataclass(frozen=True, slots=True)
class _Line:
    """A line of a purchase: what was bought, how much of it, for how much."""

    category: str
    quantity: Decimal
    amount: _Amount | None


@dataclass(frozen=True, slots=True)
class _Purchases:
    purchases: list[_Purchase]
    """Oldest first."""
    lines: list[_Line]


_ORDER_COMPLETED = frozenset({"order completed"})


def _find_purchases(records: list[_Timed], events: list[EventFact]) -> _Purchases:
    orders = _orders_by_key(records)
    purchases = [
        _record_purchase(key, timed)
        for key, timed in orders.items()
        if not is_cancelled(timed.fields.get("status"))
    ]
    bought = {purchase.order_key for purchase in purchases}
    items = [
        (_order_key(timed.fields.get("order_id")), timed)
        for timed in records
        if timed.record.kind == "order_item"
    ]
    itemised = {key for key, _ in items if key is not None}
    # An item counts when its order is a purchase, or when no order record is known for it.
    lines = [
        line
        for key, timed in items
        if (key is None or key not in orders or key in bought)
        and (line := _item_line(timed.fields)) is not None
    ]
    seen = set(orders)
    for event in events:
        if not _is_event(event, _ORDER_COMPLETED):
            continue
        key = _order_key(event.properties.get("order_id")) or _event_tiebreak(event)
        if key in seen:
            continue  # the order's record (or an earlier copy of the event) has it
        seen.add(key)
        purchases.append(_event_purchase(key, event))
        if key not in itemised:
            lines.extend(_product_lines(event.properties))
    return _Purchases(sorted(purchases, key=lambda p: (p.at_us, p.order_key)), lines)


def _orders_by_key(records: list[_Timed]) -> dict[str, _Timed]:
    """Order records by order id; two sources holding one order give its latest version."""
    orders: dict[str, _Timed] = {}
    for timed in records:
        record = timed.record
        if record.kind != "order":
            continue
        key = _order_key(record.fields.get("order_id")) or timed.tiebreak
        known = orders.get(key)
        if known is None or (record.updated_at_us, timed.tiebreak) > (
            known.record.updated_at_us,
            known.tiebreak,
        ):
            orders[key] = timed
    return orders


def _record_purchase(key: str, timed: _Timed) -> _Purchase:
    fields = timed.fields
    store = _text(fields.get("store"))
    channel = _channel_name(fields.get("channel")) or ("store" if store else None)
    total = _amount(fields.get("total"), fields.get("currency"))
    return _Purchase(key, timed.at_us, total, store, channel)


def _event_purchase(key: str, event: EventFact) -> _Purchase:
    props = event.properties
    value = next(
        (props[k] for k in ("total", "revenue", "value") if props.get(k) is not None), None
    )
    channel = "app" if isinstance(event.context.get("app"), Mapping) else "web"
    return _Purchase(key, event.at_us, _amount(value, props.get("currency")), None, channel)


def _item_line(fields: Mapping[str, Any]) -> _Line | None:
    category = _text(fields.get("category"))
    if category is None:
        return None
    quantity = _quantity(fields.get("quantity"))
    amount = _amount(fields.get("amount"), fields.get("currency"))
    if amount is None:
        unit = _amount(fields.get("unit_price"), fields.get("currency"))
        amount = None if unit is None else _Amount(unit.value * quantity, unit.currency)
    return _Line(category, quantity, amount)


def _quantity(value: Any) -> Decimal:
    """A line's quantity; a line that gives none is one of its product."""
    quantity = _number(value)
    return Decimal(1) if quantity is None else quantity


def _product_lines(properties: Mapping[str, Any]) -> list[_Line]:
    """Lines of an ``Order Completed`` event's ``products`` (``price`` is per unit)."""
    products = properties.get("products")
    lines = []
    for product in products if isinstance(products, list) else []:
        category = _text(product.get("category")) if isinstance(product, Mapping) else None
        if category is None:
            continue
        quantity = _quantity(product.get("quantity"))
        unit = _amount(product.get("price"), properties.get("currency"))
        amount = None if unit is None else _Amount(unit.value * quantity, unit.currency)
        lines.append(_Line(category, quantity, amount))
    return lines


def _converted_totals(found: _Purchases, settings: TraitSettings) -> list[Decimal]:
    """Purchase totals in the base currency (those without a total or a rate left out)."""
    return [a for p in found.purchases if (a := _in_base(p.total, settings)) is not None]


def _purchase_traits(found: _Purchases, settings: TraitSettings) -> dict[str, Any]:
    purchases = found.purchases
    by_currency: dict[str, Decimal] = {}
    for purchase in purchases:
        if purchase.total is not None:
            code = purchase.total.currency
            by_currency[code] = by_currency.get(code, Decimal(0)) + purchase.total.value
    converted = _converted_totals(found, settings)
    lifetime = sum(converted, Decimal(0))
    first, last = (purchases[0].at_us, purchases[-1].at_us) if purchases else (None, None)
    gap = _average_gap_days(purchases)
    return {
        "order_count": len(purchases),
        "lifetime_value": _rounded(lifetime),
        "lifetime_value_currency": settings.base_currency,
        "revenue_by_currency": {code: _rounded(by_currency[code]) for code in sorted(by_currency)},
        "unconverted_currencies": sorted(c for c in by_currency if settings.rate(c) is None),
        "average_order_value": _rounded(lifetime / len(converted)) if converted else None,
        "first_purchase_at_us": first,
        "last_purchase_at_us": last,
        "average_purchase_gap_days": None if gap is None else round(gap, 1),
        "favourite_categories": _favourite_categories(found.lines, settings),
        "favourite_branch": _favourite_branch(purchases),
        "purchase_channels": sorted({p.channel for p in purchases if p.channel}),
        "value_tier": _value_tier(lifetime, purchases, settings),
    }


def _average_gap_days(purchases: list[_Purchase]) -> float | None:
    if len(purchases) < 2:
        return None
    return (purchases[-1].at_us - purchases[0].at_us) / (len(purchases) - 1) / DAY_US


def _favourite_categories(lines: list[_Line], settings: TraitSettings) -> list[str]:
    quantity: dict[str, Decimal] = {}
    spent: dict[str, Decimal] = {}
    for line in lines:
        quantity[line.category] = quantity.get(line.category, Decimal(0)) + line.quantity
        spent[line.category] = spent.get(line.category, Decimal(0)) + (
            _in_base(line.amount, settings) or Decimal(0)
        )
    ranked = sorted(quantity, key=lambda c: (-quantity[c], -spent[c], c))
    return ranked[:3]


def _favourite_branch(purchases: list[_Purchase]) -> str | None:
    visits: Counter[str] = Counter()
    latest: dict[str, int] = {}
    for purchase in purchases:
        if purchase.store is not None:
            visits[purchase.store] += 1
            latest[purchase.store] = purchase.at_us
    ranked = sorted(visits, key=lambda s: (-visits[s], -latest[s], s))
    return ranked[0] if ranked else None


def _value_tier(lifetime: Decimal, purchases: list[_Purchase], settings: TraitSettings) -> str:
    if not purchases:
        return "none"
    reached = [
        (minimum, name)
        for name, minimum in settings.value_tiers.items()
        if max(lifetime, Decimal(0)) >= Decimal(repr(minimum))
    ]
    return max(reached)[1]  # a tier starts at 0 (settings check)


# --- time-dependent: RFM and churn --------------------------------------------------------


def _whole_days(elapsed_us: int) -> int:
    return max(0, elapsed_us // DAY_US)


def _rfm(
    found: _Purchases, lifetime: Decimal, settings: RfmSettings, now_us: int
) -> tuple[dict[str, Any] | None, int | None]:
    """The RFM scores and label, and the moment recency drops a band (or None)."""
    purchases = found.purchases
    if not purchases:
        return None, None
    last = purchases[-1].at_us
    days = _whole_days(now_us - last)
    recency = 5 - sum(days > edge for edge in settings.recency_days)
    frequency = 1 + sum(len(purchases) >= edge for edge in settings.frequency_orders)
    monetary = 1 + sum(lifetime >= Decimal(repr(edge)) for edge in settings.monetary)
    label = next((s.label for s in settings.segments if s.fits(recency, frequency, monetary)), None)
    crossings = [last + (edge + 1) * DAY_US for edge in settings.recency_days]
    due = min((at for at in crossings if at > now_us), default=None)
    value = {
        "recency": recency,
        "frequency": frequency,
        "monetary": monetary,
        "score": f"{recency}-{frequency}-{monetary}",
        "label": label,
    }
    return value, due


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1 / (1 + math.exp(-z))
    e = math.exp(z)
    return e / (1 + e)


@dataclass(frozen=True, slots=True)
class _Risk:
    open_tickets: int
    detractor: bool
    negative_sentiment: bool


def _churn(
    found: _Purchases, risk: _Risk, settings: ChurnSettings, now_us: int
) -> tuple[dict[str, Any], list[int]]:
    """Churn risk, its reasons, and the moments either changes as days pass."""
    purchases = found.purchases
    if not purchases:
        return {"churn_risk": None, "churn_risk_reasons": []}, []
    average = _average_gap_days(purchases)
    gap = settings.default_gap_days if average is None else max(settings.min_gap_days, average)
    z = (
        settings.intercept
        + settings.open_ticket_weight * min(risk.open_tickets, settings.max_open_tickets)
        + settings.detractor_weight * risk.detractor
        + settings.negative_sentiment_weight * risk.negative_sentiment
    )

    def score(days: int) -> float:
        return round(_sigmoid(z + settings.overdue_weight * days / gap), 2)

    last = purchases[-1].at_us
    days = _whole_days(now_us - last)
    applies = {
        "negative_sentiment": risk.negative_sentiment and settings.negative_sentiment_weight > 0,
        "nps_detractor": risk.detractor and settings.detractor_weight > 0,
        "open_tickets": risk.open_tickets > 0 and settings.open_ticket_weight > 0,
        "purchase_overdue": days > gap,
    }
    due = []
    next_day = _next_change(days, score)
    if next_day is not None:
        due.append(last + next_day * DAY_US)
    overdue_day = math.floor(gap) + 1
    if days < overdue_day:
        due.append(last + overdue_day * DAY_US)
    reasons = [reason for reason, applied in applies.items() if applied]
    return {"churn_risk": score(days), "churn_risk_reasons": reasons}, due


_LONGEST_WAIT_DAYS = 100 * 366


def _next_change(start: int, score: Callable[[int], float]) -> int | None:
    """The first day after ``start`` when the non-decreasing ``score`` changes (or None)."""
    now = score(start)
    step = 1
    while score(start + step) == now:
        if step > _LONGEST_WAIT_DAYS:
            return None
        step *= 2
    low, high = start + step // 2, start + step  # score(low) == now < score(high)
    while high - low > 1:
        middle = (low + high) // 2
        if score(middle) == now:
            low = middle
        else:
            high = middle
    return high


# --- contact, channels, tickets -----------------------------------------------------------

_CONTACT_KINDS = frozenset(
    {"order", "payment", "ticket", "survey_response", "registration", "web_event"}
)
_CONTACT_EVENT_TYPES = frozenset({"track", "page", "screen"})


def _last_contact(records: list[_Timed], events: list[EventFact]) -> int | None:
    moments = [t.at_us for t in records if t.record.kind in _CONTACT_KINDS]
    moments += [e.at_us for e in events if e.type in _CONTACT_EVENT_TYPES]
    return max(moments, default=None)


_ENGAGING_KINDS = frozenset({"ticket", "survey_response", "registration"})


def _preferred_channel(records: list[_Timed], events: list[EventFact]) -> str | None:
    """The channel used most; ties: the one used most recently, then by name."""
    used: list[tuple[str, int]] = [
        (channel, t.at_us)
        for t in records
        if t.record.kind in _ENGAGING_KINDS
        and (channel := _channel_name(t.fields.get("channel"))) is not None
    ]
    used += [
        (_ENGAGEMENT_EVENTS[(e.name or "").strip().casefold()], e.at_us)
        for e in events
        if _is_event(e, _ENGAGEMENT_EVENTS)
    ]
    counts = Counter(channel for channel, _ in used)
    latest: dict[str, int] = {}
    for channel, at in used:
        latest[channel] = max(at, latest.get(channel, at))
    ranked = sorted(counts, key=lambda c: (-counts[c], -latest[c], c))
    return ranked[0] if ranked else None


_ZONES = {"TH": "Asia/Bangkok", "VN": "Asia/Ho_Chi_Minh"}
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _reachable_moments(records: list[_Timed], events: list[EventFact]) -> list[int]:
    """When the person was reached: deliveries made, messages opened, phone calls answered."""
    moments = []
    for timed in records:
        fields, kind = timed.fields, timed.record.kind
        if kind == "shipment" and _delivered(fields):
            moments.append(instant(fields.get("delivered_at")))
        elif kind == "ticket" and _channel_name(fields.get("channel")) == "phone":
            moments.append(instant(fields.get("opened_at")))
    moments += [e.at_us for e in events if _is_event(e, _ENGAGEMENT_EVENTS)]
    return [at for at in moments if at is not None]


def _delivered(fields: Mapping[str, Any]) -> bool:
    """A shipment with a delivery time whose status (if any) says delivered."""
    status = fields.get("status")
    return instant(fields.get("delivered_at")) is not None and (
        _text(status) is None or _says(status, _DELIVERED_STATUS)
    )


def _best_contact(moments: list[int], country: str | None) -> dict[str, Any]:
    zone: tzinfo = ZoneInfo(_ZONES[country]) if country in _ZONES else UTC
    local = [from_us(at).astimezone(zone) for at in moments]
    hours = Counter(moment.hour for moment in local)
    weekdays = Counter(moment.weekday() for moment in local)
    return {
        "best_contact_hours": sorted(hours, key=lambda h: (-hours[h], h))[:3],
        "best_contact_weekdays": [
            _WEEKDAYS[d] for d in sorted(weekdays, key=lambda d: (-weekdays[d], d))[:2]
        ],
    }


def ticket_is_open(fields: Mapping[str, Any]) -> bool:
    """Not closed, resolved or solved (English, Thai, Vietnamese; a negated word keeps it
    open), or without a status and without ``closed_at``."""
    status = fields.get("status")
    if _text(status) is None:
        return instant(fields.get("closed_at")) is None
    return not _says(status, _CLOSED_STATUS)


# --- feedback: NPS and sentiment ------------------------------------------------------------

_NPS_EVENTS = frozenset({"survey answered", "nps submitted", "survey submitted"})
_REVIEW_EVENTS = frozenset({"product reviewed"})
_FEEDBACK_EVENTS = frozenset({"feedback submitted"})


@dataclass(frozen=True, slots=True)
class _Feedback:
    at_us: int
    tiebreak: str
    text: str | None
    nps: int | None = None
    rating: Decimal | None = None
    """A 1..5 product rating."""


def _feedback(records: list[_Timed], events: list[EventFact]) -> list[_Feedback]:
    """Every feedback item, oldest first."""
    items = []
    for timed in records:
        fields, kind = timed.fields, timed.record.kind
        if kind == "survey_response":
            text = _text(fields.get("comment"))
            items.append(_Feedback(timed.at_us, timed.tiebreak, text, _nps(fields.get("score"))))
        elif kind == "ticket":
            parts = (_text(fields.get(name)) for name in ("subject", "description", "notes"))
            text = ". ".join(part for part in parts if part) or None
            items.append(_Feedback(timed.at_us, timed.tiebreak, text))
        elif kind == "feedback":
            parts = (_text(fields.get(name)) for name in ("subject", "text"))
            text = ". ".join(part for part in parts if part) or None
            items.append(_Feedback(timed.at_us, timed.tiebreak, text))
    for event in events:
        props, tiebreak = event.properties, _event_tiebreak(event)
        if _is_event(event, _NPS_EVENTS):
            score = _nps(
                next((props[k] for k in ("score", "nps", "nps_score") if k in props), None)
            )
            text = _text(props.get("comment")) or _text(props.get("feedback"))
            if score is not None or text is not None:
                items.append(_Feedback(event.at_us, tiebreak, text, score))
        elif _is_event(event, _REVIEW_EVENTS):
            rating = _number(props.get("rating"))
            rating = rating if rating is not None and 1 <= rating <= 5 else None
            text = _text(props.get("review_body"))
            items.append(_Feedback(event.at_us, tiebreak, text, rating=rating))
        elif _is_event(event, _FEEDBACK_EVENTS):
            text = _text(props.get("text")) or _text(props.get("comment"))
            items.append(_Feedback(event.at_us, tiebreak, text))
    return sorted(items, key=lambda f: (f.at_us, f.tiebreak))


def _nps(value: Any) -> int | None:
    number = _number(value)
    if number is None or number != number.to_integral_value() or not 0 <= number <= 10:
        return None
    return int(number)


def _nps_category(score: int) -> str:
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def _last_nps(items: list[_Feedback]) -> dict[str, Any] | None:
    answers = [item for item in items if item.nps is not None]
    if not answers:
        return None
    last = answers[-1]
    assert last.nps is not None
    return {"score": last.nps, "at_us": last.at_us, "category": _nps_category(last.nps)}


_NPS_POLARITY = {"promoter": 1.0, "passive": 0.0, "detractor": -1.0}
_TREND_ITEMS = 5
_TREND_STEP = 0.3
_POLAR = 0.25


def _item_score(item: _Feedback) -> float:
    parts = []
    if item.text is not None and (text := text_sentiment(item.text)) is not None:
        parts.append(text)
    if item.nps is not None:
        parts.append(_NPS_POLARITY[_nps_category(item.nps)])
    if item.rating is not None:
        parts.append(float((item.rating - 3) / 2))
    return sum(parts) / len(parts) if parts else 0.0


def _sentiment(items: list[_Feedback]) -> dict[str, Any] | None:
    if not items:
        return None
    scores = [_item_score(item) for item in items[-_TREND_ITEMS:]]
    half = len(scores) // 2
    trend = "steady"
    if half:
        change = sum(scores[-half:]) / half - sum(scores[:half]) / half
        if change >= _TREND_STEP:
            trend = "improving"
        elif change <= -_TREND_STEP:
            trend = "worsening"
    last = scores[-1]
    label = "positive" if last >= _POLAR else "negative" if last <= -_POLAR else "neutral"
    return {"last": label, "score": round(last, 2), "trend": trend}


# --- custom traits --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Item:
    at_us: int
    tiebreak: str
    value: Any


def _dig(data: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _event_value(event: EventFact, path: str) -> Any:
    root, _, rest = path.partition(".")
    if root == "context" and rest:
        return _dig(event.context, rest)
    if root == "properties" and rest:
        return _dig(event.properties, rest)
    return _dig(event.properties, path)


def _record_value(timed: _Timed, path: str) -> Any:
    root, _, rest = path.partition(".")
    return _dig(timed.fields, rest if root == "fields" and rest else path)


def _custom_items(
    trait: CustomTrait, records: list[_Timed], events: list[EventFact]
) -> list[_Item]:
    """The facts a custom trait aggregates (oldest first), each with its property's value;
    with a property, facts without it are left out."""
    found: list[tuple[int, str, Callable[[str], Any]]]
    if trait.of == "event":
        wanted = None if trait.event is None else trait.event.strip().casefold()
        found = [
            (e.at_us, _event_tiebreak(e), partial(_event_value, e))
            for e in events
            if wanted is None or (e.name or "").strip().casefold() == wanted
        ]
    else:
        found = [
            (t.at_us, t.tiebreak, partial(_record_value, t))
            for t in records
            if trait.kind is None or t.record.kind == trait.kind
        ]
    items = []
    for at_us, tiebreak, value_of in found:
        if not all(_holds(c, value_of(c.property)) for c in trait.where):
            continue
        value = None if trait.property is None else value_of(trait.property)
        if trait.property is None or value is not None:
            items.append(_Item(at_us, tiebreak, value))
    return sorted(items, key=lambda i: (i.at_us, i.tiebreak))


def _holds(condition: Condition, actual: Any) -> bool:
    op, expected = condition.op, condition.value
    if op == "exists":
        return (actual is not None) == (expected is not False)
    if op == "ne":
        return not _equal(actual, expected)
    if op == "not_in":
        return not any(_equal(actual, e) for e in expected)
    if actual is None:
        return False
    if op == "eq":
        return _equal(actual, expected)
    if op == "in":
        return any(_equal(actual, e) for e in expected)
    if op == "contains":
        if isinstance(actual, list):
            return any(_equal(a, expected) for a in actual)
        return isinstance(actual, str) and str(expected).casefold() in actual.casefold()
    order = _compare(actual, expected)
    return order is not None and _ORDERINGS[op](order)


def _equal(actual: Any, expected: Any) -> bool:
    """Numbers (also as text or money) by value; text regardless of case; else as JSON."""
    a, b = _number(actual), _number(expected)
    if a is not None and b is not None:
        return a == b
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.casefold() == expected.casefold()
    return bool(actual == expected)


def _compare(actual: Any, expected: Any) -> int | None:
    a, b = _number(actual), _number(expected)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    if isinstance(actual, str) and isinstance(expected, str):
        return (actual > expected) - (actual < expected)
    return None


def _key(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()


def _aggregate(aggregation: str, items: list[_Item]) -> Any:
    """The aggregation of the items' values (items oldest first)."""
    if aggregation == "count":
        return len(items)
    if aggregation in ("first", "last"):
        return (items[0] if aggregation == "first" else items[-1]).value if items else None
    if aggregation in ("most_frequent", "distinct_count"):
        keys = [_key(item.value) for item in items]
        if aggregation == "distinct_count":
            return len(set(keys))
        return _most_frequent(items, keys)
    numbers = [n for item in items if (n := _number(item.value)) is not None]
    if aggregation == "sum":
        return _json_number(sum(numbers, Decimal(0)))
    if not numbers:
        return None
    if aggregation == "average":
        return round(float(sum(numbers, Decimal(0)) / len(numbers)), 6)
    return _json_number(min(numbers) if aggregation == "min" else max(numbers))


def _most_frequent(items: list[_Item], keys: list[str]) -> Any:
    """The most frequent value; ties: the one seen most recently, then by its JSON text."""
    counts = Counter(keys)
    latest = {key: index for index, key in enumerate(keys)}
    best = min(counts, key=lambda k: (-counts[k], -latest[k], k), default=None)
    return None if best is None else items[latest[best]].value


_CHECKED_MOMENTS = 16
"""How many moments a windowed trait is evaluated at to find when its value first changes;
past that, the next moment is due (conservative: the recomputation finds no change)."""


def _custom_value(
    trait: CustomTrait, records: list[_Timed], events: list[EventFact], now_us: int
) -> tuple[Any, int | None]:
    """A custom trait's value, and the first moment a window changes it (or None)."""
    items = _custom_items(trait, records, events)
    if trait.window_days is None:
        return _aggregate(trait.aggregation, items), None
    window = trait.window_days * DAY_US

    def at(moment: int) -> Any:
        inside = [item for item in items if moment - window < item.at_us <= moment]
        return _aggregate(trait.aggregation, inside)

    value = at(now_us)
    moments = sorted(
        {item.at_us for item in items if item.at_us > now_us}
        | {item.at_us + window for item in items if now_us - window < item.at_us <= now_us}
    )
    for moment in moments[:_CHECKED_MOMENTS]:
        if at(moment) != value:
            return value, moment
    return value, moments[_CHECKED_MOMENTS] if len(moments) > _CHECKED_MOMENTS else None


# --- the public functions ---------------------------------------------------------------------


def compute_traits(facts: ProfileFacts, settings: TraitSettings, now_us: int) -> Computed:
    """Every built-in and custom trait of a profile at ``now_us``, and when one next changes."""
    records = _timed_records(facts.records)
    events = _sorted_events(facts.events)
    found = _find_purchases(records, events)
    values = _purchase_traits(found, settings)
    lifetime = sum(_converted_totals(found, settings), Decimal(0))
    rfm, rfm_due = _rfm(found, lifetime, settings.rfm, now_us)
    tickets = [t for t in records if t.record.kind == "ticket"]
    feedback = _feedback(records, events)
    last_nps = _last_nps(feedback)
    sentiment = _sentiment(feedback)
    open_tickets = sum(ticket_is_open(t.fields) for t in tickets)
    risk = _Risk(
        open_tickets=open_tickets,
        detractor=last_nps is not None and last_nps["category"] == "detractor",
        negative_sentiment=sentiment is not None
        and (sentiment["last"] == "negative" or sentiment["trend"] == "worsening"),
    )
    churn, churn_due = _churn(found, risk, settings.churn, now_us)
    values |= {
        "rfm": rfm,
        "last_contact_at_us": _last_contact(records, events),
        "preferred_channel": _preferred_channel(records, events),
        **_best_contact(_reachable_moments(records, events), facts.country),
        "open_tickets": open_tickets,
        "last_ticket_at_us": max((t.at_us for t in tickets), default=None),
        "last_nps": last_nps,
        "sentiment": sentiment,
        **churn,
    }
    values = {name: values[name] for name in BUILT_IN_TRAITS}
    due = [*churn_due, *([rfm_due] if rfm_due is not None else [])]
    for trait in settings.custom:
        values[trait.name], trait_due = _custom_value(trait, records, events, now_us)
        if trait_due is not None:
            due.append(trait_due)
    return Computed(values, min((at for at in due if at > now_us), default=None))


def at_read(values: Mapping[str, Any], now_us: int) -> dict[str, Any]:
    """Values that depend on the reading moment, derived from stored ones (whole days)."""

    def days_since(name: str) -> int | None:
        at = values.get(name)
        return _whole_days(now_us - at) if isinstance(at, int) else None

    return {
        "days_since_last_contact": days_since("last_contact_at_us"),
        "days_since_last_purchase": days_since("last_purchase_at_us"),
    }
