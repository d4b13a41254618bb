"""The feedback analyser: language, lexicon rules, urgency cues, and the trained models read
exactly as scikit-learn trained them."""

import gzip
import json
from pathlib import Path

import pytest

from c360.analysis import analyse, detect_language, rating_score
from c360.analysis.model import MODEL_PATH, char_wb_ngrams, load_models, word_ngrams
from c360.analysis.text import find_cues, normalise


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("ส่งของช้ามากค่ะ", "th"),
        ("Giao hàng chậm quá", "vi"),
        ("giao hang qua cham, shop lam an kieu gi vay", "vi"),
        ("ko nhan dc hang, lan thu 3 roi", "vi"),
        ("The parcel never arrived", "en"),
        ("แอพ crash ตลอด", "th"),
        ("12345 !!!", "en"),
    ],
)
def test_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_normalise_folds_case_diacritics_and_repeats() -> None:
    assert normalise("Hàng ĐẸP quáááá") == "hang dep quaa"
    assert normalise("แย่มากกกกก") == "แย่มาก"
    assert normalise("Sooooo   GOOD") == "soo good"


@pytest.mark.parametrize(
    ("text", "cues"),
    [
        ("I want my money back", ("refund",)),
        ("ขอยกเลิกสัญญาค่ะ", ("cancel",)),
        ("Tôi sẽ báo công an", ("legal",)),
        ("The charger caught fire", ("safety",)),
        ("THIS IS THE WORST SERVICE EVER", ("anger",)),
        ("why??? still nothing!!!", ("anger",)),
        ("Kiện hàng đã tới, cảm ơn", ()),  # a parcel, not a lawsuit
        ("Anh Huy giao hàng rất nhanh", ()),  # a name, not a cancellation
    ],
)
def test_urgency_cues(text: str, cues: tuple[str, ...]) -> None:
    assert find_cues(text) == cues


def test_ratings_and_empty_text() -> None:
    assert rating_score(9, 10) == 1.0 and rating_score(7, 10) == 0.0 and rating_score(3, 10) == -1.0
    assert rating_score(5, 5) == 1.0 and rating_score(1, 5) == -1.0 and rating_score(3, 5) == 0.0
    assert rating_score(11, 10) is None and rating_score(0, 5) is None
    only_rating = analyse(None, rating=2, scale=10)
    assert only_rating.sentiment == "negative" and only_rating.topic == "other"


def test_configured_topics_win_when_their_terms_are_found() -> None:
    result = analyse("Điểm thưởng của tôi biến mất", topics={"loyalty": ["điểm thưởng"]})
    assert result.topic == "loyalty"


def test_clear_cases_in_each_language() -> None:
    assert analyse("Giao hàng nhanh, đóng gói cẩn thận, rất hài lòng").sentiment == "positive"
    assert analyse("ของแตกมาทั้งกล่อง ผิดหวังมาก").sentiment == "negative"
    assert analyse("Absolutely love it, arrived a day early").sentiment == "positive"
    assert analyse("Cancel my order now, this is a scam").sentiment == "negative"


def test_the_model_file_reads_as_scikit_learn_trained_it(tmp_path: Path) -> None:
    """Train a small model with the training script's own vectorizers and check this module's
    reading of it against scikit-learn's predict_proba."""
    sklearn = pytest.importorskip("sklearn", reason="scikit-learn (the dev extra) trains models")
    del sklearn
    import numpy as np
    from bench.train_feedback_model import _vectorizer, vectorizers
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression

    from c360.analysis.model import Features, _block, _linear, lexicon_features

    raw = [
        "ส่งช้ามาก", "ของดีค่ะ", "Giao hàng chậm quá", "hang dep lam", "never arrived",
        "love it", "where is my parcel?", "ok thanks", "app crash again", "quá tệ", "สวยมาก",
        "broken on arrival",
    ] * 3  # fmt: skip
    labels = ["negative", "positive", "negative", "positive", "negative", "positive",
              "neutral", "neutral", "negative", "negative", "positive", "negative"] * 3  # fmt: skip
    texts = [normalise(t) for t in raw]
    char, word = vectorizers()
    char.set_params(min_df=1)
    word.set_params(min_df=1)
    lex = csr_matrix(np.array([lexicon_features(t) for t in raw]))
    x = hstack([char.fit_transform(texts), word.fit_transform(texts), lex]).tocsr()
    model = LogisticRegression(C=3.0, max_iter=2000).fit(x, labels)
    body = {
        "classes": list(model.classes_),
        "intercept": list(model.intercept_),
        "coef": [list(row) for row in model.coef_],
    }
    ours = _linear(json.loads(json.dumps(body)))
    space = Features(_block(_vectorizer(char)), _block(_vectorizer(word)))
    expected = model.predict_proba(x)
    for i, text in enumerate(texts):
        got = ours.probabilities(space.vector(text, lexicon_features(raw[i])))
        for j, label in enumerate(model.classes_):
            assert got[label] == pytest.approx(expected[i][j], abs=1e-3)


def test_analyzers_match_scikit_learn() -> None:
    pytest.importorskip("sklearn", reason="scikit-learn (the dev extra) trains models")
    from sklearn.feature_extraction.text import CountVectorizer

    text = "giao  hang qua cham ส่งช้า ok"
    char = CountVectorizer(analyzer="char_wb", ngram_range=(2, 5), lowercase=False)
    assert char.build_analyzer()(text) == char_wb_ngrams(text, 2, 5)
    word = CountVectorizer(ngram_range=(1, 2), lowercase=False, token_pattern=r"(?u)\b\w+\b")
    assert word.build_analyzer()(text) == word_ngrams(text, 1, 2)


def test_the_shipped_model_loads() -> None:
    if not MODEL_PATH.exists():
        pytest.skip("no trained model in this checkout (bench/train_feedback_model.py)")
    models = load_models()
    assert models is not None
    assert set(models.sentiment.classes) == {"negative", "neutral", "positive"}
    assert set(models.urgent.classes) == {"no", "yes"} and models.urgent.threshold is not None
    with gzip.open(MODEL_PATH, "rt", encoding="utf-8") as handle:
        assert json.load(handle)["version"] == 2


def test_terms_are_found_whole_longest_first_and_without_overlap() -> None:
    from c360.analysis.text import Terms

    terms = Terms(["not", "not good", "good", "ดี", "ไว", "ไม่ดี", "😍"])
    assert terms.findall("not good, not bad, good") == ["not good", "not", "good"]
    assert terms.findall("goods notable") == []  # inside other words
    assert terms.findall("ไม่ดี ดีมาก") == ["ไม่ดี", "ดี"]
    assert terms.findall("เดียว") == []  # ดี after a leading vowel is another syllable
    assert terms.findall("ฝากไว้") == []  # ไว before a tone mark is another word
    assert terms.findall("😍😍") == ["😍", "😍"]
    found = terms.search("it is not")
    assert found is not None and (found.start, found.end) == (6, 9)
