"""Commands for records: ``import``, ``quarantine``, ``export records``, ``quality``."""

import csv
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, TextIO

import orjson
import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from c360.cli.common import err, load_settings, out, reported_errors, store_for
from c360.errors import InvalidInput, NotFound
from c360.eventlog import service as log_service
from c360.ingest.database import is_database_url
from c360.ingest.mapping import load_mapping
from c360.kernel.clock import isoformat_us
from c360.standardize.quality import as_json, quality_report
from c360.standardize.service import iter_records
from c360.workers.imports import ImportSummary, import_file, import_table, retry_quarantine

quarantine_app = typer.Typer(help="Rows and messages that could not be used.", no_args_is_help=True)
export_app = typer.Typer(help="Write what c360 holds to files.", no_args_is_help=True)


def import_command(
    location: Annotated[
        str, typer.Argument(help="A file (CSV, JSON Lines, Parquet, .xlsx) or a database URL.")
    ],
    source: Annotated[str, typer.Option(help="The source the rows come from (e.g. crm).")],
    mapping: Annotated[Path, typer.Option(help="The source's mapping (YAML).")],
    table: Annotated[str | None, typer.Option(help="Database imports: the table to read.")] = None,
    cursor: Annotated[
        str | None,
        typer.Option(
            help="Database imports: a column that grows (updated_at); read only new rows."
        ),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding (utf-8, cp874/tis-620, cp1258...).")
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter (detected if omitted).")
    ] = None,
    sheet: Annotated[str | None, typer.Option(help="Excel: the sheet to read.")] = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv, jsonl, parquet or xlsx (from the suffix).")
    ] = None,
) -> None:
    """Import a file or a database table as records of a source, through the event log."""
    settings = load_settings()
    engine = store_for(settings)
    with reported_errors():
        parsed, text = load_mapping(mapping)
        database = is_database_url(location)
        if database and table is None:
            raise InvalidInput("a database import needs --table")
        if not database and (table or cursor):
            raise InvalidInput("--table and --cursor are for database URLs, not files")
        with _progress() as progress:
            task = progress.add_task(f"importing into {source}", total=None)

            def report(done: int, total: int | None) -> None:
                progress.update(task, completed=done, total=total)

            if database:
                assert table is not None
                summary = import_table(
                    engine,
                    location,
                    table=table,
                    source=source,
                    mapping=parsed,
                    mapping_text=text,
                    cursor_column=cursor,
                    progress=report,
                )
            else:
                summary = import_file(
                    engine,
                    Path(location),
                    source=source,
                    mapping=parsed,
                    mapping_text=text,
                    encoding=encoding,
                    delimiter=delimiter,
                    sheet=sheet,
                    file_format=file_format,
                    progress=report,
                )
    _print_summary(summary)


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


def _print_summary(summary: ImportSummary) -> None:
    rate = summary.read / summary.elapsed_s if summary.elapsed_s else 0.0
    details = ", ".join(f"{k} {v}" for k, v in summary.details.items() if v is not None)
    out.print(
        f"[bold]{summary.location}[/bold] → source [bold]{summary.source}[/bold] "
        f"(mapping v{summary.mapping_version}{', ' + details if details else ''})"
    )
    table = Table("rows read", "new", "updated", "unchanged", "quarantined", "time", "rows/s")
    table.add_row(
        f"{summary.read:,}",
        f"{summary.new:,}",
        f"{summary.updated:,}",
        f"{summary.unchanged:,}",
        f"{summary.quarantined:,}",
        f"{summary.elapsed_s:.1f} s",
        f"{rate:,.0f}",
    )
    out.print(table)
    if summary.quarantined:
        out.print(
            f"quarantined rows: [bold]c360 quarantine list --source {summary.source}[/bold] "
            f"(fix the mapping, then c360 quarantine retry --source {summary.source} "
            "--mapping FIXED.yml)"
        )


@quarantine_app.command("list")
def quarantine_list(
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    reason: Annotated[str | None, typer.Option(help="Only this reason code.")] = None,
    include_resolved: Annotated[
        bool, typer.Option("--all", help="Also items a retry has brought in.")
    ] = False,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
) -> None:
    """List quarantined items: where each came from and why."""
    engine = store_for(load_settings())
    with reported_errors(), engine.connect() as conn:
        names = {s.id: s.name for s in log_service.list_sources(conn)}
        source_id = None
        if source is not None:
            found = log_service.get_source_by_name(conn, source)
            if found is None:
                raise NotFound(f"no source {source!r}")
            source_id = found.id
        items = log_service.list_quarantine(
            conn, source_id=source_id, reason=reason, include_resolved=include_resolved, limit=limit
        )
    table = Table("id", "source", "stage", "origin", "reason", "detail", "received", "resolved")
    for item in items:
        table.add_row(
            str(item["id"]),
            names.get(int(str(item["source_id"])), "?"),
            str(item["stage"] or "tracking"),
            str(item["origin"] or ""),
            str(item["reason"]),
            str(item["detail"])[:80],
            isoformat_us(int(str(item["received_at_us"]))),
            "yes" if item["resolved_at_us"] else "",
        )
    out.print(table)
    if not items:
        out.print("nothing in quarantine")


@quarantine_app.command("show")
def quarantine_show(
    item_id: Annotated[int, typer.Argument(help="The item's id (c360 quarantine list).")],
) -> None:
    """Show one quarantined item with its raw content."""
    engine = store_for(load_settings())
    with reported_errors(), engine.connect() as conn:
        item = log_service.get_reject(conn, item_id)
    raw = item.pop("payload")
    for key, value in item.items():
        if key.endswith("_at_us") and value is not None:
            value = isoformat_us(int(str(value)))
        out.print(f"[bold]{key}[/bold]: {value}")
    assert isinstance(raw, bytes)
    out.print("[bold]raw[/bold]:")
    try:
        print(orjson.dumps(orjson.loads(raw), option=orjson.OPT_INDENT_2).decode())
    except orjson.JSONDecodeError:
        print(raw.decode("utf-8", errors="backslashreplace"))


@quarantine_app.command("retry")
def quarantine_retry(
    source: Annotated[str, typer.Option(help="The source whose quarantined rows to read again.")],
    mapping: Annotated[
        Path | None, typer.Option(help="A fixed mapping (stored as the source's new version).")
    ] = None,
    item_id: Annotated[
        list[int] | None, typer.Option("--id", help="Only these items (repeatable).")
    ] = None,
) -> None:
    """Replay quarantined rows of a source (imports and webhooks) through its mapping."""
    engine = store_for(load_settings())
    with reported_errors():
        parsed, text = load_mapping(mapping) if mapping is not None else (None, None)
        summary = retry_quarantine(
            engine, source=source, mapping=parsed, mapping_text=text, ids=item_id
        )
    out.print(
        f"retried {summary.tried}: {summary.accepted} accepted, "
        f"{summary.still_quarantined} still quarantined, "
        f"{summary.not_replayable} not replayable (unreadable bytes: fix the file and re-import)"
    )


EXPORT_COLUMNS = ("source", "record_id", "kind", "version", "updated_at", "origin")


@export_app.command("records")
def export_records(
    source: Annotated[str, typer.Option(help="The source to export.")],
    output_format: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    output: Annotated[Path | None, typer.Option(help="File to write (default: stdout).")] = None,
    kind: Annotated[str | None, typer.Option(help="Only records of this kind.")] = None,
) -> None:
    """Write each record with its standardized fields, raw values and flags."""
    if output_format not in ("jsonl", "csv"):
        err.print("[red]error:[/red] --format is jsonl or csv")
        raise typer.Exit(2)
    engine = store_for(load_settings())
    with reported_errors(), engine.connect() as conn:
        found = log_service.get_source_by_name(conn, source)
        if found is None:
            raise NotFound(f"no source {source!r}")
        target = (
            output.open("w", encoding="utf-8", newline="") if output else nullcontext(sys.stdout)
        )
        with target as stream:
            count = _write_records(
                stream, output_format, source, iter_records(conn, found.id, kind=kind)
            )
    if output is not None:
        err.print(f"wrote {count:,} records to {output}")


def _write_records(stream: TextIO, output_format: str, source: str, records: Any) -> int:
    count = 0
    writer: Any = None
    for record in records:
        row = {
            "source": source,
            "record_id": record["record_id"],
            "kind": record["kind"],
            "version": record["version"],
            "updated_at": isoformat_us(record["updated_at_us"]),
            "origin": record["origin"],
            "fields": record["fields"],
            "raw": record["raw"],
            "flags": record["flags"],
        }
        if output_format == "jsonl":
            stream.write(orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")
        else:
            if writer is None:
                writer = csv.writer(stream)
                writer.writerow([*EXPORT_COLUMNS, "fields", "raw", "flags"])
            writer.writerow(
                [
                    *(row[c] for c in EXPORT_COLUMNS),
                    *(orjson.dumps(row[c]).decode() for c in ("fields", "raw", "flags")),
                ]
            )
        count += 1
    return count


def quality_command(
    as_json_output: Annotated[bool, typer.Option("--json", help="JSON instead of tables.")] = False,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
) -> None:
    """The data quality report: completeness, validity, duplicates, conflicts, freshness."""
    engine = store_for(load_settings())
    with engine.connect() as conn:
        report = quality_report(conn)
    if source is not None:
        report = [entry for entry in report if entry.source == source]
    if as_json_output:
        print(orjson.dumps(as_json(report), option=orjson.OPT_INDENT_2).decode())
        return
    overview = Table(
        "source", "records", "kinds", "last received", "last change", "quarantined (open)"
    )
    for entry in report:
        overview.add_row(
            entry.source,
            f"{entry.records:,}",
            ", ".join(f"{k} {v:,}" for k, v in entry.kinds.items()),
            entry.last_received_at or "",
            entry.last_record_change_at or "",
            f"{entry.quarantined_open:,}"
            + (
                f" ({', '.join(f'{r} {n}' for r, n in entry.quarantine_reasons.items())})"
                if entry.quarantine_reasons
                else ""
            ),
        )
    out.print(overview)
    for entry in report:
        if entry.unconfigured_purposes:
            named = ", ".join(f"{p} {n:,}" for p, n in entry.unconfigured_purposes.items())
            out.print(
                f"{escape(entry.source)}: consent statements about purposes not configured "
                f"(kept; see c360 consent purposes): {escape(named)}",
                highlight=False,
            )
    for entry in report:
        kinds = dict.fromkeys(f.kind for f in entry.fields)
        for kind in kinds:
            table = Table(
                "field",
                "type",
                "complete",
                "valid",
                "duplicates",
                "conflicts",
                title=f"{entry.source} · {kind} ({entry.kinds.get(kind, 0):,} records)",
            )
            for f in entry.fields:
                if f.kind != kind:
                    continue
                table.add_row(
                    f.field,
                    f.type,
                    f"{f.completeness:.1%}",
                    "" if f.validity is None else f"{f.validity:.1%}",
                    "" if f.duplicates is None else f"{f.duplicates:,}",
                    "" if f.conflicts is None else f"{f.conflicts:,}",
                )
            out.print(table)
