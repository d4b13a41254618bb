"""records from files, databases and webhooks: mappings, cursors, records, reject origin

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:28:20.747745
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_cursors",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("column_name", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source_id", "location", name=op.f("pk_import_cursors")),
    )
    op.create_table(
        "record_identifiers",
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "type", "value", "source_id", "record_id", name=op.f("pk_record_identifiers")
        ),
    )
    with op.batch_alter_table("record_identifiers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_record_identifiers_record", ["source_id", "record_id"], unique=False
        )

    op.create_table(
        "source_mappings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("registered_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_mappings")),
        sa.UniqueConstraint("source_id", "version", name="uq_source_mappings_source_version"),
    )
    op.create_table(
        "source_records",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column(
            "fields",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "flags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "extra",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("mapping_version", sa.Integer(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("source_id", "record_id", name=op.f("pk_source_records")),
    )
    with op.batch_alter_table("rejects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("origin", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("resolved_at_us", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rejects", schema=None) as batch_op:
        batch_op.drop_column("resolved_at_us")
        batch_op.drop_column("origin")
        batch_op.drop_column("stage")

    op.drop_table("source_records")
    op.drop_table("source_mappings")
    with op.batch_alter_table("record_identifiers", schema=None) as batch_op:
        batch_op.drop_index("ix_record_identifiers_record")

    op.drop_table("record_identifiers")
    op.drop_table("import_cursors")
