"""Scale-out load test: accepted events/s with one and with two API processes, and the
back-pressure answer under overload.

For each number of API processes (``--apis 1 2``) and each run it:

1. creates a fresh PostgreSQL database and a writer key,
2. starts that many ``c360 serve --no-worker`` processes on free loopback ports (no worker, so
   only ingestion is measured; ``C360_MAX_WORKER_LAG=0`` turns back-pressure off),
3. sends a fixed total of events (``--events``, batches of ``--batch-size``) with a bounded
   loopback generator: ``--clients`` clients, each keeping ``--in-flight`` requests open, the
   clients spread evenly over the API processes; every message has a unique messageId,
4. records accepted events/s (events answered 200 over the wall time of the whole send),
   checks that the log holds exactly the accepted events, then stops the processes and drops
   the database.

It prints the median of the runs per configuration and the ratio of two processes to one.

With ``--overload-lag N`` it also starts one API process with ``C360_MAX_WORKER_LAG=N`` and no
worker, sends ``--overload-events`` events, and reports how many were accepted and refused
(429 ``worker_lag`` with ``Retry-After``) and that only the accepted ones are in the log.

    .venv/bin/python bench/cluster_load.py --runs 3 --events 100000 --clients 4 --in-flight 4 \\
        --overload-lag 2000

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth). Every process gets
``C360_EVENT_BUS`` (``--event-bus``, default nats://127.0.0.1:4222), as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.ingest import Server, pg_admin  # noqa: E402

# --------------------------------------------------------------------------------------------
# The generator: bounded, loopback only.


@dataclass
class LoadResult:
    """What the generator saw. Request ``i`` carried messageIds ``{run}-{i}-{0..size-1}``."""

    run: str
    batch_size: int
    statuses: list[int]  # per request: the HTTP status, 0 when the connection failed
    elapsed_s: float
    retry_after: Counter[str] = field(default_factory=Counter)  # on 429 answers
    refusal_codes: Counter[str] = field(default_factory=Counter)  # the JSON code of non-200s

    @property
    def accepted_events(self) -> int:
        return self.statuses.count(200) * self.batch_size

    @property
    def refused_events(self) -> int:
        return self.statuses.count(429) * self.batch_size

    @property
    def events_per_s(self) -> float:
        return self.accepted_events / self.elapsed_s if self.elapsed_s else 0.0

    def message_ids(self, status: int) -> set[str]:
        """The messageIds of every request answered with ``status``."""
        return {
            f"{self.run}-{i}-{k}"
            for i, s in enumerate(self.statuses)
            if s == status
            for k in range(self.batch_size)
        }


def batch_body(run: str, index: int, size: int) -> bytes:
    """Request ``index``: ``size`` track messages of ~300 bytes with unique messageIds."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return orjson.dumps(
        {
            "batch": [
                {
                    "type": "track",
                    "messageId": f"{run}-{index}-{k}",
                    "userId": f"load-{(index * size + k) % 5000}",
                    "event": "Product Viewed",
                    "properties": {"product_id": f"SKU-{k}", "price": 1290, "currency": "THB"},
                    "context": {"library": {"name": "analytics-python", "version": "2.3.3"}},
                    "timestamp": now,
                }
                for k in range(size)
            ],
            "sentAt": now,
        }
    )


async def _send_all(
    urls: list[str],
    write_key: str,
    requests: int,
    batch_size: int,
    clients: int,
    in_flight: int,
    run: str,
) -> LoadResult:
    statuses = [-1] * requests
    result = LoadResult(run, batch_size, statuses, 0.0)
    next_index = iter(range(requests))
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": f"Basic {token}"}

    async def client(url: str) -> None:
        connector = aiohttp.TCPConnector(limit=in_flight)
        async with aiohttp.ClientSession(
            base_url=url, headers=headers, connector=connector
        ) as session:

            async def lane() -> None:
                for index in next_index:
                    body = batch_body(run, index, batch_size)
                    try:
                        async with session.post("/v1/batch", data=body) as response:
                            statuses[index] = response.status
                            if response.status != 200:
                                answer = await response.read()
                                try:
                                    code = str(orjson.loads(answer).get("code"))
                                except (orjson.JSONDecodeError, AttributeError):
                                    code = "?"
                                result.refusal_codes[code] += 1
                                if response.status == 429:
                                    result.retry_after[
                                        response.headers.get("Retry-After", "missing")
                                    ] += 1
                            else:
                                await response.read()
                    except aiohttp.ClientError:
                        statuses[index] = 0

            await asyncio.gather(*(lane() for _ in range(in_flight)))

    started = time.perf_counter()
    await asyncio.gather(*(client(urls[c % len(urls)]) for c in range(clients)))
    result.elapsed_s = time.perf_counter() - started
    return result


def send_load(
    urls: list[str],
    write_key: str,
    events: int,
    batch_size: int = 100,
    clients: int = 4,
    in_flight: int = 4,
) -> LoadResult:
    """Send ``events`` events (rounded up to whole batches) to ``urls``: ``clients`` clients,
    spread over the URLs, each with ``in_flight`` requests open; nothing is retried."""
    run = uuid.uuid4().hex[:8]
    requests = -(-events // batch_size)
    return asyncio.run(_send_all(urls, write_key, requests, batch_size, clients, in_flight, run))


# --------------------------------------------------------------------------------------------
# Stores and processes.


def new_database() -> str:
    name = f"c360_bench_cluster_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    pg_admin(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_database(url: str) -> None:
    pg_admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def create_writer_key(url: str) -> str:
    """Migrate the store and make a writer key for source ``bench``."""
    sys.path.insert(0, str(ROOT / "src"))
    from c360.privacy.keys import Role, create_key
    from c360.storage import open_store

    engine = open_store(url)
    try:
        with engine.begin() as conn:
            _, key = create_key(conn, name="bench", role=Role.WRITER, source="bench")
    finally:
        engine.dispose()
    return key


def logged_message_ids(url: str) -> Counter[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return Counter(m for (m,) in conn.execute(text("SELECT message_id FROM event_log")))
    finally:
        engine.dispose()


def process_env(url: str, event_bus: str, **extra: str) -> dict[str, str]:
    path = [str(ROOT / "src"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(path),
        "C360_DATABASE_URL": url,
        "C360_EVENT_BUS": event_bus,
        **extra,
    }


# --------------------------------------------------------------------------------------------
# Runs.


def throughput_run(args: argparse.Namespace, apis: int, workdir: Path) -> dict[str, Any]:
    url = new_database()
    processes: list[Server] = []
    try:
        key = create_writer_key(url)
        env = process_env(url, args.event_bus, C360_MAX_WORKER_LAG="0")
        for n in range(apis):
            processes.append(Server(url, False, workdir / f"api-{apis}-{n}.log", env))
        urls = [p.base for p in processes]
        send_load(urls, key, args.batch_size * 20, args.batch_size, args.clients, 1)  # warm-up
        result = send_load(urls, key, args.events, args.batch_size, args.clients, args.in_flight)
        stored = logged_message_ids(url)
    finally:
        for process in processes:
            process.kill()
        drop_database(url)
    accepted = result.message_ids(200)
    return {
        "apis": apis,
        "events_per_s": result.events_per_s,
        "accepted": result.accepted_events,
        "other_answers": {str(s): n for s, n in Counter(result.statuses).items() if s != 200},
        "elapsed_s": result.elapsed_s,
        "accepted_not_logged": len(accepted - stored.keys()),
        "logged_twice": sum(1 for n in stored.values() if n > 1),
    }


def overload_run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    url = new_database()
    process: Server | None = None
    try:
        key = create_writer_key(url)
        env = process_env(url, args.event_bus, C360_MAX_WORKER_LAG=str(args.overload_lag))
        process = Server(url, False, workdir / "api-overload.log", env)
        result = send_load(
            [process.base], key, args.overload_events, args.batch_size, args.clients, 2
        )
        stored = logged_message_ids(url)
    finally:
        if process is not None:
            process.kill()
        drop_database(url)
    return {
        "max_worker_lag": args.overload_lag,
        "sent": len(result.statuses) * args.batch_size,
        "accepted": result.accepted_events,
        "refused_429": result.refused_events,
        "codes": dict(result.refusal_codes),
        "retry_after": dict(result.retry_after),
        "accepted_not_logged": len(result.message_ids(200) - stored.keys()),
        "refused_but_logged": len(result.message_ids(429) & stored.keys()),
        "logged": sum(stored.values()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apis", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--overload-lag", type=int, default=0, help="0: no overload run")
    parser.add_argument("--overload-events", type=int, default=20_000)
    parser.add_argument("--event-bus", default="nats://127.0.0.1:4222")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="c360-cluster-load-") as tmp:
        workdir = Path(tmp)
        for run in range(args.runs):
            for apis in args.apis:  # interleaved, so a busy spell hits both configurations
                found = throughput_run(args, apis, workdir)
                found["run"] = run
                print(json.dumps(found), file=sys.stderr)
                runs.append(found)
        overload = overload_run(args, workdir) if args.overload_lag else None

    medians = {
        apis: statistics.median(r["events_per_s"] for r in runs if r["apis"] == apis)
        for apis in args.apis
    }
    print(
        f"{args.events:,} events per run in batches of {args.batch_size}, {args.clients} "
        f"clients x {args.in_flight} in flight, {args.runs} runs\n"
    )
    print("| API processes | accepted events/s (median) | runs | non-200 | lost or doubled |")
    print("|--:|--:|---|--:|--:|")
    for apis in args.apis:
        mine = [r for r in runs if r["apis"] == apis]
        print(
            f"| {apis} | {medians[apis]:,.0f} | "
            + ", ".join(f"{r['events_per_s']:,.0f}" for r in mine)
            + f" | {sum(sum(r['other_answers'].values()) for r in mine)} | "
            f"{sum(r['accepted_not_logged'] + r['logged_twice'] for r in mine)} |"
        )
    if 1 in medians and 2 in medians:
        print(f"\nratio 2 / 1 processes: {medians[2] / medians[1]:.2f}")
    if overload is not None:
        print(f"\noverload: {json.dumps(overload)}")
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "overload": overload}, indent=2))
    bad = sum(r["accepted_not_logged"] + r["logged_twice"] for r in runs)
    if overload is not None:
        bad += overload["accepted_not_logged"] + overload["refused_but_logged"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
