"""Folding text for comparisons that ignore case or accents, one character for one character,
so that SQL can do the same with ``translate`` (PostgreSQL) or the same table (SQLite)."""

import unicodedata


def _tables() -> dict[str, dict[int, int]]:
    case: dict[int, int] = {}
    accents: dict[int, int] = {}
    for code in list(range(0x41, 0x5B)) + list(range(0xC0, 0x250)) + list(range(0x1E00, 0x1F00)):
        char = chr(code)
        lower = char.lower()
        if len(lower) == 1 and lower != char:
            case[code] = ord(lower)
        base = unicodedata.normalize("NFD", char)[0]
        if char in "Đđ":
            base = "D" if char == "Đ" else "d"
        elif char in "Øø":
            base = "O" if char == "Ø" else "o"
        elif char in "Łł":
            base = "L" if char == "Ł" else "l"
        if base != char and base.isascii() and base.isalpha():
            accents[code] = ord(base)
    both: dict[int, int] = {}
    for code in set(case) | set(accents):
        plain = accents.get(code, code)
        target = case.get(plain, plain)
        if target != code:
            both[code] = target
    return {"case": case, "accents": accents, "case_accents": both}


FOLD_TABLES: dict[str, dict[int, int]] = _tables()
"""Per way of folding, code point -> code point (one character to one character)."""


def fold(text: str, how: str | None) -> str:
    """``text`` with case and/or Latin accents folded (``Hà Nội`` -> ``ha noi`` with
    ``case_accents``); Thai and other scripts are left as they are."""
    if how is None:
        return text
    return text.translate(FOLD_TABLES[how])


def fold_pairs(how: str) -> tuple[str, str]:
    """The two strings ``translate(text, from, to)`` takes to fold like :func:`fold`."""
    table = FOLD_TABLES[how]
    keys = sorted(table)
    return "".join(chr(k) for k in keys), "".join(chr(table[k]) for k in keys)
