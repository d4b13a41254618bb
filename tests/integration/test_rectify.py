"""Rectification: a corrected value shows in the golden record once processed, wins over every
source, and survives a later import of the old value and ``c360 rebuild``."""

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from tests.customer360 import load, process

from c360.compliance.access import export_person
from c360.compliance.rectify import rectify
from c360.errors import InvalidInput, NotFound
from c360.profiles.golden import golden_values
from c360.profiles.model import RECTIFICATION_SOURCE
from c360.profiles.service import find_by_identifier, get_profile
from c360.storage.tables import event_log
from c360.workers.rebuild import rebuild

EMAIL = "somchai.r@example.co.th"
CONTACT = {
    "id": "c-1",
    "first_name": "สมชาย",
    "last_name": "ใจดืี",  # misspelled
    "full_name": "สมชาย ใจดืี",
    "email": EMAIL,
    "phone": "081-234-5678",
    "birth_date": "1987-03-15",  # wrong: born 3 May
    "address": "99/1 ถนนสุขุมวิท",
    "province": "กรุงเทพมหานคร",
    "postal_code": "10110",
    "country": "TH",
}


def golden(engine: Engine, email: str = EMAIL) -> dict[str, object]:
    with engine.connect() as conn:
        return golden_values(find_by_identifier(conn, "email", email).golden)


def profile_id(engine: Engine, email: str = EMAIL) -> str:
    with engine.connect() as conn:
        return find_by_identifier(conn, "email", email).id


def test_rectified_values_win_and_survive_old_imports_and_rebuild(
    engine: Engine, tmp_path: Path
) -> None:
    load(engine, tmp_path, "crm", "contact", [CONTACT])
    pid = profile_id(engine)
    with engine.begin() as conn:
        report = rectify(
            conn,
            pid,
            {"last_name": "ใจดี", "birth_date": "03/05/1987", "phone": "0899998888"},
            request_id=7,
        )
    assert {r["field"]: (r["old"], r["new"]) for r in report["changes"]} == {
        "last_name": ("ใจดืี", "ใจดี"),
        "full_name": ("สมชาย ใจดืี", "สมชาย ใจดี"),
        "birth_date": ("1987-03-15", "1987-05-03"),
        "phone": ("+66812345678", "+66899998888"),
    }
    assert sorted(report["changed"]) == ["birth_date", "full_name", "last_name", "phone"]
    assert golden(engine)["last_name"] == "ใจดืี"  # not yet processed
    process(engine)
    values = golden(engine)
    assert (values["last_name"], values["full_name"], values["birth_date"], values["phone"]) == (
        "ใจดี",
        "สมชาย ใจดี",
        "1987-05-03",
        "+66899998888",
    )
    with engine.connect() as conn:
        provenance = get_profile(conn, pid).golden
    assert provenance is not None
    assert provenance["values"]["last_name"]["source"] == RECTIFICATION_SOURCE
    assert provenance["values"]["last_name"]["rule"] == "rectified on request"
    # the values not rectified keep their own source
    assert provenance["values"]["email"]["source"] == "crm"

    # the CRM sends its old, wrong values again, as a newer version of the record
    load(engine, tmp_path, "crm", "contact", [{**CONTACT, "company": "Jaidee Co."}])
    values = golden(engine)
    assert (values["last_name"], values["birth_date"], values["company"]) == (
        "ใจดี",
        "1987-05-03",
        "Jaidee Co.",
    )
    rebuild(engine)
    values = golden(engine)
    assert (values["last_name"], values["full_name"], values["birth_date"]) == (
        "ใจดี",
        "สมชาย ใจดี",
        "1987-05-03",
    )
    assert profile_id(engine) == pid
    with engine.connect() as conn:
        export = export_person(conn, pid)
    # the rectification is in the person's export: the log entry and the golden provenance
    assert any(e["source"] == RECTIFICATION_SOURCE for e in export["events"])


def test_vietnamese_full_name_follows_its_corrected_part(engine: Engine, tmp_path: Path) -> None:
    email = "an.nguyen@example.vn"
    load(
        engine,
        tmp_path,
        "crm",
        "contact",
        [{"id": "v-1", "full_name": "Nguyễn Văn An", "email": email, "country": "VN"}],
    )
    before = golden(engine, email)
    assert (before["last_name"], before["first_name"]) == ("Nguyễn", "An")
    pid = profile_id(engine, email)
    with engine.begin() as conn:
        rectify(conn, pid, {"first_name": "Ân"}, request_id=8)
    process(engine)
    after = golden(engine, email)
    assert (after["full_name"], after["first_name"], after["last_name"]) == (
        "Nguyễn Văn Ân",
        "Ân",
        "Nguyễn",
    )


def test_a_newer_rectification_replaces_an_older_one_and_retries_log_once(
    engine: Engine, tmp_path: Path
) -> None:
    load(engine, tmp_path, "crm", "contact", [CONTACT])
    pid = profile_id(engine)
    with engine.begin() as conn:
        first = rectify(conn, pid, {"company": "Jaidee Trading"}, request_id=1)
        again = rectify(conn, pid, {"company": "Jaidee Trading"}, request_id=1)
        rectify(conn, pid, {"company": "Jaidee Group"}, request_id=2)
    assert first["seq"] == again["seq"]  # the same request retried: one log entry
    process(engine)
    assert golden(engine)["company"] == "Jaidee Group"


def test_malformed_values_are_refused_naming_each_field(engine: Engine, tmp_path: Path) -> None:
    load(engine, tmp_path, "crm", "contact", [CONTACT])
    pid = profile_id(engine)
    with engine.connect() as conn:
        entries = conn.execute(select(func.count()).select_from(event_log)).scalar_one()
    with engine.begin() as conn, pytest.raises(InvalidInput) as refused:
        rectify(
            conn,
            pid,
            {"phone": "12", "birth_date": "31/02/1990", "emial": "x@example.com"},
            request_id=3,
        )
    message = str(refused.value)
    assert "phone: '12' is not a valid phone" in message
    assert "birth_date: '31/02/1990' is not a valid date" in message
    assert "emial: not a field of the golden record (did you mean 'email'?)" in message
    with engine.begin() as conn, pytest.raises(InvalidInput, match="email: give the correct"):
        rectify(conn, pid, {"email": None}, request_id=4)
    with engine.begin() as conn, pytest.raises(InvalidInput, match="at least one field"):
        rectify(conn, pid, {}, request_id=5)
    with engine.begin() as conn, pytest.raises(NotFound):
        rectify(conn, "no-such-profile", {"company": "x"}, request_id=6)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(event_log)).scalar_one() == entries
