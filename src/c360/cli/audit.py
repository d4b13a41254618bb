"""``c360 audit``: list the audit log, verify its hash chain, and the affected-person report
(which profiles one actor read, exported or changed in a period; docs/audit.md)."""

import json
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from c360.cli.common import err, load_settings, out, reported_errors, store_for
from c360.errors import InvalidInput
from c360.kernel.clock import parse_timestamp, system_clock
from c360.storage.engine import reader

# c360.privacy.audit_report is imported by the command that uses it: every c360 command starts
# faster for it.

audit_app = typer.Typer(
    help="The audit log: list entries, verify the chain, report what an actor touched.",
    no_args_is_help=True,
)

TIME_HELP = "ISO-8601 (2026-03-01T00:00:00Z, 2026-03-01T07:00+07:00)"
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help='Whole name or first word: "key:12", "user:alice", "cli:root".'),
]
Since = Annotated[str | None, typer.Option("--since", help=f"From (inclusive), {TIME_HELP}.")]
Until = Annotated[str | None, typer.Option("--until", help=f"To (exclusive), {TIME_HELP}.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _time(value: str | None, name: str) -> int | None:
    if not value:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        raise InvalidInput(f"{name} {value!r} is not a time; use {TIME_HELP}") from None


def _dump(data: Any) -> None:
    out.print_json(json.dumps(data, ensure_ascii=False, default=str))


def _short(detail: dict[str, Any]) -> str:
    keep = {k: v for k, v in detail.items() if k not in ("route", "method", "duration_us")}
    if isinstance(keep.get("profile_ids"), list):
        keep["profile_ids"] = f"{len(keep['profile_ids'])} ids"
    text = json.dumps(keep, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


@audit_app.command("list")
def list_command(
    actor: ActorOption = None,
    action: Annotated[
        str | None, typer.Option("--action", help='Exact, or a prefix ending in "*": segment.*')
    ] = None,
    object_type: Annotated[str | None, typer.Option("--object-type")] = None,
    object_id: Annotated[str | None, typer.Option("--object-id")] = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 100,
    as_json: AsJson = False,
) -> None:
    """Audit entries, newest first."""
    from c360.privacy.audit import AuditQuery, list_entries

    engine = store_for(load_settings())
    with reported_errors():
        query = AuditQuery(
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            since_us=_time(since, "--since"),
            until_us=_time(until, "--until"),
        )
        with reader(engine).connect() as conn:
            rows = list_entries(conn, query, limit=limit)
    if as_json:
        _dump(rows)
        return
    if not rows:
        out.print("no audit entries match")
        return
    table = Table("id", "at", "actor", "action", "object", "client", "status", "detail")
    for row in rows:
        detail = row["detail"] or {}
        what = f"{row['object_type'] or ''} {row['object_id'] or ''}".strip()
        table.add_row(
            str(row["id"]),
            row["at"],
            row["actor"],
            row["action"],
            what,
            row["client"] or "",
            str(detail.get("status", "")),
            _short(detail),
        )
    out.print(table)


@audit_app.command("verify")
def verify_command(as_json: AsJson = False) -> None:
    """Recompute the hash chain; exit 1 naming the first row that does not verify."""
    from c360.privacy.audit import verify_chain

    engine = store_for(load_settings())
    with reported_errors(), reader(engine).connect() as conn:
        check = verify_chain(conn)
        broken: dict[str, Any] | None = None
        if check.broken_at is not None:
            from c360.privacy.audit import AuditQuery, list_entries

            found = list_entries(conn, AuditQuery(), before_id=check.broken_at + 1, limit=1)
            broken = found[0] if found else None
    result = {
        "ok": check.ok,
        "rows": check.rows,
        "broken_at": check.broken_at,
        "reason": check.reason,
        "head": check.head,
        "row": broken,
    }
    if as_json:
        _dump(result)
    elif check.ok:
        out.print(f"audit log verified: {check.rows} row(s), chain head {check.head}")
    else:
        err.print(
            f"[red]audit log broken at row {check.broken_at}[/red]: {check.reason} "
            f"({check.rows} row(s) before it verify)"
        )
        if broken is not None:
            err.print(json.dumps(broken, ensure_ascii=False, default=str))
    if not check.ok:
        raise typer.Exit(1)


@audit_app.command("report")
def report_command(
    actor: Annotated[
        str, typer.Option("--actor", help='Whole name or first word: "key:12", "user:alice".')
    ],
    since: Annotated[str, typer.Option("--since", help=f"From (inclusive), {TIME_HELP}.")],
    until: Until = None,
    as_json: AsJson = False,
) -> None:
    """Which profiles ACTOR read, exported or changed between --since and --until (default:
    now), including the members of the segments it exported, for a breach notice."""
    from c360.privacy.audit_report import affected_report

    engine = store_for(load_settings())
    started = time.monotonic()
    with reported_errors():
        since_us = _time(since, "--since")
        until_us = _time(until, "--until") or system_clock() + 1
        assert since_us is not None
        if until_us <= since_us:
            raise InvalidInput("--until must be after --since")
        with reader(engine).connect() as conn:
            report = affected_report(conn, actor, since_us, until_us)
    report["took_s"] = round(time.monotonic() - started, 3)
    if as_json:
        _dump(report)
        return
    counts = report["counts"]
    out.print(
        f"[bold]{actor}[/bold] from {report['since']} to {report['until']}: "
        f"{counts['profiles']} profile(s) touched ({counts['read']} read, "
        f"{counts['exported']} exported, {counts['changed']} changed) in {report['entries']} "
        f"audit entries; {report['refused']} refused; clients: "
        f"{', '.join(report['clients']) or '-'}"
    )
    if report["exports"]:
        exports = Table("at", "segment", "profiles", "membership", "client")
        for e in report["exports"]:
            exports.add_row(
                e["at"], e["segment"], str(e["profiles"]), e["membership"], e["client"] or ""
            )
        out.print(exports)
    table = Table("profile", "read", "exported", "changed", "first", "last", "via", "clients")
    for p in report["profiles"]:
        table.add_row(
            p["profile_id"],
            str(p["read"]),
            str(p["exported"]),
            str(p["changed"]),
            p["first_at"],
            p["last_at"],
            ", ".join(p["via"]),
            ", ".join(p["clients"]),
        )
    out.print(table)
    for note in report["notes"]:
        out.print(f"[dim]{note}[/dim]")
    out.print(f"[dim]generated {report['generated_at']} in {report['took_s']} s[/dim]")
