"""Two-way sync with business apps: the local PostgreSQL plays the sales CRM, the local
MariaDB the shipping system, a local HTTP server a helpdesk's REST API, a SQLite file a
membership app."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from tests.conftest import drop_postgres_database, free_port, new_postgres_database
from typer.testing import CliRunner

from c360.activation.sync import (
    ConflictOutcome,
    FieldRule,
    Ownership,
    RetryPolicy,
    SyncState,
    add_destination,
    conflicts,
    dead_letters,
    get_destination,
    parse_destination,
    redrive,
)
from c360.activation.sync.rules import Desired, plan_push, screen_row
from c360.errors import InvalidInput
from c360.ingest.mapping import parse_mapping
from c360.kernel.clock import system_clock
from c360.storage.tables import (
    event_log,
    identity_nodes,
    profiles,
    source_records,
    sources,
    sync_queue,
)
from c360.workers.imports import import_file
from c360.workers.sync import CycleReport, SyncLoop, SyncWorker, sync_secrets

MARIADB_ADMIN_URL = "mysql+pymysql://root@127.0.0.1:3306/test"

CRM_MAPPING = """
kind: contact
record_id: customer_no
defaults: {default_region: TH}
fields:
  full_name: name
  phone: phone
  address_line1: street
  district: district
  province: province
  postal_code: postal_code
identifiers:
  email: email
"""

SHIPPING_MAPPING = """
kind: contact
record_id: code
defaults: {default_region: TH}
fields:
  full_name: receiver
  phone: phone
  address_line1: ship_street
  district: ship_district
  province: ship_province
  postal_code: ship_postal
identifiers:
  email: email
"""

SOMCHAI = {
    "name": "สมชาย ใจดี",
    "email": "somchai@example.co.th",
    "street": "99/1 ซอยสุขุมวิท 24",
    "district": "คลองเตย",
    "province": "Bangkok",
    "postal_code": "10110",
}


# --- the apps ------------------------------------------------------------------------------


@dataclass
class App:
    """Another application's database, as its own users change it."""

    url: str
    engine: Engine
    table: Table

    def insert(self, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(self.table).values(**values))

    def change(self, key: str, **values: Any) -> None:
        column = self.table.primary_key.columns.values()[0]
        with self.engine.begin() as conn:
            conn.execute(update(self.table).where(column == key).values(**values))

    def row(self, key: str) -> dict[str, Any]:
        column = self.table.primary_key.columns.values()[0]
        with self.engine.connect() as conn:
            found = conn.execute(select(self.table).where(column == key)).mappings().one()
        return dict(found)

    def rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(self.table)).mappings()]


def mariadb_problem() -> str | None:
    try:
        engine = create_engine(MARIADB_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        return f"MariaDB at {MARIADB_ADMIN_URL} is not reachable: {exc!r}"[:300]
    return None


@pytest.fixture
def crm() -> Iterator[App]:
    """The sales CRM: a customers table in its own PostgreSQL database."""
    url = new_postgres_database()
    table = Table(
        "customers",
        MetaData(),
        Column("customer_no", String(20), primary_key=True),
        Column("name", String(200)),
        Column("phone", String(50)),
        Column("email", String(200)),
        Column("street", String(200)),
        Column("district", String(100)),
        Column("province", String(100)),
        Column("postal_code", String(10)),
        Column("updated_at", DateTime, nullable=False),
        Column("c360_synced_at", DateTime),
    )
    engine = create_engine(url)
    table.create(engine)
    try:
        yield App(url, engine, table)
    finally:
        engine.dispose()
        drop_postgres_database(url)


@pytest.fixture
def shipping() -> Iterator[App]:
    """The shipping system: a consignees table in its own MariaDB database; the database
    stamps ``updated_at`` on every change, c360's included."""
    problem = mariadb_problem()
    if problem:
        pytest.skip(problem)
    name = f"c360_ship_{uuid.uuid4().hex[:10]}"
    admin = create_engine(MARIADB_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                """CREATE TABLE consignees (
                    code VARCHAR(20) PRIMARY KEY,
                    receiver VARCHAR(200),
                    phone VARCHAR(50),
                    email VARCHAR(200),
                    ship_street VARCHAR(200),
                    ship_district VARCHAR(100),
                    ship_province VARCHAR(100),
                    ship_postal VARCHAR(10),
                    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
                        ON UPDATE CURRENT_TIMESTAMP(6),
                    c360_version INT NULL
                ) CHARACTER SET utf8mb4"""
            )
        )
    table = Table("consignees", MetaData(), autoload_with=engine)
    try:
        yield App(url, engine, table)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def crm_destination(crm: App, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "crm",
        "source": "crm",
        "table": {
            "url": crm.url,
            "name": "customers",
            "key": "customer_no",
            "cursor": "updated_at",
            "version_column": "c360_synced_at",
        },
        "mapping": yaml.safe_load(CRM_MAPPING),
        "default_owner": "newest",
        "fields": {
            "address_line1": "street",
            "district": "district",
            "province": "province",
            "postal_code": "postal_code",
            "phone": {"column": "phone", "owner": "app"},
        },
        **overrides,
    }


def shipping_destination(shipping: App, **fields: Any) -> dict[str, Any]:
    return {
        "name": "shipping",
        "source": "shipping",
        "table": {
            "url": shipping.url,
            "name": "consignees",
            "key": "code",
            "cursor": "updated_at",
            "version_column": "c360_version",
        },
        "mapping": yaml.safe_load(SHIPPING_MAPPING),
        "default_owner": "newest",
        "fields": {
            "address_line1": "ship_street",
            "district": "ship_district",
            "province": "ship_province",
            "postal_code": "ship_postal",
            "phone": {"column": "phone", "owner": "app"},
            **fields,
        },
    }


def add(engine: Engine, config: dict[str, Any], **options: Any) -> None:
    with engine.begin() as conn:
        add_destination(conn, parse_destination(config), **options)


def settle(worker: SyncWorker, **options: Any) -> list[CycleReport]:
    """Run cycles until one moves nothing in either direction."""
    reports = []
    for _ in range(10):
        reports.append(worker.run_once(**options))
        assert not reports[-1].errors, reports[-1].errors
        if reports[-1].quiet:
            return reports
    raise AssertionError(f"sync did not settle: {reports}")


def golden_of(engine: Engine, source: str, record_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        golden = conn.execute(
            select(profiles.c.golden)
            .select_from(
                identity_nodes.join(profiles, profiles.c.id == identity_nodes.c.profile_id).join(
                    sources, sources.c.id == identity_nodes.c.source_id
                )
            )
            .where(sources.c.name == source, identity_nodes.c.node_key == record_id)
        ).scalar_one()
    return {name: v["value"] for name, v in golden["values"].items()}


def profile_of(engine: Engine, source: str, record_id: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                select(identity_nodes.c.profile_id)
                .join(sources, sources.c.id == identity_nodes.c.source_id)
                .where(sources.c.name == source, identity_nodes.c.node_key == record_id)
            ).scalar_one()
        )


def record_version(engine: Engine, source: str, record_id: str) -> int:
    """How many versions of the app's record c360 has logged."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(source_records.c.version)
                .join(sources, sources.c.id == source_records.c.source_id)
                .where(sources.c.name == source, source_records.c.record_id == record_id)
            ).scalar_one()
        )


def log_size(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(event_log)).scalar_one())


def somchai_in_both(crm: App, shipping: App) -> None:
    crm.insert(
        customer_no="C-001",
        name=SOMCHAI["name"],
        phone="081-234-5678",
        email=SOMCHAI["email"],
        street=SOMCHAI["street"],
        district=SOMCHAI["district"],
        province=SOMCHAI["province"],
        postal_code=SOMCHAI["postal_code"],
        updated_at=datetime(2026, 12, 1, 9, 0),
    )
    shipping.insert(
        code="S-77",
        receiver=SOMCHAI["name"],
        phone="0812345678",
        email=SOMCHAI["email"],
        ship_street=SOMCHAI["street"],
        ship_district=SOMCHAI["district"],
        ship_province=SOMCHAI["province"],
        ship_postal=SOMCHAI["postal_code"],
    )


# --- the scenario --------------------------------------------------------------------------


def test_a_crm_address_reaches_shipping_in_seconds_and_its_correction_comes_back_without_a_loop(
    engine: Engine, crm: App, shipping: App
) -> None:
    somchai_in_both(crm, shipping)
    add(engine, crm_destination(crm))
    add(engine, shipping_destination(shipping))
    worker = SyncWorker(engine)
    first = settle(worker)
    assert sum(r.logged for r in first) == 2  # both apps' rows came in as their sources
    assert sum(r.written for r in first) == 0  # they agree: nothing to write
    assert profile_of(engine, "crm", "C-001") == profile_of(engine, "shipping", "S-77")
    assert shipping.row("S-77")["c360_version"] is None

    # The sales team records the customer's new delivery address in the CRM.
    loop = SyncLoop(worker, poll_s=0.1).start()
    try:
        started = time.monotonic()
        crm.change(
            "C-001",
            street="55 ถนนพระราม 4",
            district="ปทุมวัน",
            postal_code="10330",
            updated_at=datetime(2026, 12, 2, 10, 0),
        )
        while shipping.row("S-77")["ship_street"] != "55 ถนนพระราม 4":
            assert time.monotonic() - started < 10, "the new address did not reach shipping"
            time.sleep(0.05)
        elapsed = time.monotonic() - started
    finally:
        loop.stop()
    assert elapsed < 5.0
    assert loop.errors == 0
    golden = golden_of(engine, "crm", "C-001")
    assert (golden["address_line1"], golden["district"], golden["postal_code"]) == (
        "55 ถนนพระราม 4",
        "ปทุมวัน",
        "10330",
    )
    shipped = shipping.row("S-77")
    assert (shipped["ship_district"], shipped["ship_postal"], shipped["c360_version"]) == (
        "ปทุมวัน",
        "10330",
        1,
    )
    assert shipped["phone"] == "0812345678"  # the app's own field is never written
    settle(worker)
    assert crm.row("C-001")["c360_synced_at"] is None  # the CRM already had it
    # c360's write did not come back as a change of shipping's: the row it read back was
    # recognised as its own (an echo), so the shipping record is still its first version
    assert record_version(engine, "shipping", "S-77") == 1

    # The shipping clerk corrects the house number; the correction comes back to c360 and
    # on to the CRM, once.
    shipping.change("S-77", ship_street="55/1 ถนนพระราม 4")
    reports = settle(worker)
    assert sum(r.logged for r in reports) == 1
    assert sum(r.written for r in reports) == 1
    assert golden_of(engine, "shipping", "S-77")["address_line1"] == "55/1 ถนนพระราม 4"
    assert record_version(engine, "shipping", "S-77") == 2
    assert record_version(engine, "crm", "C-001") == 2  # the CRM's echo was not logged
    assert crm.row("C-001")["street"] == "55/1 ถนนพระราม 4"
    assert crm.row("C-001")["c360_synced_at"] is not None
    assert shipping.row("S-77")["c360_version"] == 1  # not written back to shipping

    # No ping-pong: further cycles write nothing on either side and log nothing.
    crm_before, shipping_before, logged = crm.row("C-001"), shipping.row("S-77"), log_size(engine)
    for _ in range(5):
        report = worker.run_once()
        assert report.quiet and report.written == 0 and report.logged == 0, report
    assert crm.row("C-001") == crm_before
    assert shipping.row("S-77") == shipping_before
    assert log_size(engine) == logged
    worker.close()


def test_an_app_change_to_a_c360_field_is_recorded_and_overwritten_while_its_own_fields_come_in(
    engine: Engine, crm: App, shipping: App
) -> None:
    somchai_in_both(crm, shipping)
    add(engine, crm_destination(crm))
    add(
        engine,
        shipping_destination(shipping, province={"column": "ship_province", "owner": "c360"}),
    )
    worker = SyncWorker(engine)
    settle(worker)

    # The shipping clerk types another province (c360's field) and a new phone (shipping's).
    shipping.change("S-77", ship_province="Nonthaburi", phone="089-999-9999")
    settle(worker)

    golden = golden_of(engine, "shipping", "S-77")
    assert golden["province"] == "Bangkok"  # not taken in
    assert golden["phone"] == "+66899999999"  # the app's own field came in
    assert shipping.row("S-77")["ship_province"] == "Bangkok"  # and c360's value went back
    assert crm.row("C-001")["phone"] == "081-234-5678"  # the CRM owns its phone
    with engine.connect() as conn:
        found = conflicts(conn, "shipping")
    assert [(c.column, c.app_value, c.c360_value, c.outcome) for c in found] == [
        ("ship_province", "Nonthaburi", "Bangkok", ConflictOutcome.IGNORED_C360_OWNS.value)
    ]
    assert found[0].profile_id == profile_of(engine, "shipping", "S-77")

    logged = log_size(engine)
    for _ in range(3):
        assert worker.run_once().quiet
    assert log_size(engine) == logged
    worker.close()


# --- a REST app ----------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class HelpdeskApi:
    """A helpdesk's customer API: PATCH/PUT /api/customers/{id}; ``answers`` are returned
    first (status, headers), then 200."""

    port: int
    calls: list[Call] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    always: tuple[int, dict[str, str]] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/customers"


@pytest.fixture
def helpdesk() -> Iterator[HelpdeskApi]:
    api = HelpdeskApi(free_port())

    class Handler(BaseHTTPRequestHandler):
        def _write(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            api.calls.append(Call(self.command, self.path, dict(self.headers), body))
            status, headers = api.answers.pop(0) if api.answers else api.always or (200, {})
            payload = b'{"ok": true}' if status < 300 else b'{"error": "no"}'
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_PATCH = _write
        do_PUT = _write

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", api.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


HELPDESK_MAPPING = """
kind: contact
record_id: id
defaults: {default_region: VN}
fields: {full_name: name, phone: phone, address_line1: street, province: province}
identifiers: {email: email}
"""
VN_CRM_MAPPING = HELPDESK_MAPPING.replace("record_id: id", "record_id: customer_no")


def import_csv(engine: Engine, tmp_path: Path, source: str, mapping: str, csv: str) -> None:
    path = tmp_path / f"{source}-{uuid.uuid4().hex[:6]}.csv"
    path.write_text(csv, encoding="utf-8")
    import_file(engine, path, source=source, mapping=parse_mapping(mapping), mapping_text=mapping)


def an_with_helpdesk(engine: Engine, tmp_path: Path, api: HelpdeskApi) -> SyncWorker:
    """Nguyễn Văn An, known to the helpdesk (H-1) and the CRM (C-9), and the helpdesk as a
    REST destination."""
    import_csv(
        engine,
        tmp_path,
        "helpdesk",
        HELPDESK_MAPPING,
        "id,name,phone,email,street,province\n"
        "H-1,Nguyễn Văn An,0912 345 678,an.nguyen@example.vn,12 Lý Thường Kiệt,Hà Nội\n",
    )
    import_csv(
        engine,
        tmp_path,
        "crm",
        VN_CRM_MAPPING,
        "customer_no,name,phone,email,street,province\n"
        "C-9,Nguyễn Văn An,+84912345678,an.nguyen@example.vn,12 Lý Thường Kiệt,Hà Nội\n",
    )
    add(
        engine,
        {
            "name": "helpdesk",
            "source": "helpdesk",
            "rest": {
                "url": api.url,
                "auth": {"secret": "helpdesk_token"},
                "version_field": "c360_version",
            },
            "fields": {
                "address_line1": "street",
                "province": "province",
                "phone": {"column": "phone", "owner": "app"},
            },
        },
    )
    return SyncWorker(
        engine,
        secrets=sync_secrets({"C360_SYNC_SECRET_HELPDESK_TOKEN": "tok-123"}),
        allowed_hosts=f"127.0.0.1:{api.port}",
        retry=RetryPolicy(window_s=30, base_delay_s=1, max_delay_s=4),
    )


def an_moves(engine: Engine, tmp_path: Path, street: str) -> None:
    import_csv(
        engine,
        tmp_path,
        "crm",
        VN_CRM_MAPPING,
        "customer_no,name,phone,email,street,province\n"
        f"C-9,Nguyễn Văn An,+84912345678,an.nguyen@example.vn,{street},Hồ Chí Minh\n",
    )


def test_a_rest_app_gets_the_golden_change_once_with_its_key_version_and_token(
    engine: Engine, tmp_path: Path, helpdesk: HelpdeskApi
) -> None:
    worker = an_with_helpdesk(engine, tmp_path, helpdesk)
    assert settle(worker)[-1].quiet
    assert helpdesk.calls == []  # the destination follows the feed from when it was added

    an_moves(engine, tmp_path, "45 Nguyễn Huệ")
    settle(worker)
    golden = golden_of(engine, "helpdesk", "H-1")
    [call] = helpdesk.calls
    assert (call.method, call.path) == ("PATCH", "/api/customers/H-1")
    assert call.body == {
        "street": "45 Nguyễn Huệ",
        "province": golden["province"],
        "c360_version": 1,
    }
    assert call.headers["Authorization"] == "Bearer tok-123"
    assert call.headers["X-C360-Sync-Version"] == "1"
    for _ in range(3):
        assert worker.run_once().quiet
    assert len(helpdesk.calls) == 1
    worker.close()


def test_a_failing_app_is_retried_with_back_off_then_dead_lettered_and_redriven(
    engine: Engine, tmp_path: Path, helpdesk: HelpdeskApi
) -> None:
    worker = an_with_helpdesk(engine, tmp_path, helpdesk)
    settle(worker)
    helpdesk.always = (503, {"Retry-After": "2"})
    an_moves(engine, tmp_path, "45 Nguyễn Huệ")
    t0 = system_clock()

    assert worker.run_once(now_us=t0).retrying == 1
    assert worker.run_once(now_us=t0 + 1_000_000).retrying == 0  # waits: Retry-After 2 s
    assert len(helpdesk.calls) == 1
    moments = [t0 + s * 5_000_000 for s in range(1, 7)]  # the back-off is at most 4 s
    reports = [worker.run_once(now_us=now) for now in moments]
    assert [r.retrying for r in reports] == [1, 1, 1, 1, 1, 0]
    assert reports[-1].dead_lettered == 1  # 30 s of failing: the retry window
    assert len(helpdesk.calls) == 7
    # every retry of the same write is recognisable as one
    assert {c.headers["Idempotency-Key"] for c in helpdesk.calls} == {
        helpdesk.calls[0].headers["Idempotency-Key"]
    }
    with engine.connect() as conn:
        [letter] = dead_letters(conn, "helpdesk")
    assert letter.app_key == "H-1" and letter.attempts == 7
    assert "HTTP 503" in letter.error and "retry window" in letter.error

    helpdesk.always = None
    with engine.begin() as conn:
        assert redrive(conn, "helpdesk") == 1
    report = worker.run_once(now_us=t0 + 40_000_000)
    assert report.written == 1
    assert helpdesk.calls[-1].body["street"] == "45 Nguyễn Huệ"
    with engine.connect() as conn:
        assert dead_letters(conn, "helpdesk") == []
        assert get_destination(conn, "helpdesk").last_error is None

    # A refusal (a 4xx) is not retried: it is dead-lettered at once.
    helpdesk.answers.append((422, {}))
    an_moves(engine, tmp_path, "7 Lê Lợi")
    report = worker.run_once(now_us=t0 + 50_000_000)
    assert (report.retrying, report.dead_lettered) == (0, 1)
    with engine.connect() as conn:
        [letter] = dead_letters(conn, "helpdesk")
    assert "HTTP 422" in letter.error and letter.attempts == 1
    worker.close()


# --- a SQLite app, and the command line ----------------------------------------------------


@dataclass
class Members:
    app: App
    path: Path


@pytest.fixture
def members(tmp_path: Path) -> Iterator[Members]:
    path = tmp_path / "members.db"
    table = Table(
        "members",
        MetaData(),
        Column("member_id", String(40), primary_key=True),
        Column("email", String(200)),
        Column("city", String(100)),
        Column("updated_at", String(40)),
        Column("c360_version", Integer),
    )
    engine = create_engine(f"sqlite:///{path}")
    table.create(engine)
    yield Members(App(f"sqlite:///{path}", engine, table), path)
    engine.dispose()


MEMBERS_MAPPING = """
kind: contact
record_id: member_id
fields: {city: city}
identifiers: {email: email}
"""
CONTACTS = """
kind: contact
record_id: id
defaults: {default_region: TH}
fields: {full_name: name, city: city}
identifiers: {email: email}
"""


def members_destination(members: Members, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "members",
        "source": "members",
        "table": {
            "url": members.app.url,
            "name": "members",
            "key": "member_id",
            "cursor": "updated_at",
            "version_column": "c360_version",
        },
        "mapping": yaml.safe_load(MEMBERS_MAPPING),
        "fields": {"city": "city", "email": {"column": "email", "owner": "app"}},
        **overrides,
    }


def test_missing_rows_are_created_when_asked_and_do_not_come_back_as_changes(
    engine: Engine, tmp_path: Path, members: Members
) -> None:
    import_csv(
        engine,
        tmp_path,
        "crm",
        CONTACTS,
        "id,name,email,city\nC-1,วิไลวรรณ ศรีสุข,wilaiwan@example.co.th,Chiang Mai\n",
    )
    add(engine, members_destination(members, create_missing=True), push_existing=False)
    with engine.begin() as conn:
        add_destination(
            conn,
            parse_destination({**members_destination(members), "name": "members-copy"}),
            push_existing=True,
        )
    # Only "members" may create rows; "members-copy" has no row for the profile to update.
    worker = SyncWorker(engine)
    settle(worker, names=["members-copy"])
    assert members.app.rows() == []

    import_csv(
        engine,
        tmp_path,
        "crm",
        CONTACTS,
        "id,name,email,city\nC-1,วิไลวรรณ ศรีสุข,wilaiwan@example.co.th,Lampang\n",
    )
    settle(worker, names=["members"])
    [row] = members.app.rows()
    assert row["member_id"] == profile_of(engine, "crm", "C-1")
    assert (row["city"], row["c360_version"], row["email"]) == ("Lampang", 1, None)
    logged = log_size(engine)
    for _ in range(3):
        assert worker.run_once(names=["members"]).quiet
    assert log_size(engine) == logged  # c360's own row is an echo, not the app's change
    worker.close()


def test_the_command_line_adds_runs_shows_and_redrives(
    tmp_path: Path, members: Members, monkeypatch: pytest.MonkeyPatch
) -> None:
    from c360.cli.main import app
    from c360.storage import create_engine_for, upgrade_to_head

    database_url = f"sqlite:///{tmp_path / 'c360.db'}"
    monkeypatch.setenv("C360_DATABASE_URL", database_url)
    engine = create_engine_for(database_url)
    upgrade_to_head(engine)
    import_csv(
        engine,
        tmp_path,
        "crm",
        CONTACTS,
        "id,name,email,city\nC-1,สมชาย ใจดี,somchai@example.co.th,Bangkok\n"
        "C-2,Nguyễn Văn An,an.nguyen@example.vn,Hà Nội\n",
    )
    members.app.insert(member_id="M-1", email="somchai@example.co.th", city="Bangkok")
    members.app.insert(member_id="M-2", email="an.nguyen@example.vn", city="Hà Nội")
    destination = tmp_path / "members.yml"
    destination.write_text(yaml.safe_dump(members_destination(members)), encoding="utf-8")
    runner = CliRunner()

    bad = tmp_path / "bad.yml"
    bad.write_text(
        yaml.safe_dump({**members_destination(members), "fields": {"cty": "city"}}),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["sync", "add", str(bad)])
    assert result.exit_code == 2 and "did you mean 'city'" in result.output

    result = runner.invoke(app, ["sync", "add", str(destination), "--push-existing"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["sync", "run"])
    assert result.exit_code == 0, result.output
    assert "(2 changed" in result.output and "wrote 0 rows" in result.output

    # Both move; the membership app loses M-2.
    import_csv(
        engine,
        tmp_path,
        "crm",
        CONTACTS,
        "id,name,email,city\nC-1,สมชาย ใจดี,somchai@example.co.th,Phuket\n"
        "C-2,Nguyễn Văn An,an.nguyen@example.vn,Đà Nẵng\n",
    )
    with members.app.engine.begin() as conn:
        conn.execute(delete(members.app.table).where(members.app.table.c.member_id == "M-2"))
    result = runner.invoke(app, ["sync", "run"])
    assert result.exit_code == 0, result.output
    assert "wrote 1 rows" in result.output and "1 dead-lettered" in result.output
    assert members.app.row("M-1")["city"] == "Phuket"

    result = runner.invoke(app, ["sync", "dead-letters", "members"])
    assert "M-2" in result.output and "no row" in result.output
    result = runner.invoke(app, ["sync", "list"])
    assert "members" in result.output and "table" in result.output
    members.app.insert(member_id="M-2", email="an.nguyen@example.vn", city="Hà Nội")
    result = runner.invoke(app, ["sync", "redrive", "members"])
    assert result.exit_code == 0 and "1 dead letters queued" in result.output
    result = runner.invoke(app, ["sync", "run", "members"])
    assert result.exit_code == 0, result.output
    assert members.app.row("M-2")["city"] == "Đà Nẵng"
    result = runner.invoke(app, ["sync", "show", "members"])
    assert result.exit_code == 0 and "city" in result.output and "0 dead letters" in result.output
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sync_queue)).scalar_one() == 0

    # A changed configuration: remove, then add again (what c360 knew of the rows stays).
    assert runner.invoke(app, ["sync", "add", str(destination)]).exit_code == 5
    assert runner.invoke(app, ["sync", "remove", "members"]).exit_code == 0
    result = runner.invoke(app, ["sync", "add", str(destination)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["sync", "run"])
    assert "(0 changed" in result.output and "wrote 0 rows" in result.output
    engine.dispose()


# --- the rules, and what is refused --------------------------------------------------------


def test_rules_newest_keeps_a_later_app_value_and_c360_owned_fields_are_not_taken_in() -> None:
    rules = [
        FieldRule("address_line1", "street", Ownership.NEWEST),
        FieldRule("province", "province", Ownership.C360),
        FieldRule("phone", "phone", Ownership.APP),
    ]
    state = SyncState(
        "K",
        "p",
        "h",
        app_values={"street": "old street", "province": "Bangkok", "phone": "1"},
        app_changed_at={"street": 2_000},
    )
    desired = {
        "street": Desired("golden street", 1_000, "crm", "C-1"),
        "province": Desired("Bangkok", 1_000, "crm", "C-1"),
        "phone": Desired("+66", 1_000, "crm", "C-1"),
    }
    current = {"street": "old street", "province": "Nonthaburi", "phone": "1"}
    plan = plan_push(
        rules,
        desired,
        key="K",
        source="shipping",
        current=current,
        reads_rows=True,
        state=state,
        now_us=3_000,
    )
    # the app changed street after c360's value (2000 > 1000): kept; province (c360's,
    # changed by the app unseen) is written back; phone is the app's
    assert plan.writes == {"province": "Bangkok"}
    assert [(c.column, c.outcome) for c in plan.conflicts] == [
        ("street", ConflictOutcome.KEPT_APP_NEWER),
        ("province", ConflictOutcome.IGNORED_C360_OWNS),
    ]
    newer = {**desired, "street": Desired("golden street", 5_000, "crm", "C-1")}
    later = plan_push(
        rules,
        newer,
        key="K",
        source="shipping",
        current=current,
        reads_rows=True,
        state=state,
        now_us=6_000,
    )
    assert later.writes == {"street": "golden street", "province": "Bangkok"}

    screened = screen_row(
        rules, "K", {"street": "old street", "province": "Chonburi", "phone": "2"}, state, 7_000
    )
    assert screened.log == {"street": "old street", "province": "Bangkok", "phone": "2"}
    assert screened.needs_push and screened.state.app_values["province"] == "Chonburi"
    assert screened.state.app_changed_at["phone"] == 7_000
    # the app typing what c360 says anyway is no conflict
    agreed = screen_row(
        rules, "K", {**current, "province": "Chonburi"}, state, 7_000, {"province": "Chonburi"}
    )
    assert agreed.conflicts == () and agreed.log is not None


def test_a_destination_that_cannot_work_is_refused_with_the_reason() -> None:
    base = {
        "name": "shipping",
        "source": "shipping",
        "table": {
            "url": "mysql+pymysql://sync:secret@ship-db/shipping",
            "name": "t",
            "key": "code",
        },
        "mapping": yaml.safe_load(SHIPPING_MAPPING),
        "fields": {"province": "ship_province"},
    }
    with pytest.raises(InvalidInput, match="leave the password out"):
        parse_destination(base)
    base["table"]["url"] = "mysql+pymysql://sync@ship-db/shipping"  # type: ignore[index]
    with pytest.raises(
        InvalidInput,
        match="'adress_line1' is not a golden record value; did you mean 'address_line1'",
    ):
        parse_destination({**base, "fields": {"adress_line1": "x"}})
    with pytest.raises(InvalidInput, match="name one part"):
        parse_destination({**base, "fields": {"delivery_address": "x"}})
    with pytest.raises(InvalidInput, match="record_id must be the key column 'id'"):
        parse_destination({**base, "table": {**base["table"], "key": "id"}})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="more than one field"):
        parse_destination({**base, "fields": {"province": "x", "city": "x"}})
    parsed = parse_destination({**base, "fields": {"delivery_address.postal_code": "zip"}})
    assert parsed.rules()[0].part == "postal_code"
