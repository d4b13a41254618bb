"""The trained part of the feedback analyser: linear models for sentiment and topic.

Trained by ``bench/train_feedback_model.py`` (scikit-learn, on the training and development
sets) and stored as plain JSON (``data/feedback_model.json.gz``: vocabularies, idf weights,
coefficients), so c360 needs neither scikit-learn nor pickles at run time: this module computes
the same features (TF-IDF of character n-grams within words and of word n-grams over the
folded text, each block L2-normalised, plus the lexicon's reading) and the softmax of the
linear scores. ``tests/unit/analysis`` checks it against scikit-learn's own ``predict_proba``.
"""

import gzip
import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

MODEL_PATH: Final = Path(__file__).parent / "data" / "feedback_model.json.gz"
CHAR_NGRAMS: Final = (2, 5)
WORD_NGRAMS: Final = (1, 2)
WORD_PATTERN: Final = r"(?u)\b\w+\b"
_WORD = re.compile(WORD_PATTERN)
_SPACE = re.compile(r"\s\s+")


def lexicon_features(text: str) -> list[float]:
    """What the lexicon reads in a raw text (``c360.analysis.text.lexical_reading``)."""
    from c360.analysis.text import (
        detect_language,
        find_cues,
        lexical_reading,
        normalise,
        sentiment_terms,
    )

    folded = normalise(text)
    net, weights, hits, _ = sentiment_terms(folded, detect_language(text))
    return lexical_reading(net, weights, hits, find_cues(text, folded), text)


def char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    """scikit-learn's ``char_wb`` analyzer: n-grams of each space-padded word."""
    grams: list[str] = []
    for word in _SPACE.sub(" ", text).split():
        padded = f" {word} "
        length = len(padded)
        for n in range(low, high + 1):
            offset = 0
            grams.append(padded[offset : offset + n])
            while offset + n < length:
                offset += 1
                grams.append(padded[offset : offset + n])
            if offset == 0:
                break
    return grams


def word_ngrams(text: str, low: int, high: int) -> list[str]:
    tokens = _WORD.findall(text)
    grams: list[str] = []
    for n in range(low, high + 1):
        grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return grams


@dataclass(frozen=True, slots=True)
class _Block:
    index: Mapping[str, int]
    idf: Sequence[float]

    def vector(self, grams: list[str], offset: int) -> dict[int, float]:
        counts = Counter(g for g in grams if g in self.index)
        values = {
            offset + self.index[g]: (1.0 + math.log(c)) * self.idf[self.index[g]]
            for g, c in counts.items()
        }
        norm = math.sqrt(sum(v * v for v in values.values()))
        return {k: v / norm for k, v in values.items()} if norm else {}


@dataclass(frozen=True, slots=True)
class Features:
    """The shared feature space: TF-IDF blocks of character and word n-grams, then the
    lexicon's reading."""

    char: _Block
    word: _Block

    def vector(self, folded: str, lexicon: Sequence[float]) -> dict[int, float]:
        x = self.char.vector(char_wb_ngrams(folded, *CHAR_NGRAMS), 0)
        x |= self.word.vector(word_ngrams(folded, *WORD_NGRAMS), len(self.char.idf))
        base = len(self.char.idf) + len(self.word.idf)
        x |= {base + i: v for i, v in enumerate(lexicon) if v}
        return x


@dataclass(frozen=True, slots=True)
class LinearModel:
    classes: tuple[str, ...]
    intercept: tuple[float, ...]
    coef: tuple[tuple[float, ...], ...]
    threshold: float | None = None

    def probabilities(self, x: Mapping[int, float]) -> dict[str, float]:
        scores = [
            b + sum(row[i] * v for i, v in x.items())
            for row, b in zip(self.coef, self.intercept, strict=True)
        ]
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        return {c: e / total for c, e in zip(self.classes, exps, strict=True)}


def _block(part: Mapping[str, Any]) -> _Block:
    terms = part["terms"]
    return _Block({t: i for i, t in enumerate(terms)}, tuple(part["idf"]))


def _linear(body: Mapping[str, Any]) -> LinearModel:
    return LinearModel(
        tuple(body["classes"]),
        tuple(body["intercept"]),
        tuple(tuple(row) for row in body["coef"]),
        body.get("threshold"),
    )


@dataclass(frozen=True, slots=True)
class Models:
    features: Features
    sentiment: LinearModel
    topic: LinearModel
    urgent: LinearModel
    """Classes ``no``/``yes``; urgent from ``threshold`` up (with or without a cue word)."""


@lru_cache(maxsize=2)
def load_models(path: Path = MODEL_PATH) -> Models | None:
    """The trained models, or None when the package has none (the lexicon decides alone)."""
    if not path.exists():
        return None
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        body = json.load(handle)
    models = body["models"]
    return Models(
        Features(_block(body["char"]), _block(body["word"])),
        _linear(models["sentiment"]),
        _linear(models["topic"]),
        _linear(models["urgent"]),
    )
