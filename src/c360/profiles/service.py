"""Apply log entries to profiles: attach, create, merge on shared identifiers, update traits.

Deterministic in log order, so a rebuild from the log reproduces the same rows. Effects and the
checkpoint are written in the caller's transaction: an entry is applied exactly once.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, func, insert, select, update

from c360.errors import NotFound
from c360.eventlog.model import StoredEvent
from c360.kernel.ids import profile_id_for
from c360.profiles.model import Identifier, Profile, identifiers_of, previous_id_of, traits_of
from c360.storage.dialect import insert_many_ignoring_duplicates
from c360.storage.tables import (
    event_log,
    profile_events,
    profile_identifiers,
    profile_merges,
    profiles,
    sources,
)


def apply_events(conn: Connection, events: list[StoredEvent]) -> None:
    """Apply entries (in log order) to the profiles they concern.

    The batch is worked out in memory, from the rows it touches loaded up front, and written
    back with a handful of bulk statements: a worker holds the write lock for milliseconds.
    """
    if not events:
        return
    decoded = [(event, _decode(event.payload)) for event in events]
    batch = _Batch.load(conn, decoded)
    for event, payload in decoded:
        batch.apply(event, payload)
    batch.write(conn)


def _decode(payload: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(payload)
    # The log keeps a NUL as sent; derived tables on PostgreSQL cannot hold one.
    return _without_nul(value) if "\\u0000" in payload else value


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


@dataclass(slots=True)
class _Profile:
    created_seq: int
    traits: dict[str, Any]
    user_ids: set[str]
    updated_seq: int
    merged_into: str | None = None
    is_new: bool = False
    dirty: bool = False


@dataclass(slots=True)
class _Batch:
    """The part of the profile tables one batch of entries reads and changes."""

    owners: dict[tuple[str, str], str]
    profiles: dict[str, _Profile]
    new_identifiers: list[dict[str, Any]] = field(default_factory=list)
    new_events: list[tuple[str, int]] = field(default_factory=list)
    merges: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, conn: Connection, decoded: list[tuple[StoredEvent, dict[str, Any]]]) -> "_Batch":
        wanted: set[tuple[str, str]] = set()
        for event, payload in decoded:
            wanted.update(identifiers_of(event.type, payload))
            previous = previous_id_of(payload) if event.type == "alias" else None
            if previous is not None:
                wanted.update((t, previous) for t in ("user_id", "anonymous_id", "previous_id"))
        owners: dict[tuple[str, str], str] = {}
        by_type: dict[str, list[str]] = {}
        for id_type, value in sorted(wanted):
            by_type.setdefault(id_type, []).append(value)
        for id_type, values in by_type.items():
            for chunk in _chunks(values, 500):
                rows = conn.execute(
                    select(profile_identifiers.c.value, profile_identifiers.c.profile_id).where(
                        profile_identifiers.c.type == id_type,
                        profile_identifiers.c.value.in_(chunk),
                    )
                )
                owners.update({(id_type, v): pid for v, pid in rows})
        profile_ids = sorted(set(owners.values()))
        loaded: dict[str, _Profile] = {}
        for chunk_ids in _chunks(profile_ids, 400):
            for pid, created, traits, updated, merged_into in conn.execute(
                select(
                    profiles.c.id,
                    profiles.c.created_seq,
                    profiles.c.traits,
                    profiles.c.updated_seq,
                    profiles.c.merged_into,
                ).where(profiles.c.id.in_(chunk_ids))
            ):
                loaded[pid] = _Profile(created, dict(traits or {}), set(), updated, merged_into)
            for pid, value in conn.execute(
                select(profile_identifiers.c.profile_id, profile_identifiers.c.value).where(
                    profile_identifiers.c.profile_id.in_(chunk_ids),
                    profile_identifiers.c.type == "user_id",
                )
            ):
                loaded[pid].user_ids.add(value)
        return cls(owners, loaded)

    def apply(self, event: StoredEvent, payload: dict[str, Any]) -> None:
        ids = identifiers_of(event.type, payload)
        owners = {key: self.owners[key] for key in ids if key in self.owners}
        user_id = next((v for t, v in ids if t == "user_id"), None)

        if user_id is not None and ("user_id", user_id) in owners:
            target = owners[("user_id", user_id)]
        else:
            # A new user_id may only join a profile that has no user_id of its own yet.
            open_profiles = [
                pid
                for pid in set(owners.values())
                if user_id is None or not self.profiles[pid].user_ids
            ]
            if open_profiles:
                target = min(open_profiles, key=self._created)
            else:
                target = self._create(event.seq)

        # Profiles sharing an identifier with this entry become one, unless that would give
        # one profile two user_ids (one device used by two accounts is not one person).
        for other in sorted(set(owners.values()) - {target}, key=self._created):
            if self._may_merge(target, other, user_id):
                reason = "shared identifier: " + ", ".join(
                    sorted(t for (t, _v), pid in owners.items() if pid == other)
                )
                target = self._merge(target, other, event.seq, reason)

        if event.type == "alias":
            previous = previous_id_of(payload)
            if previous is not None:
                target = self._link_alias(target, previous, event)

        for id_type, value in ids:
            if (id_type, value) not in self.owners:
                self._attach(target, id_type, value, event)
        self.new_events.append((target, event.seq))
        profile = self.profiles[target]
        profile.updated_seq = event.seq
        profile.dirty = True
        if event.type == "identify":
            traits = traits_of(payload)
            if traits:
                profile.traits = {**profile.traits, **traits}

    def _created(self, profile_id: str) -> int:
        return self.profiles[profile_id].created_seq

    def _create(self, seq: int) -> str:
        profile_id = profile_id_for(seq)
        self.profiles[profile_id] = _Profile(seq, {}, set(), seq, is_new=True, dirty=True)
        return profile_id

    def _may_merge(self, a: str, b: str, user_id: str | None) -> bool:
        users = self.profiles[a].user_ids | self.profiles[b].user_ids
        if user_id is not None:
            users = users | {user_id}
        return len(users) <= 1

    def _merge(self, a: str, b: str, seq: int, reason: str) -> str:
        """Fold the younger of two profiles into the older; return the survivor."""
        survivor, merged = sorted((a, b), key=self._created)
        keep, gone = self.profiles[survivor], self.profiles[merged]
        keep.traits = {**gone.traits, **keep.traits}
        keep.user_ids |= gone.user_ids
        keep.updated_seq = seq
        keep.dirty = True
        gone.merged_into = survivor
        gone.traits = {}
        gone.user_ids = set()
        gone.dirty = True
        for key, owner in self.owners.items():
            if owner == merged:
                self.owners[key] = survivor
        for profile in self.profiles.values():
            if profile.merged_into == merged:
                profile.merged_into = survivor
                profile.dirty = True
        self.merges.append(
            {"survivor_id": survivor, "merged_id": merged, "seq": seq, "reason": reason}
        )
        return survivor

    def _link_alias(self, target: str, previous: str, event: StoredEvent) -> str:
        keys = [(t, previous) for t in ("user_id", "anonymous_id", "previous_id")]
        found = {self.owners[k] for k in keys if k in self.owners}
        for other in sorted(found - {target}):
            if self._may_merge(target, other, None):
                target = self._merge(target, other, event.seq, f"alias of previousId {previous}")
        if not found:
            self._attach(target, "previous_id", previous, event)
        return target

    def _attach(self, profile_id: str, id_type: str, value: str, event: StoredEvent) -> None:
        self.owners[(id_type, value)] = profile_id
        if id_type == "user_id":
            self.profiles[profile_id].user_ids.add(value)
        self.new_identifiers.append(
            {"type": id_type, "value": value, "source_id": event.source_id, "first_seq": event.seq}
        )

    def _live(self, profile_id: str) -> str:
        while (merged_into := self.profiles[profile_id].merged_into) is not None:
            profile_id = merged_into
        return profile_id

    def write(self, conn: Connection) -> None:
        new_rows = [
            {
                "id": pid,
                "traits": p.traits,
                "created_seq": p.created_seq,
                "updated_seq": p.updated_seq,
                "merged_into": p.merged_into,
            }
            for pid, p in self.profiles.items()
            if p.is_new
        ]
        if new_rows:
            conn.execute(insert(profiles), new_rows)
        changed = [
            {
                "pid": pid,
                "traits": p.traits,
                "updated_seq": p.updated_seq,
                "merged_into": p.merged_into,
            }
            for pid, p in self.profiles.items()
            if p.dirty and not p.is_new
        ]
        if changed:
            conn.execute(
                update(profiles)
                .where(profiles.c.id == bindparam("pid"))
                .values(
                    traits=bindparam("traits"),
                    updated_seq=bindparam("updated_seq"),
                    merged_into=bindparam("merged_into"),
                ),
                changed,
            )
        # Rows written before a merge in this batch are moved by the merge updates below, in
        # merge order; rows of this batch are written already resolved to the live profile.
        for merge in self.merges:
            survivor, merged = merge["survivor_id"], merge["merged_id"]
            conn.execute(
                update(profile_identifiers)
                .where(profile_identifiers.c.profile_id == merged)
                .values(profile_id=survivor)
            )
            conn.execute(
                update(profile_events)
                .where(profile_events.c.profile_id == merged)
                .values(profile_id=survivor)
            )
            conn.execute(
                update(profiles)
                .where(profiles.c.merged_into == merged)
                .values(merged_into=survivor)
            )
        if self.merges:
            conn.execute(insert(profile_merges), self.merges)
        insert_many_ignoring_duplicates(
            conn,
            profile_identifiers,
            [
                {**row, "profile_id": self.owners[(row["type"], row["value"])]}
                for row in self.new_identifiers
            ],
        )
        insert_many_ignoring_duplicates(
            conn,
            profile_events,
            [{"profile_id": self._live(pid), "seq": seq} for pid, seq in self.new_events],
        )


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- reads -------------------------------------------------------------------------------


def resolve_id(conn: Connection, profile_id: str) -> str:
    """The live profile id for ``profile_id``, following merges."""
    for _ in range(100):
        row = conn.execute(
            select(profiles.c.merged_into).where(profiles.c.id == profile_id)
        ).first()
        if row is None:
            raise NotFound(f"no profile with id {profile_id}")
        if row[0] is None:
            return profile_id
        profile_id = row[0]
    raise NotFound(f"profile {profile_id} has a merge cycle")


def get_profile(conn: Connection, profile_id: str) -> Profile:
    """The live profile (following merges) with its identifiers."""
    live = resolve_id(conn, profile_id)
    row = conn.execute(
        select(profiles.c.traits, profiles.c.created_seq, profiles.c.updated_seq).where(
            profiles.c.id == live
        )
    ).one()
    identifiers = [
        Identifier(t, v, s)
        for t, v, s in conn.execute(
            select(profile_identifiers.c.type, profile_identifiers.c.value, sources.c.name)
            .select_from(
                profile_identifiers.join(sources, sources.c.id == profile_identifiers.c.source_id)
            )
            .where(profile_identifiers.c.profile_id == live)
            .order_by(profile_identifiers.c.first_seq, profile_identifiers.c.type)
        )
    ]
    count = conn.execute(
        select(func.count()).select_from(profile_events).where(profile_events.c.profile_id == live)
    ).scalar_one()
    return Profile(
        live, dict(row.traits or {}), identifiers, row.created_seq, row.updated_seq, count
    )


def find_by_identifier(conn: Connection, id_type: str, value: str) -> Profile:
    """The profile an identifier points at."""
    lookup = value.strip().lower() if id_type == "email" else value
    profile_id = conn.execute(
        select(profile_identifiers.c.profile_id).where(
            profile_identifiers.c.type == id_type, profile_identifiers.c.value == lookup
        )
    ).scalar_one_or_none()
    if profile_id is None:
        raise NotFound(f"no profile has identifier {id_type}")
    return get_profile(conn, profile_id)


def profile_events_page(
    conn: Connection, profile_id: str, limit: int, before_seq: int | None
) -> list[tuple[Any, ...]]:
    """Log entries of a profile, newest first, ``limit`` at a time before ``before_seq``."""
    live = resolve_id(conn, profile_id)
    query = (
        select(
            event_log.c.seq,
            event_log.c.message_id,
            event_log.c.type,
            event_log.c.received_at_us,
            event_log.c.timestamp_us,
            event_log.c.payload,
            sources.c.name,
        )
        .select_from(
            profile_events.join(event_log, event_log.c.seq == profile_events.c.seq).join(
                sources, sources.c.id == event_log.c.source_id
            )
        )
        .where(profile_events.c.profile_id == live)
    )
    if before_seq is not None:
        query = query.where(profile_events.c.seq < before_seq)
    return [
        tuple(r) for r in conn.execute(query.order_by(profile_events.c.seq.desc()).limit(limit))
    ]
