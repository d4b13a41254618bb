"""``c360 segments``: audiences defined by conditions, from a terminal.

The condition language is in ``docs/segments.md``. A condition that cannot be read is shown
with a caret under the place of the mistake (exit 2).
"""

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import orjson
import typer
from rich.cells import cell_len
from rich.markup import escape
from rich.table import Table

from c360.cli.common import err, load_settings, out, progress_bar, reported_errors, store_for
from c360.errors import InvalidInput
from c360.kernel.clock import isoformat_us
from c360.privacy import audit
from c360.storage.engine import reader

if TYPE_CHECKING:
    from c360.segments.service import Segment

# c360.segments is imported by the commands that use it: every other command starts faster.

segments_app = typer.Typer(
    help="Segments: audiences defined by conditions, kept current as profiles change.",
    no_args_is_help=True,
)

PROGRESS_FROM = 5_000
"""Exports of at least this many members show a progress bar (on stderr)."""

ConditionOpt = Annotated[
    str | None,
    typer.Option(
        "--condition",
        "-c",
        help="The condition, e.g. 'country = \"TH\" and lifetime_value >= 20000'.",
    ),
]
JsonOpt = Annotated[
    Path | None,
    typer.Option(
        "--json",
        help="Read the condition's JSON form from this file ('-' for standard input).",
        dir_okay=False,
    ),
]
TimezoneOpt = Annotated[
    str | None,
    typer.Option(help="IANA time zone for dates, days and anniversaries [default: C360_TIMEZONE]."),
]
NameArg = Annotated[str, typer.Argument(help="The segment's name.")]


def caret_lines(text: str, line: int, column: int) -> list[str]:
    """The condition's line ``line`` and, under it, a caret at ``column`` (both from 1),
    aligned on a terminal (wide characters count as two cells, combining marks as none)."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return []
    shown = lines[line - 1].replace("\t", " ").rstrip("\r")
    before = shown[: max(column - 1, 0)]
    return ["  " + shown, "  " + " " * cell_len(before) + "^"]


@contextmanager
def condition_errors(text: str | None) -> Iterator[None]:
    """A condition that cannot be read: its message, the line, a caret; exit 2."""
    from c360.segments import language as L

    try:
        yield
    except L.ConditionError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        if text is not None and exc.line is not None and exc.column is not None:
            for shown in caret_lines(text, exc.line, exc.column):
                err.print(escape(shown), highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def read_condition_options(text: str | None, json_file: Path | None) -> Any:
    """The condition given by ``--condition`` or ``--json FILE`` (exactly one)."""
    from c360.segments import service

    if (text is None) == (json_file is None):
        raise InvalidInput("give the condition with --condition TEXT or --json FILE (one)")
    if json_file is None:
        return service.read_condition(text=text)
    try:
        raw = sys.stdin.buffer.read() if str(json_file) == "-" else json_file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{json_file}: cannot read it ({exc.strerror})") from None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{json_file}: not JSON ({exc})") from None
    return service.read_condition(json_form=data)


def _print_segment(segment: "Segment") -> None:
    out.print(f"[bold]{escape(segment.name)}[/bold]", highlight=False)
    if segment.description:
        out.print(escape(segment.description), highlight=False)
    out.print(f"condition: {escape(segment.text)}", highlight=False, soft_wrap=True)
    out.print(f"members:   {segment.members:,}")
    out.print(f"timezone:  {segment.timezone}")
    out.print(f"version:   {segment.version}")
    out.print(f"created:   {isoformat_us(segment.created_at_us)}")
    out.print(f"updated:   {isoformat_us(segment.updated_at_us)}")


def _people_table(
    rows: Sequence[tuple[str, dict[str, Any], str | None]], title: str, *, entered: bool = False
) -> Table:
    from c360.profiles.golden import display_name

    table = Table("profile", "name", "email", "phone", *(["entered"] if entered else []))
    table.title = title
    for pid, values, at in rows:
        cells = [
            pid,
            display_name(values) or "",
            str(values.get("email") or ""),
            str(values.get("phone") or ""),
            *([at or ""] if entered else []),
        ]
        table.add_row(*(escape(c) for c in cells))
    return table


@segments_app.command("create")
def create_command(
    name: NameArg,
    condition: ConditionOpt = None,
    json_file: JsonOpt = None,
    timezone: TimezoneOpt = None,
    description: Annotated[str | None, typer.Option(help="What the segment is for.")] = None,
) -> None:
    """Save a segment; its members are computed now and kept current from then on."""
    from c360.segments import service

    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), condition_errors(condition):
        parsed = read_condition_options(condition, json_file)
        with engine.begin() as conn:
            segment = service.create_segment(
                conn,
                name,
                parsed,
                timezone=timezone or settings.timezone,
                description=description,
            )
            audit.record_operator(conn, "segment.create", "segment", name)
    out.print(
        f"created segment '{escape(segment.name)}' ({segment.timezone}): "
        f"{segment.members:,} members",
        highlight=False,
    )


@segments_app.command("list")
def list_command() -> None:
    """Every segment with how many members it has now."""
    from c360.segments import service

    engine = store_for(load_settings())
    with reported_errors(), reader(engine).connect() as conn:
        found = service.list_segments(conn)
    if not found:
        out.print("no segments yet: c360 segments create NAME --condition 'country = \"TH\"'")
        return
    table = Table("name", "members", "timezone", "version", "updated", "condition")
    for s in found:
        table.add_row(
            escape(s.name),
            f"{s.members:,}",
            s.timezone,
            str(s.version),
            isoformat_us(s.updated_at_us),
            escape(s.text),
        )
    out.print(table)


@segments_app.command("show")
def show_command(
    name: NameArg,
    as_json: Annotated[bool, typer.Option("--json", help="The segment as JSON.")] = False,
) -> None:
    """A segment: its condition, members, time zone, version and dates."""
    from c360.segments import service

    engine = store_for(load_settings())
    with reported_errors(), reader(engine).connect() as conn:
        segment = service.get_segment(conn, name)
    if as_json:
        sys.stdout.write(orjson.dumps(segment.as_json(), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
        return
    _print_segment(segment)


@segments_app.command("update")
def update_command(
    name: NameArg,
    condition: ConditionOpt = None,
    json_file: JsonOpt = None,
    timezone: Annotated[str | None, typer.Option(help="A new IANA time zone.")] = None,
    description: Annotated[str | None, typer.Option(help="A new description.")] = None,
) -> None:
    """Change a segment's condition, time zone or description; members are computed again
    (whoever enters or leaves is in the change feed)."""
    from c360.segments import service

    engine = store_for(load_settings())
    with reported_errors(), condition_errors(condition):
        parsed = None
        if condition is not None or json_file is not None:
            parsed = read_condition_options(condition, json_file)
        elif timezone is None and description is None:
            raise InvalidInput(
                "nothing to change: give --condition, --json, --timezone or --description"
            )
        with engine.begin() as conn:
            before = service.get_segment(conn, name).members
            segment = service.update_segment(
                conn, name, condition=parsed, timezone=timezone, description=description
            )
            audit.record_operator(conn, "segment.update", "segment", name)
    out.print(
        f"segment '{escape(segment.name)}' is at version {segment.version}: "
        f"{segment.members:,} members (was {before:,})",
        highlight=False,
    )


@segments_app.command("preview")
def preview_command(
    name: Annotated[
        str | None, typer.Argument(help="A saved segment (or give --condition / --json).")
    ] = None,
    condition: ConditionOpt = None,
    json_file: JsonOpt = None,
    timezone: TimezoneOpt = None,
    sample: Annotated[int, typer.Option(min=0, max=1000, help="Profiles to show.")] = 10,
) -> None:
    """How many profiles meet a condition now, how long it took, and a few of them; nothing
    is saved."""
    from c360.profiles.export import people
    from c360.segments import language as L
    from c360.segments import service

    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), condition_errors(condition), reader(engine).connect() as conn:
        if name is not None:
            if condition is not None or json_file is not None:
                raise InvalidInput("preview a saved segment by NAME, or a --condition; not both")
            segment = service.get_segment(conn, name)
            parsed, zone = segment.condition, timezone or segment.timezone
        else:
            parsed = read_condition_options(condition, json_file)
            zone = timezone or settings.timezone
        found = service.preview(conn, parsed, timezone=zone, sample=sample)
        values = people(conn, found.sample)
    out.print(
        f"{found.count:,} profiles meet {escape(L.to_text(parsed))} "
        f"({zone}; took {found.took_ms:.1f} ms)",
        highlight=False,
        soft_wrap=True,
    )
    if found.sample:
        rows = [(pid, values.get(pid, {}), None) for pid in found.sample]
        out.print(_people_table(rows, f"{len(rows)} of {found.count:,}"))


@segments_app.command("members")
def members_command(
    name: NameArg,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Members to show.")] = 50,
    after: Annotated[
        str | None, typer.Option(help="Start after this profile id (the last one shown).")
    ] = None,
) -> None:
    """A segment's members in profile id order, with when each entered."""
    from c360.profiles.export import people
    from c360.segments import service

    engine = store_for(load_settings())
    with reported_errors(), reader(engine).connect() as conn:
        segment, rows = service.members_page(conn, name, after=after, limit=limit + 1)
        page = rows[:limit]
        values = people(conn, (pid for pid, _ in page))
    shown = [(pid, values.get(pid, {}), isoformat_us(at)) for pid, at in page]
    title = f"{escape(segment.name)}: {segment.members:,} members"
    out.print(_people_table(shown, title, entered=True))
    if len(rows) > limit:
        out.print(
            f"more: c360 segments members '{escape(name)}' --after {page[-1][0]}", highlight=False
        )


@segments_app.command("export")
def export_command(
    name: NameArg,
    output: Annotated[Path, typer.Option("--out", "-o", help="File to write ('-': stdout).")],
    file_format: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    traits: Annotated[
        str | None,
        typer.Option(
            help="Extra columns from the profile's values, e.g. lifetime_value,rfm.segment"
        ),
    ] = None,
    purpose: Annotated[
        str,
        typer.Option(
            help="The consent purpose members need, a configured one (people without it, "
            "or restricted, are left out and counted)"
        ),
    ] = "marketing",
    channel: Annotated[
        str | None,
        typer.Option(help="Check consent on this channel (email, sms, line...), not purpose-wide"),
    ] = None,
) -> None:
    """Every member with consent to the purpose, one row each: profile_id, entered_at, name,
    email, phone, country and the traits asked for."""
    from c360.privacy.purposes import check_purpose
    from c360.profiles.export import LeftOut, export_lines, parse_traits, permitted
    from c360.segments import service

    engine = store_for(load_settings())
    with reported_errors():
        if file_format not in ("csv", "jsonl"):
            raise InvalidInput("--format must be csv or jsonl")
        check_purpose(purpose, "--purpose")
        wanted = parse_traits(traits)
        with reader(engine).connect() as conn:
            segment = service.get_segment(conn, name)
            to_stdout = str(output) == "-"
            try:
                target: Any = (
                    nullcontext(sys.stdout)
                    if to_stdout
                    else output.open("w", encoding="utf-8", newline="")
                )
            except OSError as exc:
                raise InvalidInput(f"{output}: cannot write it ({exc.strerror})") from None
            tally = LeftOut()
            members = permitted(conn, service.iter_members(conn, name), purpose, channel, tally)
            lines = export_lines(members, file_format, wanted)
            with target as handle, _progress(segment.members) as advance:
                count = _write(handle, lines, advance)
        detail = {"format": file_format, "rows": count, "purpose": purpose, "via": "cli"}
        audit.record_cli(engine, "segment.export", "segment", name, detail)
    if not to_stdout:
        err.print(f"wrote {count:,} members of '{escape(segment.name)}' to {escape(str(output))}")
    if tally.consent or tally.restricted:
        err.print(
            f"left out {tally.consent:,} without consent to {escape(purpose)}"
            f" and {tally.restricted:,} whose processing is restricted"
        )


def _write(handle: TextIO, lines: Iterator[tuple[str, int]], advance: Any) -> int:
    count = 0
    for text, members in lines:
        handle.write(text)
        count += members
        advance(members)
    return count


@contextmanager
def _progress(total: int) -> Iterator[Any]:
    """A progress bar on stderr for large exports; a no-op otherwise."""
    if total < PROGRESS_FROM:
        yield lambda _n: None
        return
    with progress_bar() as progress:
        task = progress.add_task("exporting members", total=total)
        yield lambda n: progress.advance(task, n)


@segments_app.command("delete")
def delete_command(
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a segment; its members leave it (segment_exited in the change feed)."""
    from c360.segments import service

    engine = store_for(load_settings())
    with reported_errors():
        if not yes:
            with reader(engine).connect() as conn:
                segment = service.get_segment(conn, name)
            if not sys.stdin.isatty():
                raise InvalidInput(
                    f"deleting segment {name!r} ({segment.members:,} members): add --yes"
                )
            if not typer.confirm(
                f"delete segment {name!r} and its {segment.members:,} memberships?"
            ):
                raise typer.Exit(1)
        with engine.begin() as conn:
            members = service.delete_segment(conn, name)
            audit.record_operator(conn, "segment.delete", "segment", name)
    out.print(f"segment '{escape(name)}' deleted ({members:,} members left it)", highlight=False)
