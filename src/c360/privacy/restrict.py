"""Restriction of processing (GDPR art. 18, PDPA s. 34, Vietnam's Law 91/2025 art. 9): the
person's data is kept, and not used.

While a restriction lasts, the person enters no journey and gets no message (their queued
messages are cancelled when it starts, and the dispatcher checks again before each send), and
is left out of segment exports, two-way sync and change-feed webhooks. They stay stored, and
stay members of the segments whose conditions they meet (membership is derived data, kept
like the rest of the profile), but every exit that uses membership leaves them out.

A restriction names a profile id. Profiles merge: a restriction on any profile merged into
another holds for the survivor, and one on the survivor for every profile merged into it
(:func:`restricted` follows ``profiles.merged_into`` both ways).
"""

from collections.abc import Collection

from sqlalchemy import Connection, insert, select, update

from c360.kernel.clock import system_clock
from c360.storage.dialect import key_in
from c360.storage.tables import messages, privacy_restrictions, profiles

RESTRICTED_REASON = "processing restricted"
"""The reason written on cancelled messages and ended journey entries."""


def restrict(
    conn: Connection,
    profile_id: str,
    *,
    request_id: int | None,
    reason: str | None,
    now_us: int | None = None,
) -> None:
    """Restrict processing of the person (a no-op when a restriction of theirs is in force)
    and cancel the messages queued for them."""
    now = system_clock() if now_us is None else now_us
    family = _family(conn, [profile_id])
    active = conn.execute(
        select(privacy_restrictions.c.id).where(
            key_in(conn, privacy_restrictions.c.profile_id, sorted(family)),
            privacy_restrictions.c.lifted_at_us.is_(None),
        )
    ).first()
    if active is None:
        conn.execute(
            insert(privacy_restrictions).values(
                profile_id=profile_id,
                request_id=request_id,
                reason=reason,
                since_us=now,
                lifted_at_us=None,
            )
        )
    conn.execute(
        update(messages)
        .where(key_in(conn, messages.c.profile_id, sorted(family)), messages.c.status == "queued")
        .values(
            status="cancelled",
            reason=RESTRICTED_REASON,
            next_attempt_us=None,
            updated_at_us=now,
        )
    )


def lift(
    conn: Connection, profile_id: str, *, request_id: int | None, now_us: int | None = None
) -> bool:
    """End every restriction in force for the person (on their profile or any merged with
    it); False when there was none. ``request_id`` is the request that asked for it: the
    caller's audit entry names it (the restriction row keeps the request that started it)."""
    del request_id  # recorded by the caller (privacy request and audit entry)
    now = system_clock() if now_us is None else now_us
    family = _family(conn, [profile_id])
    lifted = conn.execute(
        update(privacy_restrictions)
        .where(
            key_in(conn, privacy_restrictions.c.profile_id, sorted(family)),
            privacy_restrictions.c.lifted_at_us.is_(None),
        )
        .values(lifted_at_us=now)
    ).rowcount
    return bool(lifted)


def restricted(conn: Connection, profile_ids: Collection[str]) -> set[str]:
    """Those of ``profile_ids`` whose processing is restricted now (directly, or through a
    profile merged with theirs)."""
    wanted = set(profile_ids)
    if not wanted:
        return set()
    held = set(
        conn.execute(
            select(privacy_restrictions.c.profile_id).where(
                privacy_restrictions.c.lifted_at_us.is_(None)
            )
        ).scalars()
    )
    if not held:
        return set()
    live_of = _live(conn, wanted | held)
    blocked = {live_of[p] for p in held}
    return {p for p in wanted if p in held or live_of[p] in blocked}


def _live(conn: Connection, ids: set[str]) -> dict[str, str]:
    """Each id's live profile, following merges (an unknown id is its own)."""
    at = {i: i for i in ids}
    for _ in range(100):
        current = sorted(set(at.values()))
        moved = dict(
            conn.execute(
                select(profiles.c.id, profiles.c.merged_into).where(
                    key_in(conn, profiles.c.id, current), profiles.c.merged_into.is_not(None)
                )
            ).all()
        )
        if not moved:
            break
        at = {i: moved.get(p, p) for i, p in at.items()}
    return at


def _family(conn: Connection, ids: list[str]) -> set[str]:
    """The live profiles of ``ids`` and every profile merged into them."""
    found = set(_live(conn, set(ids)).values()) | set(ids)
    frontier = set(found)
    for _ in range(100):
        if not frontier:
            break
        merged = set(
            conn.execute(
                select(profiles.c.id).where(key_in(conn, profiles.c.merged_into, sorted(frontier)))
            ).scalars()
        )
        frontier = merged - found
        found |= frontier
    return found
