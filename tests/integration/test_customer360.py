"""The Customer 360 on both stores: the cross-source timeline, computed traits kept current,
and the change feed saying what moved."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from tests import factories
from tests.customer360 import SOMCHAI, load, somchai_everywhere, track
from tests.stores import Loaded, copy_of, loaded_store

from c360.changes.feed import changes_after, last_change_id
from c360.errors import InvalidInput
from c360.eventlog.service import get_checkpoint
from c360.identity.decisions import split
from c360.kernel.clock import to_us
from c360.profiles.briefing import briefing
from c360.profiles.service import find_by_identifier, follow_resolution, get_profile
from c360.profiles.timeline import Position, decode_cursor, encode_cursor, timeline_page
from c360.storage import create_engine_for
from c360.storage.tables import profile_changes, profiles
from c360.workers.processor import PROFILES_CHECKPOINT, refresh_due
from c360.workers.rebuild import rebuild


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def somchai_template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    """A store holding ``somchai_everywhere`` (a dozen imports through the real path), loaded
    once per module and store; the tests that start from it get a copy (``everywhere``)."""
    directory = tmp_path_factory.mktemp("somchai")
    with loaded_store(request.param, directory, somchai_everywhere) as loaded:
        yield loaded


@pytest.fixture
def everywhere(somchai_template: Loaded, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a new store holding Somchai everywhere, as if ``somchai_everywhere`` had
    just loaded it."""
    with copy_of(somchai_template, tmp_path) as url:
        engine = create_engine_for(url)
        try:
            yield engine
        finally:
            engine.dispose()


def somchai(engine: Engine) -> str:
    with engine.connect() as conn:
        return find_by_identifier(conn, "email", SOMCHAI["email"]).id


def web_visits(engine: Engine, count: int = 3) -> None:
    """Somchai signs in on the web shop and views products."""
    identify = factories.identify(
        "u-somchai",
        traits={"email": SOMCHAI["email"], "first_name": SOMCHAI["first_name"]},
    )
    identify["_at_us"] = to_us_text("2026-11-05T12:00:00+07:00")
    views = []
    for day in range(count):
        view = factories.track("u-somchai", event="Product Viewed")
        view["properties"] = {"sku": "SH-02", "category": "shoes"}
        view["_at_us"] = to_us_text(f"2026-11-{10 + day}T20:00:00+07:00")
        views.append(view)
    track(engine, identify, *views)


def to_us_text(text: str) -> int:
    from datetime import datetime

    return to_us(datetime.fromisoformat(text))


def test_the_timeline_holds_every_source_newest_first_with_order_lines(everywhere: Engine) -> None:
    engine = everywhere  # somchai_everywhere, copied
    web_visits(engine)
    pid = somchai(engine)
    with engine.connect() as conn:
        items, more = timeline_page(conn, pid, limit=100)
    assert more is None
    kinds = [i.kind for i in items]
    # 4 tracked messages and every record kind; the order lines are inside their orders
    assert sorted(kinds) == sorted(
        ["event"] * 4
        + ["contact", "order", "order", "invoice", "payment", "shipment", "ticket"]
        + ["survey_response", "registration", "subscription"]
    )
    times = [i.at_us for i in items]
    assert times == sorted(times, reverse=True)
    assert items[0].kind == "event" and items[0].body["event"] == "Product Viewed"
    assert items[-1].kind == "contact"
    assert [i.kind for i in items[-3:]] == ["registration", "subscription", "contact"]
    payment = next(i for i in items if i.kind == "payment")
    assert payment.at_us == to_us_text("2026-10-03T11:00:00+07:00")  # when it was paid
    assert payment.source == "payments"
    orders = {i.body["fields"]["order_id"]: i for i in items if i.kind == "order"}
    assert [line["product_name"] for line in orders["o-1"].body["lines"]] == ["Running shoes"]
    assert orders["o-2"].at_us == to_us_text("2026-11-01T10:00:00+07:00")
    shipment = next(i for i in items if i.kind == "shipment")
    assert shipment.at_us == to_us_text("2026-11-03T18:30:00+07:00")  # when it was delivered
    assert shipment.source == "shipping"


def test_timeline_filters_by_kind_and_time_and_pages_without_gaps(everywhere: Engine) -> None:
    engine = everywhere  # somchai_everywhere, copied
    web_visits(engine, count=5)
    pid = somchai(engine)
    with engine.connect() as conn:
        everything, _ = timeline_page(conn, pid, limit=1000)
        tickets, _ = timeline_page(conn, pid, limit=10, kinds=frozenset({"ticket"}))
        november, _ = timeline_page(
            conn,
            pid,
            limit=100,
            since_us=to_us_text("2026-11-01T00:00:00+07:00"),
            until_us=to_us_text("2026-11-11T00:00:00+07:00"),
        )
        pages: list[str] = []
        after = None
        while True:
            page, position = timeline_page(conn, pid, limit=2, after=after)
            pages.extend(i.key for i in page)
            if position is None:
                break
            after = decode_cursor(encode_cursor(position))
    assert [t.body["fields"]["ticket_id"] for t in tickets] == ["t-1"]
    assert {i.kind for i in november} == {"order", "shipment", "ticket", "survey_response", "event"}
    assert all(
        to_us_text("2026-11-01T00:00:00+07:00") <= i.at_us < to_us_text("2026-11-11T00:00:00+07:00")
        for i in november
    )
    assert pages == [i.key for i in everything]  # every item once, in order


def test_a_bad_cursor_or_kind_is_a_clear_error() -> None:
    from c360.profiles.timeline import parse_kinds

    with pytest.raises(InvalidInput, match="cursor"):
        decode_cursor("not-a-cursor")
    with pytest.raises(InvalidInput, match="unknown kind 'orders'"):
        parse_kinds("order,orders")
    assert decode_cursor(encode_cursor(Position(5, "e1"))) == Position(5, "e1")


def test_computed_traits_follow_new_records_and_the_feed_says_what_changed(
    everywhere: Engine, tmp_path: Path
) -> None:
    engine = everywhere  # somchai_everywhere, copied
    pid = somchai(engine)
    with engine.connect() as conn:
        before = get_profile(conn, pid).computed
        cursor = last_change_id(conn)
    assert before["order_count"] == 2
    assert before["open_tickets"] == 1
    assert before["last_nps"]["score"] == 3
    # a purchase at a branch Somchai never visited, and a new delivery address
    load(
        engine,
        tmp_path,
        "pos",
        "order",
        [
            {
                "id": "pos-77",
                "order_id": "pos-77",
                **SOMCHAI,
                "ordered_at": "2026-11-20T19:00:00+07:00",
                "status": "completed",
                "channel": "store",
                "store": "Chiang Mai Nimman",
                "total": "2,000.00 THB",
            }
        ],
    )
    load(
        engine,
        tmp_path,
        "crm",
        "contact",
        [
            {
                "id": "c-1",
                **SOMCHAI,
                "address": "12 ถนนนิมมานเหมินท์ เชียงใหม่",
                "postal_code": "50200",
                "country": "TH",
            }
        ],
    )
    with engine.connect() as conn:
        after = get_profile(conn, pid)
        feed = changes_after(conn, cursor, 1000, profile_id=pid)
    assert after.computed["order_count"] == 3
    assert after.golden is not None
    assert after.golden["values"]["postal_code"]["value"] == "50200"
    changed = {c.detail.get("trait"): c.detail for c in feed if c.kind == "trait_changed"}
    assert changed["computed.order_count"]["old"] == 2
    assert changed["computed.order_count"]["new"] == 3
    assert changed["golden.postal_code"] == {
        "trait": "golden.postal_code",
        "old": "10110",
        "new": "50200",
    }
    ids = [c.id for c in feed]
    assert ids == sorted(ids)
    # one record per change, each one time
    assert len({(c.detail.get("trait"), c.seq) for c in feed}) == len(feed)


def test_merges_splits_and_new_profiles_are_in_the_feed_in_order(
    engine: Engine, tmp_path: Path
) -> None:
    load(engine, tmp_path, "crm", "contact", [{"id": "c-1", **SOMCHAI}])
    load(
        engine,
        tmp_path,
        "shop",
        "contact",
        [{"id": "x-9", "first_name": "สมชาย", "last_name": "ใจดี", "phone": "089-999-0000"}],
    )
    with engine.connect() as conn:
        created = changes_after(conn, 0, 100, ["profile_created"])
    assert len(created) == 2
    # the shop record gains Somchai's email: the two profiles merge
    load(
        engine,
        tmp_path,
        "shop",
        "contact",
        [{"id": "x-9", **SOMCHAI, "phone": "089-999-0000"}],
    )
    survivor = somchai(engine)
    with engine.connect() as conn:
        merged = changes_after(conn, 0, 100, ["merged"])
        added = changes_after(conn, 0, 100, ["identifier_added"], profile_id=survivor)
    assert len(merged) == 1 and merged[0].profile_id == survivor
    assert {"type": "phone", "value": "+66899990000"} in [c.detail for c in added]
    with engine.begin() as conn:
        seq = get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)
        result, parts = split(conn, survivor, [("shop", "x-9")], actor="test", reason="t", seq=seq)
        follow_resolution(conn, result, seq)
    with engine.connect() as conn:
        splits = changes_after(conn, 0, 100, ["split"])
        everything = changes_after(conn, 0, 1000)
    assert len(splits) == 1 and splits[0].detail["split_from"] == survivor
    assert splits[0].profile_id in parts
    assert [c.id for c in everything] == sorted(c.id for c in everything)


def test_rebuild_adds_nothing_to_the_feed(everywhere: Engine) -> None:
    engine = everywhere  # somchai_everywhere, copied
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(profile_changes)).scalar_one()
    rebuild(engine)
    with engine.connect() as conn:
        after = conn.execute(select(func.count()).select_from(profile_changes)).scalar_one()
        still_found = find_by_identifier(conn, "email", SOMCHAI["email"])
    assert before > 0
    assert after == before
    assert still_found.computed["order_count"] == 2
    # what arrives after the rebuild is in the feed again
    web_visits(engine, count=1)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(profile_changes)).scalar_one() > after


def test_windowed_traits_change_as_time_passes_without_new_events(everywhere: Engine) -> None:
    engine = everywhere  # somchai_everywhere, copied
    pid = somchai(engine)
    with engine.connect() as conn:
        due = conn.execute(
            select(profiles.c.computed_due_us).where(profiles.c.id == pid)
        ).scalar_one()
        before = get_profile(conn, pid).computed
        cursor = last_change_id(conn)
    assert due is not None
    assert refresh_due(engine, now_us=due - 1) == 0  # nothing is due yet
    assert refresh_due(engine, now_us=due) == 1
    with engine.connect() as conn:
        after = get_profile(conn, pid).computed
        feed = changes_after(conn, cursor, 100, profile_id=pid)
        later = conn.execute(
            select(profiles.c.computed_due_us).where(profiles.c.id == pid)
        ).scalar_one()
    assert after != before
    assert feed and all(c.kind == "trait_changed" for c in feed)
    assert {c.detail["trait"] for c in feed} == {
        f"computed.{k}" for k in after if after.get(k) != before.get(k)
    }
    assert later is None or later > due


def test_the_briefing_tells_the_story_in_one_place(everywhere: Engine) -> None:
    engine = everywhere  # somchai_everywhere, copied
    pid = somchai(engine)
    with engine.connect() as conn:
        found = briefing(conn, pid).as_json()
    assert found["name"] == "สมชาย ใจดี"
    assert found["contact"]["email"] == SOMCHAI["email"]
    assert found["contact"]["phone"] == "+66812345678"
    assert [o["order_id"] for o in found["recent_orders"]] == ["o-2", "o-1"]
    assert found["recent_orders"][1]["lines"] == [{"product": "Running shoes", "quantity": 1}]
    assert found["deliveries"][0]["status"] == "Delivered"
    assert [t["ticket_id"] for t in found["open_tickets"]] == ["t-1"]
    assert found["open_tickets"][0]["last_note"] == "ลูกค้าไม่พอใจ พัสดุล่าช้า"
    assert found["feedback"]["last_nps"]["score"] == 3
    assert found["next_action"]["action"].startswith("Resolve ticket t-1")
    assert "2 orders" in found["summary"] and "1 open ticket" in found["summary"]


def test_splitting_an_order_out_takes_its_lines_invoice_and_payment_along(
    everywhere: Engine,
) -> None:
    engine = everywhere  # somchai_everywhere, copied
    pid = somchai(engine)
    with engine.begin() as conn:
        seq = get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)
        result, parts = split(conn, pid, [("shop", "o-1")], actor="test", reason="t", seq=seq)
        follow_resolution(conn, result, seq)
    # the person, and the order with what reaches the person only through it
    assert len(parts) == 2 and pid in parts
    order_profile = next(p for p in parts if p != pid)
    with engine.connect() as conn:
        items, _ = timeline_page(conn, order_profile, limit=50)
        person_items, _ = timeline_page(conn, pid, limit=50)
    assert {(i.source, i.body["record_id"]) for i in items} == {
        ("shop", "o-1"),
        ("billing", "inv-1"),
        ("payments", "pay-1"),
    }
    order = next(i for i in items if i.kind == "order")
    assert [line["product_name"] for line in order.body["lines"]] == ["Running shoes"]
    assert ("shop", "o-2") in {(i.source, i.body.get("record_id")) for i in person_items}
