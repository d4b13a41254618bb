from datetime import date
from decimal import Decimal

import pytest

from c360.standardize import EMPTY, boolean, identifier, national_id, text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Somchai   Jaidee ", "Somchai Jaidee"),
        ("สมชาย\u00a0\u00a0ใจดี\u200b", "สมชาย ใจดี"),
        ("\ufeffNguyễn\tVăn\nAn", "Nguyễn Văn An"),
        ("Nguye\u0302\u0303n", "Nguyễn"),  # decomposed Vietnamese becomes NFC
        (12345, "12345"),
        (12.5, "12.5"),
        (date(2024, 3, 15), "2024-03-15"),
    ],
)
def test_text_is_trimmed_nfc_with_whitespace_collapsed(raw: object, expected: str) -> None:
    assert text(raw).value == expected


@pytest.mark.parametrize("raw", [None, "", "   ", "\u200b", "\ufeff \u00a0", float("nan")])
def test_empty_cells_are_empty(raw: object) -> None:
    assert text(raw) == EMPTY
    assert identifier(raw) == EMPTY
    assert boolean(raw) == EMPTY
    assert national_id(raw) == EMPTY


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (12345.0, "12345"),
        ("12345.0", "12345"),
        ("00123", "00123"),
        (" CUST-001 ", "CUST-001"),
        ("A 12", "A 12"),
        (Decimal("77"), "77"),
        ("12345.50", "12345.50"),
    ],
)
def test_identifiers_lose_spreadsheet_decimals_but_nothing_else(raw: object, expected: str) -> None:
    assert identifier(raw).value == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("yes", True),
        ("Y", True),
        ("TRUE", True),
        ("1", True),
        (1, True),
        (1.0, True),
        (True, True),
        ("x", True),
        ("ใช่", True),
        ("Có", True),
        ("co", True),
        ("Đồng ý", True),
        ("no", False),
        ("N", False),
        ("false", False),
        ("0", False),
        (0, False),
        (False, False),
        ("ไม่", False),
        ("ไม่ใช่", False),
        ("Không", False),
        ("khong", False),
    ],
)
def test_booleans_in_three_languages(raw: object, expected: bool) -> None:
    assert boolean(raw).value is expected
    assert boolean(raw).ok


@pytest.mark.parametrize("raw", ["maybe", "2", 2, "yes please", "-", "n/a"])
def test_anything_else_is_not_a_boolean(raw: object) -> None:
    assert boolean(raw) == boolean(raw)  # cached results compare equal
    assert boolean(raw).value is None
    assert boolean(raw).flag == "invalid_boolean"


# 1-2345-67890-12-1 has the check digit 1: 1*13+2*12+3*11+4*10+5*9+6*8+7*7+8*6+9*5+0*4+1*3+2*2
# = 352, 352 % 11 = 0, (11 - 0) % 10 = 1.
@pytest.mark.parametrize(
    "raw", ["1-2345-67890-12-1", "1234567890121", " 1 2345 67890 12 1 ", 1234567890121.0]
)
def test_thai_citizen_ids_with_a_valid_check_digit(raw: object) -> None:
    result = national_id(raw)
    assert result.value == "1234567890121"
    assert result.extra == {"country": "TH"}


@pytest.mark.parametrize("raw", ["1-2345-67890-12-2", "1234567890120", "123456789012345"])
def test_thai_ids_with_a_wrong_check_digit_or_length_are_invalid(raw: str) -> None:
    assert national_id(raw).flag == "invalid_national_id"


def test_vietnamese_cccd_carries_province_sex_and_birth_year() -> None:
    # 079: Ho Chi Minh City; 0: male born 1900-1999; 87: 1987.
    result = national_id("079 0 87 012345")
    assert result.value == "079087012345"
    assert result.extra == {
        "country": "VN",
        "kind": "cccd",
        "gender_hint": "male",
        "birth_year": 1987,
    }
    # 3: female born 2000-2099.
    assert national_id("001301012345").extra["gender_hint"] == "female"
    assert national_id("001301012345").extra["birth_year"] == 2001
    assert national_id("001195012345").extra == {
        "country": "VN",
        "kind": "cccd",
        "gender_hint": "female",
        "birth_year": 1995,
    }


def test_vietnamese_cccd_with_an_unknown_province_code_is_invalid() -> None:
    assert national_id("099187012345").flag == "invalid_national_id"
    assert national_id("000187012345").flag == "invalid_national_id"


def test_old_vietnamese_cmnd_has_nine_digits() -> None:
    assert national_id("025 123 456").extra == {"country": "VN", "kind": "cmnd"}


def test_the_country_option_restricts_the_accepted_ids() -> None:
    assert national_id("079187012345", country="TH").flag == "invalid_national_id"
    assert national_id("1234567890121", country="VN").flag == "invalid_national_id"
    assert national_id("1234567890121", country="th").value == "1234567890121"
    passport = national_id("ab-123 456", country="SG")
    assert passport.value == "AB123456"
    assert passport.extra == {"country": "SG"}


@pytest.mark.parametrize("raw", ["abc", "12-34", "๑๒๓", True])
def test_non_numeric_ids_are_invalid(raw: object) -> None:
    assert national_id(raw).flag == "invalid_national_id"
