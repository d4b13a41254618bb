"""activation: journeys, entries, steps done, the message outbox, suppressions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 21:40:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "journeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("definition", _JSON, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("start_seq", sa.BigInteger(), nullable=False),
        sa.Column("start_change_id", sa.BigInteger(), nullable=False),
        sa.Column("next_run_us", sa.BigInteger(), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journeys")),
        sa.UniqueConstraint("name", name=op.f("uq_journeys_name")),
    )
    op.create_table(
        "journey_entries",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("entry_no", sa.Integer(), nullable=False),
        sa.Column("arm", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("step", sa.String(length=60), nullable=True),
        sa.Column("wake_at_us", sa.BigInteger(), nullable=True),
        sa.Column("waiting_for", sa.String(length=200), nullable=True),
        sa.Column("trigger", _JSON, nullable=False),
        sa.Column("entered_at_us", sa.BigInteger(), nullable=False),
        sa.Column("ended_at_us", sa.BigInteger(), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("goal_until_us", sa.BigInteger(), nullable=True),
        sa.Column("converted_at_us", sa.BigInteger(), nullable=True),
        sa.Column("revenue", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_entries")),
        sa.UniqueConstraint(
            "journey_id", "profile_id", "entry_no", name=op.f("uq_journey_entries_journey_id")
        ),
    )
    with op.batch_alter_table("journey_entries", schema=None) as batch_op:
        batch_op.create_index("ix_journey_entries_profile", ["profile_id", "status"])
        batch_op.create_index(batch_op.f("ix_journey_entries_wake_at_us"), ["wake_at_us"])
    op.create_table(
        "journey_steps",
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("step", sa.String(length=60), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("outcome", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("entry_id", "step", name=op.f("pk_journey_steps")),
    )
    op.create_table(
        "messages",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=True),
        sa.Column("entry_id", sa.BigInteger(), nullable=True),
        sa.Column("step", sa.String(length=60), nullable=True),
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("consent", sa.String(length=50), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_us", sa.BigInteger(), nullable=True),
        sa.Column("provider_id", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("sent_at_us", sa.BigInteger(), nullable=True),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.Column("opened_at_us", sa.BigInteger(), nullable=True),
        sa.Column("clicked_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("key", name=op.f("uq_messages_key")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_messages_entry_id"), ["entry_id"])
        batch_op.create_index(batch_op.f("ix_messages_profile_id"), ["profile_id"])
        batch_op.create_index("ix_messages_due", ["status", "next_attempt_us"])
        batch_op.create_index("ix_messages_provider", ["channel", "provider_id"])
    op.create_table(
        "suppressions",
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "address", name=op.f("pk_suppressions")),
    )
    op.create_table(
        "link_secrets",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_link_secrets")),
    )
    # journeys find the profile of each new log entry by its sequence number
    with op.batch_alter_table("profile_events", schema=None) as batch_op:
        batch_op.create_index("ix_profile_events_seq", ["seq"])


def downgrade() -> None:
    with op.batch_alter_table("profile_events", schema=None) as batch_op:
        batch_op.drop_index("ix_profile_events_seq")
    op.drop_table("link_secrets")
    op.drop_table("suppressions")
    op.drop_table("messages")
    op.drop_table("journey_steps")
    op.drop_table("journey_entries")
    op.drop_table("journeys")
