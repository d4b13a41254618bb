"""``c360 segments`` as an operator uses it: create, list, show, change, preview, list members,
export and delete, and a condition with a mistake shown with a caret.

On SQLite only: each command is a new process, and what the commands call is tested on both
stores in test_segments_api.py."""

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.cli import c360
from tests.integration.test_segments_api import TH_EMAILS, VN_EMAILS, consenting, customers


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'c360.db'}"


@pytest.fixture
def ids(engine: Engine, tmp_path: Path) -> dict[str, str]:
    return customers(engine, tmp_path)


def ok(database_url: str, *args: str) -> str:
    result = c360(database_url, *args)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def test_create_list_show_update_preview_and_delete(
    database_url: str, ids: dict[str, str], tmp_path: Path
) -> None:
    created = ok(
        database_url,
        "segments",
        "create",
        "thai",
        "--condition",
        'country = "TH"',
        "--description",
        "everyone in Thailand",
    )
    assert "created segment 'thai' (UTC): 3 members" in created
    form = tmp_path / "vip.json"
    form.write_text(
        json.dumps({"type": "compare", "path": "lifetime_value", "op": ">=", "value": 20000}),
        encoding="utf-8",
    )
    vip = c360(
        database_url, "segments", "create", "vip", "--json", str(form), "--timezone", "Asia/Bangkok"
    )
    assert vip.returncode == 0, vip.stderr
    assert "created segment 'vip' (Asia/Bangkok): 1 members" in vip.stdout
    taken = c360(database_url, "segments", "create", "vip", "--condition", "email exists")
    assert taken.returncode == 5 and "exists" in taken.stderr

    listed = ok(database_url, "segments", "list")
    assert "thai" in listed and "vip" in listed and "lifetime_value >= 20000" in listed
    shown = ok(database_url, "segments", "show", "thai")
    for line in (
        'condition: country = "TH"',
        "members:   3",
        "timezone:  UTC",
        "version:   1",
        "everyone in Thailand",
    ):
        assert line in shown, shown
    as_json = json.loads(ok(database_url, "segments", "show", "vip", "--json"))
    assert as_json["condition_json"] == json.loads(form.read_text(encoding="utf-8"))
    assert as_json["members"] == 1 and as_json["timezone"] == "Asia/Bangkok"

    changed = ok(
        database_url,
        "segments",
        "update",
        "thai",
        "--condition",
        'country = "TH" and province = "Bangkok"',
        "--timezone",
        "Asia/Bangkok",
    )
    assert "version 2: 2 members (was 3)" in changed
    shown = json.loads(ok(database_url, "segments", "show", "thai", "--json"))
    assert shown["timezone"] == "Asia/Bangkok" and shown["description"] == "everyone in Thailand"

    members = ok(database_url, "segments", "members", "thai", "--limit", "1")
    assert "more: c360 segments members 'thai' --after" in members
    assert "สมชาย ใจดี" in members or "อนันต์ วงศ์ษา" in members

    preview = ok(database_url, "segments", "preview", "--condition", 'country = "VN"')
    assert '2 profiles meet country = "VN" (UTC; took' in preview
    assert "Văn An Nguyễn" in preview and "bich@example.vn" in preview
    saved = ok(database_url, "segments", "preview", "vip", "--sample", "0")
    assert "1 profiles meet lifetime_value >= 20000 (Asia/Bangkok;" in saved
    assert "somchai" not in saved

    refused = c360(database_url, "segments", "delete", "vip")  # no terminal to ask on
    assert refused.returncode == 2 and "--yes" in refused.stderr
    deleted = ok(database_url, "segments", "delete", "vip", "--yes")
    assert "segment 'vip' deleted (1 members left it)" in deleted
    missing = c360(database_url, "segments", "show", "vip")
    assert missing.returncode == 4 and "no segment named 'vip'" in missing.stderr


def test_export_writes_csv_and_json_lines(
    database_url: str, engine: Engine, ids: dict[str, str], tmp_path: Path
) -> None:
    consenting(engine, ids)
    ok(database_url, "segments", "create", "thai", "--condition", 'country = "TH"')
    target = tmp_path / "thai.csv"
    wrote = c360(
        database_url,
        "segments",
        "export",
        "thai",
        "--format",
        "csv",
        "--out",
        str(target),
        "--traits",
        "lifetime_value,province",
    )
    assert wrote.returncode == 0, wrote.stderr
    assert "wrote 3 members of 'thai'" in wrote.stderr
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert list(rows[0]) == [
        "profile_id",
        "entered_at",
        "name",
        "email",
        "phone",
        "country",
        "lifetime_value",
        "province",
    ]
    assert {r["email"] for r in rows} == TH_EMAILS
    assert [r["profile_id"] for r in rows] == sorted(ids[e] for e in TH_EMAILS)
    malee = next(r for r in rows if r["email"] == "malee@example.co.th")
    assert malee["name"] == "มาลี ศรีสุข" and malee["phone"] == "+66891112222"
    assert malee["province"] == "Chiang Mai" and float(malee["lifetime_value"]) == 0

    lines = tmp_path / "thai.jsonl"
    ok(database_url, "segments", "export", "thai", "--format", "jsonl", "--out", str(lines))
    members = [json.loads(line) for line in lines.read_text(encoding="utf-8").splitlines()]
    assert [m["profile_id"] for m in members] == [r["profile_id"] for r in rows]
    assert [m["entered_at"] for m in members] == [r["entered_at"] for r in rows]
    assert set(members[0]) == {"profile_id", "entered_at", "name", "email", "phone", "country"}

    ok(database_url, "segments", "create", "vn", "--condition", 'country = "VN"')
    stdout = ok(database_url, "segments", "export", "vn", "--format", "jsonl", "--out", "-")
    assert {json.loads(line)["email"] for line in stdout.splitlines()} == VN_EMAILS
    bad = c360(database_url, "segments", "export", "vn", "--format", "xml", "--out", "-")
    assert bad.returncode == 2 and "csv or jsonl" in bad.stderr


def test_a_mistake_is_shown_with_a_caret_under_it(database_url: str, ids: dict[str, str]) -> None:
    text = 'province = "Bangkok" and lifetime_value >> 5'
    refused = c360(database_url, "segments", "create", "broken", "--condition", text)
    assert refused.returncode == 2
    column = text.index(">>") + 2  # the second '>' (columns count from 1)
    lines = refused.stderr.splitlines()
    assert lines[0].startswith(f"error: line 1, column {column}: unexpected"), lines
    assert lines[1] == "  " + text
    assert lines[2] == "  " + " " * (column - 1) + "^"

    # the caret stays under the mistake after Thai text: the vowel sign in กรุง is a
    # combining mark, which takes no cell on a terminal
    thai = 'province = "กรุงเทพมหานคร" and lifetime_value >> 5'
    refused = c360(database_url, "segments", "preview", "--condition", thai)
    assert refused.returncode == 2
    column = thai.index(">>") + 2
    lines = refused.stderr.splitlines()
    assert lines[0].startswith(f"error: line 1, column {column}: "), lines
    assert lines[1] == "  " + thai
    assert lines[2] == "  " + " " * (column - 1 - 1) + "^"
    listed = ok(database_url, "segments", "list")
    assert "no segments yet" in listed
