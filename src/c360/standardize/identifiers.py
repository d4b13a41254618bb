"""Free text, identifiers, yes/no values and national ID numbers.

National IDs are validated as strictly as their issuers allow, because a wrong one joins two
people's profiles: a Thai citizen ID carries a check digit, a Vietnamese CCCD carries the code
of the province of registration and the holder's sex and birth century.
"""

import re
from functools import lru_cache
from typing import Any

from c360.standardize.cells import cell_text, fold, squeeze
from c360.standardize.model import EMPTY, Standardized

_SPREADSHEET_INTEGER = re.compile(r"[+-]?\d+\.0+")


def text(raw: object) -> Standardized:
    """Trimmed NFC text with inner whitespace collapsed (a free-text field)."""
    if type(raw) is str and raw.isascii():  # the common case, without cell_text's checks
        collapsed = " ".join(raw.split())
        return Standardized(collapsed) if collapsed else EMPTY
    value = cell_text(raw)
    if value is None:
        return EMPTY
    return Standardized(squeeze(value))


def identifier(raw: object) -> Standardized:
    """An opaque identifier (customer number, loyalty card, order id), trimmed and NFC.

    Spreadsheets store numeric identifiers as floats, so ``12345.0`` (the number or the text
    a CSV export writes for it) is the identifier ``12345``. Inner spaces are kept: they may
    be part of the identifier.
    """
    value = cell_text(raw)
    if value is None:
        return EMPTY
    if _SPREADSHEET_INTEGER.fullmatch(value):
        value = value.split(".", 1)[0]
    return Standardized(value)


# Folded forms (see cells.fold): "có" is looked up as "co", "không" as "khong".
_TRUE = frozenset(
    [
        "1",
        "y",
        "yes",
        "true",
        "t",
        "on",
        "x",
        "✓",
        "✔",
        "ja",
        "oui",
        "si",
        "ใช่",
        "ถูก",
        "จริง",
        "มี",
        "ตกลง",
        "ยินยอม",
        "co",
        "dung",
        "roi",
        "dong y",
    ]
)
_FALSE = frozenset(
    [
        "0",
        "n",
        "no",
        "false",
        "f",
        "off",
        "✗",
        "✘",
        "nein",
        "non",
        "ไม่",
        "ไม่ใช่",
        "ผิด",
        "เท็จ",
        "ไม่มี",
        "ไม่ยินยอม",
        "khong",
        "ko",
        "sai",
        "chua",
        "khong dong y",
    ]
)


def boolean(raw: object) -> Standardized:
    """``True``/``False`` from yes/no words in English, Thai and Vietnamese, 1/0, y/n, x.

    A lone ``x`` or tick mark is true (a ticked box in a spreadsheet). Anything else is
    ``invalid_boolean``: a consent column must never guess.
    """
    if isinstance(raw, bool):
        return Standardized(raw)
    if isinstance(raw, int | float) and raw in (0, 1):
        return Standardized(bool(raw))
    value = cell_text(raw)
    if value is None:
        return EMPTY
    return _boolean_word(value)


@lru_cache(maxsize=1024)
def _boolean_word(value: str) -> Standardized:
    word = squeeze(fold(value)).rstrip(".!")
    if word in _TRUE:
        return Standardized(True)
    if word in _FALSE:
        return Standardized(False)
    return Standardized(None, flag="invalid_boolean")


_ID_SEPARATORS = re.compile(r"[\s\-./_]")
# Province codes of Vietnam's citizen identity card (first three digits of a CCCD): the 63
# provinces and cities as they were before the 2025 merger, which is what cards carry.
_VN_CCCD_PROVINCES = frozenset(
    [
        "001",
        "002",
        "004",
        "006",
        "008",
        "010",
        "011",
        "012",
        "014",
        "015",
        "017",
        "019",
        "020",
        "022",
        "024",
        "025",
        "026",
        "027",
        "030",
        "031",
        "033",
        "034",
        "035",
        "036",
        "037",
        "038",
        "040",
        "042",
        "044",
        "045",
        "046",
        "048",
        "049",
        "051",
        "052",
        "054",
        "056",
        "058",
        "060",
        "062",
        "064",
        "066",
        "067",
        "068",
        "070",
        "072",
        "074",
        "075",
        "077",
        "079",
        "080",
        "082",
        "083",
        "084",
        "086",
        "087",
        "089",
        "091",
        "092",
        "093",
        "094",
        "095",
        "096",
    ]
)


def national_id(raw: object, *, country: str | None = None) -> Standardized:
    """A national ID number, digits only.

    Options:
        country: ``"TH"`` or ``"VN"`` to accept only that country's IDs; ``None`` decides by
            length (13 digits: Thai citizen ID, 12: Vietnamese CCCD, 9: Vietnamese CMND). Any
            other country: the ID upper-cased with separators removed, unchecked.

    Thai IDs must pass the check digit: the first twelve digits weighted 13 down to 2, check
    ``(11 - sum % 11) % 10``. A CCCD must start with a known province code; its fourth digit
    gives sex and birth century, returned as ``extra["gender_hint"]`` and
    ``extra["birth_year"]``. An old 9-digit CMND has no check that can be made.
    """
    value = cell_text(raw)
    if value is None:
        return EMPTY
    wanted = country.upper() if country else None
    compact = _ID_SEPARATORS.sub("", value).upper()
    if wanted not in (None, "TH", "VN"):
        if not compact.isalnum():
            return Standardized(None, flag="invalid_national_id")
        return Standardized(compact, extra={"country": wanted})
    if not (compact.isdigit() and compact.isascii()):
        return Standardized(None, flag="invalid_national_id")
    if len(compact) == 13 and wanted in (None, "TH"):
        if _thai_check_digit(compact) != int(compact[12]):
            return Standardized(None, flag="invalid_national_id")
        return Standardized(compact, extra={"country": "TH"})
    if len(compact) == 12 and wanted in (None, "VN"):
        return _vietnamese_cccd(compact)
    if len(compact) == 9 and wanted in (None, "VN"):
        return Standardized(compact, extra={"country": "VN", "kind": "cmnd"})
    return Standardized(None, flag="invalid_national_id")


def _thai_check_digit(digits: str) -> int:
    total = sum(int(digit) * (13 - position) for position, digit in enumerate(digits[:12]))
    return (11 - total % 11) % 10


def _vietnamese_cccd(digits: str) -> Standardized:
    if digits[:3] not in _VN_CCCD_PROVINCES:
        return Standardized(None, flag="invalid_national_id")
    marker = int(digits[3])
    extra: dict[str, Any] = {
        "country": "VN",
        "kind": "cccd",
        "gender_hint": "male" if marker % 2 == 0 else "female",
        "birth_year": 1900 + 100 * (marker // 2) + int(digits[4:6]),
    }
    return Standardized(digits, extra=extra)
