"""Reading customer feedback in Thai, Vietnamese and English: language, sentiment, topic and
urgency cues, offline and explainable.

Two parts, both offline (no download, no service):

- **a lexicon with rules** (``c360.analysis.lexicon``), which finds the words that carry
  sentiment and urgency and says why (``Analysis.hits``):

  - *language*: Thai when most letters are Thai; Vietnamese when the text has Vietnamese
    letters (ă â đ ê ô ơ ư and the tone marks), or, typed without diacritics, when enough of
    its words are Vietnamese syllables that are not English words; otherwise English;
  - *terms*: the text is folded (lower case; Vietnamese also without diacritics; a letter
    repeated three times or more kept twice, Thai once), then the language's terms and the
    English ones are found, longest first. A negator just before a term flips it ("not good"
    -1, "không tệ" +0.5) within its clause; terms after a contrast ("but", "nhưng", "แต่")
    count double;
  - *cues*: refund, cancel, legal, safety and anger terms; anger also from shouting (at least
    8 Latin letters, 70 % or more capitals) and three or more exclamation marks in a row;

- **trained linear models** (``c360.analysis.model``) for sentiment and topic, over character
  and word n-grams of the folded text plus the lexicon's reading, trained on labelled sets
  kept in the repository (``bench/train_feedback_model.py``). When the package holds them they
  decide the sentiment and topic (a configured extra topic found by its terms still wins);
  without them the lexicon decides: its sum (above 0 positive, below 0 negative), a cue
  without praise negative, topics by most term hits.

``score`` is -1..1: P(positive) - P(negative) (or the lexicon's polarity). A rating given with
the text (NPS 0-10, or 1-5 stars) is averaged in: NPS 0-6 is -1, 7-8 is 0, 9-10 is +1; stars
(r - 3) / 2; with both, above 0.2 is positive and below -0.2 negative.

``docs/benchmarks.md`` ("Feedback analysis") gives the measured accuracy.
"""

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final, Literal

from c360.analysis import lexicon
from c360.analysis.model import load_models
from c360.kernel.textfold import fold

Language = Literal["th", "vi", "en"]
Sentiment = Literal["negative", "neutral", "positive"]
LANGUAGES: Final[tuple[Language, ...]] = ("th", "vi", "en")
SENTIMENTS: Final[tuple[Sentiment, ...]] = ("negative", "neutral", "positive")
DEFAULT_TOPICS: Final[tuple[str, ...]] = (*lexicon.TOPIC_TERMS, "other")
CUES: Final[tuple[str, ...]] = tuple(lexicon.CUES)
MAX_CHARS: Final = 20_000
"""Only the first 20,000 characters are read (a long email's point comes early)."""

_THAI = re.compile(r"[\u0e00-\u0e7f]")
_LETTER = re.compile(r"[^\W\d_]")
_VIETNAMESE_LETTERS = re.compile(
    r"[ăâđêôơưĂÂĐÊÔƠƯ]|[àảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ]",
    re.IGNORECASE,
)
_VIETNAMESE_SYLLABLES: Final = frozenset(
    [
        "khong",
        "ko",
        "k",
        "hok",
        "dc",
        "duoc",
        "roi",
        "qua",
        "lam",
        "nhung",
        "cua",
        "cho",
        "voi",
        "minh",
        "toi",
        "ban",
        "shop",
        "hang",
        "giao",
        "nhan",
        "chua",
        "nua",
        "thi",
        "ma",
        "la",
        "va",
        "cung",
        "rat",
        "nhu",
        "sao",
        "vay",
        "the",
        "nay",
        "kia",
        "do",
        "day",
        "den",
        "di",
        "ve",
        "mua",
        "ban",
        "sp",
        "nv",
        "kh",
        "bi",
        "tot",
        "te",
        "cham",
        "nhanh",
        "lau",
        "dep",
        "xau",
        "gia",
        "tien",
        "hoan",
        "huy",
        "don",
        "goi",
        "nghe",
        "may",
        "chi",
        "anh",
        "em",
        "oi",
        "a",
        "nha",
        "nhe",
        "ak",
        "uh",
        "uk",
        "vs",
        "j",
        "gi",
        "hoi",
        "biet",
        "muon",
        "can",
        "phai",
        "duoc",
        "dat",
        "tra",
        "loi",
        "lien",
        "he",
        "ho",
        "tro",
        "ngay",
        "gio",
        "mot",
        "hai",
        "ba",
        "bon",
        "nam",
        "sau",
        "bay",
        "tam",
        "chin",
        "muoi",
        "trieu",
        "nghin",
        "dong",
        "ship",
        "shipper",
        "cam",
        "on",
        "xin",
        "chao",
        "ao",
        "mac",
        "vua",
        "vai",
        "dep",
        "xau",
        "mau",
        "nhieu",
        "cai",
        "nguoi",
        "khach",
        "thik",
        "ghe",
        "thiet",
        "hoai",
        "xiu",
        "truc",
        "hom",
        "tuan",
        "thang",
        "tien",
        "chat",
        "luong",
        "nhi",
        "roi",
        "dau",
        "khi",
        "bao",
        "lau",
        "tai",
        "nhe",
        "nha",
        "oi",
        "ak",
        "uh",
    ]
) - frozenset({"a", "k", "do", "the", "ban", "may", "bay", "chi", "den", "di", "em", "nam"})
"""Common Vietnamese syllables and phone shorthand typed without diacritics, not English words
(ambiguous ones such as "do", "the", "may" removed)."""

_REPEATS = re.compile(r"([^\W\d_])\1{2,}")
_THAI_REPEAT = re.compile(r"([\u0e01-\u0e2e])\1{2,}")
_SPACES = re.compile(r"\s+")
_BANGS = re.compile(r"!{3,}|！{3,}")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_CLAUSE_END = re.compile(r"[.!?;,]")
"""A negation does not reach past the end of its clause."""

NEGATION_REACH: Final = {"en": 16, "vi": 14, "th": 1}
"""A negator flips a term starting at most this many characters after its end."""
CONTRAST_WEIGHT: Final = 2.0


@dataclass(frozen=True, slots=True)
class Analysis:
    language: Language
    sentiment: Sentiment
    score: float
    """-1..1: the weighted polarity of the text (and rating, when one was given)."""
    topic: str
    topics: dict[str, int]
    """Hits per topic, for every topic with one."""
    cues: tuple[str, ...]
    """Urgency cues found (refund, cancel, legal, safety, anger), sorted."""
    hits: tuple[str, ...] = field(default=())
    """The sentiment terms found, as matched (folded), with a sign: why the label is what it
    is."""

    @property
    def urgent(self) -> bool:
        return bool(self.cues)

    def as_json(self) -> dict[str, object]:
        return {
            "language": self.language,
            "sentiment": self.sentiment,
            "score": self.score,
            "topic": self.topic,
            "topics": self.topics,
            "cues": list(self.cues),
            "urgent": self.urgent,
            "hits": list(self.hits),
        }


def normalise(text: str) -> str:
    """NFC, folded (case, Vietnamese diacritics), runs of a letter kept twice ("soooo" ->
    "soo"; Thai "มากกกก" -> "มาก"), spaces collapsed."""
    nfc = unicodedata.normalize("NFC", text[:MAX_CHARS])
    folded = fold(nfc, "case_accents").replace("’", "'")
    folded = _THAI_REPEAT.sub(r"\1", folded)
    folded = _REPEATS.sub(r"\1\1", folded)
    return _SPACES.sub(" ", folded).strip()


def detect_language(text: str, default: Language = "en") -> Language:
    """th, vi or en (``default`` when the text has no letters)."""
    sample = text[:2000]
    letters = _LETTER.findall(sample)
    if not letters:
        return default
    thai = sum(1 for ch in letters if _THAI.match(ch))
    if thai * 2 >= len(letters):
        return "th"
    if _VIETNAMESE_LETTERS.search(sample):
        return "vi"
    words = re.findall(r"[a-z]+", sample.lower())
    if words:
        vietnamese = sum(1 for w in words if w in _VIETNAMESE_SYLLABLES)
        if vietnamese >= 2 and vietnamese * 4 >= len(words):
            return "vi"
    return "en" if not thai else "th"


@dataclass(frozen=True, slots=True)
class _Matcher:
    pattern: "Terms"
    polarity: Mapping[str, int]
    negators: frozenset[str]
    contrasts: frozenset[str]


_LEADING_VOWELS = frozenset("เแโใไ")
_THAI_MARK_CHARS = frozenset(
    chr(c) for c in (0x0E31, *range(0x0E34, 0x0E3B), *range(0x0E47, 0x0E4F))
)


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch in ("_", "'")


@dataclass(frozen=True, slots=True)
class Found:
    """A term found in a text: ``text[start:end] == term``."""

    term: str
    start: int
    end: int


class Terms:
    """Finds terms in folded text, leftmost first and longest first at each place, without
    overlaps: Latin terms only as whole words (not next to a letter, digit or apostrophe);
    Thai terms anywhere (Thai writes no spaces), except after a leading vowel or before a
    vowel or tone mark, which would make them part of another syllable (ดี in เดียว, ไว in
    ไว้).

    A dictionary of terms by first character and length, not a regular expression of
    alternatives: a lexicon of a thousand terms reads a text in one pass.
    """

    def __init__(self, terms: Iterable[str]) -> None:
        self._terms = frozenset(t for t in terms if t)
        lengths: dict[str, set[int]] = {}
        for term in self._terms:
            lengths.setdefault(term[0], set()).add(len(term))
        self._lengths = {first: sorted(ls, reverse=True) for first, ls in lengths.items()}
        self._thai = frozenset(t for t in self._terms if _THAI.search(t))

    def _fits(self, text: str, term: str, start: int, end: int) -> bool:
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if term in self._thai:
            return before not in _LEADING_VOWELS and after not in _THAI_MARK_CHARS
        return not _word_char(before) and not _word_char(after)

    def finditer(self, text: str) -> Iterator[Found]:
        i, n = 0, len(text)
        while i < n:
            for size in self._lengths.get(text[i], ()):
                end = i + size
                if (
                    end <= n
                    and text[i:end] in self._terms
                    and self._fits(text, text[i:end], i, end)
                ):
                    yield Found(text[i:end], i, end)
                    i = end
                    break
            else:
                i += 1

    def search(self, text: str) -> Found | None:
        return next(self.finditer(text), None)

    def findall(self, text: str) -> list[str]:
        return [found.term for found in self.finditer(text)]


def _pattern(terms: Iterable[str]) -> Terms:
    return Terms(terms)


@lru_cache(maxsize=8)
def _matcher(language: Language) -> _Matcher:
    polarity: dict[str, int] = {}
    for lang in ("*", "en", language) if language != "en" else ("*", "en"):
        for term, value in lexicon.SENTIMENT[lang].items():
            polarity[normalise(term)] = value
    negators = frozenset(normalise(t) for t in lexicon.NEGATORS[language])
    contrasts = frozenset(normalise(t) for t in lexicon.CONTRASTS[language])
    if language != "en":
        negators |= frozenset(normalise(t) for t in lexicon.NEGATORS["en"])
        contrasts |= frozenset(normalise(t) for t in lexicon.CONTRASTS["en"])
    pattern = _pattern([*polarity, *negators, *contrasts])
    return _Matcher(pattern, polarity, negators, contrasts)


def sentiment_terms(folded: str, language: Language) -> tuple[float, float, tuple[str, ...], bool]:
    """(net, total weight, hits, any praise)."""
    matcher = _matcher(language)
    reach = NEGATION_REACH[language]
    net = weight_sum = 0.0
    hits: list[str] = []
    praised = False
    negated_until = negated_from = -1
    weight = 1.0
    for match in matcher.pattern.finditer(folded):
        term = match.term
        if term in matcher.contrasts and term not in matcher.polarity:
            weight = CONTRAST_WEIGHT
            negated_until = -1
            continue
        if term in matcher.negators and term not in matcher.polarity:
            negated_until, negated_from = match.end + reach, match.end
            continue
        value = float(matcher.polarity.get(term, 0))
        # a term that carries its own negator ("ไม่พอใจ", "not working") is not flipped again
        negated = (
            match.start <= negated_until
            and not _starts_negated(term, matcher)
            and not _CLAUSE_END.search(folded, negated_from, match.start)
        )
        negated_until = -1
        if not value:
            continue
        if negated:
            value = -value if value > 0 else 0.5
        net += value * weight
        weight_sum += weight
        praised = praised or value > 0
        hits.append(("+" if value > 0 else "-") + term)
    return net, weight_sum, tuple(hits), praised


def _starts_negated(term: str, matcher: _Matcher) -> bool:
    return any(term.startswith(n) and term != n for n in matcher.negators)


def lexical_reading(
    net: float, weights: float, hits: tuple[str, ...], cues: tuple[str, ...], text: str
) -> list[float]:
    """What the lexicon read, as the models' last features: net polarity (-1..1), any
    praise, any complaint, any urgency cue, a question mark."""
    return [
        net / weights if weights else 0.0,
        1.0 if any(h.startswith("+") for h in hits) else 0.0,
        1.0 if any(h.startswith("-") for h in hits) else 0.0,
        1.0 if cues else 0.0,
        1.0 if "?" in text else 0.0,
    ]


def rating_score(rating: float | None, scale: int | None) -> float | None:
    """-1..1 from a rating: NPS (scale 10: 0-6 -1, 7-8 0, 9-10 +1) or 1..scale stars."""
    if rating is None:
        return None
    if scale is None or scale == 10:
        if not 0 <= rating <= 10:
            return None
        return -1.0 if rating <= 6 else (0.0 if rating <= 8 else 1.0)
    if scale < 2 or not 1 <= rating <= scale:
        return None
    middle = (scale + 1) / 2
    return max(-1.0, min(1.0, (rating - middle) / (middle - 1)))


def find_cues(text: str, folded: str | None = None) -> tuple[str, ...]:
    folded = normalise(text) if folded is None else folded
    found = {cue for cue, pattern in _cue_patterns().items() if pattern.search(folded)}
    latin = _LATIN_LETTER.findall(text[:MAX_CHARS])
    if len(latin) >= 8 and sum(1 for ch in latin if ch.isupper()) >= 0.7 * len(latin):
        found.add("anger")
    if _BANGS.search(text[:MAX_CHARS]):
        found.add("anger")
    return tuple(sorted(found))


@lru_cache(maxsize=1)
def _cue_patterns() -> dict[str, Terms]:
    return {cue: _pattern(normalise(t) for t in terms) for cue, terms in lexicon.CUES.items()}


@lru_cache(maxsize=16)
def _topic_patterns(
    extra: tuple[tuple[str, tuple[str, ...]], ...],
) -> dict[str, Terms]:
    terms: dict[str, list[str]] = {t: list(v) for t, v in lexicon.TOPIC_TERMS.items()}
    for topic, more in extra:
        terms.setdefault(topic, []).extend(more)
    return {topic: _pattern(normalise(t) for t in words) for topic, words in terms.items() if words}


def find_topics(
    folded: str, extra: Mapping[str, Iterable[str]] | None = None
) -> tuple[str, dict[str, int]]:
    """The main topic and the hits of each topic found (``extra``: more topics or terms)."""
    key = tuple(sorted((t, tuple(v)) for t, v in (extra or {}).items()))
    counts: dict[str, int] = {}
    for topic, pattern in _topic_patterns(key).items():
        found = len(pattern.findall(folded))
        if found:
            counts[topic] = found
    if not counts:
        return "other", {}
    best = max(counts.values())
    order = list(_topic_patterns(key))
    return min((t for t, c in counts.items() if c == best), key=order.index), counts


def analyse(
    text: str | None,
    *,
    rating: float | None = None,
    scale: int | None = None,
    language: str | None = None,
    topics: Mapping[str, Iterable[str]] | None = None,
) -> Analysis:
    """Everything the analyser reads in one piece of feedback (``text`` may be empty when only
    a rating was given; ``language`` overrides detection when it is th, vi or en)."""
    body = text or ""
    lang: Language = detect_language(body)
    for known in LANGUAGES:
        if language == known:
            lang = known
    folded = normalise(body)
    net, weights, hits, praised = sentiment_terms(folded, lang)
    cues = find_cues(body, folded)
    topic, counts = find_topics(folded, topics)
    models = load_models() if folded else None
    if models is not None:
        lexical = lexical_reading(net, weights, hits, cues, body)
        x = models.features.vector(folded, lexical)
        feeling = models.sentiment.probabilities(x)
        text_score: float | None = feeling.get("positive", 0.0) - feeling.get("negative", 0.0)
        text_label = max(feeling, key=lambda k: feeling[k])
        about = models.topic.probabilities(x)
        pressing = models.urgent.probabilities(x).get("yes", 0.0)
        if not cues and pressing >= (models.urgent.threshold or 0.5):
            cues = ("urgent",)  # no cue word, but written like the urgent items it learnt
        extra = set(topics or {}) - set(lexicon.TOPIC_TERMS)
        if topic not in extra:
            topic = max(about, key=lambda k: about[k])
    else:
        text_score = net / weights if weights else None
        if cues and not praised and net >= 0:
            net, text_score = -1.0, -1.0 if text_score is None else min(text_score, -0.5)
        text_label = "positive" if net > 0 else ("negative" if net < 0 else "neutral")
    rated = rating_score(rating, scale)
    parts = [s for s in (text_score, rated) if s is not None]
    score = round(sum(parts) / len(parts), 3) if parts else 0.0
    if text_score is not None and rated is not None:
        label: Sentiment = (
            "positive" if score > 0.2 else ("negative" if score < -0.2 else "neutral")
        )
    elif rated is not None:
        label = "positive" if rated > 0 else ("negative" if rated < 0 else "neutral")
    else:
        label = text_label  # type: ignore[assignment]
    return Analysis(lang, label, score, topic, counts, cues, hits)


def text_sentiment(text: str) -> float | None:
    """-1..1 for a text alone; None when it holds no sentiment term (the computed traits'
    ``sentiment`` reads this)."""
    lang = detect_language(text)
    net, weights, _, _ = sentiment_terms(normalise(text), lang)
    return net / weights if weights else None
