"""The incremental evaluator's meaning of each construct, and the moments answers change."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from c360.kernel.clock import to_us
from c360.segments.evaluate import (
    Facts,
    Moment,
    anniversary_days,
    evaluate,
    leaves_window,
    next_change,
    reaches,
)
from c360.segments.language import Span, parse
from c360.segments.view import build_view, consent_statements, fold, fold_pairs

HOUR = 3_600_000_000
DAY = 24 * HOUR
NOW = to_us(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
BANGKOK = ZoneInfo("Asia/Bangkok")


@dataclass
class Ev:
    name: str
    at_us: int
    seq: int
    properties: dict[str, Any] = field(default_factory=dict)
    type: str = "track"
    context: dict[str, Any] = field(default_factory=dict)


def view(**values: Any) -> dict[str, Any]:
    return build_view({}, values, {}, [("email", "a@example.com")], {})


def holds(text: str, facts: Facts, now: int = NOW, tz: ZoneInfo = BANGKOK) -> bool:
    return evaluate(parse(text), facts, Moment(now, tz))


SOMCHAI = Facts(
    view(
        country="TH",
        first_name="สมชาย",
        last_name="Nguyễn",
        city="Đà Nẵng",
        lifetime_value=25000.5,
        order_count=3,
        vip=True,
        favourite_categories=["Shoes", "bags"],
        rfm={"label": "Champions", "score": "5-5-5"},
        birth_date="1990-12-10",
        signed_up_at="2026-08-01T10:00:00Z",
        last_purchase_at_us=NOW - 40 * DAY,
        note=None,
    )
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('country = "TH"', True),
        ('country = "th"', False),
        ('country = "th" ignoring case', True),
        ('country != "VN"', True),
        ('nickname != "x"', False),  # missing: only exists is true of it
        ("not nickname exists", True),
        ("note exists", False),  # null is missing
        ("lifetime_value >= 20000", True),
        ("lifetime_value > 25000.5", False),
        ('lifetime_value = "25000.5"', False),  # text never equals a number
        ('order_count > "1"', False),
        ("vip = true", True),
        ("vip = 1", False),  # a boolean is not a number
        ('province in ["Bangkok", "Chiang Mai"]', False),
        ('country in ["VN", "TH"]', True),
        ('city = "da nang" ignoring case and accents', True),
        ('city = "Da Nang" ignoring accents', True),
        ('city = "da nang" ignoring accents', False),
        ('last_name starts with "NGUY" ignoring case and accents', True),
        ('first_name contains "ชา"', True),
        ('favourite_categories contains "shoes" ignoring case', True),
        ('favourite_categories contains "sho"', False),  # lists hold whole elements
        ('favourite_categories = "bags"', False),
        ('rfm.label = "Champions"', True),
        ('rfm.label.x = "Champions"', False),
        ('identifiers.email contains "a@example.com"', True),
        ('last_name > "M"', True),
        ("signed_up_at within last 6 months", True),
        ("signed_up_at within last 1 month", False),
        ("last_purchase_at within last 30 days", False),
        ("last_purchase_at_us within last 41 days", True),
        ("last_purchase_at before 2026-11-01", True),
        ("last_purchase_at after 2026-10-27", True),
        ("last_purchase_at after 2026-10-28", False),
        ("birth_date anniversary within next 4 days", True),
        ("birth_date anniversary within next 3 days", False),
        ('not (country = "VN" or vip = false) and order_count = 3', True),
    ],
)
def test_value_tests(text: str, expected: bool) -> None:
    assert holds(text, SOMCHAI) is expected


def test_dates_without_time_are_midnight_in_the_segments_zone() -> None:
    # 2026-10-28 00:00 in Bangkok is 2026-10-27 17:00 UTC
    at = to_us(datetime(2026, 10, 27, 18, 0, tzinfo=UTC))
    facts = Facts(view(seen_at_us=at))
    assert holds("seen_at after 2026-10-28", facts, tz=BANGKOK)
    assert not holds("seen_at after 2026-10-28", facts, tz=ZoneInfo("UTC"))


def test_leap_day_birthdays_are_kept_on_28_february() -> None:
    feb_27 = to_us(datetime(2027, 2, 27, 12, tzinfo=UTC))
    assert "02-29" in anniversary_days(feb_27, Span(n=1, unit="days"), ZoneInfo("UTC"))
    assert "02-29" not in anniversary_days(feb_27 - 2 * DAY, Span(n=1, unit="days"), BANGKOK)
    leap = to_us(datetime(2028, 2, 27, 12, tzinfo=UTC))
    assert "02-29" in anniversary_days(leap, Span(n=2, unit="days"), ZoneInfo("UTC"))
    assert "03-01" not in anniversary_days(leap, Span(n=1, unit="days"), ZoneInfo("UTC"))


CART = Facts(
    view(),
    [
        Ev("Product Viewed", NOW - 3 * HOUR, 1, {"category": "shoes", "price": 1200}),
        Ev("Product Added", NOW - 2 * HOUR, 2, {"category": "shoes", "price": 1200}),
        Ev("Order Completed", NOW - 40 * DAY, 3, {"revenue": 900}),
        Ev("Order Completed", NOW - 10 * DAY, 4, {"revenue": 400}),
        Ev("Order Completed", NOW - 5 * DAY, 5, {"revenue": "n/a"}),
        Ev("Home", NOW - HOUR, 6, type="page"),
        Ev("Product Added", NOW + HOUR, 7, {"category": "bags"}),  # dated in the future
        Ev("Product Added", NOW - HOUR, 8, type="identify"),
    ],
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('did "Product Added" at least 1 time in last 1 day', True),
        ('did "Product Added" at least 2 times', False),  # the future one does not count yet
        ('not did "Order Completed" in last 1 day', True),
        ('did "Product Added" where category = "shoes"', True),
        ('did "Product Added" where category = "bags"', False),
        ('did "Product Added" where (category = "SHOES" ignoring case and price >= 1000)', True),
        ('did "Order Completed" exactly 3 times', True),
        ('did "Order Completed" at most 1 time in last 30 days', False),
        ('did "Email Opened" exactly 0 times in last 90 days', True),
        ('did "Email Opened" at most 0 times', True),
        ('did "Order Completed" with sum of revenue = 1300', True),
        ('did "Order Completed" with sum of revenue >= 500 in last 30 days', False),
        ('did "Email Opened" with sum of revenue = 0', True),
        ('did "Email Opened" with average of revenue >= 0', False),
        ('did "Order Completed" with average of revenue = 650', True),
        ('did "Order Completed" with min of revenue < 500', True),
        ('did "Order Completed" with max of revenue > 900', False),
        ('did "Home"', True),  # pages by name
        ('did "Product Viewed" then "Product Added" within 2 hours', True),
        ('did "Product Viewed" then "Product Added" within 30 minutes', False),
        ('did "Product Added" then "Product Viewed" within 2 hours', False),
        ('did "Product Viewed" where category = "shoes" then "Product Added" within 1 hour', True),
        ('did "Product Viewed" then "Product Added" within 2 hours in last 150 minutes', False),
        ('did "Product Added" then "Product Added" within 1 day', False),  # two distinct events
    ],
)
def test_behaviour(text: str, expected: bool) -> None:
    assert holds(text, CART) is expected


def prefs(**given: bool) -> dict[str, Any]:
    return {"consent": {"categoryPreferences": given}}


def test_membership_and_consent() -> None:
    consent = consent_statements(
        [
            Ev(
                "x",
                NOW - 2 * DAY,
                1,
                context={"consent": {"categoryPreferences": {"marketing": True}}},
            ),
            Ev(
                "x",
                NOW - DAY,
                2,
                context={"consent": {"categoryPreferences": {"analytics": False}}},
            ),
        ],
        [("subscription", {"status": "Unsubscribed", "channel": "LINE"}, NOW - 3 * DAY)],
    )
    assert consent == {"marketing": {"line": False, "*": True}, "analytics": {"*": False}}
    facts = Facts(build_view({}, {}, {}, [], consent), segments=frozenset({"vip"}))
    assert holds('in segment "vip" and not in segment "new"', facts)
    assert holds('consented to "marketing"', facts)
    assert holds('consented to "marketing" via "email"', facts)  # the purpose-wide answer
    assert not holds('consented to "marketing" via "line"', facts)  # the channel's own
    assert not holds('consented to "analytics"', facts)
    assert not holds('consented to "profiling"', facts)


def test_next_change_names_the_moment_an_event_leaves_its_window() -> None:
    condition = parse('did "Product Added" where category = "shoes" in last 1 day')
    moment = Moment(NOW, BANGKOK)
    assert evaluate(condition, CART, moment)
    leaves = next_change(condition, CART, moment)
    assert leaves == NOW - 2 * HOUR + DAY + 1
    assert evaluate(condition, CART, Moment(leaves - 1, BANGKOK))
    assert not evaluate(condition, CART, Moment(leaves, BANGKOK))


def test_next_change_names_the_moment_a_future_event_counts() -> None:
    condition = parse('did "Product Added" at least 2 times')
    assert next_change(condition, CART, Moment(NOW, BANGKOK)) == NOW + HOUR
    assert evaluate(condition, CART, Moment(NOW + HOUR, BANGKOK))


def test_next_change_of_time_values_and_anniversaries() -> None:
    facts = Facts(view(renewal_at_us=NOW + 10 * DAY, birth_date="1990-01-01"))
    assert next_change(parse("renewal_at within next 7 days"), facts, Moment(NOW)) == NOW + 3 * DAY
    assert next_change(parse("renewal_at within last 7 days"), facts, Moment(NOW)) == NOW + 10 * DAY
    midnight = to_us(datetime(2026, 12, 7, tzinfo=BANGKOK))
    assert (
        next_change(parse("birth_date anniversary within next 7 days"), facts, Moment(NOW, BANGKOK))
        == midnight
    )
    assert next_change(parse('country = "TH"'), facts, Moment(NOW)) is None


@pytest.mark.parametrize("day", [28, 29, 30, 31])
def test_calendar_month_windows_change_at_the_exact_moment(day: int) -> None:
    at = to_us(datetime(2026, 8, day, 15, 30, tzinfo=UTC))
    span = Span(n=6, unit="months")
    leaves = leaves_window(at, span)
    facts = Facts(view(seen_at_us=at))
    condition = parse("seen_at within last 6 months")
    assert evaluate(condition, facts, Moment(leaves - 1))
    assert not evaluate(condition, facts, Moment(leaves))
    enters = reaches(at, span)
    ahead = parse("seen_at within next 6 months")
    assert evaluate(ahead, facts, Moment(enters))
    assert not evaluate(ahead, facts, Moment(enters - 1))


def test_fold_is_character_for_character_and_leaves_thai_alone() -> None:
    assert fold("Nguyễn Đức ÁNH", "case_accents") == "nguyen duc anh"
    assert fold("Nguyễn Đức ÁNH", "accents") == "Nguyen Duc ANH"
    assert fold("Nguyễn Đức ÁNH", "case") == "nguyễn đức ánh"
    assert fold("สมชาย ใจดี", "case_accents") == "สมชาย ใจดี"
    source, target = fold_pairs("case_accents")
    assert len(source) == len(target)
    assert "".join(fold(c, "case_accents") for c in source) == target


def test_the_view_types_times_once() -> None:
    doc = build_view(
        {"plan": "gold", "signed_up_at": "2026-01-02T03:04:05+07:00"},
        {"birth_date": "1990-05-31", "country": "TH"},
        {"last_purchase_at_us": NOW, "rfm": {"label": "Loyal"}, "order_count": 2},
        [("phone", "+66812345678"), ("email", "a@b.co"), ("email", "c@d.co")],
        {},
    )
    assert doc["v"]["identifiers"] == {"email": ["a@b.co", "c@d.co"], "phone": ["+66812345678"]}
    assert doc["t"]["signed_up_at"] == to_us(datetime(2026, 1, 1, 20, 4, 5, tzinfo=UTC))
    assert doc["t"]["last_purchase_at"] == doc["t"]["last_purchase_at_us"] == NOW
    assert doc["d"]["birth_date"] == "05-31" and doc["d"]["signed_up_at"] == "01-01"
    assert "country" not in doc["t"] and "order_count" not in doc["t"]
