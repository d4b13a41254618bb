"""How a raw cell from any source (CSV text, Parquet, Excel, JSON) becomes text to standardize.

Sources hand standardizers strings, but also ints, floats, bools, dates and ``None``. Every
standardizer starts from :func:`cell_text`, so that "empty" means the same everywhere: ``None``,
a float NaN (how Parquet and spreadsheets say "missing"), and text that is only whitespace or
invisible characters (zero-width spaces and byte-order marks are common in Thai text pasted
from the web and in CSV files written by Excel).
"""

import math
import re
import unicodedata
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache

from c360.standardize.model import Standardized

_INVISIBLE = str.maketrans({"\u200b": None, "\ufeff": None, "\u2060": None, "\u180e": None})


def cell_text(raw: object) -> str | None:
    """The stripped NFC text of a raw cell, ``None`` when the cell is empty.

    An integral float is written without its ``.0`` (a spreadsheet turns the identifier 12345
    into 12345.0), other floats with ``repr`` (shortest round-trip form). Dates and times are
    written in ISO form.
    """
    if raw is None:
        return None
    if isinstance(raw, str):
        text = raw
    elif isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, int):
        return str(raw)
    elif isinstance(raw, float):
        if math.isnan(raw):
            return None
        if math.isinf(raw):
            return str(raw)
        return str(int(raw)) if raw.is_integer() and abs(raw) < 1e17 else repr(raw)
    elif isinstance(raw, Decimal):
        if raw.is_nan():
            return None
        return format(raw, "f")
    elif isinstance(raw, datetime | date | time):
        return raw.isoformat()
    elif isinstance(raw, bytes | bytearray):
        text = bytes(raw).decode("utf-8", "replace")
    else:
        text = str(raw)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text.translate(_INVISIBLE))
    text = text.strip()
    return text or None


def squeeze(text: str) -> str:
    """Text with every run of whitespace (any Unicode space) made one ASCII space."""
    return " ".join(text.split())


_FOLD_EXTRA = str.maketrans({"đ": "d", "Đ": "D", "ð": "d", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L"})
_COMBINING = re.compile(r"[\u0300-\u036f\u1dc0-\u1dff]")


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower-case text with Latin diacritics removed (``Đà Nẵng`` -> ``da nang``).

    Only combining marks of the Latin block are dropped, so Thai vowel and tone marks (which
    are combining characters too) stay. Used for lookups in tables of names, not for values.
    """
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFD", text.translate(_FOLD_EXTRA))
    return unicodedata.normalize("NFC", _COMBINING.sub("", decomposed)).lower()


_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_THAI_DIGIT = re.compile("[๐-๙]")


def ascii_digits(text: str) -> str:
    """Text with Thai digits (``๑๒๓``, used in official documents) made ASCII."""
    if text.isascii() or _THAI_DIGIT.search(text) is None:
        return text
    return text.translate(_THAI_DIGITS)


def detached(result: Standardized) -> Standardized:
    """A copy of a cached result that its caller may change without changing the cache."""
    if not result.extra and not isinstance(result.value, dict):
        return result
    value = dict(result.value) if isinstance(result.value, dict) else result.value
    return Standardized(value, result.flag, dict(result.extra))
