"""File imports through the log: records, updates, quarantine, replay, export, quality."""

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from tests.cli import c360

from c360.ingest.mapping import Mapping, parse_mapping
from c360.standardize.quality import quality_report
from c360.storage.tables import event_log, record_identifiers, rejects, source_records
from c360.workers import rebuild
from c360.workers.imports import ImportSummary, import_file, retry_quarantine

CRM_MAPPING = """
source: crm
kind: contact
record_id: "Customer No"
defaults: {default_region: TH, timezone: Asia/Bangkok}
fields:
  first_name: "First Name"
  last_name: "Last Name"
  birth_date: {column: DOB, format: "%d/%m/%Y"}
  phone: Mobile
  province: Province
  industry: {columns: [Industry, Sector], values: {"ค้าปลีก": Retail, "retail trade": Retail}}
identifiers:
  email: "E-mail"
custom:
  tier: Tier
"""

HEADER = ["Customer No", "First Name", "Last Name", "DOB", "Mobile", "E-mail", "Province"]
HEADER += ["Industry", "Sector", "Tier"]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


ROWS = [
    [
        *["C001", "สมชาย", "ใจดี", "15/03/2530", "081-234-5678", "Somchai@Example.co.th"],
        *["กทม.", "ค้าปลีก", "", "gold"],
    ],
    [
        *["C002", "Nguyễn Văn", "An", "01/12/1990", "+84 912 345 678", "an.nguyen@example.vn"],
        *["TP.HCM", "", "Retail Trade", "silver"],
    ],
    ["C003", "Ploy", "Srisuk", "31/02/1990", "12345", "not-an-email", "Chiang Mai", "", "", ""],
]


def mapping() -> Mapping:
    return parse_mapping(CRM_MAPPING)


def run_import(engine: Engine, path: Path, text: str = CRM_MAPPING) -> ImportSummary:
    return import_file(engine, path, source="crm", mapping=parse_mapping(text), mapping_text=text)


def records(engine: Engine) -> dict[str, dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(select(source_records)).mappings().all()
    return {row["record_id"]: dict(row) for row in rows}


def log_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(event_log)).scalar_one())


def test_a_file_becomes_standardized_records_with_raw_values_and_flags(
    engine: Engine, tmp_path: Path
) -> None:
    summary = run_import(engine, write_csv(tmp_path / "crm.csv", ROWS))
    assert (summary.read, summary.new, summary.updated, summary.unchanged) == (3, 3, 0, 0)
    assert summary.quarantined == 0

    found = records(engine)
    somchai = found["C001"]
    assert somchai["kind"] == "contact"
    fields = somchai["fields"]
    assert isinstance(fields, dict)
    assert fields["phone"] == "+66812345678"
    assert fields["birth_date"] == "1987-03-15"  # Buddhist-era year
    assert fields["email"] == "somchai@example.co.th"
    assert fields["province"] == "Bangkok"
    assert fields["industry"] == "Retail"
    assert fields["tier"] == "gold"
    assert somchai["raw"]["email"] == "Somchai@Example.co.th"  # type: ignore[index]
    assert somchai["flags"] == {}

    an = found["C002"]["fields"]
    assert isinstance(an, dict)
    assert an["phone"] == "+84912345678"
    assert an["province"] == "Ho Chi Minh City"
    assert an["industry"] == "Retail"  # from the second column, through the value map

    # Values that do not standardize stay raw and flagged; the record is still accepted.
    ploy = found["C003"]
    assert ploy["flags"] == {
        "birth_date": "invalid_date",
        "phone": "invalid_phone",
        "email": "invalid_email",
    }
    assert ploy["raw"]["phone"] == "12345"  # type: ignore[index]
    assert "phone" not in ploy["fields"]  # type: ignore[operator]

    with engine.connect() as conn:
        identifiers = set(
            conn.execute(select(record_identifiers.c.type, record_identifiers.c.value))
        )
    assert ("phone", "+66812345678") in identifiers
    assert ("email", "an.nguyen@example.vn") in identifiers
    assert not any(value in ("12345", "not-an-email") for _, value in identifiers)


def test_reimporting_changes_nothing_and_a_changed_row_updates_its_record(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "crm.csv", ROWS)
    run_import(engine, path)
    entries = log_count(engine)

    again = run_import(engine, path)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 3)
    assert log_count(engine) == entries

    moved = [list(r) for r in ROWS]
    moved[0][4] = "0899999999"
    changed = run_import(engine, write_csv(tmp_path / "crm-moved.csv", moved))
    assert (changed.new, changed.updated, changed.unchanged) == (0, 1, 2)
    found = records(engine)
    assert len(found) == 3
    assert found["C001"]["version"] == 2
    assert found["C001"]["fields"]["phone"] == "+66899999999"  # type: ignore[index]
    with engine.connect() as conn:
        phones = {
            v
            for (v,) in conn.execute(
                select(record_identifiers.c.value).where(
                    record_identifiers.c.record_id == "C001", record_identifiers.c.type == "phone"
                )
            )
        }
    assert phones == {"+66899999999"}  # the old number no longer points at the record

    # Back to the first content: a third version, not a duplicate the log would ignore.
    back = run_import(engine, path)
    assert (back.updated, back.unchanged) == (1, 2)
    assert records(engine)["C001"]["fields"]["phone"] == "+66812345678"  # type: ignore[index]
    assert records(engine)["C001"]["version"] == 3


def test_rows_without_a_record_id_are_quarantined_and_replayed_with_a_fixed_mapping(
    engine: Engine, tmp_path: Path
) -> None:
    rows = [list(r) for r in ROWS]
    rows[1][0] = ""  # no customer number
    summary = run_import(engine, write_csv(tmp_path / "crm.csv", rows))
    assert (summary.new, summary.quarantined) == (2, 1)
    with engine.connect() as conn:
        (entry,) = conn.execute(select(rejects)).mappings().all()
    assert entry["reason"] == "missing_record_id"
    assert entry["origin"] == "crm.csv:3"  # header is line 1
    assert entry["stage"] == "import"
    assert json.loads(entry["payload"])["E-mail"] == "an.nguyen@example.vn"

    fixed = CRM_MAPPING.replace('record_id: "Customer No"', 'record_id: "E-mail"')
    result = retry_quarantine(
        engine, source="crm", mapping=parse_mapping(fixed), mapping_text=fixed
    )
    assert (result.tried, result.accepted, result.still_quarantined) == (1, 1, 0)
    found = records(engine)
    assert "an.nguyen@example.vn" in found
    with engine.connect() as conn:
        resolved = conn.execute(select(rejects.c.resolved_at_us)).scalar_one()
    assert resolved is not None
    assert retry_quarantine(engine, source="crm").tried == 0  # nothing left open


def test_a_changed_mapping_restandardizes_the_same_rows(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "crm.csv", ROWS)
    run_import(engine, path)
    assert records(engine)["C003"]["flags"]["birth_date"] == "invalid_date"  # type: ignore[index]
    us_dates = CRM_MAPPING.replace('format: "%d/%m/%Y"', 'format: "%m/%d/%Y"')
    summary = run_import(engine, path, us_dates)
    assert summary.updated == 3
    assert records(engine)["C002"]["fields"]["birth_date"] == "1990-01-12"  # type: ignore[index]


def test_rebuild_recomputes_the_same_records_from_the_log(engine: Engine, tmp_path: Path) -> None:
    run_import(engine, write_csv(tmp_path / "crm.csv", ROWS))
    before = records(engine)
    rebuild(engine)
    assert records(engine) == before


def test_quality_report_counts_completeness_validity_duplicates_and_conflicts(
    engine: Engine, tmp_path: Path
) -> None:
    rows = [list(r) for r in ROWS]
    rows.append(["C004", "Somchai", "Jaidee", "", "0812345678", "", "Bangkok", "", "", ""])
    run_import(engine, write_csv(tmp_path / "crm.csv", rows))
    billing = CRM_MAPPING.replace("source: crm", "source: billing")
    other = [list(ROWS[0])]
    other[0][4] = "0811111111"  # same email as CRM's C001, another phone
    import_file(
        engine,
        write_csv(tmp_path / "billing.csv", other),
        source="billing",
        mapping=parse_mapping(billing),
        mapping_text=billing,
    )
    with engine.connect() as conn:
        report = {entry.source: entry for entry in quality_report(conn)}
    crm = report["crm"]
    assert crm.records == 4 and crm.kinds == {"contact": 4}
    fields = {f.field: f for f in crm.fields}
    assert fields["phone"].present == 4 and fields["phone"].valid == 3
    assert fields["phone"].completeness == 1.0 and fields["phone"].validity == 0.75
    assert fields["email"].present == 3 and fields["email"].validity == pytest.approx(2 / 3, 1e-3)
    assert fields["tier"].completeness == 0.5
    assert fields["phone"].duplicates == 1  # C001 and C004 share a number
    assert fields["phone"].conflicts == 1  # billing disagrees for somchai@example.co.th
    assert crm.last_received_at is not None and crm.quarantined_open == 0


def test_cli_import_prints_a_summary_and_export_writes_each_record(
    database_url: str, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "crm.csv", ROWS)
    mapping_file = tmp_path / "crm.yml"
    mapping_file.write_text(CRM_MAPPING, encoding="utf-8")
    result = c360(
        database_url, "import", str(path), "--source", "crm", "--mapping", str(mapping_file)
    )
    assert result.returncode == 0, result.stderr
    assert "rows read" in result.stdout and "quarantined" in result.stdout

    jsonl = tmp_path / "out.jsonl"
    exported = c360(database_url, "export", "records", "--source", "crm", "--output", str(jsonl))
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert [r["record_id"] for r in lines] == ["C001", "C002", "C003"]
    assert lines[0]["fields"]["phone"] == "+66812345678"
    assert lines[0]["raw"]["phone"] == "081-234-5678"
    assert lines[2]["flags"]["phone"] == "invalid_phone"

    as_csv = c360(database_url, "export", "records", "--source", "crm", "--format", "csv")
    parsed = list(csv.DictReader(as_csv.stdout.splitlines()))
    assert len(parsed) == 3 and json.loads(parsed[1]["fields"])["province"] == "Ho Chi Minh City"

    quality = c360(database_url, "quality", "--json")
    assert quality.returncode == 0, quality.stderr
    report = json.loads(quality.stdout)
    assert report[0]["source"] == "crm" and report[0]["records"] == 3

    bad_mapping = tmp_path / "bad.yml"
    bad_mapping.write_text(CRM_MAPPING.replace("first_name:", "frist_name:"), encoding="utf-8")
    refused = c360(
        database_url, "import", str(path), "--source", "crm", "--mapping", str(bad_mapping)
    )
    assert refused.returncode == 2
    assert "frist_name" in refused.stderr and "first_name" in refused.stderr


def test_cli_quarantine_lists_shows_and_retries_with_a_fixed_mapping(
    database_url: str, tmp_path: Path
) -> None:
    rows = [list(r) for r in ROWS]
    rows[2][0] = ""
    path = write_csv(tmp_path / "crm.csv", rows)
    mapping_file = tmp_path / "crm.yml"
    mapping_file.write_text(CRM_MAPPING, encoding="utf-8")
    imported = c360(
        database_url, "import", str(path), "--source", "crm", "--mapping", str(mapping_file)
    )
    assert "c360 quarantine list --source crm" in imported.stdout

    listed = c360(database_url, "quarantine", "list", "--source", "crm")
    assert listed.returncode == 0, listed.stderr
    assert "crm.csv:4" in listed.stdout and "missing_record_id" in listed.stdout

    shown = c360(database_url, "quarantine", "show", "1")
    assert shown.returncode == 0, shown.stderr
    assert '"E-mail": "not-an-email"' in shown.stdout and "crm.csv:4" in shown.stdout
    assert c360(database_url, "quarantine", "show", "99").returncode == 4

    still = c360(database_url, "quarantine", "retry", "--source", "crm")
    assert "0 accepted, 1 still quarantined" in still.stdout

    fixed = tmp_path / "fixed.yml"
    fixed.write_text(CRM_MAPPING.replace('"Customer No"', '"E-mail"', 1), encoding="utf-8")
    retried = c360(database_url, "quarantine", "retry", "--source", "crm", "--mapping", str(fixed))
    assert retried.returncode == 0, retried.stderr
    assert "1 accepted, 0 still quarantined" in retried.stdout
    assert "nothing in quarantine" in c360(database_url, "quarantine", "list").stdout
    assert "yes" in c360(database_url, "quarantine", "list", "--all").stdout


@pytest.mark.parametrize("parallel", [False, True], ids=["in-line", "worker-processes"])
def test_a_record_changed_several_times_in_one_file_keeps_every_version(
    engine: Engine, tmp_path: Path, parallel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from c360.workers import imports

    monkeypatch.setattr(imports, "PARALLEL_FROM_BYTES", 0 if parallel else 1 << 40)
    rows = []
    for version in range(6):
        row = list(ROWS[0])
        row[4] = f"08123456{version:02d}"
        rows.append(row)
        rows.append([f"X{version}", *ROWS[1][1:]])
    path = write_csv(tmp_path / "history.csv", rows)
    mapping = parse_mapping(CRM_MAPPING)
    summary = import_file(
        engine, path, source="crm", mapping=mapping, mapping_text=CRM_MAPPING, batch_size=1
    )
    assert (summary.new, summary.updated) == (7, 5)
    found = records(engine)
    assert found["C001"]["version"] == 6
    assert found["C001"]["fields"]["phone"] == "+66812345605"  # type: ignore[index]
    assert log_count(engine) == 12
