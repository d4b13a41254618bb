"""Phone numbers in E.164, the form every channel (SMS, WhatsApp, LINE, Zalo) accepts.

Sources write the same number many ways: ``081-234-5678``, ``+66 81 234 5678``,
``66812345678`` (country code without ``+``), ``0066...``, ``(081) 234 5678``, or ``812345678``
after a spreadsheet dropped the leading zero. All become ``+66812345678``. Numbers are checked
against libphonenumber's metadata, so a number that cannot exist (``0000000000``, too short, a
range never allocated) is ``invalid_phone`` instead of a wrong key that joins strangers.

libphonenumber takes about 30 µs a number, and customer files are mostly numbers seen once, so
Thai and Vietnamese numbers (nearly all of them) take a fast path of about 2 µs (see
:class:`_Plan`): plain string operations find the national significant number exactly as
libphonenumber's parser would, and its validity and line type come from a table keyed on its
first four digits and its length, filled by asking libphonenumber once per key. Anything else
(other countries, a national number starting with ``0``, Thai or full-width digits) goes
through libphonenumber, cached on the digits (and the leading ``+``).
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType

from c360.standardize.cells import cell_text
from c360.standardize.model import EMPTY, Standardized

_EXTENSION = re.compile(
    r"\s*(?:ext|extn|extension|x|ต่อ|#|máy lẻ|may le|nhánh|nhanh)\.?\s*:?\s*(\d{1,7})\s*$",
    re.IGNORECASE,
)
_NOT_DIGITS = re.compile(r"\D+")
# Several numbers in one cell; "/" only splits when both sides are long enough to be numbers
# ("02-123-4567/8" is one number with an alternative last digit, not two numbers).
_LIST_SEPARATORS = re.compile(r"\s*(?:[,;|\n]|\s/\s|\bor\b|\bhoặc\b|หรือ)\s*", re.IGNORECASE)
# Most cells: digits and punctuation only, so neither an extension nor a second number.
_PLAIN = re.compile(r"[\d ()+.-]+")
_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)
_LINE_TYPES = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
}


def phone(raw: object, *, default_region: str = "TH") -> Standardized:
    """The number in E.164 (``+66812345678``), or ``invalid_phone``.

    Options:
        default_region: ISO 3166-1 alpha-2 region for numbers written without a country code
            (``"TH"``, ``"VN"``...); a region libphonenumber does not know is a configuration
            error (``ValueError``), not a reason to flag every number.

    A number without ``+`` that is invalid in the default region is tried as an international
    number (``84912345678`` with the default region TH is the Vietnamese ``+84912345678``).
    ``extra``: ``region`` (alpha-2), ``line_type`` (``mobile``, ``fixed_line``...), and
    ``extension`` when the number had one (``ext 12``, ``x12``, ``ต่อ 12``). A cell with
    several numbers gives the first valid one, the others in ``extra["others"]``.
    """
    if isinstance(raw, bool):
        return Standardized(None, flag="invalid_phone")
    value = cell_text(raw)
    if value is None:
        return EMPTY
    region = default_region.upper()
    if region not in _REGIONS:
        raise ValueError(f"unknown default_region {default_region!r}")
    if _PLAIN.fullmatch(value) is not None:
        return _number(value, region, None)
    if _LIST_SEPARATORS.search(value):
        return _several(_LIST_SEPARATORS.split(value), region)
    return _one(value, region)


def _several(parts: list[str], region: str) -> Standardized:
    found = [_one(part, region) for part in parts if part]
    valid = [result for result in found if result.ok]
    if not valid:
        return Standardized(None, flag="invalid_phone")
    first = valid[0]
    others = [result.value for result in valid[1:] if result.value != first.value]
    return Standardized(
        first.value, extra={**first.extra, "others": others} if others else first.extra
    )


def _one(value: str, region: str) -> Standardized:
    extension = None
    found = _EXTENSION.search(value)
    if found is not None and found.start() > 0:
        extension = found[1]
        value = value[: found.start()]
    return _number(value, region, extension)


def _number(value: str, region: str, extension: str | None) -> Standardized:
    digits = _NOT_DIGITS.sub("", value)
    international = value.lstrip().startswith("+")
    parsed = _parse(digits, international, region)
    if parsed is None:
        return Standardized(None, flag="invalid_phone")
    number, number_region, line_type = parsed
    extra: dict[str, Any] = {"region": number_region, "line_type": line_type}
    if extension is not None:
        extra["extension"] = extension
    return Standardized(number, extra=extra)


_Parsed = tuple[str, str, str] | None
"""(E.164, region, line type) of a number, ``None`` when it is no valid number."""


def _parse(digits: str, international: bool, region: str) -> _Parsed:
    """(E.164, region, line type) of a digit string, ``None`` when it is no valid number."""
    if not 6 <= len(digits) <= 17 or len(set(digits)) == 1:
        return None
    if digits.startswith("00") and not international:
        digits, international = digits[2:], True
    quick = _quick_parse(digits, international, region)
    return _libphonenumber_parse(digits, international, region) if quick is _UNDECIDED else quick


@lru_cache(maxsize=262144)
def _libphonenumber_parse(digits: str, international: bool, region: str) -> _Parsed:
    """What :func:`_parse` says, asking libphonenumber (the reference for the fast path)."""
    attempts = [f"+{digits}"] if international else [digits, f"+{digits}"]
    for attempt in attempts:
        try:
            number = phonenumbers.parse(attempt, None if attempt[0] == "+" else region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return (
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
                phonenumbers.region_code_for_number(number) or "ZZ",
                _LINE_TYPES.get(phonenumbers.number_type(number), "unknown"),
            )
    return None


# The fast path ---------------------------------------------------------------------------------

_UNDECIDED: Final = ("", "", "")
"""What :func:`_quick_parse` returns for a number it leaves to libphonenumber."""
_PREFIX_DIGITS = 4
"""How many leading digits of a national significant number decide its validity and type.

Every Thai and Vietnamese number pattern in libphonenumber's metadata is a choice among
prefixes of at most four digits followed by ``\\d{n}``; the one exception, Thai international
toll-free ``001800...``, starts with ``0`` and never takes the fast path (nor does any national
number starting with ``0``). ``tests/unit/standardize/test_fast_paths.py`` checks this against
the metadata installed, for every four-digit prefix and every possible length. The table has
at most 9,000 keys per region and length, each costing one ``number_type`` call (about 7 µs).
"""


@dataclass(frozen=True, slots=True)
class _Plan:
    """How libphonenumber reads a region's numbers, for regions simple enough to mirror.

    A region qualifies (:func:`_plan`) when its national prefix is ``0`` with no carrier codes
    or rewriting, its international prefix starts with ``00``, its two-digit country code
    belongs to it alone (and no one-digit code is a prefix of it) and it has no lengths that
    are possible only locally. Thailand and Vietnam do. For such a region the parser's steps
    are a handful of string tests, mirrored in :meth:`national` and :meth:`international`.
    """

    region: str
    code: str
    general: re.Pattern[str]
    lengths: tuple[int, ...]

    def _strip_prefix(self, number: str) -> str:
        """``number`` without its national prefix ``0`` (libphonenumber's rule: unless the
        number fits the region's general pattern with the ``0`` and not without it)."""
        if number[:1] != "0":
            return number
        general = self.general.fullmatch
        if general(number) and not general(number[1:]):
            return number
        return number[1:]

    def _length_fits(self, number: str) -> bool:
        """Whether the length of ``number`` is possible (not too short, not an unused length
        between the shortest and the longest); too long counts as fitting, as in the parser."""
        length = len(number)
        return length >= self.lengths[0] and (length > self.lengths[-1] or length in self.lengths)

    def _finish(self, number: str) -> str | None:
        stripped = self._strip_prefix(number)
        if len(stripped) < len(number) and self._length_fits(stripped):
            number = stripped
        return number if 2 <= len(number) <= 17 else None

    def national(self, digits: str) -> str | None:
        """The national significant number of ``digits`` dialled in this region without ``+``
        (``digits`` does not start with ``00``), ``None`` when the parser refuses it."""
        number = digits
        if digits.startswith(self.code):
            after = self._strip_prefix(digits[len(self.code) :])
            general = self.general.fullmatch
            too_long = len(digits) > self.lengths[-1]
            if (not general(digits) and general(after)) or too_long:
                number = after
        return self._finish(number)

    def international(self, rest: str) -> str | None:
        """The national significant number of ``+<code><rest>``."""
        return self._finish(rest)


def _plan(region: str) -> _Plan | None:
    metadata = PhoneMetadata.metadata_for_region(region, None)
    if metadata is None:
        return None
    code = str(metadata.country_code)
    general = metadata.general_desc
    simple = (
        metadata.national_prefix_for_parsing == "0"
        and metadata.national_prefix == "0"
        and not metadata.national_prefix_transform_rule
        and (metadata.international_prefix or "").startswith("00")
        and len(code) == 2
        and int(code[0]) not in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
        and phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(code)) == (region,)
        and general is not None
        and general.national_number_pattern is not None
        and bool(general.possible_length)
        and not general.possible_length_local_only
    )
    if not simple or general is None or general.national_number_pattern is None:
        return None
    return _Plan(
        region,
        code,
        re.compile(general.national_number_pattern),
        tuple(sorted(general.possible_length)),
    )


_PLANS: dict[str, _Plan] = {
    plan.region: plan for plan in map(_plan, ("TH", "VN")) if plan is not None
}
_PLANS_BY_CODE = {plan.code: plan for plan in _PLANS.values()}


def _quick_parse(digits: str, international: bool, region: str) -> _Parsed:
    """:func:`_libphonenumber_parse` for Thai and Vietnamese numbers, ``_UNDECIDED`` for others.

    ``digits`` has 6 to 17 digits, and no ``00`` in front unless ``international``.
    """
    if not digits.isascii():
        return _UNDECIDED  # Thai or full-width digits: libphonenumber normalizes them
    if not international:
        home = _PLANS.get(region)
        if home is None:
            return _UNDECIDED
        found = _verdict(home, home.national(digits))
        if found is not None:
            return found
        # Invalid at home: the digits may start with a country code ("+digits" is the
        # parser's second attempt).
    if digits[0] == "0":
        return None  # no country code starts with 0
    abroad = _PLANS_BY_CODE.get(digits[:2])
    if abroad is None:
        return _UNDECIDED
    return _verdict(abroad, abroad.international(digits[2:]))


def _verdict(plan: _Plan, number: str | None) -> _Parsed:
    if number is None:
        return None
    if number[:1] == "0":
        return _UNDECIDED  # leading zeros are kept apart by libphonenumber ("Italian" zeros)
    line_type = _line_type(plan.region, number[:_PREFIX_DIGITS], len(number))
    if line_type is None:
        return None
    return f"+{plan.code}{number}", plan.region, line_type


@lru_cache(maxsize=65536)
def _line_type(region: str, prefix: str, length: int) -> str | None:
    """The line type of the region's national numbers that start with ``prefix`` and have
    ``length`` digits, ``None`` when they are invalid (asked of libphonenumber once per key)."""
    plan = _PLANS[region]
    number = phonenumbers.PhoneNumber(
        country_code=int(plan.code), national_number=int(prefix.ljust(length, "0"))
    )
    # The country code belongs to this region alone, so the number is valid exactly when it
    # has a type (is_valid_number and number_type both ask the region's type patterns).
    line_type = phonenumbers.number_type(number)
    if line_type == PhoneNumberType.UNKNOWN:
        return None
    return _LINE_TYPES.get(line_type, "unknown")
