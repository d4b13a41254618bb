"""Profiles as files: every live profile with its golden record."""

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, func, select

from c360.storage.tables import identity_nodes, profiles


def iter_profiles(conn: Connection, batch_size: int = 5_000) -> Iterator[dict[str, Any]]:
    """Live profiles in id order, with how many records and identities each holds."""
    after = ""
    while True:
        rows = conn.execute(
            select(
                profiles.c.id,
                profiles.c.household_id,
                profiles.c.created_seq,
                profiles.c.updated_seq,
                profiles.c.traits,
                profiles.c.golden,
            )
            .where(profiles.c.merged_into.is_(None), profiles.c.id > after)
            .order_by(profiles.c.id)
            .limit(batch_size)
        ).all()
        if not rows:
            return
        counts: dict[str, int] = dict(
            conn.execute(
                select(identity_nodes.c.profile_id, func.count())
                .where(identity_nodes.c.profile_id.in_([r.id for r in rows]))
                .group_by(identity_nodes.c.profile_id)
            ).all()
        )
        for row in rows:
            yield {
                "id": row.id,
                "household_id": row.household_id,
                "created_seq": row.created_seq,
                "updated_seq": row.updated_seq,
                "records": counts.get(row.id, 0),
                "traits": row.traits or {},
                "golden": row.golden,
            }
        after = rows[-1].id
