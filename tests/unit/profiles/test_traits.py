import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from c360.errors import InvalidInput
from c360.kernel.clock import to_us
from c360.profiles.traits import (
    AT_READ_TRAITS,
    BUILT_IN_TRAITS,
    DAY_US,
    DEFAULT_SETTINGS,
    EventFact,
    ProfileFacts,
    RecordFact,
    TraitSettings,
    at_read,
    compute_traits,
    parse_settings,
    text_sentiment,
)

START = datetime(2026, 1, 1, tzinfo=UTC)  # a Thursday
T0 = to_us(START)
HOUR_US = 3_600_000_000


def day(n: float) -> int:
    return T0 + round(n * DAY_US)


def iso(n: float) -> str:
    """A standardized datetime ``n`` days after START, as the standardizers write it."""
    return (START + timedelta(days=n)).isoformat().replace("+00:00", "Z")


def thb(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "THB"}


def record(kind: str, record_id: str, source: str = "shop", **fields: Any) -> RecordFact:
    return RecordFact(source, record_id, kind, fields, T0)


def order(order_id: str, at_day: float, total: Any, **fields: Any) -> RecordFact:
    return record(
        "order", order_id, order_id=order_id, ordered_at=iso(at_day), total=total, **fields
    )


def track(
    seq: int, name: str, at_day: float, context: dict[str, Any] | None = None, **properties: Any
) -> EventFact:
    return EventFact(seq, "track", name, properties, context or {}, day(at_day), "web")


def compute(
    records: Sequence[RecordFact] = (),
    events: Sequence[EventFact] = (),
    *,
    now_day: float,
    settings: TraitSettings = DEFAULT_SETTINGS,
    country: str | None = "TH",
) -> dict[str, Any]:
    return compute_traits(
        ProfileFacts(list(records), list(events), country), settings, day(now_day)
    ).values


def assert_due_is_first_change(
    facts: ProfileFacts, settings: TraitSettings, now_us: int
) -> tuple[dict[str, Any], int]:
    """Nothing changes up to ``due_us - 1``; something does at ``due_us``."""
    first = compute_traits(facts, settings, now_us)
    assert first.due_us is not None and first.due_us > now_us
    assert compute_traits(facts, settings, first.due_us - 1).values == first.values
    assert compute_traits(facts, settings, first.due_us).values != first.values
    return first.values, first.due_us


# --- purchases ---------------------------------------------------------------------------


def test_order_record_and_its_order_completed_event_count_once() -> None:
    records = [order("SO-1", 1, thb("1000.00"), status="delivered", channel="web")]
    events = [
        track(1, "Order Completed", 1, order_id="SO-1", total=1000, currency="THB"),
        track(2, "Order Completed", 3, order_id="SO-2", revenue=500, currency="THB"),
        track(3, "Order Completed", 3, order_id="SO-2", revenue=500, currency="THB"),  # retried
    ]
    values = compute(records, events, now_day=5)
    assert values["order_count"] == 2
    assert values["lifetime_value"] == 1500.0
    assert values["average_order_value"] == 750.0
    assert values["first_purchase_at_us"] == day(1)
    assert values["last_purchase_at_us"] == day(3)
    assert values["average_purchase_gap_days"] == 2.0
    assert values["purchase_channels"] == ["web"]


def test_a_cancelled_order_does_not_count_even_with_its_order_completed_event() -> None:
    records = [order("SO-1", 1, thb("900.00"), status="cancelled")]
    events = [track(1, "Order Completed", 1, order_id="SO-1", total=900, currency="THB")]
    values = compute(records, events, now_day=5)
    assert values["order_count"] == 0
    assert values["lifetime_value"] == 0.0
    assert values["rfm"] is None
    assert values["value_tier"] == "none"
    assert values["churn_risk"] is None


@pytest.mark.parametrize(
    ("status", "counts"),
    [
        ("delivered", True),
        ("pending", True),
        (None, True),  # POS receipts carry no status
        ("จัดส่งแล้ว", True),
        ("Đã giao", True),
        ("Not cancelled", True),
        ("cancelled", False),
        ("Returned", False),
        ("Refunded", False),
        ("ยกเลิก", False),
        ("คืนเงินแล้ว", False),
        ("Đã hủy", False),
        ("da huy", False),
        ("Hoàn tiền", False),
    ],
)
def test_order_statuses_in_english_thai_and_vietnamese(status: str | None, counts: bool) -> None:
    values = compute([order("A-1", 1, thb("100.00"), status=status)], now_day=2)
    assert values["order_count"] == (1 if counts else 0)


def test_thb_and_vnd_are_converted_to_the_base_currency() -> None:
    records = [
        order("TH-1", 1, thb("1000.00")),
        order("VN-1", 2, {"amount": "1000000", "currency": "VND"}),
        order("KR-1", 3, {"amount": "5000", "currency": None}, currency="KRW"),
        order("X-1", 4, 250),  # an amount naming no currency
    ]
    values = compute(records, now_day=5)
    assert values["order_count"] == 4
    assert values["revenue_by_currency"] == {
        "KRW": 5000.0,
        "THB": 1000.0,
        "VND": 1_000_000.0,
        "unknown": 250.0,
    }
    assert values["lifetime_value"] == 2340.0  # 1000 + 1,000,000 x 0.00134
    assert values["lifetime_value_currency"] == "THB"
    assert values["unconverted_currencies"] == ["KRW", "unknown"]
    assert values["average_order_value"] == 1170.0

    rates = parse_settings({"exchange_rates": {"VND": 0.0014, "KRW": 0.025}})
    values = compute(records, now_day=5, settings=rates)
    assert values["lifetime_value"] == 2525.0  # 1000 + 1400 + 125
    assert values["unconverted_currencies"] == ["unknown"]


def test_base_currency_usd_with_its_own_rates() -> None:
    settings = parse_settings(
        {"base_currency": "USD", "exchange_rates": {"THB": 0.03, "VND": 0.00004}}
    )
    records = [
        order("TH-1", 1, thb("1000.00")),
        order("VN-1", 2, {"amount": "500000", "currency": "VND"}),
    ]
    values = compute(records, now_day=5, settings=settings)
    assert values["lifetime_value"] == 50.0
    assert values["lifetime_value_currency"] == "USD"


def test_favourite_categories_branch_and_channels() -> None:
    item = "order_item"
    records = [
        order("P-1", 1, thb("300.00"), store="Siam Paragon", channel="store"),
        order("P-2", 2, thb("300.00"), store="Central World"),
        order("P-3", 3, thb("300.00"), store="Siam Paragon"),
        order("P-4", 4, thb("300.00"), store="Central World"),
        order("P-5", 5, thb("100.00"), status="cancelled"),
        record(item, "P-1/1", order_id="P-1", category="Kitchen", quantity=2, amount=thb("200.00")),
        record(item, "P-1/2", order_id="P-1", category="Bedding", quantity=1, amount=thb("500.00")),
        record(item, "P-2/1", order_id="P-2", category="Bath", quantity=1, unit_price=thb("90.00")),
        record(item, "P-5/1", order_id="P-5", category="Garden", quantity=9),  # cancelled
    ]
    events = [
        track(
            1,
            "Order Completed",
            6,
            order_id="W-1",
            total=400,
            currency="THB",
            products=[
                {"category": "Lighting", "quantity": 2, "price": 100},
                {"category": "Bath", "quantity": 1, "price": 200},
            ],
        )
    ]
    values = compute(records, events, now_day=7)
    # Kitchen 2, Lighting 2 (200 baht), Bath 2 (290 baht), Bedding 1: Bath wins the tie by amount.
    assert values["favourite_categories"] == ["Bath", "Kitchen", "Lighting"]
    # Two visits each: Central World was visited last.
    assert values["favourite_branch"] == "Central World"
    assert values["purchase_channels"] == ["store", "web"]


def test_value_tiers_follow_lifetime_value() -> None:
    def tier(total: str) -> Any:
        return compute([order("A", 1, thb(total))], now_day=2)["value_tier"]

    assert [tier("100.00"), tier("3000.00"), tier("15000.00"), tier("80000.00")] == [
        "low",
        "medium",
        "high",
        "vip",
    ]
    custom = parse_settings({"value_tiers": {"gold": 500, "basic": 0}})
    assert (
        compute([order("A", 1, thb("600.00"))], now_day=2, settings=custom)["value_tier"] == "gold"
    )


# --- RFM, churn and time passing ---------------------------------------------------------


def test_rfm_scores_and_labels() -> None:
    regular = [order(f"R-{n}", n * 10, thb("2500.00")) for n in range(1, 9)]  # 8 orders, 20,000
    values = compute(regular, now_day=85)
    assert values["rfm"] == {
        "recency": 5,
        "frequency": 5,
        "monetary": 4,
        "score": "5-5-4",
        "label": "Champions",
    }
    values = compute(regular, now_day=80 + 200)
    assert values["rfm"]["score"] == "2-5-4"
    assert values["rfm"]["label"] == "Can't lose"
    single = compute([order("S", 1, thb("500.00"))], now_day=1 + 400)
    assert single["rfm"] == {
        "recency": 1,
        "frequency": 1,
        "monetary": 1,
        "score": "1-1-1",
        "label": "Lost",
    }


def test_rfm_recency_band_is_crossed_exactly_at_due() -> None:
    settings = parse_settings({"churn": {"overdue_weight": 0}})  # churn risk stays put
    facts = ProfileFacts([order("A", 0, thb("500.00"))], [])
    values, due = assert_due_is_first_change(facts, settings, day(10))
    assert due == day(31)  # more than 30 whole days since the purchase
    assert values["rfm"]["recency"] == 5
    later = compute_traits(facts, settings, due)
    assert later.values["rfm"]["recency"] == 4
    assert later.due_us == day(91)
    assert compute_traits(facts, settings, day(400)).due_us is None


def test_churn_risk_rises_with_time_from_the_default_gap() -> None:
    facts = ProfileFacts([order("A", 0, thb("500.00"))], [])
    risks = [
        compute_traits(facts, DEFAULT_SETTINGS, day(d)).values["churn_risk"]
        for d in (0, 90, 180, 360)
    ]
    # sigmoid(-3 + 1.5 x days / 90)
    assert risks == [0.05, 0.18, 0.5, 0.95]
    assert compute_traits(facts, DEFAULT_SETTINGS, day(90)).values["churn_risk_reasons"] == []
    assert compute_traits(facts, DEFAULT_SETTINGS, day(91)).values["churn_risk_reasons"] == [
        "purchase_overdue"
    ]
    values, due = assert_due_is_first_change(facts, DEFAULT_SETTINGS, day(25))
    assert due == day(30)  # sigmoid(-2.5) = 0.076 rounds to 0.08
    assert values["churn_risk"] == 0.07


def test_churn_risk_uses_the_persons_own_purchase_gap() -> None:
    weekly = [order(f"W-{n}", n * 10, thb("300.00")) for n in range(5)]  # every 10 days
    values = compute(weekly, now_day=40 + 20)
    assert values["average_purchase_gap_days"] == 10.0
    # 20 days against a 10-day gap: sigmoid(-3 + 1.5 x 2) = 0.5
    assert values["churn_risk"] == 0.5
    assert values["churn_risk_reasons"] == ["purchase_overdue"]


def test_churn_risk_counts_tickets_detractors_and_negative_sentiment() -> None:
    records = [
        order("A", 0, thb("500.00")),
        record(
            "ticket", "T-1", "support", status="Open", opened_at=iso(1), notes="Parcel not arrived"
        ),
        record("survey_response", "S-1", "survey", score=2, responded_at=iso(2)),
    ]
    values = compute(records, now_day=2)
    # sigmoid(-3 + 1.5 x 2/90 + 0.5 + 1.0 + 0.75)
    assert values["churn_risk"] == 0.33
    assert values["churn_risk_reasons"] == ["negative_sentiment", "nps_detractor", "open_tickets"]


def test_windowed_trait_changes_as_events_leave_and_enter_the_window() -> None:
    settings = parse_settings(
        {
            "churn": {"overdue_weight": 0},
            "custom": [
                {
                    "name": "shoe_views_30d",
                    "of": "event",
                    "event": "Product Viewed",
                    "aggregation": "count",
                    "window_days": 30,
                    "where": [{"property": "category", "op": "eq", "value": "shoes"}],
                }
            ],
        }
    )
    events = [
        track(1, "Product Viewed", 10, category="Shoes"),
        track(2, "Product Viewed", 20, category="shoes"),
        track(3, "Product Viewed", 21, category="bags"),
        track(4, "Product Viewed", 70, category="shoes"),  # dated ahead (a device clock)
    ]
    facts = ProfileFacts([], events)
    values, due = assert_due_is_first_change(facts, settings, day(25))
    assert values["shoe_views_30d"] == 2
    assert due == day(40)  # the view of day 10 leaves the window
    values, due = assert_due_is_first_change(facts, settings, due)
    assert values["shoe_views_30d"] == 1
    assert due == day(50)
    values, due = assert_due_is_first_change(facts, settings, due)
    assert values["shoe_views_30d"] == 0
    assert due == day(70)  # the view dated ahead enters the window
    values, due = assert_due_is_first_change(facts, settings, due)
    assert values["shoe_views_30d"] == 1
    assert due == day(100)
    assert compute_traits(facts, settings, due).due_us is None


def test_time_passing_changes_only_time_dependent_values() -> None:
    records = [order("A", 0, thb("1200.00"), store="Siam Paragon")]
    events = [track(1, "Product Viewed", 3, category="shoes")]
    settings = parse_settings(
        {"custom": [{"name": "views_7d", "of": "event", "aggregation": "count", "window_days": 7}]}
    )
    facts = ProfileFacts(records, events, "TH")
    early = compute_traits(facts, settings, day(5)).values
    late = compute_traits(facts, settings, day(200)).values
    changed = {name for name in early if early[name] != late[name]}
    assert changed == {"views_7d", "rfm", "churn_risk", "churn_risk_reasons"}
    assert (early["views_7d"], late["views_7d"]) == (1, 0)
    assert (early["rfm"]["recency"], late["rfm"]["recency"]) == (5, 2)
    assert early["churn_risk"] < late["churn_risk"]
    assert at_read(early, day(5)) == {"days_since_last_contact": 2, "days_since_last_purchase": 5}
    assert at_read(late, day(200)) == {
        "days_since_last_contact": 197,
        "days_since_last_purchase": 200,
    }
    assert at_read(early, day(5) - 1) == {
        "days_since_last_contact": 1,
        "days_since_last_purchase": 4,
    }
    assert at_read({}, day(5)) == {
        "days_since_last_contact": None,
        "days_since_last_purchase": None,
    }


def test_nothing_is_due_for_a_profile_without_time_dependent_values() -> None:
    facts = ProfileFacts([record("contact", "C-1", "crm", first_name="สมชาย")], [])
    computed = compute_traits(facts, DEFAULT_SETTINGS, day(1))
    assert computed.due_us is None
    assert computed.values["order_count"] == 0
    assert computed.values["sentiment"] is None
    assert computed.values["preferred_channel"] is None
    assert computed.values["best_contact_hours"] == []


# --- contact, channels, tickets, NPS, sentiment -------------------------------------------


def test_last_contact_is_the_latest_interaction() -> None:
    records = [
        order("A", 1, thb("100.00")),
        record("payment", "PAY-1", "billing", paid_at=iso(4)),
        record("invoice", "INV-1", "billing", issued_at=iso(9)),  # the company's, not a contact
        record("shipment", "SH-1", "shipping", delivered_at=iso(8), status="Delivered"),
    ]
    events = [
        track(1, "Product Viewed", 3),
        EventFact(2, "identify", None, {}, {}, day(7), "web"),  # a server syncing traits
    ]
    assert compute(records, events, now_day=10)["last_contact_at_us"] == day(4)
    page = EventFact(3, "page", "Home", {}, {}, day(6), "web")
    assert compute(records, [*events, page], now_day=10)["last_contact_at_us"] == day(6)


def test_preferred_channel_is_the_most_used_then_the_most_recent() -> None:
    records = [
        record("ticket", "T-1", "support", channel="LINE", opened_at=iso(1), status="Closed"),
        record("survey_response", "S-1", "survey", channel="in-store", responded_at=iso(2)),
        record("registration", "R-1", "events", channel="Email", registered_at=iso(3)),
    ]
    events = [track(1, "LINE Message Read", 4), track(2, "Email Opened", 5)]
    assert compute(records, events, now_day=6)["preferred_channel"] == "email"
    events.append(track(3, "Line Message Read", 6))
    assert compute(records, events, now_day=7)["preferred_channel"] == "line"
    tickets = [
        record("ticket", "T-2", "support", channel="Facebook", opened_at=iso(1), status="Closed")
    ]
    assert compute(tickets, now_day=2)["preferred_channel"] == "facebook"


def test_best_contact_hours_and_weekdays_are_local() -> None:
    records = [
        # 2026-01-05 is a Monday; 03:00 UTC is 10:00 in Bangkok and Ho Chi Minh City.
        record("shipment", "SH-1", "shipping", delivered_at=iso(4 + 3 / 24), status="Delivered"),
        record("shipment", "SH-2", "shipping", delivered_at=iso(11 + 3 / 24), status="Đã giao"),
        record(
            "shipment", "SH-3", "shipping", delivered_at=iso(12 + 5 / 24), status="Failed attempt"
        ),
        record(
            "ticket", "T-1", "support", channel="phone", opened_at=iso(6 + 12 / 24), status="Closed"
        ),
        record(
            "ticket", "T-2", "support", channel="email", opened_at=iso(6 + 1 / 24), status="Closed"
        ),
    ]
    events = [
        track(1, "Email Opened", 7 + 13 / 24),
        track(2, "Push Notification Opened", 8 + 13 / 24),
    ]
    values = compute(records, events, now_day=20, country="VN")
    # 10:00 twice (Mondays), 20:00 twice (Thu, Fri), 19:00 once (Wed); ties go to the earlier
    # hour or weekday
    assert values["best_contact_hours"] == [10, 20, 19]
    assert values["best_contact_weekdays"] == ["mon", "wed"]
    utc = compute(records, events, now_day=20, country=None)
    assert utc["best_contact_hours"] == [3, 13, 12]


@pytest.mark.parametrize(
    ("status", "is_open"),
    [
        ("Open", True),
        ("Pending", True),
        ("Reopened", True),
        ("Unresolved", True),
        ("รอดำเนินการ", True),
        ("ยังไม่ปิด", True),
        ("Đang xử lý", True),
        ("Chưa giải quyết", True),
        ("Closed", False),
        ("Resolved", False),
        ("solved", False),
        ("ปิดแล้ว", False),
        ("แก้ไขแล้ว", False),
        ("Đã giải quyết", False),
        ("da giai quyet", False),
        ("Đã đóng", False),
    ],
)
def test_ticket_statuses_in_english_thai_and_vietnamese(status: str, is_open: bool) -> None:
    ticket = record("ticket", "T-1", "support", status=status, opened_at=iso(1))
    values = compute([ticket], now_day=2)
    assert values["open_tickets"] == (1 if is_open else 0)
    assert values["last_ticket_at_us"] == day(1)


def test_a_ticket_without_status_is_open_until_closed_at() -> None:
    tickets = [
        record("ticket", "T-1", "support", opened_at=iso(1)),
        record("ticket", "T-2", "support", opened_at=iso(2), closed_at=iso(3)),
    ]
    values = compute(tickets, now_day=4)
    assert values["open_tickets"] == 1
    assert values["last_ticket_at_us"] == day(2)


def test_last_nps_from_records_and_events() -> None:
    records = [
        record("survey_response", "S-1", "survey", score=10, responded_at=iso(1)),
        record("survey_response", "S-2", "survey", score=8, responded_at=iso(3)),
    ]
    values = compute(records, now_day=5)
    assert values["last_nps"] == {"score": 8, "at_us": day(3), "category": "passive"}
    events = [
        track(1, "NPS Submitted", 4, score="6"),
        track(2, "Survey Answered", 4.5, comment="Fast delivery"),  # no score
    ]
    values = compute(records, events, now_day=5)
    assert values["last_nps"] == {"score": 6, "at_us": day(4), "category": "detractor"}


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("Great service", 1.0),
        ("Parcel not arrived, second call", -1.0),
        ("not bad at all", 0.5),  # a denied complaint is mild praise
        ("OK", None),
        ("บริการดีมาก พนักงานสุภาพ", 1.0),
        ("พนักงานไม่ค่อยใส่ใจ", -1.0),
        ("ของยังไม่ถึง ลูกค้าโทรตามครั้งที่ 2", -1.0),
        ("อยากให้มีโปรโมชั่นมากกว่านี้", None),
        ("สินค้าดี แต่ส่งช้า", -1 / 3),  # the point comes after "but"
        ("Giao hàng nhanh, rất hài lòng", 1.0),
        ("Giao hang nhanh, rat hai long", 1.0),
        ("Hàng bị lỗi, đổi trả lâu", -1.0),
        ("Không hài lòng", -1.0),
        ("khong hai long", -1.0),
        ("Chăm sóc khách hàng tốt", 1.0),
        ("Tạm được", None),
    ],
)
def test_text_sentiment_in_english_thai_and_vietnamese(text: str, score: float | None) -> None:
    assert text_sentiment(text) == score


def test_sentiment_last_and_trend() -> None:
    def survey(n: int, score: int, comment: str) -> RecordFact:
        return record(
            "survey_response", f"S-{n}", "survey", score=score, comment=comment, responded_at=iso(n)
        )

    improving_then_bad = [
        survey(1, 10, "Rất hài lòng"),
        survey(2, 9, "ประทับใจ"),
        record("ticket", "T-1", "support", status="Closed", opened_at=iso(3), notes="Hộp bị móp"),
        survey(4, 3, "ส่งของช้า"),
    ]
    values = compute(improving_then_bad, now_day=5)
    assert values["sentiment"] == {"last": "negative", "score": -1.0, "trend": "worsening"}
    recovering = [*improving_then_bad, survey(5, 10, "Great service"), survey(6, 9, "fast")]
    values = compute(recovering, now_day=7)
    # the last 5: 1, -1, -1, 1, 1 -> newer half 1.0 vs older half 0.0
    assert values["sentiment"] == {"last": "positive", "score": 1.0, "trend": "improving"}
    review = track(1, "Product Reviewed", 8, rating=3, review_body="ok")
    values = compute(recovering, [review], now_day=9)
    assert values["sentiment"]["last"] == "neutral"


# --- custom traits ------------------------------------------------------------------------

VIEWS = [
    track(
        1,
        "Product Viewed",
        1,
        {"page": {"url": "/"}},
        category="shoes",
        price="1,200.50",
        brand="Nike",
        tags=["sale"],
    ),
    track(2, "Product Viewed", 2, category="Shoes", price=800, brand="Adidas", tags=[]),
    track(3, "Product Viewed", 3, category="bags", price=2500, brand="Nike"),
    track(
        4,
        "Product Viewed",
        4,
        {"page": {"url": "https://shop.example/sale/shoes"}},
        category="shoes",
        price={"amount": "99.50", "currency": "THB"},
    ),
    track(5, "Product Added", 5, category="shoes", price=10),
]


def custom_value(
    trait: dict[str, Any], records: Sequence[RecordFact] = (), events: Sequence[EventFact] = VIEWS
) -> Any:
    settings = parse_settings({"custom": [{"name": "t", **trait}]})
    return compute(records, events, now_day=10, settings=settings)["t"]


@pytest.mark.parametrize(
    ("aggregation", "prop", "expected"),
    [
        ("count", None, 4),
        ("count", "brand", 3),
        ("sum", "price", 4600),
        ("min", "price", 99.5),
        ("max", "price", 2500),
        ("average", "price", 1150.0),
        ("first", "brand", "Nike"),
        ("last", "category", "shoes"),
        ("most_frequent", "brand", "Nike"),
        ("most_frequent", "category", "shoes"),
        ("distinct_count", "category", 3),
    ],
)
def test_custom_event_aggregations(aggregation: str, prop: str | None, expected: Any) -> None:
    trait = {"of": "event", "event": "product viewed", "aggregation": aggregation}
    if prop is not None:
        trait["property"] = prop
    assert custom_value(trait) == expected


def test_custom_aggregations_of_nothing() -> None:
    trait = {"of": "event", "event": "Nothing Happened", "property": "price"}
    assert [
        custom_value({**trait, "aggregation": a}) for a in ("count", "sum", "max", "first")
    ] == [
        0,
        0,
        None,
        None,
    ]


def test_most_frequent_ties_go_to_the_most_recent() -> None:
    trait = {"of": "event", "event": "Product Viewed", "aggregation": "most_frequent"}
    assert custom_value({**trait, "property": "price"}, events=VIEWS[:2]) == 800


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"property": "category", "op": "eq", "value": "SHOES"}, 3),
        ({"property": "category", "op": "ne", "value": "shoes"}, 1),
        ({"property": "brand", "op": "in", "value": ["nike", "Puma"]}, 2),
        ({"property": "brand", "op": "not_in", "value": ["Nike"]}, 2),
        ({"property": "price", "op": "gt", "value": 800}, 2),
        ({"property": "price", "op": "gte", "value": "800"}, 3),
        ({"property": "price", "op": "lt", "value": 800}, 1),
        ({"property": "price", "op": "lte", "value": 1200.5}, 3),
        ({"property": "price", "op": "eq", "value": 99.5}, 1),
        ({"property": "category", "op": "contains", "value": "HOE"}, 3),
        ({"property": "tags", "op": "contains", "value": "sale"}, 1),
        ({"property": "brand", "op": "exists"}, 3),
        ({"property": "brand", "op": "exists", "value": False}, 1),
        ({"property": "properties.brand", "op": "eq", "value": "Nike"}, 2),
        ({"property": "context.page.url", "op": "contains", "value": "/sale"}, 1),
        ({"property": "context.page.url", "op": "exists"}, 2),
    ],
)
def test_custom_condition_operators(condition: dict[str, Any], expected: int) -> None:
    trait = {"of": "event", "event": "Product Viewed", "aggregation": "count", "where": [condition]}
    assert custom_value(trait) == expected


def test_custom_record_traits_with_money_and_nested_fields() -> None:
    records = [
        order("A", 1, thb("1500.00"), store="Siam Paragon"),
        order("B", 2, thb("300.00"), store="Central World"),
        order("C", 3, {"amount": "1000000", "currency": "VND"}, store="Vincom"),
        record("ticket", "T-1", "support", opened_at=iso(4)),
    ]
    big = [{"property": "total", "op": "gte", "value": 1000}]
    trait = {"of": "record", "kind": "order", "where": big}
    assert custom_value({**trait, "aggregation": "count"}, records, []) == 2
    assert (
        custom_value({**trait, "aggregation": "sum", "property": "total.amount"}, records, [])
        == 1_001_500
    )
    assert (
        custom_value({**trait, "aggregation": "last", "property": "fields.store"}, records, [])
        == "Vincom"
    )
    assert custom_value({"of": "record", "aggregation": "count"}, records, []) == 4


def test_windowed_order_items_take_their_orders_time() -> None:
    records = [
        order("A", 1, thb("100.00")),
        order("B", 9, thb("100.00")),
        record("order_item", "A/1", order_id="A", category="Kitchen", quantity=2),
        record("order_item", "B/1", order_id="B", category="Kitchen", quantity=3),
    ]
    trait = {
        "of": "record",
        "kind": "order_item",
        "property": "quantity",
        "aggregation": "sum",
        "window_days": 5,
    }
    assert custom_value(trait, records, []) == 3


# --- settings -----------------------------------------------------------------------------


def test_default_settings() -> None:
    settings = parse_settings({})
    assert settings.base_currency == "THB"
    assert settings.exchange_rates["VND"] == 0.00134
    assert settings.rfm.recency_days == (30, 90, 180, 365)
    assert parse_settings(None) == settings


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"base_currency": "baht"}, "base_currency: 'baht' is no ISO 4217 code"),
        ({"exchange_rates": {"VND": -1}}, "exchange_rates: the rate of VND must be"),
        ({"base_currency": "USD"}, "exchange_rates gives the base currency USD the rate 34.0"),
        ({"value_tiers": {"vip": 1000}}, "value_tiers: one tier must start at 0"),
        ({"rfm": {"recency_days": [90, 30, 180, 365]}}, "rfm.recency_days: [90, 30, 180, 365]"),
        ({"rfm": {"segments": [{"label": "X", "recency": [4, 2]}]}}, "rfm.segments.0.recency"),
        ({"churn": {"overdue_weight": -1}}, "churn.overdue_weight: Input should be greater"),
        (
            {"custom": [{"name": "views", "of": "event", "aggregation": "sum"}]},
            "custom[views]: 'sum' needs a 'property'",
        ),
        (
            {"custom": [{"name": "w", "of": "event", "aggregation": "count", "window_days": 0}]},
            "custom[w].window_days: Input should be greater than 0",
        ),
        (
            {"custom": [{"name": "order_count", "of": "event", "aggregation": "count"}]},
            "custom[order_count].name: 'order_count' is a built-in trait",
        ),
        (
            {"custom": [{"name": "Shoe Views", "of": "event", "aggregation": "count"}]},
            "custom[Shoe Views].name: 'Shoe Views' is no trait name",
        ),
        (
            {"custom": [{"name": "x", "of": "record", "kind": "invoices", "aggregation": "count"}]},
            "custom[x].kind: unknown record kind 'invoices'",
        ),
        (
            {"custom": [{"name": "x", "of": "events", "aggregation": "count"}]},
            "custom[x].of: Input should be 'event' or 'record'",
        ),
        (
            {"custom": [{"name": "x", "of": "event", "aggregation": "median", "property": "p"}]},
            "custom[x].aggregation: Input should be",
        ),
        (
            {
                "custom": [
                    {
                        "name": "x",
                        "of": "event",
                        "aggregation": "count",
                        "where": [{"property": "a", "op": "in", "value": "b"}],
                    }
                ]
            },
            "custom[x].where.0: 'in' needs a list 'value'",
        ),
        (
            {
                "custom": [
                    {
                        "name": "x",
                        "of": "event",
                        "aggregation": "count",
                        "where": [{"property": "a..b", "op": "exists"}],
                    }
                ]
            },
            "custom[x].where.0.property: 'a..b' is no property path",
        ),
        (
            {
                "custom": [
                    {"name": "x", "of": "event", "aggregation": "count"},
                    {"name": "x", "of": "record", "aggregation": "count"},
                ]
            },
            "custom trait names must be unique: x",
        ),
        ("not an object", "expected an object"),
    ],
)
def test_bad_settings_name_the_key(body: Any, named: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_settings(body)
    assert named in str(raised.value)
    assert str(raised.value).startswith("trait settings: ")


# --- the result as a whole ----------------------------------------------------------------


def test_values_are_json_ready_and_independent_of_fact_order() -> None:
    records = [
        order("A", 1, thb("1000.00"), store="Siam Paragon"),
        order("B", 1, {"amount": "500000", "currency": "VND"}, store="Vincom"),
        record("order_item", "A/1", order_id="A", category="Kitchen", quantity=1),
        record("order_item", "B/1", order_id="B", category="Bath", quantity=1),
        record("ticket", "T-1", "support", status="Open", channel="LINE", opened_at=iso(2)),
        record("ticket", "T-2", "support", status="Open", channel="Zalo", opened_at=iso(2)),
        record("survey_response", "S-1", "survey", score=9, comment="ดีมาก", responded_at=iso(2)),
        record("survey_response", "S-2", "survey", score=3, comment="Chậm", responded_at=iso(2)),
    ]
    events = [track(n, "Email Opened", 2) for n in range(1, 4)]
    settings = parse_settings(
        {"custom": [{"name": "last_view", "of": "event", "aggregation": "last", "property": "x"}]}
    )
    facts = ProfileFacts(records, events, "TH")
    expected = compute_traits(facts, settings, day(3))
    shuffler = random.Random(7)
    for _ in range(5):
        shuffled = ProfileFacts(
            shuffler.sample(records, len(records)), shuffler.sample(events, len(events)), "TH"
        )
        assert compute_traits(shuffled, settings, day(3)) == expected
    assert list(expected.values) == [*BUILT_IN_TRAITS, "last_view"]
    assert orjson.loads(orjson.dumps(expected.values)) == expected.values
    assert set(at_read(expected.values, day(3))) == set(AT_READ_TRAITS)
