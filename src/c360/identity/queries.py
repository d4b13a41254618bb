"""Reads of the identity graph: the crosswalk, a profile's nodes."""

from collections.abc import Iterator

from sqlalchemy import Connection, select

from c360.storage.tables import identity_nodes, sources


def iter_links(conn: Connection, batch_size: int = 20_000) -> Iterator[tuple[str, str, str]]:
    """(source, record_id, profile_id) of every node: a source record's id, or the
    ``userId`` / ``anonymousId`` of a tracked identity, in node order."""
    names = dict(conn.execute(select(sources.c.id, sources.c.name)).all())
    after = 0
    while True:
        rows = conn.execute(
            select(
                identity_nodes.c.id,
                identity_nodes.c.source_id,
                identity_nodes.c.node_key,
                identity_nodes.c.profile_id,
            )
            .where(identity_nodes.c.id > after)
            .order_by(identity_nodes.c.id)
            .limit(batch_size)
        ).all()
        if not rows:
            return
        for row in rows:
            if row.profile_id is not None:
                yield names.get(row.source_id, str(row.source_id)), row.node_key, row.profile_id
        after = rows[-1].id
