"""API keys: stored hashed, bound to a role (and, for writers, to one source).

The database holds only a key's SHA-256 and its first characters (to recognise it in a list);
the secret is shown once, when created or rotated. Rotating a key gives a new secret under the
same name and role and lets the old one work until its grace period ends (``expires_at_us``).
"""

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, Select, insert, or_, select, update

from c360.errors import Conflict, InvalidInput, NotFound
from c360.eventlog.service import ensure_source
from c360.kernel.clock import Clock, system_clock
from c360.kernel.ids import hash_key, new_secret_key
from c360.privacy.roles import Role
from c360.storage.engine import reader
from c360.storage.tables import api_keys, sources

__all__ = [
    "ApiKey",
    "KeyCache",
    "Role",
    "create_key",
    "find_active_key",
    "get_key",
    "list_keys",
    "revoke_key",
    "rotate_key",
]

_PREFIX = {
    Role.WRITER: "wk",
    Role.READ: "rk",
    Role.ADMIN: "ak",
    Role.MARKETER: "mk",
    Role.SALES: "sk",
    Role.SERVICE: "ck",
    Role.FINANCE: "fk",
    Role.ANALYST: "nk",
}
"""The first letters of a secret say its role, so a leaked key is recognised on sight."""


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
    expires_at_us: int | None = None  # set when the key was rotated: its grace period ends

    @property
    def actor_name(self) -> str:
        """How the audit log names whoever uses this key."""
        return f"key:{self.id} {self.name}"

    def usable_at(self, now_us: int) -> bool:
        return self.revoked_at_us is None and (
            self.expires_at_us is None or self.expires_at_us > now_us
        )


def create_key(
    conn: Connection,
    *,
    name: str,
    role: Role,
    source: str | None,
    clock: Clock = system_clock,
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
            created_at_us=clock(),
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
        api_keys.c.expires_at_us,
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
        expires_at_us=row.expires_at_us,
    )


def get_key(conn: Connection, key_id: int) -> ApiKey:
    row = conn.execute(_select_keys().where(api_keys.c.id == key_id)).first()
    if row is None:
        raise NotFound(f"key {key_id} does not exist")
    return _to_key(row)


def list_keys(conn: Connection) -> list[ApiKey]:
    return [_to_key(row) for row in conn.execute(_select_keys().order_by(api_keys.c.id))]


def revoke_key(conn: Connection, key_id: int, *, clock: Clock = system_clock) -> ApiKey:
    """Revoke a key; servers stop accepting it within their key cache TTL."""
    get_key(conn, key_id)
    conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at_us.is_(None))
        .values(revoked_at_us=clock())
    )
    return get_key(conn, key_id)


def rotate_key(
    conn: Connection, key_id: int, *, grace_s: float, clock: Clock = system_clock
) -> tuple[ApiKey, ApiKey, str]:
    """A new secret for a key: returns (the old key, now expiring after ``grace_s``, the new
    key with the same name, role and source, its secret). Clients switch within the grace
    period; after it the old secret is refused. ``grace_s=0`` ends the old secret now."""
    if grace_s < 0:
        raise InvalidInput("the grace period cannot be negative (0 ends the old key now)")
    old = get_key(conn, key_id)
    now = clock()
    if not old.usable_at(now):
        raise Conflict(f"key {key_id} is revoked or expired; create a new key instead")
    ends = now + int(grace_s * 1_000_000)
    if old.expires_at_us is not None:
        ends = min(ends, old.expires_at_us)  # rotating twice never extends the first grace
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(expires_at_us=ends))
    new, secret = create_key(
        conn, name=old.name, role=old.role, source=old.source_name, clock=clock
    )
    return get_key(conn, key_id), new, secret


def find_active_key(conn: Connection, secret: str, now_us: int | None = None) -> ApiKey | None:
    """The key whose secret this is, if it is neither revoked nor past its grace period."""
    now = system_clock() if now_us is None else now_us
    row = conn.execute(
        _select_keys().where(
            api_keys.c.key_hash == hash_key(secret),
            api_keys.c.revoked_at_us.is_(None),
            or_(api_keys.c.expires_at_us.is_(None), api_keys.c.expires_at_us > now),
        )
    ).first()
    return _to_key(row) if row else None


class KeyCache:
    """Key lookups for request handlers, cached for ``ttl_s`` (revocation takes at most that;
    a rotated key's grace period ends on time, cached or not)."""

    def __init__(self, engine: Engine, ttl_s: float, clock: Clock = system_clock) -> None:
        self._engine = reader(engine)
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, ApiKey | None]] = {}

    def lookup(self, secret: str) -> ApiKey | None:
        now = time.monotonic()
        hit = self._entries.get(secret)
        if hit is not None and hit[0] > now:
            key = hit[1]
            return key if key is None or key.usable_at(self._clock()) else None
        if len(secret) > 200:
            return None
        with self._engine.connect() as conn:
            key = find_active_key(conn, secret, self._clock())
        with self._lock:
            if len(self._entries) > 10_000:  # bad keys must not grow memory without bound
                self._entries.clear()
            self._entries[secret] = (now + self._ttl_s, key)
        return key
