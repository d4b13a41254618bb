"""Countries as ISO 3166-1 alpha-2 codes, and gender as ``female``/``male``/``other``.

Country names come from ``data/countries.csv``: the countries South-East Asian retail sees
most, with their names in English, Thai, Vietnamese and the forms customers and clerks type
(``USA``, ``U.K.``, ``ประเทศไทย``, ``Việt Nam``, alpha-3 codes). A name not found there is
looked up, once and lazily, in the country names libphonenumber ships (every region, in about
twenty languages); any region code libphonenumber knows is accepted as alpha-2.
"""

import csv
import re
from functools import cache, lru_cache
from importlib import resources

import phonenumbers

from c360.standardize.cells import cell_text, detached, fold
from c360.standardize.model import EMPTY, Standardized

_PUNCTUATION = re.compile(r"[\s.,'’()\-_/&:]+")
_PREFIXES = ("ประเทศ", "nuoc ", "quoc gia ", "the ")
_CODE = re.compile(r"[A-Z]{2,3}")
_LOWER_ALPHA2 = re.compile(r"[a-z]{2}")


def country(raw: object) -> Standardized:
    """The ISO 3166-1 alpha-2 code (``TH``), or ``unknown_country``.

    ``extra["name"]`` is the English name when the country is in the package's table.
    """
    value = cell_text(raw)
    if value is None:
        return EMPTY
    return detached(_country(value))


@lru_cache(maxsize=4096)
def _country(value: str) -> Standardized:
    names, codes, english = _table()
    # Codes written as codes are codes first: "NGA" is Nigeria though "Nga" is Russia in
    # Vietnamese, "MY" and "my" are Malaysia though "Mỹ" is the United States.
    upper_code = _CODE.fullmatch(value) is not None or _LOWER_ALPHA2.fullmatch(value) is not None
    key = _key(value)
    found = (codes.get(key) or names.get(key)) if upper_code else (names.get(key) or codes.get(key))
    if found is None:
        found = _fallback_names().get(key)
    if found is None:
        return Standardized(None, flag="unknown_country")
    name = english.get(found)
    return Standardized(found, extra={"name": name} if name else {})


def _key(text: str) -> str:
    key = fold(text).strip()
    for prefix in _PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            key = key[len(prefix) :]
    return _PUNCTUATION.sub("", key)


@cache
def _table() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(name key -> alpha-2, code key -> alpha-2, alpha-2 -> English name)."""
    names: dict[str, str] = {}
    codes: dict[str, str] = {region.lower(): region for region in phonenumbers.SUPPORTED_REGIONS}
    english: dict[str, str] = {}
    source = resources.files("c360.standardize").joinpath("data/countries.csv")
    for row in csv.DictReader(source.read_text(encoding="utf-8").splitlines()):
        alpha2 = row["alpha2"]
        english[alpha2] = row["name"]
        codes[alpha2.lower()] = alpha2
        codes[row["alpha3"].lower()] = alpha2
        for name in [row["name"], *row["aliases"].split("|")]:
            names.setdefault(_key(name), alpha2)
    codes["uk"] = "GB"
    return names, codes, english


_FALLBACK_LANGUAGES = ("aa", "th", "vi", "zh", "ja", "ko", "fr", "de", "es", "pt", "it", "nl")


@cache
def _fallback_names() -> dict[str, str]:
    """Country names from libphonenumber's geocoding data, keyed like the table."""
    try:
        from phonenumbers.geodata.locale import LOCALE_DATA
    except ImportError:  # the data moved in a later libphonenumber: the table still works
        return {}
    names: dict[str, str] = {}
    for region, by_language in LOCALE_DATA.items():
        if len(region) != 2 or not region.isalpha():
            continue
        for language in _FALLBACK_LANGUAGES:
            name = by_language.get(language, "")
            for _ in range(3):  # "*xx" points at language xx; the data has a self-reference
                if name.startswith("*"):
                    name = by_language.get(name[1:], "")
            if name and not name.startswith("*"):
                names.setdefault(_key(name), region)
    return names


def _gender_key(text: str) -> str:
    return " ".join(fold(text).replace(".", "").split())


_GENDER_WORDS = {
    "male": "m|male|man|men|boy|masculine|mr|mister|sir|ชาย|ช|ผู้ชาย|เพศชาย|นาย|ด.ช.|เด็กชาย|nam"
    "|trai|con trai|ông|giới tính nam|男|男性|남|남성|1",
    "female": "f|female|woman|women|girl|feminine|mrs|ms|miss|madam|lady|หญิง|ญ|ผู้หญิง|เพศหญิง"
    "|นาง|นางสาว|น.ส.|ด.ญ.|เด็กหญิง|nữ|bà|gái|con gái|giới tính nữ|女|女性|여|여성|2",
    "other": "o|other|others|x|non-binary|nonbinary|non binary|nb|enby|genderqueer|queer|diverse"
    "|third gender|khác|อื่นๆ|อื่น ๆ|อื่น|เพศทางเลือก|lgbt|lgbtq|lgbtq+|3",
    "": "u|unknown|unk|unspecified|not specified|not known|not applicable|prefer not to say"
    "|rather not say|none|na|n/a|-|--|?|0|9|ไม่ระบุ|ไม่ทราบ|không rõ|không xác định",
}
_GENDERS: dict[str, str | None] = {
    _gender_key(word): found or None
    for found, words in _GENDER_WORDS.items()
    for word in words.split("|")
}


def gender(raw: object) -> Standardized:
    """``female``, ``male`` or ``other``.

    Understands M/F, English words and titles (Mr/Mrs/Ms), Thai (ชาย/หญิง, ช/ญ, นาย/นาง),
    Vietnamese (nam/nữ, ông/bà), and the ISO 5218 numbers 1 (male) and 2 (female); 0 and 9
    (ISO 5218 "not known" and "not applicable"), ``unknown``, ``ไม่ระบุ``... give ``EMPTY``.
    ``3`` is taken as other (the code many systems add to ISO 5218). Anything else is
    ``unknown_gender``.
    """
    if isinstance(raw, bool):
        return Standardized(None, flag="unknown_gender")
    value = cell_text(raw)
    if value is None:
        return EMPTY
    return _gender(value)


@lru_cache(maxsize=1024)
def _gender(value: str) -> Standardized:
    key = _gender_key(value)
    if key not in _GENDERS:
        return Standardized(None, flag="unknown_gender")
    found = _GENDERS[key]
    return EMPTY if found is None else Standardized(found)
