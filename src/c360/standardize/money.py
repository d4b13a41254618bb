"""Amounts of money, currencies, and plain numbers as sources write them.

Separators. Thai and English-speaking sources write ``1,234,567.50``; Vietnamese and European
ones ``1.234.567,50``; both appear in one file when it merges shops. The rules:

* both ``.`` and ``,`` present: the last one is the decimal separator, the other groups
  thousands (groups of three, or the Indian ``1,23,456`` grouping);
* one separator appearing several times groups thousands (``1.234.567``);
* one separator appearing once, followed by one or two digits, is the decimal separator
  (``12,5`` and ``12.50``);
* one separator appearing once, followed by exactly three digits: ``,`` groups thousands
  (``1,234`` is 1234, as in every market c360 serves). ``.`` groups thousands when the
  currency has no minor unit (``1.234 ₫`` is 1234 dong) and is a decimal point for plain
  numbers (``1.234`` is 1.234); for a currency with a minor unit (``1.234 THB``) it is
  ambiguous, and the amount is flagged rather than guessed;
* spaces, no-break spaces and apostrophes also group thousands (``1 234,50``, ``1'234.50``).

Amounts are ``Decimal`` strings quantized to the currency's minor unit (ISO 4217: two digits
unless listed in ``_MINOR_UNITS``), rounding half up as shop tills do. An amount whose
currency is unknown keeps the digits it was written with.
"""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from c360.standardize.cells import ascii_digits, cell_text, detached, fold
from c360.standardize.model import EMPTY, Standardized

_MINOR_UNITS = {
    "VND": 0,
    "JPY": 0,
    "KRW": 0,
    "CLP": 0,
    "ISK": 0,
    "PYG": 0,
    "UGX": 0,
    "XAF": 0,
    "XOF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}
_ISO_CODES = frozenset(
    [
        "THB",
        "VND",
        "USD",
        "EUR",
        "GBP",
        "JPY",
        "CNY",
        "KRW",
        "SGD",
        "MYR",
        "IDR",
        "PHP",
        "LAK",
        "KHR",
        "MMK",
        "BND",
        "INR",
        "HKD",
        "TWD",
        "AUD",
        "NZD",
        "CAD",
        "CHF",
        "SEK",
        "NOK",
        "DKK",
        "PLN",
        "CZK",
        "HUF",
        "RUB",
        "AED",
        "SAR",
        "QAR",
        "KWD",
        "BHD",
        "OMR",
        "JOD",
        "ILS",
        "TRY",
        "ZAR",
        "BRL",
        "MXN",
        "ARS",
        "CLP",
        "PKR",
        "BDT",
        "LKR",
        "NPR",
        "MOP",
        "MNT",
    ]
)
# Symbols and words, matched on folded text (see cells.fold: "đồng" is looked up as "dong").
_CURRENCY_WORDS = {
    "฿": "THB",
    "บาท": "THB",
    "บ.": "THB",
    "baht": "THB",
    "bht": "THB",
    "bat": "THB",
    "₫": "VND",
    "d": "VND",
    "vnd": "VND",
    "dong": "VND",
    "ดอง": "VND",
    "$": "USD",
    "us$": "USD",
    "usd$": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "ดอลลาร์": "USD",
    "ดอลลาร์สหรัฐ": "USD",
    "do": "USD",
    "do la": "USD",
    "s$": "SGD",
    "sg$": "SGD",
    "a$": "AUD",
    "au$": "AUD",
    "hk$": "HKD",
    "nt$": "TWD",
    "c$": "CAD",
    "ca$": "CAD",
    "nz$": "NZD",
    "rm": "MYR",
    "ringgit": "MYR",
    "ริงกิต": "MYR",
    "rp": "IDR",
    "rupiah": "IDR",
    "₱": "PHP",
    "peso": "PHP",
    "pesos": "PHP",
    "€": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "ยูโร": "EUR",
    "£": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "ปอนด์": "GBP",
    "¥": "JPY",
    "円": "JPY",
    "yen": "JPY",
    "yen nhat": "JPY",
    "เยน": "JPY",
    "元": "CNY",
    "cn¥": "CNY",
    "rmb": "CNY",
    "yuan": "CNY",
    "หยวน": "CNY",
    "nhan dan te": "CNY",
    "te": "CNY",
    "₩": "KRW",
    "원": "KRW",
    "won": "KRW",
    "วอน": "KRW",
    "₭": "LAK",
    "kip": "LAK",
    "กีบ": "LAK",
    "៛": "KHR",
    "riel": "KHR",
    "เรียล": "KHR",
    "kyat": "MMK",
    "จ๊าด": "MMK",
    "₹": "INR",
    "rs": "INR",
    "rupee": "INR",
    "rupees": "INR",
}
_WORD_PATTERN = "|".join(
    re.escape(word)
    for word in sorted(
        set(_CURRENCY_WORDS) | {c.lower() for c in _ISO_CODES}, key=len, reverse=True
    )
)
_LONGEST_WORD = max(len(word) for word in _CURRENCY_WORDS)
# A currency word at the start or the end of the (folded) text, not inside a number or word.
_LEADING_CURRENCY = re.compile(rf"^\s*({_WORD_PATTERN})(?![a-z])\s*")
_TRAILING_CURRENCY = re.compile(rf"(?<![a-z])\s?({_WORD_PATTERN})\.?$")
_MULTIPLIERS = {
    "k": 1_000,
    "nghin": 1_000,
    "ngan": 1_000,
    "พัน": 1_000,
    "หมื่น": 10_000,
    "แสน": 100_000,
    "tr": 1_000_000,
    "trieu": 1_000_000,
    "ล้าน": 1_000_000,
    "ty": 1_000_000_000,
    "ti": 1_000_000_000,
}
_MULTIPLIED = re.compile(
    r"^(?P<number>[\d.,\s]*\d)\s*(?P<unit>"
    + "|".join(sorted(_MULTIPLIERS, key=len, reverse=True))
    + r")(?P<tail>\d{1,3})?$"
)
_GROUPING = re.compile(r"[\s'’\u00a0\u202f_]")
# A space or apostrophe between digits groups thousands only before exactly three digits.
_BAD_GROUPING = re.compile(r"(?<=\d)[\s'’\u00a0\u202f_]+(?=\d)(?!\d{3}(?!\d))")
_THREE_GROUPS = re.compile(r"\d{1,3}(?:[.,]\d{3})+")
_INDIAN_GROUPS = re.compile(r"\d{1,2}(?:,\d{2})+,\d{3}")
_PLAIN = re.compile(r"\d+(?:\.\d+)?(?:e[+-]?\d{1,3})?|\.\d+")
_MINUS = frozenset("-−–")
# What most cells hold: digits, maybe grouped by commas, maybe a decimal point. The general
# parser reads these as the digits without their commas; the shortcut skips its dozen steps.
# Left to it: three digits after a lone "." (thousands or decimals, by currency), and a
# leading "0," ("0,5" is a decimal comma).
_PLAIN_AMOUNT = re.compile(
    r"[0-9]+(?:\.(?:[0-9]{1,2}|[0-9]{4,}))?|[1-9][0-9]{0,2}(?:,[0-9]{3})+(?:\.[0-9]+)?"
)
# For plain numbers "." is always a decimal point, whatever follows it.
_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?|[1-9][0-9]{0,2}(?:,[0-9]{3})+(?:\.[0-9]+)?")


class _Ambiguous(ValueError):
    """A number whose separators can be read two ways."""


def _amount(body: str, *, dot_groups_three: bool | None) -> Decimal:
    """The Decimal written in ``body`` (sign and currency already removed).

    ``dot_groups_three`` says how to read one ``.`` followed by three digits: True thousands,
    False decimal point, None ambiguous. Raises ValueError when ``body`` is no number.
    """
    if _BAD_GROUPING.search(body):
        raise ValueError(body)
    body = _GROUPING.sub("", body)
    if body.endswith((".-", ",-", ".=", ",=")):  # Thai price tags: "1,234.-" is 1,234 baht
        body = body[:-2]
    if body.endswith((".", ",")):
        body = body[:-1]
    if not body:
        raise ValueError(body)
    dot, comma = body.rfind("."), body.rfind(",")
    if dot >= 0 and comma >= 0:
        decimal_mark = "." if dot > comma else ","
        whole, fraction = body[: max(dot, comma)], body[max(dot, comma) + 1 :]
        group_mark = "," if decimal_mark == "." else "."
        if decimal_mark in whole or not fraction.isdigit() or not _grouped(whole, group_mark):
            raise ValueError(body)
        text = whole.replace(group_mark, "") + "." + fraction
    elif dot >= 0 or comma >= 0:
        mark = "." if dot >= 0 else ","
        parts = body.split(mark)
        if len(parts) > 2:
            if not _grouped(body, mark):
                raise ValueError(body)
            text = body.replace(mark, "")
        elif len(parts[1]) == 3 and parts[0].isdigit() and parts[1].isdigit() and parts[0] != "0":
            if mark == "," or dot_groups_three:
                text = parts[0] + parts[1]
            elif dot_groups_three is None:
                raise _Ambiguous(body)
            else:
                text = body
        else:
            text = body.replace(",", ".")
    else:
        text = body
    if not _PLAIN.fullmatch(text.lower()):
        raise ValueError(body)
    return Decimal(text)


def _grouped(text: str, mark: str) -> bool:
    if mark == ",":
        return bool(_THREE_GROUPS.fullmatch(text) or _INDIAN_GROUPS.fullmatch(text))
    return bool(_THREE_GROUPS.fullmatch(text))


def _signed(text: str) -> tuple[str, bool]:
    """``text`` without its sign, and whether it was negative: -1, 1-, (1), −1."""
    text = text.strip()
    negative = False
    if text.startswith("(") and text.endswith(")"):
        text, negative = text[1:-1].strip(), True
    if text[:1] in _MINUS:
        text, negative = text[1:].strip(), not negative
    elif text[:1] == "+":
        text = text[1:].strip()
    elif text[-1:] in _MINUS and len(text) > 1 and text[-2].isdigit():
        text, negative = text[:-1].strip(), not negative
    return text, negative


def currency(raw: object) -> Standardized:
    """The ISO 4217 code of a currency written as a code, symbol or word.

    ``บาท``, ``baht``, ``฿`` -> THB; ``đồng``, ``₫``, ``đ``, ``vnd`` -> VND; ``$`` -> USD (the
    dollar customers in the region mean unless they say ``S$``, ``HK$``...). Unknown ->
    ``unknown_currency``.
    """
    value = cell_text(raw)
    if value is None:
        return EMPTY
    found = _currency_code(value)
    return Standardized(found) if found else Standardized(None, flag="unknown_currency")


@lru_cache(maxsize=1024)
def _currency_code(value: str) -> str | None:
    key = " ".join(fold(value).split())
    if key.upper() in _ISO_CODES:
        return key.upper()
    return _CURRENCY_WORDS.get(key) or _CURRENCY_WORDS.get(key.rstrip("."))


def money(raw: object, *, currency: str | None = None) -> Standardized:
    """``{"amount": "1234.50", "currency": "THB"}``, or ``invalid_money``.

    Options:
        currency: the ISO 4217 code to use when the value names none (a currency in the
            value wins over the option); a word the ``currency`` standardizer knows (``baht``)
            is accepted, anything else is a configuration error (``ValueError``).

    Understands currency symbols, codes and words before or after the amount (``฿1,234.50``,
    ``1.234.567 ₫``, ``USD 12.50``), negative amounts (``-1234``, ``(1,234.00)``, ``1234-``),
    Thai price tags (``1,234.-``) and the multipliers customers type in Vietnam and Thailand
    (``500k``, ``1tr2`` = 1,200,000, ``2 triệu``, ``1.5 ล้าน``). An amount without any
    currency has ``currency: None`` and is not rounded.
    """
    default = _option_code(currency) if currency else None
    if isinstance(raw, bool):
        return Standardized(None, flag="invalid_money")
    if isinstance(raw, int | float | Decimal):
        return _numeric_money(raw, default)
    value = cell_text(raw)
    if value is None:
        return EMPTY
    return detached(_money(value, default))


def _option_code(option: str) -> str:
    """The ISO code of the ``currency`` option: a code (any three letters) or a known word."""
    code = _currency_code(option)
    if code is None and len(option) == 3 and option.isascii() and option.isalpha():
        code = option.upper()
    if code is None:
        raise ValueError(f"unknown currency {option!r}")
    return code


def _numeric_money(raw: float | Decimal, code: str | None) -> Standardized:
    """A number from a typed source: its ``.`` is a decimal point, never a separator."""
    amount = raw if isinstance(raw, Decimal) else Decimal(repr(raw))
    if amount.is_nan():
        return EMPTY
    return _priced(amount, code)


_LARGEST = Decimal("1e18")


def _priced(amount: Decimal, code: str | None) -> Standardized:
    """The money value of ``amount``, rounded to the currency's minor unit."""
    if not amount.is_finite() or abs(amount) >= _LARGEST:
        return Standardized(None, flag="invalid_money")
    if code is not None:
        minor = Decimal(1).scaleb(-_MINOR_UNITS.get(code, 2))
        amount = amount.quantize(minor, rounding=ROUND_HALF_UP)
    if amount.is_zero():
        amount = abs(amount)  # "-0.00" is 0.00
    return Standardized({"amount": format(amount, "f"), "currency": code})


@lru_cache(maxsize=65536)
def _money(value: str, default: str | None) -> Standardized:
    if _PLAIN_AMOUNT.fullmatch(value):
        return _priced(Decimal(value.replace(",", "")), default)
    return _parsed_money(value, default)


def _parsed_money(value: str, default: str | None) -> Standardized:
    """The general reading of :func:`money` (any text)."""
    text, negative = _signed(" ".join(ascii_digits(fold(value)).split()))
    code = None
    leading = None if text[:1].isdigit() else _LEADING_CURRENCY.match(text)
    if leading is not None:
        code = _code_of(leading[1])
        text = text[leading.end() :]
    trailing = (
        None
        if text[-1:].isdigit()
        else _TRAILING_CURRENCY.search(text, max(0, len(text) - _LONGEST_WORD - 2))
    )
    if trailing is not None:
        named = _code_of(trailing[1])
        if code is not None and named != code:
            return Standardized(None, flag="invalid_money")
        code = named
        text = text[: trailing.start()]
    if code is None:
        code = default
    text, negative_inside = _signed(text)
    negative ^= negative_inside
    minor = _MINOR_UNITS.get(code, 2) if code else None
    try:
        amount = _scaled(text, dot_groups_three=_dot_reading(minor))
    except _Ambiguous:
        return Standardized(None, flag="invalid_money", extra={"reason": "ambiguous_separator"})
    except (ValueError, InvalidOperation):
        return Standardized(None, flag="invalid_money")
    return _priced(-amount if negative else amount, code)


def _code_of(word: str) -> str:
    return word.upper() if word.upper() in _ISO_CODES else _CURRENCY_WORDS[word]


def _scaled(text: str, *, dot_groups_three: bool | None) -> Decimal:
    """``_amount`` with a trailing multiplier (``500k``, ``1tr2``, ``1.5 ล้าน``) applied."""
    multiplied = _MULTIPLIED.match(text.strip())
    if multiplied is None:
        return _amount(text, dot_groups_three=dot_groups_three)
    number = _amount(multiplied["number"], dot_groups_three=False)
    if multiplied["tail"]:
        if "." in multiplied["number"] or "," in multiplied["number"]:
            raise ValueError(text)
        number += Decimal("0." + multiplied["tail"])
    return number * _MULTIPLIERS[multiplied["unit"]]


def _dot_reading(minor: int | None) -> bool | None:
    """How to read one ``.`` before three digits, given the currency's minor unit."""
    if minor is None or minor >= 3:
        return False
    return True if minor == 0 else None


def number(raw: object) -> Standardized:
    """A JSON number: an ``int`` when the value is whole, else a ``float``; or ``invalid_number``.

    Separators as in the module docstring, with ``1.234`` read as 1.234; a sign, percent
    sign and exponent (``1.5E+3``) are allowed.
    """
    if isinstance(raw, bool):
        return Standardized(None, flag="invalid_number")
    if isinstance(raw, int):
        return Standardized(raw)
    if isinstance(raw, float):
        if raw != raw:
            return EMPTY
        if raw in (float("inf"), float("-inf")):
            return Standardized(None, flag="invalid_number")
        return Standardized(_json_number(Decimal(repr(raw))))
    value = cell_text(raw)
    if value is None:
        return EMPTY
    parsed = _decimal(value)
    if parsed is None:
        return Standardized(None, flag="invalid_number")
    return Standardized(_json_number(parsed))


def integer(raw: object) -> Standardized:
    """A whole number as ``int`` (``1,234``, ``12.0``), or ``invalid_integer``."""
    if isinstance(raw, bool):
        return Standardized(None, flag="invalid_integer")
    if isinstance(raw, int):
        return Standardized(raw)
    value = cell_text(raw)
    if value is None:
        return EMPTY
    parsed = _decimal(value)
    if parsed is None or parsed != parsed.to_integral_value():
        return Standardized(None, flag="invalid_integer")
    return Standardized(int(parsed))


_LARGEST_NUMBER = Decimal("1e30")


@lru_cache(maxsize=65536)
def _decimal(value: str) -> Decimal | None:
    if _PLAIN_DECIMAL.fullmatch(value):
        plain = Decimal(value.replace(",", ""))
        return plain if plain < _LARGEST_NUMBER else None
    return _parsed_decimal(value)


def _parsed_decimal(value: str) -> Decimal | None:
    """The general reading of :func:`number` (any text)."""
    text, negative = _signed(ascii_digits(value))
    text = text.removesuffix("%").rstrip()
    try:
        parsed = _amount(text, dot_groups_three=False)
    except (ValueError, InvalidOperation):
        return None
    if not parsed.is_finite() or abs(parsed) >= _LARGEST_NUMBER:
        return None
    return -parsed if negative else parsed


def _json_number(value: Decimal) -> Any:
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    return float(value)
