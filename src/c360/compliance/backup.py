"""Backups that honour erasure (RELIABILITY-TESTS P7): encrypted, with a key that lives
outside the database and outside the backup, destroyed when the backup expires; a restore
that erases again everyone erased since the backup was taken.

A backup is the whole store at one moment: SQLite's online backup of the database file, or
``pg_dump --format=custom`` of the PostgreSQL database. It is encrypted at once, in the
`age <https://age-encryption.org>`_ format (X25519 and ChaCha20-Poly1305, authenticated; the
``pyrage`` bindings of the Rust implementation), to a key made for that backup alone. The plain
copy exists only while it is encrypted, in a file only this user can read, and is removed.

The key goes to the **key store** (``C360_BACKUP_KEYS``, a directory): one file per backup with
its age identity, the store it came from, when it was taken, the SHA-256 of the encrypted file
and when it **expires** (``C360_BACKUP_KEEP_DAYS``, 90 by default: the Thai erasure
notification's limit for copies and backups). Keep the key store on other storage than the
backups (a different volume, a secrets manager's mount), and back it up on its own, for no
longer than the backups' expiry: a backup file alone cannot be read.

Expiry (hourly in ``c360 serve`` and ``c360 worker`` where the key store is; ``c360 backup
expire``; every ``c360 backup`` command applies it first) overwrites and removes the key of
each expired backup, and the backup's file where it still is. Past its expiry a backup
cannot be read by anyone: that is how erasure reaches backups taken before it, at the
latest.

Before then, a restore (``c360 backup restore FILE --into URL``) erases again: it copies the
erasure tombstones (``privacy_suppressions``) of the live store into the restored one, applies
the log entries the backup had not applied yet, then erases (``c360.compliance.erasure``) every
person whose identifiers match a tombstone, with the same search that proves an erasure. A
restore into a store that is not empty is refused; so is an expired backup, one whose key is
not in the key store, and one whose file changed since it was written.
"""

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyrage
from sqlalchemy import Connection, Engine, insert, inspect, make_url, select, update
from sqlalchemy.engine import URL

from c360.errors import C360Error, Conflict, InvalidInput, NotFound
from c360.identity.features import NODE_RECORD
from c360.ingest.records import RECORD_TYPE
from c360.kernel.background import BackgroundLoop
from c360.kernel.clock import Clock, isoformat_us, system_clock
from c360.privacy import audit, suppression
from c360.storage import open_store
from c360.storage.engine import create_engine_for
from c360.storage.tables import identity_nodes, link_secrets, privacy_suppressions, profiles

log = logging.getLogger(__name__)

DEFAULT_KEEP_DAYS = 90
"""The Thai erasure notification's limit (copies and backups included)."""
SUFFIX = ".c360backup"
_NAME = re.compile(r"c360-(?P<id>\d{8}T\d{6}Z-[0-9a-f]{8})\.c360backup$")
_DAY_US = 86_400 * 1_000_000

Progress = Callable[[str, int, int], None]


class BackupError(C360Error):
    """A backup could not be taken or restored (the message says why)."""


@dataclass(frozen=True, slots=True)
class BackupKey:
    """What the key store holds of one backup."""

    id: str
    store: str
    created_at_us: int
    expires_at_us: int
    file: str
    sha256: str
    identity: str = field(repr=False)

    def expired(self, now_us: int) -> bool:
        return self.expires_at_us <= now_us

    def describe(self) -> dict[str, Any]:
        """Everything but the key itself."""
        return {
            "id": self.id,
            "store": self.store,
            "created_at": isoformat_us(self.created_at_us),
            "expires_at": isoformat_us(self.expires_at_us),
            "file": self.file,
            "sha256": self.sha256,
        }


class KeyStore:
    """A directory of backup keys, one JSON file each, readable by this user alone."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, backup_id: str) -> Path:
        return self.directory / f"{backup_id}.json"

    def put(self, key: BackupKey) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        final = self._path(key.id)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".key-")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(asdict(key), out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.directory)

    def get(self, backup_id: str) -> BackupKey | None:
        path = self._path(backup_id)
        return _read_key(path) if path.exists() else None

    def all(self) -> list[BackupKey]:
        """Every key, oldest first; a file that is not a key is logged and passed over (it
        must not keep the others from expiring)."""
        if not self.directory.is_dir():
            return []
        found: list[BackupKey] = []
        for path in self.directory.glob("*.json"):
            try:
                found.append(_read_key(path))
            except BackupError as exc:
                log.warning("%s", exc)
        return sorted(found, key=lambda k: k.created_at_us)

    def destroy(self, backup_id: str) -> bool:
        """Overwrite the key's file and remove it; False when there was none."""
        path = self._path(backup_id)
        if not path.exists():
            return False
        size = path.stat().st_size
        with path.open("r+b") as f:
            f.write(secrets.token_bytes(size))
            f.flush()
            os.fsync(f.fileno())
        path.unlink()
        _fsync_dir(self.directory)
        return True


def _read_key(path: Path) -> BackupKey:
    try:
        return BackupKey(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise BackupError(f"{path} is not a c360 backup key ({type(exc).__name__})") from None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_apart(keys: KeyStore, backups: Path) -> None:
    """Refuse a key store inside the backups' directory (or the other way round): the keys
    beside the files they open would make expiry and erasure meaningless."""
    a, b = keys.directory.resolve(), backups.resolve()
    if a == b or a.is_relative_to(b) or b.is_relative_to(a):
        raise InvalidInput(
            f"the backup key store ({keys.directory}) must not be in or contain the backup "
            f"directory ({backups}): keep the keys on other storage (C360_BACKUP_KEYS)"
        )


# --- taking a backup -------------------------------------------------------------------------


def create_backup(
    url: str,
    directory: Path,
    keys: KeyStore,
    *,
    keep_days: int = DEFAULT_KEEP_DAYS,
    now_us: int | None = None,
) -> BackupKey:
    """Back up the store at ``url`` into ``directory``, encrypted; its key goes to ``keys``."""
    if keep_days < 1:
        raise InvalidInput("a backup must be kept at least one day")
    check_apart(keys, directory)
    now = system_clock() if now_us is None else now_us
    kind = _kind(url)
    stamp = datetime.fromtimestamp(now / 1e6, UTC).strftime("%Y%m%dT%H%M%SZ")
    backup_id = f"{stamp}-{secrets.token_hex(4)}"
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"c360-{backup_id}{SUFFIX}"
    identity = pyrage.x25519.Identity.generate()
    with _private_file(directory, ".c360-enc-") as sealed:
        if kind == "sqlite":
            # SQLite's backup API writes a database file: the plain copy lives only until it
            # is encrypted, readable by this user alone
            with _private_file(directory, ".c360-dump-") as plain:
                _sqlite_copy(_sqlite_path(url), plain)
                pyrage.encrypt_file(str(plain), str(sealed), [identity.to_public()])
        else:
            # pg_dump's output goes straight into the encryption: no plain copy on disk
            argv = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                    "--dbname", _libpq(url)]  # fmt: skip
            with _tool(argv, url, stdout=subprocess.PIPE) as dump, sealed.open("wb") as out:
                assert dump.stdout is not None
                pyrage.encrypt_io(dump.stdout, out, [identity.to_public()])
                out.flush()
                os.fsync(out.fileno())
        key = BackupKey(
            id=backup_id,
            store=kind,
            created_at_us=now,
            expires_at_us=now + keep_days * _DAY_US,
            file=str(final.resolve()),
            sha256=_sha256(sealed),
            identity=str(identity),
        )
        keys.put(key)  # the key first: a file without its key would be lost for nothing
        os.replace(sealed, final)
    _fsync_dir(directory)
    return key


@contextmanager
def _private_file(directory: Path, prefix: str) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(dir=directory, prefix=prefix)  # mode 0600
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (its online backup API)."""
    if not source.exists():
        raise NotFound(f"no SQLite database at {source}")
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- expiry ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Expired:
    id: str
    expired_at: str
    file_removed: bool


def expire(keys: KeyStore, *, now_us: int | None = None) -> list[Expired]:
    """Destroy the key of every expired backup, and remove its file where it still is."""
    now = system_clock() if now_us is None else now_us
    done: list[Expired] = []
    for key in keys.all():
        if not key.expired(now):
            continue
        keys.destroy(key.id)
        file = Path(key.file)
        removed = file.exists()
        file.unlink(missing_ok=True)
        done.append(Expired(key.id, isoformat_us(key.expires_at_us), removed))
    return done


class ExpiryLoop(BackgroundLoop):
    """Applies :func:`expire` every ``poll_s`` seconds: ``c360 serve`` and ``c360 worker``
    run it where the key store is, so backups expire on time without a scheduled command."""

    def __init__(
        self, keys: KeyStore, *, poll_s: float = 3600.0, clock: Clock = system_clock
    ) -> None:
        self.keys = keys
        self._poll_s = poll_s
        self._clock = clock
        super().__init__("c360-backup-expiry")

    def run_once(self) -> list[Expired]:
        gone = expire(self.keys, now_us=self._clock())
        for g in gone:
            log.warning("backup %s expired on %s: its key was destroyed", g.id, g.expired_at)
        return gone

    def _run(self) -> None:
        self._repeat(self.run_once, self._poll_s, "backup expiry")


class BackupLoop(BackgroundLoop):
    """Takes a backup whenever the newest one in the key store is ``every_h`` hours old (or
    there is none), checking every ``poll_s`` seconds; ``c360 serve`` and ``c360 worker``
    run it when ``C360_BACKUP_EVERY_HOURS`` is set."""

    def __init__(
        self,
        engine: Engine,
        directory: Path,
        keys: KeyStore,
        *,
        every_h: float,
        keep_days: int,
        poll_s: float = 600.0,
        clock: Clock = system_clock,
    ) -> None:
        check_apart(keys, directory)  # refused at start, not an hour later
        self.engine = engine
        self.directory = directory
        self.keys = keys
        self._every_us = int(every_h * 3600 * 1_000_000)
        self._keep_days = keep_days
        self._poll_s = poll_s
        self._clock = clock
        self.taken = 0
        super().__init__("c360-backup")

    def run_once(self) -> BackupKey | None:
        """One check: a backup if one is due."""
        now = self._clock()
        newest = max((k.created_at_us for k in self.keys.all()), default=None)
        if newest is not None and now < newest + self._every_us:
            return None
        url = self.engine.url.render_as_string(hide_password=False)
        key = create_backup(url, self.directory, self.keys, keep_days=self._keep_days, now_us=now)
        with self.engine.begin() as conn:
            audit.record(
                conn, audit.SYSTEM, "backup.create", object_type="backup",
                object_id=key.id, detail=key.describe(),
            )  # fmt: skip
        self.taken += 1
        log.warning("backup %s taken: %s", key.id, key.file)
        return key

    def _run(self) -> None:
        self._repeat(self.run_once, self._poll_s, "the scheduled backup", told=(BackupError,))


def start_backup_loops(
    engine: Engine,
    directory: Path,
    keys_directory: Path,
    *,
    every_h: float | None,
    keep_days: int,
) -> list[BackgroundLoop]:
    """What ``c360 serve`` and ``c360 worker`` run for backups: scheduled backups when
    ``every_h`` is set, and expiry where the key store is."""
    loops: list[BackgroundLoop] = []
    keys = KeyStore(keys_directory)
    if every_h is not None:
        loops.append(
            BackupLoop(engine, directory, keys, every_h=every_h, keep_days=keep_days).start()
        )
    if every_h is not None or keys_directory.is_dir():
        loops.append(ExpiryLoop(keys).start())
    return loops


# --- restoring -------------------------------------------------------------------------------


@dataclass(slots=True)
class RestoreReport:
    backup: dict[str, Any]
    into: str
    tombstones_copied: int = 0
    entries_applied: int = 0
    people_erased: int = 0
    profiles_erased: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    verified: bool = True
    hits: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "backup": self.backup,
            "into": self.into,
            "erasures": {
                "tombstones_copied": self.tombstones_copied,
                "log_entries_applied": self.entries_applied,
                "people_erased": self.people_erased,
                "profiles_erased": self.profiles_erased,
                "removed": dict(sorted(self.removed.items())),
                "verified": self.verified,
                "hits": self.hits,
            },
        }


def find_key(keys: KeyStore, file: Path) -> BackupKey:
    """The key of the backup in ``file``: by its name, else by its content's hash."""
    named = _NAME.search(file.name)
    if named is not None and (key := keys.get(named["id"])) is not None:
        return key
    digest = _sha256(file)
    for key in keys.all():
        if key.sha256 == digest:
            return key
    raise NotFound(
        f"no key in {keys.directory} opens {file.name}: the backup expired (its key was "
        "destroyed) or was taken with another key store (C360_BACKUP_KEYS)"
    )


def restore_backup(
    file: Path,
    into_url: str,
    keys: KeyStore,
    *,
    erasures_from: str | None,
    now_us: int | None = None,
    progress: Progress | None = None,
) -> RestoreReport:
    """Restore the backup in ``file`` into the empty store at ``into_url``, then erase again
    everyone the store at ``erasures_from`` (the live one) has erased."""
    now = system_clock() if now_us is None else now_us
    if not file.is_file():
        raise NotFound(f"no backup at {file}")
    key = find_key(keys, file)
    if key.expired(now):
        keys.destroy(key.id)
        raise Conflict(
            f"backup {key.id} expired on {isoformat_us(key.expires_at_us)[:10]}: its key is "
            "destroyed and it cannot be read"
        )
    if _sha256(file) != key.sha256:
        raise Conflict(f"{file.name} is not the file backup {key.id} wrote: it was changed")
    kind = _kind(into_url)
    if kind != key.store:
        raise InvalidInput(f"backup {key.id} is of a {key.store} store; {into_url!r} is {kind}")
    if erasures_from:
        _live_tombstones(erasures_from, into_url)  # reachable, and not the target: fail early
    _check_empty(into_url)
    identity = pyrage.x25519.Identity.from_str(key.identity)
    if kind == "sqlite":
        target = _sqlite_path(into_url)
        target.parent.mkdir(parents=True, exist_ok=True)
        with _private_file(target.parent, ".c360-restore-") as plain:
            try:
                pyrage.decrypt_file(str(file), str(plain), [identity])
            except pyrage.DecryptError:
                raise Conflict(f"{file.name} could not be decrypted with its key") from None
            for suffix in ("-wal", "-shm", "-journal"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(plain, target)
    else:
        # decrypted straight into pg_restore: no plain copy on disk
        argv = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
                "--dbname", _libpq(into_url)]  # fmt: skip
        with _tool(argv, into_url, stdin=subprocess.PIPE) as load, file.open("rb") as sealed:
            assert load.stdin is not None
            try:
                pyrage.decrypt_io(sealed, load.stdin, [identity])
            except pyrage.DecryptError:
                raise Conflict(f"{file.name} could not be decrypted with its key") from None
            except BrokenPipeError:
                pass  # pg_restore stopped: its exit status and message say why
    report = RestoreReport(backup=key.describe(), into=_shown(into_url))
    engine = open_store(into_url)  # an older backup is migrated to this version's schema
    try:
        if erasures_from:
            # read now, after the restore: an erasure made meanwhile is applied too
            reapply_erasures(engine, _live_tombstones(erasures_from, into_url), report, progress)
    finally:
        engine.dispose()
    return report


@dataclass(slots=True)
class Tombstones:
    key_row: str | None
    rows: list[dict[str, Any]]


def erase_again(url: str, erasures_from: str, progress: Progress | None = None) -> RestoreReport:
    """Erase again, in the store at ``url`` (restored by other means: a physical backup, a
    snapshot), everyone the store at ``erasures_from`` has erased."""
    tombstones = _live_tombstones(erasures_from, url)
    report = RestoreReport(backup={}, into=_shown(url))
    engine = open_store(url)
    try:
        reapply_erasures(engine, tombstones, report, progress)
    finally:
        engine.dispose()
    return report


def _live_tombstones(url: str, into_url: str) -> Tombstones:
    if _same_store(url, into_url):
        raise InvalidInput(
            "the store to erase again in must be another than the live one it takes the "
            "erasures from"
        )
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(privacy_suppressions.name):
                return Tombstones(None, [])
            rows = [
                dict(r._mapping)
                for r in conn.execute(
                    select(
                        privacy_suppressions.c.id_type,
                        privacy_suppressions.c.value_hash,
                        privacy_suppressions.c.request_id,
                        privacy_suppressions.c.created_at_us,
                        privacy_suppressions.c.lifted_at_us,
                    ).order_by(privacy_suppressions.c.id)
                )
            ]
            key_row = conn.execute(
                select(link_secrets.c.value).where(link_secrets.c.name == suppression.KEY_NAME)
            ).scalar()
    except C360Error:
        raise
    except Exception as exc:
        raise BackupError(
            f"the live store's erasures could not be read ({type(exc).__name__}): a restore "
            "must erase again whoever was erased since the backup"
        ) from None
    finally:
        engine.dispose()
    return Tombstones(key_row, rows)


def _adopt_key(conn: Connection, tombstones: Tombstones) -> None:
    """The live store's erasure key in the restored store: the tombstones are its hashes. A
    backup taken before the first erasure has none yet and takes the live one; a backup with
    another key is of another store."""
    if tombstones.key_row is None:
        return
    restored = conn.execute(
        select(link_secrets.c.value).where(link_secrets.c.name == suppression.KEY_NAME)
    ).scalar()
    if restored is None:
        conn.execute(
            insert(link_secrets).values(
                name=suppression.KEY_NAME,
                value=tombstones.key_row,
                created_at_us=system_clock(),
            )
        )
    elif restored != tombstones.key_row:
        raise Conflict(
            "the backup's erasure key is not the live store's: it is a backup of another "
            "store, and the live store's erasures cannot be matched in it"
        )


def reapply_erasures(
    engine: Engine,
    tombstones: Tombstones,
    report: RestoreReport,
    progress: Progress | None = None,
) -> None:
    """Copy the live store's tombstones into this store, apply its pending log entries, and
    erase everyone a tombstone matches."""
    from c360.compliance.erasure import erase
    from c360.workers.processor import process_available

    def step(label: str, n: int) -> None:
        if progress is not None:
            progress(label, n, 3)

    step("copying the erasure tombstones", 1)
    with engine.begin() as conn:
        _adopt_key(conn, tombstones)
        suppression.store_key(conn)  # checks a configured key against the store's
        report.tombstones_copied = _copy_tombstones(conn, tombstones.rows)
    suppression.changed()
    step("applying the backup's pending log entries", 2)
    while applied := process_available(engine, 500):
        report.entries_applied += applied
    step("erasing again", 3)
    with engine.connect() as conn:
        matched = _matching_profiles(conn)
    done: set[str] = set()
    for profile_id, request_id in matched:
        if profile_id in done:
            continue
        with engine.begin() as conn:
            if _is_gone(conn, profile_id):
                continue
            erased = erase(conn, [profile_id], request_id=request_id)
        suppression.changed()
        report.people_erased += 1
        report.profiles_erased += erased.profile_ids
        for table, n in erased.removed.items():
            report.removed[table] = report.removed.get(table, 0) + n
        report.hits += erased.hits
        done.add(profile_id)
    report.verified = not report.hits


def _copy_tombstones(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Make this store's tombstones those of the live store (added, lifted or active again)."""
    existing = {
        (r.id_type, r.value_hash): r
        for r in conn.execute(
            select(
                privacy_suppressions.c.id,
                privacy_suppressions.c.id_type,
                privacy_suppressions.c.value_hash,
                privacy_suppressions.c.lifted_at_us,
            )
        )
    }
    new = [r for r in rows if (r["id_type"], r["value_hash"]) not in existing]
    if new:
        conn.execute(insert(privacy_suppressions), new)
    for r in rows:
        old = existing.get((r["id_type"], r["value_hash"]))
        if old is not None and old.lifted_at_us != r["lifted_at_us"]:
            conn.execute(
                update(privacy_suppressions)
                .where(privacy_suppressions.c.id == old.id)
                .values(lifted_at_us=r["lifted_at_us"], request_id=r["request_id"])
            )
    return len(new)


def _matching_profiles(conn: Connection) -> list[tuple[str, int | None]]:
    """Live profiles holding an identifier an active tombstone names (as erasure reads a
    person's identifiers from their nodes), with the tombstone's request."""
    key = suppression.store_key(conn)
    active = {
        (r.id_type, r.value_hash): r.request_id
        for r in conn.execute(
            select(
                privacy_suppressions.c.id_type,
                privacy_suppressions.c.value_hash,
                privacy_suppressions.c.request_id,
            ).where(privacy_suppressions.c.lifted_at_us.is_(None))
        )
    }
    if not active:
        return []
    found: dict[str, int | None] = {}
    query = select(
        identity_nodes.c.profile_id,
        identity_nodes.c.source_id,
        identity_nodes.c.node_type,
        identity_nodes.c.node_key,
        identity_nodes.c.identifiers,
    ).where(identity_nodes.c.profile_id.is_not(None))
    for row in conn.execute(query.execution_options(yield_per=2000)):
        if row.node_type == NODE_RECORD:
            held = [(RECORD_TYPE, suppression.record_value(int(row.source_id), row.node_key))]
        else:
            held = [(row.node_type, row.node_key)]
        ids = row.identifiers or {}
        held += [(str(t), str(v)) for t, v in [*ids.get("ids", []), *ids.get("links", [])]]
        for id_type, value in held:
            form = value if id_type == RECORD_TYPE else suppression.normal_form(id_type, value)
            hit = (id_type, suppression.value_hash(key, form))
            if hit in active:
                found.setdefault(row.profile_id, active[hit])
                break
    return sorted(found.items())


def _is_gone(conn: Connection, profile_id: str) -> bool:
    return conn.execute(select(profiles.c.id).where(profiles.c.id == profile_id)).first() is None


# --- stores ----------------------------------------------------------------------------------


def _kind(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise InvalidInput(f"backups are of SQLite or PostgreSQL stores, not {backend}")
    return backend


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise InvalidInput("an in-memory SQLite store has no file to back up or restore into")
    return Path(database)


def _libpq(url: str) -> str:
    """The URL as libpq (pg_dump, pg_restore) reads it; the password goes by environment."""
    parsed: URL = make_url(url).set(drivername="postgresql", password=None)
    return parsed.render_as_string(hide_password=False)


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _same_store(a: str, b: str) -> bool:
    ua, ub = make_url(a), make_url(b)
    if ua.get_backend_name() == "sqlite" and ub.get_backend_name() == "sqlite":
        return bool(ua.database and ub.database) and (
            Path(str(ua.database)).resolve() == Path(str(ub.database)).resolve()
        )
    return (ua.host, ua.port, ua.database) == (ub.host, ub.port, ub.database)


def _check_empty(url: str) -> None:
    if _kind(url) == "sqlite":
        path = _sqlite_path(url)
        if path.exists() and path.stat().st_size > 0:
            raise Conflict(f"{path} exists: restore into a new database file")
        return
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
    except Exception as exc:
        raise BackupError(
            f"cannot open {_shown(url)} ({type(exc).__name__}): create the empty database first"
        ) from None
    finally:
        engine.dispose()
    if tables:
        raise Conflict(f"{_shown(url)} is not empty: restore into a new, empty database")


@contextmanager
def _tool(argv: list[str], url: str, **pipes: Any) -> Iterator["subprocess.Popen[bytes]"]:
    """A PostgreSQL client tool streaming through ``pipes``; BackupError with its message
    when it fails."""
    if shutil.which(argv[0]) is None:
        raise BackupError(f"{argv[0]} is not installed: PostgreSQL backups need its client tools")
    env = dict(os.environ)
    password = make_url(url).password
    if password:
        env["PGPASSWORD"] = str(password)
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(argv, env=env, stderr=errors, **pipes)
        try:
            yield process
        finally:
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    with contextlib.suppress(BrokenPipeError):
                        stream.close()
            code = process.wait()
        if code != 0:
            errors.seek(0)
            message = errors.read().decode("utf-8", "replace").strip()[-500:]
            raise BackupError(f"{argv[0]} failed: {message}")
