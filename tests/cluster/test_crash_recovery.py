"""Crash recovery of the production layout: two API processes and two workers on PostgreSQL.

Several client threads send 100,000 events (2,000 people, 50 each) in batches of 100 to both
``c360 serve --no-worker`` processes while two ``c360 worker`` processes apply the log. Each
person's events carry ``n`` = 1, 2, ... 50 (a property of tracks, a trait of identifies, every
fifth event and the last are identifies) and are sent in order by one thread, which waits for
each acknowledgement before sending the person's next events. A client retries a failed batch
with the same messageIds, like an SDK, on the other API process when one is down. Part-way, one
worker and then one API process are SIGKILLed and restarted.

Once the workers have caught up, the store must show: every acknowledged messageId in the log
once; every event applied to its person's profile once; each person's events in log order with
increasing ``n`` and the profile's trait ``n`` = 50 (the last identify wins); and profiles
equal, person by person, to those of a single ``c360 serve`` (API and worker in one process)
that was sent the same messages in the same order.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.cluster.conftest import (
    Cluster,
    WorkerProcess,
    process_env,
    require_services,
    running_cluster,
)
from tests.conftest import LiveServer, free_port, fresh_database, make_keys

from c360.storage import create_engine_for
from c360.storage.tables import event_log, profile_events, profiles, rejects

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(2400)]

PEOPLE = int(os.environ.get("C360_CLUSTER_PEOPLE", "2000"))  # a smaller run while working on it
EVENTS_PER_PERSON = 50
EVENTS_PER_SLICE = 10  # one person's consecutive events in one batch
PEOPLE_PER_BATCH = 10  # so a batch holds 100 events
IDENTIFY_EVERY = 5
CLIENT_THREADS = 8
KILL_WORKER_AT = 0.30  # share of the events acknowledged
KILL_API_AT = 0.55
INGEST_DEADLINE_S = 600.0
CATCH_UP_DEADLINE_S = 600.0
START_TIMEOUT_S = 180.0  # starting c360 takes seconds of CPU, which a busy machine stretches
BASE_TIME = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Workload:
    """Each person's events in the order they must be applied."""

    events: dict[str, list[dict[str, Any]]]

    @classmethod
    def build(cls, rng: random.Random) -> Workload:
        run = uuid.uuid4().hex[:6]
        events: dict[str, list[dict[str, Any]]] = {}
        for p in range(PEOPLE):
            user_id = f"cluster-{run}-{p}"
            own = []
            for n in range(1, EVENTS_PER_PERSON + 1):
                message: dict[str, Any] = {
                    "messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "userId": user_id,
                    "timestamp": (BASE_TIME + timedelta(seconds=p + 10 * n))
                    .isoformat()
                    .replace("+00:00", "Z"),
                }
                if n % IDENTIFY_EVERY == 0:
                    traits: dict[str, Any] = {"n": n, "plan": ("free", "plus", "pro")[n % 3]}
                    if n == IDENTIFY_EVERY:
                        traits |= {"email": f"{user_id}@example.com", "name": f"ทดสอบ {p}"}
                    message |= {"type": "identify", "traits": traits}
                else:
                    message |= {
                        "type": "track",
                        "event": "Đã xem sản phẩm" if n % 2 else "ดูสินค้า",
                        "properties": {"n": n, "price": 10 * n, "currency": "THB"},
                    }
                own.append(message)
            events[user_id] = own
        return cls(events)

    @property
    def total(self) -> int:
        return sum(len(own) for own in self.events.values())

    def message(self) -> dict[str, dict[str, Any]]:
        return {m["messageId"]: m for own in self.events.values() for m in own}


@dataclass
class History:
    """What the clients saw."""

    acked: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked)


def send_people(
    cluster: Cluster,
    work: Workload,
    people: list[str],
    first_api: int,
    history: History,
    stop: threading.Event,
) -> None:
    """One client thread: its people's events, slice by slice, each batch until acknowledged;
    a failed attempt is retried with the same messageIds on the other API process."""
    target = first_api
    auth = (cluster.write_key, "")
    clients = [
        httpx.Client(base_url=api.url, auth=auth, timeout=httpx.Timeout(15.0))
        for api in cluster.apis
    ]
    try:
        for start in range(0, EVENTS_PER_PERSON, EVENTS_PER_SLICE):
            for g in range(0, len(people), PEOPLE_PER_BATCH):
                batch = [
                    m
                    for user_id in people[g : g + PEOPLE_PER_BATCH]
                    for m in work.events[user_id][start : start + EVENTS_PER_SLICE]
                ]
                while True:
                    if stop.is_set():
                        return
                    retry_after_s = 0.05
                    try:
                        response = clients[target].post("/v1/batch", json={"batch": batch})
                        status = str(response.status_code)
                    except httpx.HTTPError as exc:
                        status = type(exc).__name__
                        response = None
                    with history.lock:
                        history.statuses[status] += 1
                        if status == "200":
                            history.acked.extend(m["messageId"] for m in batch)
                            break
                        if response is not None and status.startswith("4") and status != "429":
                            history.refused.append(f"{status}: {response.text[:200]}")
                            return
                    if response is not None and status == "429":
                        retry_after_s = min(float(response.headers.get("Retry-After", "1")), 5.0)
                    else:
                        target = (target + 1) % len(clients)
                    time.sleep(retry_after_s)
    finally:
        for client in clients:
            client.close()


class Restart(threading.Thread):
    """Start a killed process again after a pause, while the clients go on sending."""

    def __init__(self, process: LiveServer | WorkerProcess, pause_s: float) -> None:
        super().__init__(name="restart")
        self.process = process
        self.pause_s = pause_s
        self.failure: BaseException | None = None

    def run(self) -> None:
        time.sleep(self.pause_s)
        try:
            self.process.start(timeout_s=START_TIMEOUT_S)
        except BaseException as exc:
            self.failure = exc


def restart_later(process: LiveServer | WorkerProcess, pause_s: float) -> Restart:
    restart = Restart(process, pause_s)
    restart.start()
    return restart


@dataclass
class ProfileView:
    """What a person's profile shows, without what depends on timing: profile ids, log
    positions and the times the golden record's values were received."""

    traits: dict[str, Any]
    golden: Any
    computed: Any
    identifier_set: Any
    attributes: Any
    message_ids: list[str]


@dataclass
class StoreState:
    """What the checks read from a store."""

    log: list[tuple[int, str]]  # (seq, messageId), in log order
    applied: Counter[int]  # seq -> profiles it is filed under
    filed_under: dict[int, str]  # seq -> profile id
    live_profiles: dict[str, dict[str, Any]]
    quarantined: int


def read_state(database_url: str) -> StoreState:
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as conn:
            log = [
                (int(seq), str(mid))
                for seq, mid in conn.execute(
                    select(event_log.c.seq, event_log.c.message_id).order_by(event_log.c.seq)
                )
            ]
            applied: Counter[int] = Counter()
            filed_under: dict[int, str] = {}
            for profile_id, seq in conn.execute(
                select(profile_events.c.profile_id, profile_events.c.seq)
            ):
                applied[int(seq)] += 1
                filed_under[int(seq)] = str(profile_id)
            live = {
                str(row.id): dict(row._mapping)
                for row in conn.execute(select(profiles).where(profiles.c.merged_into.is_(None)))
            }
            quarantined = len(conn.execute(select(rejects.c.id)).all())
    finally:
        engine.dispose()
    return StoreState(log, applied, filed_under, live, quarantined)


def profile_views(state: StoreState, work: Workload) -> dict[str, ProfileView]:
    """Each person's profile (found by the ``user_id`` identifier), keyed by userId."""
    user_of_profile: dict[str, str] = {}
    for profile_id, row in state.live_profiles.items():
        for identifier in row["identifier_set"] or []:
            if identifier.startswith("user_id:"):
                user_of_profile[profile_id] = identifier.removeprefix("user_id:")
    by_message = work.message()
    message_ids: dict[str, list[str]] = defaultdict(list)
    for seq, mid in state.log:
        message_ids[user_of_profile.get(state.filed_under.get(seq, ""), "?")].append(mid)
    views = {}
    for profile_id, row in state.live_profiles.items():
        user_id = user_of_profile.get(profile_id, f"no user_id: {profile_id}")
        views[user_id] = ProfileView(
            traits=row["traits"],
            golden=without_keys(row["golden"], POSITION_KEYS | RECEIPT_TIME_KEYS),
            computed=without_keys(row["computed"], POSITION_KEYS),
            identifier_set=row["identifier_set"],
            attributes=without_keys(row["attributes"], POSITION_KEYS),
            message_ids=message_ids.get(user_id, []),
        )
        assert all(by_message[m]["userId"] == user_id for m in views[user_id].message_ids), (
            f"profile {profile_id} of {user_id} holds other people's events"
        )
    return views


POSITION_KEYS = frozenset({"seq", "last_seq", "node_id", "profile_id", "id"})
RECEIPT_TIME_KEYS = frozenset({"at_us", "first_at_us", "last_at_us"})
"""The golden record's provenance times: when c360 received the value, not the event's time."""


def without_keys(value: Any, keys: frozenset[str]) -> Any:
    """A JSON value without ``keys`` at any depth."""
    if isinstance(value, dict):
        return {k: without_keys(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [without_keys(v, keys) for v in value]
    return value


@dataclass
class CrashRun:
    work: Workload
    history: History
    cluster: StoreState
    reference: StoreState
    report: str


def send_in_order(server: LiveServer, messages: list[dict[str, Any]]) -> None:
    """Send messages in this order, 100 per batch, one batch at a time."""
    with httpx.Client(
        base_url=server.url, auth=(server.write_key, ""), timeout=httpx.Timeout(30.0)
    ) as client:
        for i in range(0, len(messages), 100):
            response = client.post("/v1/batch", json={"batch": messages[i : i + 100]})
            assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def crash_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrashRun]:
    """The whole run, once per module: the tests below each check one promise of it."""
    require_services()
    directory = tmp_path_factory.mktemp("cluster")
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    work = Workload.build(rng)
    people = list(work.events)
    rng.shuffle(people)
    history = History()
    stop = threading.Event()
    timings: dict[str, float] = {}
    kills: list[str] = []
    restarts: list[Restart] = []
    with running_cluster(directory, apis=2, workers=2, start_timeout_s=START_TIMEOUT_S) as cluster:
        threads = [
            threading.Thread(
                target=send_people,
                args=(cluster, work, people[n::CLIENT_THREADS], n % 2, history, stop),
                name=f"client-{n}",
            )
            for n in range(CLIENT_THREADS)
        ]
        started = time.monotonic()
        try:
            for thread in threads:
                thread.start()
            worker_killed = api_killed = False
            while any(t.is_alive() for t in threads):
                assert time.monotonic() - started < INGEST_DEADLINE_S, (
                    f"not every batch acknowledged within {INGEST_DEADLINE_S}s (seed {seed}): "
                    f"{history.acked_count()} events, answers {dict(history.statuses)}"
                )
                acked = history.acked_count()
                if not worker_killed and acked >= KILL_WORKER_AT * work.total:
                    worker_killed = True
                    lag = cluster.worker_lag()
                    cluster.workers[0].kill()
                    kills.append(f"worker 0 at {acked} acked events (lag {lag})")
                    restarts.append(restart_later(cluster.workers[0], rng.uniform(0.2, 1.0)))
                if not api_killed and acked >= KILL_API_AT * work.total:
                    api_killed = True
                    cluster.apis[1].kill()
                    kills.append(f"API 1 at {acked} acked events")
                    restarts.append(restart_later(cluster.apis[1], rng.uniform(0.2, 1.0)))
                time.sleep(0.01)
            timings["ingest_s"] = time.monotonic() - started
        finally:
            stop.set()
            for thread in [*threads, *restarts]:
                thread.join(60)
        failed = [r.name for r in restarts if r.failure is not None]
        assert not failed, f"could not restart: {[r.failure for r in restarts]}"
        assert not history.refused, f"batches refused: {history.refused[:3]}"
        timings["catch_up_s"] = cluster.wait_caught_up(CATCH_UP_DEADLINE_S)
        timings["processed_s"] = time.monotonic() - started
        alive = [w.alive for w in cluster.workers] + [
            a.process is not None and a.process.poll() is None for a in cluster.apis
        ]
        assert all(alive), f"a process died after the restarts: {alive}"
        cluster_state = read_state(cluster.database_url)

    # The single-process run: the same messages, in the order the cluster logged them.
    by_message = work.message()
    in_log_order = [by_message[mid] for _, mid in cluster_state.log if mid in by_message]
    with fresh_database("postgresql", directory, migrated=True) as url:
        write_key, admin_key = make_keys(url)
        single_env = process_env(url)
        del single_env["C360_EVENT_BUS"]  # one process needs no bus
        server = LiveServer(
            database_url=url,
            port=free_port(),
            write_key=write_key,
            admin_key=admin_key,
            source="web",
            env=single_env,
            log_path=directory / "single.log",
        )
        single_started = time.monotonic()
        try:
            server.start(timeout_s=START_TIMEOUT_S)
            send_in_order(server, in_log_order)
            server.wait_processed(timeout_s=CATCH_UP_DEADLINE_S)
        finally:
            server.stop()
        timings["single_process_s"] = time.monotonic() - single_started
        reference = read_state(url)

    report = (
        f"seed {seed}; {work.total} events, {len(history.acked)} acknowledged; kills: "
        f"{'; '.join(kills)}; answers {dict(history.statuses)}; ingest "
        f"{timings['ingest_s']:.1f}s ({len(history.acked) / timings['ingest_s']:,.0f} events/s "
        f"acknowledged, kills included); workers caught up {timings['catch_up_s']:.1f}s after "
        f"the last ack ({work.total / timings['processed_s']:,.0f} events/s applied overall); "
        f"single process (ingest and apply) {timings['single_process_s']:.1f}s"
    )
    print(report)
    assert len(kills) == 2, f"not both kills happened: {report}"
    yield CrashRun(work, history, cluster_state, reference, report)


def test_every_acknowledged_message_is_logged_once(crash_run: CrashRun) -> None:
    stored = Counter(mid for _, mid in crash_run.cluster.log)
    sent = crash_run.work.message()
    acked = set(crash_run.history.acked)
    counts = {
        "sent": len(sent),
        "acknowledged": len(acked),
        "lost": sum(1 for m in acked if stored[m] == 0),
        "duplicated": sum(1 for n in stored.values() if n > 1),
        "unexpected": sum(1 for m in stored if m not in sent),
        "quarantined": crash_run.cluster.quarantined,
    }
    report = f"{counts}; {crash_run.report}"
    assert counts["acknowledged"] == counts["sent"] == crash_run.work.total, report
    assert (counts["lost"], counts["duplicated"], counts["unexpected"]) == (0, 0, 0), report
    assert counts["quarantined"] == 0, report


def test_every_event_is_applied_to_its_profile_once(crash_run: CrashRun) -> None:
    state = crash_run.cluster
    seqs = [seq for seq, _ in state.log]
    not_applied = sum(1 for seq in seqs if state.applied[seq] == 0)
    applied_twice = sum(1 for seq in seqs if state.applied[seq] > 1)
    assert (not_applied, applied_twice) == (0, 0), (
        f"events in no profile: {not_applied}; in more than one: {applied_twice}; "
        + crash_run.report
    )
    views = profile_views(state, crash_run.work)
    wrong = {
        user_id: len(views[user_id].message_ids) if user_id in views else None
        for user_id in crash_run.work.events
        if user_id not in views or len(views[user_id].message_ids) != EVENTS_PER_PERSON
    }
    assert wrong == {}, (
        f"{len(wrong)} people without their {EVENTS_PER_PERSON} events: "
        f"{dict(list(wrong.items())[:5])}; {len(views)} live profiles; " + crash_run.report
    )


def test_each_persons_events_keep_their_order(crash_run: CrashRun) -> None:
    by_message = crash_run.work.message()
    seen: dict[str, list[int]] = defaultdict(list)
    for _, mid in crash_run.cluster.log:
        message = by_message[mid]
        n = (message.get("traits") or message.get("properties"))["n"]
        seen[message["userId"]].append(n)
    expected = list(range(1, EVENTS_PER_PERSON + 1))
    out_of_order = {u: ns for u, ns in seen.items() if ns != expected}
    assert out_of_order == {}, (
        f"{len(out_of_order)} people's events are out of order in the log: "
        f"{dict(list(out_of_order.items())[:2])}; " + crash_run.report
    )
    views = profile_views(crash_run.cluster, crash_run.work)
    last_identify = {
        user_id: views[user_id].traits.get("n") if user_id in views else None
        for user_id in crash_run.work.events
    }
    wrong = {u: n for u, n in last_identify.items() if n != EVENTS_PER_PERSON}
    assert wrong == {}, (
        f"{len(wrong)} profiles' trait n is not {EVENTS_PER_PERSON} (the last identify): "
        f"{dict(list(wrong.items())[:5])}; " + crash_run.report
    )


def test_profiles_equal_those_of_a_single_process_run(crash_run: CrashRun) -> None:
    cluster = profile_views(crash_run.cluster, crash_run.work)
    single = profile_views(crash_run.reference, crash_run.work)
    assert len(single) == PEOPLE, f"{len(single)} profiles in the single-process run"
    assert set(cluster) == set(single), (
        f"people only in the cluster run: {sorted(set(cluster) - set(single))[:5]}; "
        f"only in the single-process run: {sorted(set(single) - set(cluster))[:5]}"
    )
    differing = {
        user_id: differences(asdict(cluster[user_id]), asdict(single[user_id]))
        for user_id in single
        if cluster[user_id] != single[user_id]
    }
    paths = Counter(path for found in differing.values() for path, _, _ in found)
    first = next(iter(differing.items()), None)
    assert differing == {}, (
        f"{len(differing)} of {len(single)} profiles differ, at {dict(paths.most_common(10))}; "
        f"the first (path, cluster, single): "
        f"{json.dumps(first, default=repr, ensure_ascii=False)[:2000]}; " + crash_run.report
    )


def differences(a: Any, b: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Where two JSON values differ: (path, value in a, value in b)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            found
            for key in sorted(a.keys() | b.keys())
            for found in differences(a.get(key), b.get(key), f"{path}.{key}")
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            found
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for found in differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [(path, a, b)]
