"""event_log.facts: an event's name and properties in clear beside a payload encrypted at rest
(segment conditions on behaviour read them in SQL; docs/encryption.md). Null where the
payload is in clear.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 23:55:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN on both engines: the log is never copied
    op.add_column("event_log", sa.Column("facts", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("event_log") as batch:
        batch.drop_column("facts")
