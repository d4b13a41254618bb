"""Segments on both stores: batch membership when saved, then kept current one profile at a
time as events arrive, traits change, identities merge and time passes."""

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select
from tests import factories
from tests.customer360 import SOMCHAI, somchai_everywhere, track

from c360.changes.feed import changes_after, last_change_id
from c360.errors import Conflict, InvalidInput, NotFound
from c360.identity.service import source_names
from c360.kernel.clock import system_clock
from c360.profiles.refresh import _load_events, _Loaded, refresh_profiles
from c360.profiles.service import find_by_identifier
from c360.segments.evaluate import Facts, Moment, evaluate
from c360.segments.language import parse
from c360.segments.service import (
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
    preview,
    update_segment,
)
from c360.storage.tables import profiles, segment_members
from c360.workers.processor import refresh_due

HOUR = 3_600_000_000
DAY = 24 * HOUR


def somchai(engine: Engine) -> str:
    with engine.connect() as conn:
        return find_by_identifier(conn, "email", SOMCHAI["email"]).id


def save(engine: Engine, name: str, text: str, **options: object) -> None:
    with engine.begin() as conn:
        create_segment(conn, name, parse(text), **options)  # type: ignore[arg-type]


def members(engine: Engine, name: str) -> set[str]:
    with engine.connect() as conn:
        segment = get_segment(conn, name)
        rows = conn.execute(
            select(segment_members.c.profile_id).where(segment_members.c.segment_id == segment.id)
        )
        return set(rows.scalars())


def feed(engine: Engine, after: int, *kinds: str) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        changes = changes_after(conn, after, 1000, list(kinds) or None)
    return [(c.kind, c.profile_id, c.detail["segment"]) for c in changes]


def last_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return last_change_id(conn)


def shopper(engine: Engine, user: str, event: str, hours_ago: float, **properties: object) -> None:
    message = factories.track(user, event=event, properties=properties)
    message["_at_us"] = system_clock() - int(hours_ago * HOUR)
    track(engine, message)


def profile_of(engine: Engine, user: str) -> str:
    with engine.connect() as conn:
        return find_by_identifier(conn, "user_id", user).id


def test_a_saved_segment_holds_who_meets_it_and_says_so_in_the_feed(
    engine: Engine, tmp_path: Path
) -> None:
    somchai_everywhere(engine, tmp_path)
    shopper(engine, "u-other", "Product Viewed", 1)
    pid = somchai(engine)
    before = last_id(engine)
    save(engine, "thai buyers", 'country = "TH" and order_count >= 1 and email exists')
    assert members(engine, "thai buyers") == {pid}
    assert feed(engine, before) == [("segment_entered", pid, "thai buyers")]
    with engine.connect() as conn:
        assert [s.name for s in list_segments(conn)] == ["thai buyers"]
        assert get_segment(conn, "thai buyers").members == 1
        shown = preview(conn, parse('country = "TH"'))
        assert shown.count == 1 and shown.sample == [pid]
        assert preview(conn, parse('country = "VN"')).count == 0


def test_an_event_moves_a_person_into_a_segment_and_time_alone_moves_them_out(
    engine: Engine,
) -> None:
    shopper(engine, "u-cart", "Product Viewed", 5, category="shoes")
    pid = profile_of(engine, "u-cart")
    save(
        engine,
        "abandoned cart",
        'did "Product Added" where category = "shoes" in last 1 day '
        'and not did "Order Completed" in last 1 day',
    )
    assert members(engine, "abandoned cart") == set()
    before = last_id(engine)
    shopper(engine, "u-cart", "Product Added", 2, category="shoes")
    assert members(engine, "abandoned cart") == {pid}
    assert feed(engine, before, "segment_entered") == [("segment_entered", pid, "abandoned cart")]
    with engine.connect() as conn:
        due = conn.execute(select(profiles.c.segments_due_us).where(profiles.c.id == pid)).scalar()
    assert due is not None and system_clock() + 21 * HOUR < due < system_clock() + 23 * HOUR

    # nothing happens until the event leaves the 1-day window; then the worker's pass over
    # due profiles takes the person out, with no new event
    before = last_id(engine)
    assert refresh_due(engine, now_us=due - 1) == 0
    assert members(engine, "abandoned cart") == {pid}
    assert refresh_due(engine, now_us=due) == 1
    assert members(engine, "abandoned cart") == set()
    assert feed(engine, before) == [("segment_exited", pid, "abandoned cart")]


def test_completing_the_order_leaves_the_cart_segment_at_once(engine: Engine) -> None:
    save(
        engine,
        "cart",
        'did "Product Added" in last 1 day and not did "Order Completed" in last 1 day',
    )
    shopper(engine, "u-buyer", "Product Added", 1)
    pid = profile_of(engine, "u-buyer")
    assert members(engine, "cart") == {pid}
    before = last_id(engine)
    shopper(engine, "u-buyer", "Order Completed", 0.5, revenue=1290)
    assert members(engine, "cart") == set()
    assert feed(engine, before, "segment_exited", "segment_entered") == [
        ("segment_exited", pid, "cart")
    ]


def test_segments_using_segments_follow_in_order(engine: Engine) -> None:
    shopper(engine, "u-1", "Order Completed", 1, revenue=30000)
    shopper(engine, "u-2", "Order Completed", 1, revenue=500)
    one, two = profile_of(engine, "u-1"), profile_of(engine, "u-2")
    save(engine, "big spenders", 'did "Order Completed" with sum of revenue >= 20000')
    save(
        engine,
        "big and recent",
        'in segment "big spenders" and did "Order Completed" in last 7 days',
    )
    assert members(engine, "big and recent") == {one}
    with engine.begin() as conn:
        update_segment(
            conn,
            "big spenders",
            condition=parse('did "Order Completed" with sum of revenue >= 100'),
        )
    assert members(engine, "big spenders") == {one, two}
    assert members(engine, "big and recent") == {one, two}
    shopper(engine, "u-3", "Order Completed", 1, revenue=100)
    assert profile_of(engine, "u-3") in members(engine, "big and recent")
    with engine.begin() as conn, pytest.raises(Conflict, match="used by big and recent"):
        delete_segment(conn, "big spenders")
    with engine.begin() as conn, pytest.raises(InvalidInput, match="depends on itself"):
        update_segment(conn, "big spenders", condition=parse('in segment "big and recent"'))
    with engine.begin() as conn, pytest.raises(InvalidInput, match="does not exist"):
        create_segment(conn, "orphan", parse('in segment "nope"'))
    with engine.begin() as conn, pytest.raises(Conflict, match="exists"):
        create_segment(conn, "big spenders", parse("x exists"))
    before = last_id(engine)
    with engine.begin() as conn:
        assert delete_segment(conn, "big and recent") == 3
    assert sorted(feed(engine, before)) == sorted(
        ("segment_exited", p, "big and recent") for p in (one, two, profile_of(engine, "u-3"))
    )
    with engine.connect() as conn, pytest.raises(NotFound):
        get_segment(conn, "big and recent")


def test_a_merge_takes_the_merged_profile_out(engine: Engine) -> None:
    save(engine, "viewers", 'did "Product Viewed"')
    anonymous = factories.track(None, event="Product Viewed")
    del anonymous["userId"]
    anonymous["anonymousId"] = "anon-7"
    track(engine, anonymous)
    with engine.connect() as conn:
        first = find_by_identifier(conn, "anonymous_id", "anon-7").id
    shopper(engine, "u-7", "Product Viewed", 1)
    second = profile_of(engine, "u-7")
    assert members(engine, "viewers") == {first, second}
    before = last_id(engine)
    link = factories.identify("u-7")
    link["anonymousId"] = "anon-7"
    track(engine, link)
    survivor = profile_of(engine, "u-7")
    gone = ({first, second} - {survivor}).pop()
    assert members(engine, "viewers") == {survivor}
    assert ("segment_exited", gone, "viewers") in feed(engine, before, "segment_exited")


def test_batch_and_incremental_answers_agree_on_real_profiles(
    engine: Engine, tmp_path: Path
) -> None:
    somchai_everywhere(engine, tmp_path)
    for user, event, hours in (("u-a", "Product Added", 3), ("u-b", "Order Completed", 30)):
        shopper(engine, user, event, hours, category="shoes", revenue=700)
    conditions = [
        'country = "TH"',
        'first_name = "สมชาย" and phone exists',
        "order_count >= 2 and lifetime_value > 1000",
        'did "Product Added" where category = "shoes" in last 1 day',
        'did "Order Completed" with sum of revenue >= 700',
        "last_purchase_at within last 5 years",
        'consented to "marketing" via "email"',
        'identifiers.email contains "somchai@example.co.th"',
        'not did "Order Completed" in last 1 day',
    ]
    now = system_clock()
    with engine.begin() as conn:
        live = select(profiles.c.id).where(profiles.c.merged_into.is_(None))
        refresh_profiles(conn, list(conn.execute(live).scalars()), 0, now_us=now)
    for text in conditions:
        condition = parse(text)
        with engine.connect() as conn:
            batch = set(preview(conn, condition, sample=1000, now_us=now).sample)
            one_by_one = {
                pid
                for pid, (view, events) in profile_facts(conn).items()
                if evaluate(condition, Facts(view, events), Moment(now))
            }
        assert batch == one_by_one, text
        assert text.startswith("not") or batch, f"{text} should match someone in this data"


def profile_facts(conn: Connection) -> dict[str, tuple[dict[str, Any], list[Any]]]:
    """Each live profile's view and events, read as the refresh reads them."""
    rows = conn.execute(
        select(profiles.c.id, profiles.c.attributes).where(profiles.c.merged_into.is_(None))
    ).all()
    holders = {pid: _Loaded([], [], [], [], set()) for pid, _ in rows}
    _load_events(conn, list(holders), source_names(conn), holders)
    return {pid: (view, holders[pid].events) for pid, view in rows}
