"""Messages through a journey to a provider, and how fast an event becomes a send.

**Throughput.** A store of ``--people`` customers (built directly: their view documents with a
LINE id and marketing consent, as the profile processor would leave them) and a journey
``Product Added -> send on LINE`` with an exit condition. One ``Product Added`` per customer is
put in the log as processed; then, timed separately:

- the journey engine (``run_cycle`` until nobody is left to move): entries, the exit
  condition, channel choice, consent, send window, template, the outbox row;
- the dispatcher (``Dispatcher.run_until_idle``) handing every message to a local server that
  plays LINE's push API (``tests/fakes``), run in another process so that it does not share
  this one's interpreter. Messages per second of wall time and per second of this process's
  CPU time (the "per core" figure: the dispatcher is one thread on one core);
- end to end per CPU second: one core doing both, ``1 / (engine CPU s per message + dispatch
  CPU s per message)``. Only this process's CPU counts: the fake provider's process and, on
  PostgreSQL, the database server's are not.

The process tunes its garbage collector as ``c360 serve`` and ``c360 worker`` do
(``kernel.runtime.tune_gc``) before the engine runs.

**Latency.** ``c360 serve``'s loops run in this process (log processor, journey engine,
dispatcher), with a journey ``Product Added -> email`` (no wait) and a real local SMTP server.
For each sample a known, consenting customer's ``Product Added`` is appended to the log and
the clock stops when the SMTP server has the message. Median, p90, p99.

    .venv/bin/python bench/activation.py --people 20000 --samples 30 --store both
"""

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.identity import Store, log  # noqa: E402

TOKEN = "bench-line-token"
JOURNEY = """
name: bench
trigger: {event: Product Added}
exit_when: did "Order Completed" in last 1 hour
steps:
  - id: remind
    send:
      channels: [line, email]
      purpose: transactional
      template:
        body: "{{ profile.first_name }}, {{ event.product }} is waiting https://shop.example/cart"
"""
EMAIL_JOURNEY = JOURNEY.replace("name: bench", "name: bench-email").replace(
    "channels: [line, email]", "channels: [email]"
)


def build_store(url: str, people: int) -> int:
    """Customers with a view document and one processed ``Product Added`` each; returns the
    journey's start."""
    from sqlalchemy import insert

    from c360.activation.journeys import create_journey
    from c360.eventlog.service import PROFILES_CHECKPOINT, ensure_source, set_checkpoint
    from c360.kernel.clock import system_clock
    from c360.segments.view import build_view
    from c360.storage.engine import create_engine_for
    from c360.storage.migrations import upgrade_to_head
    from c360.storage.tables import event_log, profile_events, profiles

    engine = create_engine_for(url)
    upgrade_to_head(engine)
    now = system_clock()
    with engine.begin() as conn:
        source_id = ensure_source(conn, "web").id
        create_journey(conn, JOURNEY, default_tz="Asia/Bangkok", now_us=now)
    chunk = 5000
    for start in range(0, people, chunk):
        rows, logs, links = [], [], []
        for i in range(start, min(people, start + chunk)):
            pid = str(uuid.UUID(int=i + 1))
            view = build_view(
                {},
                {"first_name": "สมชาย", "country": "TH"},
                {},
                [("line_user_id", f"U{i:032x}"), ("user_id", f"u{i}")],
                {"marketing": {"*": True}},
            )
            rows.append(
                {"id": pid, "traits": {}, "created_seq": 0, "updated_seq": 0, "attributes": view}
            )
            seq = i + 1
            payload = {
                "type": "track",
                "event": "Product Added",
                "userId": f"u{i}",
                "messageId": f"m{seq}",
                "properties": {"product": "รองเท้าวิ่ง"},
            }
            logs.append(
                {
                    "seq": seq,
                    "source_id": source_id,
                    "message_id": f"m{seq}",
                    "type": "track",
                    "received_at_us": now,
                    "timestamp_us": now,
                    "payload": orjson.dumps(payload).decode(),
                }
            )
            links.append({"profile_id": pid, "seq": seq, "at_us": now})
        with engine.begin() as conn:
            conn.execute(insert(profiles), rows)
            conn.execute(insert(event_log), logs)
            conn.execute(insert(profile_events), links)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT setval('event_log_seq_seq', {people})")
        conn.exec_driver_sql("ANALYZE")
        set_checkpoint(conn, PROFILES_CHECKPOINT, people)
    engine.dispose()
    return now


def _serve_line(port_out: Any, stop: Any) -> None:
    from tests.fakes.providers import FakeLine

    with FakeLine(TOKEN) as line:
        port_out.put(line.port)
        stop.wait()
        port_out.put(len(line.delivered))


def time_throughput(url: str, people: int) -> dict[str, Any]:
    from c360.activation.channels import ChannelName
    from c360.activation.dispatch import DispatchConfig, Dispatcher
    from c360.activation.engine import EngineConfig, run_cycle
    from c360.connectors.channels import ChannelsConfig, LineConfig, build_channels
    from c360.kernel.clock import system_clock
    from c360.kernel.runtime import tune_gc
    from c360.storage.engine import create_engine_for

    engine = create_engine_for(url)
    config = EngineConfig(
        default_tz="Asia/Bangkok",
        channels=frozenset({ChannelName.LINE}),
        base_url="https://c360.example",
    )
    tune_gc()  # as c360 serve and c360 worker, which run the engine and the dispatcher
    began = time.perf_counter()
    cpu = time.process_time()
    queued = 0
    while True:
        report = run_cycle(engine, config, system_clock())
        queued += report.queued
        if not report.busy:
            break
    engine_s = time.perf_counter() - began
    engine_cpu = time.process_time() - cpu
    log(f"  engine: {queued:,} queued in {engine_s:.1f} s")

    ports: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=_serve_line, args=(ports, stop), daemon=True)
    server.start()
    port = ports.get(timeout=30)
    channels = build_channels(
        ChannelsConfig(
            line=LineConfig(channel_access_token=TOKEN, base_url=f"http://127.0.0.1:{port}")  # type: ignore[arg-type]
        )
    )
    with Dispatcher(engine, channels, DispatchConfig(batch=2000, concurrency=256)) as dispatcher:
        began = time.perf_counter()
        cpu = time.process_time()
        report = dispatcher.run_until_idle()
        dispatch_s = time.perf_counter() - began
        dispatch_cpu = time.process_time() - cpu
    stop.set()
    delivered = ports.get(timeout=30)
    server.join(10)
    engine.dispose()
    log(f"  dispatch: {report.sent:,} sent in {dispatch_s:.1f} s; server got {delivered:,}")
    return {
        "people": people,
        "queued": queued,
        "sent": report.sent,
        "provider_received": delivered,
        "engine_s": round(engine_s, 2),
        "engine_cpu_s": round(engine_cpu, 2),
        "engine_per_s": round(queued / engine_s),
        "engine_per_cpu_s": round(queued / engine_cpu),
        "dispatch_s": round(dispatch_s, 2),
        "dispatch_cpu_s": round(dispatch_cpu, 2),
        "dispatch_per_s": round(report.sent / dispatch_s),
        "dispatch_per_cpu_s": round(report.sent / dispatch_cpu),
        "journey_per_s": round(report.sent / (engine_s + dispatch_s)),
        # one core doing both stages: a message costs the engine's CPU and the dispatcher's
        "end_to_end_per_cpu_s": round(1 / (engine_cpu / queued + dispatch_cpu / report.sent)),
    }


def time_latency(url: str, samples: int) -> dict[str, Any]:
    from tests.fakes.providers import FakeSmtp

    from c360.activation.channels import ChannelName
    from c360.activation.dispatch import Dispatcher, DispatchLoop
    from c360.activation.engine import EngineConfig, JourneyEngine
    from c360.activation.journeys import create_journey
    from c360.connectors.channels import ChannelsConfig, EmailConfig, build_channels
    from c360.eventlog.model import LogRow
    from c360.eventlog.service import (
        PROFILES_CHECKPOINT,
        append,
        ensure_source,
        get_checkpoint,
        last_seq,
    )
    from c360.kernel.clock import system_clock
    from c360.storage.engine import create_engine_for
    from c360.workers import Processor

    engine = create_engine_for(url)
    with engine.begin() as conn:
        create_journey(conn, EMAIL_JOURNEY, default_tz="Asia/Bangkok")
        web = ensure_source(conn, "web").id
    latencies: list[float] = []

    def log_message(message: dict[str, Any]) -> None:
        now = system_clock()
        with engine.begin() as conn:
            append(
                conn,
                [
                    LogRow(
                        source_id=web,
                        message_id=message["messageId"],
                        type=message["type"],
                        received_at_us=now,
                        sent_at_us=None,
                        original_timestamp_us=None,
                        timestamp_us=now,
                        payload=orjson.dumps(message).decode(),
                    )
                ],
                [],
            )

    with FakeSmtp() as smtp:
        channels = build_channels(
            ChannelsConfig(
                email=EmailConfig(
                    host=smtp.host, port=smtp.port, security="none", from_address="a@example.com"
                )
            )
        )
        dispatch = DispatchLoop(Dispatcher(engine, channels), poll_s=0.2).start()
        journeys = JourneyEngine(
            engine,
            EngineConfig(default_tz="Asia/Bangkok", channels=frozenset({ChannelName.EMAIL})),
            poll_s=0.2,
            on_queued=dispatch.notify,
        ).start()
        processor = Processor(engine, poll_s=0.2, on_applied=journeys.notify).start()
        try:
            # the throughput run appended a "Sent" event per message: the log processor files
            # them first (untimed), or the first samples would wait behind them
            with engine.connect() as conn:
                newest = last_seq(conn)
                backlog = newest - get_checkpoint(conn, PROFILES_CHECKPOINT)
            begun = time.perf_counter()
            late = threading.Event()
            timer = threading.Timer(600, late.set)
            timer.start()
            caught_up = processor.wait_until(newest, late)
            timer.cancel()
            if not caught_up:
                raise RuntimeError(f"the log processor did not file {backlog:,} entries in 600 s")
            took = time.perf_counter() - begun
            log(f"  the log processor filed {backlog:,} entries before the samples: {took:.1f} s")
            for i in range(samples + 5):
                user = f"latency-{uuid.uuid4().hex[:10]}"
                log_message(
                    {
                        "type": "identify",
                        "userId": user,
                        "messageId": uuid.uuid4().hex,
                        "traits": {"email": f"{user}@example.com", "first_name": "Lan"},
                        "context": {"consent": {"categoryPreferences": {"marketing": True}}},
                    }
                )
                processor.notify()
                time.sleep(0.3)  # the identify is processed; the journey starts from the cart
                before = len(smtp.delivered)
                begun = time.perf_counter()
                log_message(
                    {
                        "type": "track",
                        "event": "Product Added",
                        "userId": user,
                        "messageId": uuid.uuid4().hex,
                        "properties": {"product": "áo dài"},
                    }
                )
                processor.notify()
                while len(smtp.delivered) == before:
                    if time.perf_counter() - begun > 30:
                        raise RuntimeError("no email within 30 s")
                    time.sleep(0.002)
                if i >= 5:
                    latencies.append(time.perf_counter() - begun)
        finally:
            processor.stop()
            journeys.stop()
            dispatch.stop()
            engine.dispose()
    ms = sorted(x * 1000 for x in latencies)
    return {
        "samples": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "p90_ms": round(ms[int(0.9 * len(ms))], 1),
        "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 1),
        "max_ms": round(ms[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--json", type=Path, help="Write the results here too.")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as work:
        for kind in ["sqlite", "postgresql"] if args.store == "both" else [args.store]:
            store = Store(kind, Path(work))
            try:
                log(f"{kind}: building {args.people:,} customers")
                build_store(store.url, args.people)
                log(f"{kind}: journey throughput")
                results[kind] = {"throughput": time_throughput(store.url, args.people)}
                log(f"{kind}: event-to-send latency")
                results[kind]["latency"] = time_latency(store.url, args.samples)
                log(json.dumps(results[kind]))
            finally:
                store.drop()
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
