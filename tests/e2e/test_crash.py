"""D1, default-suite size: kill -9 a live ``c360 serve`` during ingest; no acknowledged loss.

Several client threads send 10,000 track messages in batches of 100 (10 % of the batches
deliberately sent twice) while the server is SIGKILLed twice at random points (the default
suite's size in RELIABILITY-TESTS; ``-m heavy`` runs 100,000 and 5) and restarted on the
same store; unacknowledged batches are retried until every batch has a 200. The checker then
reads the store directly and reports Jepsen-style counts: ok, lost, duplicated, unexpected,
recovered (ids whose unacknowledged attempt was stored: the retry found them already there).
"""

from __future__ import annotations

import queue
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from tests.conftest import LiveServer, start_server

from c360.storage import create_engine_for
from c360.storage.tables import event_log, profile_events, rejects, sources

pytestmark = pytest.mark.slow

EVENTS = 10_000
BATCH_SIZE = 100
USERS = 500
RESENT_SHARE = 0.10
CLIENT_THREADS = 4
KILLS = 2
DEADLINE_S = 240.0


@dataclass
class Workload:
    """Batches to send and what each message is."""

    batches: list[list[dict[str, Any]]]
    resent: set[int]
    user_of: dict[str, str]

    @classmethod
    def build(cls, rng: random.Random, events: int = EVENTS) -> Workload:
        users = [f"crash-{uuid.uuid4().hex[:6]}-{n}" for n in range(USERS)]
        batches: list[list[dict[str, Any]]] = []
        user_of: dict[str, str] = {}
        for b in range(events // BATCH_SIZE):
            batch = []
            for i in range(BATCH_SIZE):
                message_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                user_id = rng.choice(users)
                user_of[message_id] = user_id
                batch.append(
                    {
                        "type": "track",
                        "messageId": message_id,
                        "userId": user_id,
                        "event": "Đã thêm vào giỏ" if i % 2 else "เพิ่มลงตะกร้า",
                        "properties": {"batch": b, "n": i, "price": 1290, "currency": "THB"},
                        "timestamp": "2026-11-23T03:00:00.123Z",
                    }
                )
            batches.append(batch)
        resent = set(rng.sample(range(len(batches)), round(len(batches) * RESENT_SHARE)))
        return cls(batches, resent, user_of)


@dataclass
class History:
    """What the clients saw: acknowledged ids, failed attempts, answers by status.

    A batch is in doubt once an attempt failed after it may have reached the server (the
    connection broke or the answer was not 200): the server may have stored it anyway.
    """

    acked: set[str] = field(default_factory=set)
    acked_batches: int = 0
    finished_sends: int = 0
    failed_attempts: int = 0
    in_doubt_batches: set[int] = field(default_factory=set)
    acked_attempt_at_us: dict[int, int] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)
    pending: queue.Queue[tuple[int, bool]] = field(default_factory=queue.Queue)


def send_all(server: LiveServer, work: Workload, history: History, stop: threading.Event) -> None:
    """One client thread: send batches from the queue until everything is acknowledged."""
    total_sends = len(work.batches) + len(work.resent)
    with httpx.Client(
        base_url=server.url, auth=(server.write_key, ""), timeout=httpx.Timeout(10.0)
    ) as client:
        while not stop.is_set() and not history.done.is_set():
            try:
                index, is_resend = history.pending.get(timeout=0.05)
            except queue.Empty:
                continue
            try:
                attempt_at_us = time.time_ns() // 1000
                response = client.post("/v1/batch", json={"batch": work.batches[index]})
                status = str(response.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            with history.lock:
                history.statuses[status] += 1
                if status == "200":
                    history.acked.update(m["messageId"] for m in work.batches[index])
                    history.acked_batches += 1
                    history.finished_sends += 1
                    if not is_resend:
                        history.acked_attempt_at_us[index] = attempt_at_us
                    if index in work.resent and not is_resend:
                        history.pending.put((index, True))
                    if history.finished_sends == total_sends:
                        history.done.set()
                    continue
                history.failed_attempts += 1
                if status != "ConnectError":  # the request may have reached the server
                    history.in_doubt_batches.add(index)
            time.sleep(0.05)
            history.pending.put((index, is_resend))


def jepsen_counts(
    work: Workload,
    history: History,
    stored: Counter[str],
    received_at_us: dict[str, int],
    quarantined: int,
) -> dict[str, int]:
    """Counts over message ids; a stored id received before the start of the attempt that
    was acknowledged came from an earlier, unacknowledged attempt (recovered)."""
    sent = set(work.user_of)
    in_doubt = {m["messageId"] for b in history.in_doubt_batches for m in work.batches[b]}
    return {
        "sent": len(sent),
        "acknowledged": len(history.acked),
        "ok": sum(1 for m in history.acked if stored[m] == 1),
        "lost": sum(1 for m in history.acked if stored[m] == 0),
        "duplicated": sum(1 for n in stored.values() if n > 1),
        "unexpected": sum(1 for m in stored if m not in sent),
        "in_doubt": len(in_doubt),
        "recovered": sum(
            1
            for b in history.in_doubt_batches
            for m in (message["messageId"] for message in work.batches[b])
            if stored[m] == 1 and received_at_us[m] < history.acked_attempt_at_us[b]
        ),
        "quarantined": quarantined,
        "failed_attempts": history.failed_attempts,
    }


@pytest.mark.parametrize(
    ("events", "kills"),
    [
        pytest.param(EVENTS, KILLS, id="10k-2-kills"),
        # RELIABILITY D1 at full size: run with -m heavy
        pytest.param(100_000, 5, id="100k-5-kills", marks=pytest.mark.heavy),
    ],
)
def test_sigkill_during_ingest_loses_and_duplicates_nothing(
    database_url: str, tmp_path: Path, events: int, kills: int
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    work = Workload.build(rng, events)
    history = History()
    for index in range(len(work.batches)):
        history.pending.put((index, False))
    kill_after = sorted(rng.sample(range(10, len(work.batches) - 10), kills))
    server = start_server(database_url, tmp_path)
    stop = threading.Event()
    clients = [
        threading.Thread(target=send_all, args=(server, work, history, stop), name=f"client-{n}")
        for n in range(CLIENT_THREADS)
    ]
    started = time.monotonic()
    deadline_s = DEADLINE_S * events / EVENTS
    killed: list[int] = []
    try:
        for thread in clients:
            thread.start()
        while not history.done.is_set() and time.monotonic() - started < deadline_s:
            if kill_after and history.acked_batches >= kill_after[0]:
                kill_after.pop(0)
                server.kill()
                killed.append(history.acked_batches)
                time.sleep(rng.uniform(0.0, 0.5))
                server.start()
            time.sleep(0.01)
        ingest_s = time.monotonic() - started
        stop.set()
        for thread in clients:
            thread.join(30)
        assert history.done.is_set(), (
            f"not every batch acknowledged within {deadline_s}s (seed {seed}): "
            f"{history.acked_batches} acks, answers {dict(history.statuses)}"
        )
        assert len(killed) == kills, f"the server was killed {len(killed)} times, not {kills}"
        server.wait_processed(timeout_s=180)
        processed_s = time.monotonic() - started

        engine = create_engine_for(database_url)
        try:
            with engine.connect() as conn:
                source_id = conn.execute(
                    select(sources.c.id).where(sources.c.name == server.source)
                ).scalar_one()
                stored_rows = conn.execute(
                    select(
                        event_log.c.message_id, event_log.c.seq, event_log.c.received_at_us
                    ).where(event_log.c.source_id == source_id)
                ).all()
                quarantined = conn.execute(select(func.count()).select_from(rejects)).scalar_one()
                applied = Counter(
                    dict(
                        conn.execute(
                            select(profile_events.c.seq, func.count()).group_by(
                                profile_events.c.seq
                            )
                        ).all()
                    )
                )
        finally:
            engine.dispose()

        stored = Counter(message_id for message_id, _, _ in stored_rows)
        received_at_us = {message_id: at for message_id, _, at in stored_rows}
        counts = jepsen_counts(work, history, stored, received_at_us, quarantined)
        report = (
            f"{counts} kills after {killed} acked batches, seed {seed}, answers "
            f"{dict(history.statuses)}, ingest {ingest_s:.1f}s, processed {processed_s:.1f}s"
        )
        assert counts["lost"] == 0, report
        assert counts["duplicated"] == 0, report
        assert counts["unexpected"] == 0, report
        assert counts["ok"] == counts["acknowledged"] == counts["sent"] == events, report
        assert counts["quarantined"] == 0, report

        # Each stored event is applied to exactly one profile, exactly once.
        seqs = [seq for _, seq, _ in stored_rows]
        not_applied = sum(1 for seq in seqs if applied[seq] == 0)
        applied_twice = sum(1 for seq in seqs if applied[seq] > 1)
        assert (not_applied, applied_twice) == (0, 0), (
            f"events not in any profile: {not_applied}; in more than one: {applied_twice}; "
            + report
        )
        expected = Counter(work.user_of.values())
        seen: dict[str, int] = {}
        with server.admin() as api:
            for user_id in expected:
                response = api.get(f"/api/profiles/by-identifier/user_id/{user_id}")
                assert response.status_code == 200, response.text
                seen[user_id] = response.json()["event_count"]
        wrong = {u: (seen[u], n) for u, n in expected.items() if seen[u] != n}
        assert wrong == {}, f"(event_count, sent) differ for {len(wrong)} users; " + report
    finally:
        stop.set()
        for thread in clients:
            if thread.is_alive():
                thread.join(30)
        server.stop()
