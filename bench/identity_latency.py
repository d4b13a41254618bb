"""Incremental identity resolution: how long one new record takes to reach its profile.

On a store that already holds a resolved company (``bench/identity.py --keep DIR`` leaves one),
this sends new records one at a time the way a webhook does: the record is logged, then the
log processor applies that one entry (standardize, update the identity graph, score it against
its candidates, re-cluster what it touches, write the profile, its household and golden
record) in its own transaction. Each step is timed; the report gives the median, p90, p99 and
max over ``--records`` records, after ``--warmup`` untimed ones.

The new records are realistic arrivals: a POS receipt with an existing customer's phone and a
nickname, a support ticket with a known email and a mistyped name, a brand-new customer with
a fresh phone, and a shipment naming an existing order (a quarter each, fixed seed).

    .venv/bin/python bench/identity_latency.py --store-url sqlite:////tmp/run/identity.db \
        --records 2000 --json latency.json
"""

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from c360.eventlog.service import append, ensure_source
from c360.ingest.mapping import parse_mapping
from c360.ingest.records import IncomingRow, prepare_batch, register_mapping
from c360.storage import open_store
from c360.storage.tables import identity_nodes, profiles, source_records
from c360.workers.processor import process_available

MAPPING = """
source: latency
kind: {kind}
record_id: id
defaults: {{default_region: {region}}}
fields:
  full_name: name
{extra}
identifiers:
  email: email
  phone: phone
"""


def _mapping(conn: Any, source_id: int, kind: str, region: str) -> Any:
    extra = "  order_id: order_id" if kind in ("order", "shipment") else ""
    text = MAPPING.format(kind=kind, region=region, extra=extra)
    parsed = parse_mapping(text)
    version = register_mapping(conn, source_id, parsed, text)
    from c360.ingest.records import mapping_versions

    return mapping_versions(conn, {(source_id, version)})[(source_id, version)]


def _samples(conn: Any, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """Existing records to derive arrivals from: their phone, email, name and order id."""
    rows = conn.execute(
        select(source_records.c.kind, source_records.c.fields)
        .where(source_records.c.kind.in_(["contact", "order"]))
        .limit(50_000)
    ).all()
    picked = rng.sample(rows, min(len(rows), n * 4))
    return [dict(r.fields) | {"_kind": r.kind} for r in picked]


def _arrival(i: int, base: dict[str, Any], rng: random.Random) -> tuple[str, dict[str, Any]]:
    name = " ".join(str(base.get(k) or "") for k in ("first_name", "last_name")).strip()
    phone, email = base.get("phone"), base.get("email")
    kind = i % 4
    if kind == 0 and phone:
        return "order", {"id": f"LAT-R{i}", "name": (base.get("first_name") or ""), "phone": phone}
    if kind == 1 and email:
        typo = name[:-1] + name[-1:] * 2 if name else ""
        return "ticket", {"id": f"LAT-T{i}", "name": typo, "email": email}
    if kind == 3 and base.get("order_id"):
        return "shipment", {"id": f"LAT-S{i}", "name": name, "order_id": base["order_id"]}
    fresh = f"+668{rng.randrange(10_000_000, 99_999_999)}"
    return "contact", {"id": f"LAT-C{i}", "name": f"Newcomer {i}", "phone": fresh}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store-url", required=True)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    engine = open_store(args.store_url)
    rng = random.Random(args.seed)
    while process_available(engine, 2000):
        pass
    with engine.begin() as conn:
        source_id = ensure_source(conn, "latency").id
        mappings = {
            kind: _mapping(conn, source_id, kind, "TH")
            for kind in ("order", "ticket", "shipment", "contact")
        }
    with engine.connect() as conn:
        bases = _samples(conn, args.records + args.warmup, rng)
        node_count = conn.execute(select(func.count()).select_from(identity_nodes)).scalar_one()
        profile_count = conn.execute(
            select(func.count()).select_from(profiles).where(profiles.c.merged_into.is_(None))
        ).scalar_one()
    timings: dict[str, list[float]] = {}
    total = args.records + args.warmup
    for i in range(total):
        kind, row = _arrival(i, bases[i % len(bases)], rng)
        with engine.begin() as conn:
            prepared = prepare_batch(
                conn, source_id, mappings[kind], [IncomingRow(row, f"latency:{i}")], stage="webhook"
            )
            append(conn, prepared.rows, prepared.rejects)
        started = time.perf_counter()
        applied = process_available(engine, 1)
        elapsed_ms = (time.perf_counter() - started) * 1000
        assert applied == 1
        if i >= args.warmup:
            timings.setdefault(kind, []).append(elapsed_ms)
            timings.setdefault("all", []).append(elapsed_ms)
    report = {
        "store": engine.dialect.name,
        "nodes": node_count,
        "profiles": profile_count,
        "records": args.records,
        "per_kind": {k: _stats(v) for k, v in sorted(timings.items())},
    }
    print(_markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    return {
        "count": len(ordered),
        "median_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(pct(0.90), 2),
        "p99_ms": round(pct(0.99), 2),
        "max_ms": round(ordered[-1], 2),
    }


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        f"store: {report['store']}, {report['nodes']:,} nodes, {report['profiles']:,} profiles",
        "",
        "| arrival | records | median ms | p90 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, s in report["per_kind"].items():
        lines.append(
            f"| {kind} | {s['count']} | {s['median_ms']} | {s['p90_ms']} | {s['p99_ms']} "
            f"| {s['max_ms']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
