"""Train the feedback analyser's sentiment and topic models and write them into the package.

The models are linear (multinomial logistic regression) over character n-grams (2-5, within
words: Thai needs no word splitting), word unigrams and bigrams of the folded text
(``c360.analysis.text.normalise``), and the lexicon's own reading (net polarity, praise and
complaint hits, urgency cues, a question mark). They are trained on the training and
development sets; the test sets are never read here. The regularisation is chosen by 5-fold
cross-validation (macro-F1). The result is plain JSON (vocabularies, idf, coefficients), read
by ``c360.analysis.model`` without scikit-learn.

    .venv/bin/pip install -e '.[dev]'   # scikit-learn
    .venv/bin/python bench/train_feedback_model.py
"""

import argparse
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from c360.analysis.model import CHAR_NGRAMS, MODEL_PATH, WORD_NGRAMS, WORD_PATTERN, lexicon_features
from c360.analysis.text import normalise

DATA = Path(__file__).parent / "data" / "feedback"
LANGUAGES = ("th", "vi", "en")


def load(split: str) -> list[dict[str, Any]]:
    """``train``: every ``train/<language>_train*.jsonl``; ``dev``: ``<language>_dev.jsonl``."""
    items: list[dict[str, Any]] = []
    for language in LANGUAGES:
        if split == "train":
            paths = sorted((DATA / "train").glob(f"{language}_train*.jsonl"))
        else:
            paths = [DATA / f"{language}_{split}.jsonl"]
        for path in paths:
            items += [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
    return items


def vectorizers() -> tuple[TfidfVectorizer, TfidfVectorizer]:
    char = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=CHAR_NGRAMS,
        lowercase=False,
        min_df=2,
        sublinear_tf=True,
        max_features=120_000,
        dtype=np.float64,
    )
    word = TfidfVectorizer(
        analyzer="word",
        ngram_range=WORD_NGRAMS,
        lowercase=False,
        token_pattern=WORD_PATTERN,
        min_df=2,
        sublinear_tf=True,
        max_features=60_000,
        dtype=np.float64,
    )
    return char, word


def features(
    texts: list[str], raw: list[str], char: TfidfVectorizer, word: TfidfVectorizer, fit: bool
) -> Any:
    lex = csr_matrix(np.array([lexicon_features(t) for t in raw], dtype=np.float64))
    if fit:
        return hstack([char.fit_transform(texts), word.fit_transform(texts), lex]).tocsr()
    return hstack([char.transform(texts), word.transform(texts), lex]).tocsr()


def train(items: list[dict[str, Any]], label: str, seed: int) -> tuple[dict[str, Any], float]:
    raw = [str(i["text"]) for i in items]
    texts = [normalise(t) for t in raw]
    y = np.array([str(i[label]) for i in items])
    best: tuple[float, float] = (-1.0, 1.0)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    for c in (10.0, 30.0, 100.0):
        predicted = np.empty_like(y)
        for train_idx, test_idx in folds.split(texts, y):
            char, word = vectorizers()
            x_train = features(
                [texts[i] for i in train_idx], [raw[i] for i in train_idx], char, word, True
            )
            x_test = features(
                [texts[i] for i in test_idx], [raw[i] for i in test_idx], char, word, False
            )
            model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
            model.fit(x_train, y[train_idx])
            predicted[test_idx] = model.predict(x_test)
        score = f1_score(y, predicted, average="macro")
        print(f"  {label} C={c}: cross-validated macro-F1 {score:.3f}")
        if score > best[0]:
            best = (score, c)
    char, word = vectorizers()
    x = features(texts, raw, char, word, True)
    model = LogisticRegression(C=best[1], max_iter=3000, class_weight="balanced")
    model.fit(x, y)
    exported = {
        "classes": [str(c) for c in model.classes_],
        "intercept": [float(v) for v in model.intercept_],
        "char": _vectorizer(char),
        "word": _vectorizer(word),
        "coef": [[round(float(v), 5) for v in row] for row in model.coef_],
        "c": best[1],
        "cv_macro_f1": round(best[0], 4),
        "items": len(items),
    }
    return exported, best[0]


def _vectorizer(v: TfidfVectorizer) -> dict[str, Any]:
    vocab = sorted(v.vocabulary_.items(), key=lambda kv: kv[1])
    return {"terms": [t for t, _ in vocab], "idf": [round(float(x), 5) for x in v.idf_]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    items = load("train") + load("dev")
    print(f"{len(items)} labelled items (training and development sets)")
    sentiment, _ = train(items, "sentiment", args.seed)
    topic, _ = train(items, "topic", args.seed)
    body = {"version": 1, "sentiment": sentiment, "topic": topic}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8") as handle:
        json.dump(body, handle, ensure_ascii=False, separators=(",", ":"))
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
