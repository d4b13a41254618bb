"""The routes the web app's Data pages add to the management API: a source's import history
and mapping, retrying quarantined rows after a mapping fix, and API keys (create, rotate,
revoke), each change audited; on both stores."""

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from c360.ingest.mapping import parse_mapping
from c360.storage.tables import audit_log, rejects
from c360.workers.imports import import_file

BROKEN = """\
source: legacy
kind: contact
record_id: member_number
fields:
  full_name: name
identifiers:
  email: email
"""
FIXED = BROKEN.replace("record_id: member_number", "record_id: member_no")
ROWS = (
    "member_no,name,email\n"
    "M-1,Somchai Jaidee,somchai@example.co.th\n"
    "M-2,Nguyễn Văn An,an@example.vn\n"
    "M-3,Malee Suksan,malee@example.co.th\n"
)


@pytest.fixture
def client(database_url: str, engine: Engine) -> Iterator[tuple[Any, dict[str, str]]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from fastapi.testclient import TestClient
    from tests.conftest import make_keys

    from c360.api.app import build_app
    from c360.settings import Settings

    _, admin = make_keys(database_url)
    settings = Settings(database_url=database_url, key_cache_ttl_s=0)
    app = build_app(settings, engine, run_worker=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client, {"Authorization": f"Bearer {admin}"}


def audited(engine: Engine, action: str) -> list[Any]:
    from c360.api.audit_trail import flush_pending

    flush_pending()
    with engine.connect() as conn:
        return conn.execute(
            select(audit_log.c.object_type, audit_log.c.object_id, audit_log.c.detail).where(
                audit_log.c.action == action
            )
        ).all()


def test_quarantined_rows_come_in_after_the_mapping_is_fixed(
    client: tuple[Any, dict[str, str]], engine: Engine, tmp_path: Path
) -> None:
    api, auth = client
    path = tmp_path / "members.csv"
    path.write_text(ROWS, "utf-8")
    summary = import_file(
        engine, path, source="legacy", mapping=parse_mapping(BROKEN), mapping_text=BROKEN
    )
    assert summary.quarantined == 3

    [run] = api.get("/api/sources/legacy/imports", headers=auth).json()["runs"]
    assert (run["kind"], run["location"], run["status"], run["mapping_version"]) == (
        "file",
        str(path),
        "done",
        1,
    )
    assert (run["read"], run["new"], run["unchanged"], run["quarantined"]) == (3, 0, 0, 3)
    assert run["finished_at"] >= run["started_at"] and run["error"] is None
    mapping = api.get("/api/sources/legacy/mapping", headers=auth).json()
    assert mapping["version"] == 1 and "member_number" in mapping["text"]

    still = api.post("/api/sources/legacy/rejects/retry", json={}, headers=auth).json()
    assert (still["tried"], still["accepted"], still["still_quarantined"]) == (3, 0, 3)

    wrong = api.post(
        "/api/sources/legacy/rejects/retry",
        json={"mapping": FIXED.replace("source: legacy", "source: crm")},
        headers=auth,
    )
    assert wrong.status_code == 422 and "crm" in wrong.json()["message"]

    done = api.post("/api/sources/legacy/rejects/retry", json={"mapping": FIXED}, headers=auth)
    assert done.status_code == 200, done.text
    assert (done.json()["accepted"], done.json()["mapping_version"]) == (3, 2)
    with engine.connect() as conn:
        open_rows = conn.execute(select(rejects.c.id).where(rejects.c.resolved_at_us.is_(None)))
        assert open_rows.all() == []
    runs = api.get("/api/sources/legacy/imports", headers=auth).json()["runs"]
    assert [(r["kind"], r["read"], r["new"], r["quarantined"]) for r in runs] == [
        ("retry", 3, 3, 0),  # newest first: the retry with the fixed mapping
        ("retry", 3, 0, 3),
        ("file", 3, 0, 3),
    ]
    assert runs[0]["mapping_version"] == 2
    assert api.get("/api/sources/legacy/mapping", headers=auth).json()["version"] == 2
    [entry] = [e for e in audited(engine, "quarantine.retry") if e.detail["accepted"] == 3]
    assert entry.object_id == "legacy" and entry.detail["new_mapping"] is True
    assert api.get("/api/sources/nowhere/imports", headers=auth).status_code == 404


def test_a_key_is_created_shown_once_rotated_and_revoked(
    client: tuple[Any, dict[str, str]], engine: Engine
) -> None:
    api, auth = client
    made = api.post("/api/keys", json={"name": "bi tool", "role": "analyst"}, headers=auth)
    assert made.status_code == 201, made.text
    key = made.json()
    secret = key["secret"]
    assert secret.startswith(key["prefix"]) and key["state"] == "active"
    analyst = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/quality", headers=analyst).status_code == 200
    assert api.get("/api/keys", headers=analyst).status_code == 403  # access.admin only
    listed = api.get("/api/keys", headers=auth).json()
    [shown] = [k for k in listed if k["id"] == key["id"]]
    assert "secret" not in shown and shown["role"] == "analyst"

    rotated = api.post(f"/api/keys/{key['id']}/rotate", json={"grace_s": 0}, headers=auth).json()
    assert rotated["old"]["state"] == "expired" and rotated["new"]["name"] == "bi tool"
    assert api.get("/api/quality", headers=analyst).status_code == 401
    fresh = {"Authorization": f"Bearer {rotated['new']['secret']}"}
    assert api.get("/api/quality", headers=fresh).status_code == 200

    revoked = api.post(f"/api/keys/{rotated['new']['id']}/revoke", headers=auth)
    assert revoked.json()["state"] == "revoked"
    assert api.get("/api/quality", headers=fresh).status_code == 401
    again = api.post(f"/api/keys/{rotated['new']['id']}/rotate", json={}, headers=auth)
    assert again.status_code == 409

    bad = api.post("/api/keys", json={"name": "shop", "role": "writer"}, headers=auth)
    assert bad.status_code == 422 and "source" in bad.json()["message"]
    actions = {
        action: audited(engine, action) for action in ("key.create", "key.rotate", "key.revoke")
    }
    created = [e for e in actions["key.create"] if e.object_type == "api_key"]
    assert [e.detail["name"] for e in created] == ["bi tool"]
    assert [e.object_id for e in actions["key.rotate"] if e.object_type == "api_key"] == [
        str(key["id"])
    ]
    assert [e.object_id for e in actions["key.revoke"] if e.object_type == "api_key"] == [
        str(rotated["new"]["id"])
    ]


def test_an_import_cut_short_is_recorded_as_failed_with_what_it_logged(
    client: tuple[Any, dict[str, str]], engine: Engine, tmp_path: Path
) -> None:
    api, auth = client
    path = tmp_path / "members.csv"
    path.write_text(ROWS, "utf-8")
    batches = 0

    def interrupted(_done: int, _total: int | None) -> None:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise KeyboardInterrupt  # the operator pressed Ctrl-C during the third batch

    with pytest.raises(KeyboardInterrupt):
        import_file(
            engine,
            path,
            source="legacy",
            mapping=parse_mapping(FIXED),
            mapping_text=FIXED,
            batch_size=1,
            progress=interrupted,
        )
    [run] = api.get("/api/sources/legacy/imports", headers=auth).json()["runs"]
    assert (run["status"], run["read"], run["new"], run["quarantined"]) == ("failed", 2, 2, 0)
    assert run["error"].startswith("KeyboardInterrupt") and run["finished_at"] is not None
