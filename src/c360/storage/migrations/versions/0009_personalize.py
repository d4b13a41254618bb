"""personalisation: the recommendation model (catalog, purchases, co-purchase, popularity) and
personalisation rules

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 22:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "recommend_catalog",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.Column("product_id", sa.Text(), nullable=True),
        sa.Column("sku", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("brand", sa.Text(), nullable=True),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("currency", sa.String(length=10), nullable=True),
        sa.Column("stock", sa.Float(), nullable=True),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source_id", "record_id", name=op.f("pk_recommend_catalog")),
    )
    with op.batch_alter_table("recommend_catalog", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recommend_catalog_product_id"), ["product_id"])
        batch_op.create_index(batch_op.f("ix_recommend_catalog_sku"), ["sku"])
    op.create_table(
        "recommend_products",
        sa.Column("product_key", sa.Text(), nullable=False),
        sa.Column("product_id", sa.Text(), nullable=True),
        sa.Column("sku", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("currency", sa.String(length=10), nullable=True),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("product_key", name=op.f("pk_recommend_products")),
    )
    op.create_table(
        "recommend_purchases",
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("product_key", sa.Text(), nullable=False),
        sa.Column("first_at_us", sa.BigInteger(), nullable=False),
        sa.Column("last_at_us", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("profile_id", "product_key", name=op.f("pk_recommend_purchases")),
    )
    op.create_table(
        "recommend_counted",
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("segments", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("profile_id", name=op.f("pk_recommend_counted")),
    )
    op.create_table(
        "recommend_pairs",
        sa.Column("product_key", sa.Text(), nullable=False),
        sa.Column("other_key", sa.Text(), nullable=False),
        sa.Column("together", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("product_key", "other_key", name=op.f("pk_recommend_pairs")),
    )
    with op.batch_alter_table("recommend_pairs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_recommend_pairs_top", ["product_key", sa.text("together DESC"), "other_key"]
        )
    op.create_table(
        "recommend_popularity",
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("product_key", sa.Text(), nullable=False),
        sa.Column("buyers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("segment_id", "product_key", name=op.f("pk_recommend_popularity")),
    )
    with op.batch_alter_table("recommend_popularity", schema=None) as batch_op:
        batch_op.create_index(
            "ix_recommend_popularity_top", ["segment_id", sa.text("buyers DESC"), "product_key"]
        )
    op.create_table(
        "personalization_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("placement", sa.String(length=60), nullable=False),
        sa.Column("condition", _JSON, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("content", _JSON, nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("active_from_us", sa.BigInteger(), nullable=True),
        sa.Column("active_until_us", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personalization_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_personalization_rules_name")),
    )
    with op.batch_alter_table("personalization_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_personalization_rules_placement"), ["placement"])


def downgrade() -> None:
    op.drop_table("personalization_rules")
    op.drop_table("recommend_popularity")
    op.drop_table("recommend_pairs")
    op.drop_table("recommend_counted")
    op.drop_table("recommend_purchases")
    op.drop_table("recommend_products")
    op.drop_table("recommend_catalog")
