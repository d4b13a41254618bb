"""Backups honour erasure (RELIABILITY-TESTS P7), on both stores: a backup is taken, a person
is erased, and the backup restored into a scratch database holds nothing of them (every table
and column read back, in every form); a backup past its expiry cannot be read at all.

The person is seeded as in tests/integration/test_erasure.py (tracked events with a merge, an
imported CRM file), plus one event the backup had logged and not yet applied."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from tests.cli import c360
from tests.conftest import ADMIN_POSTGRES_URL, fresh_database, make_keys, postgres_problem
from tests.customer360 import process
from tests.integration.test_erasure import (
    CRM_ROWS,
    EMAIL,
    OTHER_EMAIL,
    USER,
    import_crm,
    leftovers,
    message,
    other_messages,
    person_messages,
    send,
)

from c360.api.app import build_app
from c360.compliance.backup import (
    BackupError,
    BackupLoop,
    ExpiryLoop,
    KeyStore,
    create_backup,
    erase_again,
    expire,
    find_key,
    restore_backup,
    start_backup_loops,
)
from c360.compliance.erasure import erase
from c360.errors import Conflict, InvalidInput, NotFound
from c360.kernel.clock import system_clock
from c360.privacy import suppression
from c360.profiles.service import find_by_identifier
from c360.settings import Settings
from c360.storage import open_store
from c360.storage.engine import create_engine_for
from c360.storage.tables import audit_log, event_log, privacy_suppressions

from starlette.testclient import TestClient  # isort: skip

DAY_US = 86_400 * 1_000_000


def seed(
    database_url: str, engine: Engine, tmp_path: Path, encryption_keys: str | None = None
) -> None:
    """The person (events with a merge, a CRM record) and another person who stays; then one
    more event of the person that is logged but not applied (``encryption_keys``: sealed at
    rest, docs/encryption.md)."""
    write_key, _ = make_keys(database_url)
    crm_file = tmp_path / "crm.jsonl"
    crm_file.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in CRM_ROWS) + "\n", "utf-8"
    )
    settings = Settings(database_url=database_url, encryption_keys=encryption_keys)
    app = build_app(settings, engine, run_worker=False)
    with TestClient(app) as client:
        visit, identified, feedback = person_messages()
        send(client, write_key, visit, feedback)
        process(engine)
        send(client, write_key, identified, *other_messages())
        process(engine)
        assert import_crm(engine, crm_file) == 2
        send(client, write_key, message("track", userId=USER, event="Order Completed"))


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_restored_backup_holds_nothing_of_a_person_erased_after_it(
    database_url: str, engine: Engine, tmp_path: Path, encryption_keys: str | None
) -> None:
    seed(database_url, engine, tmp_path, encryption_keys)
    keys = KeyStore(tmp_path / "keys")
    taken = create_backup(database_url, tmp_path / "backups", keys, keep_days=90)
    backup_file = Path(taken.file)
    assert backup_file.is_file() and backup_file.parent == (tmp_path / "backups").resolve()
    assert [p.name for p in (tmp_path / "backups").iterdir()] == [backup_file.name]
    sealed = backup_file.read_bytes()
    assert sealed.startswith(b"age-encryption.org/v1")
    for value in (EMAIL, USER, OTHER_EMAIL, "Trần"):
        assert value.encode() not in sealed  # nothing readable in the file itself
    logged = count(engine, event_log)
    snapshot_url = None
    if database_url.startswith("sqlite"):
        # a copy taken by other means than c360 (a file-system snapshot, say)
        snapshot = tmp_path / "snapshot.db"
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as live:
            live.backup(copy := sqlite3.connect(snapshot))
        copy.close()
        snapshot_url = f"sqlite:///{snapshot}"

    # the person is erased after the backup (the pending event is applied first, and erased)
    process(engine)
    with engine.begin() as conn:
        pid = find_by_identifier(conn, "email", EMAIL).id
        report = erase(conn, [pid], request_id=None)
    suppression.changed()
    assert report.verified and report.profile_ids >= 2
    assert leftovers(engine) == {}

    # restored into a scratch database: the person is erased again, the other person stays
    with fresh_database(
        "sqlite" if database_url.startswith("sqlite") else "postgresql",
        tmp_path / "scratch",
        migrated=False,
    ) as scratch_url:
        (tmp_path / "scratch").mkdir(exist_ok=True)
        restored = restore_backup(backup_file, scratch_url, keys, erasures_from=database_url)
        assert restored.verified, restored.hits
        assert restored.people_erased == 1
        assert restored.profiles_erased >= 2
        assert restored.entries_applied >= 1  # the event the backup had not applied
        assert restored.tombstones_copied >= 3  # email, phone, user id, record, ...
        scratch = open_store(scratch_url)
        try:
            assert leftovers(scratch) == {}
            with scratch.connect() as conn:
                other = find_by_identifier(conn, "email", OTHER_EMAIL)
                assert other.event_count == 2
            assert count(scratch, privacy_suppressions) == count(engine, privacy_suppressions)
            # the rest of the log is there: only the person's entries are gone
            assert 0 < count(scratch, event_log) < logged
        finally:
            scratch.dispose()

    if snapshot_url is not None:
        again = erase_again(snapshot_url, database_url)
        assert again.verified and again.people_erased == 1
        snapshot_engine = open_store(snapshot_url)
        try:
            assert leftovers(snapshot_engine) == {}
        finally:
            snapshot_engine.dispose()


def test_an_expired_backup_cannot_be_read_and_its_key_is_destroyed(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path, migrated=True) as url:
        engine = open_store(url)
        engine.dispose()
        keys = KeyStore(tmp_path / "keys")
        now = system_clock()
        taken = create_backup(url, tmp_path / "backups", keys, keep_days=90, now_us=now)
        backup_file = Path(taken.file)
        assert find_key(keys, backup_file).id == taken.id
        # renamed, it is still found (by its content's hash)
        renamed = tmp_path / "renamed.bin"
        shutil.copyfile(backup_file, renamed)
        assert find_key(keys, renamed).id == taken.id

        # a day before expiry it can still be restored
        restore_backup(
            backup_file,
            f"sqlite:///{tmp_path / 'early.db'}",
            keys,
            erasures_from=None,
            now_us=now + 89 * DAY_US,
        )
        # at expiry the restore refuses, and the key is destroyed
        with pytest.raises(Conflict, match="expired"):
            restore_backup(
                backup_file,
                f"sqlite:///{tmp_path / 'late.db'}",
                keys,
                erasures_from=None,
                now_us=now + 90 * DAY_US,
            )
        assert keys.all() == []
        assert not (tmp_path / "late.db").exists()
        with pytest.raises(NotFound, match="no key"):
            restore_backup(renamed, f"sqlite:///{tmp_path / 'later.db'}", keys, erasures_from=None)

        # expire() removes the keys and files of expired backups, and nothing else; a stray
        # file in the key store does not stop it
        (tmp_path / "keys" / "notes.json").write_text("not a key", encoding="utf-8")
        second = create_backup(url, tmp_path / "backups", keys, keep_days=1, now_us=now)
        third = create_backup(url, tmp_path / "backups", keys, keep_days=30, now_us=now)
        gone = expire(keys, now_us=now + 2 * DAY_US)
        assert [(g.id, g.file_removed) for g in gone] == [(second.id, True)]
        assert not Path(second.file).exists()
        assert [k.id for k in keys.all()] == [third.id]


def test_a_backup_refuses_what_would_lose_or_leak_data(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path, migrated=True) as url:
        keys = KeyStore(tmp_path / "keys")
        with pytest.raises(InvalidInput, match="must not be in or contain"):
            create_backup(url, tmp_path / "keys" / "backups", keys)
        with pytest.raises(InvalidInput, match="must not be in or contain"):
            create_backup(url, tmp_path, keys)
        taken = create_backup(url, tmp_path / "backups", keys)
        backup_file = Path(taken.file)
        # a store that is not empty is not overwritten
        with pytest.raises(Conflict, match="exists"):
            restore_backup(backup_file, url, keys, erasures_from=None)
        # the live store is not its own restore target
        with pytest.raises(InvalidInput, match="must be another than the live one"):
            restore_backup(backup_file, url, keys, erasures_from=url)
        # a changed file is refused before it is decrypted
        tampered = bytearray(backup_file.read_bytes())
        tampered[-20] ^= 0x01
        backup_file.write_bytes(bytes(tampered))
        with pytest.raises(Conflict, match="changed"):
            restore_backup(backup_file, f"sqlite:///{tmp_path / 'x.db'}", keys, erasures_from=None)
        assert not (tmp_path / "x.db").exists()


def test_the_backup_commands(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path, migrated=True) as url:
        env = {
            "C360_BACKUP_DIR": str(tmp_path / "backups"),
            "C360_BACKUP_KEYS": str(tmp_path / "keys"),
        }
        created = c360(url, "backup", "create", "--keep-days", "7", "--json", **env)
        assert created.returncode == 0, created.stderr
        taken = json.loads(created.stdout)
        listed = c360(url, "backup", "list", "--json", **env)
        assert [b["id"] for b in json.loads(listed.stdout)] == [taken["id"]]
        assert json.loads(listed.stdout)[0]["file_present"] is True
        target = f"sqlite:///{tmp_path / 'restored.db'}"
        restored = c360(url, "backup", "restore", taken["file"], "--into", target, **env)
        assert restored.returncode == 0, restored.stderr
        assert "erased again: 0 people" in restored.stdout
        again = c360(url, "backup", "restore", taken["file"], "--into", target, **env)
        assert again.returncode == 5 and "exists" in again.stderr
        lost = f"sqlite:///{tmp_path / 'lost.db'}"
        alone = c360(
            url,
            "backup",
            "restore",
            taken["file"],
            "--into",
            lost,
            "--without-live-erasures",
            **env,
        )
        assert alone.returncode == 0, alone.stderr
        assert "only those the backup holds" in alone.stdout
        again_json = c360(url, "backup", "erase-again", lost, "--json", **env)
        assert again_json.returncode == 0, again_json.stderr
        assert json.loads(again_json.stdout)["erasures"]["verified"] is True
        assert c360(url, "backup", "expire", **env).stdout.strip() == "no backup has expired"
        audit = c360(url, "audit", "list", "--json", **env)
        assert audit.returncode == 0, audit.stderr
        assert "backup.create" in audit.stdout


def test_servers_and_workers_expire_backups_where_the_key_store_is(tmp_path: Path) -> None:
    unused = create_engine_for(f"sqlite:///{tmp_path / 'unused.db'}")
    nothing = start_backup_loops(
        unused, tmp_path / "b", tmp_path / "no-key-store", every_h=None, keep_days=9
    )
    unused.dispose()
    assert nothing == []
    with fresh_database("sqlite", tmp_path, migrated=True) as url:
        keys = KeyStore(tmp_path / "keys")
        now = system_clock()
        short = create_backup(url, tmp_path / "backups", keys, keep_days=1, now_us=now)
        kept = create_backup(url, tmp_path / "backups", keys, keep_days=2, now_us=now)
        clock = [now + DAY_US - 1]
        loop = ExpiryLoop(keys, clock=lambda: clock[0])
        assert loop.run_once() == []
        clock[0] += 1
        assert [g.id for g in loop.run_once()] == [short.id]
        assert [k.id for k in keys.all()] == [kept.id]
        assert not Path(short.file).exists() and Path(kept.file).exists()


def test_a_failed_dump_leaves_no_file_and_no_key(tmp_path: Path) -> None:
    problem = postgres_problem()
    if problem is not None:
        pytest.skip(problem)
    missing = ADMIN_POSTGRES_URL.rsplit("/", 1)[0] + "/c360_no_such_database"
    keys = KeyStore(tmp_path / "keys")
    with pytest.raises(BackupError, match=r'pg_dump failed: .*"c360_no_such_database" does not'):
        create_backup(missing, tmp_path / "backups", keys)
    assert keys.all() == []
    assert list((tmp_path / "backups").iterdir()) == []


def test_scheduled_backups_are_taken_when_the_newest_is_old_enough(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path, migrated=True) as url:
        engine = open_store(url)
        keys = KeyStore(tmp_path / "keys")
        try:
            with pytest.raises(InvalidInput, match="must not be in or contain"):
                BackupLoop(engine, tmp_path / "keys", keys, every_h=24, keep_days=7)
            now = system_clock()
            clock = [now]
            loop = BackupLoop(
                engine, tmp_path / "backups", keys, every_h=24, keep_days=7, clock=lambda: clock[0]
            )
            first = loop.run_once()  # none yet: one now
            assert first is not None and first.expires_at_us == now + 7 * DAY_US
            clock[0] += DAY_US - 1
            assert loop.run_once() is None
            clock[0] += 1
            second = loop.run_once()
            assert second is not None and [k.id for k in keys.all()] == [first.id, second.id]
            assert loop.taken == 2
            with engine.connect() as conn:
                recorded = conn.execute(
                    select(audit_log.c.object_id).where(audit_log.c.action == "backup.create")
                ).scalars()
                assert sorted(recorded) == sorted([first.id, second.id])
        finally:
            engine.dispose()
