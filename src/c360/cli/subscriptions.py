"""``c360 subscriptions``: webhooks that receive the profile change feed."""

import contextlib
import signal
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Engine

from c360.changes.delivery import Deliverer, DeliveryThread
from c360.changes.feed import ChangeKind
from c360.changes.subscriptions import (
    add_subscription,
    dead_letters,
    get_subscription,
    list_subscriptions,
    pending_changes,
    redeliver_dead_letters,
    remove_subscription,
)
from c360.cli.common import err, load_settings, out, reported_errors, store_for
from c360.kernel.clock import isoformat_us, system_clock
from c360.settings import Settings
from c360.storage.engine import reader

subscriptions_app = typer.Typer(
    help="Webhooks that receive profile changes: add, list, remove, dead letters, deliver.",
    no_args_is_help=True,
)

SIGNATURE_NOTE = (
    "Receivers check each request: X-C360-Signature is 'sha256=' + hex HMAC-SHA256 of "
    "'<X-C360-Timestamp>.<raw body>' keyed with this secret; refuse timestamps older than "
    "5 minutes (c360.changes.delivery.verify_signature does both)."
)


@subscriptions_app.command("add")
def add_command(
    url: Annotated[str, typer.Argument(help="Where to POST changes (http:// or https://).")],
    events: Annotated[
        list[str] | None,
        typer.Option(
            "--events",
            help="Change kinds to send, comma-separated (every kind if omitted): "
            + ", ".join(k.value for k in ChangeKind),
        ),
    ] = None,
    from_beginning: Annotated[
        bool,
        typer.Option("--from-beginning", help="Send the whole feed so far first, not only new."),
    ] = False,
    consent_purpose: Annotated[
        str | None,
        typer.Option(
            "--consent-purpose",
            help="Leave out changes about people without this consent (a configured "
            "purpose), e.g. third_party_sharing for a receiver outside the business "
            "(docs/consent.md)",
        ),
    ] = None,
    country: Annotated[
        str | None,
        typer.Option(
            "--country",
            help="ISO 3166 alpha-2 code of where the receiver is hosted (TH, VN, US ...); "
            "outside C360_HOME_COUNTRY it needs --fields",
        ),
    ] = None,
    fields: Annotated[
        list[str] | None,
        typer.Option(
            "--fields",
            help="Profile fields its changes may carry, comma-separated: golden.<field>, "
            "traits.<name>, computed.<name>, identifiers.<type>, or golden.* (others are "
            "masked out); every field if omitted",
        ),
    ] = None,
) -> None:
    """Add a subscription; its signing secret is printed once, as the last line."""
    kinds = [k for item in events or [] for k in item.split(",")]
    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), engine.begin() as conn:
        subscription, secret = add_subscription(
            conn,
            url,
            kinds,
            start="beginning" if from_beginning else "now",
            allowed_hosts=settings.webhook_allowed_hosts,
            consent_purpose=consent_purpose,
            country=country,
            fields=[f for item in fields for f in item.split(",")] if fields else None,
            home_country=settings.home_country,
        )
    start = "from the first change" if from_beginning else f"after change {subscription.cursor}"
    err.print(
        f"created subscription {subscription.id}: {subscription.url} "
        f"({', '.join(subscription.kinds) or 'every kind'}), {start}"
    )
    allowed = ", ".join(subscription.fields) if subscription.fields else "every field"
    err.print(f"hosted in {subscription.country or 'a country not stated'}; fields: {allowed}")
    err.print(SIGNATURE_NOTE)
    err.print("The secret is shown only now:")
    print(secret)


@subscriptions_app.command("list")
def list_command(
    show_all: Annotated[bool, typer.Option("--all", help="Include removed subscriptions.")] = False,
) -> None:
    """Subscriptions with how far behind they are and how delivery is going."""
    engine = store_for(load_settings())
    with reader(engine).connect() as conn:
        found = list_subscriptions(conn, include_removed=show_all)
        lags = {s.id: pending_changes(conn, s) for s in found if s.enabled}
        letters = {s.id: dead_letters(conn, s.id) for s in found}
    now = system_clock()
    columns = ["id", "url", "kinds", "cursor", "lag", "attempts", "last error", "next attempt"]
    table = Table(*columns, "dead letters", *(["removed"] if show_all else []))
    for s in found:
        queued = sum(d.queued for d in letters[s.id])
        if not s.enabled:
            next_attempt = ""
        elif s.next_attempt_us is None or s.next_attempt_us <= now:
            next_attempt = "now" if lags.get(s.id) or queued else ""
        else:
            next_attempt = isoformat_us(s.next_attempt_us)
        row = [
            str(s.id),
            s.url,
            ", ".join(s.kinds) or "every kind",
            str(s.cursor),
            str(lags[s.id]) if s.id in lags else "",
            str(s.attempts),
            s.last_error or "",
            next_attempt,
            f"{len(letters[s.id])}" + (f" ({queued} queued)" if queued else ""),
        ]
        if show_all:
            row.append(isoformat_us(s.disabled_at_us) if s.disabled_at_us else "")
        table.add_row(*row)
    out.print(table)


@subscriptions_app.command("remove")
def remove_command(
    subscription_id: Annotated[int, typer.Argument(help="The subscription's id.")],
) -> None:
    """Stop delivering to a subscription (it stays listed with --all, with its dead letters)."""
    engine = store_for(load_settings())
    with reported_errors(), engine.begin() as conn:
        subscription = remove_subscription(conn, subscription_id)
    out.print(f"subscription {subscription.id} ({subscription.url}) removed")


@subscriptions_app.command("dead-letters")
def dead_letters_command(
    subscription_id: Annotated[int, typer.Argument(help="The subscription's id.")],
) -> None:
    """Changes the subscription gave up on after its retries."""
    engine = store_for(load_settings())
    with reported_errors(), reader(engine).connect() as conn:
        subscription = get_subscription(conn, subscription_id)
        found = dead_letters(conn, subscription_id)
    if not found:
        out.print(f"subscription {subscription.id} has no dead letters")
        return
    table = Table(
        "change", "attempts", "last error", "given up at", "state", title=subscription.url
    )
    for letter in found:
        table.add_row(
            str(letter.change_id),
            str(letter.attempts),
            letter.last_error,
            isoformat_us(letter.at_us),
            "queued for redelivery" if letter.queued else "waiting",
        )
    out.print(table)
    out.print(f"send them again: c360 subscriptions redeliver {subscription.id}")


@subscriptions_app.command("redeliver")
def redeliver_command(
    subscription_id: Annotated[int, typer.Argument(help="The subscription's id.")],
) -> None:
    """Send the subscription's dead letters again, before its newer changes."""
    engine = store_for(load_settings())
    with reported_errors(), engine.begin() as conn:
        queued = redeliver_dead_letters(conn, subscription_id)
    out.print(
        f"subscription {subscription_id}: {queued} dead letters queued; "
        "a running server (or c360 subscriptions deliver) sends them"
    )


@subscriptions_app.command("deliver")
def deliver_command(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due until nothing is, then exit.")
    ] = False,
    poll_s: Annotated[float, typer.Option(help="Seconds between looks at the feed.")] = 1.0,
    timeout_s: Annotated[float, typer.Option(help="Seconds to wait for a receiver.")] = 5.0,
) -> None:
    """Deliver changes in the foreground (c360 serve also delivers, in the background)."""
    settings = load_settings()
    engine = store_for(settings)
    with reported_errors():
        deliverer = deliverer_for(engine, settings, timeout_s=timeout_s)
    if once:
        total = 0
        with reported_errors(), deliverer:
            while delivered := deliverer.run_once():
                total += delivered
            with reader(engine).connect() as conn:
                retrying = [s for s in list_subscriptions(conn) if s.attempts]
        out.print(f"delivered {total} batches")
        for s in retrying:
            since = f" since {isoformat_us(s.failing_since_us)}" if s.failing_since_us else ""
            err.print(
                f"subscription {s.id}: retrying after {s.attempts} failures{since} ({s.last_error})"
            )
        return
    thread = DeliveryThread(engine, poll_s=poll_s, deliverer=deliverer)
    signal.signal(signal.SIGTERM, lambda *_: thread.stop(0))
    err.print("c360 subscriptions: delivering changes (Ctrl-C to stop)")
    with contextlib.suppress(KeyboardInterrupt):
        thread.run_forever()


def deliverer_for(engine: Engine, settings: Settings, *, timeout_s: float = 5.0) -> Deliverer:
    """A deliverer with the operator's retry window, delays and allowed internal hosts (for
    every command that delivers, ``c360 serve`` too)."""
    return Deliverer(
        engine,
        timeout_s=timeout_s,
        retry_window_s=settings.webhook_retry_window_s,
        base_delay_s=settings.webhook_retry_base_delay_s,
        max_delay_s=settings.webhook_retry_max_delay_s,
        allowed_hosts=settings.webhook_allowed_hosts,
    )
