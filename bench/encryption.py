"""What encryption at rest costs: the sample company imported and applied to profiles, and
tracked events appended to the log, with and without ``C360_ENCRYPTION_KEYS``, in alternating
runs on fresh stores; then one store in clear sealed by ``c360 encryption rotate``.

    .venv/bin/python bench/encryption.py --customers 10000 --repeat 3
    .venv/bin/python bench/encryption.py --customers 10000 --store postgresql

Reports the median seconds of each stage in clear and sealed, their ratio, and the rotation's
values per second (docs/encryption.md).
"""

import argparse
import importlib.util
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from c360.demo.generate import Manifest
from c360.eventlog.model import LogRow
from c360.eventlog.service import append, ensure_source
from c360.ingest.mapping import load_mapping
from c360.storage import open_store
from c360.storage.rekey import key_usage, rotate
from c360.storage.sealing import configure_sealing, new_key
from c360.workers.imports import import_file
from c360.workers.processor import process_available

_spec = importlib.util.spec_from_file_location(
    "bench_import", Path(__file__).with_name("import.py")
)
assert _spec is not None and _spec.loader is not None
bench_import: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_import)


def tracked(count: int) -> list[dict[str, Any]]:
    """``count`` track messages of the size the tracking API logs (about 700 bytes)."""
    return [
        {
            "type": "track",
            "messageId": f"m-{i}",
            "userId": f"u-{i % 5000}",
            "event": "Product Added",
            "properties": {"sku": f"TH-{i % 300:03}", "price": 1290, "category": "shoes"},
            "context": {
                "ip": "203.0.113.7",
                "userAgent": "Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile Safari/537.36",
                "traits": {"email": f"person{i % 5000}@example.co.th", "phone": "+66812345678"},
                "library": {"name": "analytics.js", "version": "2.11.1"},
            },
            "timestamp": "2026-11-23T03:00:00.123Z",
        }
        for i in range(count)
    ]


def log_events(url: str, messages: list[dict[str, Any]]) -> float:
    """Seconds to append ``messages`` to the log, 100 per transaction as ``/v1/batch`` does."""
    engine = open_store(url)
    with engine.begin() as conn:
        source_id = ensure_source(conn, "bench").id
    started = time.perf_counter()
    for start in range(0, len(messages), 100):
        rows: list[LogRow] = [
            {
                "source_id": source_id,
                "message_id": m["messageId"],
                "type": "track",
                "received_at_us": 0,
                "sent_at_us": None,
                "original_timestamp_us": None,
                "timestamp_us": 0,
                "payload": orjson.dumps(m).decode(),
            }
            for m in messages[start : start + 100]
        ]
        with engine.begin() as conn:
            append(conn, rows, [])
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def run_once(company: Path, url: str) -> dict[str, float]:
    """Import every file, then apply the log to profiles: seconds of each, and rows."""
    engine = open_store(url)
    manifest = Manifest.load(company)
    rows = 0
    started = time.perf_counter()
    for entry in manifest.files:
        mapping, text = load_mapping(company / entry.mapping)
        rows += import_file(
            engine, company / entry.path, source=entry.source, mapping=mapping, mapping_text=text
        ).read
    imported = time.perf_counter()
    while process_available(engine, 1000):
        pass
    processed = time.perf_counter()
    engine.dispose()
    return {"import_s": imported - started, "process_s": processed - imported, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--events", type=int, default=50_000, help="tracked events to log")
    parser.add_argument("--data", type=Path, help="where to keep the generated company")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="c360-bench-encryption-"))
    company = args.data or workdir / "company"
    keys = new_key("bench")
    try:
        bench_import.ensure_company(company, args.customers, args.seed)
        runs: dict[str, list[dict[str, float]]] = {"clear": [], "sealed": []}
        messages = tracked(args.events)
        for run in range(args.repeat):
            for mode in ("clear", "sealed") if run % 2 == 0 else ("sealed", "clear"):
                configure_sealing(keys if mode == "sealed" else None)
                result = run_once(company, bench_import.fresh_store(args.store, workdir))
                result["log_s"] = log_events(
                    bench_import.fresh_store(args.store, workdir), messages
                )
                runs[mode].append(result)
                print(
                    f"run {run + 1} {mode:6}: {int(result['rows']):,} rows imported in "
                    f"{result['import_s']:.1f} s, applied in {result['process_s']:.1f} s; "
                    f"{len(messages):,} tracked events logged in {result['log_s']:.2f} s",
                    flush=True,
                )
        print(f"\n{args.customers:,} customers, {args.store}, median of {args.repeat} run(s):")
        print("| stage | in clear (s) | sealed (s) | sealed / clear |")
        print("|---|---|---|---|")
        for stage in ("import_s", "process_s", "log_s"):
            clear = statistics.median(r[stage] for r in runs["clear"])
            sealed = statistics.median(r[stage] for r in runs["sealed"])
            print(f"| {stage[:-2]} | {clear:.1f} | {sealed:.1f} | {sealed / clear:.2f} |")

        configure_sealing(None)
        url = bench_import.fresh_store(args.store, workdir)
        run_once(company, url)
        configure_sealing(keys)
        engine = open_store(url)
        started = time.perf_counter()
        rotation = rotate(engine)
        elapsed = time.perf_counter() - started
        values = sum(rotation.rewritten.values())
        left = sum(c.clear for c in key_usage(engine))
        engine.dispose()
        print(
            f"\nrotate (clear to sealed): {values:,} values in {elapsed:.1f} s, "
            f"{values / elapsed:,.0f} values/s; {left} left in clear"
        )
    finally:
        configure_sealing(None)
        if args.data is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
