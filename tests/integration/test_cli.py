"""The command line as an operator uses it.

Commands run in the test process (tests/cli.py: ``c360``, also used by the other CLI tests);
the last tests run the installed entry points as new processes."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from tests.cli import c360

from c360.storage import create_engine_for
from c360.storage.tables import api_keys


def test_keys_create_prints_the_secret_as_the_last_line_and_stores_only_its_hash(
    database_url: str,
) -> None:
    result = c360(
        database_url, "keys", "create", "--name", "website", "--role", "writer", "--source", "web"
    )
    assert result.returncode == 0, result.stderr
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("wk_") and len(secret) > 40

    engine = create_engine_for(database_url)
    with engine.connect() as conn:
        stored = conn.execute(select(api_keys.c.key_hash, api_keys.c.key_prefix)).all()
    engine.dispose()
    assert len(stored) == 1
    assert secret not in stored[0].key_hash
    listing = c360(database_url, "keys", "list")
    assert "website" in listing.stdout and "web" in listing.stdout
    assert secret not in listing.stdout


def test_a_writer_key_without_a_source_is_refused_with_a_clear_message(database_url: str) -> None:
    result = c360(database_url, "keys", "create", "--name", "x", "--role", "writer")
    assert result.returncode == 2
    assert "--source" in result.stderr


def test_revoking_a_key_marks_it_revoked(database_url: str) -> None:
    c360(database_url, "keys", "create", "--name", "ops", "--role", "admin")
    result = c360(database_url, "keys", "revoke", "1")
    assert result.returncode == 0, result.stderr
    assert "revoked" in result.stdout
    missing = c360(database_url, "keys", "revoke", "99")
    assert missing.returncode == 4
    assert "99" in missing.stderr


def test_db_upgrade_and_status_report_revision_and_durability(database_url: str) -> None:
    upgraded = c360(database_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    status = c360(database_url, "db", "status")
    from alembic.script import ScriptDirectory

    from c360.storage.migrations import alembic_config

    head = ScriptDirectory.from_config(alembic_config(None)).get_current_head()  # type: ignore[arg-type]
    assert head is not None and head >= "0002"
    assert f"revision: {head}" in status.stdout
    assert "durable: yes" in status.stdout


def test_source_rate_limits_can_be_set_and_cleared(database_url: str) -> None:
    assert "50/s" in c360(database_url, "sources", "set-rate", "pos", "--per-second", "50").stdout
    assert "pos" in c360(database_url, "sources", "list").stdout
    assert "no limit" in c360(database_url, "sources", "set-rate", "pos").stdout
    bad = c360(database_url, "sources", "set-rate", "Bad Name!", "--per-second", "5")
    assert bad.returncode == 2
    assert "source name" in bad.stderr


def test_an_unsupported_database_url_is_explained(tmp_path: object) -> None:
    result = c360("mysql://localhost/x", "db", "upgrade")
    assert result.returncode == 2
    assert "not supported" in result.stderr


def test_the_installed_entry_points_start_and_run_a_command(tmp_path: Path) -> None:
    """``python -m c360`` and the ``c360`` script, as new processes: what the in-process runs
    above cannot show (the packaging, the imports of a cold start, the exit status)."""
    url = f"sqlite:///{tmp_path / 'c360.db'}"
    env = {**os.environ, "C360_DATABASE_URL": url, "COLUMNS": "200"}
    helped = subprocess.run(
        [sys.executable, "-m", "c360", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert helped.returncode == 0, helped.stderr
    assert "Customer Data Platform" in helped.stdout and "keys" in helped.stdout

    script = shutil.which("c360", path=str(Path(sys.executable).parent))
    assert script is not None, f"no c360 script next to {sys.executable}: pip install -e ."
    created = subprocess.run(
        [script, "keys", "create", "--name", "shop", "--role", "writer", "--source", "pos"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("wk_")
    engine = create_engine_for(url)
    with engine.connect() as conn:
        names = conn.execute(select(api_keys.c.name)).scalars().all()
    engine.dispose()
    assert names == ["shop"]
