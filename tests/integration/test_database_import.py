"""Incremental imports from other applications' databases: the local PostgreSQL plays the CRM,
the local MariaDB the billing system."""

import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    insert,
    select,
    update,
)
from tests.conftest import ADMIN_POSTGRES_URL, postgres_problem

from c360.ingest.mapping import parse_mapping
from c360.storage.tables import source_records
from c360.workers.imports import import_table

MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/test"

MAPPING = """
kind: contact
record_id: id
defaults: {default_region: TH}
fields:
  full_name: name
  phone: mobile
identifiers:
  email: email
custom:
  balance: {column: balance, type: money, currency: THB}
"""


def mariadb_problem() -> str | None:
    try:
        engine = create_engine(MARIADB_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        return f"MariaDB at {MARIADB_URL} is not reachable: {exc!r}"[:300]
    return None


@pytest.fixture(params=["postgresql", "mariadb"])
def application_db(request: pytest.FixtureRequest) -> Iterator[tuple[str, Table]]:
    """A customers table in another application's database, dropped afterwards."""
    if request.param == "postgresql":
        problem, url = postgres_problem(), ADMIN_POSTGRES_URL
    else:
        problem, url = mariadb_problem(), MARIADB_URL
    if problem:
        pytest.skip(problem)
    name = f"customers_{uuid.uuid4().hex[:8]}"
    table = Table(
        name,
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", String(200)),
        Column("mobile", String(50)),
        Column("email", String(200)),
        Column("balance", Numeric(12, 2)),
        Column("updated_at", DateTime),
    )
    engine = create_engine(url)
    table.create(engine)
    try:
        yield url, table
    finally:
        table.drop(engine)
        engine.dispose()


def write(url: str, statement: object) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(statement)  # type: ignore[call-overload]
    engine.dispose()


def stored(engine: Engine) -> dict[str, dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(select(source_records.c.record_id, source_records.c.fields)).all()
    return {rid: fields for rid, fields in rows}


def test_a_table_is_read_incrementally_past_its_stored_cursor(
    engine: Engine, application_db: tuple[str, Table]
) -> None:
    url, table = application_db
    write(
        url,
        insert(table).values(
            [
                {
                    "id": 1,
                    "name": "นาย สมชาย ใจดี",
                    "mobile": "081-234-5678",
                    "email": "somchai@example.co.th",
                    "balance": "1250.50",
                    "updated_at": datetime(2026, 1, 1, 9, 0),
                },
                {
                    "id": 2,
                    "name": "Trần Thị Bình",
                    "mobile": "0912 345 678",
                    "email": "binh@example.vn",
                    "balance": "0",
                    "updated_at": datetime(2026, 1, 2, 9, 0),
                },
            ]
        ),
    )
    mapping = parse_mapping(MAPPING)

    def run() -> tuple[int, int, int, int]:
        s = import_table(
            engine,
            url,
            table=table.name,
            source="crm",
            mapping=mapping,
            mapping_text=MAPPING,
            cursor_column="updated_at",
        )
        return s.read, s.new, s.updated, s.unchanged

    assert run() == (2, 2, 0, 0)
    first = stored(engine)
    assert first["1"]["phone"] == "+66812345678"
    assert first["1"]["first_name"] == "สมชาย" and first["1"]["last_name"] == "ใจดี"
    assert first["1"]["balance"] == {"amount": "1250.50", "currency": "THB"}

    # Nothing new: only the row at the stored cursor is read again, and it is unchanged.
    assert run() == (1, 0, 0, 1)

    write(
        url,
        update(table)
        .where(table.c.id == 1)
        .values(mobile="0899999999", updated_at=datetime(2026, 1, 3, 9, 0)),
    )
    write(
        url,
        insert(table).values(
            id=3,
            name="Lê Văn Cường",
            mobile="+84 98 765 4321",
            email="cuong@example.vn",
            balance="10",
            updated_at=datetime(2026, 1, 4, 9, 0),
        ),
    )
    # Row 2 sits at the stored cursor (read again, unchanged); row 1 moved past it.
    assert run() == (3, 1, 1, 1)
    assert run() == (1, 0, 0, 1)  # only row 3, at the new cursor
    last = stored(engine)
    assert len(last) == 3
    assert last["1"]["phone"] == "+66899999999"
    assert last["3"]["phone"] == "+84987654321"


def test_a_missing_table_or_cursor_column_is_a_clear_error(
    engine: Engine, application_db: tuple[str, Table]
) -> None:
    from c360.errors import InvalidInput

    url, table = application_db
    mapping = parse_mapping(MAPPING)
    with pytest.raises(InvalidInput, match="no table 'nope'"):
        import_table(engine, url, table="nope", source="crm", mapping=mapping, mapping_text=MAPPING)
    with pytest.raises(InvalidInput, match="no column 'changed'"):
        import_table(
            engine,
            url,
            table=table.name,
            source="crm",
            mapping=mapping,
            mapping_text=MAPPING,
            cursor_column="changed",
        )
