"""Accuracy of the feedback analyser (``c360.analysis``) on the labelled sets in
``bench/data/feedback``: sentiment, topic, urgency and language, per language.

Each language has a development set (``*_dev.jsonl``), which the lexicon may be tuned on, and
a test set (``*_test.jsonl``), written separately and only ever measured: the figures in
docs/benchmarks.md are the test set's.

    .venv/bin/python bench/feedback_analysis.py --split test
    .venv/bin/python bench/feedback_analysis.py --split dev --errors 20
"""

import argparse
import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from c360.analysis import SENTIMENTS, analyse

DATA = Path(__file__).parent / "data" / "feedback"
TOPICS = ("delivery", "product_quality", "billing", "service", "website_app", "price", "other")


def macro_f1(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> float:
    scores = []
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p != label)
        if tp + fp + fn == 0:
            continue  # a label neither given nor predicted does not count
        scores.append(2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores) if scores else 0.0


def accuracy(gold: Sequence[object], predicted: Sequence[object]) -> float:
    return sum(1 for g, p in zip(gold, predicted, strict=True) if g == p) / len(gold)


def load(language: str, split: str) -> list[dict[str, object]]:
    path = DATA / f"{language}_{split}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def evaluate(language: str, split: str, errors: int) -> dict[str, Any]:
    items = load(language, split)
    started = time.perf_counter()
    results = [analyse(str(item["text"])) for item in items]
    elapsed = time.perf_counter() - started
    gold_s = [str(i["sentiment"]) for i in items]
    pred_s = [r.sentiment for r in results]
    gold_t = [str(i["topic"]) for i in items]
    pred_t = [r.topic for r in results]
    gold_u = [bool(i["urgent"]) for i in items]
    pred_u = [r.urgent for r in results]
    tp = sum(1 for g, p in zip(gold_u, pred_u, strict=True) if g and p)
    precision = tp / max(1, sum(pred_u))
    recall = tp / max(1, sum(gold_u))
    shown = 0
    for item, result in zip(items, results, strict=True):
        if shown >= errors:
            break
        if item["sentiment"] != result.sentiment:
            shown += 1
            print(
                f"  {item['id']}: gold {item['sentiment']}, got {result.sentiment} "
                f"{list(result.hits)} | {item['text']}"
            )
    return {
        "items": len(items),
        "sentiment_accuracy": accuracy(gold_s, pred_s),
        "sentiment_macro_f1": macro_f1(gold_s, pred_s, SENTIMENTS),
        "topic_accuracy": accuracy(gold_t, pred_t),
        "topic_macro_f1": macro_f1(gold_t, pred_t, TOPICS),
        "urgent_precision": precision,
        "urgent_recall": recall,
        "urgent_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "language_accuracy": accuracy([language] * len(items), [r.language for r in results]),
        "ms_per_item": 1000 * elapsed / len(items),
        "gold": dict(Counter(gold_s)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "test"), default="test")
    parser.add_argument("--errors", type=int, default=0, help="print this many misses per set")
    parser.add_argument("--languages", default="th,vi,en")
    parser.add_argument("--json", type=Path, help="write the scores per language here too")
    args = parser.parse_args()
    rows = []
    for language in args.languages.split(","):
        print(f"{language} ({args.split}):")
        rows.append((language, evaluate(language, args.split, args.errors)))
    print()
    print(
        "| Language | Items | Sentiment accuracy | Sentiment macro-F1 | Topic accuracy | "
        "Topic macro-F1 | Urgent precision | Urgent recall | Language detected |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for language, r in rows:
        print(
            f"| {language} | {r['items']} | {r['sentiment_accuracy']:.2f} | "
            f"{r['sentiment_macro_f1']:.2f} | {r['topic_accuracy']:.2f} | "
            f"{r['topic_macro_f1']:.2f} | {r['urgent_precision']:.2f} | "
            f"{r['urgent_recall']:.2f} | {r['language_accuracy']:.2f} |"
        )
    print()
    for language, r in rows:
        print(f"{language}: {r['ms_per_item']:.3f} ms per item; gold sentiments {r['gold']}")
    if args.json:
        scores = {"split": args.split, "languages": dict(rows)}
        args.json.write_text(json.dumps(scores, indent=2, ensure_ascii=False) + "\n", "utf-8")


if __name__ == "__main__":
    main()
