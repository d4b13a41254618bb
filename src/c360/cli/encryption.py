"""``c360 encryption``: keys for encryption at rest, which keys the store uses, and rotation."""

import json
from typing import Annotated

import typer
from rich.progress import TaskID
from rich.table import Table

from c360.cli.common import err, load_settings, out, progress_bar, reported_errors, store_for

encryption_app = typer.Typer(
    help="Encryption at rest of personal data (docs/encryption.md): keys, status, rotation.",
    no_args_is_help=True,
)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@encryption_app.command("new-key")
def new_key_command(
    key_id: Annotated[
        str, typer.Option("--id", help="The key's id, stored with every value it seals.")
    ] = "k1",
) -> None:
    """Print a new random key as a C360_ENCRYPTION_KEYS entry (put it first to make it the
    active key; keep the old ones after it until `c360 encryption rotate` is done)."""
    from c360.storage.sealing import new_key

    with reported_errors():
        out.print(new_key(key_id), soft_wrap=True, highlight=False)


@encryption_app.command("status")
def status_command(as_json: AsJson = False) -> None:
    """Per encrypted column: rows in clear and rows per key (no key is needed to count)."""
    from c360.storage.rekey import key_usage
    from c360.storage.sealing import keyring

    settings = load_settings()
    with reported_errors():
        usage = key_usage(store_for(settings))
    ring = keyring()
    if as_json:
        data = {
            "active_key": ring.active if ring else None,
            "configured_keys": ring.ids if ring else [],
            "columns": [u.as_json() for u in usage],
        }
        out.print_json(json.dumps(data))
        return
    table = Table("column", "rows", "in clear", "by key")
    for u in usage:
        keys = ", ".join(f"{k}: {n}" for k, n in sorted(u.keys.items()))
        table.add_row(u.column, str(u.rows), str(u.clear), keys)
    out.print(table)
    used = {k for u in usage for k in u.keys}
    if ring is None:
        out.print("encryption at rest is off (C360_ENCRYPTION_KEYS is not set)")
    else:
        out.print(f"active key: {ring.active}; configured: {', '.join(ring.ids)}")
        if missing := sorted(used - set(ring.ids)):
            err.print(f"[red]values sealed with keys not configured:[/red] {', '.join(missing)}")
        if unused := [k for k in ring.ids[1:] if k not in used]:
            out.print(f"no longer used, can be removed: {', '.join(unused)}")
    clear = sum(u.clear for u in usage)
    if ring is not None and (clear or used - {ring.active}):
        out.print("run `c360 encryption rotate` to seal every value with the active key")


@encryption_app.command("rotate")
def rotate_command(
    to_clear: Annotated[
        bool,
        typer.Option(
            "--to-clear", help="Store every value in clear (before turning encryption off)."
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Re-seal every value in clear or under an older key with the active key; safe while
    c360 runs (a row changed meanwhile keeps what the application wrote)."""
    from c360.privacy.audit import record_cli
    from c360.storage.rekey import rotate
    from c360.storage.sealing import keyring

    settings = load_settings()
    if keyring() is None and not to_clear:
        err.print(
            "[red]error:[/red] C360_ENCRYPTION_KEYS is not set: there is no key to rotate to "
            "(`c360 encryption new-key` makes one)"
        )
        raise typer.Exit(2)
    engine = store_for(settings)
    with progress_bar() as progress:
        tasks: dict[str, TaskID] = {}

        def step(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = progress.add_task(f"re-sealing {table}", total=total)
            progress.update(tasks[table], completed=done, total=max(total, done))

        with reported_errors():
            rotation = rotate(engine, to_clear=to_clear, progress=step)
    record_cli(engine, "encryption.rotate", "store", None, rotation.as_json())
    if as_json:
        out.print_json(json.dumps(rotation.as_json()))
        return
    rewritten = sum(rotation.rewritten.values())
    out.print(f"{rewritten} values rewritten ({rotation.target})")
    for column, n in sorted(rotation.rewritten.items()):
        out.print(f"  {column}: {n}")
    if rotation.raced:
        out.print(
            f"{sum(rotation.raced.values())} values changed while rotating were left as "
            "written; `c360 encryption status` shows whether any remain"
        )
