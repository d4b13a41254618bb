"""Restriction of processing on both stores: kept but not used, across merges, until lifted."""

from pathlib import Path

from sqlalchemy import Engine, select
from tests.customer360 import load
from tests.integration.test_consent import outbox_message, statuses
from tests.integration.test_journeys import CART, CONFIG, HOUR, MINUTE, T0, act, journey, person

from c360.activation.engine import run_cycle
from c360.activation.outbox import queue
from c360.privacy.restrict import lift, restrict, restricted
from c360.profiles.service import find_by_identifier
from c360.storage.tables import journey_entries, privacy_restrictions, profiles


def test_a_restriction_holds_until_lifted_and_cancels_what_was_queued(
    engine: Engine, tmp_path: Path
) -> None:
    kanya = person(engine, tmp_path, 301, line=False)
    other = person(engine, tmp_path, 302, line=False)
    with engine.begin() as conn:
        for n in range(5):
            queue(conn, outbox_message(kanya.profile_id, "person301@example.co.th", n), T0)
            queue(conn, outbox_message(other.profile_id, "person302@example.co.th", n), T0)
        restrict(conn, kanya.profile_id, request_id=7, reason="accuracy contested")
        restrict(conn, kanya.profile_id, request_id=8, reason="asked again")  # already in force
    assert set(statuses(engine, kanya.profile_id)) == {"cancelled"}
    assert set(statuses(engine, other.profile_id)) == {"queued"}
    with engine.begin() as conn:
        assert restricted(conn, [kanya.profile_id, other.profile_id, "unknown"]) == {
            kanya.profile_id
        }
        [row] = conn.execute(select(privacy_restrictions)).all()
        assert (row.request_id, row.reason, row.lifted_at_us) == (7, "accuracy contested", None)
        assert lift(conn, kanya.profile_id, request_id=9) is True
        assert lift(conn, kanya.profile_id, request_id=9) is False  # nothing left to lift
        assert restricted(conn, [kanya.profile_id]) == set()


def test_a_restriction_on_a_profile_merged_away_holds_for_the_survivor(
    engine: Engine, tmp_path: Path
) -> None:
    load(
        engine,
        tmp_path,
        "crm",
        "contact",
        [{"id": "c-1", "first_name": "พลอย", "email": "ploy@example.co.th"}],
    )
    load(
        engine,
        tmp_path,
        "pos",
        "contact",
        [{"id": "p-1", "first_name": "พลอย", "phone": "081 234 5678"}],
    )
    with engine.connect() as conn:
        by_email = find_by_identifier(conn, "email", "ploy@example.co.th").id
        by_phone = find_by_identifier(conn, "phone", "+66812345678").id
    assert by_email != by_phone
    with engine.begin() as conn:
        restrict(conn, by_phone, request_id=None, reason=None)
    # a record naming both joins them: one of the two profiles is merged into the other
    load(
        engine,
        tmp_path,
        "shop",
        "contact",
        [{"id": "s-1", "first_name": "พลอย", "email": "ploy@example.co.th", "phone": "0812345678"}],
    )
    with engine.connect() as conn:
        merged = dict(
            conn.execute(
                select(profiles.c.id, profiles.c.merged_into).where(
                    profiles.c.id.in_([by_email, by_phone])
                )
            ).all()
        )
        survivor = by_email if merged[by_email] is None else by_phone
        assert merged[by_email if survivor == by_phone else by_phone] == survivor
        assert restricted(conn, [survivor, by_email, by_phone]) == {survivor, by_email, by_phone}
    with engine.begin() as conn:  # lifting it through the survivor's id lifts the merged one's
        assert lift(conn, survivor, request_id=None) is True
        assert restricted(conn, [survivor, by_email, by_phone]) == set()


def test_a_restricted_person_leaves_their_journeys_and_enters_none_until_lifted(
    engine: Engine, tmp_path: Path
) -> None:
    journey(engine, CART)
    dao = person(engine, tmp_path, 303)
    act(engine, dao, "Product Added", T0)
    assert run_cycle(engine, CONFIG, T0).entered == 1
    with engine.begin() as conn:
        restrict(conn, dao.profile_id, request_id=None, reason="objection pending")
    run_cycle(engine, CONFIG, T0 + 61 * MINUTE)  # the reminder would be due now
    with engine.connect() as conn:
        [entry] = conn.execute(select(journey_entries)).all()
    assert (entry.status, entry.end_reason) == ("ended", "processing restricted")
    assert statuses(engine, dao.profile_id) == []  # no message was made

    act(engine, dao, "Product Added", T0 + 2 * HOUR)  # re-entry is allowed after a day...
    act(engine, dao, "Product Added", T0 + 26 * HOUR)
    assert run_cycle(engine, CONFIG, T0 + 26 * HOUR).entered == 0  # ...but not while restricted
    with engine.begin() as conn:
        lift(conn, dao.profile_id, request_id=None)
    act(engine, dao, "Product Added", T0 + 27 * HOUR)
    assert run_cycle(engine, CONFIG, T0 + 27 * HOUR).entered == 1
