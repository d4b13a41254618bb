"""Reading customer text offline: language, sentiment, topic and urgency cues."""

from c360.analysis.text import (
    CUES,
    DEFAULT_TOPICS,
    LANGUAGES,
    SENTIMENTS,
    Analysis,
    analyse,
    detect_language,
    rating_score,
    text_sentiment,
)

__all__ = [
    "CUES",
    "DEFAULT_TOPICS",
    "LANGUAGES",
    "SENTIMENTS",
    "Analysis",
    "analyse",
    "detect_language",
    "rating_score",
    "text_sentiment",
]
