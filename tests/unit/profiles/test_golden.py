import itertools
import unicodedata
from typing import Any

import orjson
import pytest

from c360.errors import InvalidInput
from c360.profiles.golden import (
    ADDRESS_GROUP,
    DEFAULT_RULES,
    SURVIVING_FIELDS,
    Address,
    Alternative,
    FieldRule,
    FieldValue,
    RecordFacts,
    SurvivorshipRules,
    golden_record,
    parse_rules,
)

DAY_US = 86_400_000_000
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def at(day: int) -> int:
    return T0 + day * DAY_US


def rec(
    source: str, record_id: str, kind: str, day: int, seq: int = 0, **fields: Any
) -> RecordFacts:
    return RecordFacts(source, record_id, kind, fields, at(day), seq or day)


BANGKOK_HOME: dict[str, Any] = {
    "address_line1": "99/1 ซอยสุขุมวิท 24",
    "subdistrict": "คลองตัน",
    "district": "คลองเตย",
    "province": "Bangkok",
    "postal_code": "10110",
    "country": "TH",
}
CHIANG_MAI_OFFICE: dict[str, Any] = {
    "address_line1": "12 ถนนนิมมานเหมินท์",
    "district": "เมืองเชียงใหม่",
    "province": "Chiang Mai",
    "postal_code": "50200",
    "country": "TH",
}
SAIGON_FLAT: dict[str, Any] = {
    "address_line1": "12 Nguyễn Huệ",
    "subdistrict": "Phường Bến Nghé",
    "district": "Quận 1",
    "province": "Ho Chi Minh City",
    "country": "VN",
}


def test_the_result_does_not_depend_on_the_order_of_records() -> None:
    records = [
        rec(
            "crm",
            "C1",
            "contact",
            1,
            email="somchai@example.co.th",
            phone="+66812345678",
            first_name="สมชาย",
            last_name="ใจดี",
            full_name="สมชาย ใจดี",
            birth_date="1987-03-15",
        ),
        rec(
            "billing",
            "B7",
            "contact",
            3,
            email="accounts@jaidee.co.th",
            birth_date="1987-03-15",
            **CHIANG_MAI_OFFICE,
        ),
        # Same time and sequence as B7: source and record id decide.
        rec(
            "shop",
            "O-100",
            "order",
            3,
            phone="+66898765432",
            birth_date="1987-05-13",
            **BANGKOK_HOME,
        ),
        rec("shipping", "S-1", "shipment", 2, **BANGKOK_HOME),
        rec(
            "crm",
            "C1",
            "contact",
            4,
            email="somchai.j@example.co.th",
            phone="+66812345678",
            first_name="สมชาย",
            last_name="ใจดี",
            full_name="สมชาย ใจดี",
            birth_date="1987-03-15",
        ),
        rec("helpdesk", "T-9", "ticket", 4, seq=4, phone="+66812345678", subject="ของไม่ถึง"),
    ]
    expected = golden_record(records).as_json()
    for permutation in itertools.permutations(records):
        assert golden_record(permutation).as_json() == expected
    values = expected["values"]
    # crm:C1 and helpdesk:T-9 share day 4 and seq 4; "helpdesk" > "crm", so the ticket wins.
    assert values["phone"]["record_id"] == "T-9"
    assert values["email"] == {
        "value": "somchai.j@example.co.th",
        "source": "crm",
        "record_id": "C1",
        "kind": "contact",
        "at_us": at(4),
        "rule": "most recent",
    }
    # billing:B7 and shop:O-100 tie on day 3 and seq 3; "shop" > "billing", so the order wins.
    assert values["province"]["source"] == "shop"


def test_source_priority_beats_recency() -> None:
    rules = SurvivorshipRules(
        fields={"email": FieldRule(strategy="source_priority", sources=["billing", "crm"])}
    )
    records = [
        rec("billing", "B7", "contact", 1, email="accounts@jaidee.co.th"),
        rec("crm", "C1", "contact", 5, email="somchai@example.co.th"),
        rec("shop", "U-3", "contact", 9, email="somchai.shop@example.co.th"),
    ]
    golden = golden_record(records, rules)
    assert golden.values["email"] == FieldValue(
        "accounts@jaidee.co.th", "billing", "B7", "contact", at(1), "source priority: billing"
    )
    without_billing = golden_record(records[1:], rules)
    assert without_billing.values["email"].value == "somchai@example.co.th"
    assert without_billing.values["email"].rule == "source priority: crm"
    only_shop = golden_record(records[2:], rules)
    assert only_shop.values["email"].value == "somchai.shop@example.co.th"
    assert only_shop.values["email"].rule == "most recent (no value from billing, crm)"


def test_the_most_recent_value_wins_by_default() -> None:
    records = [
        rec("crm", "C1", "contact", 1, phone="+66812345678", language="th"),
        rec("pos", "R-55", "order", 7, phone="+66898765432"),
        rec("line", "L-2", "contact", 4, phone="+66811111111", language="en"),
    ]
    golden = golden_record(records)
    assert golden.values["phone"] == FieldValue(
        "+66898765432", "pos", "R-55", "order", at(7), "most recent"
    )
    assert golden.values["language"].value == "en"


def test_most_frequent_birth_date_outvotes_a_typo() -> None:
    records = [
        rec("crm", "C1", "contact", 1, birth_date="1987-03-15", gender="male"),
        rec("billing", "B7", "contact", 2, birth_date="1987-03-15", gender="female"),
        rec("loyalty", "M-4", "registration", 3, birth_date="1987-03-15"),
        rec("shop", "U-3", "contact", 9, birth_date="1987-05-13"),  # day and month swapped
    ]
    golden = golden_record(records)
    assert golden.values["birth_date"] == FieldValue(
        "1987-03-15", "loyalty", "M-4", "registration", at(3), "most frequent (3 records)"
    )
    # One record each: the newer one wins the tie.
    assert golden.values["gender"] == FieldValue(
        "female", "billing", "B7", "contact", at(2), "most frequent (1 record, newest of a tie)"
    )


def test_empty_values_never_win_and_are_not_alternatives() -> None:
    records = [
        rec(
            "crm",
            "C1",
            "contact",
            1,
            email="somchai@example.co.th",
            nickname="ชาย",
            company="Jaidee Co., Ltd.",
            address_line1="99/1 ซอยสุขุมวิท 24",
            province="Bangkok",
        ),
        rec(
            "shop",
            "U-3",
            "contact",
            9,
            email="",
            nickname="   ",
            company=None,
            address_line1="",
            province="",
            phone={},
        ),
    ]
    golden = golden_record(records)
    assert golden.values["email"].record_id == "C1"
    assert golden.values["nickname"].value == "ชาย"
    assert golden.values["company"].value == "Jaidee Co., Ltd."
    assert golden.values["province"].record_id == "C1"
    assert "phone" not in golden.values
    assert "phone" not in golden.alternatives
    assert [a.value for a in golden.alternatives["email"]] == ["somchai@example.co.th"]
    assert [a.sources for a in golden.alternatives["nickname"]] == [["crm"]]


def test_name_parts_survive_together_from_one_record() -> None:
    records = [
        rec(
            "billing",
            "B7",
            "contact",
            1,
            first_name="Somchai",
            last_name="Jaidee",
            full_name="Somchai Jaidee",
        ),
        rec("line", "L-2", "contact", 6, first_name="Som"),
        rec("crm", "C1", "contact", 3, first_name="สมชาย", full_name="สมชาย ใจดี"),
    ]
    # By default the most complete name wins: all three parts from billing.
    golden = golden_record(records)
    assert {n: (v.value, v.source) for n, v in golden.values.items()} == {
        "first_name": ("Somchai", "billing"),
        "last_name": ("Jaidee", "billing"),
        "full_name": ("Somchai Jaidee", "billing"),
    }
    assert golden.values["first_name"].rule == "most complete (3 parts)"
    # The most recent name is LINE's first name alone, and nothing is borrowed to complete it.
    latest = golden_record(records, SurvivorshipRules(fields={"name": "most_recent"}))
    assert {n: v.value for n, v in latest.values.items()} == {"first_name": "Som"}
    # Every part still lists its values.
    assert [a.value for a in latest.alternatives["first_name"]] == ["Som", "สมชาย", "Somchai"]
    assert [a.value for a in latest.alternatives["full_name"]] == ["สมชาย ใจดี", "Somchai Jaidee"]


def test_address_parts_survive_together_as_one_address() -> None:
    records = [
        rec("shipping", "S-1", "shipment", 1, **BANGKOK_HOME),
        rec("crm", "C1", "contact", 5, province="Chiang Mai", country="TH"),
        # A country alone locates no one: not an address, so it does not replace Chiang Mai.
        rec("line", "L-2", "contact", 8, country="VN"),
    ]
    golden = golden_record(records)
    address_values = {n: v.value for n, v in golden.values.items() if n in ADDRESS_GROUP}
    assert address_values == {"province": "Chiang Mai", "country": "TH"}
    assert golden.values["province"].rule == "most recent"
    assert "district" not in golden.values
    assert "postal_code" not in golden.values
    assert [a.value for a in golden.alternatives["country"]] == ["VN", "TH"]
    # The older, complete address wins whole under non_empty.
    complete = golden_record(records, SurvivorshipRules(fields={"address": "non_empty"}))
    assert {n: v.value for n, v in complete.values.items()} == BANGKOK_HOME | {
        "contact_address": {"province": "Chiang Mai", "country": "TH"},
        "delivery_address": BANGKOK_HOME,
    }
    assert complete.values["postal_code"].rule == "most complete (6 parts)"


def test_alternatives_list_every_distinct_phone_with_sources_counts_and_dates() -> None:
    records = [
        rec("crm", "C1", "contact", 1, phone="+66812345678"),
        rec("pos", "R-1", "order", 2, phone="+66812345678"),
        rec("pos", "R-2", "order", 5, phone="+66898765432"),
        rec("helpdesk", "T-9", "ticket", 4, phone="+66812345678"),
        rec("line", "L-2", "contact", 3, phone="+84912345678"),
        rec("pos", "R-3", "order", 6, phone="+66898765432"),
    ]
    golden = golden_record(records)
    assert golden.alternatives["phone"] == [
        Alternative("+66898765432", ["pos"], 2, at(5), at(6)),
        Alternative("+66812345678", ["crm", "helpdesk", "pos"], 3, at(1), at(4)),
        Alternative("+84912345678", ["line"], 1, at(3), at(3)),
    ]
    assert golden.values["phone"].value == golden.alternatives["phone"][0].value


def test_addresses_carry_their_type_and_the_latest_delivery_address_is_the_newest_shipments() -> (
    None
):
    rules = SurvivorshipRules(billing_sources=["billing"])
    records = [
        rec("shipping", "S-1", "shipment", 2, **BANGKOK_HOME),
        rec("shop", "O-100", "order", 1, **BANGKOK_HOME),
        rec("shipping", "S-2", "shipment", 9, **SAIGON_FLAT),
        rec("shop", "O-101", "order", 8, **SAIGON_FLAT),
        rec("billing", "B7", "contact", 3, **CHIANG_MAI_OFFICE),
        rec("billing", "INV-1", "invoice", 4, **CHIANG_MAI_OFFICE),
        rec("crm", "C1", "contact", 5, **BANGKOK_HOME),
        rec("events", "E-3", "registration", 6, province="Chiang Mai", country="TH"),
    ]
    golden = golden_record(records, rules)
    assert golden.addresses == [
        Address("delivery", SAIGON_FLAT, "shipping", "S-2", at(8), at(9), 2),
        Address(
            "contact", {"province": "Chiang Mai", "country": "TH"}, "events", "E-3", at(6), at(6), 1
        ),
        Address("contact", BANGKOK_HOME, "crm", "C1", at(5), at(5), 1),
        Address("billing", CHIANG_MAI_OFFICE, "billing", "INV-1", at(3), at(4), 2),
        Address("delivery", BANGKOK_HOME, "shipping", "S-1", at(1), at(2), 2),
    ]
    assert golden.latest_delivery_address == golden.addresses[0]
    assert golden.values["delivery_address"].value == SAIGON_FLAT
    assert golden.values["billing_address"].record_id == "INV-1"
    assert golden.values["contact_address"].record_id == "E-3"
    # Without billing_sources the billing system's contact is an ordinary contact address.
    plain = golden_record(records)
    assert [(a.type, a.record_id, a.record_count) for a in plain.addresses][2:5] == [
        ("contact", "C1", 1),
        ("billing", "INV-1", 1),
        ("contact", "B7", 1),
    ]


def test_typed_addresses_follow_their_own_rules() -> None:
    rules = parse_rules(
        """
        billing_sources: [billing]
        fields:
          name: {strategy: source_priority, sources: [billing]}
          billing_address: {strategy: source_priority, sources: [billing]}
          delivery_address: {strategy: source_priority, sources: [shipping]}
        """
    )
    records = [
        rec(
            "billing", "B7", "contact", 1, full_name="Jaidee Trading Co., Ltd.", **CHIANG_MAI_OFFICE
        ),
        rec("shop", "INV-9", "invoice", 7, **BANGKOK_HOME),
        rec("shipping", "S-1", "shipment", 2, **BANGKOK_HOME),
        rec(
            "shop",
            "O-101",
            "order",
            8,
            first_name="Somchai",
            full_name="Somchai Jaidee",
            **SAIGON_FLAT,
        ),
    ]
    golden = golden_record(records, rules)
    assert golden.values["full_name"].value == "Jaidee Trading Co., Ltd."
    assert "first_name" not in golden.values
    assert golden.values["billing_address"] == FieldValue(
        CHIANG_MAI_OFFICE, "billing", "B7", "contact", at(1), "source priority: billing"
    )
    assert golden.values["delivery_address"] == FieldValue(
        BANGKOK_HOME, "shipping", "S-1", "shipment", at(2), "source priority: shipping"
    )
    # The rules choose the delivery address; the newest one is still there for every team.
    assert golden.latest_delivery_address is not None
    assert golden.latest_delivery_address.parts == SAIGON_FLAT
    assert golden.latest_delivery_address.record_id == "O-101"


def test_every_value_says_where_it_came_from_and_why_it_won() -> None:
    records = [
        rec(
            "crm",
            "C1",
            "contact",
            1,
            first_name="Lan",
            last_name="Trần",
            full_name="Trần Thị Lan",
            birth_date="1992-11-02",
            national_id="079192000123",
            line_user_id="U4af4980629",
        ),
        rec("zalo", "Z-8", "contact", 2, zalo_user_id="8403912345678", nickname="Lan"),
        rec("shop", "O-3", "order", 3, email="lan.tran@example.vn", **SAIGON_FLAT),
    ]
    golden = golden_record(records)
    provenance = {
        name: (v.source, v.record_id, v.kind, v.at_us, v.rule) for name, v in golden.values.items()
    }
    name_from_crm = ("crm", "C1", "contact", at(1), "most complete (3 parts)")
    address_from_shop = ("shop", "O-3", "order", at(3), "most recent")
    assert provenance == {
        "first_name": name_from_crm,
        "last_name": name_from_crm,
        "full_name": name_from_crm,
        "nickname": ("zalo", "Z-8", "contact", at(2), "most recent"),
        "email": address_from_shop,
        "birth_date": ("crm", "C1", "contact", at(1), "most frequent (1 record)"),
        **dict.fromkeys(SAIGON_FLAT, address_from_shop),
        "national_id": ("crm", "C1", "contact", at(1), "most recent"),
        "line_user_id": ("crm", "C1", "contact", at(1), "most recent"),
        "zalo_user_id": ("zalo", "Z-8", "contact", at(2), "most recent"),
        "delivery_address": address_from_shop,
    }
    # Values come out in the documented field order.
    assert list(golden.values) == [
        *(f for f in SURVIVING_FIELDS if f in golden.values),
        "delivery_address",
    ]


def test_thai_and_vietnamese_values_are_kept_exactly() -> None:
    thai = "สมศักดิ์ ทองดี"
    vietnamese = "Nguyễn Thị Ánh Tuyết"
    decomposed = unicodedata.normalize("NFD", vietnamese)
    assert decomposed != vietnamese
    records = [
        rec("crm", "C1", "contact", 1, nickname=thai, district="Quận Hoàn Kiếm", province="Hanoi"),
        rec("shop", "U-3", "contact", 2, full_name=decomposed),
        rec("zalo", "Z-8", "contact", 3, full_name=vietnamese),
    ]
    golden = golden_record(records)
    assert golden.values["nickname"].value == thai
    assert golden.values["district"].value == "Quận Hoàn Kiếm"
    assert golden.values["full_name"].value == vietnamese
    # A decomposed spelling (typed on a Mac) is the same name, not a second alternative.
    assert golden.alternatives["full_name"] == [
        Alternative(vietnamese, ["shop", "zalo"], 2, at(2), at(3))
    ]
    text = orjson.dumps(golden.as_json()).decode()
    assert thai in text
    assert vietnamese in text


def test_only_person_fields_survive() -> None:
    records = [
        rec(
            "shop",
            "O-1",
            "order",
            1,
            email="an@example.vn",
            customer_id="SHOP-77",
            total={"amount": "1290.00", "currency": "THB"},
            status="paid",
            loyalty_tier="gold",
        ),
        rec("helpdesk", "T-1", "ticket", 2, subject="Đổi hàng", product_name="Áo dài"),
    ]
    assert set(golden_record(records).alternatives) == {"email"}
    with_custom = golden_record(records, SurvivorshipRules(extra_fields=["loyalty_tier"]))
    assert list(with_custom.values) == ["email", "loyalty_tier"]


def test_only_the_newest_version_of_a_record_competes() -> None:
    records = [
        rec("crm", "C1", "contact", 1, birth_date="1990-01-02"),
        rec("crm", "C1", "contact", 2, birth_date="1990-02-01"),
        rec("crm", "C1", "contact", 3, birth_date="1990-01-02"),
        rec("shop", "U-3", "contact", 4, birth_date="1990-02-01"),
    ]
    golden = golden_record(records)
    # C1's newest version and U-3 disagree, one record each: the newer one wins.
    assert golden.values["birth_date"].rule == "most frequent (1 record, newest of a tie)"
    assert golden.values["birth_date"].record_id == "U-3"
    assert golden.alternatives["birth_date"] == [
        Alternative("1990-02-01", ["crm", "shop"], 2, at(2), at(4)),
        Alternative("1990-01-02", ["crm"], 1, at(1), at(3)),
    ]


def test_dict_values_compare_by_content() -> None:
    records = [
        rec("crm", "C1", "contact", 1, company={"name": "Jaidee", "branch": "00000"}),
        rec("billing", "B7", "contact", 2, company={"branch": "00000", "name": "Jaidee"}),
    ]
    golden = golden_record(records)
    assert golden.alternatives["company"] == [
        Alternative({"branch": "00000", "name": "Jaidee"}, ["billing", "crm"], 2, at(1), at(2))
    ]


def test_as_json_is_json_ready_with_stable_key_order() -> None:
    records = [
        rec("shipping", "S-1", "shipment", 2, phone="+66812345678", **BANGKOK_HOME),
        rec("crm", "C1", "contact", 1, email="somchai@example.co.th"),
    ]
    document = golden_record(records).as_json()
    assert list(document) == ["values", "alternatives", "addresses", "latest_delivery_address"]
    assert list(document["values"]["email"]) == [
        "value",
        "source",
        "record_id",
        "kind",
        "at_us",
        "rule",
    ]
    assert list(document["alternatives"]["phone"][0]) == [
        "value",
        "sources",
        "record_count",
        "first_at_us",
        "last_at_us",
    ]
    assert document["latest_delivery_address"] == {
        "type": "delivery",
        "parts": BANGKOK_HOME,
        "source": "shipping",
        "record_id": "S-1",
        "first_at_us": at(2),
        "last_at_us": at(2),
        "record_count": 1,
    }
    assert orjson.loads(orjson.dumps(document)) == document


def test_no_records_make_an_empty_golden_record() -> None:
    assert golden_record([]).as_json() == {
        "values": {},
        "alternatives": {},
        "addresses": [],
        "latest_delivery_address": None,
    }


def test_default_rules_name_no_source() -> None:
    assert DEFAULT_RULES.billing_sources == []
    assert all(not rule.sources for rule in DEFAULT_RULES.fields.values())
    assert DEFAULT_RULES.rule_for("email").strategy == "most_recent"
    assert DEFAULT_RULES.rule_for("birth_date").strategy == "most_frequent"
    assert DEFAULT_RULES.rule_for("gender").strategy == "most_frequent"
    assert DEFAULT_RULES.rule_for("name").strategy == "non_empty"


def test_rules_load_from_yaml_and_from_a_dict_alike() -> None:
    text = """
    default: most_recent
    billing_sources: [billing]
    fields:
      name: {strategy: source_priority, sources: [billing, crm]}
      phone: most_frequent
    """
    from_yaml = parse_rules(text)
    from_dict = parse_rules(
        {
            "default": {"strategy": "most_recent"},
            "billing_sources": ["billing"],
            "fields": {
                "name": {"strategy": "source_priority", "sources": ["billing", "crm"]},
                "phone": {"strategy": "most_frequent"},
            },
        }
    )
    assert from_yaml == from_dict
    assert from_yaml.rule_for("name").sources == ["billing", "crm"]
    assert from_yaml.rule_for("phone").strategy == "most_frequent"
    # Fields the rules do not name keep their built-in rule.
    assert from_yaml.rule_for("birth_date").strategy == "most_frequent"
    assert parse_rules("") == DEFAULT_RULES


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            {"fields": {"birth_date": {"strategy": "latest"}}},
            "my-rules.yaml: fields.birth_date.strategy: unknown strategy 'latest'; use one of: "
            "source_priority, most_recent, most_frequent, non_empty",
        ),
        (
            "default: oldest",
            "my-rules.yaml: default.strategy: unknown strategy 'oldest'; use one of: "
            "source_priority, most_recent, most_frequent, non_empty",
        ),
        (
            {"fields": {"email": {"strategy": "source_priority"}}},
            "fields.email: source_priority needs 'sources'",
        ),
        (
            {"fields": {"email": {"strategy": "most_recent", "sources": ["crm"]}}},
            "fields.email: 'sources' only applies to source_priority, not most_recent",
        ),
        (
            {"fields": {"last_name": "most_recent"}},
            "'last_name' survives together with the other name parts; set the rule on 'name'",
        ),
        (
            {"fields": {"province": "most_recent"}},
            "'province' survives together with the other address parts; set the rule on 'address'",
        ),
        (
            {"fields": {"emial": "most_recent"}},
            "'emial' is not a person field; did you mean 'email'?",
        ),
        ({"extra_fields": ["email"]}, "extra_fields: 'email' is a person field already"),
        ({"extra_fields": ["name"]}, "extra_fields: 'name' names a group of person fields"),
        ({"billing_source": ["billing"]}, "billing_source: Extra inputs are not permitted"),
        ("fields: [email]", "fields: Input should be a valid dictionary"),
        ("- email", "my-rules.yaml: survivorship rules are an object"),
        ("fields: {email: [", "my-rules.yaml: not valid YAML"),
    ],
)
def test_invalid_rules_are_refused_with_a_clear_message(rules: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_rules(rules, origin="my-rules.yaml")
    assert message in str(raised.value)
