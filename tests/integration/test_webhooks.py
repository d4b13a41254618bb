"""``POST /v1/webhooks/{source}`` against a running server: mapped, durable, quarantined.

One ``c360 serve`` per store serves the module (starting one costs seconds); each test posts to
a source of its own, with a writer key for it, and reads back only that source's rows."""

import uuid
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select
from tests.conftest import LiveServer

from c360.eventlog.service import ensure_source, get_source_by_name
from c360.ingest.mapping import parse_mapping
from c360.ingest.records import register_mapping
from c360.privacy.keys import Role, create_key
from c360.storage import create_engine_for
from c360.storage.tables import rejects, source_records

FORM_MAPPING = """
kind: registration
record_id: submission_id
defaults: {default_region: VN, timezone: Asia/Ho_Chi_Minh}
fields:
  full_name: {column: "Họ và tên", order: family_first}
  phone: "Số điện thoại"
  event_name: event
  registered_at: submitted_at
identifiers:
  email: email
"""


@dataclass
class Site:
    """The shared server, seen from a source of this test's own and its writer key."""

    server: LiveServer
    source: str
    write_key: str

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def site(shared_live_server: LiveServer) -> Site:
    source = f"web-{uuid.uuid4().hex[:10]}"
    engine = create_engine_for(shared_live_server.database_url)
    with engine.begin() as conn:
        _, write_key = create_key(conn, name="form tool", role=Role.WRITER, source=source)
    engine.dispose()
    return Site(shared_live_server, source, write_key)


def give_mapping(site: Site) -> None:
    engine = create_engine_for(site.server.database_url)
    with engine.begin() as conn:
        source = ensure_source(conn, site.source)
        register_mapping(conn, source.id, parse_mapping(FORM_MAPPING), FORM_MAPPING)
    engine.dispose()


def post(site: Site, body: object, source: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{site.url}/v1/webhooks/{source or site.source}",
        json=body,
        auth=(site.write_key, ""),
        timeout=10,
    )


def test_a_source_without_a_mapping_is_told_how_to_give_it_one(site: Site) -> None:
    response = post(site, {"submission_id": "s-1"})
    assert response.status_code == 409
    assert response.json()["code"] == "no_mapping"
    assert f"c360 sources set-mapping {site.source}" in response.json()["message"]


def test_webhook_items_become_records_and_bad_items_are_quarantined(site: Site) -> None:
    give_mapping(site)
    form = {
        "submission_id": "s-1",
        "Họ và tên": "Nguyễn Thị Mai",
        "Số điện thoại": "0912 345 678",
        "email": "Mai.Nguyen@Example.vn",
        "event": "Tết Fair 2027",
        "submitted_at": "2026-11-20 19:30",
    }
    response = post(site, form)
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "accepted": 1, "quarantined": 0}

    retried = post(site, form)  # the form tool retries: still one record
    assert retried.status_code == 200

    batch = post(site, [{"Họ và tên": "no id"}, "not an object", {**form, "submission_id": "s-2"}])
    assert batch.json() == {"success": True, "accepted": 1, "quarantined": 2}

    assert post(site, {"submission_id": "x"}, source="crm").status_code == 403
    assert (
        httpx.post(
            f"{site.url}/v1/webhooks/{site.source}",
            content=b"{not json",
            auth=(site.write_key, ""),
        ).status_code
        == 400
    )

    site.server.wait_processed()
    engine = create_engine_for(site.server.database_url)
    with engine.connect() as conn:
        source = get_source_by_name(conn, site.source)
        assert source is not None
        found = {
            r.record_id: r
            for r in conn.execute(
                select(
                    source_records.c.record_id, source_records.c.fields, source_records.c.version
                ).where(source_records.c.source_id == source.id)
            )
        }
        reasons = sorted(
            r
            for (r,) in conn.execute(
                select(rejects.c.reason).where(rejects.c.source_id == source.id)
            )
        )
    engine.dispose()
    assert set(found) == {"s-1", "s-2"}
    mai = found["s-1"].fields
    assert found["s-1"].version == 1
    assert mai["phone"] == "+84912345678"
    assert mai["email"] == "mai.nguyen@example.vn"
    assert (mai["last_name"], mai["middle_name"], mai["first_name"]) == ("Nguyễn", "Thị", "Mai")
    assert mai["registered_at"] == "2026-11-20T12:30:00Z"  # Ho Chi Minh City is UTC+7
    assert reasons == ["missing_record_id", "not_an_object"]

    with site.server.admin() as admin:
        quality = admin.get("/api/quality")
    assert quality.status_code == 200, quality.text
    (web,) = [entry for entry in quality.json() if entry["source"] == site.source]
    assert web["records"] == 2 and web["kinds"] == {"registration": 2}
    assert web["quarantined_open"] == 2
    assert web["quarantine_reasons"] == {"missing_record_id": 1, "not_an_object": 1}
    phone = next(f for f in web["fields"] if f["field"] == "phone")
    assert (phone["kind"], phone["completeness"], phone["validity"]) == ("registration", 1.0, 1.0)
