"""Segment previews over many customers, and how fast an event becomes ``segment_entered``.

The store is built directly (profiles' view documents, log entries and ``profile_events``),
because importing the sample company through the full pipeline takes hours at this size (see
the sources issue's import benchmark): it measures the segment engine, not ingestion. The
customers are drawn like the sample company's (Thailand and Vietnam, Thai and Vietnamese
names, provinces, sign-up dates over three years, lifetime values, RFM labels, open tickets,
birthdays, consent) with ``--events`` tracked events each over the last year (views, carts,
orders with revenue, email opens).

Measured, on SQLite and PostgreSQL:

- **preview count** (``c360.segments.service.preview``: the SQL compiler) of typical trait,
  computed-trait and behavioural conditions: median of 5 runs after one warm-up;
- **event to segment_entered**: a worker thread (``c360.workers.Processor``) runs as in
  ``c360 serve``; a new visitor's ``Product Added`` is appended to the log, the worker is
  woken, and the clock stops when the change feed holds that person's ``segment_entered`` for
  the saved segment ``did "Product Added" in last 1 day``. Median, p90, p99 over ``--samples``.

    .venv/bin/python bench/segments.py --customers 100000 --store both --json segments.json
"""

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.identity import Store, log  # noqa: E402

DAY_US = 86_400_000_000

TRAIT_CONDITIONS = {
    "country": 'country = "TH"',
    "lifetime value": "lifetime_value >= 20000",
    "provinces": 'province in ["Bangkok", "Chiang Mai", "Hà Nội"]',
    "name folded": 'last_name = "nguyen" ignoring case and accents',
    "computed (RFM and tickets)": 'rfm.label = "Champions" and open_tickets > 0',
    "signed up in 6 months": 'country = "TH" and signed_up_at within last 6 months',
    "birthday this week": "birth_date anniversary within next 7 days",
    "consent": 'consented to "marketing" via "line"',
}
BEHAVIOUR_CONDITIONS = {
    "abandoned cart (1 day)": 'did "Product Added" in last 1 day '
    'and not did "Order Completed" in last 1 day',
    "spent 5,000 in 90 days": 'did "Order Completed" with sum of revenue >= 5000 in last 90 days',
    "VIP who opened no email in 90 days": 'rfm.label = "Champions" '
    'and not did "Email Opened" in last 90 days',
    "viewed then added within 2 hours": 'did "Product Viewed" where category = "shoes" '
    'then "Product Added" within 2 hours in last 30 days',
}

_TH_FIRST = ["สมชาย", "สมหญิง", "Somchai", "Nattaya", "Anong", "Kittipong", "Wichai", "Ploy"]
_TH_LAST = ["ใจดี", "Srisuk", "Wongsawat", "ทองดี", "Chaiyaporn", "Rattanakorn"]
_VN_FIRST = ["Anh", "Minh", "Lan", "Hùng", "Thảo", "Tuấn", "Hương", "Quang"]
_VN_LAST = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Nguyen"]
_TH_PROVINCES = ["Bangkok", "Chiang Mai", "Phuket", "Khon Kaen", "Chon Buri", "Songkhla"]
_VN_PROVINCES = ["Hà Nội", "Hồ Chí Minh", "Đà Nẵng", "Hải Phòng", "Cần Thơ"]
_RFM = ["Champions", "Loyal", "Potential", "New", "At Risk", "Hibernating", "Lost"]
_EVENTS = [
    ("Product Viewed", 0.5),
    ("Product Added", 0.2),
    ("Order Completed", 0.1),
    ("Email Opened", 0.2),
]
_CATEGORIES = ["shoes", "bags", "home", "kitchen", "beauty"]


def build_store(url: str, customers: int, events: int, now: int, seed: int) -> None:
    from sqlalchemy import insert

    from c360.segments.view import build_view
    from c360.storage.engine import create_engine_for
    from c360.storage.migrations import upgrade_to_head
    from c360.storage.tables import event_log, profile_events, profiles, sources

    engine = create_engine_for(url)
    upgrade_to_head(engine)
    rng = random.Random(seed)
    with engine.begin() as conn:
        conn.execute(insert(sources).values(id=1, name="web", created_at_us=now))
    seq = 0
    started = time.perf_counter()
    chunk = 5000
    for start in range(0, customers, chunk):
        people, logs, links = [], [], []
        for i in range(start, min(customers, start + chunk)):
            pid = str(uuid.UUID(int=rng.getrandbits(128)))
            thai = rng.random() < 0.6
            orders = max(0, int(rng.expovariate(0.5)))
            value = round(rng.lognormvariate(8.5, 1.2), 2) if orders else 0.0
            golden = {
                "first_name": rng.choice(_TH_FIRST if thai else _VN_FIRST),
                "last_name": rng.choice(_TH_LAST if thai else _VN_LAST),
                "email": f"c{i}@example.com" if rng.random() < 0.8 else None,
                "country": "TH" if thai else "VN",
                "province": rng.choice(_TH_PROVINCES if thai else _VN_PROVINCES),
                "birth_date": f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-"
                f"{rng.randint(1, 28):02d}",
                "signed_up_at": _iso(now - rng.randint(0, 3 * 365) * DAY_US),
            }
            computed = {
                "order_count": orders,
                "lifetime_value": value,
                "rfm": {"label": rng.choice(_RFM)} if orders else None,
                "open_tickets": 1 if rng.random() < 0.05 else 0,
                "last_purchase_at_us": now - rng.randint(0, 365) * DAY_US if orders else None,
            }
            consent = {"marketing": {"*": rng.random() < 0.7, "line": rng.random() < 0.5}}
            view = build_view({}, golden, computed, [("email", golden["email"] or "")], consent)
            people.append(
                {"id": pid, "traits": {}, "created_seq": 0, "updated_seq": 0, "attributes": view}
            )
            for _ in range(events):
                seq += 1
                name = rng.choices([e for e, _ in _EVENTS], [w for _, w in _EVENTS])[0]
                at = now - int(rng.random() ** 2 * 365 * DAY_US)
                properties: dict[str, Any] = {"category": rng.choice(_CATEGORIES)}
                if name == "Order Completed":
                    properties["revenue"] = rng.randint(100, 9000)
                payload = {
                    "type": "track",
                    "event": name,
                    "userId": f"u{i}",
                    "messageId": f"m{seq}",
                    "properties": properties,
                }
                logs.append(
                    {
                        "seq": seq,
                        "source_id": 1,
                        "message_id": f"m{seq}",
                        "type": "track",
                        "received_at_us": at,
                        "timestamp_us": at,
                        "payload": orjson.dumps(payload).decode(),
                    }
                )
                links.append({"profile_id": pid, "seq": seq, "at_us": at})
        with engine.begin() as conn:
            conn.execute(insert(profiles), people)
            conn.execute(insert(event_log), logs)
            conn.execute(insert(profile_events), links)
        done = min(customers, start + chunk)
        log(f"  {done:,} customers, {seq:,} events ({time.perf_counter() - started:.0f} s)")
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT setval('event_log_seq_seq', {max(seq, 1)})")
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
    from c360.eventlog.service import PROFILES_CHECKPOINT, set_checkpoint

    with engine.begin() as conn:
        set_checkpoint(conn, PROFILES_CHECKPOINT, seq)
    engine.dispose()


def _iso(us: int) -> str:
    from c360.kernel.clock import isoformat_us

    return isoformat_us(us)


def time_previews(url: str, now: int, runs: int) -> dict[str, Any]:
    from c360.segments.evaluate import Moment
    from c360.segments.language import parse
    from c360.segments.sql import count_members
    from c360.storage.engine import create_engine_for

    engine = create_engine_for(url)
    out: dict[str, Any] = {}
    for group, conditions in (("traits", TRAIT_CONDITIONS), ("behaviour", BEHAVIOUR_CONDITIONS)):
        for label, text in conditions.items():
            condition = parse(text)
            timings, count = [], 0
            with engine.connect() as conn:
                count = count_members(conn, condition, Moment(now))  # warm-up
                for _ in range(runs):
                    started = time.perf_counter()
                    count = count_members(conn, condition, Moment(now))
                    timings.append(time.perf_counter() - started)
            out[label] = {
                "group": group,
                "condition": text,
                "count": count,
                "median_ms": round(statistics.median(timings) * 1000, 1),
                "max_ms": round(max(timings) * 1000, 1),
            }
            log(f"  {label:40} {count:>8,} members  median {out[label]['median_ms']:>8} ms")
    engine.dispose()
    return out


def time_event_to_segment(url: str, samples: int) -> dict[str, Any]:
    from sqlalchemy import select, update

    from c360.eventlog.model import LogRow
    from c360.eventlog.service import append
    from c360.kernel.clock import system_clock
    from c360.segments.language import parse
    from c360.segments.service import create_segment
    from c360.storage.engine import create_engine_for
    from c360.storage.tables import profile_changes, profiles
    from c360.workers import Processor

    engine = create_engine_for(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        create_segment(conn, "carts today", parse('did "Product Added" in last 1 day'))
        # the synthetic customers have no source records for a refresh to rebuild them from:
        # the worker is kept to the new visitors
        conn.execute(update(profiles).values(segments_due_us=None, computed_due_us=None))
    created_s = time.perf_counter() - started
    worker = Processor(engine, poll_s=0.2)
    worker.start()
    latencies = []
    try:
        for i in range(samples + 5):
            user = f"bench-{uuid.uuid4().hex[:10]}"
            message = {
                "type": "track",
                "event": "Product Added",
                "userId": user,
                "messageId": (message_id := uuid.uuid4().hex),
                "properties": {"category": "shoes"},
            }
            now = system_clock()
            begun = time.perf_counter()
            with engine.begin() as conn:
                append(
                    conn,
                    [
                        LogRow(
                            source_id=1,
                            message_id=message_id,
                            type="track",
                            received_at_us=now,
                            sent_at_us=None,
                            original_timestamp_us=None,
                            timestamp_us=now,
                            payload=orjson.dumps(message).decode(),
                        )
                    ],
                    [],
                )
            worker.notify()
            while True:
                with engine.connect() as conn:
                    found = conn.execute(
                        select(profile_changes.c.id)
                        .where(
                            profile_changes.c.kind == "segment_entered",
                            profile_changes.c.detail["segment"].as_string() == "carts today",
                            profile_changes.c.at_us >= now,
                        )
                        .limit(1)
                        .order_by(profile_changes.c.id.desc())
                    ).first()
                    entered = found is not None and _entered_for(conn, user, found.id)
                if entered:
                    break
                if time.perf_counter() - begun > 30:
                    raise RuntimeError("no segment_entered within 30 s")
                time.sleep(0.002)
            if i >= 5:
                latencies.append(time.perf_counter() - begun)
    finally:
        worker.stop()
        engine.dispose()
    ms = sorted(x * 1000 for x in latencies)
    return {
        "segment_create_s": round(created_s, 2),
        "samples": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "p90_ms": round(ms[int(0.9 * len(ms))], 1),
        "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 1),
        "max_ms": round(ms[-1], 1),
    }


def _entered_for(conn: Any, user: str, change_id: int) -> bool:
    from sqlalchemy import select

    from c360.profiles.service import find_by_identifier
    from c360.storage.tables import profile_changes

    try:
        pid = find_by_identifier(conn, "user_id", user).id
    except Exception:
        return False
    return (
        conn.execute(
            select(profile_changes.c.id).where(
                profile_changes.c.profile_id == pid, profile_changes.c.kind == "segment_entered"
            )
        ).first()
        is not None
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=10, help="tracked events per customer")
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from c360.kernel.clock import system_clock

    results: dict[str, Any] = {"customers": args.customers, "events_per_customer": args.events}
    kinds = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    with tempfile.TemporaryDirectory(prefix="c360-bench-segments-") as work:
        for kind in kinds:
            store = Store(kind, Path(work))
            try:
                now = system_clock()
                log(f"{kind}: building {args.customers:,} customers")
                started = time.perf_counter()
                build_store(store.url, args.customers, args.events, now, args.seed)
                built = time.perf_counter() - started
                log(f"{kind}: preview counts")
                previews = time_previews(store.url, now, args.runs)
                log(f"{kind}: event to segment_entered")
                latency = time_event_to_segment(store.url, args.samples)
                log(f"  {latency}")
                results[kind] = {
                    "build_s": round(built, 1),
                    "previews": previews,
                    "event_to_segment_entered": latency,
                }
            finally:
                store.drop()
    text = json.dumps(results, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
