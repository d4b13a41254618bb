"""API keys: stored hashed, bound to a role (and, for writers, to one source)."""

import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, Row, Select, insert, select, update

from c360.errors import InvalidInput, NotFound
from c360.eventlog.service import ensure_source
from c360.kernel.clock import system_clock
from c360.kernel.ids import hash_key, new_secret_key
from c360.storage.engine import reader
from c360.storage.tables import api_keys, sources


class Role(StrEnum):
    WRITER = "writer"  # sends messages to its one source; reads nothing
    READ = "read"  # reads profiles and events through /api
    ADMIN = "admin"  # everything under /api


_PREFIX = {Role.WRITER: "wk", Role.READ: "rk", Role.ADMIN: "ak"}


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as the server knows it (never the secret itself)."""

    id: int
    name: str
    role: Role
    source_id: int | None
    source_name: str | None
    source_rate_limit_per_s: float | None
    prefix: str
    created_at_us: int
    revoked_at_us: int | None


def create_key(
    conn: Connection, *, name: str, role: Role, source: str | None
) -> tuple[ApiKey, str]:
    """A new key; returns it with its secret, which is shown once and stored only hashed."""
    if not name.strip():
        raise InvalidInput("a key needs a --name that says who or what uses it")
    if role is Role.WRITER and not source:
        raise InvalidInput("a writer key writes to one source: give --source NAME")
    if role is not Role.WRITER and source:
        raise InvalidInput(f"--source only applies to writer keys, not to {role.value} keys")
    source_row = ensure_source(conn, source) if source else None
    secret = new_secret_key(_PREFIX[role])
    key_id = conn.execute(
        insert(api_keys)
        .values(
            name=name.strip(),
            role=role.value,
            source_id=source_row.id if source_row else None,
            key_hash=hash_key(secret),
            key_prefix=secret[:10],
            created_at_us=system_clock(),
        )
        .returning(api_keys.c.id)
    ).scalar_one()
    return get_key(conn, key_id), secret


def _select_keys() -> Select[Any]:
    return select(
        api_keys.c.id,
        api_keys.c.name,
        api_keys.c.role,
        api_keys.c.source_id,
        sources.c.name.label("source_name"),
        sources.c.rate_limit_per_s,
        api_keys.c.key_prefix,
        api_keys.c.created_at_us,
        api_keys.c.revoked_at_us,
    ).select_from(api_keys.outerjoin(sources, sources.c.id == api_keys.c.source_id))


def _to_key(row: Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        source_id=row.source_id,
        source_name=row.source_name,
        source_rate_limit_per_s=row.rate_limit_per_s,
        prefix=row.key_prefix,
        created_at_us=row.created_at_us,
        revoked_at_us=row.revoked_at_us,
    )


def get_key(conn: Connection, key_id: int) -> ApiKey:
    row = conn.execute(_select_keys().where(api_keys.c.id == key_id)).first()
    if row is None:
        raise NotFound(f"key {key_id} does not exist")
    return _to_key(row)


def list_keys(conn: Connection) -> list[ApiKey]:
    return [_to_key(row) for row in conn.execute(_select_keys().order_by(api_keys.c.id))]


def revoke_key(conn: Connection, key_id: int) -> ApiKey:
    """Revoke a key; servers stop accepting it within their key cache TTL."""
    get_key(conn, key_id)
    conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at_us.is_(None))
        .values(revoked_at_us=system_clock())
    )
    return get_key(conn, key_id)


def find_active_key(conn: Connection, secret: str) -> ApiKey | None:
    """The unrevoked key whose secret this is, if any."""
    row = conn.execute(
        _select_keys().where(
            api_keys.c.key_hash == hash_key(secret), api_keys.c.revoked_at_us.is_(None)
        )
    ).first()
    return _to_key(row) if row else None


class KeyCache:
    """Key lookups for request handlers, cached for ``ttl_s`` (revocation takes at most that)."""

    def __init__(self, engine: Engine, ttl_s: float) -> None:
        self._engine = reader(engine)
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, ApiKey | None]] = {}

    def lookup(self, secret: str) -> ApiKey | None:
        now = time.monotonic()
        hit = self._entries.get(secret)
        if hit is not None and hit[0] > now:
            return hit[1]
        if len(secret) > 200:
            return None
        with self._engine.connect() as conn:
            key = find_active_key(conn, secret)
        with self._lock:
            if len(self._entries) > 10_000:  # bad keys must not grow memory without bound
                self._entries.clear()
            self._entries[secret] = (now + self._ttl_s, key)
        return key
