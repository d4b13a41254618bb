"""People who sign in to the web app, and their sessions.

There is no account on a fresh install: the operator creates the first admin with
``c360 users create NAME --role admin``. Passwords are stored only as argon2id hashes. A
session's token lives in the person's cookie and only its SHA-256 in ``user_sessions``; the
CSRF token is derived from the session token (so ``/auth/me`` can hand it out again after a
page reload) and stored hashed too.

Sign-in is throttled per username: after ``max_failures`` wrong passwords within
``window_s`` every attempt is refused (even with the right password) until the window has
passed; and per client address over all usernames (``max_client_failures``). Failures are
counted from the audit log, so every server process sees the same count. An unknown username
costs the same argon2 work as a wrong password and gets the same answer; a throttled attempt
costs none (its answer does not depend on the username either).
"""

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, Row, func, insert, select, update

from c360.errors import C360Error, Conflict, InvalidInput, NotFound, Unauthorized
from c360.kernel.clock import Clock, system_clock
from c360.privacy import audit
from c360.privacy.roles import USER_ROLES, Role, parse_role
from c360.storage.tables import audit_log, user_sessions, users

_HASHER = PasswordHasher()  # argon2id, t=3, 64 MiB, p=4 (RFC 9106's second recommendation)
_DUMMY_HASH: str | None = None
"""Verified against when the username is unknown, so both cost the same time. Made at the
first sign-in with an unknown name (an argon2id hash takes a fifth of a second, which every
process start and every command would pay otherwise): only that one answer per process is
slower."""


def configure_hashing(*, time_cost: int, memory_kib: int, parallelism: int) -> None:
    """Set the argon2id cost of new hashes (tests, very small machines). Existing hashes
    still verify and are rehashed with the new cost at their next sign-in."""
    global _HASHER, _DUMMY_HASH
    _HASHER = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    _DUMMY_HASH = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
    return _DUMMY_HASH


USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,99}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 hashes anything, but a megabyte password is an attack
SIGN_IN_FAILED = "the username or password is wrong"
_TOUCH_US = 60_000_000
"""A session's last use is written at most once a minute (idle expiry needs no finer)."""


class TooManyAttempts(C360Error):
    """Sign-in refused for a while after too many wrong passwords (HTTP 429)."""

    code = "too_many_attempts"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str | None
    role: Role
    created_at_us: int
    password_changed_at_us: int
    last_login_at_us: int | None
    disabled_at_us: int | None

    @property
    def actor_name(self) -> str:
        """How the audit log names this person."""
        return f"user:{self.username}"


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long sessions last and how sign-in is throttled (from Settings)."""

    idle_s: float = 12 * 3600.0
    absolute_s: float = 7 * 86400.0
    max_failures: int = 5
    window_s: float = 15 * 60.0
    max_client_failures: int = 20  # from one address, over every username (stuffing)


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    user: User
    created_at_us: int
    expires_at_us: int
    last_seen_at_us: int


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just opened: the token for the cookie and the CSRF token for the page."""

    session: Session
    token: str
    csrf_token: str


def _to_user(row: Row[Any] | Any) -> User:
    """A user from any row holding the users columns (alone or joined)."""
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        created_at_us=row.created_at_us,
        password_changed_at_us=row.password_changed_at_us,
        last_login_at_us=row.last_login_at_us,
        disabled_at_us=row.disabled_at_us,
    )


_USER_COLUMNS = (
    users.c.id,
    users.c.username,
    users.c.display_name,
    users.c.role,
    users.c.created_at_us,
    users.c.password_changed_at_us,
    users.c.last_login_at_us,
    users.c.disabled_at_us,
)


def _checked_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"a password has at most {MAX_PASSWORD} characters")
    if not password.strip():
        raise InvalidInput("a password cannot be only spaces")
    return password


def _checked_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME.match(name):
        raise InvalidInput(
            f"username {username!r}: 1-100 lower-case letters, digits and . _ @ -, "
            "starting with a letter or digit"
        )
    return name


def create_user(
    conn: Connection,
    username: str,
    password: str,
    role: Role | str,
    *,
    actor: audit.Actor,
    display_name: str | None = None,
    clock: Clock = system_clock,
) -> User:
    """A new user who can sign in (audited as ``user.create``)."""
    name = _checked_username(username)
    chosen = parse_role(role.value if isinstance(role, Role) else role, USER_ROLES)
    hashed = _HASHER.hash(_checked_password(password))
    if conn.execute(select(users.c.id).where(users.c.username == name)).first() is not None:
        raise Conflict(f"user {name!r} exists already; use c360 users passwd or enable")
    now = clock()
    conn.execute(
        insert(users).values(
            username=name,
            display_name=display_name,
            role=chosen.value,
            password_hash=hashed,
            created_at_us=now,
            password_changed_at_us=now,
        )
    )
    audit.record(
        conn,
        actor,
        "user.create",
        object_type="user",
        object_id=name,
        detail={"role": chosen.value},
        at_us=now,
    )
    return get_user(conn, name)


def get_user(conn: Connection, username: str) -> User:
    row = conn.execute(
        select(*_USER_COLUMNS).where(users.c.username == username.strip().lower())
    ).first()
    if row is None:
        raise NotFound(f"no user named {username!r} (c360 users list)")
    return _to_user(row)


def list_users(conn: Connection) -> list[User]:
    return [_to_user(r) for r in conn.execute(select(*_USER_COLUMNS).order_by(users.c.username))]


def count_users(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def set_disabled(
    conn: Connection,
    username: str,
    disabled: bool,
    *,
    actor: audit.Actor,
    clock: Clock = system_clock,
) -> User:
    """Disable a user (their sessions end at once) or enable them again."""
    user = get_user(conn, username)
    now = clock()
    conn.execute(
        update(users)
        .where(users.c.id == user.id)
        .values(disabled_at_us=(user.disabled_at_us or now) if disabled else None)
    )
    if disabled:
        revoke_user_sessions(conn, user.id, now)
    audit.record(
        conn,
        actor,
        "user.disable" if disabled else "user.enable",
        object_type="user",
        object_id=user.username,
        at_us=now,
    )
    return get_user(conn, username)


def set_password(
    conn: Connection,
    username: str,
    password: str,
    *,
    actor: audit.Actor,
    clock: Clock = system_clock,
) -> User:
    """A new password; every open session of the user ends (someone may have the old one)."""
    user = get_user(conn, username)
    now = clock()
    conn.execute(
        update(users)
        .where(users.c.id == user.id)
        .values(password_hash=_HASHER.hash(_checked_password(password)), password_changed_at_us=now)
    )
    revoke_user_sessions(conn, user.id, now)
    audit.record(
        conn, actor, "user.password", object_type="user", object_id=user.username, at_us=now
    )
    return get_user(conn, username)


def _recent_failures(
    conn: Connection, since_us: int, *, username: str | None = None, client: str | None = None
) -> list[int]:
    """When the failed sign-ins since ``since_us`` happened, for a username or a client."""
    query = select(audit_log.c.at_us).where(
        audit_log.c.action == "user.sign_in_failed", audit_log.c.at_us > since_us
    )
    if username is not None:
        query = query.where(audit_log.c.object_type == "user", audit_log.c.object_id == username)
    if client is not None:
        query = query.where(audit_log.c.client == client)
    return [int(at) for at in conn.execute(query).scalars()]


def sign_in(
    conn: Connection,
    username: str,
    password: str,
    *,
    client: str | None,
    policy: SessionPolicy,
    clock: Clock = system_clock,
) -> NewSession:
    """Check a password and open a session, or raise Unauthorized (the same message for an
    unknown user, a wrong password and a disabled user) or TooManyAttempts.

    A failure is written to the audit log before the error is raised: the caller must commit
    the transaction even when this raises (see :func:`c360.api.auth`)."""
    now = clock()
    name = username.strip().lower()[:100]
    row = conn.execute(
        select(*_USER_COLUMNS, users.c.password_hash).where(users.c.username == name)
    ).first()
    user = _to_user(row) if row is not None else None
    window_start = now - int(policy.window_s * 1_000_000)
    if user is not None and user.last_login_at_us is not None:
        window_start = max(window_start, user.last_login_at_us)  # a success clears the count
    failures = _recent_failures(conn, window_start, username=name)
    by_client = (
        _recent_failures(conn, now - int(policy.window_s * 1_000_000), client=client)
        if client
        else []
    )
    # the same answer, and no password work, whether the username exists or not
    for found, limit, whose in (
        (failures, policy.max_failures, "this username"),
        (by_client, policy.max_client_failures, "this address"),
    ):
        if len(found) >= limit:
            retry = max(1, math.ceil((min(found) + policy.window_s * 1_000_000 - now) / 1e6))
            raise TooManyAttempts(
                f"too many failed sign-ins from {whose}; try again in {retry} s", retry
            )
    stored = str(row.password_hash) if row is not None else _dummy_hash()
    matches = _verify(stored, password) and user is not None
    if not matches or user is None or user.disabled_at_us is not None:
        audit.record(
            conn,
            audit.Actor(f"user:{name}" if user else "anonymous", client=client),
            "user.sign_in_failed",
            object_type="user",
            object_id=name,
            detail={"reason": "disabled" if matches else "password"},
            at_us=now,
        )
        raise Unauthorized(SIGN_IN_FAILED)
    if _HASHER.check_needs_rehash(stored):
        conn.execute(
            update(users).where(users.c.id == user.id).values(password_hash=_HASHER.hash(password))
        )
    conn.execute(update(users).where(users.c.id == user.id).values(last_login_at_us=now))
    opened = open_session(conn, user, client=client, policy=policy, now_us=now)
    audit.record(
        conn,
        audit.Actor(user.actor_name, user.role.value, client),
        "user.sign_in",
        object_type="user",
        object_id=user.username,
        detail={"session": opened.session.id},
        at_us=now,
    )
    return opened


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password[:MAX_PASSWORD])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token_for(token: str) -> str:
    """The CSRF token of the session whose cookie holds ``token``."""
    return hmac.new(token.encode("utf-8"), b"c360 csrf", hashlib.sha256).hexdigest()


def open_session(
    conn: Connection, user: User, *, client: str | None, policy: SessionPolicy, now_us: int
) -> NewSession:
    token = secrets.token_urlsafe(32)
    csrf = csrf_token_for(token)
    expires = now_us + int(policy.absolute_s * 1_000_000)
    session_id = conn.execute(
        insert(user_sessions)
        .values(
            token_hash=token_hash(token),
            csrf_hash=token_hash(csrf),
            user_id=user.id,
            created_at_us=now_us,
            expires_at_us=expires,
            last_seen_at_us=now_us,
            client=client,
        )
        .returning(user_sessions.c.id)
    ).scalar_one()
    session = Session(int(session_id), user, now_us, expires, now_us)
    return NewSession(session, token, csrf)


def find_session(
    conn: Connection, token: str, *, policy: SessionPolicy, now_us: int
) -> Session | None:
    """The live session whose cookie holds ``token``: not signed out, not past its absolute
    expiry, used within the idle timeout, its user not disabled. Its last use is updated."""
    if not token or len(token) > 200:
        return None
    row = conn.execute(
        select(
            *_USER_COLUMNS,
            user_sessions.c.id.label("session_id"),
            user_sessions.c.created_at_us.label("session_created_at_us"),
            user_sessions.c.expires_at_us.label("session_expires_at_us"),
            user_sessions.c.last_seen_at_us,
        )
        .select_from(user_sessions.join(users, users.c.id == user_sessions.c.user_id))
        .where(
            user_sessions.c.token_hash == token_hash(token),
            user_sessions.c.revoked_at_us.is_(None),
            user_sessions.c.expires_at_us > now_us,
            user_sessions.c.last_seen_at_us > now_us - int(policy.idle_s * 1_000_000),
            users.c.disabled_at_us.is_(None),
        )
    ).first()
    if row is None:
        return None
    last_seen = int(row.last_seen_at_us)
    if now_us - last_seen >= _TOUCH_US:
        conn.execute(
            update(user_sessions)
            .where(user_sessions.c.id == row.session_id)
            .values(last_seen_at_us=now_us)
        )
        last_seen = now_us
    return Session(
        id=int(row.session_id),
        user=_to_user(row),
        created_at_us=int(row.session_created_at_us),
        expires_at_us=int(row.session_expires_at_us),
        last_seen_at_us=last_seen,
    )


def csrf_matches(token: str, csrf: str | None) -> bool:
    """Whether ``csrf`` is the CSRF token of the session ``token`` (constant time)."""
    return csrf is not None and hmac.compare_digest(csrf_token_for(token), csrf)


def sign_out(conn: Connection, session: Session, *, client: str | None, now_us: int) -> None:
    conn.execute(
        update(user_sessions)
        .where(user_sessions.c.id == session.id, user_sessions.c.revoked_at_us.is_(None))
        .values(revoked_at_us=now_us)
    )
    audit.record(
        conn,
        audit.Actor(session.user.actor_name, session.user.role.value, client),
        "user.sign_out",
        object_type="user",
        object_id=session.user.username,
        detail={"session": session.id},
        at_us=now_us,
    )


def revoke_user_sessions(conn: Connection, user_id: int, now_us: int) -> int:
    """End every open session of a user; returns how many there were."""
    result = conn.execute(
        update(user_sessions)
        .where(user_sessions.c.user_id == user_id, user_sessions.c.revoked_at_us.is_(None))
        .values(revoked_at_us=now_us)
    )
    return int(result.rowcount or 0)
