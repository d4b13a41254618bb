"""transfers: the country each sync destination and change-feed subscription is hosted in,
and the fields a subscription may receive (the transfer register, docs/privacy.md)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 05:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("sync_destinations") as batch:
        batch.add_column(sa.Column("country", sa.String(length=2), nullable=True))
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("country", sa.String(length=2), nullable=True))
        batch.add_column(sa.Column("fields", _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("fields")
        batch.drop_column("country")
    with op.batch_alter_table("sync_destinations") as batch:
        batch.drop_column("country")
