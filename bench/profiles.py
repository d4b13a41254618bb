"""Customer 360 reads over HTTP, and how fast a new event reaches the computed traits.

One run loads the sample company into a fresh store (or reuses ``--store-url``): every file
through ``c360 import`` and the web/app events through the tracking API, as ``c360 demo``
does. It then starts ``c360 serve`` on that store and measures, over a keep-alive HTTP
connection, one request at a time:

- **profile by identifier**: ``GET /api/profiles/by-identifier/{email|phone}/{value}``, the
  value as a person would type it (a phone in local format: ``081...``, ``091...``);
- **timeline first page**: ``GET /api/profiles/{id}/timeline`` (50 items);
- **search**: ``GET /api/profiles?query=`` with a family name and the start of a given name;
- **event to trait**: an ``Order Completed`` track sent to ``/v1/track`` for a known user, until
  the change feed's stream (``/api/changes/stream``) says that user's ``order_count`` changed.

Each gives the median, p90, p99 and max in milliseconds after untimed warm-up requests.

    .venv/bin/python bench/profiles.py --customers 10000 --store sqlite --json profiles.json
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.identity import (  # noqa: E402
    Store,
    _wait_ready,
    c360,
    ensure_company,
    free_port,
    import_company,
    log,
    send_web_events,
)


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)
    if not ms:
        return {}

    def at(q: float) -> float:
        return round(ms[min(len(ms) - 1, int(q * len(ms)))], 2)

    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p90_ms": at(0.90),
        "p99_ms": at(0.99),
        "max_ms": round(ms[-1], 2),
    }


def local_phone(e164: str) -> str:
    """``+66812345678`` as a Thai writes it (``081-234-5678``), ``+84...`` as ``0...``."""
    if e164.startswith("+66") and len(e164) == 12:
        national = "0" + e164[3:]
        return f"{national[:3]}-{national[3:6]}-{national[6:]}"
    if e164.startswith("+84"):
        return "0" + e164[3:]
    return e164


def sample_profiles(url: str, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """Live profiles with an email or phone, and the users the web shop knows."""
    from sqlalchemy import select

    from c360.storage import open_store
    from c360.storage.tables import identity_nodes, profiles

    engine = open_store(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(profiles.c.id, profiles.c.golden).where(
                    profiles.c.merged_into.is_(None), profiles.c.golden.is_not(None)
                )
            ).all()
            users = conn.execute(
                select(identity_nodes.c.node_key, identity_nodes.c.profile_id).where(
                    identity_nodes.c.node_type == "user_id"
                )
            ).all()
    finally:
        engine.dispose()
    found = []
    for pid, golden in rows:
        values = {k: v.get("value") for k, v in (golden or {}).get("values", {}).items()}
        if values.get("email") or values.get("phone"):
            found.append(
                {
                    "id": pid,
                    "email": values.get("email"),
                    "phone": values.get("phone"),
                    "last_name": values.get("last_name"),
                    "first_name": values.get("first_name"),
                }
            )
    rng.shuffle(found)
    user_list = [{"user_id": u, "profile_id": p} for u, p in users if p]
    rng.shuffle(user_list)
    return [*found[:n], *[{"users": user_list[:n]}]]


def timed(client: httpx.Client, path: str, params: dict[str, Any] | None = None) -> float:
    started = time.perf_counter()
    response = client.get(path, params=params)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
    return elapsed


def measure_reads(
    base: str, admin_key: str, people: list[dict[str, Any]], requests: int, warmup: int
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {admin_key}"}
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for name, call in (
            ("profile_by_identifier", _by_identifier),
            ("profile_by_id", _by_id),
            ("timeline_first_page", _timeline),
            ("search", _search),
        ):
            for i in range(warmup):
                call(client, people[i % len(people)])
            samples = [call(client, people[i % len(people)]) for i in range(requests)]
            out[name] = percentiles(samples)
            log(f"  {name}: {out[name]}")
    return out


def _by_identifier(client: httpx.Client, person: dict[str, Any]) -> float:
    if person.get("phone"):
        return timed(client, f"/api/profiles/by-identifier/phone/{local_phone(person['phone'])}")
    return timed(client, f"/api/profiles/by-identifier/email/{person['email']}")


def _by_id(client: httpx.Client, person: dict[str, Any]) -> float:
    return timed(client, f"/api/profiles/{person['id']}")


def _timeline(client: httpx.Client, person: dict[str, Any]) -> float:
    return timed(client, f"/api/profiles/{person['id']}/timeline", {"limit": 50})


def _search(client: httpx.Client, person: dict[str, Any]) -> float:
    words = [w for w in (person.get("last_name"), person.get("first_name")) if w]
    if not words:
        return timed(client, "/api/profiles", {"query": person.get("email") or person["phone"]})
    query = " ".join([*words[:-1], str(words[-1])[:3]])
    return timed(client, "/api/profiles", {"query": query})


class FeedWatcher(threading.Thread):
    """Follows ``/api/changes/stream``; records when each profile's order count changes."""

    def __init__(self, base: str, admin_key: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.headers = {"Authorization": f"Bearer {admin_key}"}
        self.seen: dict[str, float] = {}
        self.arrived = threading.Condition()
        self.ready = threading.Event()
        self.stopping = threading.Event()

    def run(self) -> None:
        timeout = httpx.Timeout(10, read=1.0)
        last: str | None = None
        with httpx.Client(timeout=timeout, headers=self.headers) as client:
            while not self.stopping.is_set():
                resume = {"Last-Event-ID": last} if last else {}
                try:
                    with client.stream(
                        "GET",
                        f"{self.base}/api/changes/stream",
                        params={"kinds": "trait_changed"},
                        headers=resume,
                    ) as response:
                        for line in response.iter_lines():
                            self.ready.set()
                            if line.startswith("id: "):
                                last = line[4:]
                            if not line.startswith("data: "):
                                continue
                            change = orjson.loads(line[6:])
                            if change["detail"].get("trait") == "computed.order_count":
                                with self.arrived:
                                    self.seen[change["profile_id"]] = time.perf_counter()
                                    self.arrived.notify_all()
                except httpx.ReadTimeout:
                    continue

    def wait_for(self, profile_id: str, after: float, timeout_s: float) -> float | None:
        deadline = time.perf_counter() + timeout_s
        with self.arrived:
            while True:
                at = self.seen.get(profile_id)
                if at is not None and at >= after:
                    return at
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self.arrived.wait(left)


def measure_event_to_trait(
    base: str, write_key: str, admin_key: str, users: list[dict[str, Any]], events: int
) -> dict[str, Any]:
    watcher = FeedWatcher(base, admin_key)
    watcher.start()
    if not watcher.ready.wait(30):
        raise RuntimeError("the change stream did not open")
    samples: list[float] = []
    missed = 0
    with httpx.Client(base_url=base, auth=(write_key, ""), timeout=30) as client:
        for i in range(events):
            user = users[i % len(users)]
            sent = time.perf_counter()
            response = client.post(
                "/v1/track",
                json={
                    "userId": user["user_id"],
                    "event": "Order Completed",
                    "messageId": str(uuid.uuid4()),
                    "properties": {
                        "order_id": f"bench-{uuid.uuid4().hex[:12]}",
                        "revenue": 990,
                        "currency": "THB",
                    },
                },
            )
            if response.status_code != 200:
                raise RuntimeError(f"/v1/track answered {response.status_code}: {response.text}")
            arrived = watcher.wait_for(user["profile_id"], sent, 10.0)
            if arrived is None:
                missed += 1
            else:
                samples.append(arrived - sent)
    watcher.stopping.set()
    result = percentiles(samples)
    result["missed"] = missed
    log(f"  event_to_trait: {result}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data", type=Path, help="the sample company: reuse or generate here")
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--store-url", help="an already loaded store (nothing is imported)")
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per read")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--events", type=int, default=300, help="timed event-to-trait events")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", type=Path, help="work here and keep the store")
    args = parser.parse_args()

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="c360-bench-profiles-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    results: dict[str, Any] = {"store": args.store}
    store: Store | None = None
    try:
        if args.store_url:
            url = args.store_url
        else:
            data = args.data or workdir / "company"
            manifest = ensure_company(data, args.customers, args.seed)
            results["customers"] = int(manifest["customers"])
            store = Store(args.store, workdir)
            url = store.url
            c360(url, "db", "upgrade")
            log(f"importing the sample company into {args.store}")
            results["import_s"] = round(import_company(url, data, manifest), 1)
            _sent_s, total_s, pending = send_web_events(url, data / manifest["web_events"], workdir)
            results["web_events_s"] = round(total_s, 1)
            if pending:
                raise RuntimeError(f"{pending} log entries were not applied in time")
        people = sample_profiles(url, 5000, rng)
        users = people.pop()["users"]
        results["profiles_sampled"] = len(people)
        admin = c360(url, "keys", "create", "--name", "bench admin", "--role", "admin")
        admin_key = admin.stdout.strip().splitlines()[-1].strip()
        writer = c360(
            url, "keys", "create", "--name", "bench", "--role", "writer", "--source", "web"
        )
        write_key = writer.stdout.strip().splitlines()[-1].strip()
        port = free_port()
        env = dict(os.environ, C360_DATABASE_URL=url)
        with (workdir / "serve.log").open("ab") as server_log:
            server = subprocess.Popen(
                [sys.executable, "-m", "c360", "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=ROOT,
                stdout=server_log,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_ready(server, port, workdir / "serve.log")
                base = f"http://127.0.0.1:{port}"
                log(f"reads over HTTP ({args.requests} timed requests each)")
                results["reads"] = measure_reads(
                    base, admin_key, people, args.requests, args.warmup
                )
                log(f"event to computed trait ({args.events} events, one at a time)")
                results["event_to_trait"] = measure_event_to_trait(
                    base, write_key, admin_key, users, args.events
                )
            finally:
                server.terminate()
                server.wait(30)
    finally:
        if store is not None and args.keep is None:
            store.drop()
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
