"""The shortcuts taken for speed give exactly what the general code they skip gives.

Each shortcut is compared with its reference: libphonenumber for phone numbers,
``datetime.strptime`` for explicit formats, the general amount parser for plain amounts, the
step-by-step regexes of the name key, and the regexes the address scanner replaced.
"""

import datetime as dt
import importlib
import random
import re
from decimal import Decimal
from unittest import mock

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from c360.standardize import phone
from c360.standardize.cells import fold
from c360.standardize.romanization import romanize_thai

# The package exports functions named like some of its modules (phone, money, address).
phone_module = importlib.import_module("c360.standardize.phone")
dates_module = importlib.import_module("c360.standardize.dates")
money_module = importlib.import_module("c360.standardize.money")
names_module = importlib.import_module("c360.standardize.names")
address_module = importlib.import_module("c360.standardize.address")

# Phone numbers ---------------------------------------------------------------------------------

_HEADS = ["", "0", "00", "66", "84", "660", "840", "0066", "0084", "001800", "1800", "1900"]
_HEADS += ["121", "2", "6", "8", "9", "02", "06", "08", "09", "03", "07", "1", "44", "65"]
_HEADS += ["1212", "1650", "4420", "659", "8612", "0812", "0912", "6681", "8491", "66081", "84091"]
# Valid numbers of other countries (with their country code): a number invalid at home may be
# one of these written without its "+".
_FOREIGN = [
    phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)[1:]
    for region in ("US", "GB", "SG", "MY", "JP", "CN", "KR", "LA", "KH", "AU", "IN", "DE")
    for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
    if (example := phonenumbers.example_number_for_type(region, kind)) is not None
]
_digits = st.one_of(
    st.builds(
        lambda head, tail: head + tail,
        st.sampled_from(_HEADS),
        st.text("0123456789", min_size=0, max_size=15),
    ),
    st.builds(
        lambda number, tail: number[: len(number) - len(tail)] + tail,
        st.sampled_from(_FOREIGN),
        st.text("0123456789", min_size=0, max_size=3),
    ),
)


@settings(max_examples=600, deadline=None)
@given(_digits, st.booleans(), st.sampled_from(["TH", "VN"]))
def test_the_fast_phone_path_agrees_with_libphonenumber(
    digits: str, international: bool, region: str
) -> None:
    assume(6 <= len(digits) <= 17 and len(set(digits)) > 1)
    if digits.startswith("00") and not international:
        digits, international = digits[2:], True
    quick = phone_module._quick_parse(digits, international, region)
    if quick is not phone_module._UNDECIDED:
        reference = phone_module._libphonenumber_parse.__wrapped__(digits, international, region)
        assert quick == reference


def _spelled(number: str, code: str, style: int) -> str:
    """A national significant number written as sources write it."""
    return [
        f"0{number}",
        f"+{code}{number}",
        f"+{code} {number[:2]} {number[2:5]} {number[5:]}",
        f"0{number[:2]}-{number[2:5]}-{number[5:]}",
        f"{code}{number}",
        f"00{code}{number}",
        f"(0{number[:2]}) {number[2:5]} {number[5:]}",
        f"+{code} (0) {number}",
        number,
        f"{code} 0{number}",
    ][style]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["66", "84"]),
    st.text("0123456789", min_size=6, max_size=11),
    st.integers(min_value=0, max_value=9),
    st.sampled_from(["TH", "VN"]),
)
def test_phone_gives_what_libphonenumber_alone_gives(
    code: str, number: str, style: int, region: str
) -> None:
    text = _spelled(number, code, style)
    fast = phone(text, default_region=region)
    with mock.patch.object(phone_module, "_quick_parse", return_value=phone_module._UNDECIDED):
        slow = phone(text, default_region=region)
    assert fast == slow


def test_thailand_and_vietnam_take_the_fast_path() -> None:
    assert set(phone_module._PLANS) == {"TH", "VN"}


def _libphonenumber_line_type(code: str, national: str) -> str | None:
    number = phonenumbers.PhoneNumber(country_code=int(code), national_number=int(national))
    if not phonenumbers.is_valid_number(number):
        return None
    return phone_module._LINE_TYPES.get(phonenumbers.number_type(number), "unknown")


@pytest.mark.parametrize("region", ["TH", "VN"])
def test_four_leading_digits_and_the_length_decide_validity_and_type(region: str) -> None:
    """The soundness of the fast path's table, for the metadata installed: every national
    number with the same first four digits (not starting with 0) and length has the same
    validity and type. Checked for every prefix and possible length with two suffixes (all
    nines and random digits), and for other lengths on a sample of prefixes."""
    plan = phone_module._PLANS[region]
    rng = random.Random(region)
    for length in range(5, 18):
        prefixes = (
            range(1000, 10000) if length in plan.lengths else rng.sample(range(1000, 10000), 300)
        )
        for prefix in map(str, prefixes):
            expected = phone_module._line_type.__wrapped__(region, prefix, length)
            rest = length - len(prefix)
            for suffix in ("9" * rest, "".join(rng.choice("0123456789") for _ in range(rest))):
                assert _libphonenumber_line_type(plan.code, prefix + suffix) == expected, (
                    region,
                    prefix + suffix,
                )


# Explicit date formats -------------------------------------------------------------------------

_FORMATS = [
    "%d/%m/%Y",
    "%Y-%m-%d %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y-%m-%d",
    "%m/%d/%Y %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%d.%m.%y",
    "%Y%m%d",
    "%d-%m-%Y  %H:%M",
    "%H:%M %d/%m/%Y",
    "%Y-%m-%dT%H:%M:%S%z",  # not a fast format: strptime itself
    "%d %b %Y",  # not a fast format
    "%d/%m/%Y %d",  # a directive twice: strptime's error
]
_date_characters = st.text("0123456789๐๑๒๓๔๕/-:. T\t", max_size=24)


@st.composite
def _date_texts(draw: st.DrawFn) -> tuple[str, str]:
    format = draw(st.sampled_from(_FORMATS))
    moment = draw(st.datetimes(min_value=dt.datetime(1000, 1, 1)))
    text = moment.strftime(format.replace("%z", "+0700"))
    edit = draw(st.integers(min_value=0, max_value=3))
    if edit == 1:  # change one character
        at = draw(st.integers(min_value=0, max_value=max(0, len(text) - 1)))
        text = text[:at] + draw(_date_characters) + text[at + 1 :]
    elif edit == 2:
        text = draw(_date_characters)
    return text, format


def _outcome(parse: object, value: str, format: str) -> object:
    try:
        return parse(value, format)  # type: ignore[operator]
    except (ValueError, re.error) as error:
        return type(error)


@settings(max_examples=600, deadline=None)
@given(_date_texts())
def test_the_fast_strptime_agrees_with_strptime(case: tuple[str, str]) -> None:
    value, format = case
    assert _outcome(dates_module._strptime, value, format) == _outcome(
        dt.datetime.strptime, value, format
    )


def test_only_formats_of_numbers_take_the_fast_path() -> None:
    assert dates_module._format_pattern("%d/%m/%Y %H:%M") is not None
    assert dates_module._format_pattern("%d %b %Y") is None
    assert dates_module._format_pattern("%Y-%m-%dT%H:%M:%S%z") is None
    assert dates_module._format_pattern("%d/%m/%Y %d") is None
    assert dates_module._format_pattern("%m/%Y") is None


# Plain amounts ---------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(
    st.from_regex(money_module._PLAIN_AMOUNT, fullmatch=True),
    st.sampled_from([None, "THB", "VND", "KWD", "JPY"]),
)
def test_the_plain_amount_shortcut_agrees_with_the_parser(value: str, code: str | None) -> None:
    shortcut = money_module._priced(Decimal(value.replace(",", "")), code)
    assert shortcut == money_module._parsed_money(value, code)


@settings(max_examples=400, deadline=None)
@given(st.from_regex(money_module._PLAIN_DECIMAL, fullmatch=True))
def test_the_plain_number_shortcut_agrees_with_the_parser(value: str) -> None:
    assert money_module._decimal.__wrapped__(value) == money_module._parsed_decimal(value)


# Name keys -------------------------------------------------------------------------------------

# The key's steps as first written: one regex substitution after another.
_REFERENCE_STEPS = [
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"tch", "ch"),
        (r"sh", "ch"),
        (r"j", "ch"),
        (r"ph", "p"),
        (r"th", "t"),
        (r"kh", "k"),
        (r"bh", "b"),
        (r"dh", "d"),
        (r"gh", "k"),
        (r"ck", "k"),
        (r"c(?!h)", "k"),
        (r"q", "k"),
        (r"(?<!n)g", "k"),
        (r"[xz]", "s"),
        (r"v", "w"),
        (r"sr", "s"),
        (r"([^aeiou])\1+", r"\1"),
        (r"(?<=[aeiou])w(?![aeiou])", "o"),
        (r"(?<=[aeiou])y(?![aeiou])", "i"),
        (r"(?<=[aeiou])[rh](?![aeiou])", ""),
        (r"(?<=[aeiou][^aeiou])e$", ""),
        (r"l(?=[^aeiouy]|$)", "n"),
        (r"(?:ch|[ds])$", "t"),
        (r"b$|f$", "p"),
        (r"l", "r"),
    )
]


def _reference_token_key(token: str) -> str:
    latin = romanize_thai(token) if re.search(r"[\u0e00-\u0e7f]", token) else fold(token)
    key = "".join(char for char in latin if "a" <= char <= "z")
    if not key:
        return ""
    for pattern, replacement in _REFERENCE_STEPS:
        key = pattern.sub(replacement, key)
    key = re.sub(r"[aeiou]+", lambda run: names_module._VOWEL_CLASSES.get(run[0], run[0]), key)
    key = re.sub(r"(?<=[^aeiou])a(?=[^aeiou])", "", key)
    return re.sub(r"([^aeiou])\1+", r"\1", key)


@settings(max_examples=600, deadline=None)
@given(st.text("abcdefghijklmnopqrstuvwxyzABCHTđêôơưăâ-'กคชนพมรลวสอาิีุเแโไ่้์", max_size=12))
def test_the_name_key_agrees_with_its_steps_as_regexes(token: str) -> None:
    assert names_module._token_key.__wrapped__(token) == _reference_token_key(token)


# Addresses -------------------------------------------------------------------------------------

_REFERENCE_MARKER = re.compile(
    r"(?:(?<=^)|(?<=[\s,]))(?:"
    + "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in address_module._MARKERS)
    + r")(?=[\s.]|(?<=\.)|(?<=[\u0e00-\u0e7f])|$)",
    re.IGNORECASE,
)
_REFERENCE_POSTAL = re.compile(r"(?<!\d)(\d{5,6})(?!\d)(?!.*(?<!\d)\d{5,6}(?!\d))")
_ADDRESS_WORDS = [
    "12/3", "หมู่", "ม.", "5", "ซอย", "ซ.", "ถนน", "ถ.", "ตำบล", "ต.", "แขวง", "อำเภอ", "อ.",
    "เขต", "จังหวัด", "จ.", "Moo", "Soi", "Rd.", "Road", "Tambon", "Amphoe", "Khet", "District",
    "Sub-district", "Province", "số", "Số", "nhà", "ngõ", "hẻm", "đường", "Đ.", "phường", "P.",
    "Q.", "quận", "huyện", "tp.", "TP", "Thành", "phố", "tỉnh", "xã", "thị", "trấn", "Ward",
    "Village", "No.", "10110", "700000", "1234567", "Bangkok", "Hà", "Nội", "สุขุมวิท", ",",
]  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(
    st.lists(st.sampled_from(_ADDRESS_WORDS), max_size=12),
    st.lists(st.sampled_from([" ", "", ", ", ","]), min_size=12, max_size=12),
)
def test_the_address_scanner_finds_what_the_original_regexes_found(
    words: list[str], separators: list[str]
) -> None:
    work = "".join(
        word + separator for word, separator in zip(words, separators, strict=False)
    ).strip(" ,")
    reference = [(m.start(), m.end(), m.lastgroup) for m in _REFERENCE_MARKER.finditer(work)]
    found = [
        (m.start(), m.end() - 1, m.lastgroup) for m in address_module._MARKER.finditer(" " + work)
    ]
    assert found == reference
    postal = address_module._postal_in(work)
    expected = _REFERENCE_POSTAL.search(work)
    assert (postal and postal.span()) == (expected and expected.span(1))
