"""consent: the consent ledger (derived from the log), and a purpose per change-feed
subscription

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 05:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "consent_ledger",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("entry_key", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("purpose", sa.String(length=50), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("notice_version", sa.String(length=100), nullable=True),
        sa.Column("notice_text", sa.Text(), nullable=True),
        sa.Column("notice_sha256", sa.String(length=64), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=True),
        sa.Column("time_zone", sa.String(length=50), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_ledger")),
        sa.UniqueConstraint("profile_id", "entry_key", name="uq_consent_ledger_entry"),
    )
    op.create_index(op.f("ix_consent_ledger_seq"), "consent_ledger", ["seq"])
    op.create_index("ix_consent_ledger_profile", "consent_ledger", ["profile_id", "at_us"])
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("consent_purpose", sa.String(length=50), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("consent_purpose")
    op.drop_index("ix_consent_ledger_profile", table_name="consent_ledger")
    op.drop_index(op.f("ix_consent_ledger_seq"), table_name="consent_ledger")
    op.drop_table("consent_ledger")
