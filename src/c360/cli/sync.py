"""``c360 sync``: two-way sync with business apps (a database table or a REST API)."""

import contextlib
import os
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from c360.activation.sync import (
    add_destination,
    conflicts,
    dead_letters,
    destination_status,
    get_destination,
    list_destinations,
    parse_destination,
    redrive,
    remove_destination,
)
from c360.cli.common import err, load_settings, out, reported_errors, store_for
from c360.connectors.destinations import TableTarget, target_for
from c360.errors import InvalidInput
from c360.kernel.clock import isoformat_us
from c360.storage.engine import reader
from c360.workers.sync import CycleReport, SyncLoop, sync_secrets, worker_for

sync_app = typer.Typer(
    help="Two-way sync with business apps: add, list, show, run, dead letters, redrive.",
    no_args_is_help=True,
)


@sync_app.command("add")
def add_command(
    path: Annotated[Path, typer.Argument(help="The destination (YAML, see docs/sync.md).")],
    push_existing: Annotated[
        bool,
        typer.Option(
            "--push-existing",
            help="Also push every profile that already has a record in the app's source.",
        ),
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check/--no-check", help="Connect to a table and check its columns."),
    ] = True,
) -> None:
    """Add a destination; it follows the change feed from now on."""
    settings = load_settings()
    engine = store_for(settings)
    with reported_errors():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
        config = parse_destination(text, origin=str(path))
        with engine.begin() as conn:
            destination = add_destination(
                conn, config, push_existing=push_existing, home_country=settings.home_country
            )
            if check and destination.table is not None:
                target = target_for(destination, secrets=sync_secrets(os.environ))
                assert isinstance(target, TableTarget)
                try:
                    missing = target.check_columns([r.column for r in destination.rules])
                finally:
                    target.close()
                if missing:
                    raise InvalidInput(f"{path}: {destination.target} has no column {missing[0]!r}")
    out.print(
        f"sync destination {destination.name}: {destination.kind} {destination.target} "
        f"(source {destination.source}), {len(destination.rules)} fields"
    )
    _say_where(destination.country, settings.home_country, destination.deletes)


def _say_where(country: str | None, home: str, deletes: bool) -> None:
    """Where the app is for the transfer register, and what erasure can do there."""
    if country is None:
        err.print(
            "[yellow]no country given[/yellow]: the transfer register lists it as not stated; "
            "add 'country: XX' (ISO 3166, e.g. TH) to the file, remove and add it again"
        )
    elif country != home.upper():
        err.print(f"hosted in {country}, abroad: listed in c360 privacy register with its fields")
    if not deletes:
        err.print("erasure cannot delete rows there (no rest.delete, or table.delete: false)")


@sync_app.command("list")
def list_command(
    show_all: Annotated[bool, typer.Option("--all", help="Include removed destinations.")] = False,
) -> None:
    """Destinations with how far behind they are and how syncing is going."""
    engine = store_for(load_settings())
    with reader(engine).connect() as conn:
        found = list_destinations(conn, include_removed=show_all)
        status = {d.id: destination_status(conn, d) for d in found}
    table = Table(
        "name", "kind", "source", "target", "lag", "queued", "dead letters", "last pulled", "error"
    )
    for d in found:
        s = status[d.id]
        table.add_row(
            d.name + ("" if d.enabled else " (removed)"),
            d.kind,
            d.source,
            d.target,
            str(s.lag),
            f"{s.queued}" + (f" ({s.retrying} retrying)" if s.retrying else ""),
            str(s.dead_letters),
            isoformat_us(d.pulled_at_us) if d.pulled_at_us else "",
            d.last_error or d.pull_error or "",
        )
    out.print(table)


@sync_app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="The destination's name.")],
    limit: Annotated[int, typer.Option(help="How many recent conflicts to show.")] = 20,
) -> None:
    """One destination: its fields and owners, its state and its recent conflicts."""
    engine = store_for(load_settings())
    with reported_errors(), reader(engine).connect() as conn:
        d = get_destination(conn, name)
        s = destination_status(conn, d)
        recent = conflicts(conn, name, limit)
    out.print(
        f"[bold]{d.name}[/bold]: {d.kind} {d.target}, source {d.source}, country "
        f"{d.country or 'not stated'}, erasure {'deletes rows' if d.deletes else 'cannot delete'}"
    )
    out.print(
        f"feed cursor {d.cursor} (lag {s.lag}), queued {s.queued} ({s.retrying} retrying), "
        f"{s.dead_letters} dead letters, {s.rows} app rows known, {s.conflicts} conflicts"
    )
    if d.last_error:
        since = f" since {isoformat_us(d.failing_since_us)}" if d.failing_since_us else ""
        out.print(
            f"pushing: failing{since}, next attempt {_when(d.next_attempt_us)}: {d.last_error}"
        )
    if d.pull_error:
        out.print(f"reading back: {d.pull_error} (next {_when(d.next_pull_us)})")
    fields = Table("golden value", "app column", "owner", title="fields")
    for rule in d.rules:
        fields.add_row(rule.path, rule.column, rule.owner.value)
    out.print(fields)
    if recent:
        table = Table(
            "at", "app key", "column", "app value", "c360 value", "kept", title="conflicts"
        )
        for c in recent:
            table.add_row(
                isoformat_us(c.at_us),
                c.app_key,
                c.column,
                str(c.app_value),
                str(c.c360_value),
                "c360" if c.outcome == "ignored_c360_owns" else "app",
            )
        out.print(table)


@sync_app.command("remove")
def remove_command(name: Annotated[str, typer.Argument(help="The destination's name.")]) -> None:
    """Stop syncing a destination (its history stays, listed with --all)."""
    engine = store_for(load_settings())
    with reported_errors(), engine.begin() as conn:
        d = remove_destination(conn, name)
    out.print(f"sync destination {d.name} removed")


@sync_app.command("dead-letters")
def dead_letters_command(
    name: Annotated[str, typer.Argument(help="The destination's name.")],
) -> None:
    """Pushes the destination gave up on: refused by the app, or failing past the window."""
    engine = store_for(load_settings())
    with reported_errors(), reader(engine).connect() as conn:
        found = dead_letters(conn, name)
    if not found:
        out.print(f"sync destination {name} has no dead letters")
        return
    table = Table("id", "profile", "app key", "attempts", "error", "given up at", title=name)
    for letter in found:
        table.add_row(
            str(letter.id),
            letter.profile_id,
            letter.app_key or "",
            str(letter.attempts),
            letter.error,
            isoformat_us(letter.at_us),
        )
    out.print(table)
    out.print(f"push them again: c360 sync redrive {name}")


@sync_app.command("redrive")
def redrive_command(
    name: Annotated[str, typer.Argument(help="The destination's name.")],
    ids: Annotated[
        list[int] | None, typer.Option("--id", help="Only these dead letters (repeatable).")
    ] = None,
) -> None:
    """Queue dead letters to be pushed again (each profile's golden record as it is now)."""
    engine = store_for(load_settings())
    with reported_errors(), engine.begin() as conn:
        queued = redrive(conn, name, ids)
    out.print(f"sync destination {name}: {queued} dead letters queued; c360 sync run pushes them")


@sync_app.command("run")
def run_command(
    names: Annotated[
        list[str] | None, typer.Argument(help="Destinations to run (all if none given).")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep syncing until stopped (Ctrl-C).")
    ] = False,
    poll_s: Annotated[float, typer.Option(help="Seconds between cycles when idle.")] = 1.0,
) -> None:
    """Run sync cycles: read each app back, push what changed. Without --follow, cycles run
    until one moves nothing (at most 20)."""
    settings = load_settings()
    engine = store_for(settings)
    with reported_errors():
        if names:
            with reader(engine).connect() as conn:
                for name in names:
                    get_destination(conn, name)
        worker = worker_for(engine, settings, os.environ)
    if follow:
        loop = SyncLoop(worker, poll_s=poll_s)
        signal.signal(signal.SIGTERM, lambda *_: loop.stop(0))
        err.print("c360 sync: syncing (Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            loop.run_forever()
        return
    total = CycleReport()
    with reported_errors(), worker:
        for _ in range(20):
            report = worker.run_once(names or None)
            for name in (
                "read",
                "unchanged",
                "logged",
                "conflicts",
                "queued",
                "written",
                "skipped",
                "retrying",
                "dead_lettered",
            ):
                setattr(total, name, getattr(total, name) + getattr(report, name))
            total.errors += report.errors
            if report.quiet:
                break
    out.print(
        f"read back {total.read} rows ({total.logged} changed, {total.unchanged} unchanged), "
        f"wrote {total.written} rows ({total.skipped} already up to date), "
        f"{total.conflicts} conflicts, {total.retrying} retrying, "
        f"{total.dead_lettered} dead-lettered"
    )
    for problem in total.errors:
        err.print(f"[red]error:[/red] {problem}")


def _when(us: int | None) -> str:
    return isoformat_us(us) if us else "now"
