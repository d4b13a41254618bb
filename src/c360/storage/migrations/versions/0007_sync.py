"""sync: destinations that keep business apps in step, their queue, state, dead letters, conflicts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 21:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sync_destinations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("config", _JSON, nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.Column("disabled_at_us", sa.BigInteger(), nullable=True),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_us", sa.BigInteger(), nullable=True),
        sa.Column("failing_since_us", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("pulled_at_us", sa.BigInteger(), nullable=True),
        sa.Column("pull_attempts", sa.Integer(), nullable=False),
        sa.Column("next_pull_us", sa.BigInteger(), nullable=True),
        sa.Column("pull_error", sa.Text(), nullable=True),
        sa.Column("lease_until_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_destinations")),
        sa.UniqueConstraint("name", name=op.f("uq_sync_destinations_name")),
    )
    op.create_table(
        "sync_queue",
        sa.Column("destination_id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("enqueued_at_us", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_us", sa.BigInteger(), nullable=True),
        sa.Column("failing_since_us", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("destination_id", "profile_id", name=op.f("pk_sync_queue")),
    )
    with op.batch_alter_table("sync_queue", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_queue_due", ["destination_id", "next_attempt_us"], unique=False
        )
    op.create_table(
        "sync_state",
        sa.Column("destination_id", sa.Integer(), nullable=False),
        sa.Column("app_key", sa.Text(), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=True),
        sa.Column("seen_hash", sa.String(length=32), nullable=True),
        sa.Column("app_values", _JSON, nullable=False),
        sa.Column("pushed", _JSON, nullable=False),
        sa.Column("app_changed_at", _JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("pushed_at_us", sa.BigInteger(), nullable=True),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("destination_id", "app_key", name=op.f("pk_sync_state")),
    )
    with op.batch_alter_table("sync_state", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_state_profile", ["destination_id", "profile_id"], unique=False
        )
    op.create_table(
        "sync_dead_letters",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("destination_id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("app_key", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_dead_letters")),
    )
    with op.batch_alter_table("sync_dead_letters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_dead_letters_destination_id"), ["destination_id"], unique=False
        )
    op.create_table(
        "sync_conflicts",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("destination_id", sa.Integer(), nullable=False),
        sa.Column("app_key", sa.Text(), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=True),
        sa.Column("column_name", sa.Text(), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("app_value", _JSON, nullable=True),
        sa.Column("c360_value", _JSON, nullable=True),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_conflicts")),
    )
    with op.batch_alter_table("sync_conflicts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_conflicts_destination", ["destination_id", "id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("sync_conflicts")
    op.drop_table("sync_dead_letters")
    op.drop_table("sync_state")
    op.drop_table("sync_queue")
    op.drop_table("sync_destinations")
