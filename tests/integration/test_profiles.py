"""The first profile view, derived from the log on both stores."""

from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, func, select
from tests import factories

from c360.errors import NotFound
from c360.eventlog.service import append, ensure_source, get_checkpoint
from c360.profiles.service import find_by_identifier, get_profile, profile_events_page
from c360.storage.tables import profile_events, profile_merges
from c360.workers.processor import PROFILES_CHECKPOINT, process_available

_clock = iter(range(1_000_000, 10_000_000, 1000))


def _log(engine: Engine, *messages: dict[str, Any], source: str = "web") -> None:
    with engine.begin() as conn:
        source_id = ensure_source(conn, source).id
        append(conn, [factories.log_row(source_id, m, next(_clock)) for m in messages], [])


def _process(engine: Engine) -> None:
    while process_available(engine, 100):
        pass


def _message(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "messageId": factories.message_id(), **fields}


def test_identify_creates_a_profile_found_by_user_id_and_email(engine: Engine) -> None:
    _log(
        engine,
        factories.identify("u-1", traits={"name": "สมชาย ใจดี", "email": " Somchai@Example.co.th "}),
    )
    _process(engine)
    with engine.connect() as conn:
        by_user = find_by_identifier(conn, "user_id", "u-1")
        by_email = find_by_identifier(conn, "email", "SOMCHAI@example.co.th")
    assert by_user.id == by_email.id
    assert by_user.traits["name"] == "สมชาย ใจดี"
    assert {(i.type, i.value, i.source) for i in by_user.identifiers} == {
        ("user_id", "u-1", "web"),
        ("email", "somchai@example.co.th", "web"),
    }


def test_later_identify_traits_update_the_profile(engine: Engine) -> None:
    _log(engine, factories.identify("u-1", traits={"city": "Hà Nội", "plan": "free"}))
    _log(engine, factories.identify("u-1", traits={"plan": "pro"}))
    _process(engine)
    with engine.connect() as conn:
        profile = find_by_identifier(conn, "user_id", "u-1")
    assert profile.traits == {"city": "Hà Nội", "plan": "pro"}
    assert profile.event_count == 2


def test_anonymous_events_join_the_user_once_identified_with_the_same_anonymous_id(
    engine: Engine,
) -> None:
    _log(engine, _message("page", anonymousId="anon-1", name="Home"))
    _log(engine, factories.track(None, anonymousId="anon-1", userId=None))
    _log(engine, factories.identify("u-1", anonymousId="anon-1"))
    _process(engine)
    with engine.connect() as conn:
        profile = find_by_identifier(conn, "anonymous_id", "anon-1")
        assert find_by_identifier(conn, "user_id", "u-1").id == profile.id
    assert profile.event_count == 3


def test_alias_merges_the_previous_profile_into_the_user_and_records_why(engine: Engine) -> None:
    _log(engine, _message("track", anonymousId="anon-9", event="Product Viewed"))
    _log(engine, factories.identify("u-9"))
    _process(engine)
    with engine.connect() as conn:
        anonymous_profile = find_by_identifier(conn, "anonymous_id", "anon-9").id
    _log(engine, _message("alias", userId="u-9", previousId="anon-9"))
    _process(engine)
    with engine.connect() as conn:
        survivor = find_by_identifier(conn, "user_id", "u-9")
        assert find_by_identifier(conn, "anonymous_id", "anon-9").id == survivor.id
        # the merged id still answers, with the survivor
        assert get_profile(conn, anonymous_profile).id == survivor.id
        merges = conn.execute(select(profile_merges.c.reason)).scalars().all()
    assert survivor.event_count == 3
    assert merges == ["shared anonymous_id anon-9"]


def test_one_device_shared_by_two_users_does_not_fuse_them(engine: Engine) -> None:
    _log(engine, factories.identify("u-a", anonymousId="shared-tablet"))
    _log(engine, factories.identify("u-b", anonymousId="shared-tablet"))
    _process(engine)
    with engine.connect() as conn:
        a = find_by_identifier(conn, "user_id", "u-a")
        b = find_by_identifier(conn, "user_id", "u-b")
    assert a.id != b.id
    assert a.event_count == 1
    assert b.event_count == 1


def test_processing_twice_applies_each_entry_once(engine: Engine) -> None:
    _log(engine, *[factories.track("u-1") for _ in range(5)])
    _process(engine)
    _process(engine)
    with engine.connect() as conn:
        assert find_by_identifier(conn, "user_id", "u-1").event_count == 5
        assert conn.execute(select(func.count()).select_from(profile_events)).scalar_one() == 5
        assert get_checkpoint(conn, PROFILES_CHECKPOINT) == 5


def test_events_page_newest_first_with_a_cursor(engine: Engine) -> None:
    _log(engine, *[factories.track("u-1", event=f"E{i}") for i in range(5)])
    _process(engine)
    with engine.connect() as conn:
        profile = find_by_identifier(conn, "user_id", "u-1")
        first = profile_events_page(conn, profile.id, 3, None)
        second = profile_events_page(conn, profile.id, 3, first[-1][0])
    names = [orjson.loads(row[5])["event"] for row in first + second]
    assert names == ["E4", "E3", "E2", "E1", "E0"]


def test_unknown_identifiers_are_not_found(engine: Engine) -> None:
    with engine.connect() as conn, pytest.raises(NotFound):
        find_by_identifier(conn, "user_id", "nobody")
