import pytest

from c360.standardize import EMPTY, phone


@pytest.mark.parametrize(
    "raw",
    [
        "081-234-5678",
        "0812345678",
        "+66 81 234 5678",
        "66812345678",
        "(081) 234 5678",
        "081 234 5678",
        "+66 (0) 81 234 5678",
        "0066812345678",
        "812345678",  # a spreadsheet dropped the leading zero
        812345678,
        812345678.0,
        "๐๘๑๒๓๔๕๖๗๘",
        "โทร. 081-234-5678",
        "Tel: 081.234.5678",
    ],
)
def test_spellings_of_one_thai_mobile_number(raw: object) -> None:
    result = phone(raw)
    assert result.value == "+66812345678"
    assert result.extra == {"region": "TH", "line_type": "mobile"}


@pytest.mark.parametrize(
    ("raw", "extension"),
    [
        ("081 234 5678 ext 12", "12"),
        ("081-234-5678 ext. 12", "12"),
        ("0812345678x12", "12"),
        ("081-234-5678 ต่อ 12", "12"),
        ("081-234-5678 #12", "12"),
    ],
)
def test_extensions_go_to_extra(raw: str, extension: str) -> None:
    result = phone(raw)
    assert result.value == "+66812345678"
    assert result.extra["extension"] == extension


@pytest.mark.parametrize(
    "raw",
    ["0912 345 678", "+84912345678", "84 912 345 678", "0084912345678", "+84 (0) 912 345 678"],
)
def test_spellings_of_one_vietnamese_mobile_number(raw: str) -> None:
    result = phone(raw, default_region="VN")
    assert result.value == "+84912345678"
    assert result.extra == {"region": "VN", "line_type": "mobile"}


def test_a_country_code_without_plus_is_found_when_the_national_reading_is_invalid() -> None:
    # 84912345678 is not a Thai number, so it is read as +84.
    assert phone("84912345678").value == "+84912345678"
    assert phone("84912345678").extra["region"] == "VN"
    assert phone("66812345678", default_region="VN").value == "+66812345678"


def test_the_default_region_decides_numbers_without_a_country_code() -> None:
    assert phone("0912345678").value == "+66912345678"
    assert phone("0912345678", default_region="vn").value == "+84912345678"


def test_fixed_lines_and_toll_free_numbers() -> None:
    bangkok = phone("02-123-4567")
    assert bangkok.value == "+6621234567"
    assert bangkok.extra["line_type"] == "fixed_line"
    assert phone("1800-123-456").extra["line_type"] == "toll_free"
    hanoi = phone("024 3825 1234", default_region="VN")
    assert hanoi.value == "+842438251234"
    assert hanoi.extra["line_type"] == "fixed_line"


def test_several_numbers_in_one_cell() -> None:
    result = phone("081-234-5678, 089-876-5432")
    assert result.value == "+66812345678"
    assert result.extra["others"] == ["+66898765432"]
    assert phone("081-234-5678 / 089-876-5432").extra["others"] == ["+66898765432"]
    assert phone("-, 081-234-5678").value == "+66812345678"


@pytest.mark.parametrize(
    "raw",
    [
        "-",
        "n/a",
        "0000000000",
        "1111111111",
        "12345",
        "081-234",
        "+66 81 234 5678 9999 999",
        "0812345678901234567890",
        "phone",
        "+0812345678",
        True,
    ],
)
def test_invalid_numbers_are_flagged(raw: object) -> None:
    result = phone(raw)
    assert result.value is None
    assert result.flag == "invalid_phone"


@pytest.mark.parametrize("raw", [None, "", "  ", float("nan")])
def test_empty_is_empty(raw: object) -> None:
    assert phone(raw) == EMPTY


def test_an_unknown_default_region_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="default_region"):
        phone("0812345678", default_region="XX")
