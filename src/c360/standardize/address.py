"""Provinces, postal codes and one-line addresses of Thailand and Vietnam.

Provinces come from ``data/provinces.csv``: the 77 Thai provinces (Bangkok included) and the
63 Vietnamese provinces and centrally-run cities, each with its ISO 3166-2 code, English and
local name and the spellings addresses use (``กทม.``, ``TP.HCM``, ``Saigon``, ``Korat``).
Vietnam merged its provinces into 34 on 1 July 2025; addresses will carry the old names for
years, so the 63 stay canonical and the ones merged away say where in
``extra["merged_into"]`` (Resolution 202/2025/QH15). Codes are only given where ISO 3166-2
has them; the merged units have none yet.

A Latin spelling not in the table is tried once more through the name match key
(``names.phonetic_key``), which absorbs romanization habits (``Nakorn`` = ``Nakhon``,
``Chiengmai`` = ``Chiang Mai``); only keys that point at one province are used.
"""

import csv
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from c360.standardize.cells import ascii_digits, cell_text, detached, fold, squeeze
from c360.standardize.model import EMPTY, Standardized
from c360.standardize.names import phonetic_key


@dataclass(frozen=True, slots=True)
class _Province:
    country: str
    code: str
    name: str
    local_name: str
    merged_into: str

    def extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"country": self.country, "local_name": self.local_name}
        if self.code:
            extra["code"] = self.code
        if self.merged_into:
            extra["merged_into"] = self.merged_into
        return extra


_PREFIXES = (
    "จังหวัด",
    "จ.",
    "changwat ",
    "thanh pho ",
    "thanh pho",
    "tp.",
    "tp ",
    "t.p.",
    "t.p ",
    "tinh ",
    "tinh",
    "province of ",
    "city of ",
)
_SUFFIXES = (" province", " city", " metropolis", " prov.", " municipality")
_KEY_NOISE = re.compile(r"[\s.,'’()\-–_/&:ฯ]+")


def _key(text: str) -> str:
    key = fold(text).strip()
    for prefix in _PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix) + 1:
            key = key[len(prefix) :].strip()
            break
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix) + 1:
            key = key[: -len(suffix)].strip()
            break
    return _KEY_NOISE.sub("", key)


def _sound(text: str) -> str:
    return "".join(phonetic_key(word) for word in fold(text).replace("-", " ").split())


@cache
def _provinces() -> tuple[dict[tuple[str, str], _Province], dict[tuple[str, str], _Province]]:
    """((country, key) -> province, (country, sound key) -> province) for TH and VN."""
    exact: dict[tuple[str, str], _Province] = {}
    sounds: dict[tuple[str, str], _Province | None] = {}
    source = resources.files("c360.standardize").joinpath("data/provinces.csv")
    for row in csv.DictReader(source.read_text(encoding="utf-8").splitlines()):
        province = _Province(
            row["country"], row["code"], row["name"], row["local_name"], row["merged_into"]
        )
        spellings = [row["name"], row["local_name"], *filter(None, row["aliases"].split(";"))]
        for spelling in spellings:
            exact[(province.country, _key(spelling))] = province
            if spelling.isascii():
                sound = (province.country, _sound(spelling))
                sounds[sound] = province if sounds.get(sound, province) == province else None
    return exact, {key: found for key, found in sounds.items() if found is not None}


def province(raw: object, *, country: str | None = None) -> Standardized:
    """The canonical English name of a Thai or Vietnamese province, or ``unknown_province``.

    Options:
        country: ``"TH"`` or ``"VN"`` to look there first (a source's home country); the other
            country is still searched, since one file often holds customers of both.

    Prefixes and suffixes such as ``จังหวัด``, ``จ.``, ``Tỉnh``, ``Thành phố``, ``TP.``,
    ``Province``, ``City`` are ignored. ``extra``: ``country``, ``code`` (ISO 3166-2, when it
    has one), ``local_name`` and, for a Vietnamese province merged away in 2025,
    ``merged_into``.
    """
    value = cell_text(raw)
    if value is None:
        return EMPTY
    found = _province(value, country.upper() if country else None)
    if found is None:
        return Standardized(None, flag="unknown_province")
    return Standardized(found.name, extra=found.extra())


@lru_cache(maxsize=8192)
def _province(value: str, country: str | None) -> _Province | None:
    exact, sounds = _provinces()
    countries = ("TH", "VN") if country != "VN" else ("VN", "TH")
    key = _key(value)
    for candidate in countries:
        found = exact.get((candidate, key))
        if found is not None:
            return found
    if value.isascii() and any(char.isalpha() for char in value):
        sound = _sound(
            re.sub(r"(?i)^(?:changwat|province of|city of)\s+|\s+(?:province|city)$", "", value)
        )
        for candidate in countries:
            found = sounds.get((candidate, sound))
            if found is not None:
                return found
    return None


# Postal codes ---------------------------------------------------------------------------------

# The first two digits of a Thai postal code name the province; they follow the ISO 3166-2
# numbers except around Bangkok (10 is Bangkok or Samut Prakan).
_THAI_POSTAL_PREFIXES: dict[str, tuple[str, ...]] = {
    "10": ("TH-10", "TH-11"),
    "11": ("TH-12",),
    "12": ("TH-13",),
    "13": ("TH-14",),
    "14": ("TH-15",),
    "15": ("TH-16",),
    "16": ("TH-17",),
    "17": ("TH-18",),
    "18": ("TH-19",),
    **{
        str(number): (f"TH-{number}",)
        for number in [
            *range(20, 28),
            *range(30, 50),
            *range(50, 59),
            *range(60, 68),
            *range(70, 78),
            *range(80, 87),
            *range(90, 97),
        ]
    },
}
_POSTAL_SEPARATORS = re.compile(r"[\s\-]+")
_GENERIC_POSTAL = re.compile(r"[A-Z0-9]{3,10}")


def postal_code(raw: object, *, country: str | None = None) -> Standardized:
    """A postal code, or ``invalid_postal_code``.

    Options:
        country: ``"TH"``: five digits whose first two name a province (``extra["province"]``
            and ``extra["province_code"]`` when they name one, ``10`` being Bangkok or Samut
            Prakan); ``"VN"``: five digits (the national system since 2018) or six (the older
            one, still printed on many forms); any other country or ``None``: 3 to 10 letters
            and digits, upper-cased, spaces and dashes kept out of the value only for TH/VN.
    """
    if isinstance(raw, bool):
        return Standardized(None, flag="invalid_postal_code")
    value = cell_text(raw)
    if value is None:
        return EMPTY
    wanted = country.upper() if country else None
    text = ascii_digits(value).upper()
    if wanted == "TH":
        digits = _POSTAL_SEPARATORS.sub("", text)
        codes = (
            _THAI_POSTAL_PREFIXES.get(digits[:2]) if len(digits) == 5 and digits.isdigit() else None
        )
        if codes is None:
            return Standardized(None, flag="invalid_postal_code")
        extra: dict[str, Any] = {"country": "TH"}
        if len(codes) == 1:
            extra["province_code"] = codes[0]
            extra["province"] = _province_by_code(codes[0])
        return Standardized(digits, extra=extra)
    if wanted == "VN":
        digits = _POSTAL_SEPARATORS.sub("", text)
        if len(digits) not in (5, 6) or not digits.isdigit() or len(set(digits)) == 1:
            return Standardized(None, flag="invalid_postal_code")
        return Standardized(digits, extra={"country": "VN"})
    compact = squeeze(text)
    if not _GENERIC_POSTAL.fullmatch(_POSTAL_SEPARATORS.sub("", compact)) or not any(
        c.isdigit() for c in compact
    ):
        return Standardized(None, flag="invalid_postal_code")
    return Standardized(compact, extra={"country": wanted} if wanted else {})


@cache
def _codes() -> dict[str, str]:
    exact, _ = _provinces()
    return {found.code: found.name for found in exact.values() if found.code}


def _province_by_code(code: str) -> str:
    return _codes()[code]


# Addresses ------------------------------------------------------------------------------------

# Markers that introduce a part, as written in Thai, Thai in Latin letters, and Vietnamese.
# Each is matched at the start of a word; dotted abbreviations may be glued to what follows.
_MARKERS: tuple[tuple[str, str], ...] = (
    ("house_number", r"บ้านเลขที่|เลขที่|số nhà|số"),
    ("moo", r"หมู่ที่|หมู่|ม\.(?=\s*\d)|moo\.?(?=\s*\d)|m\.(?=\s*\d)|village no\.?"),
    ("alley", r"ซอย|ซ\.|soi|ngõ|hẻm|kiệt|ngách"),
    ("street", r"ถนน|ถ\.|thanon|đường|đ\.|phố"),
    (
        "subdistrict",
        r"แขวง|ตำบล|ต\.|khwaeng|tambon|tambol|t\.|sub-?district|ward"
        r"|phường|phuong|p\.|xã|x\.|thị trấn|tt\.",
    ),
    (
        "district",
        r"เขต|อำเภอ|อ\.|khet|amphoe|amphur|a\.|district"
        r"|quận|quan|q\.|huyện|huyen|h\.|thị xã|thi xa|tx\.",
    ),
    ("city", r"thành phố|thanh pho|tp\.?|t\.p\.?"),
    ("province", r"จังหวัด|จ\.|changwat|province|tỉnh"),
)
# ASCII-only Vietnamese markers that are also syllables of province names (Hà Tĩnh, Bình
# Dương: "tinh", "duong") are left out: in those addresses they are not markers.
# A marker is searched for with the space or comma before it (the text gets a space in front),
# not behind a lookbehind: a pattern that starts with a character set lets the regex engine
# skip quickly to the next space or comma instead of trying every marker at every character;
# the lookahead on the letters markers start with saves trying them all after most spaces.
_MARKER_INITIALS = "".join(
    sorted({alternative[0] for _, pattern in _MARKERS for alternative in pattern.split("|")})
)
_MARKER = re.compile(
    rf"[\s,](?=[{re.escape(_MARKER_INITIALS)}])(?:"
    + "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _MARKERS)
    + r")(?=[\s.]|(?<=\.)|(?<=[\u0e00-\u0e7f])|$)",
    re.IGNORECASE,
)
_SUFFIX_MARKERS = re.compile(
    r"^(?P<content>.+?)\s+(?:(?P<street>road|rd\.?|street|st\.?)|(?P<subdistrict>sub-?district|ward)"
    r"|(?P<district>district)|(?P<province>province))$",
    re.IGNORECASE,
)
_DIGIT_RUN = re.compile(r"\d+")
_HOUSE = re.compile(r"^(?P<house>\d+[a-zA-Z]?(?:[/\-]\d+[a-zA-Z]?)*)(?:\s+|,|$)")
_COMMAS = re.compile(r"\s*,\s*")
_VIETNAMESE = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.IGNORECASE)


def address(raw: object, *, country: str | None = None) -> Standardized:
    """The cleaned one-line address, with its parts in ``extra`` where they can be told.

    Options:
        country: ``"TH"`` or ``"VN"`` when the source's addresses are all in one country; it
            decides how a five-digit postal code is read and where provinces are looked up.

    Parts: ``house_number``, ``moo`` (Thai village number), ``alley`` (ซอย, ngõ, hẻm),
    ``street``, ``subdistrict`` (แขวง, ตำบล, phường, xã), ``district`` (เขต, อำเภอ, quận,
    huyện), ``province`` (canonical name, with ``province_code`` and ``country``),
    ``postal_code``; ``postal_code_mismatch`` is True when a Thai postal code belongs to
    another province than the one written.
    """
    value = cell_text(raw)
    if value is None:
        return EMPTY
    return detached(_address(value, country.upper() if country else None))


@lru_cache(maxsize=16384)
def _address(value: str, country: str | None) -> Standardized:
    line = _COMMAS.sub(", ", squeeze(value)).strip(" ,")
    if not any(char.isalnum() for char in line):
        return Standardized(None, flag="invalid_address")
    parts: dict[str, Any] = {}
    work = ascii_digits(line)
    postal = _postal_in(work)
    if postal is not None and postal.start() > 0:
        parts["postal_code"] = postal[0]
        work = (work[: postal.start()] + work[postal.end() :]).strip(" ,")
    if country is None and _VIETNAMESE.search(work):
        country = "VN"
    chunks = _chunks(work)
    for kind, content in chunks:
        _take(parts, kind, content, country)
    _place(parts, country)
    return Standardized(line, extra=parts)


def _postal_in(work: str) -> re.Match[str] | None:
    """The last run of exactly five or six digits: the postal code, written after the rest."""
    found = None
    for run in _DIGIT_RUN.finditer(work):
        if 5 <= run.end() - run.start() <= 6:
            found = run
    return found


def _chunks(work: str) -> list[tuple[str, str]]:
    """(kind, text) pieces: the text before the first marker is kind ``""``."""
    pieces: list[tuple[str, str]] = []
    start, kind = 0, ""
    for found in _MARKER.finditer(" " + work):
        # offsets in " " + work: the marker starts one after the separator, at found.start()
        # in work, and ends at found.end() - 1 in work
        pieces.append((kind, work[start : found.start()]))
        kind = found.lastgroup or ""
        start = found.end() - 1
    pieces.append((kind, work[start:]))
    chunks: list[tuple[str, str]] = []
    for kind, text in pieces:
        if "," not in text:
            segment = text.strip(" .")
            if segment:
                chunks.append((kind, segment))
            continue
        segments = [segment.strip(" .") for segment in text.split(",")]
        segments = [segment for segment in segments if segment]
        if not segments:
            continue
        chunks.append((kind, segments[0]))
        chunks.extend(("", segment) for segment in segments[1:])
    return chunks


def _take(parts: dict[str, Any], kind: str, content: str, country: str | None) -> None:
    if kind == "" and not parts.keys() - {"postal_code"}:
        house = _HOUSE.match(content)  # "12 Nguyễn Huệ", "123/45": the number comes first
        if house is not None:
            parts["house_number"] = house["house"]
            content = content[house.end() :].strip(" ,")
            if not content:
                return
            kind = "street"
    suffixed = _SUFFIX_MARKERS.match(content) if kind in ("", "street") else None
    if suffixed is not None:  # "Sukhumvit Road", "Khlong Toei District"
        kind = suffixed.lastgroup or ""
        content = suffixed["content"]
    if kind == "":
        parts.setdefault("_loose", []).append(content)
        return
    if kind == "city":
        kind = "province" if _province(content, country) is not None else "district"
    if kind in ("district", "subdistrict"):
        words = content.split(" ")
        for size in range(
            min(4, len(words) - 1), 0, -1
        ):  # "คลองเตย กรุงเทพฯ": a province at the end
            if _province(" ".join(words[-size:]), country) is not None:
                parts.setdefault("_loose", []).append(" ".join(words[-size:]))
                content = " ".join(words[:-size])
                break
    if kind not in parts:
        parts[kind] = content


def _place(parts: dict[str, Any], country: str | None) -> None:
    """Settle the province (from its marker or a loose segment) and check the postal code."""
    loose = parts.pop("_loose", [])
    candidates = ([parts.pop("province")] if "province" in parts else []) + loose[::-1]
    for candidate in candidates:
        found = _province(candidate, country)
        if found is not None:
            parts["province"] = found.name
            parts["country"] = found.country
            if found.code:
                parts["province_code"] = found.code
            break
    else:
        if candidates and len(candidates) > len(loose):
            parts["province"] = candidates[0]  # written after a province marker: kept as written
    postal = parts.get("postal_code")
    if postal and parts.get("country", country) == "TH" and len(postal) == 5:
        codes = _THAI_POSTAL_PREFIXES.get(postal[:2])
        if codes is not None and "province_code" in parts and parts["province_code"] not in codes:
            parts["postal_code_mismatch"] = True
    elif country and "country" not in parts:
        parts["country"] = country
