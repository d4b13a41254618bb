"""identity resolution: nodes, keys, pairs, models, decisions, reviews

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 15:53:51.546809
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_decision_nodes",
        sa.Column("decision_id", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("node_type", sa.String(length=20), nullable=False),
        sa.Column("node_key", sa.Text(), nullable=False),
        sa.Column("side", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "decision_id",
            "source_id",
            "node_type",
            "node_key",
            name=op.f("pk_identity_decision_nodes"),
        ),
    )
    with op.batch_alter_table("identity_decision_nodes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_identity_decision_nodes_node", ["source_id", "node_type", "node_key"], unique=False
        )

    op.create_table(
        "identity_decisions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_decisions")),
    )
    op.create_table(
        "identity_keys",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("node_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "node_id", name=op.f("pk_identity_keys")),
    )
    with op.batch_alter_table("identity_keys", schema=None) as batch_op:
        batch_op.create_index("ix_identity_keys_node", ["node_id"], unique=False)

    op.create_table(
        "identity_models",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_identity_models")),
    )
    op.create_table(
        "identity_nodes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("node_type", sa.String(length=20), nullable=False),
        sa.Column("node_key", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column(
            "features",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "identifiers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "limited",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "traits",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_nodes")),
        sa.UniqueConstraint("source_id", "node_type", "node_key", name="uq_identity_nodes_key"),
    )
    with op.batch_alter_table("identity_nodes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_nodes_profile_id"), ["profile_id"], unique=False
        )

    op.create_table(
        "identity_pairs",
        sa.Column("a", sa.BigInteger(), nullable=False),
        sa.Column("b", sa.BigInteger(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("levels", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("a", "b", name=op.f("pk_identity_pairs")),
    )
    with op.batch_alter_table("identity_pairs", schema=None) as batch_op:
        batch_op.create_index("ix_identity_pairs_b", ["b"], unique=False)

    op.create_table(
        "identity_reviews",
        sa.Column("a", sa.BigInteger(), nullable=False),
        sa.Column("b", sa.BigInteger(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("a", "b", name=op.f("pk_identity_reviews")),
    )
    with op.batch_alter_table("profile_identifiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_profile_identifiers_profile_id"))

    op.drop_table("profile_identifiers")
    with op.batch_alter_table("profile_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node_id", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_profile_events_node_id"), ["node_id"], unique=False)

    with op.batch_alter_table("profile_merges", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("action", sa.String(length=10), server_default="merge", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "evidence",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("at_us", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "golden",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("household_id", sa.String(length=36), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_profiles_household_id"), ["household_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_profiles_merged_into"), ["merged_into"], unique=False)

    # Profiles are now resolved from identity nodes: every view derived from the log is
    # recomputed from it (the log processor starts again from the first entry).
    for table in (
        "profile_events",
        "profile_merges",
        "profiles",
        "record_identifiers",
        "source_records",
    ):
        op.execute(sa.table(table).delete())
    op.execute("UPDATE worker_checkpoints SET seq = 0 WHERE name = 'profiles'")


def downgrade() -> None:
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_profiles_merged_into"))
        batch_op.drop_index(batch_op.f("ix_profiles_household_id"))
        batch_op.drop_column("household_id")
        batch_op.drop_column("golden")

    with op.batch_alter_table("profile_merges", schema=None) as batch_op:
        batch_op.drop_column("at_us")
        batch_op.drop_column("evidence")
        batch_op.drop_column("action")

    with op.batch_alter_table("profile_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_profile_events_node_id"))
        batch_op.drop_column("node_id")

    op.create_table(
        "profile_identifiers",
        sa.Column("type", sa.VARCHAR(length=50), nullable=False),
        sa.Column("value", sa.TEXT(), nullable=False),
        sa.Column("profile_id", sa.VARCHAR(length=36), nullable=False),
        sa.Column("source_id", sa.INTEGER(), nullable=False),
        sa.Column("first_seq", sa.BIGINT(), nullable=False),
        sa.PrimaryKeyConstraint("type", "value", name=op.f("pk_profile_identifiers")),
    )
    with op.batch_alter_table("profile_identifiers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_profile_identifiers_profile_id"), ["profile_id"], unique=False
        )

    op.drop_table("identity_reviews")
    with op.batch_alter_table("identity_pairs", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_pairs_b")

    op.drop_table("identity_pairs")
    with op.batch_alter_table("identity_nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_nodes_profile_id"))

    op.drop_table("identity_nodes")
    op.drop_table("identity_models")
    with op.batch_alter_table("identity_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_keys_node")

    op.drop_table("identity_keys")
    op.drop_table("identity_decisions")
    with op.batch_alter_table("identity_decision_nodes", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_decision_nodes_node")

    op.drop_table("identity_decision_nodes")
    for table in (
        "profile_events",
        "profile_merges",
        "profiles",
        "record_identifiers",
        "source_records",
    ):
        op.execute(sa.table(table).delete())
    op.execute("UPDATE worker_checkpoints SET seq = 0 WHERE name = 'profiles'")
