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
from c360.analysis.text import find_cues, normalise

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


TASKS = ("sentiment", "topic", "urgent")
C = 30.0
"""Regularisation: chosen by 5-fold cross-validation over 10, 30 and 100 (macro-F1 of sentiment
and of topic; 30 was best for both, 0.838 and 0.853 on 4,953 items)."""


def labels(items: list[dict[str, Any]], task: str) -> Any:
    if task == "urgent":
        return np.array(["yes" if i["urgent"] else "no" for i in items])
    return np.array([str(i[task]) for i in items])


def model() -> LogisticRegression:
    return LogisticRegression(C=C, max_iter=3000, class_weight="balanced")


def cross_validate(items: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    """Out-of-fold predictions of every task (vectorizers fitted within each fold): macro-F1
    of sentiment and topic, and the threshold on P(urgent) that, together with the lexicon's
    cue words, gives the best F1 for urgent."""
    raw = [str(i["text"]) for i in items]
    texts = [normalise(t) for t in raw]
    ys = {task: labels(items, task) for task in TASKS}
    predicted = {task: np.empty_like(ys[task]) for task in ("sentiment", "topic")}
    urgent_p = np.zeros(len(items))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    for train_idx, test_idx in folds.split(texts, ys["sentiment"]):
        char, word = vectorizers()
        x_train = features(
            [texts[i] for i in train_idx], [raw[i] for i in train_idx], char, word, True
        )
        x_test = features(
            [texts[i] for i in test_idx], [raw[i] for i in test_idx], char, word, False
        )
        for task in ("sentiment", "topic"):
            predicted[task][test_idx] = model().fit(x_train, ys[task][train_idx]).predict(x_test)
        fitted = model().fit(x_train, ys["urgent"][train_idx])
        urgent_p[test_idx] = fitted.predict_proba(x_test)[:, list(fitted.classes_).index("yes")]
    worded = np.array([bool(find_cues(t)) for t in raw])
    truth = ys["urgent"] == "yes"
    best = (0.0, 0.5)
    for threshold in np.arange(0.3, 0.96, 0.05):
        score = f1_score(truth, worded | (urgent_p >= threshold))
        if score > best[0]:
            best = (float(score), float(round(threshold, 2)))
    report = {
        "sentiment_macro_f1": round(
            float(f1_score(ys["sentiment"], predicted["sentiment"], average="macro")), 4
        ),
        "topic_macro_f1": round(
            float(f1_score(ys["topic"], predicted["topic"], average="macro")), 4
        ),
        "urgent_f1_lexicon_only": round(float(f1_score(truth, worded)), 4),
        "urgent_f1": round(best[0], 4),
        "urgent_threshold": best[1],
    }
    print(f"  cross-validated: {report}")
    return report


def train_all(items: list[dict[str, Any]], report: dict[str, Any]) -> dict[str, Any]:
    raw = [str(i["text"]) for i in items]
    texts = [normalise(t) for t in raw]
    char, word = vectorizers()
    x = features(texts, raw, char, word, True)
    models = {}
    for task in TASKS:
        fitted = model().fit(x, labels(items, task))
        classes = [str(c) for c in fitted.classes_]
        if len(classes) == 2:  # binary: two rows whose softmax is the logistic function
            half = [round(float(v) / 2, 5) for v in fitted.coef_[0]]
            coef = [[-v for v in half], half]
            intercept = [-float(fitted.intercept_[0]) / 2, float(fitted.intercept_[0]) / 2]
        else:
            coef = [[round(float(v), 5) for v in row] for row in fitted.coef_]
            intercept = [float(v) for v in fitted.intercept_]
        models[task] = {"classes": classes, "intercept": intercept, "coef": coef}
    models["urgent"]["threshold"] = report["urgent_threshold"]
    return {
        "version": 2,
        "char": _vectorizer(char),
        "word": _vectorizer(word),
        "models": models,
        "c": C,
        "cross_validated": report,
        "items": len(items),
    }


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
    body = train_all(items, cross_validate(items, args.seed))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8") as handle:
        json.dump(body, handle, ensure_ascii=False, separators=(",", ":"))
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
