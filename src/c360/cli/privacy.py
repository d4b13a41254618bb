"""``c360 privacy``: data subject requests: access, erase, rectify, restrict and unrestrict a
person (filed and carried out at once, or only filed with ``--no-run``), list them (overdue
ones), show one, run or reject a filed one."""

import getpass
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from c360.cli.common import err, load_settings, out, reported_errors, store_for
from c360.kernel.clock import isoformat_us
from c360.storage.engine import reader

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from c360.compliance.requests import PrivacyRequest
    from c360.privacy.audit import Actor

# The compliance modules are imported by the commands that use them: every c360 command starts
# faster for it.

privacy_app = typer.Typer(
    help="Data subject requests: access, erase, rectify, restrict, unrestrict; list and show.",
    no_args_is_help=True,
)

SubjectArg = Annotated[
    str,
    typer.Argument(
        help="Who: email:ADDRESS, phone:NUMBER (any local format), user_id:ID, another "
        "identifier type (national_id:..., line_user_id:...), or a profile id."
    ),
]
Law = Annotated[
    str, typer.Option("--law", help="pdpa (Thailand), vn (Vietnam) or gdpr: sets the deadline.")
]
OutDir = Annotated[
    Path | None,
    typer.Option("--out", help="Write the answer here (access: person.json and person.html)."),
]
Run = Annotated[
    bool, typer.Option("--run/--no-run", help="Carry it out now (default) or only file it.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _actor() -> "Actor":
    from c360.privacy.audit import Actor

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(f"cli:{user}", role="operator", client="cli")


def _dump(data: Any) -> None:
    out.print_json(json.dumps(data, ensure_ascii=False, default=str))


def _file_and_run(
    kind: str,
    subject: str,
    law: str,
    detail: dict[str, Any],
    run: bool,
    out_dir: Path | None,
    as_json: bool,
) -> None:
    from c360.compliance import requests as service

    settings = load_settings()
    engine = store_for(settings)
    actor = _actor()
    with reported_errors():
        deadlines = service.parse_deadlines(settings.privacy_deadlines)
        with engine.begin() as conn:
            filed = service.create_request(
                conn,
                kind=kind,
                subject=subject,
                law=law,
                actor=actor,
                detail=detail,
                deadlines=deadlines,
            )
        if not as_json:
            out.print(
                f"privacy request {filed.id} ({kind}, {law}) received; due "
                f"{isoformat_us(filed.deadline_us)}"
            )
        done = _run(engine, filed.id, actor, kind) if run else filed
        _answer(engine, done, out_dir, as_json)


def _run(engine: "Engine", request_id: int, actor: "Actor", kind: str) -> "PrivacyRequest":
    from c360.compliance import requests as service

    if kind != "erase":
        return service.run_request(engine, request_id, actor)
    from c360.compliance.register import configure_transfers

    configure_transfers(load_settings(), os.environ)  # destinations' secrets for deletions
    with Progress(
        TextColumn("[bold]erasing[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def step(name: str, number: int, total: int) -> None:
            bar.update(task, description=name, completed=number - 1, total=total)

        done = service.run_request(engine, request_id, actor, progress=step)
        bar.update(task, completed=bar.tasks[0].total)
    return done


def _answer(
    engine: "Engine", request: "PrivacyRequest", out_dir: Path | None, as_json: bool
) -> None:
    from c360.compliance import requests as service

    written: list[Path] = []
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        if request.kind == "access" and request.status == "completed":
            from c360.compliance.access import write_export

            with reader(engine).connect() as conn:
                written = write_export(service.export_of(conn, request), out_dir)
        report_path = out_dir / f"privacy-request-{request.id}.json"
        report_path.write_text(
            json.dumps(request.as_json(), ensure_ascii=False, indent=2, default=str), "utf-8"
        )
        written.append(report_path)
    if as_json:
        _dump({**request.as_json(), "files": [str(p) for p in written]})
    else:
        _show(request)
        for path in written:
            out.print(f"wrote {path}")
    if request.status == "failed":
        raise typer.Exit(1)


def _show(request: "PrivacyRequest") -> None:
    colour = {"completed": "green", "failed": "red", "rejected": "yellow"}.get(request.status)
    status = f"[{colour}]{request.status}[/{colour}]" if colour else request.status
    out.print(
        f"privacy request {request.id}: {request.kind} ({request.law}) {status}"
        + ("  [red]OVERDUE[/red]" if request.overdue() else "")
    )
    out.print(
        f"  received {isoformat_us(request.received_at_us)}  due "
        f"{isoformat_us(request.deadline_us)}"
        + (
            f"  completed {isoformat_us(request.completed_at_us)}"
            if request.completed_at_us
            else ""
        )
    )
    if request.profile_id:
        out.print(f"  profile {request.profile_id}")
    if request.error:
        out.print(f"  [red]{request.error}[/red]")
    report = request.report or {}
    if request.kind == "erase" and report:
        table = Table("table", "rows removed")
        for name, count in report.get("removed", {}).items():
            table.add_row(name, str(count))
        out.print(table)
        out.print(
            f"  queued messages cancelled: {report.get('cancelled_messages', 0)}; "
            f"identifiers suppressed: {sum(report.get('suppressed', {}).values())}"
        )
        for destination in report.get("destinations", []):
            detail = destination.get("detail")
            out.print(
                f"  destination {destination['destination']}: {destination['status']} "
                f"({destination['rows']} row(s))" + (f": {detail}" if detail else "")
            )
        verification = report.get("verification", {})
        searched = verification.get("searched", {})
        if verification.get("verified"):
            out.print(
                f"  [green]verified[/green]: {searched.get('tables', 0)} tables, "
                f"{searched.get('columns', 0)} columns searched for "
                f"{searched.get('needles', 0)} forms of the person's data: nothing found"
            )
        else:
            for hit in verification.get("hits", []):
                out.print(
                    f"  [red]found[/red] {hit['kind']} in {hit['table']}.{hit['column']} "
                    f"({hit['rows']} row(s))"
                )
    elif report:
        out.print(f"  report: {json.dumps(report, ensure_ascii=False, default=str)}")


@privacy_app.command("access")
def access_command(
    subject: SubjectArg,
    law: Law = "pdpa",
    out_dir: OutDir = None,
    run: Run = True,
    as_json: AsJson = False,
) -> None:
    """Everything held about a person: with --out, person.json and person.html."""
    _file_and_run("access", subject, law, {}, run, out_dir, as_json)


@privacy_app.command("erase")
def erase_command(
    subject: SubjectArg,
    law: Law = "pdpa",
    out_dir: OutDir = None,
    run: Run = True,
    as_json: AsJson = False,
) -> None:
    """Erase a person from every table and the event log, keep a suppression tombstone so
    they are not created again, and search every table to prove nothing is left."""
    _file_and_run("erase", subject, law, {}, run, out_dir, as_json)


@privacy_app.command("rectify")
def rectify_command(
    subject: SubjectArg,
    changes: Annotated[
        list[str],
        typer.Option("--set", help="FIELD=VALUE, the correct value (repeat for more fields)."),
    ],
    law: Law = "pdpa",
    out_dir: OutDir = None,
    run: Run = True,
    as_json: AsJson = False,
) -> None:
    """Correct a person's golden-record values."""
    parsed: dict[str, Any] = {}
    for change in changes:
        field, equals, value = change.partition("=")
        if not equals or not field.strip():
            err.print(f"[red]error:[/red] --set {change!r}: write FIELD=VALUE")
            raise typer.Exit(2)
        parsed[field.strip()] = value
    _file_and_run("rectify", subject, law, {"changes": parsed}, run, out_dir, as_json)


@privacy_app.command("restrict")
def restrict_command(
    subject: SubjectArg,
    reason: Annotated[str | None, typer.Option(help="Why (the person's words).")] = None,
    law: Law = "pdpa",
    out_dir: OutDir = None,
    run: Run = True,
    as_json: AsJson = False,
) -> None:
    """Keep a person's data but stop using it (no messages, journeys or exports)."""
    detail = {"reason": reason} if reason else {}
    _file_and_run("restrict", subject, law, detail, run, out_dir, as_json)


@privacy_app.command("unrestrict")
def unrestrict_command(
    subject: SubjectArg,
    law: Law = "pdpa",
    out_dir: OutDir = None,
    run: Run = True,
    as_json: AsJson = False,
) -> None:
    """Lift a restriction of processing."""
    _file_and_run("unrestrict", subject, law, {}, run, out_dir, as_json)


@privacy_app.command("requests")
def requests_command(
    status: Annotated[
        str | None,
        typer.Option(help="open, received, running, completed, failed or rejected."),
    ] = None,
    kind: Annotated[str | None, typer.Option(help="access, erase, rectify...")] = None,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only open requests past their deadline.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: AsJson = False,
) -> None:
    """Data subject requests, newest first."""
    from c360.compliance import requests as service

    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), reader(engine).connect() as conn:
        found = service.list_requests(conn, status=status, kind=kind, overdue=overdue, limit=limit)
    if as_json:
        _dump([r.as_json() for r in found])
        return
    table = Table("id", "kind", "law", "status", "received", "deadline", "overdue")
    for r in found:
        table.add_row(
            str(r.id),
            r.kind,
            r.law,
            r.status,
            isoformat_us(r.received_at_us)[:19],
            isoformat_us(r.deadline_us)[:19],
            "[red]yes[/red]" if r.overdue() else "",
        )
    out.print(table)


@privacy_app.command("show")
def show_command(
    request_id: Annotated[int, typer.Argument(help="The request's id.")],
    as_json: AsJson = False,
) -> None:
    """One request: status, deadline and report (an erasure's rows removed and verification)."""
    from c360.compliance import requests as service

    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), reader(engine).connect() as conn:
        found = service.get_request(conn, request_id)
    if as_json:
        _dump(found.as_json())
    else:
        _show(found)


@privacy_app.command("run")
def run_command(
    request_id: Annotated[int, typer.Argument(help="The request's id.")],
    out_dir: OutDir = None,
    as_json: AsJson = False,
) -> None:
    """Carry out a filed (or failed) request."""
    from c360.compliance import requests as service

    settings = load_settings()
    engine = store_for(settings)
    with reported_errors():
        with engine.connect() as conn:
            kind = service.get_request(conn, request_id).kind
        done = _run(engine, request_id, _actor(), kind)
        _answer(engine, done, out_dir, as_json)


@privacy_app.command("reject")
def reject_command(
    request_id: Annotated[int, typer.Argument(help="The request's id.")],
    reason: Annotated[str, typer.Option(help="Why (told to the person; no personal data).")],
) -> None:
    """Refuse a request (identity not verified, manifestly unfounded...)."""
    from c360.compliance import requests as service

    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), engine.begin() as conn:
        found = service.reject_request(conn, request_id, _actor(), reason)
    _show(found)


@privacy_app.command("register")
def register_command(
    as_json: AsJson = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (a spreadsheet to file).")] = (
        False
    ),
) -> None:
    """The transfer register (ROPA): where personal data goes, in which country, which
    fields, for which purpose, and the retention policies in force."""
    from c360.compliance.register import build_register, register_csv, transfer_settings

    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), reader(engine).connect() as conn:
        found = build_register(conn, transfer_settings(settings))
    if as_json:
        _dump(found)
        return
    if as_csv:
        print(register_csv(found), end="")
        return
    out.print(f"home country: {found['home_country']}  ({found['generated_at']})")
    table = Table("kind", "name", "target", "country", "abroad", "fields", "purpose", "deletes")
    for e in found["transfers"]:
        abroad = {None: "?", True: "[yellow]yes[/yellow]", False: "no"}[e["abroad"]]
        table.add_row(
            e["kind"],
            e["name"],
            e["target"],
            e["country"] or "[red]not stated[/red]",
            abroad,
            "every field" if e["fields"] is None else ", ".join(e["fields"]),
            e["purpose"] or "",
            "yes" if e["deletes_on_erasure"] else "no",
        )
    out.print(table)
    if found["retention"]:
        policies = Table("retention policy", "applies to", "keep")
        for p in found["retention"]:
            policies.add_row(p["name"], p["target"], p["keep"])
        out.print(policies)
    for problem in found["problems"]:
        out.print(f"[yellow]to resolve:[/yellow] {problem}")
    out.print(f"legal basis and safeguards: {found['legal_basis_note']} (--csv has the columns)")
