"""The sample company generator: files, encodings, mappings, ground truth, noise, web events."""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import orjson
import pyarrow.parquet as pq
import pytest

from c360.demo import Manifest, SourceFile, generate_company
from c360.demo.generate import HOUSEHOLD_SHARE, THAI_SCRIPT
from c360.errors import InvalidInput
from c360.ingest.mapping import Mapping, parse_mapping
from c360.ingest.tracking import Limits, accept_items, decode_envelope
from c360.kernel.clock import parse_timestamp

N = 300
SEED = 7
PERSON_BEARING = {
    "contact",
    "order",
    "invoice",
    "payment",
    "shipment",
    "ticket",
    "survey_response",
    "subscription",
    "registration",
}


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("company")
    return out, generate_company(out, customers=N, seed=SEED)


def nfc(text: str) -> str:
    """Text as an importer holds it: cp1258 files carry tone marks as combining characters."""
    return unicodedata.normalize("NFC", text)


def rows_of(out: Path, entry: SourceFile) -> Iterator[dict[str, Any]]:
    """The file's records as dicts of column -> value, read as an importer would."""
    path = out / entry.path
    if entry.format == "csv":
        assert entry.encoding is not None and entry.delimiter is not None
        with path.open(encoding=entry.encoding, newline="") as f:
            for row in csv.DictReader(f, delimiter=entry.delimiter):
                yield {nfc(k): nfc(v) for k, v in row.items()}
    elif entry.format == "jsonl":
        with path.open("rb") as f:
            for line in f:
                yield orjson.loads(line)
    elif entry.format == "parquet":
        yield from pq.read_table(path).to_pylist()
    else:
        workbook = openpyxl.load_workbook(path, read_only=True)
        try:
            sheet = workbook["Tickets"]
            lines = sheet.iter_rows(values_only=True)
            header = [str(h) for h in next(lines)]
            for line in lines:
                yield dict(zip(header, line, strict=True))
        finally:
            workbook.close()


def header_of(out: Path, entry: SourceFile) -> list[str]:
    path = out / entry.path
    if entry.format == "csv":
        assert entry.encoding is not None
        with path.open(encoding=entry.encoding, newline="") as f:
            return [nfc(h) for h in next(csv.reader(f, delimiter=entry.delimiter or ","))]
    if entry.format == "jsonl":
        with path.open("rb") as f:
            return list(orjson.loads(f.readline()))
    if entry.format == "parquet":
        return list(pq.read_schema(path).names)
    return list(next(rows_of(out, entry)))


def mapping_of(out: Path, entry: SourceFile) -> Mapping:
    text = (out / entry.mapping).read_text(encoding="utf-8")
    return parse_mapping(text, origin=entry.mapping)


def files_by_name(manifest: Manifest) -> dict[str, SourceFile]:
    return {f.path: f for f in manifest.files}


def is_thai(text: str) -> bool:
    return any("\u0e00" <= c <= "\u0e7f" for c in text)


def test_same_customers_and_seed_give_byte_identical_files(
    tmp_path: Path, company: tuple[Path, Manifest]
) -> None:
    first, _ = company
    second = tmp_path / "again"
    generate_company(second, customers=N, seed=SEED)
    names = sorted(p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file())
    assert names == sorted(
        p.relative_to(second).as_posix() for p in second.rglob("*") if p.is_file()
    )
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name

    other = tmp_path / "other-seed"
    generate_company(other, customers=N, seed=SEED + 1)
    assert (other / "crm_contacts.csv").read_bytes() != (first / "crm_contacts.csv").read_bytes()


def test_every_file_exists_with_the_manifests_row_count(company: tuple[Path, Manifest]) -> None:
    out, manifest = company
    expected = {
        "crm_contacts.csv", "billing_customers_th.csv", "billing_customers_vn.csv",
        "invoices.csv", "payments.csv", "pos_transactions.csv", "shop_orders.jsonl",
        "shop_order_items.jsonl", "shipments.csv", "support_tickets.xlsx", "nps_survey.parquet",
        "email_list.csv", "event_registrations.csv", "products.csv",
    }  # fmt: skip
    assert set(files_by_name(manifest)) == expected
    for entry in manifest.files:
        assert entry.rows > 0, entry.path
        assert sum(1 for _ in rows_of(out, entry)) == entry.rows, entry.path
    assert (out / "manifest.json").read_bytes() == manifest.to_json()
    with (out / manifest.web_events).open("rb") as f:
        assert sum(1 for _ in f) == manifest.web_event_count
    with (out / manifest.ground_truth).open(encoding="utf-8") as f:
        assert sum(1 for _ in f) - 1 == manifest.ground_truth_rows


def test_support_times_are_excel_datetime_cells(company: tuple[Path, Manifest]) -> None:
    out, manifest = company
    tickets = list(rows_of(out, files_by_name(manifest)["support_tickets.xlsx"]))
    assert all(type(t["Opened"]).__name__ == "datetime" for t in tickets)
    assert any(t["Closed"] is not None for t in tickets)
    assert all(t["Closed"] >= t["Opened"] for t in tickets if t["Closed"] is not None)


def test_each_mapping_parses_and_names_only_columns_its_file_has(
    company: tuple[Path, Manifest],
) -> None:
    out, manifest = company
    for entry in manifest.files:
        mapping = mapping_of(out, entry)
        assert mapping.source == entry.source and mapping.kind.value == entry.kind
        assert mapping.read.format == entry.format
        if entry.format == "csv":
            assert mapping.read.encoding == entry.encoding
            assert mapping.read.delimiter == entry.delimiter
        header = set(header_of(out, entry))
        named = set(mapping.record_id_columns)
        for section in (mapping.fields, mapping.identifiers, mapping.custom):
            for spec in section.values():
                named.update(spec.source_columns)
        assert named <= header, (entry.path, named - header)
        assert mapping.defaults.timezone in ("Asia/Bangkok", "Asia/Ho_Chi_Minh")


def test_record_ids_are_present_and_unique_within_each_source(
    company: tuple[Path, Manifest],
) -> None:
    out, manifest = company
    seen: dict[str, set[str]] = defaultdict(set)
    for entry in manifest.files:
        mapping = mapping_of(out, entry)
        for row in rows_of(out, entry):
            record_id = mapping.record_id_of(row)
            assert record_id is not None, (entry.path, row)
            assert record_id not in seen[entry.source], (entry.source, record_id)
            seen[entry.source].add(record_id)


def test_ground_truth_covers_every_person_bearing_record_and_web_id(
    company: tuple[Path, Manifest],
) -> None:
    out, manifest = company
    with (out / manifest.ground_truth).open(encoding="utf-8", newline="") as f:
        truth = list(csv.DictReader(f))
    keys = [(t["source"], t["record_id"]) for t in truth]
    assert len(keys) == len(set(keys))
    assert all(re.fullmatch(r"P\d{7}", t["person_id"]) for t in truth)
    by_source: dict[str, set[str]] = defaultdict(set)
    for source, record_id in keys:
        by_source[source].add(record_id)

    expected: dict[str, set[str]] = defaultdict(set)
    for entry in manifest.files:
        if entry.kind not in PERSON_BEARING:
            continue
        mapping = mapping_of(out, entry)
        for row in rows_of(out, entry):
            record_id = mapping.record_id_of(row)
            assert record_id is not None
            expected[entry.source].add(record_id)
    web_ids: set[str] = set()
    with (out / manifest.web_events).open("rb") as f:
        for line in f:
            message = orjson.loads(line)
            web_ids.add(message["anonymousId"])
            if "userId" in message:
                web_ids.add(message["userId"])
    expected["web"] = web_ids
    assert set(by_source) == set(expected)
    for source, ids in expected.items():
        assert by_source[source] == ids, source
    # Every person generated shows up somewhere, and nobody else does.
    assert len({t["person_id"] for t in truth}) == N


def test_office_files_are_really_in_their_legacy_encodings(
    company: tuple[Path, Manifest],
) -> None:
    out, _ = company
    thai = (out / "billing_customers_th.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        thai.decode("utf-8")
    text = thai.decode("cp874")
    assert text.startswith("รหัสลูกค้า;ชื่อ;นามสกุล;เลขประจำตัวประชาชน")
    assert re.search(r"นาย|นาง|นางสาว", text)

    vietnamese = (out / "billing_customers_vn.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        vietnamese.decode("utf-8")
    text = unicodedata.normalize("NFC", vietnamese.decode("cp1258"))
    assert text.startswith("Mã KH,Họ và tên")
    assert "Nguyễn" in text and "Số CCCD" in text

    crm = (out / "crm_contacts.csv").read_bytes()
    assert crm.startswith(b"\xef\xbb\xbf")


def test_identity_documents_are_well_formed(company: tuple[Path, Manifest]) -> None:
    out, manifest = company
    files = files_by_name(manifest)
    thai_ids = [
        r["เลขประจำตัวประชาชน"].replace("-", "")
        for r in rows_of(out, files["billing_customers_th.csv"])
        if r["เลขประจำตัวประชาชน"]
    ]
    assert thai_ids
    for nid in thai_ids:
        total = sum(int(d) * (13 - i) for i, d in enumerate(nid[:12]))
        assert len(nid) == 13 and int(nid[12]) == (11 - total % 11) % 10, nid
    cccd = [r["Số CCCD"] for r in rows_of(out, files["billing_customers_vn.csv"]) if r["Số CCCD"]]
    assert cccd and all(re.fullmatch(r"\d{12}", c) for c in cccd)
    postcodes = [r["รหัสไปรษณีย์"] for r in rows_of(out, files["billing_customers_th.csv"])]
    assert all(re.fullmatch(r"\d{5}", p) for p in postcodes)
    for row in rows_of(out, files["billing_customers_th.csv"]):
        if row["จังหวัด"] in ("กรุงเทพมหานคร", "กรุงเทพฯ", "กทม."):
            assert row["รหัสไปรษณีย์"].startswith("10"), row
        if row["จังหวัด"] in ("เชียงใหม่", "จ.เชียงใหม่"):
            assert row["รหัสไปรษณีย์"].startswith("50"), row


def test_noise_is_present_at_roughly_the_documented_rates(
    company: tuple[Path, Manifest],
) -> None:
    out, manifest = company
    files = files_by_name(manifest)

    crm = list(rows_of(out, files["crm_contacts.csv"]))
    thai_contacts = [r for r in crm if r["Country"] in ("Thailand", "TH", "ไทย")]
    share = sum(is_thai(r["First Name"]) for r in thai_contacts) / len(thai_contacts)
    assert abs(share - THAI_SCRIPT["crm"]) < 0.1, share
    thai_dobs = [r["DOB"] for r in thai_contacts if r["DOB"]]
    buddhist = sum(int(d[-4:]) > 2400 for d in thai_dobs) / len(thai_dobs)
    assert 0.4 < buddhist < 0.8, buddhist
    assert {r["Gender"] for r in crm} >= {"M", "F", "ชาย", "หญิง", "Nam", "Nữ"}
    assert any(is_thai(r["Sector"]) for r in crm) and any(r["Industry"] for r in crm)
    duplicated = Counter(tuple(list(r.values())[1:-1]) for r in crm)
    assert any(count > 1 for count in duplicated.values()), "no CRM duplicates"

    with (out / manifest.ground_truth).open(encoding="utf-8", newline="") as f:
        truth = list(csv.DictReader(f))
    households = {t["person_id"]: t["household_id"] for t in truth}
    in_household = sum(1 for h in households.values() if h) / len(households)
    assert abs(in_household - HOUSEHOLD_SHARE) < 0.07, in_household
    sizes = Counter(Counter(h for h in households.values() if h).values())
    assert set(sizes) <= {2, 3, 4, 5}, sizes

    pos = list(rows_of(out, files["pos_transactions.csv"]))
    phones = [r["Member Phone"] for r in pos if r["Member Phone"]]
    not_e164 = sum(not re.fullmatch(r"\+\d{8,15}", p) for p in phones) / len(phones)
    assert not_e164 > 0.75, not_e164
    assert "0000000000" in phones
    shapes = {re.sub(r"\d", "9", p) for p in phones}
    assert {"999-999-9999", "9999999999", "+99 99 999 9999", "99999999999"} <= shapes

    shop = list(rows_of(out, files["shop_orders.jsonl"]))
    thai_shop = [o for o in shop if o["shipping_country"] == "TH"]
    romanized = sum(not is_thai(o["first_name"]) for o in thai_shop) / len(thai_shop)
    assert 0.45 < romanized < 0.85, romanized
    vn_shop = [o for o in shop if o["shipping_country"] == "VN"]
    assert any(o["first_name"].isascii() for o in vn_shop)
    assert any(not o["first_name"].isascii() for o in vn_shop)

    emails = [r["E-mail"] for r in crm if r["E-mail"]] + [
        r["Email Address"] for r in rows_of(out, files["email_list.csv"])
    ]
    assert any(e != e.lower() for e in emails)
    typo_domains = ("gmial.com", "gmai.com", "gmail.co", "gmaill.com", "gamil.com", "hotmial.com")
    assert any(e.endswith(typo_domains) for e in emails), "no typo'd e-mail domain"

    shipments = list(rows_of(out, files["shipments.csv"]))
    assert any(r["Recipient"].isupper() for r in shipments)
    assert {r["Carrier"] for r in shipments} >= {"Kerry Express", "Flash Express", "GHN"}
    vn_billing = list(rows_of(out, files["billing_customers_vn.csv"]))
    assert any("P." in r["Địa chỉ"] or "Q." in r["Địa chỉ"] for r in vn_billing)


def test_moved_people_appear_at_their_old_address_in_shipping(
    company: tuple[Path, Manifest],
) -> None:
    out, manifest = company
    files = files_by_name(manifest)
    with (out / manifest.ground_truth).open(encoding="utf-8", newline="") as f:
        owner = {(t["source"], t["record_id"]): t["person_id"] for t in csv.DictReader(f)}
    shop_postcodes: dict[str, set[str]] = defaultdict(set)
    for order in rows_of(out, files["shop_orders.jsonl"]):
        if order["shipping_country"] == "TH":
            shop_postcodes[owner[("shop", order["order_id"])]].add(order["shipping_postcode"])
    moved = 0
    for shipment in rows_of(out, files["shipments.csv"]):
        person = owner[("shipping", shipment["Shipment No"])]
        if shipment["Country"] == "TH" and person in shop_postcodes:
            moved += shipment["Postcode"] not in shop_postcodes[person]
    assert moved > 0


def test_web_events_are_valid_segment_messages(company: tuple[Path, Manifest]) -> None:
    out, manifest = company
    lines = (out / manifest.web_events).read_bytes().splitlines()
    messages = [orjson.loads(line) for line in lines]
    ids = [m["messageId"] for m in messages]
    assert len(ids) == len(set(ids))
    for m in messages:
        parse_timestamp(m["timestamp"])
        assert m["type"] in ("page", "track", "identify")
        assert m["anonymousId"]
        if m["type"] == "identify":
            assert m["userId"] and ("email" in m["traits"] or "phone" in m["traits"])
    events = Counter(m.get("event") for m in messages if m["type"] == "track")
    assert set(events) == {
        "Product Viewed",
        "Product Added",
        "Checkout Started",
        "Order Completed",
    }
    completed = {
        m["properties"]["order_id"] for m in messages if m.get("event") == "Order Completed"
    }
    started = [
        m["properties"].get("order_id") for m in messages if m.get("event") == "Checkout Started"
    ]
    assert any(order is None or order not in completed for order in started), "no abandoned cart"
    assert any("userId" not in m for m in messages)  # anonymous visitors

    # The tracking API accepts every one of them.
    for start in range(0, len(lines), 500):
        body = b'{"batch":[' + b",".join(lines[start : start + 500]) + b"]}"
        envelope = decode_envelope(body, None)
        accepted, rejected = accept_items(
            envelope, None, source_id=1, received_at_us=1_750_000_000_000_000, limits=Limits()
        )
        assert not rejected, rejected[:1]
        assert len(accepted) == len(envelope.items)


def test_progress_counts_customers_and_bad_sizes_are_refused(tmp_path: Path) -> None:
    seen: list[int] = []
    generate_company(tmp_path / "p", customers=2_500, seed=1, progress=seen.append)
    assert seen == [1_000, 2_000, 2_500]
    with pytest.raises(InvalidInput):
        generate_company(tmp_path / "none", customers=0)
