"""Phone numbers in E.164, the form every channel (SMS, WhatsApp, LINE, Zalo) accepts.

Sources write the same number many ways: ``081-234-5678``, ``+66 81 234 5678``,
``66812345678`` (country code without ``+``), ``0066...``, ``(081) 234 5678``, or ``812345678``
after a spreadsheet dropped the leading zero. All become ``+66812345678``. Numbers are checked
against libphonenumber's metadata, so a number that cannot exist (``0000000000``, too short, a
range never allocated) is ``invalid_phone`` instead of a wrong key that joins strangers.

libphonenumber takes about 30 µs a number; results are cached on the digits (and the leading
``+``), which is what repeats across spellings of the same number.
"""

import re
from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberType

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


@lru_cache(maxsize=262144)
def _parse(digits: str, international: bool, region: str) -> tuple[str, str, str] | None:
    """(E.164, region, line type) of a digit string, ``None`` when it is no valid number."""
    if not 6 <= len(digits) <= 17 or len(set(digits)) == 1:
        return None
    if digits.startswith("00") and not international:
        digits, international = digits[2:], True
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
