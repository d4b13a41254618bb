"""The sample company, imported whole: every row accounted for, every encoding read, and a
quality report that sees the noise the generator put in."""

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from c360.demo.generate import Manifest, generate_company
from c360.ingest.mapping import load_mapping
from c360.standardize.quality import quality_report
from c360.storage.tables import rejects, source_records
from c360.workers.imports import import_file

THAI = re.compile(r"[\u0e01-\u0e5b]")
VIETNAMESE = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.IGNORECASE)


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("company")
    generate_company(directory, customers=400, seed=7)
    return directory


def import_all(engine: Engine, company: Path) -> dict[str, tuple[int, int, int]]:
    manifest = Manifest.load(company)
    results = {}
    for entry in manifest.files:
        mapping, text = load_mapping(company / entry.mapping)
        summary = import_file(
            engine, company / entry.path, source=entry.source, mapping=mapping, mapping_text=text
        )
        assert summary.read == entry.rows, entry.path
        kept = summary.updated + summary.unchanged
        results[entry.path] = (summary.new, kept, summary.quarantined)
    return results


@pytest.mark.slow
def test_every_row_of_every_source_is_a_record_or_in_quarantine(
    engine: Engine, company: Path
) -> None:
    results = import_all(engine, company)
    manifest = Manifest.load(company)
    with engine.connect() as conn:
        stored = dict(
            conn.execute(
                select(source_records.c.kind, func.count()).group_by(source_records.c.kind)
            ).all()
        )
        quarantined = conn.execute(select(func.count()).select_from(rejects)).scalar_one()
    # Record ids are unique per source, so every row is a new record the first time.
    for entry in manifest.files:
        new, _, held = results[entry.path]
        assert new + held == entry.rows, entry.path
    assert quarantined == sum(held for _, _, held in results.values())
    assert sum(stored.values()) + quarantined == sum(e.rows for e in manifest.files)

    # Importing everything again changes nothing.
    again = import_all(engine, company)
    assert all(new == 0 for new, _, _ in again.values())

    with engine.connect() as conn:
        names = [
            fields
            for (fields,) in conn.execute(
                select(source_records.c.fields).where(source_records.c.kind == "contact")
            )
        ]
    full = [f.get("full_name", "") + " " + f.get("first_name", "") for f in names]
    assert sum(bool(THAI.search(n)) for n in full) > 50  # cp874 and UTF-8 Thai read as Thai
    assert sum(bool(VIETNAMESE.search(n)) for n in full) > 30  # cp1258 composed to NFC


@pytest.mark.slow
def test_the_quality_report_sees_the_sources_and_their_noise(engine: Engine, company: Path) -> None:
    import_all(engine, company)
    with engine.connect() as conn:
        report = {entry.source: entry for entry in quality_report(conn)}
    assert set(report) >= {"crm", "billing", "pos", "shop", "shipping", "support", "survey"}
    crm = {f.field: f for f in report["crm"].fields}
    # Most CRM phones and emails are real, a few are not; the report says which share.
    assert crm["phone"].validity is not None and 0.8 < crm["phone"].validity <= 1.0
    assert crm["email"].validity is not None and 0.8 < crm["email"].validity <= 1.0
    assert 0 < crm["phone"].completeness < 1.0
    # Households share a phone or an email; people entered twice share both.
    assert (crm["phone"].duplicates or 0) + (crm["email"].duplicates or 0) > 0
    # People who moved: shipping or billing disagree with another source on the address.
    conflicts = [f.conflicts or 0 for entry in report.values() for f in entry.fields if f.conflicts]
    assert sum(conflicts) > 0
    for entry in report.values():
        assert entry.last_received_at is not None
