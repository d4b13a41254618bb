"""Identity commands: ``resolve``, ``identity explain|split|review|simulate``, ``export links``
and ``export profiles``."""

import csv
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, TextIO

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from c360.cli.common import err, load_settings, out, reported_errors, store_for
from c360.identity.config import load_config
from c360.workers.resolve import resolve_everything

identity_app = typer.Typer(
    help="Why records are one person; undo a merge; the review queue; try a configuration.",
    no_args_is_help=True,
)


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def resolve_command(
    config: Annotated[
        Path | None,
        typer.Option(help="Identity configuration (YAML); the one in effect if omitted."),
    ] = None,
    keep_model: Annotated[
        bool,
        typer.Option(
            "--keep-model", help="Use the stored match model instead of training it again."
        ),
    ] = False,
) -> None:
    """Resolve every record and tracked identity into profiles (train, score, cluster)."""
    settings = load_settings()
    engine = store_for(settings)
    with reported_errors():
        from c360.identity.service import Resolver

        if config is None:
            with engine.connect() as conn:
                chosen = Resolver.load(conn).config
        else:
            chosen = load_config(config)
        started = time.monotonic()
        with _progress() as progress:
            tasks: dict[str, Any] = {}

            def report(step: str, done: int, total: int | None) -> None:
                if step not in tasks:
                    tasks[step] = progress.add_task(step, total=total)
                progress.update(tasks[step], completed=done, total=total)

            result = resolve_everything(
                engine, chosen, train=not keep_model, batch_size=settings.worker_batch_size, progress=report
            )
        elapsed = time.monotonic() - started
    table = Table(title=f"resolved in {elapsed:.1f} s", show_header=False)
    table.add_row("nodes (records and tracked identities)", f"{result.nodes:,}")
    table.add_row("candidate pairs scored", f"{result.pairs:,}")
    table.add_row("profiles", f"{result.profiles:,}")
    table.add_row("merges / splits (changes to the profiles before)", f"{result.changes.merges:,} / {result.changes.splits:,}")
    table.add_row("review queue (c360 identity review)", f"{result.reviews:,}")
    table.add_row("blocking keys over the cap (no pairs)", f"{result.skipped_keys:,}")
    table.add_row(
        "match model",
        f"version {result.model_version}"
        + (f", EM converged in {result.em_iterations} iterations" if result.em_iterations else ""),
    )
    out.print(table)


def export_links(
    output: Annotated[Path, typer.Option(help="CSV file to write ('-' for stdout).")],
) -> None:
    """The crosswalk ``source,record_id,profile_id`` of every source record and tracked
    identity."""
    from c360.identity.queries import iter_links

    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), engine.connect() as conn:
        target: Any = nullcontext(sys.stdout) if str(output) == "-" else output.open(
            "w", encoding="utf-8", newline=""
        )
        count = 0
        with target as handle:
            writer = csv.writer(handle)
            writer.writerow(["source", "record_id", "profile_id"])
            for row in iter_links(conn):
                writer.writerow(row)
                count += 1
    if str(output) != "-":
        err.print(f"wrote {count:,} links to {output}")


def export_profiles(
    output: Annotated[Path, typer.Option(help="File to write ('-' for stdout).")],
    file_format: Annotated[
        str, typer.Option("--format", help="jsonl or csv.")
    ] = "jsonl",
) -> None:
    """Every live profile: id, household, traits and golden record (JSON Lines or CSV)."""
    from c360.profiles.export import iter_profiles

    if file_format not in ("jsonl", "csv"):
        err.print("[red]error:[/red] --format must be jsonl or csv")
        raise typer.Exit(2)
    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), engine.connect() as conn:
        target: Any = nullcontext(sys.stdout) if str(output) == "-" else output.open(
            "w", encoding="utf-8", newline=""
        )
        with target as handle:
            count = _write_profiles(handle, iter_profiles(conn), file_format)
    if str(output) != "-":
        err.print(f"wrote {count:,} profiles to {output}")


def _write_profiles(handle: TextIO, rows: Any, file_format: str) -> int:
    count = 0
    if file_format == "jsonl":
        for row in rows:
            handle.write(orjson.dumps(row).decode() + "\n")
            count += 1
    else:
        columns = ["id", "household_id", "created_seq", "updated_seq", "records", "name", "email", "phone", "birth_date", "address", "traits"]
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            golden = row.get("golden") or {}
            values = golden.get("values", {}) if isinstance(golden, dict) else {}

            def value(name: str) -> str:
                v = values.get(name, {})
                return "" if not v else str(v.get("value", ""))

            writer.writerow(
                [
                    row["id"],
                    row.get("household_id") or "",
                    row["created_seq"],
                    row["updated_seq"],
                    row["records"],
                    " ".join(x for x in (value("first_name"), value("last_name")) if x),
                    value("email"),
                    value("phone"),
                    value("birth_date"),
                    value("address"),
                    orjson.dumps(row.get("traits") or {}).decode(),
                ]
            )
            count += 1
    return count
