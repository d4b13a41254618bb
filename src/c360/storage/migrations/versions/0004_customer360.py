"""customer 360: timeline, computed traits, search, change feed, subscriptions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 18:44:40.458147
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "profile_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_changes")),
    )
    with op.batch_alter_table("profile_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_profile_changes_profile_id"), ["profile_id"], unique=False
        )

    op.create_table(
        "profile_terms",
        sa.Column(
            "term",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("term", "profile_id", name=op.f("pk_profile_terms")),
    )
    with op.batch_alter_table("profile_terms", schema=None) as batch_op:
        batch_op.create_index("ix_profile_terms_profile", ["profile_id"], unique=False)

    op.create_table(
        "subscription_dead_letters",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("redelivered_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_dead_letters")),
    )
    with op.batch_alter_table("subscription_dead_letters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscription_dead_letters_subscription_id"),
            ["subscription_id"],
            unique=False,
        )

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column(
            "kinds",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("disabled_at_us", sa.BigInteger(), nullable=True),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_us", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    op.create_table(
        "trait_configs",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_trait_configs")),
    )
    with op.batch_alter_table("profile_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("at_us", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            "ix_profile_events_timeline", ["profile_id", "at_us", "seq"], unique=False
        )

    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "computed",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("computed_due_us", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "identifier_set",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.create_index(
            batch_op.f("ix_profiles_computed_due_us"), ["computed_due_us"], unique=False
        )

    # Events need their time and profiles their computed traits and search terms: the derived
    # views are recomputed from the log by the worker (as by ``c360 rebuild``).
    for table in (
        "profile_terms",
        "profile_merges",
        "profile_events",
        "identity_reviews",
        "identity_pairs",
        "identity_keys",
        "identity_nodes",
        "profiles",
        "record_identifiers",
        "source_records",
    ):
        op.execute(sa.table(table).delete())
    op.execute("UPDATE worker_checkpoints SET seq = 0 WHERE name = 'profiles'")
    # The replay makes no change-feed entries: the feed starts with what happens from now on.
    op.execute(
        "INSERT INTO worker_checkpoints (name, seq, updated_at_us) "
        "SELECT 'changes_muted_until', COALESCE(MAX(seq), 0), 0 FROM event_log"
    )


def downgrade() -> None:
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_profiles_computed_due_us"))
        batch_op.drop_column("identifier_set")
        batch_op.drop_column("computed_due_us")
        batch_op.drop_column("computed")

    with op.batch_alter_table("profile_events", schema=None) as batch_op:
        batch_op.drop_index("ix_profile_events_timeline")
        batch_op.drop_column("at_us")

    op.drop_table("trait_configs")
    op.drop_table("subscriptions")
    with op.batch_alter_table("subscription_dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_dead_letters_subscription_id"))

    op.drop_table("subscription_dead_letters")
    with op.batch_alter_table("profile_terms", schema=None) as batch_op:
        batch_op.drop_index("ix_profile_terms_profile")

    op.drop_table("profile_terms")
    with op.batch_alter_table("profile_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_profile_changes_profile_id"))

    op.drop_table("profile_changes")
