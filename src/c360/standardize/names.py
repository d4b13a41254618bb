"""Person names: cleaned for display, split into parts, and reduced to match keys.

Cleaning removes titles and honorifics (นาย, นางสาว, น.ส., คุณ, Mr, Mrs, Dr, Ông, Bà...), which
also hint at gender, and a nickname in brackets (``Somchai (Tom) Jaidee``, common in Thai
data). Latin names typed all in capitals or all in lower case get proper case; mixed case is
kept as typed (``McDonald``, ``DiCaprio``).

Match keys
----------
``name_key`` makes spellings of one name meet. A Latin token is folded (diacritics removed,
``đ`` -> ``d``, lower case); a Thai token is first romanized (``romanization.romanize_thai``).
Both then go through one coarse phonetic key, built for how Thai names are romanized: by
the official RTGS (``Natthaphon``, ``Suphaphon``), by older or English-minded habits
(``Nattapol``, ``Supaporn``, ``Jaidee``, ``Boonmee``), or in between. Per token, in order:

1. consonant spellings: ``ph``->``p``, ``th``->``t``, ``kh``->``k``, ``bh``->``b``,
   ``dh``->``d``, ``sh``/``j``/``tch``->``ch``, ``c`` (not ``ch``)/``q``/``ck``->``k``, ``g``
   (not in ``ng``)->``k``, ``x``/``z``->``s``, ``v``->``w``, ``sr``->``s`` (ศรี is "si",
   written ``Sri``);
2. double consonants collapse (``Kittisak`` = ``Kitisak``); double vowels are step 7's;
3. ``w``/``y`` after a vowel and not before one are vowels (``Kaew`` = ``Kaeo``,
   ``Chay`` = ``Chai``);
4. ``r`` and ``h`` after a vowel and not before one are dropped: the ``r`` of ``Porn``,
   ``Korn``, ``Prasert`` only lengthens a vowel, as ``h`` does in ``Sarah``;
5. a silent last ``e`` after vowel + consonant goes (``Choke`` = ``Chok``); the last consonant
   takes its RTGS final class (``d``/``s``/``ch``->``t``, ``b``/``f``->``p``), and so does an
   ``l`` before a consonant (``l``->``n``: ``Kamol`` = ``Kamon``, ``Cholticha`` = ``Chonticha``);
6. ``l`` and ``r`` become one letter (Thai speakers interchange them);
7. vowel runs fold by sound, length ignored: ``aa``/``ah``/``o`` -> ``a``; ``ee``/``ii``/``i``
   -> ``i``; ``oo``/``ou``/``uu``/``u`` -> ``u``; ``ae``/``e``/``oe``/``ei`` -> ``e``; ``ue``/
   ``eu``/``ua``/``uea`` -> ``ua``; ``ia``/``ie``/``ea`` -> ``ia``; ``ai``/``aii`` -> ``ai``;
   ``ao``/``au`` -> ``ao``; ``eo``/``aeo``/``eao`` -> ``eo``; ``io``/``iao`` -> ``io``...;
8. an ``a`` between two consonants is dropped. Thai does not write short ``a``/``o`` vowels,
   so whether there is one (``Thanaphon`` or ``Thonphon`` for ธนพล) is what romanizations
   disagree on most; a vowel at either end of the token is kept (``Nana`` is not ``Nan``).

So ``สมชาย`` (romanized ``somchai``), ``Somchai`` and ``Somchay`` are all ``smchai``, and
``Somsak`` is ``smsk``. The key is deliberately coarse: it finds candidates that other
evidence (phone, e-mail, birth date) confirms, and names that differ only in a short ``a``
versus ``o`` share it. Tokens keep their order; ``name_tokens_key`` sorts them, for data
that puts the family name first in one source and last in another.
"""

import re
import unicodedata
from functools import lru_cache
from typing import Any

from c360.standardize.cells import cell_text, detached, fold, squeeze
from c360.standardize.model import EMPTY, Standardized
from c360.standardize.romanization import romanize_thai

_THAI = re.compile(r"[\u0e00-\u0e7f]")
_THAI_CONSONANT_OR_LEADING = re.compile(r"[ก-ฮเ-ไ]")

# Thai titles: written form -> (canonical form, gender hint). They are often written
# without a space before the name (นายสมชาย, น.ส.สมหญิง).
_THAI_TITLES = {
    "นาย": ("นาย", "male"),
    "นาง": ("นาง", "female"),
    "นางสาว": ("นางสาว", "female"),
    "น.ส.": ("นางสาว", "female"),
    "น.ส": ("นางสาว", "female"),
    "เด็กชาย": ("เด็กชาย", "male"),
    "ด.ช.": ("เด็กชาย", "male"),
    "เด็กหญิง": ("เด็กหญิง", "female"),
    "ด.ญ.": ("เด็กหญิง", "female"),
    "คุณ": ("คุณ", None),
    "ดร.": ("ดร.", None),
    "ศ.ดร.": ("ศ.ดร.", None),
    "รศ.ดร.": ("รศ.ดร.", None),
    "ผศ.ดร.": ("ผศ.ดร.", None),
    "ศ.": ("ศ.", None),
    "รศ.": ("รศ.", None),
    "ผศ.": ("ผศ.", None),
    "นพ.": ("นพ.", "male"),
    "พญ.": ("พญ.", "female"),
}
_THAI_TITLE = re.compile("|".join(map(re.escape, sorted(_THAI_TITLES, key=len, reverse=True))))
# Latin titles, matched folded and without dots.
_LATIN_TITLES = {
    "mr": ("Mr", "male"),
    "mister": ("Mr", "male"),
    "sir": ("Sir", "male"),
    "mrs": ("Mrs", "female"),
    "ms": ("Ms", "female"),
    "miss": ("Miss", "female"),
    "madam": ("Madam", "female"),
    "mdm": ("Madam", "female"),
    "mx": ("Mx", None),
    "dr": ("Dr", None),
    "prof": ("Prof", None),
    "professor": ("Prof", None),
    "khun": ("Khun", None),
}
# Vietnamese forms of address, only as written with their diacritics (Ong, Ba and Chi
# without them are names) and only before a name. Anh and Cô are also given names, so
# they are titles only before a family name.
_VIETNAMESE_TITLES = {
    "Ông": "male",
    "Bà": "female",
    "Chị": "female",
    "Anh": "male",
    "Cô": "female",
}
_VIETNAMESE_TITLES_BEFORE_SURNAME = frozenset({"Anh", "Cô"})
_VIETNAMESE_SURNAMES = frozenset(
    [
        "nguyen",
        "tran",
        "le",
        "pham",
        "hoang",
        "huynh",
        "phan",
        "vu",
        "vo",
        "dang",
        "bui",
        "do",
        "ho",
        "ngo",
        "duong",
        "ly",
        "dinh",
        "doan",
        "lam",
        "mai",
        "trinh",
        "truong",
        "cao",
        "luong",
        "lu",
        "ta",
        "thai",
        "ha",
        "tang",
        "quach",
        "kieu",
        "chu",
        "chau",
        "van",
        "khuc",
        "trieu",
        "tong",
        "la",
        "lai",
        "to",
        "hua",
        "giang",
        "phung",
        "thach",
        "nghiem",
        "diep",
    ]
)
_VIETNAMESE_ONLY = re.compile("[ăđơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹĂĐƠƯ]")
_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "da", "di", "del", "della", "dos", "du", "ter", "ten"}
)
_NICKNAME = re.compile(r"\s*[(\[（]([^)\]）]*)[)\]）]\s*")
_EDGE_PUNCTUATION = " \t,;:-_/\\\"'`*#|"
_ORDERS = ("auto", "given_first", "family_first")
# A Latin title: a word, its dot if any, then the name ("Mr. John", "Mr.John", "Mr John").
_LATIN_TITLE = re.compile(r"(?P<word>[A-Za-z]+)(?P<dot>\.)?(?:\s+|(?<=\.))(?P<rest>\S.*)")


def name(raw: object, *, order: str = "auto") -> Standardized:
    """The cleaned full name, in its own script; ``invalid_name`` when no name is left.

    Options:
        order: ``"auto"`` (the default: Vietnamese names are family name first, detected by
            Vietnamese letters or a common Vietnamese family name in front; Thai and other
            names are given name first), ``"given_first"`` or ``"family_first"``.

    ``extra``: ``match_key`` and ``tokens_key`` (see the module docstring), ``first_name``,
    ``middle_name`` and ``last_name`` when present, ``title`` and ``gender_hint`` when a title
    was removed, ``nickname`` when one was given in brackets.
    """
    value = cell_text(raw)
    if value is None:
        return EMPTY
    return detached(_name(value, order))


@lru_cache(maxsize=65536)
def _name(value: str, order: str) -> Standardized:
    cleaned = _cleaned(value)
    if cleaned is None:
        return Standardized(None, flag="invalid_name")
    text, extra = cleaned
    tokens = text.split(" ")
    extra["match_key"] = _key_of(tokens)
    extra["tokens_key"] = " ".join(sorted(extra["match_key"].split()))
    for part, found in _parts(tokens, order).items():
        if found is not None:
            extra[part] = found
    return Standardized(text, extra=extra)


def full_name_parts(raw: object, *, order: str = "auto") -> dict[str, str | None]:
    """``first_name``, ``middle_name`` and ``last_name`` of a full name (``None`` when absent).

    ``Nguyễn Văn An`` -> last ``Nguyễn``, middle ``Văn``, first ``An``; ``สมชาย ใจดี`` -> first
    ``สมชาย``, last ``ใจดี``; a single word is a first name. ``order`` as for :func:`name`.
    """
    value = cell_text(raw)
    cleaned = _cleaned(value) if value is not None else None
    if cleaned is None:
        return {"first_name": None, "middle_name": None, "last_name": None}
    return _parts(cleaned[0].split(" "), order)


def name_key(text: str) -> str:
    """The match key of a name: one per spelling family, tokens in written order."""
    value = cell_text(text)
    cleaned = _cleaned(value) if value is not None else None
    return "" if cleaned is None else _key_of(cleaned[0].split(" "))


def name_tokens_key(text: str) -> str:
    """``name_key`` with its tokens sorted, so ``Nguyen Van An`` meets ``An Van Nguyen``."""
    return " ".join(sorted(name_key(text).split()))


def _cleaned(value: str) -> tuple[str, dict[str, Any]] | None:
    """The name without titles and nickname, proper-cased, and what was removed."""
    extra: dict[str, Any] = {}
    bracketed = "(" in value or "[" in value or "（" in value
    nickname = _NICKNAME.search(value) if bracketed else None
    if nickname is not None:
        if nickname[1].strip():
            extra["nickname"] = nickname[1].strip()
        value = value[: nickname.start()] + " " + value[nickname.end() :]
    text = squeeze(value).strip(_EDGE_PUNCTUATION)
    titles: list[str] = []
    hints: set[str] = set()
    for _ in range(3):
        found = _title(text)
        if found is None:
            break
        title, hint, text = found
        titles.append(title)
        if hint:
            hints.add(hint)
    text = text.strip(_EDGE_PUNCTUATION)
    if not any(char.isalpha() for char in text) or _only_title(text):
        return None
    if titles:
        extra["title"] = " ".join(titles)
        if len(hints) == 1:
            extra["gender_hint"] = hints.pop()
    return _proper_case(text), extra


def _only_title(text: str) -> bool:
    return len(text) <= 10 and (
        text in _THAI_TITLES
        or fold(text).rstrip(".") in _LATIN_TITLES
        or text in _VIETNAMESE_TITLES
    )


def _title(text: str) -> tuple[str, str | None, str] | None:
    """(canonical title, gender hint, rest) when ``text`` starts with a title and a name."""
    if _THAI.match(text):
        thai = _THAI_TITLE.match(text)
        if thai is None:
            return None
        written = thai[0]
        rest = text[len(written) :].lstrip(" .")
        separated = text[len(written) : len(written) + 1] in (" ", ".")
        if rest and (separated or _THAI_CONSONANT_OR_LEADING.match(rest)):
            title, hint = _THAI_TITLES[written]
            return title, hint, rest
        return None
    latin = _LATIN_TITLE.match(text)
    if latin is not None:
        word = latin["word"].lower()
        if word in _LATIN_TITLES:
            title, hint = _LATIN_TITLES[word]
            return title, hint, latin["rest"]
        if word == "k" and latin["dot"]:  # "K. Somchai": Thai business shorthand for Khun
            return "Khun", None, latin["rest"]
    head, _, rest = text.partition(" ")
    if not rest:
        return None
    vietnamese = unicodedata.normalize("NFC", head[:1].upper() + head[1:].lower())
    if vietnamese in _VIETNAMESE_TITLES:
        if vietnamese in _VIETNAMESE_TITLES_BEFORE_SURNAME and (
            fold(rest.split(" ", 1)[0]) not in _VIETNAMESE_SURNAMES or " " not in rest
        ):
            return None
        return vietnamese, _VIETNAMESE_TITLES[vietnamese], rest
    return None


def _proper_case(text: str) -> str:
    if text.isupper() or text.islower():  # uncased letters (Thai) do not count
        return " ".join(_capitalized(token) for token in text.split(" "))
    return text


def _capitalized(token: str) -> str:
    if _THAI.search(token):
        return token
    return re.sub(r"(^|[-'’])(\w)", lambda m: m[1] + m[2].upper(), token.lower())


def _parts(tokens: list[str], order: str) -> dict[str, str | None]:
    if order not in _ORDERS:
        raise ValueError(f"order must be one of {_ORDERS}, not {order!r}")
    if len(tokens) == 1:
        return {"first_name": tokens[0], "middle_name": None, "last_name": None}
    family_first = order == "family_first" or (order == "auto" and _family_first(tokens))
    if family_first:
        last, given = tokens[0], tokens[1:]
        return {
            "first_name": given[-1],
            "middle_name": " ".join(given[:-1]) or None,
            "last_name": last,
        }
    cut = len(tokens) - 1
    while cut > 1 and (tokens[cut - 1] == "ณ" or tokens[cut - 1] in _PARTICLES):
        cut -= 1
    return {
        "first_name": tokens[0],
        "middle_name": " ".join(tokens[1:cut]) or None,
        "last_name": " ".join(tokens[cut:]),
    }


def _family_first(tokens: list[str]) -> bool:
    if _THAI.search(tokens[0]):
        return False
    first_is_surname = fold(tokens[0]) in _VIETNAMESE_SURNAMES
    last_is_surname = fold(tokens[-1]) in _VIETNAMESE_SURNAMES
    if last_is_surname and not first_is_surname:
        return False  # "An Nguyen": a Vietnamese name written given name first
    return first_is_surname or any(_VIETNAMESE_ONLY.search(token) for token in tokens)


# Match keys -----------------------------------------------------------------------------------

_TOKEN_SPLIT = re.compile(r"[\s\-.'’]+")
_SPLITS_TOKEN = re.compile(r"[\s\-.'’]")
# Step 1 of the key, in order: (the letter the spelling needs, pattern, replacement). Fixed
# spellings are plain ``str.replace`` (the same as a regex substitution of a literal, and much
# faster); the two with a context are regexes.
_CONSONANT_SPELLINGS: tuple[tuple[str, str | re.Pattern[str], str], ...] = (
    ("t", "tch", "ch"),
    ("s", "sh", "ch"),
    ("j", "j", "ch"),
    ("p", "ph", "p"),
    ("t", "th", "t"),
    ("k", "kh", "k"),
    ("b", "bh", "b"),
    ("d", "dh", "d"),
    ("g", "gh", "k"),
    ("c", "ck", "k"),
    ("c", re.compile(r"c(?!h)"), "k"),
    ("q", "q", "k"),
    ("g", re.compile(r"(?<!n)g"), "k"),
    ("x", "x", "s"),
    ("z", "z", "s"),
    ("v", "v", "w"),
    ("s", "sr", "s"),
)
_DOUBLES = re.compile(r"([^aeiou])\1+")
_GLIDE_W = re.compile(r"(?<=[aeiou])w(?![aeiou])")
_GLIDE_Y = re.compile(r"(?<=[aeiou])y(?![aeiou])")
_SOFT_AFTER_VOWEL = re.compile(r"(?<=[aeiou])[rh](?![aeiou])")
_SILENT_E = re.compile(r"(?<=[aeiou][^aeiou])e$")
_L_FINAL = re.compile(r"l(?=[^aeiouy]|$)")
_T_FINAL = re.compile(r"(?:ch|[ds])$")
_P_FINAL = re.compile(r"b$|f$")
_VOWEL_RUN = re.compile(r"[aeiou]+")
_VOWEL_CLASSES = {
    "a": "a",
    "aa": "a",
    "o": "a",
    "oo": "u",
    "ou": "u",
    "u": "u",
    "uu": "u",
    "i": "i",
    "ii": "i",
    "ee": "i",
    "e": "e",
    "ae": "e",
    "oe": "e",
    "ei": "e",
    "oei": "e",
    "ue": "ua",
    "eu": "ua",
    "ua": "ua",
    "uea": "ua",
    "uee": "ua",
    "ia": "ia",
    "ie": "ia",
    "ea": "ia",
    "iea": "ia",
    "ai": "ai",
    "aii": "ai",
    "aai": "ai",
    "ao": "ao",
    "au": "ao",
    "aao": "ao",
    "eo": "eo",
    "aeo": "eo",
    "eao": "eo",
    "eeo": "eo",
    "io": "io",
    "iao": "io",
    "ieo": "io",
    "eio": "io",
    "oi": "oi",
    "ooi": "oi",
    "ui": "ui",
    "uai": "ui",
    "uay": "ui",
}
_MEDIAL_A = re.compile(r"(?<=[^aeiou])a(?=[^aeiou])")
_NOT_A_TO_Z = re.compile(r"[^a-z]+")


def _key_of(tokens: list[str]) -> str:
    keys = []
    for token in tokens:
        pieces = _TOKEN_SPLIT.split(token) if _SPLITS_TOKEN.search(token) else (token,)
        for piece in pieces:
            key = _token_key(piece)
            if key:
                keys.append(key)
    return " ".join(keys)


def phonetic_key(word: str) -> str:
    """The match key of one word (see the module docstring); ``""`` when it has no letters."""
    return _token_key(word)


@lru_cache(maxsize=131072)
def _token_key(token: str) -> str:
    """The steps of the module docstring. A step whose letters are not in the key is skipped
    (a substring test costs far less than a regex scan that finds nothing)."""
    latin = romanize_thai(token) if _THAI.search(token) else fold(token)
    key = _NOT_A_TO_Z.sub("", latin)
    if not key:
        return ""
    for letter, spelling, replacement in _CONSONANT_SPELLINGS:
        if letter not in key:
            continue
        if isinstance(spelling, str):
            key = key.replace(spelling, replacement)
        else:
            key = spelling.sub(replacement, key)
    key = _DOUBLES.sub(r"\1", key)
    if "w" in key:
        key = _GLIDE_W.sub("o", key)
    if "y" in key:
        key = _GLIDE_Y.sub("i", key)
    if "r" in key or "h" in key:
        key = _SOFT_AFTER_VOWEL.sub("", key)
    if key.endswith("e"):
        key = _SILENT_E.sub("", key)
    if "l" in key:
        key = _L_FINAL.sub("n", key)
    if key.endswith(("ch", "d", "s")):
        key = _T_FINAL.sub("t", key)
    if key.endswith(("b", "f")):
        key = _P_FINAL.sub("p", key)
    key = key.replace("l", "r")
    key = _VOWEL_RUN.sub(lambda run: _VOWEL_CLASSES.get(run[0], run[0]), key)
    if "a" in key:
        key = _MEDIAL_A.sub("", key)
    return _DOUBLES.sub(r"\1", key)
