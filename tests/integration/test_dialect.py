"""Statements whose SQL differs between the stores, on both: what they store is what a plain
SQLAlchemy statement would have stored."""

import sqlite3

import psycopg
import pytest
from sqlalchemy import Engine, insert, select

from c360.storage.dialect import insert_many, update_many
from c360.storage.tables import journey_steps, messages


def outbox_row(n: int) -> dict[str, object]:
    return {
        "key": f"e{n}-remind",
        "journey_id": 1,
        "entry_id": n,
        "step": "remind",
        "profile_id": f"p-{n}",
        "channel": "line",
        "address": f"U{n:032x}",
        "purpose": "marketing",
        "consent": "marketing" if n % 2 else None,
        "subject": None,
        "body": f"สวัสดีคุณสมชาย ({n}) 'quoted' \\ tab\there\nChào chị Lan",
        "html": None,
        "status": "queued",
        "attempts": 0,
        "next_attempt_us": 1_000_000 + n,
        "provider_id": None,
        "reason": None,
        "created_at_us": 1_000_000,
        "sent_at_us": None,
        "updated_at_us": 1_000_000,
        "opened_at_us": None,
        "clicked_at_us": None,
    }


@pytest.mark.parametrize("count", [1, 3, 700])
def test_insert_many_stores_what_an_insert_would_in_order(engine: Engine, count: int) -> None:
    rows = [outbox_row(n) for n in range(count)]
    steps = [
        {"entry_id": n, "step": "remind", "at_us": 5, "outcome": {"message": f"e{n}", "n": [n]}}
        for n in range(count)
    ]
    with engine.begin() as conn:
        insert_many(conn, messages, rows)
        insert_many(conn, journey_steps, steps)
        conn.execute(insert(journey_steps), [{**steps[0], "entry_id": -1}])
    with engine.connect() as conn:
        stored = conn.execute(select(messages).order_by(messages.c.id)).mappings().all()
        outcomes = conn.execute(
            select(journey_steps.c.entry_id, journey_steps.c.outcome).order_by(
                journey_steps.c.entry_id
            )
        ).all()
    assert [{k: v for k, v in r.items() if k != "id"} for r in stored] == rows
    assert outcomes[0] == (-1, {"message": "e0", "n": [0]})  # the same JSON either way
    assert [o for _, o in outcomes[1:]] == [s["outcome"] for s in steps]


def test_insert_many_fails_on_a_duplicate_key_and_stores_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        insert_many(conn, messages, [outbox_row(1)])
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)), engine.begin() as conn:
        insert_many(conn, messages, [outbox_row(2), outbox_row(1)])
    with engine.connect() as conn:
        assert conn.execute(select(messages.c.key)).scalars().all() == ["e1-remind"]


def test_update_many_sets_each_rows_own_values_and_leaves_the_others(engine: Engine) -> None:
    with engine.begin() as conn:
        insert_many(conn, messages, [outbox_row(n) for n in range(4)])
        ids = conn.execute(select(messages.c.id).order_by(messages.c.id)).scalars().all()
        update_many(
            conn,
            messages,
            "id",
            [
                {"id": i, "status": "sent", "provider_id": p, "sent_at_us": 2**62 + n}
                for n, (i, p) in enumerate(zip(ids[:3], ["r-ก", None, "r-'3'"], strict=True))
            ],
        )
        update_many(conn, messages, "id", [{"id": ids[3], "reason": None, "attempts": 2}])
    with engine.connect() as conn:
        stored = conn.execute(
            select(
                messages.c.status,
                messages.c.provider_id,
                messages.c.sent_at_us,
                messages.c.attempts,
                messages.c.body,
            ).order_by(messages.c.id)
        ).all()
    assert [tuple(r[:4]) for r in stored] == [
        ("sent", "r-ก", 2**62, 0),
        ("sent", None, 2**62 + 1, 0),
        ("sent", "r-'3'", 2**62 + 2, 0),
        ("queued", None, None, 2),
    ]
    assert [r.body for r in stored] == [outbox_row(n)["body"] for n in range(4)]


def test_update_many_refuses_columns_it_cannot_carry_exactly(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(TypeError, match="outcome"):
        update_many(conn, journey_steps, "entry_id", [{"entry_id": 1, "outcome": {}}])
