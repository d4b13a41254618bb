"""Thai script in Latin letters, close to the Royal Thai General System (RTGS), for match keys.

Only used to make a Thai name meet its romanizations (see ``names.name_key``), so it favours
what keys need over display quality: every consonant gets its RTGS initial or final sound,
explicit vowels their RTGS spelling, and syllables without a written vowel an ``a`` (open) or
``o`` (closed). Which of the two an unwritten vowel is, and whether a bare consonant closes one
syllable or opens the next, cannot be told from spelling alone (ธนพล is tha-na-phon, สมชาย is
som-chai); the key drops exactly those medial ``a``/``o`` vowels, so the guess does not matter.

PyThaiNLP's ``royin`` engine was tried first: it needs no download, but costs about 170 µs a
word (0.4 s for the first) and garbles common names (วิไลวรรณ -> "winwaian", ณัฐพล -> "natpn",
อนุชา -> "nucha"), so this module does the job with rules that suit names.
"""

from functools import lru_cache

_INITIAL = {
    **dict.fromkeys("ก", "k"),
    **dict.fromkeys("ขฃคฅฆ", "kh"),
    "ง": "ng",
    **dict.fromkeys("จฉชฌ", "ch"),
    **dict.fromkeys("ซศษส", "s"),
    "ญ": "y",
    **dict.fromkeys("ฎด", "d"),
    **dict.fromkeys("ฏต", "t"),
    **dict.fromkeys("ฐฑฒถทธ", "th"),
    **dict.fromkeys("ณน", "n"),
    "บ": "b",
    "ป": "p",
    **dict.fromkeys("ผพภ", "ph"),
    **dict.fromkeys("ฝฟ", "f"),
    "ม": "m",
    "ย": "y",
    "ร": "r",
    **dict.fromkeys("ลฬ", "l"),
    "ว": "w",
    "อ": "",
    **dict.fromkeys("หฮ", "h"),
}
_FINAL = {
    **dict.fromkeys("กขฃคฅฆ", "k"),
    "ง": "ng",
    **dict.fromkeys("จฉชซฌฎฏฐฑฒดตถทธศษส", "t"),
    **dict.fromkeys("ญณนรลฬ", "n"),
    **dict.fromkeys("บปผฝพฟภ", "p"),
    "ม": "m",
    "ย": "i",
    "ว": "o",
    "อ": "",
    **dict.fromkeys("หฮ", ""),
}
_CONSONANTS = frozenset(_INITIAL)
_LEADING = frozenset("เแโใไ")
_MARKS = frozenset("ัิีึืุู็")
_FOLLOWING = frozenset("าะำ")
_OPENERS = _MARKS | _FOLLOWING | {"ฤ"}
_TONES = str.maketrans("", "", "่้๊๋ๆฯํๅ")
_CLUSTERS = frozenset(
    [
        "กร",
        "กล",
        "กว",
        "ขร",
        "ขล",
        "ขว",
        "คร",
        "คล",
        "คว",
        "ตร",
        "ปร",
        "ปล",
        "พร",
        "พล",
        "ผล",
        "บร",
        "บล",
        "ดร",
        "ฟร",
        "ฟล",
        "ทร",
        "ศร",
        "สร",
        "ซร",
    ]
)
_SILENT_R = frozenset({"ทร", "ศร", "สร", "ซร"})
_SILENCED_BY_H = frozenset("งญนมยรลว")
_T_FINALS = frozenset("ชตทธ")
_A_OR_UU = frozenset("าู")
_BEFORE_SILENT_I = frozenset("าีูุั")
_LONG_VOWELS = frozenset("าีืู")
_GLIDES = frozenset("ยว")
_UPPER_LOWER_I_U = frozenset("ิีุู")
_RUE_AFTER = frozenset("พมน")
_SHORT_I_U = frozenset("ิุ")
_AI_LEADS = frozenset("ใไ")
_SHORT_AE = frozenset("็ะ")
_VOWELS_AFTER = {"ิ": "i", "ี": "i", "ึ": "ue", "ื": "ue", "ุ": "u", "ู": "u", "็": "o"}
_VOWEL_MARKS_AFTER = frozenset(_VOWELS_AFTER)
# Vowels with no consonant to carry them (a typo, or a word cut at a space).
_STRAY_VOWELS = {"า": "a", "ะ": "a", "ำ": "am", "ิ": "i", "ี": "i", "ุ": "u", "ู": "u"}
# Spellings the rules get wrong and names use a lot.
_IRREGULAR = {
    "เกียรติ": "kiatti",  # kiat-ti-sak; "kiat" at the end of a word, see romanize_thai
    "พระ": "phra",
    "ธรรม": "tham",
    "กรรม": "kam",
    "บุญ": "bun",
}

# วรพล is wo-ra-phon and อรทัย o-ra-thai, though พรชัย is phon-chai.
_WORD_START = {"วร": "wora", "อร": "ora"}


@lru_cache(maxsize=65536)
def romanize_thai(word: str) -> str:
    """A Thai word (one name token) in lower-case Latin letters; other characters are dropped."""
    text = word.translate(_TONES)
    if text.endswith("เกียรติ"):
        text = text[: -len("เกียรติ")] + "[kiat]"
    for thai, latin in _IRREGULAR.items():
        text = text.replace(thai, f"[{latin}]")
    if text[:2] in _WORD_START and text[2:3] in _CONSONANTS and text[2:3] != "ร":
        text = f"[{_WORD_START[text[:2]]}]{text[2:]}"
    return "".join(_Reader(_silence(text)).syllables())


def _silence(text: str) -> str:
    """Drop letters made silent by the thanthakhat (์), leaving ``|`` where they were."""
    out: list[str] = []
    for char in text:
        if char == "์":
            while out and out[-1] in _SHORT_I_U:
                out.pop()
            if out and out[-1] in _CONSONANTS:
                out.pop()
            out.append("|")
        else:
            out.append(char)
    return "".join(out)


class _Reader:
    """Reads syllables left to right; ``self.at`` is the index of the next character."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.closed = False  # whether the last syllable ended with a final consonant

    def char(self, offset: int = 0) -> str:
        index = self.at + offset
        return self.text[index] if 0 <= index < len(self.text) else ""

    def syllables(self) -> list[str]:
        out: list[str] = []
        while self.at < len(self.text):
            char = self.char()
            if char == "[":
                end = self.text.find("]", self.at)
                end = len(self.text) if end < 0 else end
                out.append(self.text[self.at + 1 : end])
                self.at = end + 1
                self.closed = True
            elif char == "|":
                self.at += 1
            elif char in _LEADING:
                out.append(self.leading())
            elif char in _CONSONANTS:
                out.append(self.consonant())
            elif char == "ฤ":
                self.at += 1
                out.append("rue" + self.final())
            else:
                self.at += 1
                out.append(_STRAY_VOWELS.get(char, ""))
        return out

    def starts_syllable(self, offset: int) -> bool:
        """Whether the consonant at ``offset`` opens a syllable rather than closing one."""
        after = self.char(offset + 1)
        if after in _OPENERS or after in _LEADING:
            return after in _OPENERS
        if after == "ร" and self.char(offset + 2) == "ร":
            return True
        if after in _CONSONANTS and self.char(offset + 2) == "":
            # สุภาพร, ธนากร, วิมล: the last two bare letters are a syllable (phon, kon, mon),
            # unless the last is the silent ร of เพชร or มิตร
            return not (after == "ร" and self.char(offset) in _T_FINALS)
        if after == "อ" and (self.char(offset + 2) in _CONSONANTS or not self.char(offset + 2)):
            return True
        if (
            after == "ว"
            and self.char(offset + 2) in _CONSONANTS
            and self.char(offset + 3) not in _OPENERS
        ):
            return True
        pair = self.char(offset) + after
        return pair in _CLUSTERS and self.char(offset + 2) in _OPENERS

    def onset(self) -> str:
        """The initial consonant (or cluster) at ``self.at``, consumed."""
        first, second = self.char(), self.char(1)
        if first == "ห" and second in _SILENCED_BY_H:
            self.at += 2
            return _INITIAL[second]
        if first == "อ" and second == "ย" and self.at == 0 and self.char(2) in _A_OR_UU:
            # อยู่, อย่า, อยาก, อย่าง: อ is a silent tone carrier (but อยุธยา is a-yut-tha-ya)
            self.at += 2
            return "y"
        after_lead = self.char(-1) in _LEADING and second != "ว"  # แก้ว is kaeo, not kwae
        if first + second in _CLUSTERS and (
            self.char(2) in _OPENERS or after_lead or self.char(2) == "อ"
        ):
            self.at += 2
            return "s" if first + second in _SILENT_R else _INITIAL[first] + _INITIAL[second]
        self.at += 1
        if self.char() == "ฤ":
            self.at += 1
            return _INITIAL[first] + ("rue" if first in _RUE_AFTER else "ri")
        return _INITIAL[first]

    def final(self) -> str:
        """The final consonant at ``self.at`` if there is one, consumed."""
        char = self.char()
        silent_i = self.char(1) == "ิ" and self.char(2) in ("", "|")
        if char in _CONSONANTS and silent_i and self.char(-1) in _BEFORE_SILENT_I:
            # ชาติ, ภูมิ, วุฒิ, สมบัติ: a last ิ after a long vowel (or ุ, ั) is not said
            self.at += 2
            self.closed = True
            return _FINAL[char]
        if char not in _CONSONANTS or self.starts_syllable(0):
            self.closed = False
            return ""
        long_before = self.char(-1) in _LONG_VOWELS and self.char(1) in _CONSONANTS
        if char not in _GLIDES and long_before and self.starts_syllable(1):
            self.closed = False  # ศรีสวัสดิ์ is si-sa-wat: after a long vowel, ส opens a syllable
            return ""
        if char == "ร" and self.char(-1) in _UPPER_LOWER_I_U and self.char(1) in _CONSONANTS:
            self.closed = False  # สุรชัย is su-ra-chai: ร after a vowel opens the next syllable
            return ""
        self.at += 1
        self.closed = True
        if self.char() == "ร" and char in _T_FINALS and self.char(1) not in _OPENERS:
            self.at += 1  # เพชร, บุตร, มิตร: ร after a final t is silent
        return _FINAL[char]

    def consonant(self) -> str:
        if self.closed and self.char(1) == "|" and self.char(-1) in _CONSONANTS:
            self.at += 1  # จันทร์: ท between a final and the silenced ร is silent too
            return ""
        initial = self.onset()
        if self.char(-1) == "ฤ":
            return initial + self.final()
        char = self.char()
        if char == "ั":
            self.at += 1
            if self.char() == "ว":
                self.at += 1
                return initial + "ua" + self.final()
            return initial + "a" + self.final()
        if char in _VOWEL_MARKS_AFTER:
            self.at += 1
            vowel = _VOWELS_AFTER[char]
            if char == "ื" and self.char() == "อ":
                self.at += 1
            return initial + vowel + self.final()
        if char == "า":
            self.at += 1
            return initial + "a" + self.final()
        if char == "ะ":
            self.at += 1
            self.closed = False
            return initial + "a"
        if char == "ำ":
            self.at += 1
            self.closed = False
            return initial + "am"
        if char == "ร" and self.char(1) == "ร":
            self.at += 2
            final = self.final()
            return initial + "a" + (final or "n")
        if char == "อ" and not self.starts_syllable(0):
            self.at += 1
            return initial + "o" + self.final()
        if char == "ว" and self.char(1) in _CONSONANTS and self.char(2) not in _OPENERS:
            self.at += 1
            return initial + "ua" + self.final()
        if char in _CONSONANTS and not self.starts_syllable(0):
            final = self.final()
            return initial + ("o" + final if final else "a")
        self.closed = False
        return initial + "a"

    def leading(self) -> str:
        lead = self.char()
        self.at += 1
        if self.char() not in _CONSONANTS:
            return ""
        initial = self.onset()
        prefix = ""
        if self.char() in _CONSONANTS and self.char(1) in ("ิ", "ี", "ื") and lead == "เ":
            prefix = initial + "a"  # เจริญ, เฉลิม, เสถียร: the vowel belongs to the second letter
            initial = self.onset()
        char = self.char()
        if lead in _AI_LEADS:
            if char == "ย":
                self.at += 1
            self.closed = False
            return prefix + initial + "ai"
        if lead == "โ":
            if char == "ะ":
                self.at += 1
                return prefix + initial + "o"
            return prefix + initial + "o" + self.final()
        if lead == "แ":
            if char in _SHORT_AE:
                self.at += 1
            return prefix + initial + "ae" + ("" if char == "ะ" else self.final())
        # เ
        if char == "็":
            self.at += 1
            return prefix + initial + "e" + self.final()
        if char == "ี" and self.char(1) == "ย":
            self.at += 2
            return prefix + initial + "ia" + self.final()
        if char == "ื" and self.char(1) == "อ":
            self.at += 2
            return prefix + initial + "uea" + self.final()
        if char == "ิ":
            self.at += 1
            return prefix + initial + "oe" + self.final()
        if char == "า":
            self.at += 1
            if self.char() == "ะ":
                self.at += 1
                return prefix + initial + "o"
            self.closed = False
            return prefix + initial + "ao"
        if char == "อ":
            self.at += 1
            return prefix + initial + "oe" + self.final()
        if char == "ย" and self.char(1) not in _OPENERS:
            self.at += 1
            self.closed = False
            return prefix + initial + "oei"
        if char == "ะ":
            self.at += 1
            self.closed = False
            return prefix + initial + "e"
        return prefix + initial + "e" + self.final()
