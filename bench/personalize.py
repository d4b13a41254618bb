"""Personalisation latency: ``GET /api/profiles/{id}/recommendations``, ``GET
/api/personalize/{id}`` and the public ``GET /p/v1/personalize``, in-process (Starlette's
TestClient through the real FastAPI app), on a generated shop.

The store is written directly (profiles' view documents, order and order-line records with
their identity nodes, ``Order Completed`` events, product records), as ``bench/segments.py``
does, because importing through the full pipeline takes far longer than the personalisation
being measured. It holds ``--profiles`` people (60 % Thai, 40 % Vietnamese) buying about
``--lines`` order lines of ``--products`` products (Thai and Vietnamese names; popularity by a
Zipf law, each person favouring one or two categories, so co-purchase has structure; 3 % out
of stock), 15 % of orders tracked as ``Order Completed`` events instead of records, ten
tracked events per person, five segments and eight personalisation rules on three placements
(one testing events, so deciding reads the person's events too).

Measured per store:

- **model build**: ``refresh_model(full=True)`` from the records and events;
- **incremental refresh**: 200 new orders and 20 stock changes appended to the log, then
  ``refresh_model`` takes them in;
- **GET latency**: after a warm-up, ``--samples`` requests per route for random people
  (p50, p90, p99, max in ms; the client's own time included).

    .venv/bin/python bench/personalize.py --store both --json personalize.json
"""

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.identity import Store, log  # noqa: E402

DAY_US = 86_400_000_000
_TH_WORDS = ["ข้าว", "ชา", "กาแฟ", "น้ำปลา", "ขนม", "เสื้อ", "รองเท้า", "กระเป๋า", "สบู่", "ครีม"]
_VN_WORDS = ["Phở", "Bún", "Cà phê", "Nước mắm", "Bánh", "Áo", "Giày", "Túi", "Xà phòng", "Kem"]
_CATEGORIES = ["grocery", "drinks", "snacks", "apparel", "shoes", "bags", "beauty", "home"]
_SEGMENTS = {
    "vip": "lifetime_value >= 20000",
    "bangkok": 'province = "Bangkok"',
    "vietnam": 'country = "VN"',
    "recent": "last_purchase_at within last 30 days",
    "shoes lovers": 'favourite_categories contains "shoes"',
}
_RULES = [
    ("home_banner", "vip-banner", 'in segment "vip"', 30),
    ("home_banner", "bangkok-banner", 'in segment "bangkok"', 20),
    ("home_banner", "vietnam-banner", 'in segment "vietnam"', 10),
    ("home_banner", "default-banner", 'not in segment "vip"', 0),
    ("sidebar", "shoes-viewed", 'did "Product Viewed" where category = "shoes" in last 7 days', 10),
    ("sidebar", "thai-sidebar", 'country = "TH"', 1),
    ("footer", "loyal-footer", "order_count >= 5", 5),
    ("footer", "recent-footer", 'in segment "recent"', 1),
]


def _iso(us: int) -> str:
    from c360.kernel.clock import isoformat_us

    return isoformat_us(us)


def _money(amount: float, currency: str) -> dict[str, str]:
    return {"amount": f"{amount:.2f}", "currency": currency}


class Shop:
    """The generated data, kept to know whom to ask about."""

    def __init__(self) -> None:
        self.profiles: list[str] = []
        self.user_ids: dict[str, str] = {}
        self.products: list[tuple[str, str, str, float, str]] = []
        self.seq = 0
        self.node_id = 0

    def node(
        self, source_id: int, node_type: str, key: str, kind: str, pid: str, now: int
    ) -> dict[str, Any]:
        self.node_id += 1
        return {
            "id": self.node_id,
            "source_id": source_id,
            "node_type": node_type,
            "node_key": key,
            "kind": kind,
            "features": {},
            "identifiers": {"ids": [], "links": []},
            "limited": {},
            "first_seq": 0,
            "last_seq": 0,
            "at_us": now,
            "profile_id": pid,
        }


def build_store(url: str, profiles_n: int, lines_n: int, products_n: int, seed: int) -> Shop:
    from sqlalchemy import insert

    from c360.eventlog.service import PROFILES_CHECKPOINT, set_checkpoint
    from c360.kernel.clock import system_clock
    from c360.segments.language import parse
    from c360.segments.service import create_segment
    from c360.segments.view import build_view
    from c360.storage.engine import create_engine_for
    from c360.storage.migrations import upgrade_to_head
    from c360.storage.tables import sources

    rng = random.Random(seed)
    now = system_clock()
    shop = Shop()
    engine = create_engine_for(url)
    upgrade_to_head(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(sources),
            [
                {"id": i, "name": name, "created_at_us": now}
                for i, name in enumerate(["web", "shop", "shop_lines", "catalog"], 1)
            ],
        )
    started = time.perf_counter()
    by_category: dict[str, list[int]] = {c: [] for c in _CATEGORIES}
    catalog = []
    for i in range(products_n):
        thai = i % 5 < 3
        category = _CATEGORIES[i % len(_CATEGORIES)]
        words = _TH_WORDS if thai else _VN_WORDS
        name = f"{rng.choice(words)} {rng.choice(words)} {i}"
        if thai:
            currency, price = "THB", rng.randint(20, 2000)
        else:
            currency, price = "VND", rng.randint(10, 900) * 1000
        key = f"P{i:05d}"
        shop.products.append((key, name, category, float(price), currency))
        by_category[category].append(i)
        catalog.append(
            _record(
                4,
                key,
                "product",
                {
                    "product_id": key,
                    "sku": f"SKU-{i:05d}",
                    "product_name": name,
                    "category": category,
                    "price": _money(price, currency),
                    "stock": 0 if rng.random() < 0.03 else rng.randint(1, 500),
                },
                now,
            )
        )
    weights = [1 / (rank + 1) ** 0.9 for rank in range(products_n)]
    rng.shuffle(weights)
    orders_per_person = max(1.0, lines_n / profiles_n / 3.29 + 0.5)  # int() rounds down
    people, nodes, records, logs, links = [], [], [], [], []
    keys: list[dict[str, Any]] = []
    lines = 0
    for p in range(profiles_n):
        pid = str(uuid.UUID(int=rng.getrandbits(128)))
        shop.profiles.append(pid)
        shop.user_ids[pid] = f"u{p}"
        nodes.append(shop.node(1, "user_id", f"u{p}", "tracked", pid, now))
        keys.append({"key": f"user_id:u{p}", "node_id": shop.node_id, "role": 0})
        thai = rng.random() < 0.6
        favourites = rng.sample(_CATEGORIES, rng.choice((1, 2)))
        orders = min(30, int(rng.expovariate(1 / orders_per_person)))
        value = 0.0
        last = None
        bought_categories: dict[str, int] = {}
        for o in range(orders):
            at = now - int(rng.random() ** 1.5 * 400 * DAY_US)
            last = max(last or at, at)
            oid = f"o-{p}-{o}"
            basket = []
            for _ in range(rng.choice((1, 2, 3, 3, 4, 5, 5))):
                if rng.random() < 0.7:
                    pool = by_category[rng.choice(favourites)]
                    index = rng.choices(pool, [weights[i] for i in pool])[0]
                else:
                    index = rng.choices(range(products_n), weights)[0]
                basket.append(shop.products[index])
            lines += len(basket)
            total = sum(price for _, _, _, price, _ in basket)
            value += total if basket[0][4] == "THB" else total * 0.00134
            for _, _, category, _, _ in basket:
                bought_categories[category] = bought_categories.get(category, 0) + 1
            if rng.random() < 0.15:  # tracked on the site
                shop.seq += 1
                payload = {
                    "type": "track",
                    "event": "Order Completed",
                    "userId": f"u{p}",
                    "messageId": f"m{shop.seq}",
                    "properties": {
                        "order_id": oid,
                        "currency": basket[0][4],
                        "products": [
                            {"product_id": k, "name": n, "category": c, "price": pr, "quantity": 1}
                            for k, n, c, pr, _ in basket
                        ],
                    },
                }
                logs.append(_log(shop.seq, 1, "track", payload, at))
                links.append({"profile_id": pid, "seq": shop.seq, "at_us": at})
                continue
            fields = {"order_id": oid, "ordered_at": _iso(at), "status": "paid"}
            records.append(_record(2, oid, "order", fields, now))
            nodes.append(shop.node(2, "record", oid, "order", pid, now))
            for n, (key, name, category, price, currency) in enumerate(basket, 1):
                line = {
                    "order_id": oid,
                    "line_no": n,
                    "product_id": key,
                    "product_name": name,
                    "category": category,
                    "quantity": 1,
                    "unit_price": _money(price, currency),
                }
                records.append(_record(3, f"{oid}:{n}", "order_item", line, now))
                nodes.append(shop.node(3, "record", f"{oid}:{n}", "order_item", pid, now))
        for _ in range(10):  # browsing
            shop.seq += 1
            at = now - int(rng.random() ** 2 * 30 * DAY_US)
            name = rng.choice(["Product Viewed", "Product Viewed", "Product Added", "Page"])
            payload = {
                "type": "track",
                "event": name,
                "userId": f"u{p}",
                "messageId": f"m{shop.seq}",
                "properties": {"category": rng.choice(favourites)},
            }
            logs.append(_log(shop.seq, 1, "track", payload, at))
            links.append({"profile_id": pid, "seq": shop.seq, "at_us": at})
        golden = {
            "first_name": "สมชาย" if thai else "Minh",
            "country": "TH" if thai else "VN",
            "province": rng.choice(["Bangkok", "Chiang Mai", "Phuket"])
            if thai
            else rng.choice(["Hà Nội", "Hồ Chí Minh"]),
            "email": f"p{p}@example.com",
        }
        favourite = sorted(bought_categories, key=lambda c: -bought_categories[c])[:3]
        computed = {
            "order_count": orders,
            "lifetime_value": round(value, 2),
            "last_purchase_at_us": last,
            "favourite_categories": favourite,
        }
        view = build_view({}, golden, computed, [("email", golden["email"])], {})
        people.append(
            {"id": pid, "traits": {}, "created_seq": 0, "updated_seq": 0, "attributes": view}
        )
        if len(people) >= 2000 or p == profiles_n - 1:
            with engine.begin() as conn:
                _write(conn, people, nodes, records + catalog, logs, links, keys)
            people, nodes, records, logs, links, catalog, keys = [], [], [], [], [], [], []
            took = time.perf_counter() - started
            log(f"  {p + 1:,} profiles, {lines:,} order lines ({took:.0f} s)")
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT setval('event_log_seq_seq', {max(shop.seq, 1)})")
        conn.exec_driver_sql("ANALYZE")
        set_checkpoint(conn, PROFILES_CHECKPOINT, shop.seq)
    with engine.begin() as conn:
        for name, condition in _SEGMENTS.items():
            create_segment(conn, name, parse(condition), timezone="Asia/Bangkok")
    engine.dispose()
    return shop


def _record(
    source_id: int, record_id: str, kind: str, fields: dict[str, Any], now: int
) -> dict[str, Any]:
    return {
        "source_id": source_id,
        "record_id": record_id,
        "kind": kind,
        "fields": fields,
        "raw": {},
        "flags": {},
        "extra": {},
        "content_hash": uuid.uuid4().hex,
        "version": 1,
        "mapping_version": 1,
        "first_seq": 0,
        "last_seq": 0,
        "updated_at_us": now,
        "origin": None,
    }


def _log(seq: int, source_id: int, kind: str, payload: dict[str, Any], at: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "source_id": source_id,
        "message_id": f"m{seq}" if kind != "record" else f"rec:{seq}",
        "type": kind,
        "received_at_us": at,
        "timestamp_us": at,
        "payload": orjson.dumps(payload).decode(),
    }


def _write(conn: Any, *tables: list[dict[str, Any]]) -> None:
    """Rows of profiles, identity nodes, source records, log entries, profile events, keys."""
    from sqlalchemy import insert

    from c360.storage.tables import (
        event_log,
        identity_keys,
        identity_nodes,
        profile_events,
        profiles,
        source_records,
    )

    order = (profiles, identity_nodes, source_records, event_log, profile_events, identity_keys)
    for table, rows in zip(order, tables, strict=True):
        for i in range(0, len(rows), 5000):
            conn.execute(insert(table), rows[i : i + 5000])


def add_new_data(url: str, shop: Shop, orders: int, stock_changes: int, seed: int) -> None:
    """New ``Order Completed`` events and stock changes, as processed entries in the log."""
    from sqlalchemy import update

    from c360.eventlog.service import PROFILES_CHECKPOINT, set_checkpoint
    from c360.kernel.clock import system_clock
    from c360.storage.engine import create_engine_for
    from c360.storage.tables import source_records

    rng = random.Random(seed)
    now = system_clock()
    engine = create_engine_for(url)
    logs, links = [], []
    for _ in range(orders):
        shop.seq += 1
        pid = rng.choice(shop.profiles)
        basket = rng.sample(shop.products[:200], 3)
        payload = {
            "type": "track",
            "event": "Order Completed",
            "userId": "bench",
            "messageId": f"m{shop.seq}",
            "properties": {
                "order_id": f"new-{shop.seq}",
                "products": [
                    {"product_id": k, "name": n, "category": c} for k, n, c, _, _ in basket
                ],
            },
        }
        logs.append(_log(shop.seq, 1, "track", payload, now))
        links.append({"profile_id": pid, "seq": shop.seq, "at_us": now})
    with engine.begin() as conn:
        for key, name, category, _price, _currency in rng.sample(shop.products, stock_changes):
            shop.seq += 1
            fields = {"product_id": key, "product_name": name, "category": category, "stock": 0}
            conn.execute(
                update(source_records)
                .where(source_records.c.source_id == 4, source_records.c.record_id == key)
                .values(fields=fields, updated_at_us=now, last_seq=shop.seq)
            )
            logs.append(_log(shop.seq, 4, "record", {"kind": "product", "record_id": key}, now))
        _write(conn, [], [], [], logs, links, [])
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT setval('event_log_seq_seq', {shop.seq})")
        set_checkpoint(conn, PROFILES_CHECKPOINT, shop.seq)
    engine.dispose()


def percentiles(timings: list[float]) -> dict[str, float]:
    ordered = sorted(timings)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": at(0.90),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def measure(url: str, shop: Shop, samples: int, seed: int) -> dict[str, Any]:
    from fastapi import FastAPI
    from sqlalchemy import insert

    from c360.activation.recommend import refresh_model
    from c360.api import build_app, errors
    from c360.api.personalize import PUBLIC_PATH, build_personalize_router
    from c360.kernel.clock import system_clock
    from c360.privacy.keys import KeyCache, Role, create_key
    from c360.segments.language import parse, to_json, to_text
    from c360.settings import Settings
    from c360.storage.engine import create_engine_for
    from c360.storage.tables import personalization_rules

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from starlette.testclient import TestClient

    out: dict[str, Any] = {}
    engine = create_engine_for(url)
    now = system_clock()
    with engine.begin() as conn:
        _, admin = create_key(conn, name="bench", role=Role.ADMIN, source=None)
        _, writer = create_key(conn, name="site", role=Role.WRITER, source="web")
        for placement, name, text, priority in _RULES:
            condition = parse(text)
            conn.execute(
                insert(personalization_rules).values(
                    name=name,
                    placement=placement,
                    condition=to_json(condition),
                    text=to_text(condition),
                    timezone="Asia/Bangkok",
                    priority=priority,
                    content={"title": f"{name} · ข้อเสนอพิเศษ · Ưu đãi", "url": f"/{name}"},
                    version=1,
                    created_at_us=now,
                    updated_at_us=now,
                )
            )
    started = time.perf_counter()
    with engine.begin() as conn:
        report = refresh_model(conn, full=True)
    out["model_build_s"] = round(time.perf_counter() - started, 2)
    log(f"  model built in {out['model_build_s']} s ({report.profiles:,} buyers)")

    add_new_data(url, shop, orders=200, stock_changes=20, seed=seed)
    started = time.perf_counter()
    with engine.begin() as conn:
        report = refresh_model(conn)
    out["incremental_refresh_s"] = round(time.perf_counter() - started, 3)
    out["incremental_profiles"] = report.profiles
    log(f"  incremental refresh: {report.profiles} profiles in {out['incremental_refresh_s']} s")

    app = build_app(Settings(database_url=url, timezone="Asia/Bangkok"), engine, run_worker=False)
    public = FastAPI()
    errors.install(public)
    public.include_router(build_personalize_router(engine, KeyCache(engine, 60)))
    rng = random.Random(seed)
    routes = {
        "GET /api/profiles/{id}/recommendations": lambda c, pid: c.get(
            f"/api/profiles/{pid}/recommendations", headers={"Authorization": f"Bearer {admin}"}
        ),
        "GET /api/personalize/{id}": lambda c, pid: c.get(
            f"/api/personalize/{pid}", headers={"Authorization": f"Bearer {admin}"}
        ),
        "GET /p/v1/personalize": lambda c, pid: c.get(
            PUBLIC_PATH,
            params={"userId": shop.user_ids[pid], "writeKey": writer},
        ),
    }
    with TestClient(app) as client, TestClient(public) as public_client:
        for label, call in routes.items():
            target = public_client if label.startswith("GET /p/") else client
            for pid in rng.sample(shop.profiles, 50):  # warm-up
                assert call(target, pid).status_code == 200
            timings = []
            for pid in rng.sample(shop.profiles, samples):
                begun = time.perf_counter()
                response = call(target, pid)
                timings.append(time.perf_counter() - begun)
                assert response.status_code == 200, response.text
            out[label] = percentiles(timings)
            log(f"  {label:42} {out[label]}")
        sample = client.get(
            f"/api/personalize/{shop.profiles[0]}", headers={"Authorization": f"Bearer {admin}"}
        ).json()
        out["sample_answer"] = sample
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=100_000, help="order lines, roughly")
    parser.add_argument("--products", type=int, default=2_000)
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as work:
        for kind in kinds:
            log(f"{kind}: building the shop")
            store = Store(kind, Path(work))
            try:
                started = time.perf_counter()
                shop = build_store(store.url, args.profiles, args.lines, args.products, args.seed)
                built = round(time.perf_counter() - started, 1)
                found = measure(store.url, shop, args.samples, args.seed)
                results[kind] = {"store_built_s": built, **found}
            finally:
                store.drop()
    summary = {
        kind: {k: v for k, v in found.items() if k != "sample_answer"}
        for kind, found in results.items()
    }
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False), "utf-8")


if __name__ == "__main__":
    main()
