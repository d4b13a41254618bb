"""feedback: items (analysed, prioritised, routed, with their workflow) and their history

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 01:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feedback_items",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("origin_key", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=True),
        sa.Column("received_at_us", sa.BigInteger(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("rating_scale", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("sentiment", sa.String(length=10), nullable=False),
        sa.Column("sentiment_score", sa.Float(), nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("analysis", _JSON, nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=2), nullable=False),
        sa.Column("factors", _JSON, nullable=False),
        sa.Column("team", sa.String(length=40), nullable=False),
        sa.Column("assignee", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("respond_by_us", sa.BigInteger(), nullable=True),
        sa.Column("resolve_by_us", sa.BigInteger(), nullable=True),
        sa.Column("responded_at_us", sa.BigInteger(), nullable=True),
        sa.Column("resolved_at_us", sa.BigInteger(), nullable=True),
        sa.Column("notified_at_us", sa.BigInteger(), nullable=True),
        sa.Column("breached", _JSON, nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("message_key", sa.String(length=100), nullable=True),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_items")),
        sa.UniqueConstraint("source_id", "origin_key", name="uq_feedback_items_origin"),
    )
    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_items_profile_id"), ["profile_id"])
        batch_op.create_index(batch_op.f("ix_feedback_items_received_at_us"), ["received_at_us"])
        batch_op.create_index("ix_feedback_items_open", ["status", "resolve_by_us"])
        batch_op.create_index("ix_feedback_items_topic", ["topic", "received_at_us"])
    op.create_table(
        "feedback_history",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("feedback_id", sa.BigInteger(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=True),
        sa.Column("detail", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_history")),
    )
    with op.batch_alter_table("feedback_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_history_feedback_id"), ["feedback_id"])


def downgrade() -> None:
    op.drop_table("feedback_history")
    op.drop_table("feedback_items")
