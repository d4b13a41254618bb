"""``c360 feedback``: the feedback inbox: collect, list, show, assign, start, resolve (and
thank the customer), note, report, analyse a text, and read a mailbox."""

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from c360.cli.common import err, load_settings, out, reported_errors, store_for
from c360.kernel.clock import isoformat_us, parse_timestamp
from c360.storage.engine import reader

# The feedback modules are imported by the commands that use them: every c360 command starts
# faster for it.

feedback_app = typer.Typer(
    help="The feedback inbox: collect, list, show, assign, start, resolve, note, report.",
    no_args_is_help=True,
)

Actor = Annotated[str | None, typer.Option("--actor", help="Who is acting (default: your user).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def mailbox_files(paths: list[Path]) -> list[Path]:
    """The .eml files named, and those in the folders named."""
    found: list[Path] = []
    for path in paths:
        found += sorted(path.glob("*.eml")) if path.is_dir() else [path]
    return found


def _dump(data: Any) -> None:
    out.print_json(json.dumps(data, ensure_ascii=False, default=str))


def _row(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "level": row.level,
        "priority": row.priority,
        "team": row.team,
        "assignee": row.assignee,
        "channel": row.channel,
        "received_at": isoformat_us(row.received_at_us),
        "profile_id": row.profile_id,
        "language": row.language,
        "sentiment": row.sentiment,
        "topic": row.topic,
        "cues": (row.analysis or {}).get("cues", []),
        "subject": row.subject,
        "text": row.text,
        "resolution": row.resolution,
        "breached": row.breached,
    }


@feedback_app.command("collect")
def collect_command() -> None:
    """Collect new feedback from the log now, then check SLAs and thank-yous (the worker and
    ``c360 serve`` do this continuously)."""
    from c360.feedback.model import load_config
    from c360.workers.feedback import feedback_cycle

    settings = load_settings()
    engine = store_for(settings)
    with reported_errors():
        created = feedback_cycle(engine, load_config(settings.feedback_config))
    out.print(f"{created} new feedback item(s)")


@feedback_app.command("list")
def list_command(
    status: Annotated[
        str | None, typer.Option(help="open, new, assigned, in_progress, resolved...")
    ] = "open",
    team: Annotated[str | None, typer.Option(help="Only this team's items.")] = None,
    topic: Annotated[str | None, typer.Option(help="Only this topic.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: AsJson = False,
) -> None:
    """Feedback items, most urgent first (default: the open ones)."""
    from c360.feedback.model import OPEN_STATUSES
    from c360.storage.tables import feedback_items

    settings = load_settings()
    engine = store_for(settings)
    query = select(feedback_items)
    if status == "open":
        query = query.where(feedback_items.c.status.in_([s.value for s in OPEN_STATUSES]))
    elif status and status != "all":
        query = query.where(feedback_items.c.status == status)
    if team:
        query = query.where(feedback_items.c.team == team)
    if topic:
        query = query.where(feedback_items.c.topic == topic)
    query = query.order_by(feedback_items.c.priority.desc(), feedback_items.c.id).limit(limit)
    with reader(engine).connect() as conn:
        rows = [_row(r) for r in conn.execute(query).all()]
    if as_json:
        _dump(rows)
        return
    table = Table("id", "level", "status", "team", "topic", "sentiment", "channel", "text")
    for r in rows:
        text = (
            (r["subject"] or "") + (" — " if r["subject"] and r["text"] else "") + (r["text"] or "")
        )
        table.add_row(
            str(r["id"]),
            r["level"],
            r["status"],
            r["team"],
            r["topic"],
            r["sentiment"],
            r["channel"],
            text[:60],
        )
    out.print(table)
    out.print(f"{len(rows)} item(s)")


@feedback_app.command("show")
def show_command(item_id: int, as_json: AsJson = False) -> None:
    """One item: its analysis, priority factors and history."""
    from c360.feedback import service

    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), reader(engine).connect() as conn:
        row = service.get_item(conn, item_id)
        data = {
            **_row(row),
            "analysis": row.analysis,
            "factors": row.factors,
            "history": service.history(conn, item_id),
        }
    if as_json:
        _dump(data)
        return
    for key in ("id", "status", "level", "priority", "team", "assignee", "channel"):
        out.print(f"[bold]{key}[/bold]: {data[key]}")
    out.print(f"[bold]analysis[/bold]: {data['sentiment']} / {data['topic']} cues {data['cues']}")
    out.print(f"[bold]factors[/bold]: {data['factors']}")
    out.print(f"[bold]text[/bold]: {data['subject'] or ''} {data['text'] or ''}")
    for entry in data["history"]:
        out.print(f"  {entry['at']} {entry['actor']}: {entry['action']} {entry.get('detail', '')}")


@feedback_app.command("assign")
def assign_command(
    item_id: int,
    to: Annotated[str | None, typer.Option("--to", help="The person.")] = None,
    team: Annotated[str | None, typer.Option(help="The team.")] = None,
    actor: Actor = None,
) -> None:
    """Give an item to a person and/or a team."""
    from c360.feedback import service

    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), engine.begin() as conn:
        row = service.assign(conn, item_id, assignee=to, team=team, actor=service.actor_name(actor))
    out.print(f"feedback {row.id}: {row.status} ({row.team}, {row.assignee or 'no one'})")


@feedback_app.command("start")
def start_command(item_id: int, actor: Actor = None) -> None:
    """Mark an item in progress (or reopen a resolved one)."""
    from c360.feedback import service

    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), engine.begin() as conn:
        row = service.start(conn, item_id, actor=service.actor_name(actor))
    out.print(f"feedback {row.id}: {row.status}")


@feedback_app.command("resolve")
def resolve_command(
    item_id: int,
    resolution: Annotated[str, typer.Option(help="What was done (the customer may read it).")],
    notify: Annotated[
        bool, typer.Option("--notify", help="Thank the customer on their own channel.")
    ] = False,
    actor: Actor = None,
) -> None:
    """Resolve an item, and with --notify thank the customer (consent and quiet hours apply)."""
    from c360.connectors.channels import configured_channels
    from c360.feedback import service
    from c360.feedback.model import load_config
    from c360.feedback.notify import notify_customer

    settings = load_settings()
    engine = store_for(settings)
    who = service.actor_name(actor)
    with reported_errors(), engine.begin() as conn:
        row = service.resolve(conn, item_id, resolution=resolution, actor=who)
        out.print(f"feedback {row.id}: {row.status}")
        if notify:
            result = notify_customer(
                conn,
                load_config(settings.feedback_config),
                item_id,
                available=configured_channels(settings.channels),
                default_tz=settings.timezone,
                actor=who,
            )
            out.print(
                f"thank-you {'queued on ' + str(result.channel) if result.queued else 'not sent'}: "
                f"{result.reason}"
            )


@feedback_app.command("note")
def note_command(item_id: int, text: str, actor: Actor = None) -> None:
    """Add a note to an item's history."""
    from c360.feedback import service

    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), engine.begin() as conn:
        service.add_note(conn, item_id, text=text, actor=service.actor_name(actor))
    out.print(f"feedback {item_id}: note added")


@feedback_app.command("report")
def report_command(
    since: Annotated[str | None, typer.Option(help="ISO time (default: 30 days ago).")] = None,
    until: Annotated[str | None, typer.Option(help="ISO time (default: now).")] = None,
    period: Annotated[str, typer.Option(help="day or week")] = "day",
    as_json: AsJson = False,
) -> None:
    """Volume by topic and sentiment, NPS and CSAT trends, times against SLA, top issues."""
    from c360.feedback import report as reports
    from c360.feedback.model import load_config

    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), reader(engine).connect() as conn:
        result = reports.build_report(
            conn,
            load_config(settings.feedback_config),
            since_us=parse_timestamp(since) if since else None,
            until_us=parse_timestamp(until) if until else None,
            period=period,  # type: ignore[arg-type]
            default_tz=settings.timezone,
        ).as_json()
    if as_json:
        _dump(result)
        return
    out.print(f"{result['totals']['items']} item(s) {result['since']} .. {result['until']}")
    table = Table("topic", "items this week", "negative %", "avg priority", "open", "spike today")
    for t in result["top_issues"]:
        table.add_row(
            t["topic"],
            str(t["items"]),
            str(t["negative_pct"]),
            str(t["average_priority"]),
            str(t["open"]),
            "yes" if t["spike_today"] else "no",
        )
    out.print(table)
    sla = Table("level", "items", "median response h", "median resolution h", "resolved in SLA %")
    for s in result["sla"]:
        sla.add_row(
            s["level"],
            str(s["items"]),
            str(s["median_response_h"]),
            str(s["median_resolution_h"]),
            str(s["resolved_within_sla_pct"]),
        )
    out.print(sla)
    for n in result["nps"]:
        out.print(f"NPS {n['period']}: {n['nps']} ({n['responses']} responses)")
    for c in result["csat"]:
        out.print(f"CSAT {c['period']}: {c['csat']}% (mean {c['average']})")


@feedback_app.command("analyse")
def analyse_command(text: str) -> None:
    """What the analyser reads in a text: language, sentiment, topic, urgency cues."""
    from c360.analysis import analyse

    _dump(analyse(text).as_json())


@feedback_app.command("mailbox")
def mailbox_command(
    paths: Annotated[
        list[Path] | None, typer.Argument(help=".eml files or folders of them.")
    ] = None,
    source: Annotated[str, typer.Option(help="The source the mail is filed under.")] = "mailbox",
    imap_host: Annotated[str | None, typer.Option(help="Read an IMAP server instead.")] = None,
    imap_port: Annotated[int, typer.Option()] = 993,
    imap_user: Annotated[str | None, typer.Option()] = None,
    imap_password_env: Annotated[
        str, typer.Option(help="The environment variable holding the IMAP password.")
    ] = "C360_IMAP_PASSWORD",  # noqa: S107 - the name of a variable, not a password
    folder: Annotated[str, typer.Option()] = "INBOX",
    ssl: Annotated[bool, typer.Option("--ssl/--no-ssl")] = True,
) -> None:
    """Read customers' emails into the log as feedback (.eml files or an IMAP folder)."""
    from c360.feedback import mailbox

    settings = load_settings()
    engine = store_for(settings)
    files = sorted(mailbox_files(paths or []))
    if not imap_host and not files:
        err.print("[red]error:[/red] give .eml files or folders, or --imap-host")
        raise typer.Exit(2)
    with (
        reported_errors(),
        Progress(
            TextColumn("mail"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("mail", total=None if imap_host else len(files), detail="")

        def progress(done: Any) -> None:
            bar.update(
                task,
                completed=done.read,
                detail=f"{done.accepted} new, {done.duplicates} known, "
                f"{done.quarantined} quarantined",
            )

        if imap_host:
            password = os.environ.get(imap_password_env, "")
            result = mailbox.import_imap(
                engine,
                source,
                imap_host,
                imap_port,
                imap_user or "",
                password,
                folder,
                ssl,
                progress=progress,
            )
        else:
            result = mailbox.import_mail(engine, source, mailbox.read_eml(files), progress=progress)
    out.print(
        f"read {result.read} mail(s): {result.accepted} new feedback, {result.duplicates} "
        f"already imported, {result.quarantined} quarantined"
        + (" (see c360 quarantine list)" if result.quarantined else "")
    )
