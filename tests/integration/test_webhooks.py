"""``POST /v1/webhooks/{source}`` against a running server: mapped, durable, quarantined."""

from pathlib import Path

import httpx
from sqlalchemy import select
from tests.conftest import LiveServer

from c360.eventlog.service import ensure_source
from c360.ingest.mapping import parse_mapping
from c360.ingest.records import register_mapping
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


def give_mapping(server: LiveServer) -> None:
    engine = create_engine_for(server.database_url)
    with engine.begin() as conn:
        source = ensure_source(conn, "web")
        register_mapping(conn, source.id, parse_mapping(FORM_MAPPING), FORM_MAPPING)
    engine.dispose()


def post(server: LiveServer, body: object, source: str = "web") -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/webhooks/{source}", json=body, auth=(server.write_key, ""), timeout=10
    )


def test_a_source_without_a_mapping_is_told_how_to_give_it_one(live_server: LiveServer) -> None:
    response = post(live_server, {"submission_id": "s-1"})
    assert response.status_code == 409
    assert response.json()["code"] == "no_mapping"
    assert "c360 sources set-mapping web" in response.json()["message"]


def test_webhook_items_become_records_and_bad_items_are_quarantined(
    live_server: LiveServer, tmp_path: Path
) -> None:
    give_mapping(live_server)
    form = {
        "submission_id": "s-1",
        "Họ và tên": "Nguyễn Thị Mai",
        "Số điện thoại": "0912 345 678",
        "email": "Mai.Nguyen@Example.vn",
        "event": "Tết Fair 2027",
        "submitted_at": "2026-11-20 19:30",
    }
    response = post(live_server, form)
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "accepted": 1, "quarantined": 0}

    retried = post(live_server, form)  # the form tool retries: still one record
    assert retried.status_code == 200

    batch = post(
        live_server, [{"Họ và tên": "no id"}, "not an object", {**form, "submission_id": "s-2"}]
    )
    assert batch.json() == {"success": True, "accepted": 1, "quarantined": 2}

    assert post(live_server, {"submission_id": "x"}, source="crm").status_code == 403
    assert (
        httpx.post(
            f"{live_server.url}/v1/webhooks/web",
            content=b"{not json",
            auth=(live_server.write_key, ""),
        ).status_code
        == 400
    )

    live_server.wait_processed()
    engine = create_engine_for(live_server.database_url)
    with engine.connect() as conn:
        found = {
            r.record_id: r
            for r in conn.execute(
                select(
                    source_records.c.record_id, source_records.c.fields, source_records.c.version
                )
            )
        }
        reasons = sorted(r for (r,) in conn.execute(select(rejects.c.reason)))
    engine.dispose()
    assert set(found) == {"s-1", "s-2"}
    mai = found["s-1"].fields
    assert found["s-1"].version == 1
    assert mai["phone"] == "+84912345678"
    assert mai["email"] == "mai.nguyen@example.vn"
    assert (mai["last_name"], mai["middle_name"], mai["first_name"]) == ("Nguyễn", "Thị", "Mai")
    assert mai["registered_at"] == "2026-11-20T12:30:00Z"  # Ho Chi Minh City is UTC+7
    assert reasons == ["missing_record_id", "not_an_object"]

    with live_server.admin() as admin:
        quality = admin.get("/api/quality")
    assert quality.status_code == 200, quality.text
    (web,) = [entry for entry in quality.json() if entry["source"] == "web"]
    assert web["records"] == 2 and web["kinds"] == {"registration": 2}
    assert web["quarantined_open"] == 2
    assert web["quarantine_reasons"] == {"missing_record_id": 1, "not_an_object": 1}
    phone = next(f for f in web["fields"] if f["field"] == "phone")
    assert (phone["kind"], phone["completeness"], phone["validity"]) == ("registration", 1.0, 1.0)
