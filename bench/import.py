"""Import throughput: the sample company's files, end to end, on SQLite (or PostgreSQL).

Generates the sample company (or reuses one), then imports every file of its manifest with
``c360 import`` semantics: read, log, standardize, store records. Reports source rows per second
per file and overall, the median of ``--repeat`` runs each on a fresh store.

    .venv/bin/python bench/import.py --customers 1000000 --repeat 1
    .venv/bin/python bench/import.py --customers 100000 --store postgresql

Goal (issue 3): at least 20,000 source rows/s end to end on SQLite.
"""

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from c360.demo.generate import Manifest, generate_company
from c360.ingest.mapping import load_mapping
from c360.storage import open_store
from c360.workers.imports import import_file

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def ensure_company(directory: Path, customers: int, seed: int) -> Path:
    if (directory / "manifest.json").exists():
        manifest = Manifest.load(directory)
        if (manifest.customers, manifest.seed) == (customers, seed):
            return directory
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    generate_company(directory, customers=customers, seed=seed)
    print(f"generated {customers:,} customers in {time.perf_counter() - started:.0f} s", flush=True)
    return directory


def fresh_store(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        path = workdir / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS c360_bench_import WITH (FORCE)"))
        conn.execute(text("CREATE DATABASE c360_bench_import"))
    admin.dispose()
    return PG_URL.rsplit("/", 1)[0] + "/c360_bench_import"


def run_once(company: Path, url: str) -> dict[str, float]:
    engine = open_store(url)
    manifest = Manifest.load(company)
    results: dict[str, float] = {}
    total_rows = 0
    started = time.perf_counter()
    for entry in manifest.files:
        mapping, text = load_mapping(company / entry.mapping)
        summary = import_file(
            engine, company / entry.path, source=entry.source, mapping=mapping, mapping_text=text
        )
        rate = summary.read / summary.elapsed_s if summary.elapsed_s else 0.0
        print(
            f"  {entry.path:32} {summary.read:>10,} rows {summary.elapsed_s:8.1f} s "
            f"{rate:>10,.0f} rows/s (quarantined {summary.quarantined:,})",
            flush=True,
        )
        results[entry.path] = rate
        total_rows += summary.read
    elapsed = time.perf_counter() - started
    results["__total__"] = total_rows / elapsed
    results["__rows__"] = total_rows
    results["__seconds__"] = elapsed
    engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--data", type=Path, help="where to keep the generated company")
    parser.add_argument("--keep", action="store_true", help="keep the generated company")
    parser.add_argument("--json", type=Path, help="write every run's figures here too")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="c360-bench-import-"))
    company = args.data or workdir / "company"
    try:
        ensure_company(company, args.customers, args.seed)
        totals = []
        runs = []
        for run in range(args.repeat):
            print(f"run {run + 1}/{args.repeat} on {args.store}", flush=True)
            result = run_once(company, fresh_store(args.store, workdir))
            totals.append(result["__total__"])
            runs.append(result)
            print(
                f"  total {int(result['__rows__']):,} rows in {result['__seconds__']:.1f} s: "
                f"{result['__total__']:,.0f} rows/s",
                flush=True,
            )
        print(
            f"median over {len(totals)} run(s): {statistics.median(totals):,.0f} source rows/s "
            f"({args.customers:,} customers, {args.store})"
        )
        if args.json:
            summary = {
                "customers": args.customers,
                "store": args.store,
                "rows": int(runs[-1]["__rows__"]),
                "rows_per_s": statistics.median(totals),
                "seconds": statistics.median(r["__seconds__"] for r in runs),
                "runs": [
                    {
                        "rows_per_s": r["__total__"],
                        "seconds": r["__seconds__"],
                        "files": {k: v for k, v in r.items() if not k.startswith("__")},
                    }
                    for r in runs
                ],
            }
            args.json.write_text(json.dumps(summary, indent=2) + "\n")
    finally:
        if not args.keep and args.data is None:
            shutil.rmtree(workdir, ignore_errors=True)
        elif args.data is None:
            print(f"kept {workdir}", file=sys.stderr)


if __name__ == "__main__":
    main()
