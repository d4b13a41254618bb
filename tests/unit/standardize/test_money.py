from decimal import Decimal

import pytest

from c360.standardize import EMPTY, currency, integer, money, number


@pytest.mark.parametrize(
    ("raw", "option", "amount", "code"),
    [
        ("฿1,234.50", None, "1234.50", "THB"),
        ("1,234.50 THB", None, "1234.50", "THB"),
        ("1,234.50 บาท", None, "1234.50", "THB"),
        ("1.234.567 ₫", None, "1234567", "VND"),
        ("1.234.567 đ", None, "1234567", "VND"),
        ("1.234.567đ", None, "1234567", "VND"),
        ("1,234,567 VND", None, "1234567", "VND"),
        ("1.234.567 đồng", None, "1234567", "VND"),
        ("$12.5", None, "12.50", "USD"),
        ("USD 12.50", None, "12.50", "USD"),
        ("S$ 10", None, "10.00", "SGD"),
        ("€ 1.234,50", None, "1234.50", "EUR"),
        ("1.234.567,50", "EUR", "1234567.50", "EUR"),
        ("1,234,567.50", "THB", "1234567.50", "THB"),
        ("(1,234.00)", "THB", "-1234.00", "THB"),
        ("-1234", "THB", "-1234.00", "THB"),
        ("1234-", "THB", "-1234.00", "THB"),
        ("-฿100", None, "-100.00", "THB"),
        ("1,234", "THB", "1234.00", "THB"),
        ("1.234", "VND", "1234", "VND"),
        ("1,234.-", "THB", "1234.00", "THB"),  # a Thai price tag
        ("100.-", "THB", "100.00", "THB"),
        ("12,5", "USD", "12.50", "USD"),
        ("0.125", "USD", "0.13", "USD"),  # rounded half up
        ("1 234,50", "EUR", "1234.50", "EUR"),
        ("1'234.50", "CHF", "1234.50", "CHF"),
        ("1,23,456.00", "INR", "123456.00", "INR"),
        ("500k", "VND", "500000", "VND"),
        ("1tr2", "VND", "1200000", "VND"),
        ("2 triệu đồng", None, "2000000", "VND"),
        ("1,5 triệu", "VND", "1500000", "VND"),
        ("1.5 ล้าน บาท", None, "1500000.00", "THB"),
        ("๑,๒๓๔ บาท", None, "1234.00", "THB"),
        ("12", "JPY", "12", "JPY"),
        ("1.5", "KWD", "1.500", "KWD"),
        ("12.345", "KWD", "12.345", "KWD"),
        ("-0.001", "THB", "0.00", "THB"),
    ],
)
def test_amounts_with_currencies(raw: str, option: str | None, amount: str, code: str) -> None:
    assert money(raw, currency=option).value == {"amount": amount, "currency": code}


def test_the_currency_in_the_value_wins_over_the_option() -> None:
    assert money("$12", currency="THB").value == {"amount": "12.00", "currency": "USD"}


def test_an_amount_without_any_currency_is_kept_as_written() -> None:
    assert money("1,234.5").value == {"amount": "1234.5", "currency": None}


def test_numbers_from_typed_sources_are_never_read_for_separators() -> None:
    assert money(1234.567, currency="THB").value == {"amount": "1234.57", "currency": "THB"}
    assert money(1234567, currency="VND").value == {"amount": "1234567", "currency": "VND"}
    assert money(Decimal("1.005"), currency="usd").value == {"amount": "1.01", "currency": "USD"}


def test_a_dot_before_three_digits_is_ambiguous_for_currencies_with_cents() -> None:
    result = money("1.234", currency="THB")
    assert result.flag == "invalid_money"
    assert result.extra == {"reason": "ambiguous_separator"}


@pytest.mark.parametrize(
    "raw",
    ["abc", "-", "$12 ฿", "1,2,3", "12..5", "1.23.4", "฿", "1e400", 10**30, True, "12 34 56 7"],
)
def test_invalid_amounts_are_flagged(raw: object) -> None:
    result = money(raw, currency="THB")
    assert result.value is None
    assert result.flag == "invalid_money"


@pytest.mark.parametrize("raw", [None, "", " ", float("nan")])
def test_empty_is_empty(raw: object) -> None:
    assert money(raw, currency="THB") == EMPTY
    assert number(raw) == EMPTY
    assert integer(raw) == EMPTY


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("บาท", "THB"),
        ("baht", "THB"),
        ("Baht", "THB"),
        ("฿", "THB"),
        ("đồng", "VND"),
        ("₫", "VND"),
        ("đ", "VND"),
        ("vnd", "VND"),
        ("VNĐ", "VND"),
        ("usd", "USD"),
        ("US$", "USD"),
        ("ดอลลาร์", "USD"),
        ("円", "JPY"),
        ("RMB", "CNY"),
        ("ringgit", "MYR"),
        ("EUR", "EUR"),
    ],
)
def test_currency_codes(raw: str, expected: str) -> None:
    assert currency(raw).value == expected


def test_unknown_currencies_are_flagged() -> None:
    assert currency("beans").flag == "unknown_currency"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,234", 1234),
        ("1.234", 1.234),
        ("1.234.567", 1234567),
        ("1.234,5", 1234.5),
        ("-3.5", -3.5),
        ("(12)", -12),
        ("1.5E+3", 1500),
        ("12%", 12),
        ("๑๒๓", 123),
        (12.0, 12),
        (12.5, 12.5),
        (7, 7),
        (" 42 ", 42),
    ],
)
def test_numbers_are_json_numbers(raw: object, expected: float) -> None:
    result = number(raw)
    assert result.value == expected
    assert type(result.value) is type(expected)


@pytest.mark.parametrize("raw", ["abc", "1,2,3", "--1", float("inf"), True, "1e999"])
def test_invalid_numbers_are_flagged(raw: object) -> None:
    assert number(raw).flag == "invalid_number"


@pytest.mark.parametrize(("raw", "expected"), [("1,234", 1234), ("12.0", 12), (12.0, 12), (-7, -7)])
def test_integers(raw: object, expected: int) -> None:
    assert integer(raw).value == expected


@pytest.mark.parametrize("raw", ["12.5", 12.5, "abc", True])
def test_non_integers_are_flagged(raw: object) -> None:
    assert integer(raw).flag == "invalid_integer"


def test_the_currency_option_takes_codes_and_known_words() -> None:
    assert money("12", currency="baht").value == {"amount": "12.00", "currency": "THB"}
    assert money("12", currency="kes").value == {"amount": "12.00", "currency": "KES"}
    with pytest.raises(ValueError, match="currency"):
        money("12", currency="shells")
