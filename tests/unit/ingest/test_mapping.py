"""The mapping file: what it accepts, and the errors that tell a user what to fix."""

import pytest

from c360.errors import InvalidInput
from c360.ingest.mapping import parse_mapping
from c360.ingest.schema import KIND_FIELDS, RecordKind


def test_short_and_long_field_forms_and_every_section() -> None:
    mapping = parse_mapping(
        """
        source: crm
        kind: contact
        record_id: [Branch, "Customer No"]
        defaults: {default_region: VN, timezone: Asia/Ho_Chi_Minh}
        read: {encoding: cp1258, delimiter: ";"}
        fields:
          full_name: {column: "Họ và tên", order: family_first}
          phone: "Điện thoại"
          industry: {columns: [Industry, Sector], values: {"Bán lẻ": Retail}}
        identifiers:
          national_id: "Số CCCD"
        custom:
          points: {column: Points, type: integer}
        """
    )
    assert mapping.kind is RecordKind.CONTACT
    assert mapping.record_id_columns == ["Branch", "Customer No"]
    assert mapping.fields["phone"].column == "Điện thoại"
    assert mapping.fields["industry"].source_columns == ["Industry", "Sector"]
    assert mapping.fields["full_name"].options() == {"order": "family_first"}
    assert mapping.field_type("fields", "phone", mapping.fields["phone"]) == "phone"
    assert mapping.field_type("identifiers", "national_id", mapping.identifiers["national_id"]) == (
        "national_id"
    )
    assert mapping.field_type("custom", "points", mapping.custom["points"]) == "integer"
    assert mapping.read.encoding == "cp1258"
    assert mapping.defaults.default_region == "VN"


def test_record_ids_from_rows() -> None:
    mapping = parse_mapping("kind: order_item\nrecord_id: [order, line]")
    assert mapping.record_id_of({"order": "SO-1", "line": 2}) == "SO-1:2"
    assert mapping.record_id_of({"order": 1001.0, "line": "1"}) == "1001:1"  # Excel numbers
    assert mapping.record_id_of({"order": "SO-1", "line": "  "}) is None
    assert mapping.record_id_of({"order": "SO-1"}) is None
    assert mapping.record_id_of({"order": float("nan"), "line": 1}) is None


def test_the_fingerprint_follows_meaning_not_formatting() -> None:
    a = parse_mapping("kind: contact\nrecord_id: id\nfields: {phone: Mobile}")
    b = parse_mapping("kind: contact\nrecord_id: id\nfields:\n  phone: {column: Mobile}\n")
    c = parse_mapping("kind: contact\nrecord_id: id\nfields: {phone: Tel}")
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: contact\nrecord_id: id\nfields: {frist_name: A}", "did you mean 'first_name'"),
        (
            "kind: contact\nrecord_id: id\nfields: {order_id: A}",
            "not a canonical field of a contact",
        ),
        ("kind: customer\nrecord_id: id", "kind"),
        ("kind: contact", "record_id"),
        ("kind: contact\nrecord_id: []", "at least one column"),
        ("kind: contact\nrecord_id: id\ncustom: {phone: A}", "is a canonical field"),
        ("kind: contact\nrecord_id: id\nfields: {phone: {colum: A}}", "colum"),
        ("kind: contact\nrecord_id: id\nfields: {phone: {}}", "exactly one of 'column'"),
        ("kind: contact\nrecord_id: id\ncustom: {x: {column: A, type: colour}}", "unknown type"),
        ("- just\n- a list", "YAML object"),
        ("kind: [unclosed", "not valid YAML"),
    ],
)
def test_mistakes_are_refused_with_what_to_fix(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        parse_mapping(text, origin="m.yml")


def test_every_kind_has_its_own_fields_and_person_fields() -> None:
    for kind in RecordKind:
        mapping = parse_mapping(f"kind: {kind.value}\nrecord_id: id\nfields: {{phone: P}}")
        assert mapping.kind is kind
        assert KIND_FIELDS[kind]
