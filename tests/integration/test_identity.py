"""Identity resolution on both stores: over-merge guards, households, Thai/Vietnamese names,
split and review decisions that stick, explain, simulate, batch equal to incremental."""

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from tests.stores import SharedStore, engine_on, new_store, shared_postgres

from c360.eventlog.service import get_checkpoint
from c360.identity.config import parse_config
from c360.identity.decisions import decide_review, explain, review_items, simulate, split
from c360.identity.queries import iter_links
from c360.ingest.mapping import parse_mapping
from c360.profiles.service import find_by_identifier, follow_resolution, get_profile
from c360.storage import open_store
from c360.storage.tables import identity_nodes
from c360.workers import rebuild
from c360.workers.imports import import_file
from c360.workers.processor import PROFILES_CHECKPOINT
from c360.workers.resolve import resolve_everything

MAPPING = """
source: {source}
kind: {kind}
record_id: id
defaults: {{default_region: {region}}}
read: {{format: jsonl}}
fields:
  first_name: first_name
  last_name: last_name
  full_name: full_name
  nickname: nickname
  birth_date: {{column: birth_date, format: "%Y-%m-%d"}}
  address: address
  postal_code: postal_code{extra}
identifiers:
  email: email
  phone: phone
  national_id: national_id
  customer_id: customer_id
"""

Row = dict[str, Any]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedStore | None]:
    """On PostgreSQL, one database for the module, put back to new before each test (see
    ``SharedStore.renew``): a new database costs up to a second, emptying one a tenth."""
    with shared_postgres(request, tmp_path_factory) as store:
        yield store


@pytest.fixture
def database_url(shared: SharedStore | None, tmp_path: Path) -> Iterator[str]:
    """A new store: a copy of a migrated SQLite file, or the shared PostgreSQL one renewed."""
    with new_store(shared, tmp_path) as url:
        yield url


@pytest.fixture
def engine(shared: SharedStore | None, database_url: str) -> Iterator[Engine]:
    with engine_on(shared, database_url) as engine:
        yield engine


def load(
    engine: Engine,
    tmp_path: Path,
    source: str,
    rows: list[Row],
    *,
    kind: str = "contact",
    region: str = "TH",
) -> None:
    path = tmp_path / f"{source}-{kind}-{random.random():.9f}.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    extra = "\n  order_id: order_id" if kind in ("order", "shipment", "invoice") else ""
    text = MAPPING.format(source=source, kind=kind, region=region, extra=extra)
    summary = import_file(
        engine, path, source=source, mapping=parse_mapping(text), mapping_text=text
    )
    assert summary.quarantined == 0


def partition(engine: Engine) -> set[frozenset[tuple[str, str]]]:
    """The profiles as sets of (source, record id), independent of profile ids."""
    groups: dict[str, set[tuple[str, str]]] = {}
    with engine.connect() as conn:
        for source, record_id, profile_id in iter_links(conn):
            groups.setdefault(profile_id, set()).add((source, record_id))
    return {frozenset(g) for g in groups.values()}


def together(engine: Engine, *records: tuple[str, str]) -> bool:
    return any(set(records) <= group for group in partition(engine))


def profile_of(engine: Engine, source: str, record_id: str) -> str:
    with engine.connect() as conn:
        pid = conn.execute(
            select(identity_nodes.c.profile_id).where(identity_nodes.c.node_key == record_id)
        ).scalar_one()
    assert pid is not None
    return str(pid)


SOMCHAI = {"first_name": "สมชาย", "last_name": "ใจดี", "phone": "081-234-5678"}


def test_thai_script_and_romanized_records_with_one_phone_are_one_profile(
    engine: Engine, tmp_path: Path
) -> None:
    load(engine, tmp_path, "crm", [{"id": "C1", **SOMCHAI, "birth_date": "1987-03-15"}])
    load(
        engine,
        tmp_path,
        "billing",
        [{"id": "B1", "first_name": "Somchai", "last_name": "Jaidee", "phone": "+66812345678"}],
    )
    assert together(engine, ("crm", "C1"), ("billing", "B1"))


def test_vietnamese_names_with_and_without_diacritics_and_either_order_are_one_profile(
    engine: Engine, tmp_path: Path
) -> None:
    load(
        engine,
        tmp_path,
        "crm",
        [{"id": "C1", "full_name": "Nguyễn Văn An", "email": "an.nguyen@example.vn"}],
        region="VN",
    )
    load(
        engine,
        tmp_path,
        "shop",
        [
            {
                "id": "S1",
                "first_name": "An",
                "last_name": "Nguyen Van",
                "email": "an.nguyen@example.vn",
            },
            {"id": "S2", "first_name": "Nguyen Van", "last_name": "An", "phone": "0912345678"},
        ],
        region="VN",
    )
    load(
        engine,
        tmp_path,
        "support",
        [{"id": "T1", "full_name": "Nguyễn Văn An", "phone": "+84 912 345 678"}],
        region="VN",
    )
    assert together(engine, ("crm", "C1"), ("shop", "S1"))
    assert together(engine, ("shop", "S2"), ("support", "T1"))


def test_two_national_ids_are_never_one_profile_even_with_everything_else_equal(
    engine: Engine, tmp_path: Path
) -> None:
    twin = {"first_name": "Malee", "last_name": "Srisuk", "email": "malee@example.co.th"}
    load(
        engine,
        tmp_path,
        "billing",
        [
            {"id": "B1", **twin, "national_id": "1101700203450", "birth_date": "1990-01-01"},
            {"id": "B2", **twin, "national_id": "1103700203451", "birth_date": "1990-01-01"},
        ],
    )
    # A third record sharing the email cannot chain them either.
    load(engine, tmp_path, "shop", [{"id": "S1", **twin}])
    resolve(engine)
    assert not together(engine, ("billing", "B1"), ("billing", "B2"))
    assert not any({("billing", "B1"), ("billing", "B2")} <= g for g in partition(engine))


def test_placeholder_and_blocked_values_link_nobody(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        "pos",
        [
            {"id": "R1", "first_name": "Anan", "email": "test@test.com", "phone": "0000000000"},
            {"id": "R2", "first_name": "Boonmee", "email": "test@test.com", "phone": "0000000000"},
            {"id": "R3", "email": "noemail@shop.co.th"},
            {"id": "R4", "email": "noemail@shop.co.th"},
        ],
        kind="order",
    )
    resolve(engine)
    assert not together(engine, ("pos", "R1"), ("pos", "R2"))
    assert not together(engine, ("pos", "R3"), ("pos", "R4"))


def test_a_family_sharing_a_phone_and_address_is_a_household_not_one_profile(
    engine: Engine, tmp_path: Path
) -> None:
    home = {"last_name": "Wongsawat", "phone": "0891234567", "address": "12 Sukhumvit 31"}
    load(
        engine,
        tmp_path,
        "crm",
        [
            {"id": "MOM", "first_name": "Sompong", "birth_date": "1965-04-01", **home},
            {"id": "KID", "first_name": "Ploy", "birth_date": "1995-09-09", **home},
        ],
    )
    # a receipt with only the family phone could be either of them: it joins neither
    load(engine, tmp_path, "pos", [{"id": "R1", "phone": "0891234567"}], kind="order")
    resolve(engine)
    assert not together(engine, ("crm", "MOM"), ("crm", "KID"))
    assert not together(engine, ("crm", "MOM"), ("pos", "R1"))
    assert not together(engine, ("crm", "KID"), ("pos", "R1"))
    mom_id, kid_id = profile_of(engine, "crm", "MOM"), profile_of(engine, "crm", "KID")
    with engine.connect() as conn:
        mom, kid = get_profile(conn, mom_id), get_profile(conn, kid_id)
    assert mom.household_id is not None and mom.household_id == kid.household_id


def test_a_receipt_with_a_phone_joins_the_one_person_who_has_it(
    engine: Engine, tmp_path: Path
) -> None:
    load(engine, tmp_path, "crm", [{"id": "C1", **SOMCHAI, "nickname": "Chai"}])
    load(
        engine,
        tmp_path,
        "pos",
        [
            {"id": "R1", "phone": "0812345678"},
            {"id": "R2", "first_name": "Chai", "phone": "0812345678"},
        ],
        kind="order",
    )
    assert together(engine, ("crm", "C1"), ("pos", "R1"), ("pos", "R2"))


def test_a_chain_of_shared_contact_points_does_not_fuse_different_people(
    engine: Engine, tmp_path: Path
) -> None:
    load(
        engine,
        tmp_path,
        "crm",
        [
            {
                "id": "A",
                "first_name": "Anan",
                "last_name": "Dee",
                "birth_date": "1980-01-01",
                "email": "anan@example.co.th",
            },
            {
                "id": "B",
                "first_name": "Anan",
                "last_name": "Dee",
                "birth_date": "1980-01-01",
                "email": "anan@example.co.th",
                "phone": "0811111111",
            },
            {
                "id": "C",
                "first_name": "Boonmee",
                "last_name": "Dee",
                "birth_date": "1982-02-02",
                "phone": "0811111111",
                "email": "boon@example.co.th",
            },
            {
                "id": "D",
                "first_name": "Boonmee",
                "last_name": "Dee",
                "birth_date": "1982-02-02",
                "email": "boon@example.co.th",
            },
        ],
    )
    resolve(engine)
    assert together(engine, ("crm", "A"), ("crm", "B"))
    assert together(engine, ("crm", "C"), ("crm", "D"))
    assert not together(engine, ("crm", "B"), ("crm", "C"))


def test_records_pointing_at_an_order_or_a_customer_join_its_person(
    engine: Engine, tmp_path: Path
) -> None:
    load(engine, tmp_path, "billing", [{"id": "BC1", **SOMCHAI, "customer_id": "BC1"}])
    load(engine, tmp_path, "billing", [{"id": "INV1", "customer_id": "BC1"}], kind="invoice")
    load(engine, tmp_path, "shop", [{"id": "SO1", **SOMCHAI, "order_id": "SO1"}], kind="order")
    load(engine, tmp_path, "shipping", [{"id": "SH1", "order_id": "SO1"}], kind="shipment")
    assert together(
        engine, ("billing", "BC1"), ("billing", "INV1"), ("shop", "SO1"), ("shipping", "SH1")
    )


def test_a_corrected_phone_re_resolves_what_it_touches(engine: Engine, tmp_path: Path) -> None:
    load(engine, tmp_path, "crm", [{"id": "C1", **SOMCHAI, "email": "somchai@example.co.th"}])
    load(
        engine,
        tmp_path,
        "pos",
        [{"id": "R1", "phone": "0899999999"}],
        kind="order",
    )
    assert not together(engine, ("crm", "C1"), ("pos", "R1"))
    # the counter typed the phone wrong; the corrected row arrives
    load(engine, tmp_path, "pos", [{"id": "R1", "phone": "0812345678"}], kind="order")
    assert together(engine, ("crm", "C1"), ("pos", "R1"))
    load(engine, tmp_path, "pos", [{"id": "R1", "phone": "0899999999"}], kind="order")
    assert not together(engine, ("crm", "C1"), ("pos", "R1"))


def resolve(engine: Engine, *, train: bool = False) -> None:
    with engine.connect() as conn:
        from c360.identity.service import Resolver

        config = Resolver.load(conn).config
    resolve_everything(engine, config, train=train)


PEOPLE: list[tuple[str, Row]] = [
    ("crm", {"id": "C1", **SOMCHAI, "birth_date": "1987-03-15", "email": "somchai@example.co.th"}),
    (
        "billing",
        {
            "id": "B1",
            "first_name": "Somchai",
            "last_name": "Jaidee",
            "phone": "0812345678",
            "national_id": "1101700203450",
        },
    ),
    (
        "shop",
        {
            "id": "S1",
            "first_name": "Somchai",
            "last_name": "Jaidee",
            "email": "somchai@example.co.th",
            "address": "99 Rama 9",
        },
    ),
    ("pos", {"id": "R1", "phone": "0812345678"}),
    ("pos", {"id": "R2", "first_name": "Chai", "phone": "0812345678"}),
    (
        "crm",
        {
            "id": "C2",
            "first_name": "Malee",
            "last_name": "Jaidee",
            "birth_date": "1990-05-05",
            "phone": "0812345678",
        },
    ),
    (
        "crm",
        {"id": "C3", "first_name": "Anan", "last_name": "Srisuk", "email": "anan@example.co.th"},
    ),
    (
        "billing",
        {
            "id": "B2",
            "first_name": "อนันต์",
            "last_name": "ศรีสุข",
            "email": "anan@example.co.th",
            "national_id": "3101700203456",
        },
    ),
    (
        "billing",
        {
            "id": "B3",
            "first_name": "Anan",
            "last_name": "Srisuk",
            "email": "anan@example.co.th",
            "national_id": "1101700203450",
        },
    ),
    (
        "shop",
        {
            "id": "S2",
            "first_name": "Ploy",
            "last_name": "Dee",
            "phone": "0823456789",
            "birth_date": "1999-09-09",
        },
    ),
    ("support", {"id": "T1", "first_name": "Ploy", "last_name": "Dee", "phone": "0823456789"}),
]


def load_people(engine: Engine, tmp_path: Path, order: list[int]) -> None:
    for i in order:
        source, row = PEOPLE[i]
        kind = "order" if source == "pos" else "contact"
        load(engine, tmp_path, source, [row], kind=kind)


def test_shuffled_arrival_orders_and_batch_resolution_give_the_same_profiles(
    engine: Engine, tmp_path: Path
) -> None:
    load_people(engine, tmp_path, list(range(len(PEOPLE))))
    incremental = partition(engine)
    resolve(engine)
    assert partition(engine) == incremental, "batch resolution must equal incremental"
    for seed in (1, 2, 3):
        order = list(range(len(PEOPLE)))
        random.Random(seed).shuffle(order)
        other = open_store(f"sqlite:///{tmp_path}/shuffled-{seed}.db")
        try:
            load_people(other, tmp_path, order)
            assert partition(other) == incremental, f"arrival order {order} changed the profiles"
        finally:
            other.dispose()


def _seq(engine: Engine) -> int:
    with engine.connect() as conn:
        return get_checkpoint(conn, PROFILES_CHECKPOINT)


def test_a_split_moves_records_out_and_is_never_remade(engine: Engine, tmp_path: Path) -> None:
    load(engine, tmp_path, "crm", [{"id": "C1", **SOMCHAI, "email": "somchai@example.co.th"}])
    load(
        engine,
        tmp_path,
        "shop",
        [
            {
                "id": "S1",
                "first_name": "Somchai",
                "last_name": "Jaidee",
                "email": "somchai@example.co.th",
            }
        ],
    )
    assert together(engine, ("crm", "C1"), ("shop", "S1"))
    before = profile_of(engine, "crm", "C1")
    seq = _seq(engine)
    with engine.begin() as conn:
        result, parts = split(
            conn, before, [("shop", "S1")], actor="test", reason="two people", seq=seq
        )
        follow_resolution(conn, result, seq)
    assert len(parts) == 2 and before in parts
    assert not together(engine, ("crm", "C1"), ("shop", "S1"))
    # neither a changed record, a full resolve nor a rebuild from the log re-make it
    load(
        engine,
        tmp_path,
        "shop",
        [
            {
                "id": "S1",
                "first_name": "Somchai",
                "last_name": "Jaidee",
                "email": "somchai@example.co.th",
                "phone": "081-234-5678",
            }
        ],
    )
    assert not together(engine, ("crm", "C1"), ("shop", "S1"))
    resolve(engine, train=True)
    assert not together(engine, ("crm", "C1"), ("shop", "S1"))
    rebuild(engine)
    assert not together(engine, ("crm", "C1"), ("shop", "S1"))
    with engine.connect() as conn:
        found = explain(conn, profile_of(engine, "crm", "C1"))
    assert [(r["source"], r["record_id"]) for r in found["records"]] == [("crm", "C1")]


def test_a_merged_profile_id_keeps_resolving_to_the_survivor(
    engine: Engine, tmp_path: Path
) -> None:
    load(engine, tmp_path, "crm", [{"id": "C1", **SOMCHAI, "birth_date": "1987-03-15"}])
    load(
        engine,
        tmp_path,
        "shop",
        [{"id": "S1", "first_name": "Malee", "last_name": "Dee", "email": "malee@example.co.th"}],
    )
    old = profile_of(engine, "shop", "S1")
    # the same person's newer record carries both contact points: the profiles merge
    load(
        engine,
        tmp_path,
        "billing",
        [
            {
                "id": "B1",
                "first_name": "Malee",
                "last_name": "Dee",
                "email": "malee@example.co.th",
                "phone": "0899990000",
                "birth_date": "1991-01-01",
            }
        ],
    )
    load(
        engine,
        tmp_path,
        "support",
        [
            {
                "id": "T1",
                "first_name": "Malee",
                "last_name": "Dee",
                "phone": "0899990000",
                "birth_date": "1991-01-01",
            }
        ],
    )
    assert together(engine, ("shop", "S1"), ("billing", "B1"), ("support", "T1"))
    live = profile_of(engine, "shop", "S1")
    with engine.connect() as conn:
        assert get_profile(conn, old).id == live


def test_review_decisions_are_applied_and_remembered(engine: Engine, tmp_path: Path) -> None:
    # the same whole name, nothing else: a question for a person, not a merge
    load(
        engine,
        tmp_path,
        "crm",
        [
            {
                "id": "C1",
                "first_name": "Kanokwan",
                "last_name": "Rattanaphan",
                "email": "kanokwan@example.co.th",
            }
        ],
    )
    load(
        engine,
        tmp_path,
        "events",
        [{"id": "E1", "first_name": "Kanokwan", "last_name": "Rattanaphan", "phone": "0866660000"}],
    )
    assert not together(engine, ("crm", "C1"), ("events", "E1"))
    with engine.connect() as conn:
        items, total = review_items(conn)
    assert total == 1
    item = items[0]
    assert {item.a.key, item.b.key} == {"C1", "E1"}
    assert 0.8 <= item.as_json()["probability"] < 0.995
    with engine.begin() as conn:
        follow_resolution(
            conn,
            decide_review(conn, item.id, "same", actor="test", reason="called her", seq=1),
            1,
        )
    assert together(engine, ("crm", "C1"), ("events", "E1"))
    with engine.connect() as conn:
        assert review_items(conn)[1] == 0
    resolve(engine, train=True)
    rebuild(engine)
    assert together(engine, ("crm", "C1"), ("events", "E1")), "a decision survives a rebuild"


def test_apart_keeps_a_review_pair_apart_and_out_of_the_queue(
    engine: Engine, tmp_path: Path
) -> None:
    rows = [
        {"id": "C1", "first_name": "Kanokwan", "last_name": "Rattanaphan"},
        {
            "id": "C2",
            "first_name": "Kanokwan",
            "last_name": "Rattanaphan",
            "email": "k2@example.co.th",
        },
    ]
    load(engine, tmp_path, "crm", rows)
    with engine.connect() as conn:
        items, _ = review_items(conn)
    assert len(items) == 1
    with engine.begin() as conn:
        follow_resolution(
            conn,
            decide_review(conn, items[0].id, "apart", actor="test", reason="twins", seq=1),
            1,
        )
    resolve(engine)
    assert not together(engine, ("crm", "C1"), ("crm", "C2"))
    with engine.connect() as conn:
        assert review_items(conn)[1] == 0


def test_explain_names_each_edge_with_its_evidence(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        "crm",
        [{"id": "C1", **SOMCHAI, "birth_date": "1987-03-15", "email": "somchai@example.co.th"}],
    )
    load(
        engine,
        tmp_path,
        "shop",
        [
            {
                "id": "S1",
                "first_name": "Sonchai",
                "last_name": "Jaidee",
                "birth_date": "1987-03-15",
                "phone": "0812345678",
            }
        ],
    )
    load(engine, tmp_path, "pos", [{"id": "R1", "phone": "0812345678"}], kind="order")
    profile_id = profile_of(engine, "crm", "C1")
    with engine.connect() as conn:
        found = explain(conn, profile_id)
    assert {(r["source"], r["record_id"]) for r in found["records"]} == {
        ("crm", "C1"),
        ("shop", "S1"),
        ("pos", "R1"),
    }
    assert len(found["edges"]) == 2
    scored = [e for e in found["edges"] if e["kind"] == "probabilistic"]
    assert scored, found["edges"]
    fields = {p["field"]: p for p in scored[0]["comparisons"]}
    assert fields["phone"]["level"] == "exact" and fields["phone"]["weight"] > 0
    assert fields["birth_date"]["level"] == "exact"
    assert scored[0]["probability"] >= 0.995


def test_simulate_reports_what_a_configuration_would_change_and_keeps_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    rows = [
        {
            "id": "C1",
            "first_name": "Anan",
            "last_name": "Dee",
            "loyalty": "L-1",
            "email": "a@example.co.th",
        },
        {"id": "C2", "first_name": "Anan", "last_name": "Dee", "email": "anan.dee@example.vn"},
    ]
    load(engine, tmp_path, "crm", rows)
    before = partition(engine)
    assert not together(engine, ("crm", "C1"), ("crm", "C2"))
    config = parse_config({"rules": [["first_name", "last_name"]]})
    with engine.begin() as conn:
        result = simulate(conn, config, train=False)
    assert result.merge_count == 1 and result.split_count == 0
    assert result.profiles_after == result.profiles_before - 1
    assert partition(engine) == before, "a simulation changes nothing"


def test_the_golden_record_keeps_provenance_and_the_newest_delivery_address(
    engine: Engine, tmp_path: Path
) -> None:
    load(
        engine,
        tmp_path,
        "crm",
        [
            {
                "id": "C1",
                **SOMCHAI,
                "email": "somchai@example.co.th",
                "address": "1 Silom Rd",
                "postal_code": "10500",
            }
        ],
    )
    load(
        engine,
        tmp_path,
        "shop",
        [
            {
                "id": "SO1",
                **SOMCHAI,
                "order_id": "SO1",
                "address": "9 Rama 9 Rd",
                "postal_code": "10310",
            }
        ],
        kind="order",
    )
    load(
        engine,
        tmp_path,
        "shop",
        [
            {
                "id": "SO2",
                **SOMCHAI,
                "order_id": "SO2",
                "address": "77 Sathorn Rd",
                "postal_code": "10120",
            }
        ],
        kind="order",
    )
    with engine.connect() as conn:
        profile = find_by_identifier(conn, "phone", "0812345678")
    golden = profile.golden
    assert golden is not None
    assert golden["values"]["email"]["value"] == "somchai@example.co.th"
    assert golden["values"]["email"]["source"] == "crm"
    assert golden["values"]["email"]["record_id"] == "C1"
    delivery = golden["latest_delivery_address"]
    assert delivery["parts"]["postal_code"] == "10120" and delivery["record_id"] == "SO2"
    assert len(golden["addresses"]) == 3


def test_the_api_explains_splits_and_serves_the_review_queue(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    from tests.integration.test_tracking_api import serve

    load(engine, tmp_path, "crm", [{"id": "C1", **SOMCHAI, "email": "somchai@example.co.th"}])
    load(
        engine,
        tmp_path,
        "shop",
        [
            {
                "id": "S1",
                "first_name": "Somchai",
                "last_name": "Jaidee",
                "email": "somchai@example.co.th",
            }
        ],
    )
    load(
        engine,
        tmp_path,
        "events",
        [
            {"id": "E1", "first_name": "Kanokwan", "last_name": "Dee"},
            {"id": "E2", "first_name": "Kanokwan", "last_name": "Dee", "email": "kd@example.co.th"},
        ],
    )
    with serve(database_url) as api:
        admin = {"Authorization": f"Bearer {api.admin_key}"}
        reader = {"Authorization": f"Bearer {api.read_key}"}
        found = api.client.get("/api/profiles/by-identifier/phone/0812345678", headers=admin)
        assert found.status_code == 200, found.text
        profile = found.json()
        assert profile["golden"]["values"]["email"]["value"] == "somchai@example.co.th"
        masked = api.client.get(f"/api/profiles/{profile['id']}", headers=reader).json()
        assert masked["golden"]["values"]["email"]["value"] == "s***@example.co.th"
        assert {i["type"] for i in profile["identifiers"]} >= {"phone", "email"}
        why = api.client.get(f"/api/profiles/{profile['id']}/identity", headers=reader).json()
        assert len(why["records"]) == 2 and why["edges"][0]["because"]
        body = {"records": [{"source": "shop", "record_id": "S1"}], "reason": "not him"}
        refused = api.client.post(f"/api/profiles/{profile['id']}/split", json=body, headers=reader)
        assert refused.status_code == 403
        done = api.client.post(f"/api/profiles/{profile['id']}/split", json=body, headers=admin)
        assert done.status_code == 200, done.text
        assert len(done.json()["profile_ids"]) == 2
        queue = api.client.get("/api/identity/reviews", headers=reader).json()
        assert queue["total"] == 1
        item = queue["items"][0]["id"]
        decided = api.client.post(
            f"/api/identity/reviews/{item}", json={"decision": "apart"}, headers=admin
        )
        assert decided.status_code == 200, decided.text
        assert api.client.get("/api/identity/reviews", headers=reader).json()["total"] == 0
        bad = api.client.post(
            f"/api/identity/reviews/{item}", json={"decision": "maybe"}, headers=admin
        )
        assert bad.status_code == 422
    assert not together(engine, ("crm", "C1"), ("shop", "S1"))
