"""Ingest benchmark for the tracking API (``/v1/batch`` and ``/v1/track``) with durable acks.

For every store x mode x worker configuration and every run it:

1. creates a fresh store (a new SQLite file, or a new PostgreSQL database) and a writer key,
2. starts ``c360 serve`` as a subprocess on a free loopback port (``--worker``/``--no-worker``),
3. warms up, then drives load with ``wrk`` (bench/wrk/ingest.lua: every message of every
   request gets a unique messageId, so nothing is deduplicated away),
4. records events/s acknowledged with 200, non-200 answers (must be 0), latency p50/p99/p99.9
   and the CPU time of the server, of wrk and of PostgreSQL,
5. SIGKILLs the server (no graceful drain: what was acknowledged must already be committed) and
   checks ``acknowledged <= rows in event_log <= acknowledged + in flight``,
6. drops the store.

It also measures, in the same invocation, the parse ceiling: ``orjson.loads`` of the very same
request bodies on one core (events/s), and the rate of c360's own request decoding and
validation (``decode_envelope`` + ``accept_items``) on one core, for reference.

Medians over the runs are printed as a Markdown table (and written as JSON with ``--json``).

    .venv/bin/python bench/ingest.py --store both --mode both --duration 10 --runs 3

Needs /usr/bin/wrk; PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth) for
``--store postgresql``. ``--profile DIR`` additionally records a py-spy profile of the server
during one extra batch run per configuration (``.venv/bin/pip install py-spy``).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "wrk" / "ingest.lua"
PLACEHOLDER = "@@MID@@"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CLK_TCK = os.sysconf("SC_CLK_TCK")

GOALS = {  # mode -> (events/s at least, p99 ms below)
    "batch": (50_000, 250.0),
    "single": (8_000, 20.0),
}

# --------------------------------------------------------------------------------------------
# Payloads: realistic track messages from a Thai / Vietnamese shop (Segment analytics-python
# shape: type, messageId, userId/anonymousId, event, properties, context, timestamp).

_PRODUCTS = [
    ("ข้าวหอมมะลิ 5 กก.", "อาหารแห้ง", 289.0, "THB"),
    ("น้ำปลาแท้ ตราปลาหมึก", "เครื่องปรุง", 45.0, "THB"),
    ("เสื้อยืดผ้าฝ้าย สีขาว", "เสื้อผ้า", 199.0, "THB"),
    ("หูฟังไร้สาย บลูทูธ 5.3", "อิเล็กทรอนิกส์", 1590.0, "THB"),
    ("Cà phê phin Trung Nguyên 500g", "Đồ uống", 185000.0, "VND"),
    ("Nước mắm Phú Quốc 40 độ đạm", "Gia vị", 79000.0, "VND"),
    ("Áo dài lụa tơ tằm thêu tay", "Thời trang", 2450000.0, "VND"),
    ("Nồi cơm điện tử Sunhouse 1.8L", "Đồ gia dụng", 1290000.0, "VND"),
]
_EVENTS = [
    "Product Viewed",
    "Product Added",
    "Checkout Started",
    "Order Completed",
    "Products Searched",
    "Cart Viewed",
]
_LOCALES = [
    ("th-TH", "Asia/Bangkok", "กรุงเทพมหานคร"),
    ("vi-VN", "Asia/Ho_Chi_Minh", "Hà Nội"),
    ("vi-VN", "Asia/Ho_Chi_Minh", "Thành phố Hồ Chí Minh"),
    ("th-TH", "Asia/Bangkok", "เชียงใหม่"),
]
_AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
]


PAYLOADS = ("browser", "server")
"""browser: what analytics.js sends from a shop's site (user agent, IP, locale, location; about
690 bytes). server: what a server-side SDK such as analytics-python sends for the same event
(library context only; about 330 bytes, the size the issue's 1,000,000 events/s orjson
figure describes)."""


def make_message(rng: random.Random, now_ms: int, payload: str = "browser") -> dict[str, Any]:
    name, category, price, currency = rng.choice(_PRODUCTS)
    locale, tz, city = rng.choice(_LOCALES)
    event = rng.choice(_EVENTS)
    user = rng.randrange(1, 200_000)
    quantity = rng.randint(1, 3)
    properties: dict[str, Any] = {
        "product_id": f"SKU-{rng.randrange(10_000, 99_999)}",
        "name": name,
        "category": category,
        "price": price,
        "quantity": quantity,
        "currency": currency,
    }
    if event == "Order Completed":
        properties.update(
            order_id=f"ORD-{rng.randrange(10**7)}",
            revenue=price * quantity,
            coupon=rng.choice(["", "SONGKRAN2026", "TET2026"]),
        )
    if event == "Products Searched":
        properties["query"] = rng.choice(["ข้าวหอมมะลิ", "cà phê sữa đá", "áo dài", "ต้มยำ"])
    ts = now_ms - rng.randrange(0, 5_000)
    message: dict[str, Any] = {
        "type": "track",
        "messageId": PLACEHOLDER,
        "event": event,
        "properties": properties,
        "context": {
            "library": {"name": "analytics-python", "version": "2.3.3"},
            "locale": locale,
            "timezone": tz,
            "ip": f"{rng.choice([27, 49, 113, 171])}.{rng.randrange(256)}."
            f"{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "userAgent": rng.choice(_AGENTS),
            "location": {"city": city, "country": "TH" if locale == "th-TH" else "VN"},
        },
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts / 1000))
        + f".{ts % 1000:03d}Z",
    }
    if payload == "server":
        message["context"] = {"library": message["context"]["library"]}
        message["userId"] = f"user-{user}"
        return message
    if rng.random() < 0.7:
        message["userId"] = f"user-{user}"
    message["anonymousId"] = f"anon-{rng.getrandbits(64):016x}"
    return message


def batch_template(rng: random.Random, size: int, payload: str = "browser") -> bytes:
    now_ms = int(time.time() * 1000)
    messages = [make_message(rng, now_ms, payload) for _ in range(size)]
    sent_at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return orjson.dumps({"batch": messages, "sentAt": sent_at})


def single_template(rng: random.Random, payload: str = "browser") -> bytes:
    return orjson.dumps(make_message(rng, int(time.time() * 1000), payload))


def fill(template: bytes, prefix: str) -> bytes:
    """The template with unique ids (what wrk sends, for the in-process parse benchmarks)."""
    parts = template.split(PLACEHOLDER.encode())
    out = [parts[0]]
    for i, part in enumerate(parts[1:], 1):
        out.append(f"{prefix}-{i}".encode())
        out.append(part)
    return b"".join(out)


# --------------------------------------------------------------------------------------------
# Parse ceiling (one core, this process).


def _rate(fn: Any, bodies: list[bytes], events_per_body: int, seconds: float) -> float:
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for body in bodies:
            fn(body)
        n += len(bodies)
        now = time.perf_counter()
        if now >= deadline:
            return n * events_per_body / (now - start)


def parse_ceiling(template: bytes, per_req: int, seconds: float, repeats: int) -> dict[str, float]:
    """events/s of orjson.loads, and of c360's decode_envelope + accept_items, on one core."""
    from c360.ingest import Limits, accept_items, decode_envelope

    bodies = [fill(template, f"ceiling-{i}") for i in range(16)]
    limits = Limits()

    def c360_decode(body: bytes) -> None:
        envelope = decode_envelope(body, None if per_req > 1 else "track")
        rows, rejected = accept_items(
            envelope,
            None if per_req > 1 else "track",
            source_id=1,
            received_at_us=1_700_000_000_000_000,
            limits=limits,
        )
        assert len(rows) == per_req and not rejected, rejected

    orjson_rates, c360_rates = [], []
    for _ in range(repeats):
        orjson_rates.append(_rate(orjson.loads, bodies, per_req, seconds))
        c360_rates.append(_rate(c360_decode, bodies, per_req, seconds))
    return {
        "orjson_events_s": statistics.median(orjson_rates),
        "c360_decode_events_s": statistics.median(c360_rates),
        "body_bytes": len(bodies[0]),
    }


# --------------------------------------------------------------------------------------------
# Stores.


class Store:
    def __init__(self, kind: str, workdir: Path, tag: str) -> None:
        self.kind = kind
        if kind == "sqlite":
            self.path = workdir / f"{tag}.db"
            self.url = f"sqlite:///{self.path}"
            self.dbname = ""
        else:
            self.dbname = f"c360_bench_{os.getpid()}_{tag}"
            self.url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.dbname}"
            pg_admin(f'CREATE DATABASE "{self.dbname}"')

    def count_rows(self) -> int:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM event_log")).scalar_one())
        finally:
            engine.dispose()

    def commits(self) -> int | None:
        """PostgreSQL: committed transactions in this database so far (None on SQLite)."""
        if self.kind != "postgresql":
            return None
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_ADMIN_URL)
        try:
            with engine.connect() as conn:
                return int(
                    conn.execute(
                        text("SELECT xact_commit FROM pg_stat_database WHERE datname = :d"),
                        {"d": self.dbname},
                    ).scalar_one()
                )
        finally:
            engine.dispose()

    def drop(self) -> None:
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        else:
            pg_admin(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')


def pg_admin(sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------
# Processes and CPU accounting.


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """user+system CPU of a process and its threads (0 if gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def postgres_cpu(dbname: str) -> dict[int, float]:
    """CPU seconds per PostgreSQL process serving ``dbname``, plus the shared WAL writer,
    checkpointer and background writer (backends of other databases are left out)."""
    found: dict[int, float] = {}
    if not dbname:
        return found
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() not in ("postgres", "postmaster"):
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f" {dbname} " in title or any(
            aux in title for aux in ("walwriter", "checkpointer", "background writer")
        ):
            found[int(entry.name)] = cpu_seconds(int(entry.name))
    return found


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[pid] - before[pid] for pid in after if pid in before)


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies over all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


SRC: Path | None = None  # --src: run this copy of the c360 package instead of the installed one


def c360_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["C360_DATABASE_URL"] = url
    if SRC is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return env


def create_key(url: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "c360",
            "keys",
            "create",
            "--name",
            "bench",
            "--role",
            "writer",
            "--source",
            "bench",
        ],
        env=c360_env(url),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return done.stdout.strip().splitlines()[-1].strip()


class Server:
    """``c360 serve`` on a free loopback port, ready (``/readyz`` 200) once constructed;
    ``env`` replaces the default environment (the store and this checkout's code)."""

    def __init__(
        self, url: str, worker: bool, log_path: Path, env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.log = open(log_path, "ab")  # noqa: SIM115
        command = [
            sys.executable,
            "-m",
            "c360",
            "serve",
            "--port",
            str(self.port),
            "--worker" if worker else "--no-worker",
        ]
        self.proc = subprocess.Popen(
            command,
            env=c360_env(url) if env is None else env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"c360 serve exited with {self.proc.returncode}; see {log_path}")
            try:
                ready_url = f"{self.base}/readyz"  # always http://127.0.0.1
                with urllib.request.urlopen(ready_url, timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"c360 serve did not become ready; see {log_path}")
            time.sleep(0.1)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no graceful drain, so only what was committed before the ack survives."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()


def run_wrk(
    url: str,
    key: str,
    template: Path,
    nonce: str,
    duration: float,
    connections: int,
    threads: int,
    timeout_s: int,
) -> tuple[dict[str, Any], float]:
    auth = base64.b64encode(f"{key}:".encode()).decode()
    command = [
        "/usr/bin/wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={timeout_s}s",
        "--latency",
        "-s",
        str(LUA),
        "-H",
        f"Authorization: Basic {auth}",
        "-H",
        "Content-Type: application/json",
        url,
        "--",
        str(template),
        nonce,
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {stderr}\n{stdout}")
    for line in stdout.splitlines():
        if line.startswith("BENCHJSON "):
            return json.loads(line[len("BENCHJSON ") :]), 0.0
    raise RuntimeError(f"wrk printed no result:\n{stdout}\n{stderr}")


def children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


# --------------------------------------------------------------------------------------------
# One run.


@dataclass
class Run:
    store: str
    mode: str
    worker: bool
    connections: int
    run: int
    events_s: float = 0.0
    requests_s: float = 0.0
    acked_events: int = 0
    non_200: int = 0
    socket_errors: int = 0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    p999_ms: float = 0.0
    rows: int = 0
    rows_ok: bool = False
    in_flight_bound: int = 0
    server_cpu: float = 0.0  # cores used by the server process during the measured window
    wrk_cpu: float = 0.0
    pg_cpu: float = 0.0
    machine_busy: float = 0.0  # fraction of all cores busy
    other_cpu: float = 0.0  # cores used by everything else on the box (noise)
    rows_per_commit: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def one_run(
    args: argparse.Namespace,
    store_kind: str,
    mode: str,
    worker: bool,
    run: int,
    templates: dict[str, Path],
    workdir: Path,
    profile_dir: Path | None = None,
) -> Run:
    per_req = args.batch_size if mode == "batch" else 1
    connections = args.connections if mode == "batch" else args.single_connections
    path = "/v1/batch" if mode == "batch" else "/v1/track"
    tag = f"{store_kind}_{mode}_{'w' if worker else 'nw'}_{run}{'_prof' if profile_dir else ''}"
    result = Run(store_kind, mode, worker, connections, run)
    store = Store(store_kind, workdir, tag)
    server: Server | None = None
    try:
        key = create_key(store.url)
        server = Server(store.url, worker, workdir / f"{tag}.log")
        url = server.base + path
        nonce = f"r{run}{int(time.time() * 1000) % 100000}"
        warm = 0
        if args.warmup > 0:
            stats, _ = run_wrk(
                url,
                key,
                templates[mode],
                nonce + "w",
                args.warmup,
                connections,
                args.wrk_threads,
                args.timeout,
            )
            warm = (stats["requests"] - stats["err_status"]) * per_req
            result.non_200 += stats["err_status"]
        commits0 = store.commits()
        cpu0, wrk0, pg0 = cpu_seconds(server.proc.pid), children_cpu(), postgres_cpu(store.dbname)
        busy0, total0 = machine_busy()
        spy = None
        if profile_dir is not None:
            profile_dir.mkdir(parents=True, exist_ok=True)
            spy_base = profile_dir / tag
            spy = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--pid",
                    str(server.proc.pid),
                    "--duration",
                    str(int(args.duration)),
                    "--rate",
                    "100",
                    "--format",
                    "raw",
                    "--threads",
                    *{"cpu": [], "gil": ["--gil"], "wall": ["--idle"]}[args.profile_mode],
                    "-o",
                    f"{spy_base}.raw.txt",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        t0 = time.monotonic()
        stats, _ = run_wrk(
            url,
            key,
            templates[mode],
            nonce + "m",
            args.duration,
            connections,
            args.wrk_threads,
            args.timeout,
        )
        elapsed = time.monotonic() - t0
        cpu1, wrk1, pg1 = cpu_seconds(server.proc.pid), children_cpu(), postgres_cpu(store.dbname)
        busy1, total1 = machine_busy()
        commits1 = store.commits()
        if spy is not None:
            spy.wait(timeout=60)
        server.kill()
        acked_requests = stats["requests"] - stats["err_status"]
        seconds = stats["duration_us"] / 1e6
        result.acked_events = acked_requests * per_req
        result.events_s = result.acked_events / seconds
        result.requests_s = acked_requests / seconds
        result.non_200 += stats["err_status"]
        result.socket_errors = sum(
            stats[k] for k in ("err_connect", "err_read", "err_write", "err_timeout")
        )
        result.p50_ms = stats["p50_us"] / 1000
        result.p90_ms = stats["p90_us"] / 1000
        result.p99_ms = stats["p99_us"] / 1000
        result.p999_ms = stats["p999_us"] / 1000
        result.server_cpu = (cpu1 - cpu0) / elapsed
        result.wrk_cpu = (wrk1 - wrk0) / elapsed
        result.pg_cpu = cpu_delta(pg0, pg1) / elapsed
        result.machine_busy = (busy1 - busy0) / max(1.0, total1 - total0)
        result.other_cpu = max(
            0.0,
            result.machine_busy * (os.cpu_count() or 1)
            - result.server_cpu
            - result.wrk_cpu
            - result.pg_cpu,
        )
        if commits0 is not None and commits1 is not None and commits1 > commits0:
            result.rows_per_commit = result.acked_events / (commits1 - commits0)
        result.rows = store.count_rows()
        expected = warm + result.acked_events
        result.in_flight_bound = 2 * connections * per_req
        result.rows_ok = expected <= result.rows <= expected + result.in_flight_bound
        result.extra = {"warmup_events": warm, "expected_min_rows": expected}
        return result
    finally:
        if server is not None and server.proc.poll() is None:
            server.kill()
        store.drop()


# --------------------------------------------------------------------------------------------
# Reporting.


def med(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def summarise(runs: list[Run], ceilings: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, bool], list[Run]] = {}
    for r in runs:
        groups.setdefault((r.store, r.mode, r.worker), []).append(r)
    rows = []
    for (store, mode, worker), rs in groups.items():
        ceiling = ceilings[mode]["orjson_events_s"]
        events = [r.events_s for r in rs]
        goal_events, goal_p99 = GOALS[mode]
        row = {
            "store": store,
            "mode": mode,
            "worker": worker,
            "connections": rs[0].connections,
            "runs": len(rs),
            "events_s": med(events),
            "events_min": min(events),
            "events_max": max(events),
            "requests_s": med([r.requests_s for r in rs]),
            "p50_ms": med([r.p50_ms for r in rs]),
            "p99_ms": med([r.p99_ms for r in rs]),
            "p999_ms": med([r.p999_ms for r in rs]),
            "non_200": sum(r.non_200 for r in rs),
            "socket_errors": sum(r.socket_errors for r in rs),
            "rows_ok": all(r.rows_ok for r in rs),
            "server_cpu": med([r.server_cpu for r in rs]),
            "wrk_cpu": med([r.wrk_cpu for r in rs]),
            "pg_cpu": med([r.pg_cpu for r in rs]),
            "machine_busy": med([r.machine_busy for r in rs]),
            "other_cpu": med([r.other_cpu for r in rs]),
            "rows_per_commit": med([r.rows_per_commit for r in rs if r.rows_per_commit])
            if any(r.rows_per_commit for r in rs)
            else None,
            "ratio_to_ceiling": med(events) / ceiling,
            "events_per_server_core": med(
                [r.events_s / r.server_cpu for r in rs if r.server_cpu > 0]
            ),
        }
        row["goal_met"] = (
            row["events_s"] >= goal_events
            and row["p99_ms"] < goal_p99
            and row["non_200"] == 0
            and row["rows_ok"]
        )
        rows.append(row)
    return rows


def markdown(
    summary: list[dict[str, Any]], ceilings: dict[str, dict[str, float]], args: argparse.Namespace
) -> str:
    lines = [
        f"Medians of {args.runs} run(s) x {args.duration:g} s (after {args.warmup:g} s warm-up); "
        f"batch = {args.batch_size} events per /v1/batch request.",
        "",
        "| store | mode | worker | conns | events/s (min-max) | req/s | p50 ms | p99 ms | "
        "non-200 | rows = acked | server CPU | wrk CPU | PG CPU | other CPU | "
        "events/s per server core | x parse ceiling | goal |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|:-:|--:|--:|--:|--:|--:|--:|:-:|",
    ]
    for r in summary:
        goal_events, goal_p99 = GOALS[r["mode"]]
        lines.append(
            f"| {r['store']} | {r['mode']} | {'yes' if r['worker'] else 'no'} | "
            f"{r['connections']} | {r['events_s']:,.0f} ({r['events_min']:,.0f}-"
            f"{r['events_max']:,.0f}) | {r['requests_s']:,.0f} | {r['p50_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['non_200']} | {'yes' if r['rows_ok'] else 'NO'} | "
            f"{r['server_cpu']:.2f} | {r['wrk_cpu']:.2f} | "
            f"{r['pg_cpu']:.2f} | {r['other_cpu']:.2f} | "
            f"{r['events_per_server_core']:,.0f} | {r['ratio_to_ceiling']:.3f} | "
            f"{'met' if r['goal_met'] else 'NOT met'} (>= {goal_events:,} ev/s, "
            f"p99 < {goal_p99:g} ms) |"
        )
    lines.append("")
    lines.append("Parse ceiling (one core, same bodies, median of repeats):")
    lines.append("")
    lines.append("| mode | body bytes | orjson.loads events/s | c360 decode+validate events/s |")
    lines.append("|---|--:|--:|--:|")
    for mode, c in ceilings.items():
        lines.append(
            f"| {mode} | {c['body_bytes']:,.0f} | {c['orjson_events_s']:,.0f} | "
            f"{c['c360_decode_events_s']:,.0f} |"
        )
    return "\n".join(lines)


def profile_report(path: Path, top: int = 25) -> str:
    """Summarise a py-spy ``--format raw --threads`` profile: threads, self and total time."""
    per_thread: dict[str, int] = {}
    self_time: dict[str, int] = {}
    total_time: dict[str, int] = {}
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0].split(": ", 1)[-1]
        frames = [frames[0].split(": ", 1)[-1], *frames[1:]][1:]
        samples += count
        per_thread[thread] = per_thread.get(thread, 0) + count
        if frames:
            self_time[frames[-1]] = self_time.get(frames[-1], 0) + count
        for frame in set(frames):
            total_time[frame] = total_time.get(frame, 0) + count
    out = [
        f"{path.name}: {samples} samples (100 per second and thread sampled)",
        "",
        "| thread | share |",
        "|---|--:|",
    ]
    for thread, n in sorted(per_thread.items(), key=lambda kv: -kv[1]):
        out.append(f"| {thread} | {n / samples:.1%} |")
    out += ["", "| self (leaf) | share |", "|---|--:|"]
    for frame, n in sorted(self_time.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"| `{frame}` | {n / samples:.1%} |")
    out += ["", "| total (inclusive; start-up frames left out) | share |", "|---|--:|"]
    boring = (
        "runpy",
        "typer/",
        "c360/cli/",
        "c360/__main__",
        "uvicorn/main.py",
        "uvicorn/server.py",
        "uvicorn/_compat.py",
        "threading.py:10",
        "threading.py:9",
    )
    interesting = [(f, n) for f, n in total_time.items() if not any(b in f for b in boring)]
    for frame, n in sorted(interesting, key=lambda kv: -kv[1])[: top * 2]:
        out.append(f"| `{frame}` | {n / samples:.1%} |")
    return "\n".join(out)


def source_state() -> str:
    """The commit under test and whether src/ differs from it (others may be editing)."""
    if SRC is not None:
        import c360

        return f"package from --src {SRC} (imported from {Path(c360.__file__).parent})"

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    head = git("log", "-1", "--format=%h %ci")
    diff = git("diff", "HEAD", "--", "src")
    if not diff:
        return f"commit {head}, src/ clean"
    import hashlib

    digest = hashlib.sha256(diff.encode()).hexdigest()[:10]
    return f"commit {head}, src/ modified (diff sha256 {digest})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--mode", choices=["batch", "single", "both"], default="both")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--connections", type=int, default=8, help="concurrent connections for --mode batch"
    )
    parser.add_argument(
        "--single-connections",
        type=int,
        default=None,
        help="concurrent connections for --mode single (default: --connections)",
    )
    parser.add_argument(
        "--worker",
        dest="worker",
        action="store_true",
        default=None,
        help="only with the in-process worker",
    )
    parser.add_argument(
        "--no-worker",
        dest="worker",
        action="store_false",
        help="only API-only processes (default: both layouts)",
    )
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument(
        "--payload", choices=PAYLOADS, default="browser", help="message shape (see PAYLOADS)"
    )
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=10, help="wrk socket timeout (s)")
    parser.add_argument("--ceiling-seconds", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=360)
    parser.add_argument("--json", type=Path, help="write all runs and medians here")
    parser.add_argument(
        "--profile", type=Path, help="also record a py-spy raw profile of one extra run per config"
    )
    parser.add_argument(
        "--profile-mode",
        choices=["cpu", "gil", "wall"],
        default="cpu",
        help="py-spy samples: threads on CPU (default), only the thread "
        "holding the GIL, or every thread including idle ones (wall clock)",
    )
    parser.add_argument("--keep", type=Path, help="keep server logs and templates here")
    parser.add_argument(
        "--report-profile",
        type=Path,
        nargs="+",
        help="summarise py-spy raw profiles (from --profile) and exit",
    )
    parser.add_argument(
        "--src",
        type=Path,
        help="directory holding the c360 package to benchmark (e.g. a "
        "`git archive` snapshot's src/), put first on PYTHONPATH; default: the "
        "installed package (the working tree, which others may be editing)",
    )
    args = parser.parse_args()
    if args.src is not None:
        global SRC
        SRC = args.src.resolve()
        sys.path.insert(0, str(SRC))
    if args.report_profile:
        for path in args.report_profile:
            print(profile_report(path), end="\n\n")
        return 0
    if args.single_connections is None:
        args.single_connections = args.connections

    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    modes = ["batch", "single"] if args.mode == "both" else [args.mode]
    workers = [True, False] if args.worker is None else [args.worker]

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="c360-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    raw = {
        "batch": batch_template(rng, args.batch_size, args.payload),
        "single": single_template(rng, args.payload),
    }
    templates = {}
    for mode, body in raw.items():
        templates[mode] = workdir / f"{mode}.json"
        templates[mode].write_bytes(body)

    state = source_state()
    print(
        f"# c360 ingest benchmark  ({time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, "
        f"nproc={os.cpu_count()}, workdir={workdir}, {state})",
        file=sys.stderr,
    )
    ceilings = {}
    for mode in modes:
        per_req = args.batch_size if mode == "batch" else 1
        ceilings[mode] = parse_ceiling(raw[mode], per_req, args.ceiling_seconds, 3)
        print(
            f"  parse ceiling {mode}: orjson {ceilings[mode]['orjson_events_s']:,.0f} ev/s, "
            f"c360 decode {ceilings[mode]['c360_decode_events_s']:,.0f} ev/s",
            file=sys.stderr,
        )

    runs: list[Run] = []
    for store in stores:
        for mode in modes:
            for worker in workers:
                for run in range(1, args.runs + 1):
                    r = one_run(args, store, mode, worker, run, templates, workdir)
                    runs.append(r)
                    print(
                        f"  {store:10} {mode:6} worker={'yes' if worker else 'no ':3} "
                        f"run {run}: {r.events_s:>9,.0f} ev/s  p50 {r.p50_ms:6.1f} ms  "
                        f"p99 {r.p99_ms:6.1f} ms  non-200 {r.non_200}  "
                        f"sockerr {r.socket_errors}  rows {r.rows} "
                        f"({'ok' if r.rows_ok else 'MISMATCH'})  server {r.server_cpu:.2f} "
                        f"wrk {r.wrk_cpu:.2f} pg {r.pg_cpu:.2f} other {r.other_cpu:.2f}"
                        + (f"  rows/commit {r.rows_per_commit:.0f}" if r.rows_per_commit else ""),
                        file=sys.stderr,
                        flush=True,
                    )
                if args.profile is not None:
                    one_run(args, store, mode, worker, 0, templates, workdir, args.profile)
    summary = summarise(runs, ceilings)
    state_after = source_state()
    print(
        f"Source under test: {state}"
        + ("" if state_after == state else f" (CHANGED during the runs to: {state_after})")
    )
    print()
    print(markdown(summary, ceilings, args))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "source": [state, state_after],
                    "ceilings": ceilings,
                    "summary": summary,
                    "runs": [asdict(r) for r in runs],
                },
                indent=2,
            )
        )
    ok = all(r["non_200"] == 0 and r["rows_ok"] for r in summary)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
