"""``c360 journeys``: journeys from a terminal (definitions in YAML, ``docs/journeys.md``)."""

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from c360.cli.common import err, load_settings, out, reported_errors, store_for
from c360.kernel.clock import isoformat_us
from c360.privacy import audit
from c360.storage.engine import reader

journeys_app = typer.Typer(
    help="Journeys: act on people when they do something, enter a segment, or on a schedule.",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="The journey's name.")]
FileArg = Annotated[
    Path,
    typer.Argument(
        help="The journey's YAML (or JSON) file; '-' for standard input.", dir_okay=False
    ),
]


def _read(path: Path) -> str:
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text("utf-8")
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot read {escape(str(path))}: {exc.strerror}")
        raise typer.Exit(2) from None
    except UnicodeDecodeError:
        err.print(f"[red]error:[/red] {escape(str(path))} is not UTF-8 text")
        raise typer.Exit(2) from None


@journeys_app.command("create")
def create_command(file: FileArg) -> None:
    """Save a journey and start it: what happens from now on enters people."""
    from c360.activation import journeys
    from c360.activation.policy import rules_from_config

    settings = load_settings()
    engine = store_for(settings)
    text = _read(file)
    with reported_errors(), engine.begin() as conn:
        saved = journeys.create_journey(
            conn,
            text,
            default_tz=settings.timezone,
            allowed_hosts=settings.webhook_allowed_hosts,
            rules=rules_from_config(settings.send_rules),
        )
        audit.record_operator(conn, "journey.create", "journey", saved.name)
    out.print(
        f"journey {escape(saved.name)!r} created and active ({len(saved.journey.steps)} steps)"
    )


@journeys_app.command("update")
def update_command(name: NameArg, file: FileArg) -> None:
    """Replace a journey's definition; people go on from the step they are at."""
    from c360.activation import journeys
    from c360.activation.policy import rules_from_config

    settings = load_settings()
    engine = store_for(settings)
    text = _read(file)
    with reported_errors(), engine.begin() as conn:
        saved = journeys.update_journey(
            conn,
            name,
            text,
            default_tz=settings.timezone,
            allowed_hosts=settings.webhook_allowed_hosts,
            rules=rules_from_config(settings.send_rules),
        )
        audit.record_operator(conn, "journey.update", "journey", name)
    out.print(f"journey {escape(saved.name)!r} updated to version {saved.version}")


@journeys_app.command("list")
def list_command() -> None:
    """Every journey: status, trigger, people in it."""
    from c360.activation import journeys

    engine = store_for(load_settings())
    with reported_errors(), reader(engine).connect() as conn:
        found = journeys.list_journeys(conn)
    if not found:
        out.print("no journeys yet: c360 journeys create cart-abandonment.yaml (docs/journeys.md)")
        return
    table = Table("name", "status", "trigger", "in it now", "entries", "version", "updated")
    for j in found:
        trigger = j.journey.trigger
        said = (
            f"event {trigger.event}"
            if trigger.event
            else f"segment {trigger.segment}"
            if trigger.segment
            else f"schedule {trigger.schedule.at if trigger.schedule else ''}"
        )
        table.add_row(
            escape(j.name),
            j.status,
            escape(said),
            f"{j.active_entries:,}",
            f"{j.total_entries:,}",
            str(j.version),
            isoformat_us(j.updated_at_us),
        )
    out.print(table)


@journeys_app.command("show")
def show_command(
    name: NameArg,
    as_json: Annotated[bool, typer.Option("--json", help="The journey as JSON.")] = False,
) -> None:
    """A journey's definition and status."""
    from c360.activation import journeys

    engine = store_for(load_settings())
    with reported_errors(), reader(engine).connect() as conn:
        saved = journeys.get_journey(conn, name)
    if as_json:
        out.print_json(orjson.dumps(saved.as_json()).decode())
        return
    out.print(
        f"[bold]{escape(saved.name)}[/bold]  {saved.status}, version {saved.version}, "
        f"{saved.active_entries:,} in it now, {saved.total_entries:,} entries"
    )
    out.print(escape(saved.text), highlight=False)


def _set_status(name: str, status: str) -> None:
    from c360.activation import journeys

    engine = store_for(load_settings())
    with reported_errors(), engine.begin() as conn:
        saved = journeys.set_status(conn, name, status)
        action = "journey.pause" if status == "paused" else "journey.resume"
        audit.record_operator(conn, action, "journey", name)
    out.print(f"journey {escape(saved.name)!r} is {saved.status}")


@journeys_app.command("pause")
def pause_command(name: NameArg) -> None:
    """Stop entering and moving people (waits keep their times; conversions still count)."""
    _set_status(name, "paused")


@journeys_app.command("resume")
def resume_command(name: NameArg) -> None:
    """Start a paused journey again; people whose wait ended meanwhile move on at once."""
    _set_status(name, "active")


@journeys_app.command("delete")
def delete_command(
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Delete a journey; the people in it leave."""
    from c360.activation import journeys

    if not yes:
        typer.confirm(f"delete journey {name!r} and remove everyone in it?", abort=True)
    engine = store_for(load_settings())
    with reported_errors(), engine.begin() as conn:
        removed = journeys.delete_journey(conn, name)
        audit.record_operator(conn, "journey.delete", "journey", name)
    out.print(f"journey {escape(name)!r} deleted ({removed:,} people were in it)")


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


@journeys_app.command("report")
def report_command(
    name: NameArg,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
) -> None:
    """Entries, sends by channel, open/click rates, conversion of treatment vs control, uplift
    with its 95 % confidence interval, revenue attributed."""
    from c360.activation.report import journey_report

    engine = store_for(load_settings())
    with reported_errors(), reader(engine).connect() as conn:
        report = journey_report(conn, name)
    data = report.as_json()
    if as_json:
        out.print_json(orjson.dumps(data).decode())
        return
    out.print(
        f"[bold]{escape(report.name)}[/bold]: {report.entries:,} entries, {report.active:,} in it "
        f"now; goal: {escape(report.goal or 'none')}"
    )
    arms = Table("group", "entries", "conversions", "rate", "revenue")
    for label, arm in (("treatment", data["treatment"]), ("control", data["control"])):
        arms.add_row(
            label,
            f"{arm['entries']:,}",
            f"{arm['conversions']:,}",
            _pct(arm["conversion_rate"]),
            f"{arm['revenue']:,.2f}",
        )
    out.print(arms)
    uplift = data["uplift"]
    if uplift.get("absolute") is not None:
        ci = uplift.get("absolute_ci") or {}
        out.print(
            f"uplift: {_pct(uplift['absolute'])} absolute (95% CI {_pct(ci.get('low'))} to "
            f"{_pct(ci.get('high'))}), relative {_pct(uplift.get('relative'))}, "
            f"p = {uplift['p_value']:.3g}"
        )
    for reason in uplift.get("reasons") or []:
        out.print(f"uplift: {escape(str(reason))}")
    sends = Table("channel", "status", "messages")
    for channel, by_status in sorted(data["sends_by_channel"].items()):
        for status, n in sorted(by_status.items()):
            sends.add_row(channel, status, f"{n:,}")
    out.print(sends)
    out.print(
        f"delivery {_pct(data['delivery_rate'])}, open {_pct(data['open_rate'])}, "
        f"click {_pct(data['click_rate'])}"
    )
    for reason, n in sorted(data["skipped_reasons"].items(), key=lambda kv: -kv[1]):
        out.print(f"  skipped {n:,}: {escape(reason)}")


suppressions_app = typer.Typer(
    help="Addresses no journey sends to (bounced email is added by itself).",
    no_args_is_help=True,
)
ChannelArg = Annotated[str, typer.Argument(help="email, sms, line, zalo, push, or '*' for all.")]
AddressArg = Annotated[str, typer.Argument(help="The address: email, +66/+84 phone, LINE id...")]


@suppressions_app.command("add")
def suppress_command(
    channel: ChannelArg,
    address: AddressArg,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the address).")],
) -> None:
    """Never send to ADDRESS on CHANNEL again."""
    from c360.activation.suppression import suppress

    engine = store_for(load_settings())
    with reported_errors(), engine.begin() as conn:
        found = suppress(conn, channel, address, reason)
    out.print(f"suppressed {escape(found.address)} on {found.channel}")


@suppressions_app.command("remove")
def unsuppress_command(channel: ChannelArg, address: AddressArg) -> None:
    """Allow sending to ADDRESS on CHANNEL again."""
    from c360.activation.suppression import unsuppress

    engine = store_for(load_settings())
    with reported_errors(), engine.begin() as conn:
        unsuppress(conn, channel, address)
    out.print(f"{escape(address)} may be sent to on {channel} again")


@suppressions_app.command("list")
def suppressions_list_command() -> None:
    """The newest 1,000 suppressed addresses."""
    from c360.activation.suppression import list_suppressions

    engine = store_for(load_settings())
    with reported_errors(), reader(engine).connect() as conn:
        found = list_suppressions(conn)
    table = Table("channel", "address", "reason", "since")
    for s in found:
        table.add_row(s.channel, escape(s.address), escape(s.reason), isoformat_us(s.created_at_us))
    out.print(table if found else "no suppressed addresses")
