"""Dates and times as ISO 8601, from the many ways Thai, Vietnamese and other sources write them.

Understood without a format: ISO (``1987-03-15``), day-first numeric dates with ``/ - .``
(``15/03/1987``), month-first ones when only that reading is valid (``3/15/1987``), month
names in English (``15 Mar 1987``, ``March 15, 1987``), Thai (``15 มี.ค. 2530``,
``15 มีนาคม 2530``) and Vietnamese (``ngày 15 tháng 3 năm 1987``), compact ``19870315``,
Excel serial day numbers, and ``date``/``datetime`` objects from typed sources.

Years:

* a year of 2400 or more is a Thai Buddhist-era year and has 543 taken off (``2530`` -> 1987);
  so is a year written after ``พ.ศ.``;
* a two-digit year next to a Thai month name or ``พ.ศ.`` is Buddhist era (``15 มี.ค. 30`` is
  2530, so 1987), because that is how Thai writes short dates;
* any other two-digit year pivots at 40: ``00``-``39`` are 2000-2039, ``40``-``99`` are
  1940-1999 (birth dates reach back further than expiry dates reach forward);
* dates before 1800 or after 2100 (after the conversion) are ``invalid_date``, as are
  impossible days (``31/02/1990``).

Excel serial numbers use the 1900 date system (serial 1 is 1900-01-01, with Excel's phantom
1900-02-29 at serial 60, which is refused). A bare number that reads as a year (``1987``) is
a year, not serial 1987, and is refused: a date needs a day.

``extra["ambiguous"] = True`` marks a numeric day/month date that would also be valid with day
and month swapped (``05/03/1987``): identity matching treats such dates as weak evidence.
"""

import datetime as dt
import re
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from c360.standardize.cells import ascii_digits, cell_text, detached, fold
from c360.standardize.model import EMPTY, Standardized

_MIN_YEAR, _MAX_YEAR = 1800, 2100
_BUDDHIST_OFFSET = 543
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_EXCEL_LAST = (dt.date(_MAX_YEAR, 12, 31) - _EXCEL_EPOCH).days

_ENGLISH_MONTHS = {
    "jan": 1,
    "january": 1,
    "feb": 2,
    "february": 2,
    "mar": 3,
    "march": 3,
    "apr": 4,
    "april": 4,
    "may": 5,
    "jun": 6,
    "june": 6,
    "jul": 7,
    "july": 7,
    "aug": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "oct": 10,
    "october": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
}
_THAI_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("มกราคม", "มค"),
            ("กุมภาพันธ์", "กุมภาพันธ", "กพ"),
            ("มีนาคม", "มีค"),
            ("เมษายน", "เมย"),
            ("พฤษภาคม", "พค"),
            ("มิถุนายน", "มิย"),
            ("กรกฎาคม", "กรกฏาคม", "กค"),
            ("สิงหาคม", "สค"),
            ("กันยายน", "กย"),
            ("ตุลาคม", "ตค"),
            ("พฤศจิกายน", "พย"),
            ("ธันวาคม", "ธค"),
        ),
        start=1,
    )
    for name in names
}
_MONTH_WORDS = re.compile(
    r"(?<![a-z])("
    + "|".join(sorted(_ENGLISH_MONTHS, key=len, reverse=True))
    + r")(?![a-z])\.?|("
    + "|".join(sorted(_THAI_MONTHS, key=len, reverse=True))
    + ")"
)
_VIETNAMESE_MONTH = re.compile(r"thang\s*(\d{1,2})\b")
_THAI_DOT = re.compile(r"(?<=[\u0e00-\u0e7f])\.")
_BUDDHIST_ERA = re.compile(r"พศ|(?<![a-z])b\.?e\.?(?![a-z])")
_COMMON_ERA = re.compile(r"คศ|(?<![a-z])(?:a\.?d|c\.?e)\.?(?![a-z])")
_NOISE = re.compile(
    r"(?<![a-z])(?:mon|monday|tue|tues|tuesday|wed|wednesday|thu|thur|thurs|thursday|fri|"
    r"friday|sat|saturday|sun|sunday|ngay|nam|thu\s*(?:hai|ba|tu|nam|sau|bay|[2-7])|"
    r"chu\s*nhat|the|of|at|luc|vao)(?![a-z])|เวลา|วัน\S*?ที่|วันที่|ที่|วัน(?:จันทร์|อังคาร|พุธ|"
    r"พฤหัสบดี|พฤหัส|ศุกร์|เสาร์|อาทิตย์)|(?<=\d)(?:st|nd|rd|th)(?![a-z])"
)
_NUMBERS = re.compile(r"\d+")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_NUMERIC = re.compile(r"\d+(?:\.\d+)?")
_TIME_PART = re.compile(
    r"(?:t|\s|^)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:am|pm|a\.m\.|p\.m\.)?"
    r"\s*(?:z|utc|gmt|[+-]\d{2}:?\d{2})?\s*$"
)


def date(raw: object, *, format: str | None = None, day_first: bool = True) -> Standardized:
    """The ISO date ``YYYY-MM-DD``, or ``invalid_date``.

    Options:
        format: a ``strptime`` format the values follow (``"%d/%m/%Y"``); a value that does
            not match it is ``invalid_date``. Buddhist-era years are converted after parsing.
        day_first: how to read a numeric date valid both ways (``05/03/1987``): True (the
            default, as written in Thailand, Vietnam and Europe) for 5 March.

    A time in the value (``15/03/1987 14:30``) is ignored.
    """
    if isinstance(raw, dt.datetime):
        return _checked(raw.date(), ambiguous=False)
    if isinstance(raw, dt.date):
        return _checked(raw, ambiguous=False)
    if isinstance(raw, bool):
        return Standardized(None, flag="invalid_date")
    if isinstance(raw, int | float):
        value = cell_text(raw)
        if value is None:
            return EMPTY
        return _excel_or_compact(value)
    value = cell_text(raw)
    if value is None:
        return EMPTY
    if format is not None:
        return _formatted(value, format)
    return detached(_date_text(value, day_first))


# Explicit formats ------------------------------------------------------------------------------

# The regexes CPython's _strptime builds for the numeric directives (Lib/_strptime.py, TimeRE),
# so that the fast path below accepts exactly the strings ``datetime.strptime`` accepts.
_STRPTIME_FIELDS = {
    "d": r"(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])",
    "f": r"(?P<f>[0-9]{1,6})",
    "H": r"(?P<H>2[0-3]|[0-1]\d|\d)",
    "M": r"(?P<M>[0-5]\d|\d)",
    "S": r"(?P<S>6[0-1]|[0-5]\d|\d)",
    "m": r"(?P<m>1[0-2]|0[1-9]|[1-9])",
    "y": r"(?P<y>\d\d)",
    "Y": r"(?P<Y>\d\d\d\d)",
}
_WHITESPACE = re.compile(r"\s+")


@lru_cache(maxsize=256)
def _format_pattern(format: str) -> re.Pattern[str] | None:
    """The regex ``strptime`` matches values of ``format`` against.

    ``datetime.strptime`` costs about 5 µs a value, mostly Python code around one regex match;
    for formats made only of numbers (``%d/%m/%Y``, ``%Y-%m-%d %H:%M:%S``...) that match and
    a few ``int`` calls do the same in about 1 µs. ``None`` for the other formats (month
    names, AM/PM, ``%z``, a directive given twice, a format without a full date): they go to
    ``strptime``.
    """
    parts: list[str] = []
    directives: set[str] = set()
    rest = format
    while rest:
        index = rest.find("%")
        literal = rest if index < 0 else rest[:index]
        # strptime escapes the format's literal text and lets any run of whitespace in it
        # match any run of whitespace
        parts.append(r"\s+".join(re.escape(chunk) for chunk in _WHITESPACE.split(literal)))
        if index < 0:
            break
        directive, rest = rest[index + 1 : index + 2], rest[index + 2 :]
        if directive == "%":
            parts.append("%")
        elif directive in _STRPTIME_FIELDS and directive not in directives:
            parts.append(_STRPTIME_FIELDS[directive])
            directives.add(directive)
        else:
            return None
    if not ({"d", "m"} <= directives and ("Y" in directives) != ("y" in directives)):
        return None
    return re.compile("".join(parts), re.IGNORECASE)


def _strptime(value: str, format: str) -> dt.datetime:
    """``datetime.strptime(value, format)``, faster for formats of numbers only."""
    pattern = _format_pattern(format)
    if pattern is None:
        return dt.datetime.strptime(value, format)
    found = pattern.match(value)
    if found is None or found.end() != len(value):
        raise ValueError(f"time data {value!r} does not match format {format!r}")
    fields = found.groupdict()
    if "Y" in fields:
        year = int(fields["Y"])
    else:
        year = int(fields["y"])
        year += 2000 if year <= 68 else 1900  # as strptime (POSIX) reads two-digit years
    fraction = fields.get("f")
    return dt.datetime(
        year,
        int(fields["m"]),
        int(fields["d"]),
        int(fields.get("H", 0)),
        int(fields.get("M", 0)),
        int(fields.get("S", 0)),
        int(fraction.ljust(6, "0")) if fraction else 0,
    )


def _checked(day: dt.date, *, ambiguous: bool) -> Standardized:
    if not _MIN_YEAR <= day.year <= _MAX_YEAR:
        return Standardized(None, flag="invalid_date")
    return Standardized(day.isoformat(), extra={"ambiguous": True} if ambiguous else {})


def _formatted(value: str, format: str) -> Standardized:
    try:
        parsed = _strptime(value, format)
    except ValueError:
        return Standardized(None, flag="invalid_date")
    day = _day(parsed.year, parsed.month, parsed.day, era=None)
    return (
        Standardized(None, flag="invalid_date") if day is None else _checked(day, ambiguous=False)
    )


def _excel_or_compact(value: str) -> Standardized:
    """A date written as one number: ``19870315``, or an Excel serial like ``31851``."""
    if len(value) == 8 and value.isdigit():
        day = _day(int(value[:4]), int(value[4:6]), int(value[6:]), era=None)
        if day is None:
            day = _day(int(value[4:]), int(value[2:4]), int(value[:2]), era=None)
        return (
            Standardized(None, flag="invalid_date")
            if day is None
            else _checked(day, ambiguous=False)
        )
    if not _NUMERIC.fullmatch(value):
        return Standardized(None, flag="invalid_date")
    serial = float(value)
    if serial.is_integer() and _MIN_YEAR <= serial <= _MAX_YEAR + _BUDDHIST_OFFSET:
        return Standardized(None, flag="invalid_date")  # a year alone
    day = _excel_day(serial)
    return (
        Standardized(None, flag="invalid_date") if day is None else _checked(day, ambiguous=False)
    )


def _excel_day(serial: float) -> dt.date | None:
    if not 1 <= serial <= _EXCEL_LAST or int(serial) == 60:
        return None
    whole = int(serial)
    return _EXCEL_EPOCH + dt.timedelta(days=whole if whole > 60 else whole + 1)


@lru_cache(maxsize=65536)
def _date_text(value: str, day_first: bool) -> Standardized:
    matched = _ISO_DATE.fullmatch(value)
    if matched is not None:
        day = _day(int(matched[1]), int(matched[2]), int(matched[3]), era=None)
        return (
            Standardized(None, flag="invalid_date")
            if day is None
            else _checked(day, ambiguous=False)
        )
    parsed = _parse_date(value, day_first)
    if parsed is None:
        return Standardized(None, flag="invalid_date")
    day, ambiguous = parsed
    return _checked(day, ambiguous=ambiguous)


def _parse_date(value: str, day_first: bool) -> tuple[dt.date, bool] | None:
    """The date in free text and whether its day and month could be swapped."""
    text = ascii_digits(fold(value))
    if _NUMERIC.fullmatch(text):
        result = _excel_or_compact(text)
        return (dt.date.fromisoformat(result.value), False) if result.ok else None
    text = _TIME_PART.sub("", text)
    if "t" in text and _ISO_DATE.match(text):  # ISO date-time
        text = text[:10]
    text = _THAI_DOT.sub("", text)
    era: str | None = None
    if _BUDDHIST_ERA.search(text):
        era, text = "BE", _BUDDHIST_ERA.sub(" ", text)
    elif _COMMON_ERA.search(text):
        era, text = "CE", _COMMON_ERA.sub(" ", text)
    text = _NOISE.sub(" ", text)
    month = None
    found = _VIETNAMESE_MONTH.search(text)
    if found is not None:
        month = int(found[1])
        text = text[: found.start()] + " " + text[found.end() :]
    else:
        found = _MONTH_WORDS.search(text)
        if found is not None:
            if found[1]:
                month = _ENGLISH_MONTHS[found[1]]
            else:
                month = _THAI_MONTHS[found[2]]
                era = era or "TH"
            text = text[: found.start()] + " " + text[found.end() :]
    if re.search(r"[^\d\s/.,\-]", text):
        return None
    numbers = _NUMBERS.findall(text)
    if month is not None:
        return _with_month_word(numbers, month, era)
    if len(numbers) != 3:
        return None
    return _numeric(numbers, era, day_first)


def _with_month_word(
    numbers: list[str], month: int, era: str | None
) -> tuple[dt.date, bool] | None:
    if len(numbers) != 2:
        return None
    first, second = numbers
    if len(first) >= 3 or int(first) > 31:
        year, day_text = first, second
    else:
        day_text, year = first, second
    if len(day_text) > 2:
        return None
    day = _day(_year(year, era), month, int(day_text), era=era)
    return None if day is None else (day, False)


def _numeric(numbers: list[str], era: str | None, day_first: bool) -> tuple[dt.date, bool] | None:
    first, second, third = numbers
    if len(first) >= 3:
        day = _day(_year(first, era), int(second), int(third), era=era)
        return None if day is None else (day, False)
    if len(third) not in (2, 4) or len(second) > 2:
        return None
    year = _year(third, era)
    a, b = int(first), int(second)
    day_month = _day(year, b, a, era=era)
    month_day = _day(year, a, b, era=era)
    preferred, other = (day_month, month_day) if day_first else (month_day, day_month)
    if preferred is None:
        return None if other is None else (other, False)
    return preferred, other is not None and a != b


def _year(text: str, era: str | None) -> int:
    """The year written as ``text``, before the Buddhist-era conversion done by ``_day``."""
    year = int(text)
    if len(text) <= 2:
        if era in ("BE", "TH"):
            return 2500 + year
        return 2000 + year if year < 40 else 1900 + year
    return year


def _day(year: int, month: int, day: int, *, era: str | None) -> dt.date | None:
    if year >= 2400 or (era == "BE" and year > _MAX_YEAR):
        year -= _BUDDHIST_OFFSET
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


# Times ----------------------------------------------------------------------------------------

_TIME = re.compile(
    r"(?:(?<=\d)t|\b)(?P<h>\d{1,2})"
    r"(?::(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"  # 14:30, 14:30:05.123
    r"|\.(?P<thai_m>\d{2})(?=\s*น)"  # 14.30 น.
    r"|h(?P<vn_m>\d{2})?(?![a-z])"  # 14h30, 14h
    r"|\s*gio(?:\s*(?P<gio_m>\d{1,2}))?(?![a-z])"  # 14 giờ 30
    r"|(?=\s*(?:am|pm|a\.m\.|p\.m\.)))"  # 2 pm
    r"\s*(?P<half>am|pm|a\.m\.|p\.m\.|sang|chieu|toi|น\.?)?"
    r"\s*(?P<utc>z|utc|gmt)?\s*(?P<offset>[+-]\d{1,2}(?::?\d{2})?)?"
)
_EPOCH_BOUNDS = ((1e8, 1e11, 1), (1e11, 1e14, 1e3), (1e14, 1e17, 1e6), (1e17, 1e20, 1e9))


def datetime(
    raw: object,
    *,
    format: str | None = None,
    timezone: str = "Asia/Bangkok",
    day_first: bool = True,
) -> Standardized:
    """The UTC instant as ISO 8601 with ``Z`` (``2024-03-15T02:30:00Z``), or ``invalid_datetime``.

    Options:
        format: a ``strptime`` format the values follow; ``%z`` in it gives aware values.
        timezone: the IANA zone of values written without an offset (and of Excel serials
            and bare dates); also the zone of ``extra["local"]``.
        day_first: as for :func:`date`.

    Numbers are Unix epoch seconds, milliseconds, microseconds or nanoseconds (told apart by
    size: from 1973 to 5138 in seconds), or Excel serial days (below 100000) with the time as
    the fraction. Text may carry a time as ``14:30``, ``2:30 pm``, ``14.30 น.`` (Thai) or
    ``14h30`` (Vietnamese), and an offset (``Z``, ``+07:00``, ``GMT+7``).
    ``extra["local"]`` is the same instant in ``timezone`` with its offset.
    """
    zone = _zone(timezone)
    if isinstance(raw, dt.datetime):
        return _instant(raw, zone)
    if isinstance(raw, dt.date):
        return _instant(dt.datetime(raw.year, raw.month, raw.day), zone)
    if isinstance(raw, bool):
        return Standardized(None, flag="invalid_datetime")
    if isinstance(raw, int | float):
        return _from_number(float(raw), zone)
    value = cell_text(raw)
    if value is None:
        return EMPTY
    if format is not None:
        try:
            return _instant(_strptime(value, format), zone)
        except ValueError:
            return Standardized(None, flag="invalid_datetime")
    return detached(_datetime_text(value, timezone, day_first))


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown timezone {name!r}") from error


def _instant(moment: dt.datetime, zone: ZoneInfo, *, ambiguous: bool = False) -> Standardized:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    local_year = moment.year
    if moment.year >= 2400:
        try:
            moment = moment.replace(year=moment.year - _BUDDHIST_OFFSET)
        except ValueError:
            return Standardized(None, flag="invalid_datetime")
        local_year = moment.year
    if not _MIN_YEAR <= local_year <= _MAX_YEAR:
        return Standardized(None, flag="invalid_datetime")
    utc = moment.astimezone(dt.UTC)
    local = moment.astimezone(zone)
    # isoformat() shows microseconds only when there are some; utc and local have the same
    # (zone offsets are whole seconds), so both show them or neither. "+00:00" becomes "Z".
    extra: dict[str, Any] = {"local": local.isoformat()}
    if ambiguous:
        extra["ambiguous"] = True
    return Standardized(utc.isoformat()[:-6] + "Z", extra=extra)


def _from_number(number: float, zone: ZoneInfo) -> Standardized:
    if number != number:
        return EMPTY
    if 0 < number < 100_000:
        day = _excel_day(number)
        if day is None:
            return Standardized(None, flag="invalid_datetime")
        seconds = round((number - int(number)) * 86_400)
        return _instant(
            dt.datetime(day.year, day.month, day.day) + dt.timedelta(seconds=seconds), zone
        )
    for low, high, per_second in _EPOCH_BOUNDS:
        if low <= abs(number) < high:
            try:
                moment = dt.datetime.fromtimestamp(number / per_second, dt.UTC)
            except (ValueError, OverflowError, OSError):
                return Standardized(None, flag="invalid_datetime")
            return _instant(moment, zone)
    return Standardized(None, flag="invalid_datetime")


@lru_cache(maxsize=65536)
def _datetime_text(value: str, timezone: str, day_first: bool) -> Standardized:
    zone = _zone(timezone)
    if value[:4].isdigit() and (value[4:5] == "-" or value[8:9] in ("T", "t")):
        try:
            return _instant(dt.datetime.fromisoformat(value), zone)
        except ValueError:
            pass
    text = ascii_digits(fold(value))
    if _NUMERIC.fullmatch(text):
        return _from_number(float(text), zone)
    clock, offset = dt.time(0, 0), None
    times = list(_TIME.finditer(text))
    found = times[-1] if times else None
    if found is not None:
        parsed_clock = _clock(found)
        if parsed_clock is None:
            return Standardized(None, flag="invalid_datetime")
        clock = parsed_clock
        if found["offset"]:
            offset = _offset(found["offset"])
            if offset is None:
                return Standardized(None, flag="invalid_datetime")
        elif found["utc"]:
            offset = dt.timedelta(0)
        text = text[: found.start()] + " " + text[found.end() :]
    parsed = _parse_date(text.strip(" ,t"), day_first)
    if parsed is None:
        return Standardized(None, flag="invalid_datetime")
    day, ambiguous = parsed
    moment = dt.datetime.combine(day, clock)
    if offset is not None:
        moment = moment.replace(tzinfo=dt.timezone(offset))
    return _instant(moment, zone, ambiguous=ambiguous)


def _offset(text: str) -> dt.timedelta | None:
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = (int(digits), 0) if len(digits) <= 2 else (int(digits[:-2]), int(digits[-2:]))
    if hours > 14 or minutes >= 60:
        return None
    return sign * dt.timedelta(hours=hours, minutes=minutes)


def _clock(found: re.Match[str]) -> dt.time | None:
    hour = int(found["h"])
    minute = int(found["m"] or found["thai_m"] or found["vn_m"] or found["gio_m"] or 0)
    second = int(found["s"] or 0)
    micro = int((found["f"] or "0")[:6].ljust(6, "0"))
    half = found["half"]
    if half in ("pm", "p.m.", "chieu", "toi") and hour < 12:
        hour += 12
    elif half in ("am", "a.m.") and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 59:
        return None
    return dt.time(hour, minute, second, micro)
