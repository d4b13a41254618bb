"""``c360 backup``: encrypted backups whose keys expire, and restores that erase again
(docs/backup.md)."""

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from c360.cli.common import err, load_settings, out, progress_bar, reported_errors
from c360.kernel.clock import system_clock
from c360.settings import Settings

if TYPE_CHECKING:
    from c360.compliance.backup import KeyStore, RestoreReport

backup_app = typer.Typer(
    help="Backups: encrypted, expiring, and restores that honour erasure.", no_args_is_help=True
)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ErasuresFrom = Annotated[
    str | None,
    typer.Option(
        "--erasures-from",
        help="The store whose erasures are applied again (default: C360_DATABASE_URL).",
    ),
]


def _dump(data: Any) -> None:
    out.print_json(json.dumps(data, ensure_ascii=False, default=str))


def _keys(settings: Settings) -> "KeyStore":
    from c360.compliance.backup import KeyStore

    return KeyStore(settings.backup_keys)


def _expire_first(settings: Settings) -> None:
    """Every command destroys the keys of expired backups before anything else."""
    from c360.compliance.backup import expire

    for gone in expire(_keys(settings)):
        err.print(
            f"backup {gone.id} expired on {gone.expired_at[:10]}: its key was destroyed"
            + (" and its file removed" if gone.file_removed else "")
        )


def _audit(url: str, action: str, kind: str, object_id: str, detail: dict[str, Any]) -> None:
    """Record the command in the audit log of the store at ``url``."""
    from c360.privacy.audit import record_cli
    from c360.storage import open_store

    engine = open_store(url)
    try:
        record_cli(engine, action, kind, object_id, detail)
    finally:
        engine.dispose()


@backup_app.command("create")
def create_command(
    to: Annotated[
        Path | None, typer.Option("--to", help="Directory of the backup (C360_BACKUP_DIR).")
    ] = None,
    keep_days: Annotated[
        int | None,
        typer.Option("--keep-days", min=1, help="Days it can be read (C360_BACKUP_KEEP_DAYS)."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Back up the store (C360_DATABASE_URL), encrypted with a key of its own that the key
    store (C360_BACKUP_KEYS) holds until the backup expires."""
    from c360.compliance.backup import create_backup

    settings = load_settings()
    with reported_errors():
        _expire_first(settings)
        with err.status("backing up"):
            key = create_backup(
                settings.database_url,
                to or settings.backup_dir,
                _keys(settings),
                keep_days=keep_days or settings.backup_keep_days,
            )
        _audit(settings.database_url, "backup.create", "backup", key.id, key.describe())
    if as_json:
        _dump(key.describe())
        return
    out.print(f"backup {key.id}: {key.file}")
    out.print(
        f"readable until {key.describe()['expires_at'][:10]}; its key is in {settings.backup_keys}"
    )


@backup_app.command("list")
def list_command(as_json: AsJson = False) -> None:
    """The backups whose keys the key store holds (the ones that can still be read)."""
    settings = load_settings()
    with reported_errors():
        _expire_first(settings)
        keys = _keys(settings).all()
    now = system_clock()
    rows = [{**k.describe(), "file_present": Path(k.file).exists()} for k in keys]
    if as_json:
        _dump(rows)
        return
    table = Table("backup", "store", "taken", "expires", "days left", "file")
    for key, row in zip(keys, rows, strict=True):
        table.add_row(
            key.id,
            key.store,
            row["created_at"][:19],
            row["expires_at"][:10],
            str((key.expires_at_us - now) // 86_400_000_000),
            row["file"] if row["file_present"] else f"{row['file']} (missing)",
        )
    out.print(table)


@backup_app.command("expire")
def expire_command(as_json: AsJson = False) -> None:
    """Destroy the keys (and remove the files) of backups past their expiry; run it daily."""
    from c360.compliance.backup import expire

    settings = load_settings()
    with reported_errors():
        gone = expire(_keys(settings))
    if as_json:
        _dump([asdict(g) for g in gone])
        return
    if not gone:
        out.print("no backup has expired")
    for g in gone:
        out.print(
            f"backup {g.id} expired on {g.expired_at[:10]}: key destroyed"
            + (", file removed" if g.file_removed else "")
        )


@backup_app.command("restore")
def restore_command(
    file: Annotated[Path, typer.Argument(help="The backup file.", exists=True, dir_okay=False)],
    into: Annotated[str, typer.Option("--into", help="URL of a new, empty store to restore into.")],
    erasures_from: ErasuresFrom = None,
    without_erasures: Annotated[
        bool,
        typer.Option(
            "--without-live-erasures",
            help="The live store is lost: apply only the erasures the backup holds.",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Restore a backup into a new store, then erase again everyone erased since."""
    from c360.compliance.backup import restore_backup

    settings = load_settings()
    source = None if without_erasures else (erasures_from or settings.database_url)
    with (
        reported_errors(),
        progress_bar() as progress,
    ):
        _expire_first(settings)
        task = progress.add_task("decrypting and restoring", total=3)

        def step(label: str, n: int, total: int) -> None:
            progress.update(task, description=label, completed=n - 1, total=total)

        report = restore_backup(file, into, _keys(settings), erasures_from=source, progress=step)
        _audit(into, "backup.restore", "backup", report.backup["id"], report.as_json())
    headline = f"restored backup {report.backup['id']} into {report.into}"
    _show(report, as_json, headline, live=source is not None)


def _show(report: "RestoreReport", as_json: bool, headline: str, *, live: bool = True) -> None:
    """The report, as JSON or as lines; exit 1 when the verification found anything."""
    if as_json:
        _dump(report.as_json())
    elif not live:
        out.print(headline)
        out.print("erasures: only those the backup holds (--without-live-erasures)")
    else:
        erasures = report.as_json()["erasures"]
        people = erasures["people_erased"]
        out.print(headline)
        out.print(
            f"erased again: {people} {'person' if people == 1 else 'people'} "
            f"({erasures['profiles_erased']} profiles, {sum(erasures['removed'].values())} "
            f"rows); {erasures['tombstones_copied']} tombstones copied from the live store"
        )
    if not report.verified:
        err.print(f"[red]verification found what should be gone:[/red] {report.hits}")
        raise typer.Exit(1)


@backup_app.command("erase-again")
def erase_again_command(
    url: Annotated[str, typer.Argument(help="URL of the store restored by other means.")],
    erasures_from: ErasuresFrom = None,
    as_json: AsJson = False,
) -> None:
    """Erase again, in a store restored without c360 (a physical backup, a snapshot), everyone
    the live store has erased."""
    from c360.compliance.backup import erase_again

    settings = load_settings()
    with reported_errors():
        report = erase_again(url, erasures_from or settings.database_url)
        _audit(url, "backup.erase_again", "store", report.into, report.as_json())
    _show(report, as_json, f"erased again in {report.into}")
