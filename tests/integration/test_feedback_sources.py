"""Feedback from the two record channels not covered elsewhere: a review platform's webhook
and a survey tool's database table (the local PostgreSQL plays the survey tool)."""

import uuid
import warnings
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    select,
)
from tests.conftest import ADMIN_POSTGRES_URL, postgres_problem
from tests.customer360 import process

from c360.eventlog.service import ensure_source
from c360.feedback.model import FeedbackConfig
from c360.ingest.mapping import parse_mapping
from c360.ingest.records import register_mapping
from c360.privacy.keys import Role, create_key
from c360.storage.tables import feedback_items
from c360.workers.feedback import feedback_cycle
from c360.workers.imports import import_table

REVIEW_MAPPING = """
kind: feedback
record_id: review_id
defaults: {default_region: TH, timezone: Asia/Bangkok}
fields:
  feedback_id: review_id
  platform: platform
  text: body
  rating: stars
  rating_scale: {column: scale, type: integer}
  submitted_at: created
identifiers:
  email: email
"""

SURVEY_MAPPING = """
kind: feedback
record_id: id
defaults: {default_region: VN, timezone: Asia/Ho_Chi_Minh}
fields:
  feedback_id: id
  channel: channel
  text: answer
  rating: nps
  rating_scale: {column: scale, type: integer}
  submitted_at: answered_at
identifiers:
  phone: phone
"""


def test_a_review_platform_posts_feedback_through_the_webhook(engine: Engine) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from fastapi.testclient import TestClient
    from c360.api.app import build_app
    from c360.settings import Settings

    with engine.begin() as conn:
        source = ensure_source(conn, "reviews")
        register_mapping(conn, source.id, parse_mapping(REVIEW_MAPPING), REVIEW_MAPPING)
        _, key = create_key(conn, name="reviews", role=Role.WRITER, source="reviews")
    app = build_app(Settings(database_url=str(engine.url)), engine, run_worker=False)
    review = {
        "review_id": "rv-77",
        "platform": "Google",
        "body": "พนักงานสาขาเซ็นทรัลเวิลด์ให้คำแนะนำดีมาก ประทับใจค่ะ",
        "stars": 5,
        "scale": 5,
        "created": datetime.now().astimezone().isoformat(),
        "email": "ploy@example.co.th",
    }
    with TestClient(app) as client:
        answer = client.post("/v1/webhooks/reviews", json=[review, review], auth=(key, ""))
    assert answer.status_code == 200, answer.text
    process(engine)
    assert feedback_cycle(engine, FeedbackConfig()) == 1
    with engine.connect() as conn:
        [item] = conn.execute(select(feedback_items)).all()
    assert (item.origin_key, item.channel, item.rating, item.rating_scale) == (
        "r:rv-77",
        "google",
        5.0,
        5,
    )
    assert (item.language, item.sentiment) == ("th", "positive")
    assert item.profile_id is not None


@pytest.fixture
def survey_table() -> Iterator[Table]:
    problem = postgres_problem()
    if problem:
        pytest.skip(problem)
    table = Table(
        f"nps_answers_{uuid.uuid4().hex[:8]}",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("phone", String(40)),
        Column("channel", String(20)),
        Column("answer", Text),
        Column("nps", Integer),
        Column("scale", Integer),
        Column("answered_at", DateTime),
    )
    other = create_engine(ADMIN_POSTGRES_URL)
    table.create(other)
    try:
        yield table
    finally:
        table.drop(other)
        other.dispose()


def test_a_survey_tools_table_is_imported_as_feedback(engine: Engine, survey_table: Table) -> None:
    other = create_engine(ADMIN_POSTGRES_URL)
    now = datetime.now()
    with other.begin() as conn:
        conn.execute(
            insert(survey_table),
            [
                {"id": 1, "phone": "0912 345 678", "channel": "zalo", "nps": 2, "scale": 10,
                 "answer": "Lần thứ 3 giao trễ rồi, quá thất vọng", "answered_at": now},
                {"id": 2, "phone": "0987 654 321", "channel": "sms", "nps": 10, "scale": 10,
                 "answer": "Nhân viên tư vấn nhiệt tình, sẽ giới thiệu bạn bè", "answered_at": now},
            ],
        )  # fmt: skip
    other.dispose()
    summary = import_table(
        engine,
        ADMIN_POSTGRES_URL,
        table=survey_table.name,
        source="survey-tool",
        mapping=parse_mapping(SURVEY_MAPPING),
        mapping_text=SURVEY_MAPPING,
        cursor_column="answered_at",
    )
    assert summary.new == 2
    process(engine)
    assert feedback_cycle(engine, FeedbackConfig()) == 2
    with engine.connect() as conn:
        rows = {r.origin_key: r for r in conn.execute(select(feedback_items)).all()}
    late, happy = rows["r:1"], rows["r:2"]
    assert (late.channel, late.sentiment, late.topic) == ("zalo", "negative", "delivery")
    assert "anger" in late.analysis["cues"]
    assert (happy.sentiment, happy.rating) == ("positive", 10.0)
