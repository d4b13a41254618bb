"""segments: saved conditions, members, the view conditions read, segment due times

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 19:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("condition", _JSON, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("name", name=op.f("uq_segments_name")),
    )
    op.create_table(
        "segment_members",
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("entered_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("segment_id", "profile_id", name=op.f("pk_segment_members")),
    )
    with op.batch_alter_table("segment_members", schema=None) as batch_op:
        batch_op.create_index("ix_segment_members_profile", ["profile_id"], unique=False)
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attributes", _JSON, nullable=True))
        batch_op.add_column(sa.Column("segments_due_us", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_profiles_segments_due_us"), ["segments_due_us"], unique=False
        )
    # existing profiles get their view at the worker's next pass over due profiles
    op.execute("UPDATE profiles SET computed_due_us = 0 WHERE merged_into IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_profiles_segments_due_us"))
        batch_op.drop_column("segments_due_us")
        batch_op.drop_column("attributes")
    op.drop_table("segment_members")
    op.drop_table("segments")
