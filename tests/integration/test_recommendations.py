"""Recommendations on both stores: co-purchase and popularity in the person's segments ranked
on a small shop whose scores can be worked out by hand, products out of stock and just bought
left out, Thai and Vietnamese product names as they came, and the model kept incrementally
agreeing with one built from scratch.

The shop (order records, order lines, a tracked ``Order Completed``, product records) comes in
through the real import path. Who bought what (days ago)::

    Tida  (tida@example.co.th)   rice (100), fish sauce (2)
    An    (an@example.vn)        rice, fish sauce, phở (50)
    Bích  (bich@vip.co.th)       rice, phở, Thai tea (40)
    Chai  (chai@vip.co.th)       rice, Thai tea (30)
    Dũng  (userId u-dung)        fish sauce, bún chả (5, an Order Completed event)
    Em    (em@example.vn)        iced coffee, rice (20); Thai tea (10, cancelled: ยกเลิก)
    Uyên  (uyen@vip.co.th)       nothing

Iced coffee is out of stock (0). Segment ``vip``: emails ending in ``@vip.co.th`` (Bích, Chai,
Uyên). Six people bought anything; rice 5, fish sauce 3, phở 2, Thai tea 2, bún chả 1.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from tests.customer360 import load, track

from c360.activation.recommend import (
    DEFAULT_SETTINGS,
    RecommendSettings,
    recommendations_for,
    refresh_model,
)
from c360.api import build_app
from c360.kernel.clock import isoformat_us, system_clock
from c360.privacy.keys import Role, create_key
from c360.profiles.service import find_by_identifier
from c360.segments.language import parse
from c360.segments.service import create_segment
from c360.settings import Settings
from c360.storage.tables import (
    recommend_catalog,
    recommend_counted,
    recommend_pairs,
    recommend_popularity,
    recommend_products,
    recommend_purchases,
)
from c360.workers.rebuild import rebuild

with warnings.catch_warnings():
    # Starlette asks for the httpx2 package; the installed httpx works the same for these tests.
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

DAY_US = 86_400_000_000
NOW = system_clock()

RICE, FISH, PHO, TEA, BUN, COFFEE = "P-RICE", "P-FISH", "P-PHO", "P-TEA", "P-BUN", "P-COFFEE"
PRODUCTS = {
    RICE: ("ข้าวหอมมะลิ 5 กก.", "grocery", "189", "THB", 40),
    FISH: ("น้ำปลาแท้", "grocery", "35", "THB", 100),
    PHO: ("Phở bò tái", "noodles", "65000", "VND", 12),
    TEA: ("ชาไทย", "drinks", "45", "THB", 30),
    BUN: ("Bún chả Hà Nội", "noodles", "55000", "VND", 8),
    COFFEE: ("Cà phê sữa đá", "drinks", "29000", "VND", 0),
}
ORDERS = [
    # order id, email, days ago, status, products
    ("o-tida-1", "tida@example.co.th", 100, "paid", [RICE]),
    ("o-tida-2", "tida@example.co.th", 2, "paid", [FISH]),
    ("o-an-1", "an@example.vn", 50, "delivered", [RICE, FISH, PHO]),
    ("o-bich-1", "bich@vip.co.th", 40, "paid", [RICE, PHO, TEA]),
    ("o-chai-1", "chai@vip.co.th", 30, "paid", [RICE, TEA]),
    ("o-em-1", "em@example.vn", 20, "paid", [COFFEE, RICE]),
    ("o-em-2", "em@example.vn", 10, "ยกเลิก", [TEA]),
]
TIDA, UYEN = "tida@example.co.th", "uyen@vip.co.th"


def ago(days: float) -> int:
    return NOW - int(days * DAY_US)


def product_rows(**stock: int) -> list[dict[str, Any]]:
    return [
        {
            "id": key,
            "product_id": key,
            "sku": f"SKU-{key[2:]}",
            "product_name": name,
            "category": category,
            "price": price,
            "currency": currency,
            "stock": stock.get(key, left),
        }
        for key, (name, category, price, currency, left) in PRODUCTS.items()
    ]


def buy(engine: Engine, tmp_path: Path, order_id: str, email: str, days: float, *keys: str,
        status: str = "paid") -> None:  # fmt: skip
    """An order record and its lines, as the shop's export has them."""
    load(
        engine,
        tmp_path,
        "shop",
        "order",
        [
            {
                "id": order_id,
                "order_id": order_id,
                "email": email,
                "ordered_at": isoformat_us(ago(days)),
                "status": status,
                "total": "100 THB",
            }
        ],
    )
    load(
        engine,
        tmp_path,
        "shop_lines",
        "order_item",
        [
            {
                "id": f"{order_id}:{n}",
                "order_id": order_id,
                "line_no": n,
                "product_id": key,
                "product_name": PRODUCTS[key][0],
                "category": PRODUCTS[key][1],
                "quantity": 1,
                "unit_price": f"{PRODUCTS[key][2]} {PRODUCTS[key][3]}",
            }
            for n, key in enumerate(keys, 1)
        ],
    )


def build_shop(engine: Engine, tmp_path: Path, *, with_segment: bool = True) -> None:
    load(engine, tmp_path, "catalog", "product", product_rows())
    load(
        engine,
        tmp_path,
        "crm",
        "contact",
        [{"id": "c-uyen", "full_name": "Lê Thị Uyên", "email": UYEN}],
    )
    for order_id, email, days, status, keys in ORDERS:
        buy(engine, tmp_path, order_id, email, days, *keys, status=status)
    track(
        engine,
        {
            "type": "track",
            "messageId": "dung-order-1",
            "userId": "u-dung",
            "event": "Order Completed",
            "timestamp": isoformat_us(ago(5)),
            "_at_us": ago(5),
            "properties": {
                "order_id": "web-dung-1",
                "currency": "VND",
                "total": 90000,
                "products": [
                    {"product_id": FISH, "name": PRODUCTS[FISH][0], "price": 35, "quantity": 1},
                    {"product_id": BUN, "name": PRODUCTS[BUN][0], "price": 55000, "quantity": 2},
                ],
            },
        },
    )
    if with_segment:
        make_vip(engine)


def make_vip(engine: Engine) -> None:
    with engine.begin() as conn:
        create_segment(conn, "vip", parse('email ends with "@vip.co.th"'), timezone="Asia/Bangkok")


def profile_of(engine: Engine, email: str) -> str:
    with engine.connect() as conn:
        return find_by_identifier(conn, "email", email).id


def ranked(items: list[dict[str, Any]]) -> list[tuple[str, float, str]]:
    return [(i["product_id"], i["score"], i["reason"]) for i in items]


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]

    def get(self, path: str, key: str = "admin", **params: Any) -> Any:
        return self.client.get(
            path, params=params, headers={"Authorization": f"Bearer {self.keys[key]}"}
        )

    def ok(self, path: str, key: str = "admin", **params: Any) -> Any:
        response = self.get(path, key, **params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def api(engine: Engine, database_url: str) -> Iterator[Api]:
    keys = {}
    with engine.begin() as conn:
        for role in (Role.ADMIN, Role.READ):
            _, keys[role.value] = create_key(conn, name=role.value, role=role, source=None)
        _, keys["writer"] = create_key(conn, name="site", role=Role.WRITER, source="web")
    settings = Settings(database_url=database_url, timezone="Asia/Bangkok")
    app = build_app(settings, engine, run_worker=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, keys)


def test_co_purchase_ranks_what_people_who_bought_the_same_also_bought(
    api: Api, engine: Engine, tmp_path: Path
) -> None:
    build_shop(engine, tmp_path)
    tida = profile_of(engine, TIDA)

    body = api.ok(f"/api/profiles/{tida}/recommendations", key="read")

    # rice: 2 of the 3 fish sauce buyers bought it (2/3) + popular overall (0.25 x 5/6)
    # phở: 2 of 5 rice buyers and 1 of 3 fish sauce buyers (2/5 + 1/3) + 0.25 x 2/6
    assert body["profile_id"] == tida
    assert body["window_days"] == 30
    assert ranked(body["recommendations"]) == [
        (RICE, 0.875, "bought with น้ำปลาแท้"),
        (PHO, 0.8167, "bought with ข้าวหอมมะลิ 5 กก."),
        (TEA, 0.4833, "bought with ข้าวหอมมะลิ 5 กก."),
        (BUN, 0.375, "bought with น้ำปลาแท้"),
    ]


def test_a_longer_window_leaves_out_what_was_bought_earlier_too(
    api: Api, engine: Engine, tmp_path: Path
) -> None:
    build_shop(engine, tmp_path)
    tida = profile_of(engine, TIDA)

    body = api.ok(f"/api/profiles/{tida}/recommendations", window_days=200, limit=2)

    assert [i["product_id"] for i in body["recommendations"]] == [PHO, TEA]


def test_people_without_purchases_get_what_their_segment_buys_then_what_everyone_buys(
    api: Api, engine: Engine, tmp_path: Path
) -> None:
    build_shop(engine, tmp_path)
    uyen = profile_of(engine, UYEN)

    body = api.ok(f"/api/profiles/{uyen}/recommendations")

    # vip's buyers are Bích and Chai: both bought rice and Thai tea, one phở
    assert ranked(body["recommendations"]) == [
        (RICE, 0.5, "popular in segment vip"),
        (TEA, 0.5, "popular in segment vip"),
        (PHO, 0.25, "popular in segment vip"),
        (FISH, 0.125, "popular overall"),
        (BUN, 0.0417, "popular overall"),
    ]


def test_thai_and_vietnamese_product_names_and_prices_come_as_the_catalog_has_them(
    api: Api, engine: Engine, tmp_path: Path
) -> None:
    build_shop(engine, tmp_path)
    uyen = profile_of(engine, UYEN)

    items = api.ok(f"/api/profiles/{uyen}/recommendations")["recommendations"]

    described = {
        i["product_id"]: (i["name"], i["category"], i["price"], i["currency"]) for i in items
    }
    assert described[RICE] == ("ข้าวหอมมะลิ 5 กก.", "grocery", 189.0, "THB")
    assert described[PHO] == ("Phở bò tái", "noodles", 65000.0, "VND")
    assert described[BUN] == ("Bún chả Hà Nội", "noodles", 55000.0, "VND")
    assert items[0]["sku"] == "SKU-RICE"


def test_out_of_stock_products_are_never_recommended_even_before_the_model_catches_up(
    api: Api, engine: Engine, tmp_path: Path
) -> None:
    build_shop(engine, tmp_path)
    tida = profile_of(engine, TIDA)
    first = api.ok(f"/api/profiles/{tida}/recommendations")["recommendations"]
    assert COFFEE not in [i["product_id"] for i in first]  # bought with rice, stock 0
    assert TEA in [i["product_id"] for i in first]

    # the shop's stock export says Thai tea has run out; the model has not refreshed since
    load(engine, tmp_path, "catalog", "product", product_rows(**{TEA: 0}))
    now = api.ok(f"/api/profiles/{tida}/recommendations")["recommendations"]

    assert [i["product_id"] for i in now] == [RICE, PHO, BUN]
    with engine.begin() as conn:
        refresh_model(conn)
    assert api.ok(f"/api/profiles/{tida}/recommendations")["recommendations"] == now


def test_a_product_out_of_stock_in_one_source_is_out_when_that_record_is_the_latest(
    engine: Engine, tmp_path: Path
) -> None:
    build_shop(engine, tmp_path)
    uyen = profile_of(engine, UYEN)
    # the branch's own stock list knows rice by its SKU only, and has none left
    load(engine, tmp_path, "branch", "product", [{"id": "r1", "sku": "SKU-RICE", "stock": 0}])

    with engine.begin() as conn:
        refresh_model(conn)
        found = [r.product.key for r in recommendations_for(conn, uyen)]

    assert RICE not in found
    assert found[0] == TEA


def test_what_was_just_bought_is_left_out_at_once(api: Api, engine: Engine, tmp_path: Path) -> None:
    build_shop(engine, tmp_path)
    tida = profile_of(engine, TIDA)
    before = api.ok(f"/api/profiles/{tida}/recommendations")["recommendations"]
    assert before[1]["product_id"] == PHO
    assert FISH not in [i["product_id"] for i in before]  # bought two days ago

    buy(engine, tmp_path, "o-tida-3", TIDA, 0, PHO)
    after = api.ok(f"/api/profiles/{tida}/recommendations")["recommendations"]

    assert [i["product_id"] for i in after] == [RICE, TEA, BUN]


def test_an_unknown_profile_is_not_found(api: Api, engine: Engine, tmp_path: Path) -> None:
    build_shop(engine, tmp_path)

    response = api.get("/api/profiles/00000000-0000-0000-0000-000000000000/recommendations")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_writer_keys_may_not_read_recommendations(api: Api, engine: Engine, tmp_path: Path) -> None:
    build_shop(engine, tmp_path, with_segment=False)
    tida = profile_of(engine, TIDA)

    assert api.get(f"/api/profiles/{tida}/recommendations", key="writer").status_code == 403
    assert api.get(f"/api/profiles/{tida}/recommendations", limit=0).status_code == 422


def _model(engine: Engine) -> dict[str, list[Any]]:
    tables = (
        recommend_catalog,
        recommend_counted,
        recommend_pairs,
        recommend_popularity,
        recommend_products,
        recommend_purchases,
    )
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(select(*t.c)).all()) for t in tables}


def test_the_model_kept_incrementally_matches_one_built_from_scratch(
    engine: Engine, tmp_path: Path
) -> None:
    build_shop(engine, tmp_path, with_segment=False)
    with engine.begin() as conn:
        assert refresh_model(conn).full
    # new purchases, a cancellation, a stock change and a new segment, taken in incrementally
    buy(engine, tmp_path, "o-tida-3", TIDA, 1, PHO, TEA)
    buy(engine, tmp_path, "o-an-1", "an@example.vn", 50, RICE, FISH, PHO, status="refunded")
    load(engine, tmp_path, "catalog", "product", product_rows(**{BUN: 0}))
    make_vip(engine)
    with engine.begin() as conn:
        report = refresh_model(conn)
    assert not report.full
    # Tida bought, An's order was refunded, Bích and Chai joined vip (Uyên, who bought
    # nothing, has nothing to count)
    assert report.profiles == 4
    incremental = _model(engine)

    with engine.begin() as conn:
        assert refresh_model(conn, full=True).full
    assert _model(engine) == incremental
    with engine.connect() as conn:
        uyen = profile_of(engine, UYEN)
        found = recommendations_for(conn, uyen, settings=RecommendSettings(window_days=0))
    # vip's buyers are still Bích and Chai; everyone's are 5 now (An's order was refunded)
    # and fish sauce has 2 of them; bún chả is out of stock
    assert [(r.product.key, round(r.score, 4)) for r in found] == [
        (RICE, 0.5),
        (TEA, 0.5),
        (PHO, 0.25),
        (FISH, 0.1),
    ]
    assert DEFAULT_SETTINGS.window_days == 30


def test_after_c360_rebuild_the_model_is_built_again_from_scratch(
    engine: Engine, tmp_path: Path
) -> None:
    build_shop(engine, tmp_path)
    uyen = profile_of(engine, UYEN)
    with engine.begin() as conn:
        refresh_model(conn)
        before = [(r.product.key, r.score, r.reason) for r in recommendations_for(conn, uyen)]
    model = _model(engine)

    rebuild(engine)
    with engine.begin() as conn:
        report = refresh_model(conn)
        after = [(r.product.key, r.score, r.reason) for r in recommendations_for(conn, uyen)]

    assert report.full
    assert after == before
    assert _model(engine) == model


def test_journey_messages_show_the_persons_recommendations(engine: Engine, tmp_path: Path) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from c360.activation.channels import ChannelName
    from c360.activation.engine import EngineConfig, run_cycle
    from c360.activation.journeys import create_journey
    from c360.activation.recommend import refresh_model
    from c360.kernel.clock import to_us
    from c360.storage.tables import messages

    build_shop(engine, tmp_path)
    tida = profile_of(engine, TIDA)
    bangkok = ZoneInfo("Asia/Bangkok")
    start = to_us(datetime.now(bangkok).replace(hour=8, minute=0, second=0, microsecond=0))
    with engine.begin() as conn:
        create_journey(
            conn,
            "name: picks\ntimezone: Asia/Bangkok\ntrigger: {schedule: {at: '09:00'}}\nsteps:\n"
            "  - send:\n      channels: [email]\n      purpose: transactional\n"
            "      template:\n        subject: For you\n"
            '        body: "{% for r in recommendations %}{{ r.name }}; {% endfor %}"',
            now_us=start,
        )
    with engine.begin() as conn:  # what the server's RecommendationRefresher does
        refresh_model(conn)
    config = EngineConfig(default_tz="Asia/Bangkok", channels=frozenset({ChannelName.EMAIL}))
    run_cycle(engine, config, start + 3_600_000_000)
    with engine.connect() as conn:
        body = conn.execute(
            select(messages.c.body).where(messages.c.profile_id == tida)
        ).scalar_one()
    assert body == "ข้าวหอมมะลิ 5 กก.; Phở bò tái; ชาไทย; Bún chả Hà Nội; "
