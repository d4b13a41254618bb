"""Search terms of a profile and how a query is read (no database)."""

from typing import Any

import pytest

from c360.errors import InvalidInput
from c360.profiles.search import MAX_TERM_CHARS, parse_query, terms_of


def golden(
    values: dict[str, Any], alternatives: dict[str, list[Any]] | None = None
) -> dict[str, Any]:
    """The shape of ``GoldenRecord.as_json()``, with only what search reads."""
    return {
        "values": {field: {"value": value, "source": "crm"} for field, value in values.items()},
        "alternatives": {
            field: [{"value": value, "sources": ["crm"]} for value in found]
            for field, found in (alternatives or {}).items()
        },
        "addresses": [],
        "latest_delivery_address": None,
    }


def test_a_profile_without_golden_record_or_identifiers_has_no_terms() -> None:
    assert terms_of(None, []) == set()
    assert terms_of({}, []) == set()
    assert terms_of({"values": None, "alternatives": "?"}, []) == set()


def test_missing_empty_and_odd_fields_are_skipped() -> None:
    record = {
        "values": {
            "first_name": {"value": None},
            "last_name": {"source": "crm"},
            "middle_name": "not a field value",
            "nickname": {"value": "  "},
            "full_name": {"value": {"nested": "dict"}},
        },
        "alternatives": {"first_name": [None, {"value": ""}, {"value": "An"}], "last_name": None},
    }
    empty: list[tuple[str, Any]] = [("customer_id", None), ("user_id", "")]
    assert terms_of(record, empty) == {"n:an", "k:an"}


def test_a_profile_with_only_identifiers_has_their_terms() -> None:
    assert terms_of(None, [("customer_id", "C-1001"), ("line_user_id", "Uabc")]) == {
        "i:c-1001",
        "i:uabc",
    }


def test_a_vietnamese_name_is_indexed_with_and_without_diacritics() -> None:
    terms = terms_of(golden({"full_name": "Nguyễn Thị Ánh", "last_name": "Đặng"}), [])
    assert {"n:nguyễn", "n:nguyen", "n:thị", "n:thi", "n:ánh", "n:anh"} <= terms
    assert {"n:đặng", "n:dang"} <= terms


def test_a_thai_name_is_indexed_in_thai_romanized_and_by_phonetic_key() -> None:
    terms = terms_of(golden({"first_name": "สมชาย", "last_name": "ใจดี"}), [])
    assert {"n:สมชาย", "n:somchai", "k:smchai", "n:ใจดี", "n:chaidi", "k:chaidi"} <= terms


def test_every_name_field_and_alternative_is_indexed() -> None:
    record = golden(
        {"first_name": "Somchai", "nickname": "Tom"},
        {"first_name": ["Somchai", "Somchay"], "full_name": ["Somchai Jaidee"]},
    )
    assert {"n:somchai", "n:somchay", "n:tom", "n:jaidee"} <= terms_of(record, [])


def test_a_name_with_inner_punctuation_gives_its_pieces_and_the_pieces_joined() -> None:
    terms = terms_of(golden({"full_name": "Mary-Jane O'Brien"}), [])
    assert {"n:mary", "n:jane", "n:maryjane", "n:o", "n:brien", "n:obrien"} <= terms
    assert "k:a" not in terms  # the one-letter key of "O" would match too much


def test_full_width_letters_are_indexed_as_ascii() -> None:
    assert "n:somchai" in terms_of(golden({"first_name": "Ｓｏｍｃｈａｉ"}), [])


def test_emails_and_phones_are_standardized() -> None:
    terms = terms_of(
        golden({"email": "Somchai@Example.co.th", "phone": "+66812345678"}),
        [("email", "S.WONG@example.com"), ("phone", "081-234-5679"), ("phone", "+84912345678")],
    )
    assert terms == {
        "e:somchai@example.co.th",
        "e:s.wong@example.com",
        "p:+66812345678",
        "p:+66812345679",
        "p:+84912345678",
    }


def test_a_value_that_does_not_standardize_is_kept_as_an_identifier() -> None:
    terms = terms_of(None, [("email", "Not An Email"), ("phone", "12")])
    assert terms == {"i:not an email", "i:12"}


def test_the_golden_line_and_zalo_ids_are_indexed_but_not_the_national_id() -> None:
    record = golden({"line_user_id": "U123", "zalo_user_id": "Z9", "national_id": "1234567890121"})
    assert terms_of(record, []) == {"i:u123", "i:z9"}


def test_terms_fit_the_column() -> None:
    terms = terms_of(golden({"full_name": "A" * 500}), [("customer_id", "x" * 500)])
    assert terms
    assert max(map(len, terms)) == MAX_TERM_CHARS


def test_a_phone_typed_in_several_words_is_one_query_word() -> None:
    [word] = parse_query("+66 81 234 5678")
    assert "p:+66812345678" in word.exact
    [word] = parse_query("0912 345 678")  # a Thai or a Vietnamese mobile
    assert {"p:+66912345678", "p:+84912345678"} <= set(word.exact)
    name, number = parse_query("somchai 081 234 5678")
    assert "n:somchai" in name.exact
    assert "p:+66812345678" in number.exact


def test_only_the_last_name_word_is_a_prefix() -> None:
    first, last = parse_query("Nguyễn Thị")
    assert first.prefixes == {}
    assert set(last.prefixes) == {"n:thị", "n:thi"}
    [email] = parse_query("somchai@example.co.th")
    assert email.prefixes == {}
    assert parse_query("a")[0].prefixes == {}


def test_a_thai_title_is_dropped_from_the_query() -> None:
    assert [w.text for w in parse_query("คุณสมชาย")] == ["สมชาย"]
    assert [w.text for w in parse_query("นาย สมชาย")] == ["สมชาย"]
    assert [w.text for w in parse_query("นาย")] == ["นาย"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty"),
        ("\u200b", "empty"),
        ("x" * 201, "at most 200"),
        ("one two three four five six seven eight nine", "at most 8"),
        ("jean-pierre-paul-jacques-louis-marie-anne-claire-sophie", "at most 8"),
        ("...", "no letters or digits"),
    ],
)
def test_a_bad_query_is_refused(query: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_query(query)
