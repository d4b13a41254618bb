"""D4: ``c360 rebuild`` recomputes exactly what the live worker maintained, every time.

A live server receives a few hundred mixed messages (anonymous browsing, identifies that share
devices and e-mail addresses, aliases) that create and merge profiles. The derived tables are
then dumped in a stable order and compared with dumps taken after ``c360 rebuild`` runs (as a
subprocess on the same store, the server stopped), including one that was SIGKILLed half-way.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from tests.conftest import LiveServer, start_server

from c360.eventlog.service import get_checkpoint
from c360.storage import create_engine_for
from c360.storage.engine import reader
from c360.storage.tables import (
    DERIVED_TABLES,
    event_log,
    profile_merges,
    profiles,
)
from c360.workers.processor import PROFILES_CHECKPOINT

NAMES = ["สมชาย ใจดี", "Nguyễn Văn An", "วิไลวรรณ ศรีสุข", "Trần Thị Bích", "Phạm Minh Đức"]
MESSAGES = 400
BATCH = 25

Dump = dict[str, list[tuple[Any, ...]]]


def mixed_history(rng: random.Random) -> list[dict[str, Any]]:
    """Messages that create, link and merge profiles in many ways."""
    tag = uuid.uuid4().hex[:6]
    users = [f"u-{tag}-{n}" for n in range(30)]
    devices = [f"d-{tag}-{n}" for n in range(50)]
    emails = [f"person{n}.{tag}@example.{rng.choice(['co.th', 'vn'])}" for n in range(25)]
    messages: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> None:
        messages.append(
            {
                "type": kind,
                "messageId": f"m-{tag}-{len(messages)}",
                **fields,
                "timestamp": f"2026-11-23T03:{len(messages) // 60 % 60:02d}:00Z",
            }
        )

    while len(messages) < MESSAGES:
        roll = rng.random()
        user, device, email = rng.choice(users), rng.choice(devices), rng.choice(emails)
        traits = {"name": rng.choice(NAMES), "plan": rng.choice(["ฟรี", "vàng", "gold"])}
        if roll < 0.25:
            add(
                rng.choice(["track", "page", "screen"]),
                anonymousId=device,
                event="Đã xem sản phẩm",
                name="หน้าแรก",
                properties={"n": len(messages)},
            )
        elif roll < 0.40:
            add("identify", userId=user, anonymousId=device, traits=traits)
        elif roll < 0.52:
            add("identify", anonymousId=device, traits={**traits, "email": email.upper()})
        elif roll < 0.62:
            add("identify", userId=user, traits={**traits, "email": email})
        elif roll < 0.74:
            previous = rng.choice([device, rng.choice(users), f"old-{user}"])
            add("alias", userId=user, previousId=previous)
        elif roll < 0.80:
            add("group", userId=user, groupId=f"g-{rng.randrange(5)}", traits={"name": "ACME"})
        else:
            add(
                "track",
                userId=user,
                anonymousId=rng.choice([device, None]),
                event="Order Completed",
                properties={"total": rng.randrange(100, 9000)},
            )
    for message in messages:
        if message.get("anonymousId") is None:
            message.pop("anonymousId", None)
    return messages


def send_history(server: LiveServer, messages: list[dict[str, Any]]) -> None:
    with httpx.Client(base_url=server.url, auth=(server.write_key, ""), timeout=30) as client:
        for start in range(0, len(messages), BATCH):
            response = client.post("/v1/batch", json={"batch": messages[start : start + BATCH]})
            assert response.status_code == 200, response.text


def dump(engine: Engine) -> Dump:
    """Every derived row, in primary-key order, with JSON made canonical.

    Two things depend on how the log was cut into batches, by design, and are left out: the
    merge and split history (a batch that brings two records together at once records no
    merge; batches of 7 record one) and the rows of profiles that were merged away (they
    exist only if the profile existed on its own for a while). The partition, the live
    profiles and every event's profile must be identical."""
    tables: Dump = {}
    with engine.connect() as conn:
        for table in DERIVED_TABLES:
            if table is profile_merges:
                continue
            query = select(*table.c).order_by(*table.primary_key.columns)
            if table is profiles:
                query = query.where(profiles.c.merged_into.is_(None))
            rows = conn.execute(query).all()
            tables[table.name] = [
                tuple(
                    json.dumps(value, sort_keys=True, ensure_ascii=False)
                    if isinstance(value, dict | list)
                    else value
                    for value in row
                )
                for row in rows
            ]
        tables["checkpoint"] = [(get_checkpoint(conn, PROFILES_CHECKPOINT),)]
    return tables


def differences(expected: Dump, actual: Dump, what: str) -> list[str]:
    """Each differing table, with its first differing rows, for a readable failure."""
    found: list[str] = []
    for name in expected:
        if expected[name] != actual[name]:
            before, after = set(expected[name]), set(actual[name])
            found.append(
                f"{what}: {name}: {len(expected[name])} vs {len(actual[name])} rows, "
                f"{len(before - after)} differ; only before: "
                f"{[r for r in expected[name] if r not in after][:3]}; only after: "
                f"{[r for r in actual[name] if r not in before][:3]}"
            )
    return found


def run_rebuild(database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "c360", "rebuild"],
        env={**os.environ, "C360_DATABASE_URL": database_url, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def settled_store(database_url: str, tmp_path: Path) -> str:
    """A store whose live server received a mixed history, processed it and stopped."""
    server = start_server(database_url, tmp_path)
    try:
        send_history(server, mixed_history(random.Random(4242)))
        server.wait_processed()
    finally:
        server.stop()
    return database_url


def test_rebuild_twice_reproduces_the_incrementally_maintained_tables(
    settled_store: str,
) -> None:
    engine = create_engine_for(settled_store)
    try:
        with engine.connect() as conn:
            log_size = conn.execute(select(func.count()).select_from(event_log)).scalar_one()
            merges = conn.execute(select(func.count()).select_from(profile_merges)).scalar_one()
            merged = conn.execute(
                select(func.count()).where(profiles.c.merged_into.is_not(None))
            ).scalar_one()
        assert log_size == MESSAGES
        assert merges >= 10 and merged >= 10, "the history must exercise merges"
        incremental = dump(engine)

        dumps = []
        # The third replay reads the log 7 entries at a time: the live worker, too, sees the
        # log in whatever chunks have arrived, so the result must not depend on them.
        for batch_size in ("500", "500", "7"):
            done = run_rebuild(settled_store, C360_WORKER_BATCH_SIZE=batch_size)
            assert done.returncode == 0, done.stderr
            assert f"rebuilt from {MESSAGES} log entries" in done.stdout
            dumps.append(dump(engine))
    finally:
        engine.dispose()

    found = [
        *differences(incremental, dumps[0], "first rebuild vs live state"),
        *differences(dumps[0], dumps[1], "second rebuild vs first"),
        *differences(dumps[0], dumps[2], "rebuild in batches of 7 vs first"),
    ]
    assert not found, "\n".join(found)


def test_rebuild_killed_half_way_then_rerun_gives_the_same_tables(
    settled_store: str,
) -> None:
    engine = create_engine_for(settled_store)
    try:
        clean = run_rebuild(settled_store)
        assert clean.returncode == 0, clean.stderr
        rebuilt = dump(engine)
        # One entry per transaction, so the kill lands between commits of a long replay.
        env = {**os.environ, "C360_DATABASE_URL": settled_store, "C360_WORKER_BATCH_SIZE": "1"}
        process = subprocess.Popen(
            [sys.executable, "-m", "c360", "rebuild"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        checkpoint = 0
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and process.poll() is None:
                with reader(engine).connect() as conn:
                    checkpoint = get_checkpoint(conn, PROFILES_CHECKPOINT)
                if 0 < checkpoint < MESSAGES // 2:
                    break
                time.sleep(0.005)
            process.kill()
        finally:
            process.wait(10)
        assert process.returncode == -9, "the rebuild finished before it could be killed"
        assert 0 < checkpoint < MESSAGES, checkpoint
        half_way = dump(engine)
        assert half_way != rebuilt, "the kill must leave a partial rebuild"

        done = run_rebuild(settled_store)
        assert done.returncode == 0, done.stderr
        found = differences(rebuilt, dump(engine), "rebuild after a killed one vs a clean one")
        assert not found, "\n".join(found)
    finally:
        engine.dispose()
