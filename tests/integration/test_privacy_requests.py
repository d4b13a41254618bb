"""Data subject requests: subjects, deadlines per law, the lifecycle (received, running,
completed, failed, rejected) with its audit trail, and the API and CLI over it."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from tests.conftest import make_keys
from tests.customer360 import track
from tests.factories import identify
from typer.testing import CliRunner

from c360.api.app import build_app
from c360.cli.main import app as cli
from c360.compliance import requests as service
from c360.errors import Conflict, InvalidInput
from c360.kernel.clock import to_us
from c360.privacy.audit import Actor
from c360.privacy.restrict import restricted
from c360.settings import Settings
from c360.storage.tables import audit_log, privacy_requests

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

DAY_US = 86_400_000_000
ACTOR = Actor("cli:tester", role="operator", client="cli")
EMAIL = "wilaiwan@example.co.th"


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return to_us(datetime(year, month, day, hour, minute, tzinfo=UTC))


def seed(engine: Engine, user: str = "u-dsr-1") -> None:
    track(
        engine,
        identify(
            user,
            traits={"name": "วิไลวรรณ ศรีสุข", "email": EMAIL, "phone": "+66898765432"},
        ),
    )


# --- deadlines and subjects -----------------------------------------------------------------


def test_each_law_sets_its_deadline() -> None:
    received = at(2027, 1, 31, 9, 30)
    assert service.deadline_us("pdpa", "access", received) == received + 30 * DAY_US
    assert service.deadline_us("pdpa", "erase", received) == received + 90 * DAY_US
    assert service.deadline_us("vn", "erase", received) == received + 3 * DAY_US
    assert service.deadline_us("vn", "access", received) == received + 3 * DAY_US
    # GDPR: one calendar month, the month's last day when it has no such day
    assert service.deadline_us("gdpr", "erase", received) == at(2027, 2, 28, 9, 30)
    assert service.deadline_us("gdpr", "access", at(2028, 1, 31)) == at(2028, 2, 29)
    assert service.deadline_us("gdpr", "access", at(2027, 12, 15)) == at(2028, 1, 15)


def test_deadlines_can_be_configured_and_bad_ones_are_refused() -> None:
    deadlines = service.parse_deadlines({"vn": {"erase": "5d"}, "pdpa": {"access": "1M"}})
    received = at(2027, 3, 1)
    assert service.deadline_us("vn", "erase", received, deadlines) == received + 5 * DAY_US
    assert service.deadline_us("vn", "access", received, deadlines) == received + 3 * DAY_US
    assert service.deadline_us("pdpa", "access", received, deadlines) == at(2027, 4, 1)
    with pytest.raises(InvalidInput, match="72h, 30d or 1M"):
        service.parse_deadlines({"vn": {"erase": "three days"}})
    with pytest.raises(InvalidInput, match="unknown law 'eu'"):
        service.parse_deadlines({"eu": {"erase": "30d"}})
    with pytest.raises(InvalidInput, match="unknown request kind 'delete'"):
        service.parse_deadlines({"gdpr": {"delete": "30d"}})


def test_subjects_are_typed_identifiers_or_profile_ids() -> None:
    assert service.parse_subject("email:Somchai@Example.co.th") == service.Subject(
        "email", "Somchai@Example.co.th"
    )
    assert service.parse_subject(" PHONE: 081-234-5678 ").identifiers() == [
        ("phone", "+66812345678"),
        ("phone", "+84812345678"),
    ]
    assert service.parse_subject("email:An@Example.VN").identifiers() == [
        ("email", "an@example.vn")
    ]
    pid = "6f1c2a7e-1b2c-5d3e-8f90-0a1b2c3d4e5f"
    assert service.parse_subject(pid) == service.Subject("profile", pid)
    assert service.parse_subject(f"profile:{pid}") == service.Subject("profile", pid)
    for bad in ("", "somchai", "email:", "no spaces allowed:x", "email:nobody"):
        with pytest.raises(InvalidInput) as caught:
            service.parse_subject(bad)
        assert "nobody" not in str(caught.value)  # messages may be logged: no values in them


# --- the lifecycle ---------------------------------------------------------------------------


def test_a_request_is_received_run_and_answered_with_an_audit_trail(engine: Engine) -> None:
    seed(engine)
    with engine.begin() as conn:
        asked = service.create_request(
            conn, kind="access", subject="phone:089-876-5432", law="pdpa", actor=ACTOR
        )
    assert asked.status == "received" and asked.profile_id is not None
    assert asked.deadline_us == asked.received_at_us + 30 * DAY_US
    assert asked.requested_by == "cli:tester"
    with engine.connect() as conn:
        assert [r.id for r in service.list_requests(conn, status="open")] == [asked.id]
        assert service.list_requests(conn, overdue=True) == []
        late = asked.deadline_us + 1
        assert [r.id for r in service.list_requests(conn, overdue=True, now_us=late)] == [asked.id]
        assert service.get_request(conn, asked.id).overdue(late)

    done = service.run_request(engine, asked.id, ACTOR)
    assert done.status == "completed" and done.completed_at_us is not None
    assert done.report is not None and len(done.report["sha256"]) == 64
    assert done.report["sections"]["events"] >= 1
    with engine.connect() as conn:
        export = service.export_of(conn, done)
        assert export["about"]["profile_id"] == done.profile_id
        assert "<html" in service.render_export_html(export).lower()
        assert service.list_requests(conn, overdue=True, now_us=asked.deadline_us + 1) == []
    with pytest.raises(Conflict, match="completed"):
        service.run_request(engine, asked.id, ACTOR)

    with engine.begin() as conn:
        fix = service.create_request(
            conn,
            kind="rectify",
            subject=f"email:{EMAIL.upper()}",
            law="gdpr",
            actor=ACTOR,
            detail={"changes": {"last_name": "Srisuk"}},
        )
        with pytest.raises(InvalidInput, match=r"detail\.changes"):
            service.create_request(
                conn, kind="rectify", subject=f"email:{EMAIL}", law="gdpr", actor=ACTOR
            )
    fixed = service.run_request(engine, fix.id, ACTOR)
    assert fixed.status == "completed" and fixed.report is not None
    assert "last_name" in fixed.report["changed"]

    with engine.begin() as conn:
        stop = service.create_request(
            conn,
            kind="restrict",
            subject="user_id:u-dsr-1",
            law="vn",
            actor=ACTOR,
            detail={"reason": "disputes accuracy"},
        )
    assert stop.deadline_us == stop.received_at_us + 3 * DAY_US
    assert service.run_request(engine, stop.id, ACTOR).status == "completed"
    with engine.connect() as conn:
        assert restricted(conn, [stop.profile_id or ""]) == {stop.profile_id}
    with engine.begin() as conn:
        resume = service.create_request(
            conn, kind="unrestrict", subject="user_id:u-dsr-1", law="vn", actor=ACTOR
        )
    assert service.run_request(engine, resume.id, ACTOR).report == {
        "restricted": False,
        "lifted": True,
    }
    with engine.connect() as conn:
        assert restricted(conn, [stop.profile_id or ""]) == set()

    # nobody holds it: received, then failed when run, with the reason
    with engine.begin() as conn:
        stranger = service.create_request(
            conn, kind="access", subject="email:nobody@example.com", law="gdpr", actor=ACTOR
        )
        refused = service.create_request(
            conn, kind="erase", subject="email:prank@example.com", law="pdpa", actor=ACTOR
        )
        assert stranger.profile_id is None
        rejected = service.reject_request(conn, refused.id, ACTOR, "identity not verified")
    assert rejected.status == "rejected" and rejected.error == "identity not verified"
    failed = service.run_request(engine, stranger.id, ACTOR)
    assert failed.status == "failed" and "no profile holds" in (failed.error or "")
    with pytest.raises(Conflict, match="rejected"):
        service.run_request(engine, refused.id, ACTOR)

    with engine.connect() as conn:
        entries = conn.execute(
            select(audit_log.c.action, audit_log.c.object_id, audit_log.c.detail)
            .where(audit_log.c.object_type == "privacy_request")
            .order_by(audit_log.c.id)
        ).all()
    stages = [(a, int(o), d["stage"]) for a, o, d in entries]
    assert stages[:2] == [
        ("privacy.access", asked.id, "received"),
        ("privacy.access", asked.id, "completed"),
    ]
    assert ("privacy.erase", refused.id, "rejected") in stages
    assert ("privacy.access", stranger.id, "failed") in stages
    assert all(
        EMAIL not in json.dumps(d) and "0898765432" not in json.dumps(d) for *_, d in entries
    )


# --- API and CLI -----------------------------------------------------------------------------


def test_the_api_files_lists_runs_and_exports_requests(database_url: str, engine: Engine) -> None:
    seed(engine)
    _, admin = make_keys(database_url)
    auth = {"Authorization": f"Bearer {admin}"}
    app = build_app(Settings(database_url=database_url), engine, run_worker=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        filed = client.post(
            "/api/privacy/requests",
            json={"kind": "access", "subject": f"email:{EMAIL}", "law": "gdpr"},
            headers=auth,
        )
        assert filed.status_code == 201, filed.text
        body = filed.json()
        assert body["status"] == "received" and body["overdue"] is False
        assert body["requested_by"].startswith("key:")
        rid = body["id"]
        bad = client.post(
            "/api/privacy/requests", json={"kind": "access", "subject": "somebody"}, headers=auth
        )
        assert bad.status_code == 422 and "TYPE:VALUE" in bad.json()["message"]
        unknown_kind = client.post(
            "/api/privacy/requests", json={"kind": "forget", "subject": "user_id:x"}, headers=auth
        )
        assert unknown_kind.status_code == 422
        not_yet = client.get(f"/api/privacy/requests/{rid}/export", headers=auth)
        assert not_yet.status_code == 409
        listed = client.get("/api/privacy/requests?status=open&kind=access", headers=auth).json()
        assert [r["id"] for r in listed["items"]] == [rid]
        assert client.get("/api/privacy/requests?overdue=true", headers=auth).json()["items"] == []

        run = client.post(f"/api/privacy/requests/{rid}/run", headers=auth)
        assert run.status_code == 200, run.text
        assert run.json()["status"] == "completed"
        again = client.post(f"/api/privacy/requests/{rid}/run", headers=auth)
        assert again.status_code == 409
        shown = client.get(f"/api/privacy/requests/{rid}", headers=auth).json()
        assert shown["report"]["sections"]["events"] >= 1
        as_json = client.get(f"/api/privacy/requests/{rid}/export", headers=auth)
        assert as_json.status_code == 200
        assert as_json.json()["about"]["profile_id"] == shown["profile_id"]
        as_html = client.get(f"/api/privacy/requests/{rid}/export?format=html", headers=auth)
        assert as_html.status_code == 200 and as_html.headers["content-type"].startswith(
            "text/html"
        )
        assert "วิไลวรรณ" in as_html.text
        assert client.get("/api/privacy/requests/999999", headers=auth).status_code == 404
        assert client.get("/api/privacy/requests").status_code == 401

        erased = client.post(
            "/api/privacy/requests",
            json={"kind": "erase", "subject": "user_id:u-dsr-1", "law": "pdpa"},
            headers=auth,
        ).json()
        rejected = client.post(
            f"/api/privacy/requests/{erased['id']}/reject",
            json={"reason": "could not verify the requester"},
            headers=auth,
        )
        assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"


def test_the_cli_files_and_runs_every_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'c360.db'}"
    monkeypatch.setenv("C360_DATABASE_URL", url)
    from c360.storage import open_store

    engine = open_store(url)
    seed(engine)
    runner = CliRunner()

    def c360(*args: str, code: int = 0) -> Any:
        result = runner.invoke(cli, ["privacy", *args])
        assert result.exit_code == code, result.output
        return result

    out = tmp_path / "answer"
    c360("access", f"email:{EMAIL}", "--law", "vn", "--out", str(out))
    assert sorted(p.name for p in out.iterdir()) == [
        "person.html",
        "person.json",
        "privacy-request-1.json",
    ]
    assert json.loads((out / "person.json").read_text("utf-8"))["about"]["profile_id"]
    shown = json.loads(c360("show", "1", "--json").output)
    assert shown["status"] == "completed" and shown["law"] == "vn"
    c360("rectify", "user_id:u-dsr-1", "--set", "last_name=Srisuk")
    c360("restrict", "user_id:u-dsr-1", "--reason", "objects to profiling")
    c360("unrestrict", "user_id:u-dsr-1")
    filed = json.loads(c360("erase", "phone:089 876 5432", "--no-run", "--json").output)
    assert filed["status"] == "received"
    listed = json.loads(c360("requests", "--status", "open", "--json").output)
    assert [r["id"] for r in listed] == [filed["id"]]
    assert json.loads(c360("requests", "--overdue", "--json").output) == []
    erased = c360("run", str(filed["id"]))
    assert "verified" in erased.output and "nothing found" in erased.output
    with engine.connect() as conn:
        kinds = dict(conn.execute(select(privacy_requests.c.id, privacy_requests.c.status)).all())
    assert list(kinds.values()) == ["completed"] * 5
    assert "TYPE:VALUE" in c360("access", "nobody", code=2).output
    c360("show", "99", code=4)
    engine.dispose()
