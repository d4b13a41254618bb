import codecs
import datetime
import unicodedata
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from c360.errors import InvalidInput
from c360.ingest import files
from c360.ingest.files import BadRow, Row, SourceFile, detect_encoding, open_source_file

THAI_NAME = "สมชาย ใจดี"
THAI_ADDRESS = "123/45 ถ.สุขุมวิท กรุงเทพฯ"
THAI_NAME_2 = "สมหญิง รักไทย"
THAI_ADDRESS_2 = "99 ซอยลาดพร้าว 5 เชียงใหม่"
VIET_NAME = "Nguyễn Văn An"
VIET_ADDRESS = "Phường Bến Nghé, Quận 1, TP.HCM"
VIET_NAME_2 = "Trần Thị Bích"
VIET_ADDRESS_2 = "Hà Nội"


def encode_cp1258(text: str) -> bytes:
    """Write text the way Windows does in cp1258: base letters (with circumflex, breve or horn
    where cp1258 has them precomposed) followed by combining tone marks."""
    out = []
    for char in text:
        try:
            out.append(char.encode("cp1258"))
            continue
        except UnicodeEncodeError:
            pass
        base, *marks = unicodedata.normalize("NFD", char)
        rest = []
        for mark in marks:
            composed = unicodedata.normalize("NFC", base + mark)
            try:
                composed.encode("cp1258")
            except UnicodeEncodeError:
                rest.append(mark)
                continue
            base = composed
        out.append((base + "".join(rest)).encode("cp1258"))
    return b"".join(out)


def read_all(path: Path, **options: Any) -> tuple[SourceFile, list[Row | BadRow]]:
    with open_source_file(path, **options) as source:
        return source, list(source.rows())


def only_rows(items: list[Row | BadRow]) -> list[Row]:
    assert all(isinstance(item, Row) for item in items), items
    return [item for item in items if isinstance(item, Row)]


# --- CSV and encodings -------------------------------------------------------------------------


def test_utf8_csv_without_bom(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(f"id,name,address\n1,{THAI_NAME},{THAI_ADDRESS}\n2,Ann,\n".encode())
    source, items = read_all(path)
    assert (source.format, source.encoding, source.delimiter) == ("csv", "utf-8", ",")
    assert source.columns == ["id", "name", "address"]
    assert only_rows(items) == [
        Row(2, {"id": "1", "name": THAI_NAME, "address": THAI_ADDRESS}),
        Row(3, {"id": "2", "name": "Ann", "address": ""}),
    ]
    assert source.position() == source.size_bytes == path.stat().st_size


def test_utf8_csv_with_bom_strips_it_from_the_first_header(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(codecs.BOM_UTF8 + f"id,name\n7,{VIET_NAME}\n".encode())
    source, items = read_all(path)
    assert source.encoding == "utf-8-sig"
    assert source.columns == ["id", "name"]
    assert only_rows(items) == [Row(2, {"id": "7", "name": VIET_NAME})]


def test_bom_is_stripped_from_the_header_even_when_utf8_is_given(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"id,name\n7,Ann\n")
    source, items = read_all(path, encoding="utf-8")
    assert source.columns == ["id", "name"]
    assert only_rows(items) == [Row(2, {"id": "7", "name": "Ann"})]


def test_cp874_thai_file_is_detected_and_decoded(tmp_path: Path) -> None:
    text = f'id,name,address\n1,{THAI_NAME},{THAI_ADDRESS}\n2,{THAI_NAME_2},"{THAI_ADDRESS_2}"\n'
    path = tmp_path / "thai.csv"
    path.write_bytes(text.encode("cp874"))
    source, items = read_all(path)
    assert source.encoding == "cp874"
    assert only_rows(items) == [
        Row(2, {"id": "1", "name": THAI_NAME, "address": THAI_ADDRESS}),
        Row(3, {"id": "2", "name": THAI_NAME_2, "address": THAI_ADDRESS_2}),
    ]


def test_cp1258_vietnamese_file_is_detected_and_composed_to_nfc(tmp_path: Path) -> None:
    text = f"id;name;address\n1;{VIET_NAME};{VIET_ADDRESS}\n2;{VIET_NAME_2};{VIET_ADDRESS_2}\n"
    raw = encode_cp1258(text)
    assert b"\xde" in raw and b"\xf2" in raw  # really written with combining tone marks
    path = tmp_path / "viet.csv"
    path.write_bytes(raw)
    source, items = read_all(path)
    assert (source.encoding, source.delimiter) == ("cp1258", ";")
    rows = only_rows(items)
    assert rows == [
        Row(2, {"id": "1", "name": VIET_NAME, "address": VIET_ADDRESS}),
        Row(3, {"id": "2", "name": VIET_NAME_2, "address": VIET_ADDRESS_2}),
    ]
    assert all(unicodedata.is_normalized("NFC", v) for row in rows for v in row.values.values())


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (THAI_NAME.encode("cp874"), "cp874"),
        (THAI_ADDRESS.encode("cp874"), "cp874"),
        ("ใจดี".encode("cp874"), "cp874"),
        (encode_cp1258("Bến Nghé"), "cp1258"),
        (encode_cp1258(VIET_NAME_2), "cp1258"),
        (encode_cp1258(VIET_ADDRESS_2), "cp1258"),
        (encode_cp1258(VIET_ADDRESS), "cp1258"),
        (b"plain ascii, nothing else\n", "utf-8"),
        (THAI_NAME.encode("utf-8"), "utf-8"),
        ((THAI_ADDRESS * 2).encode("utf-8")[:-1], "utf-8"),  # a sample may cut a character
        (codecs.BOM_UTF8 + b"a", "utf-8-sig"),
        ("a,b\n".encode("utf-16"), "utf-16"),
    ],
)
def test_detect_encoding_on_short_samples(sample: bytes, expected: str) -> None:
    assert detect_encoding(sample) == expected


def test_western_cp1252_text_is_not_taken_for_vietnamese() -> None:
    sample = "name,city\nJoão Gonçalves,São Paulo\nFrançois Lefèvre,Besançon\n".encode("cp1252")
    assert detect_encoding(sample) not in ("cp874", "cp1258", "utf-8")


def test_non_ascii_far_into_the_file_is_seen_by_detection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "_SAMPLE_BYTES", 256)
    monkeypatch.setattr(files, "_PROBE_BYTES", 256)
    lines = [f"{n},customer {n}" for n in range(100)] + [f"100,{THAI_NAME}"]
    path = tmp_path / "late.csv"
    path.write_bytes(("id,name\n" + "\n".join(lines) + "\n").encode("cp874"))
    source, items = read_all(path)
    assert source.encoding == "cp874"
    assert only_rows(items)[-1] == Row(102, {"id": "100", "name": THAI_NAME})


def test_given_encoding_wins(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("id,name\n1,Zoë\n".encode("latin-1"))
    source, items = read_all(path, encoding="latin-1")
    assert source.encoding == "latin-1"
    assert only_rows(items) == [Row(2, {"id": "1", "name": "Zoë"})]


def test_unknown_encoding_is_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"id\n1\n")
    with pytest.raises(InvalidInput, match="unknown encoding 'klingon'"):
        open_source_file(path, encoding="klingon")


def test_nfd_utf8_text_is_normalised_to_nfc(tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes(unicodedata.normalize("NFD", f"tên\n{VIET_NAME}\n").encode())
    source, items = read_all(path)
    assert source.columns == ["tên"]
    assert only_rows(items) == [Row(2, {"tên": VIET_NAME})]


def test_utf16_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "excel-unicode.txt"
    path.write_text(f"id\tname\n1\t{THAI_NAME}\n", encoding="utf-16")
    source, items = read_all(path)
    assert (source.encoding, source.delimiter) == ("utf-16", "\t")
    assert only_rows(items) == [Row(2, {"id": "1", "name": THAI_NAME})]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    header = delimiter.join(["id", "name", "city"])
    line = delimiter.join(["1", "Ann Lee", "Chiang Mai"])
    path = tmp_path / "d.csv"
    path.write_text(f"{header}\n{line}\n", encoding="utf-8")
    source, items = read_all(path)
    assert source.delimiter == delimiter
    assert only_rows(items) == [Row(2, {"id": "1", "name": "Ann Lee", "city": "Chiang Mai"})]


def test_sniffing_prefers_the_delimiter_that_splits_rows_consistently(tmp_path: Path) -> None:
    # The header holds both ';' and ',', and the data commas would give ragged rows.
    text = "id;name, full;address\n1;Ann;1 Road, Bangkok\n2;Bob;2 Lane, Hanoi, VN\n"
    path = tmp_path / "d.csv"
    path.write_text(text, encoding="utf-8")
    source, items = read_all(path)
    assert source.delimiter == ";"
    assert only_rows(items)[1] == Row(
        3, {"id": "2", "name, full": "Bob", "address": "2 Lane, Hanoi, VN"}
    )


def test_a_quoted_header_spanning_lines_is_sniffed_and_named(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b'"customer\nname";"city, province"\nAnn;"Hue, VN"\n')
    source, items = read_all(path)
    assert source.delimiter == ";"
    assert source.columns == ["customer\nname", "city, province"]
    assert only_rows(items) == [Row(3, {"customer\nname": "Ann", "city, province": "Hue, VN"})]


def test_tsv_files_are_tab_separated(tmp_path: Path) -> None:
    path = tmp_path / "d.tsv"
    path.write_bytes(b"a\n1,2\n")
    source, items = read_all(path)
    assert source.delimiter == "\t"
    assert only_rows(items) == [Row(2, {"a": "1,2"})]


def test_given_delimiter_wins_and_accepts_tab_by_name(tmp_path: Path) -> None:
    path = tmp_path / "d.txt"
    path.write_text("a,b\tc\n1,2\t3\n", encoding="utf-8")
    source, items = read_all(path, delimiter="tab")
    assert source.delimiter == "\t"
    assert only_rows(items) == [Row(2, {"a,b": "1,2", "c": "3"})]


def test_quoted_fields_with_newlines_delimiters_and_doubled_quotes(tmp_path: Path) -> None:
    text = (
        "id,name,note\n"
        '1,"Lee, Ann","said ""hi""\nthen left"\n'
        '2,"Bob","three\r\nline\nnote"\n'
        "3,Cy,plain\n"
    )
    path = tmp_path / "q.csv"
    path.write_bytes(text.encode())
    _, items = read_all(path)
    assert only_rows(items) == [
        Row(2, {"id": "1", "name": "Lee, Ann", "note": 'said "hi"\nthen left'}),
        Row(4, {"id": "2", "name": "Bob", "note": "three\r\nline\nnote"}),
        Row(7, {"id": "3", "name": "Cy", "note": "plain"}),
    ]


def test_crlf_line_ends_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_bytes(b"\r\nid,name\r\n1,Ann\r\n\r\n,\r\n  ,  \r\n2,Bob\r\n")
    source, items = read_all(path)
    assert source.columns == ["id", "name"]
    assert only_rows(items) == [
        Row(3, {"id": "1", "name": "Ann"}),
        Row(7, {"id": "2", "name": "Bob"}),
    ]


def test_values_are_kept_as_written(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_bytes(b"id,name\n 007 ,  Ann  \n")
    _, items = read_all(path)
    assert only_rows(items) == [Row(2, {"id": " 007 ", "name": "  Ann  "})]


def test_undecodable_byte_costs_only_its_row(tmp_path: Path) -> None:
    good_1 = f"1,{THAI_NAME},{THAI_ADDRESS}\n".encode("cp874")
    bad = "3,".encode("cp874") + b"\xdb" + "ใจ,x\n".encode("cp874")  # 0xDB is undefined in cp874
    good_2 = f"4,{THAI_NAME_2},{THAI_ADDRESS_2}\n".encode("cp874")
    header = b"id,name,address\n"
    path = tmp_path / "thai.csv"
    path.write_bytes(header + good_1 + bad + good_2)
    source, items = read_all(path)
    assert source.encoding == "cp874"
    assert items[0] == Row(2, {"id": "1", "name": THAI_NAME, "address": THAI_ADDRESS})
    assert isinstance(items[1], BadRow)
    assert (items[1].line, items[1].reason, items[1].raw) == (3, "undecodable", bad)
    offset = len(header) + len(good_1) + 2
    assert f"0xDB at byte offset {offset}" in items[1].detail
    assert items[2] == Row(4, {"id": "4", "name": THAI_NAME_2, "address": THAI_ADDRESS_2})


def test_undecodable_header_is_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"id,n\xffame\n1,2\n")
    with pytest.raises(InvalidInput, match="header"):
        open_source_file(path, encoding="utf-8")


def test_field_count_errors(tmp_path: Path) -> None:
    text = (
        "id,name,address,phone\n"
        "1,Ann,1 Road,555\n"
        "2,Bob,2 Road,556,extra\n"  # too many
        "3,Cy\n"  # a spreadsheet that dropped trailing empty cells
        "4,Dan,4 Road,557\n"
        "5,Di,12 Sukhumvit\n"  # one record cut by a line break outside quotes
        "Bangkok,558\n"
        "6,Ed,6 Road,559\n"
    )
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode())
    _, items = read_all(path)
    assert items == [
        Row(2, {"id": "1", "name": "Ann", "address": "1 Road", "phone": "555"}),
        BadRow(
            3, "field_count", "line 3 has 5 fields, the header has 4", b"2,Bob,2 Road,556,extra\n"
        ),
        Row(4, {"id": "3", "name": "Cy", "address": None, "phone": None}),
        Row(5, {"id": "4", "name": "Dan", "address": "4 Road", "phone": "557"}),
        BadRow(
            6,
            "field_count",
            "lines 6-7 look like one record of 4 fields cut by line breaks outside quotes; "
            "quote the field that holds them",
            b"5,Di,12 Sukhumvit\nBangkok,558\n",
        ),
        Row(8, {"id": "6", "name": "Ed", "address": "6 Road", "phone": "559"}),
    ]


def test_short_rows_that_do_not_add_up_to_a_record_are_filled(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b,c,d\n1,x\n2,y\n3,z,w\n4,v,u,t\n")
    _, items = read_all(path)
    assert only_rows(items) == [
        Row(2, {"a": "1", "b": "x", "c": None, "d": None}),
        Row(3, {"a": "2", "b": "y", "c": None, "d": None}),
        Row(4, {"a": "3", "b": "z", "c": "w", "d": None}),
        Row(5, {"a": "4", "b": "v", "c": "u", "d": "t"}),
    ]


def test_a_record_cut_twice_is_one_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"id,name,address,phone\n1,Ann,Room 5\nFloor 2\nBangkok,555\n2,Bob,x,1\n")
    _, items = read_all(path)
    assert items == [
        BadRow(
            2,
            "field_count",
            "lines 2-4 look like one record of 4 fields cut by line breaks outside quotes; "
            "quote the field that holds them",
            b"1,Ann,Room 5\nFloor 2\nBangkok,555\n",
        ),
        Row(5, {"id": "2", "name": "Bob", "address": "x", "phone": "1"}),
    ]


def test_a_long_run_of_short_rows_is_never_taken_for_cut_records(tmp_path: Path) -> None:
    lines = [f"{n},x" if n % 2 else f"{n},y,z" for n in range(1, 21)]  # 2 + 3 - 1 == 4
    path = tmp_path / "f.csv"
    path.write_text("a,b,c,d\n" + "\n".join(lines) + "\n", encoding="utf-8")
    _, items = read_all(path)
    rows = only_rows(items)
    assert len(rows) == 20
    assert rows[0] == Row(2, {"a": "1", "b": "x", "c": None, "d": None})
    assert rows[19] == Row(21, {"a": "20", "b": "y", "c": "z", "d": None})


def test_short_rows_at_the_end_of_the_file_are_filled(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b,c\n1\n2,3")
    _, items = read_all(path)
    assert only_rows(items) == [
        Row(2, {"a": "1", "b": None, "c": None}),
        Row(3, {"a": "2", "b": "3", "c": None}),
    ]


def test_malformed_quoting_is_a_bad_row_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes(b'id,name\n1,"Ann"x\n2,Bob\n3,"never closed\n')
    _, items = read_all(path)
    assert isinstance(items[0], BadRow)
    assert (items[0].line, items[0].reason, items[0].raw) == (2, "malformed_csv", b'1,"Ann"x\n')
    assert items[1] == Row(3, {"id": "2", "name": "Bob"})
    assert isinstance(items[2], BadRow)
    assert (items[2].line, items[2].reason, items[2].raw) == (
        4,
        "malformed_csv",
        b'3,"never closed\n',
    )


def test_duplicate_and_empty_headers_get_names(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_bytes(b" email ,,email,name_2,name,name,\n1,2,3,4,5,6,7\n")
    source, items = read_all(path)
    assert source.columns == [
        "email",
        "column_2",
        "email_2",
        "name_2",
        "name",
        "name_3",
        "column_7",
    ]
    assert only_rows(items)[0].values == dict(zip(source.columns, "1234567", strict=True))


def test_records_and_errors_across_block_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "_BLOCK_BYTES", 16)
    lines = [f'{n},"{THAI_NAME}\nline {n}",x' for n in range(1, 40)]
    raw = ("id,name,z\n" + "\n".join(lines) + "\n").encode("cp874")
    raw = raw.replace("line 30".encode("cp874"), b"line \xfc0")  # undefined byte in a late block
    path = tmp_path / "b.csv"
    path.write_bytes(raw)
    source, items = read_all(path, encoding="cp874")
    assert len(items) == 39
    assert items[0] == Row(2, {"id": "1", "name": f"{THAI_NAME}\nline 1", "z": "x"})
    assert items[38] == Row(78, {"id": "39", "name": f"{THAI_NAME}\nline 39", "z": "x"})
    bad = items[29]
    assert isinstance(bad, BadRow)
    assert (bad.line, bad.reason) == (60, "undecodable")
    assert bad.raw == f'30,"{THAI_NAME}\n'.encode("cp874") + b'line \xfc0",x\n'
    assert source.position() == path.stat().st_size


def test_empty_csv_has_no_columns_and_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(b"")
    source, items = read_all(path)
    assert (source.columns, items) == ([], [])


def test_rows_can_be_read_again(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"id\n1\n2\n")
    with open_source_file(path) as source:
        first = list(source.rows())
        second = list(source.rows())
    assert first == second == [Row(2, {"id": "1"}), Row(3, {"id": "2"})]


# --- JSON Lines --------------------------------------------------------------------------------


def test_jsonl_rows_bad_lines_and_nested_values(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    first = f'{{"id": 1, "name": "{THAI_NAME}", "tags": ["a"], "address": {{"city": "Hà Nội"}}}}'
    path.write_bytes(
        first.encode()
        + b"\n\n"
        + b'{"id": 2, "name": \n'
        + b"[1, 2]\n"
        + b'{"id": 123456789012345678901234567890, "vip": true, "score": 1.5, "note": null}\r\n'
        + b'{"id": 4, "score": NaN}'
    )
    source, items = read_all(path)
    assert (source.format, source.encoding) == ("jsonl", "utf-8")
    assert items[0] == Row(
        1, {"id": 1, "name": THAI_NAME, "tags": ["a"], "address": {"city": "Hà Nội"}}
    )
    assert isinstance(items[1], BadRow)
    assert (items[1].line, items[1].reason, items[1].raw) == (
        3,
        "malformed_json",
        b'{"id": 2, "name": \n',
    )
    assert items[2] == BadRow(
        4, "not_an_object", "line 4 is a JSON array, not an object", b"[1, 2]\n"
    )
    assert items[3] == Row(
        5, {"id": 123456789012345678901234567890, "vip": True, "score": 1.5, "note": None}
    )
    assert isinstance(items[4], Row) and items[4].line == 6
    assert items[4].values["score"] != items[4].values["score"]  # NaN, kept
    assert source.columns == ["id", "name", "tags", "address", "vip", "score", "note"]


def test_jsonl_undecodable_line(tmp_path: Path) -> None:
    path = tmp_path / "e.ndjson"
    path.write_bytes(b'{"a": "ok"}\n{"a": "\xff"}\n{"a": "' + "ễ".encode() + b'"}\n')
    _, items = read_all(path, encoding="utf-8")
    assert items[0] == Row(1, {"a": "ok"})
    assert isinstance(items[1], BadRow)
    assert (items[1].line, items[1].reason, items[1].raw) == (2, "undecodable", b'{"a": "\xff"}\n')
    assert items[2] == Row(3, {"a": "ễ"})


def test_json_file_of_lines_is_jsonl_and_a_json_array_is_refused(tmp_path: Path) -> None:
    lines = tmp_path / "lines.json"
    lines.write_bytes(b'{"a": 1}\n{"a": 2}\n')
    source, items = read_all(lines)
    assert source.format == "jsonl"
    assert only_rows(items) == [Row(1, {"a": 1}), Row(2, {"a": 2})]
    array = tmp_path / "array.json"
    array.write_bytes(b'[{"a": 1}, {"a": 2}]')
    with pytest.raises(InvalidInput, match="not JSON Lines"):
        open_source_file(array)


# --- Parquet -----------------------------------------------------------------------------------


def test_parquet_values_come_as_python_values(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2, None], type=pa.int64()),
            "score": pa.array([1.5, None, -2.0]),
            "name": pa.array([THAI_NAME, unicodedata.normalize("NFD", VIET_NAME), None]),
            "seen": pa.array(
                [
                    datetime.datetime(2024, 1, 2, 3, 4, 5, 123456),
                    None,
                    datetime.datetime(2000, 1, 1),
                ],
                type=pa.timestamp("us"),
            ),
            "at": pa.array([1_700_000_000_123_456_789, None, 0], type=pa.timestamp("ns", "UTC")),
            "born": pa.array([datetime.date(1990, 5, 17), None, None], type=pa.date32()),
        }
    )
    path = tmp_path / "p.parquet"
    pq.write_table(table, path, row_group_size=2)
    source, items = read_all(path)
    assert (source.format, source.encoding, source.delimiter) == ("parquet", None, None)
    assert source.columns == ["id", "score", "name", "seen", "at", "born"]
    rows = only_rows(items)
    assert [row.line for row in rows] == [1, 2, 3]
    assert rows[0].values == {
        "id": 1,
        "score": 1.5,
        "name": THAI_NAME,
        "seen": datetime.datetime(2024, 1, 2, 3, 4, 5, 123456),
        "at": datetime.datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=datetime.UTC),
        "born": datetime.date(1990, 5, 17),
    }
    assert rows[1].values == {
        "id": 2,
        "score": None,
        "name": VIET_NAME,  # composed to NFC
        "seen": None,
        "at": None,
        "born": None,
    }
    assert rows[2].values["id"] is None and rows[2].values["score"] == -2.0
    assert source.position() == source.size_bytes


def test_not_a_parquet_file_is_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    path.write_bytes(b"id,name\n1,Ann\n")
    with pytest.raises(InvalidInput, match="not a readable Parquet file"):
        open_source_file(path)


# --- xlsx --------------------------------------------------------------------------------------


def write_workbook(path: Path) -> None:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Customers"
    first["A2"] = "id"  # the header is the first non-empty row, here row 2
    first["B2"] = "name"
    first["C2"] = "born"
    first["D2"] = "spend"
    first.append([1, THAI_NAME, datetime.date(1990, 5, 17), 1234.5])
    first.append([2, unicodedata.normalize("NFD", VIET_NAME), None, 7])
    first.append([])  # an empty row in between is skipped
    first.append([3, "Cy", datetime.datetime(2001, 2, 3, 4, 5, 6), None, "beyond"])
    first["A8"] = ""  # an empty trailing row
    second = book.create_sheet("Orders")
    second.append(["order", "total"])
    second.append(["A-1", 99])
    book.save(path)


def test_xlsx_first_sheet(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    write_workbook(path)
    source, items = read_all(path)
    assert (source.format, source.encoding) == ("xlsx", None)
    assert source.columns == ["id", "name", "born", "spend"]
    assert items[0] == Row(
        3, {"id": 1.0, "name": THAI_NAME, "born": datetime.date(1990, 5, 17), "spend": 1234.5}
    )
    assert items[1] == Row(4, {"id": 2.0, "name": VIET_NAME, "born": None, "spend": 7.0})
    assert isinstance(items[2], BadRow)
    assert (items[2].line, items[2].reason) == (6, "field_count")
    assert items[2].detail == "row 6 has 5 cells, the header has 4"
    assert b"beyond" in items[2].raw
    assert len(items) == 3


def test_xlsx_sheet_selection(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    write_workbook(path)
    source, items = read_all(path, sheet="Orders")
    assert source.columns == ["order", "total"]
    assert items == [Row(2, {"order": "A-1", "total": 99.0})]


def test_xlsx_unknown_sheet_lists_the_sheets(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    write_workbook(path)
    with pytest.raises(InvalidInput, match="no sheet 'Nope'; its sheets are 'Customers', 'Orders'"):
        open_source_file(path, sheet="Nope")


def test_xlsx_dates_with_time_and_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["when", "ok"])
    sheet.append([datetime.datetime(2024, 1, 2, 3, 4, 5), True])
    book.save(path)
    _, items = read_all(path)
    assert items == [Row(2, {"when": datetime.datetime(2024, 1, 2, 3, 4, 5), "ok": True})]


# --- formats and paths -------------------------------------------------------------------------


def test_unknown_suffix_names_the_file_and_the_formats(tmp_path: Path) -> None:
    path = tmp_path / "data.xml"
    path.write_bytes(b"<a/>")
    with pytest.raises(InvalidInput, match=r"data\.xml.*\.csv.*\.jsonl.*\.parquet.*\.xlsx"):
        open_source_file(path)


def test_unknown_format_is_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"a\n1\n")
    with pytest.raises(InvalidInput, match="unknown format 'xml'"):
        open_source_file(path, format="xml")


def test_format_given_overrides_the_suffix(tmp_path: Path) -> None:
    path = tmp_path / "export.dat"
    path.write_bytes(b'{"a": 1}\n')
    source, items = read_all(path, format="jsonl")
    assert items == [Row(1, {"a": 1})]
    assert source.format == "jsonl"


def test_missing_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"missing\.csv: no such file"):
        open_source_file(tmp_path / "missing.csv")


def test_directory_is_invalid_input(tmp_path: Path) -> None:
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with pytest.raises(InvalidInput, match="is not a file"):
        open_source_file(folder)
