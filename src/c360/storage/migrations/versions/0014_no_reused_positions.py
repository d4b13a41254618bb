"""positions are never reused on SQLite: the event log and the change feed become AUTOINCREMENT

SQLite gives a new row the largest rowid plus one, so once erasure (or retention) deleted the
newest rows, the next message would take a position the processor's checkpoint, or a webhook
subscriber's cursor, had already passed, and would never be read. AUTOINCREMENT keeps the
largest position ever used. PostgreSQL sequences never go back; nothing changes there.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 04:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# table -> queries for positions already handed out (the newest rows may be gone already)
_PASSED = {
    "event_log": (
        "SELECT max(seq) FROM event_log",
        "SELECT max(seq) FROM worker_checkpoints",
    ),
    "profile_changes": (
        "SELECT max(id) FROM profile_changes",
        "SELECT max(cursor) FROM subscriptions",
        "SELECT max(cursor) FROM sync_destinations",
    ),
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table, queries in _PASSED.items():
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
        passed = max((bind.execute(sa.text(q)).scalar() or 0) for q in queries)
        bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :t"), {"t": table})
        bind.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :s)"),
            {"t": table, "s": passed},
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table in _PASSED:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": False}
        ):
            pass
