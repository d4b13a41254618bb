"""Erasure reaches the sync destinations (RELIABILITY-TESTS P5: "delete request sent to 100 %
of connected destinations that support deletion, each with a final status"), on both stores:
a local HTTP server plays three REST apps (one deletes, one never had the person, one is
down), a SQLite file a membership app's table, and a fifth app cannot delete. The person is
known to all five; after the erasure each app got its deletion (or could not), the report
gives each its final status without the app keys, and the change feed says profile_erased."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Column, Engine, MetaData, String, Table, create_engine, insert, select
from tests.conftest import free_port
from tests.customer360 import process

from c360.activation.sync import add_destination, parse_destination
from c360.compliance import erasure
from c360.compliance import requests as service
from c360.ingest.mapping import parse_mapping
from c360.privacy.audit import Actor
from c360.storage.tables import profile_changes, sync_state
from c360.workers.imports import import_file

ACTOR = Actor("test:dpo", role="admin")
EMAIL = "an.nguyen@example.vn"
OTHER_EMAIL = "somchai@example.co.th"


@dataclass
class Apps:
    """REST apps under one local server: ``/{app}/customers/{key}``; each app answers
    deletions with its status (helpdesk 204, loyalty 404, billing 500)."""

    port: int
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    status: dict[str, int] = field(
        default_factory=lambda: {"helpdesk": 204, "loyalty": 404, "billing": 500}
    )

    def url(self, app: str) -> str:
        return f"http://127.0.0.1:{self.port}/{app}/customers"


@pytest.fixture
def apps() -> Iterator[Apps]:
    found = Apps(free_port())

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            found.calls.append((self.command, self.path, dict(self.headers)))
            status = found.status.get(self.path.split("/")[1], 200)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_DELETE = do_PATCH = do_PUT = do_POST = _answer

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", found.port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def deletions(apps: Apps) -> Iterator[erasure.DeletionAccess]:
    """Erasure reaches the local apps with the helpdesk's token, retrying fast."""
    access = erasure.DeletionAccess(
        secrets={"HELPDESK_TOKEN": "tok-erase"},
        allowed_hosts=f"127.0.0.1:{apps.port}",
        attempts=3,
        base_delay_s=0.01,
    )
    erasure.configure_deletions(access)
    try:
        yield access
    finally:
        erasure.configure_deletions(erasure.DeletionAccess())


MAPPING = """
kind: contact
record_id: id
defaults: {default_region: VN}
fields: {full_name: name, city: city}
identifiers: {email: email}
"""


def import_people(engine: Engine, tmp_path: Path, source: str, rows: list[tuple[str, str]]) -> None:
    path = tmp_path / f"{source}-{uuid.uuid4().hex[:6]}.csv"
    lines = ["id,name,email,city"]
    for key, email in rows:
        name = "Nguyễn Văn An" if email == EMAIL else "สมชาย ใจดี"
        lines.append(f"{key},{name},{email},Hà Nội")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_file(engine, path, source=source, mapping=parse_mapping(MAPPING), mapping_text=MAPPING)


def rest(name: str, apps: Apps, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "source": name,
        "country": "VN",
        "rest": {"url": apps.url(name), **extra},
        "fields": {"city": "city"},
    }


@pytest.fixture
def members(tmp_path: Path) -> Iterator[tuple[str, Engine, Table]]:
    """The membership app: a table in its own SQLite file."""
    url = f"sqlite:///{tmp_path / 'members.db'}"
    table = Table(
        "members",
        MetaData(),
        Column("id", String(40), primary_key=True),
        Column("email", String(200)),
        Column("city", String(100)),
    )
    engine = create_engine(url)
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(table),
            [
                {"id": "M-1", "email": EMAIL, "city": "Hà Nội"},
                {"id": "M-2", "email": OTHER_EMAIL, "city": "Bangkok"},
            ],
        )
    yield url, engine, table
    engine.dispose()


def test_erasure_sends_a_deletion_to_every_destination_that_can_delete_and_reports_each(
    engine: Engine,
    tmp_path: Path,
    apps: Apps,
    members: tuple[str, Engine, Table],
    deletions: erasure.DeletionAccess,
) -> None:
    members_url, members_engine, members_table = members
    import_people(engine, tmp_path, "helpdesk", [("H-1", EMAIL), ("H-2", OTHER_EMAIL)])
    import_people(engine, tmp_path, "loyalty", [("L-1", EMAIL)])
    import_people(engine, tmp_path, "billing", [("B-1", EMAIL)])
    import_people(engine, tmp_path, "newsletter", [("N-1", EMAIL)])
    import_people(engine, tmp_path, "members", [("M-1", EMAIL), ("M-2", OTHER_EMAIL)])
    process(engine)
    configs = [
        rest(
            "helpdesk",
            apps,
            auth={"secret": "helpdesk_token"},
            delete={"method": "DELETE", "path": "{key}"},
        ),
        rest("loyalty", apps, delete={"path": "/loyalty/customers/{key}"}),
        rest("billing", apps, delete={"method": "POST", "path": "{key}/erase"}),
        rest("newsletter", apps),  # no delete request: it cannot
        {
            "name": "members",
            "source": "members",
            "country": "TH",
            "table": {"url": members_url, "name": "members", "key": "id"},
            "mapping": yaml.safe_load(MAPPING),
            "fields": {"city": "city"},
        },
    ]
    with engine.begin() as conn:
        for config in configs:
            add_destination(conn, parse_destination(config), home_country="TH")
        filed = service.create_request(
            conn, kind="erase", subject=f"email:{EMAIL}", law="vn", actor=ACTOR
        )
        profile_id = service.resolve_subject(conn, service.parse_subject(f"email:{EMAIL}"))
    assert profile_id is not None

    done = service.run_request(engine, filed.id, ACTOR)
    assert done.status == "completed", (done.error, done.report)
    assert done.report is not None
    report = {d["destination"]: d for d in done.report["destinations"]}

    # every destination that held the person has a final status
    assert {name: d["status"] for name, d in report.items()} == {
        "billing": "failed",
        "helpdesk": "deleted",
        "loyalty": "not_found",
        "members": "deleted",
        "newsletter": "not_supported",
    }
    # 100 % of those that can delete were sent the deletion (the helpdesk with its token)
    deletes = [(method, path) for method, path, _ in apps.calls]
    assert ("DELETE", "/helpdesk/customers/H-1") in deletes
    assert ("DELETE", "/loyalty/customers/L-1") in deletes
    assert deletes.count(("POST", "/billing/customers/B-1/erase")) == 3  # retried, then failed
    assert not any(path.startswith("/newsletter") for _, path in deletes)
    assert not any("H-2" in path for _, path in deletes)  # the other person stays
    helpdesk_call = next(h for m, p, h in apps.calls if p == "/helpdesk/customers/H-1")
    assert helpdesk_call["Authorization"] == "Bearer tok-erase"
    with members_engine.connect() as conn:
        assert conn.execute(select(members_table.c.id)).scalars().all() == ["M-2"]

    assert report["billing"]["attempts"] == 3
    assert "HTTP 500" in report["billing"]["detail"]
    assert report["billing"]["detail"].startswith("POST http://127.0.0.1")
    assert {k: report["helpdesk"][k] for k in ("deleted", "not_found", "failed", "rows")} == {
        "deleted": 1,
        "not_found": 0,
        "failed": 0,
        "rows": 1,
    }
    assert (report["helpdesk"]["country"], report["helpdesk"]["detail"]) == ("VN", None)
    assert report["members"]["deleted"] == 1 and report["members"]["kind"] == "table"
    assert "no rest.delete" in report["newsletter"]["detail"]
    assert "B-1" not in json.dumps(done.report) and "H-1" not in json.dumps(done.report)

    with engine.connect() as conn:
        erased = conn.execute(
            select(profile_changes.c.profile_id, profile_changes.c.detail).where(
                profile_changes.c.kind == "profile_erased"
            )
        ).all()
        assert conn.execute(select(sync_state.c.app_key)).scalars().all() == []
    assert profile_id in {row.profile_id for row in erased}
    assert all(row.detail == {} for row in erased)
    assert done.report["profile_erased_changes"] == len(erased)


def test_a_destination_that_cannot_be_reached_ends_failed_with_its_reason(
    engine: Engine, tmp_path: Path, apps: Apps, deletions: erasure.DeletionAccess
) -> None:
    import_people(engine, tmp_path, "helpdesk", [("H-9", EMAIL)])
    process(engine)
    with engine.begin() as conn:
        # the token's secret is not set, and then the app is down
        add_destination(
            conn,
            parse_destination(
                rest("helpdesk", apps, auth={"secret": "other_token"}, delete={"path": "{key}"})
            ),
        )
        filed = service.create_request(
            conn, kind="erase", subject=f"email:{EMAIL}", law="pdpa", actor=ACTOR
        )
    done = service.run_request(engine, filed.id, ACTOR)
    assert done.report is not None
    [entry] = done.report["destinations"]
    assert entry["status"] == "failed"
    assert "C360_SYNC_SECRET_OTHER_TOKEN" in entry["detail"]
    assert apps.calls == []
