"""Profile search: a name in any script or spelling, an e-mail, a phone number in any local
format, or any identifier, typed into one box.

Each live profile has search terms in ``profile_terms`` (derived: rebuilt from the log), one
namespace per kind so that kinds never collide:

``n:<token>``
    a name token (first, middle, last, full name and nickname, the surviving values and every
    alternative), case-folded, three ways: as written (``n:nguyễn``, ``n:สมชาย``), without
    diacritics or tone marks (``n:nguyen``; ``đ`` is ``d``), and Thai romanized (``n:somchai``).
    A token with inner punctuation (``O'Brien``, ``Jean-Pierre``) gives its pieces and the
    pieces joined (``n:o``, ``n:brien``, ``n:obrien``).
``k:<key>``
    the coarse phonetic key of a name token (``names.phonetic_key``), so that ``Jaidee`` meets
    ใจดี (romanized ``chaidi``) and ``Somchay`` meets ``Somchai``.
``e:<address>``
    a standardized e-mail address.
``p:<E.164>``
    a standardized phone number.
``i:<value>``
    any other identifier (a source's customer id, a LINE, Zalo or user id), case-folded.

A query is split into words; a run of words that together standardize as a phone number
(``+66 81 234 5678``, ``0912 345 678``) is one word. A profile matches when every word
matches: an e-mail exactly, digits as an identifier or as a phone number read as Thai or
Vietnamese, any other word as an identifier or as a name token (exactly as typed, without
diacritics, romanized or by phonetic key), the last word also as the start of a name token
(type-ahead; not a lone letter, which would read a whole letter of the index). A Thai title
typed before a name (คุณสมชาย) is dropped, as it is from indexed names. Each word scores its
best match: 1.0 exact as typed, 0.9 exact in another form (without diacritics, romanized),
0.5 a prefix, 0.3 the phonetic key. Results are ordered by the sum, then by profile id.

Every lookup is an index probe on ``term`` (an equality or a range ``prefix <= term <
successor``), so it reads only the rows it finds. The range is exact under code-point order:
SQLite's default, and PostgreSQL's ``C`` collations. Under a language collation (``en_US``)
the range is compared with ``COLLATE "C"``, which stays correct but cannot use the index
unless ``term`` itself is declared ``COLLATE "C"``.
"""

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Integer, Select, case, func, literal, select, text, union_all

from c360.errors import InvalidInput
from c360.standardize import email as standard_email
from c360.standardize import name as standard_name
from c360.standardize import phone as standard_phone
from c360.standardize.cells import cell_text, fold
from c360.standardize.names import phonetic_key
from c360.standardize.romanization import romanize_thai
from c360.storage.dialect import insert_many_ignoring_duplicates, key_in
from c360.storage.tables import profile_terms

NAME_FIELDS: tuple[str, ...] = ("first_name", "middle_name", "last_name", "full_name", "nickname")
"""Golden-record fields whose tokens are searchable names."""

IDENTIFIER_FIELDS: tuple[str, ...] = ("line_user_id", "zalo_user_id")
"""Golden-record fields searchable as identifiers (besides the profile's own identifiers).
``national_id`` is left out on purpose: a sensitive value is not copied into the index."""

MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 8
MAX_LIMIT = 1000
MAX_TERM_CHARS = 200
"""The width of ``profile_terms.term``; longer terms are cut, on both sides alike."""

_PHONE_REGIONS = ("TH", "VN")
_MIN_PREFIX_CHARS = 2
_MIN_PHONETIC_CHARS = 2
_MAX_PHONE_WORDS = 6  # "(+84) 91 234 56 78"

# Points (hundredths of the score) of each kind of match.
_AS_TYPED = 100
_OTHER_FORM = 90
_PREFIX = 50
_PHONETIC = 30

_ONLY_THAI = re.compile(r"[\u0e00-\u0e7f]+")
_DIGIT = re.compile(r"\d")
_PHONE_WORD = re.compile(r"[+(]*\d[\d().\-]*|[+(]+")
# Inside a name token: what separates pieces (Thai vowel and tone marks are letters here).
_PIECE_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―.,;:!?'’‘ʼ`\"“”()\[\]{}<>/\\|&+*_~#@=]+")
# Full-width ASCII (typed on Chinese, Japanese and Korean keyboards) and the ideographic space.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def terms_of(golden: dict[str, Any] | None, identifiers: Iterable[tuple[str, str]]) -> set[str]:
    """Search terms of one profile, from its golden record (``GoldenRecord.as_json()``) and its
    identifiers as ``(type, value)`` pairs."""
    terms: set[str] = set()
    for value in _field_values(golden, NAME_FIELDS):
        for word in _normalized(value).split():
            pieces = _pieces(word)
            for piece in pieces:
                terms |= _name_terms(piece)
            if len(pieces) > 1:
                terms |= _name_terms("".join(pieces))
    for value in _field_values(golden, ("email",)):
        terms.add(_email_term(value))
    for value in _field_values(golden, ("phone",)):
        terms.add(_phone_term(value))
    for value in _field_values(golden, IDENTIFIER_FIELDS):
        terms.add(_term("i:", _normalized(value)))
    for id_type, raw in identifiers:
        written = cell_text(raw)
        if written is None:
            continue
        if id_type == "email":
            terms.add(_email_term(written))
        elif id_type == "phone":
            terms.add(_phone_term(written))
        else:
            terms.add(_term("i:", _normalized(written)))
    terms.discard("")
    return terms


def index_profiles(conn: Connection, terms: Mapping[str, set[str]]) -> None:
    """Replace the search terms of each given profile (an empty set removes it from search)."""
    if not terms:
        return
    ids = sorted(terms)
    rows = []
    for profile_id in ids:
        for term in sorted(terms[profile_id]):
            if not term or len(term) > MAX_TERM_CHARS:
                raise ValueError(
                    f"search term {term[:40]!r} of profile {profile_id} is empty or longer "
                    f"than {MAX_TERM_CHARS} characters: build terms with terms_of()"
                )
            rows.append({"term": term, "profile_id": profile_id})
    conn.execute(profile_terms.delete().where(key_in(conn, profile_terms.c.profile_id, ids)))
    insert_many_ignoring_duplicates(conn, profile_terms, rows)


def search_profiles(conn: Connection, query: str, limit: int = 20) -> list[tuple[str, float]]:
    """Ids of the profiles matching every word of ``query``, best first, with their score."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"search limit must be between 1 and {MAX_LIMIT}, not {limit}")
    words = parse_query(query)
    code_point_order = _sorts_by_code_point(conn)
    parts = [
        _word_matches(word, code_point_order).subquery(f"w{i}") for i, word in enumerate(words)
    ]
    first = parts[0]
    joined: Any = first
    for part in parts[1:]:
        joined = joined.join(part, part.c.profile_id == first.c.profile_id)
    points = sum((part.c.points for part in parts[1:]), first.c.points).label("points")
    rows = conn.execute(
        select(first.c.profile_id, points)
        .select_from(joined)
        .order_by(points.desc(), first.c.profile_id)
        .limit(limit)
    ).all()
    return [(str(profile_id), int(total) / 100) for profile_id, total in rows]


# Queries ---------------------------------------------------------------------------------------


class NothingToSearch(InvalidInput):
    """A query with no letter or digit in it (spaces, punctuation): the CLI says so; the API
    answers with no one, as a search box does."""


@dataclass(frozen=True, slots=True)
class QueryWord:
    """What one word of a query may match: exact terms and term prefixes, with their points."""

    text: str
    exact: dict[str, int]
    prefixes: dict[str, int]


def parse_query(query: str) -> list[QueryWord]:
    """The words of a search query and the terms each may match; ``InvalidInput`` when the
    query is empty, too long or has too many words."""
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(
            f"search query is {len(query)} characters long; shorten it to at most {MAX_QUERY_CHARS}"
        )
    # control characters (a NUL PostgreSQL cannot even compare) separate words like spaces
    normalized = cell_text("".join(" " if unicodedata.category(c) == "Cc" else c for c in query))
    if normalized is None:
        raise NothingToSearch(
            "search query is empty: type a name, e-mail, phone number or identifier"
        )
    raw_words = _with_phone_runs(normalized.translate(_FULL_WIDTH).split())
    raw_words = _without_thai_titles(raw_words)
    words: list[QueryWord] = []
    for index, raw in enumerate(raw_words):
        words.extend(_query_words(raw, last=index == len(raw_words) - 1))
    if len(words) == 1 and words[0].prefixes and len(words[0].text) < _MIN_PREFIX_CHARS:
        # one letter alone would read a whole letter of the index; after other words it
        # narrows what they found
        words = [QueryWord(words[0].text, words[0].exact, {})]
    if not words:
        raise NothingToSearch(
            f"search query {query!r} has no letters or digits: type a name, e-mail, phone "
            "number or identifier"
        )
    if len(words) > MAX_QUERY_WORDS:
        raise InvalidInput(
            f"search query has {len(words)} words; use at most {MAX_QUERY_WORDS} (a name, an "
            "e-mail, a phone number or an identifier)"
        )
    return words


def _with_phone_runs(raw_words: list[str]) -> list[str]:
    """The words, with each run of words that reads as one phone number joined into one."""
    joined: list[str] = []
    start = 0
    while start < len(raw_words):
        end = start
        while (
            end < len(raw_words)
            and end - start < _MAX_PHONE_WORDS
            and _PHONE_WORD.fullmatch(raw_words[end])
        ):
            end += 1
        taken = 1
        for stop in range(end, start + 1, -1):  # the longest run that is a phone number
            if _phone_terms(" ".join(raw_words[start:stop])):
                taken = stop - start
                break
        joined.append(" ".join(raw_words[start : start + taken]))
        start += taken
    return joined


def _without_thai_titles(raw_words: list[str]) -> list[str]:
    """Thai words without a title in front (คุณสมชาย, นายสมชาย): names are indexed without
    one. A word that is only a title is dropped when other words remain."""
    kept: list[str] = []
    for raw in raw_words:
        if not _ONLY_THAI.fullmatch(raw):
            kept.append(raw)
            continue
        cleaned = standard_name(raw)
        if cleaned.ok:
            kept.append(str(cleaned.value))
        elif len(raw_words) == 1:
            kept.append(raw)
    return kept


def _query_words(raw: str, *, last: bool) -> list[QueryWord]:
    identifier = _term("i:", _normalized(raw))
    if "@" in raw:
        exact = {identifier: _AS_TYPED}
        found = standard_email(raw)
        if found.ok and found.value:
            exact[_term("e:", str(found.value))] = _AS_TYPED
        return [QueryWord(raw, exact, {})]
    if _DIGIT.search(raw):
        exact = {identifier: _AS_TYPED}
        exact.update(dict.fromkeys(_phone_terms(raw), _AS_TYPED))
        return [QueryWord(raw, exact, {})]
    pieces = _pieces(_normalized(raw))
    words = []
    for index, piece in enumerate(pieces):
        exact = {identifier: _AS_TYPED}
        for term in _name_terms(piece):
            kind = _PHONETIC if term.startswith("k:") else _OTHER_FORM
            exact.setdefault(term, kind)
        exact[_term("n:", piece)] = _AS_TYPED
        prefixes: dict[str, int] = {}
        if last and index == len(pieces) - 1:
            prefixes = dict.fromkeys({_term("n:", piece), _term("n:", fold(piece))}, _PREFIX)
        words.append(QueryWord(piece, exact, prefixes))
    return words


def _word_matches(word: QueryWord, code_point_order: bool) -> Select[Any]:
    """(profile_id, points) of every profile the word matches, its best match per profile."""
    term = profile_terms.c.term
    ranged = term if code_point_order else term.collate("C")
    lookups = [
        select(profile_terms.c.profile_id, literal(points, Integer).label("points")).where(
            term == exact
        )
        for exact, points in word.exact.items()
        if exact not in word.prefixes  # read by the range below
    ]
    for prefix, points in word.prefixes.items():
        scored: Any = literal(points, Integer)
        if prefix in word.exact:
            scored = case((term == prefix, word.exact[prefix]), else_=scored)
        lookups.append(
            select(profile_terms.c.profile_id, scored.label("points")).where(
                ranged >= prefix, ranged < _successor(prefix)
            )
        )
    found = union_all(*lookups).subquery()
    return select(found.c.profile_id, func.max(found.c.points).label("points")).group_by(
        found.c.profile_id
    )


def _successor(prefix: str) -> str:
    """The least string after every string that starts with ``prefix``, in code-point order."""
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates are no characters
        last = 0xE000
    return prefix[:-1] + chr(last)


_CODE_POINT_ORDER = "c360.search.code_point_order"


def _sorts_by_code_point(conn: Connection) -> bool:
    """Whether the store compares ``term`` in code-point order, where a prefix is a range.

    PostgreSQL follows the database's collation (asked once per pooled connection): a
    language collation (``en_US``, ``th_TH``, ICU) sorts ``B`` after ``a``, ignores
    punctuation at first and moves Thai leading vowels."""
    if conn.dialect.name != "postgresql":
        return True
    known = conn.info.get(_CODE_POINT_ORDER)
    if known is None:
        probe = "SELECT 'B' < 'a' AND 'a b' < 'a-' AND 'a-' < 'ab' AND 'กา' < 'เก'"
        known = conn.info[_CODE_POINT_ORDER] = bool(conn.execute(text(probe)).scalar())
    return bool(known)


# Terms ----------------------------------------------------------------------------------------


def _field_values(golden: Mapping[str, Any] | None, fields: Iterable[str]) -> list[str]:
    """The surviving value and every alternative of each field, as text."""
    if not isinstance(golden, Mapping):
        return []
    values = golden.get("values")
    alternatives = golden.get("alternatives")
    found: list[Any] = []
    for field in fields:
        chosen = values.get(field) if isinstance(values, Mapping) else None
        if isinstance(chosen, Mapping):
            found.append(chosen.get("value"))
        others = alternatives.get(field) if isinstance(alternatives, Mapping) else None
        if isinstance(others, list):
            found.extend(o.get("value") for o in others if isinstance(o, Mapping))
    texts = []
    for value in found:
        if isinstance(value, Mapping | list):
            continue
        written = cell_text(value)
        if written is not None:
            texts.append(written)
    return texts


def _normalized(value: str) -> str:
    """Case-folded NFC text with full-width ASCII made ASCII."""
    return unicodedata.normalize("NFC", value.translate(_FULL_WIDTH)).casefold()


def _pieces(word: str) -> list[str]:
    """The pieces of a name token between inner punctuation."""
    return [piece for piece in _PIECE_SEPARATORS.split(word) if piece]


def _name_terms(piece: str) -> set[str]:
    """The terms of one normalized name piece: as written, folded, romanized, phonetic."""
    terms = {_term("n:", piece), _term("n:", fold(piece))}
    if _ONLY_THAI.fullmatch(piece):
        romanized = romanize_thai(piece)
        if romanized:
            terms.add(_term("n:", romanized.casefold()))
    key = phonetic_key(piece)
    if len(key) >= _MIN_PHONETIC_CHARS:  # a one-letter key would match half the index
        terms.add(_term("k:", key))
    return terms


def _email_term(value: str) -> str:
    found = standard_email(value)
    if found.ok and found.value:
        return _term("e:", str(found.value))
    return _term("i:", _normalized(value))


def _phone_term(value: str) -> str:
    found = standard_phone(value, default_region=_PHONE_REGIONS[0])
    if found.ok and found.value:
        return _term("p:", str(found.value))
    return _term("i:", _normalized(value))


def _phone_terms(value: str) -> set[str]:
    """The phone terms a number typed by a person may be stored under (Thai or Vietnamese)."""
    if len(_DIGIT.findall(value)) < 6:
        return set()
    terms = set()
    for region in _PHONE_REGIONS:
        found = standard_phone(value, default_region=region)
        if found.ok and found.value:
            terms.add(_term("p:", str(found.value)))
    return terms


def _term(kind: str, value: str) -> str:
    """A namespaced term cut to the column width (``""`` for an empty value)."""
    value = value.strip()
    return (kind + value)[:MAX_TERM_CHARS] if value else ""
