"""``c360 profile``, ``c360 traits`` and ``c360 changes``: the Customer 360 from a terminal."""

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
import yaml
from rich.panel import Panel
from rich.table import Table

from c360.cli.common import load_settings, out, reported_errors, store_for
from c360.errors import InvalidInput

profile_app = typer.Typer(help="Profiles: find one, read its briefing.", no_args_is_help=True)
traits_app = typer.Typer(help="Computed traits: settings and refresh.", no_args_is_help=True)
changes_app = typer.Typer(help="The change feed: read or follow it.", no_args_is_help=True)


@profile_app.command("find")
def find_command(
    query: Annotated[str, typer.Argument(help="A name, email, phone or identifier.")],
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
) -> None:
    """Search profiles by name (any script, with or without diacritics), email or phone."""
    from c360.profiles.golden import display_name, golden_values
    from c360.profiles.search import search_profiles
    from c360.profiles.service import get_profile

    engine = store_for(load_settings())
    table = Table("profile", "name", "email", "phone", "score")
    with reported_errors(), engine.connect() as conn:
        for pid, score in search_profiles(conn, query, limit):
            values = golden_values(get_profile(conn, pid).golden)
            table.add_row(
                pid,
                display_name(values) or "",
                str(values.get("email") or ""),
                str(values.get("phone") or ""),
                f"{score:g}",
            )
    out.print(table)


@profile_app.command("show")
def show_command(
    profile: Annotated[
        str, typer.Argument(help="A profile id, or TYPE:VALUE such as email:a@b.co, phone:081...")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="The briefing as JSON.")] = False,
) -> None:
    """The agent's briefing: who this is, how to reach them, orders, deliveries, tickets,
    sentiment, value, and what to do next."""
    from c360.profiles.briefing import briefing
    from c360.profiles.service import find_by_identifier

    engine = store_for(load_settings())
    with reported_errors(), engine.connect() as conn:
        profile_id = profile
        if ":" in profile and len(profile) != 36:
            id_type, _, value = profile.partition(":")
            profile_id = find_by_identifier(conn, id_type, value).id
        found = briefing(conn, profile_id)
    if as_json:
        sys.stdout.write(orjson.dumps(found.as_json()).decode() + "\n")
        return
    _print_briefing(found.as_json())


def _print_briefing(b: dict[str, Any]) -> None:
    action = b["next_action"]
    out.print(
        Panel(
            f"[bold]{b['summary']}[/bold]\n[green]Next:[/green] {action['action']} "
            f"[dim]({action['why']})[/dim]",
            title=f"profile {b['profile_id']}",
        )
    )
    contact = b["contact"]
    lines = [
        f"{k}: {contact[k]}"
        for k in ("email", "phone", "line_user_id", "zalo_user_id")
        if contact.get(k)
    ]
    if contact.get("preferred_channel"):
        lines.append(f"prefers {contact['preferred_channel']}")
    if contact.get("best_hours"):
        lines.append(f"best hours {contact['best_hours']} on {contact.get('best_weekdays')}")
    for sub in contact.get("subscriptions") or []:
        lines.append(f"{sub['list'] or sub['channel']}: {sub['status']}")
    out.print(Panel("\n".join(lines) or "no contact details", title="contact"))
    value = {k: v for k, v in b["value"].items() if v not in (None, [], {})}
    out.print(
        Panel("\n".join(f"{k}: {v}" for k, v in value.items()) or "no purchases", title="value")
    )
    orders = Table("order", "when", "total", "status", "store", "items", title="recent orders")
    for o in b["recent_orders"]:
        total = o["total"] or {}
        orders.add_row(
            str(o["order_id"]),
            o["at"][:16],
            f"{total.get('amount', '')} {total.get('currency', '')}".strip(),
            str(o["status"] or ""),
            str(o["store"] or o["channel"] or ""),
            ", ".join(str(line["product"]) for line in o["lines"][:3]),
        )
    out.print(orders)
    deliveries = Table("shipment", "status", "scheduled", "delivered", title="deliveries")
    for d in b["deliveries"]:
        deliveries.add_row(
            str(d["shipment_id"]),
            str(d["status"] or ""),
            str(d["scheduled_at"] or ""),
            str(d["delivered_at"] or ""),
        )
    out.print(deliveries)
    tickets = Table("ticket", "opened", "status", "priority", "topic", "last note", title="tickets")
    for t in b["open_tickets"] + [t for t in b["recent_tickets"] if t not in b["open_tickets"]]:
        tickets.add_row(
            str(t["ticket_id"]),
            t["opened_at"][:10],
            str(t["status"] or ""),
            str(t["priority"] or ""),
            str(t["topic"] or t["subject"] or ""),
            str(t["last_note"] or "")[:60],
        )
    out.print(tickets)
    requests = Table(
        "#", "when", "channel", "what", "status", "with", "latest note", title="requests"
    )
    for r in b.get("requests") or []:
        note = (r["notes"] or [{}])[0].get("text") or r.get("resolution") or ""
        requests.add_row(
            str(r["id"]),
            r["received_at"][:10],
            r["channel"],
            f"{r['topic']}: {(r['text'] or '')[:50]}",
            r["status"],
            str(r["assignee"] or r["team"]),
            str(note)[:50],
        )
    out.print(requests)
    feedback = {k: v for k, v in b["feedback"].items() if v is not None}
    out.print(
        Panel(
            "\n".join(f"{k}: {v}" for k, v in feedback.items()) or "no feedback", title="feedback"
        )
    )


@traits_app.command("set")
def traits_set(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A YAML or JSON file.")],
) -> None:
    """Store new computed-trait settings (currency rates, RFM bands, user-defined traits);
    profiles use them from their next refresh (``c360 traits refresh --all`` for all now)."""
    from c360.profiles.refresh import save_trait_settings

    engine = store_for(load_settings())
    with reported_errors():
        body = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(body, dict):
            raise InvalidInput(f"{path}: the settings must be a mapping of keys to values")
        with engine.begin() as conn:
            version = save_trait_settings(conn, body)
    out.print(f"computed-trait settings version {version} stored")


@traits_app.command("show")
def traits_show() -> None:
    """The computed-trait settings in use, defaults filled in."""
    from c360.profiles.refresh import trait_settings

    engine = store_for(load_settings())
    with reported_errors(), engine.connect() as conn:
        settings = trait_settings(conn)
    out.print(yaml.safe_dump(settings.model_dump(mode="json"), allow_unicode=True, sort_keys=False))


@traits_app.command("refresh")
def traits_refresh(
    all_profiles: Annotated[
        bool, typer.Option("--all", help="Every live profile, not only those fallen due.")
    ] = False,
) -> None:
    """Recompute computed traits now: those time has changed, or (``--all``) every profile."""
    from sqlalchemy import func, select

    from c360.eventlog.service import get_checkpoint
    from c360.profiles.refresh import refresh_profiles
    from c360.storage.tables import profiles
    from c360.workers.processor import PROFILES_CHECKPOINT, refresh_all_due

    engine = store_for(load_settings())
    with reported_errors():
        if not all_profiles:
            out.print(f"{refresh_all_due(engine)} profiles refreshed")
            return
        with engine.connect() as conn:
            ids = list(
                conn.execute(
                    select(profiles.c.id)
                    .where(profiles.c.merged_into.is_(None))
                    .order_by(profiles.c.id)
                ).scalars()
            )
            count = conn.execute(select(func.count()).select_from(profiles)).scalar_one()
        from rich.progress import Progress

        with Progress(console=out) as progress:
            task = progress.add_task("refreshing profiles", total=len(ids))
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                with engine.begin() as conn:
                    seq = get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)
                    refresh_profiles(conn, chunk, seq)
                progress.advance(task, len(chunk))
    out.print(f"{len(ids)} live profiles refreshed ({count} profile rows)")


@changes_app.command("list")
def changes_list(
    since: Annotated[int, typer.Option(help="Show changes after this id.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    kinds: Annotated[str | None, typer.Option(help="e.g. trait_changed,merged")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new changes.")
    ] = False,
) -> None:
    """Changes to profiles, oldest first, as JSON lines (``--follow`` waits for more)."""
    from c360.changes.feed import changes_after, parse_change_kinds

    engine = store_for(load_settings())
    cursor = since
    with reported_errors():
        wanted = parse_change_kinds(kinds)
        while True:
            with engine.connect() as conn:
                found = changes_after(conn, cursor, limit, wanted)
            for change in found:
                sys.stdout.write(orjson.dumps(change.as_json()).decode() + "\n")
                cursor = change.id
            sys.stdout.flush()
            if not follow:
                return
            if not found:
                time.sleep(0.5)
