"""``c360``: run the server and the worker, manage the store, keys and sources."""

import contextlib
import os
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Engine

from c360.cli.audit import audit_app
from c360.cli.backup import backup_app
from c360.cli.common import (
    close_stores,
    err,
    load_settings,
    out,
    progress_bar,
    reported_errors,
    store_for,
)
from c360.cli.consent import consent_app
from c360.cli.demo import demo_app
from c360.cli.encryption import encryption_app
from c360.cli.feedback import feedback_app
from c360.cli.identity import export_links, export_profiles, identity_app, resolve_command
from c360.cli.journeys import journeys_app, suppressions_app
from c360.cli.keys import keys_app
from c360.cli.privacy import privacy_app
from c360.cli.profiles import changes_app, profile_app, traits_app
from c360.cli.records import export_app, import_command, quality_command, quarantine_app
from c360.cli.retention import retention_app
from c360.cli.segments import segments_app
from c360.cli.subscriptions import subscriptions_app
from c360.cli.sync import sync_app
from c360.cli.users import users_app
from c360.errors import InvalidInput
from c360.eventlog import service as log_service
from c360.kernel.runtime import tune_gc
from c360.privacy import audit
from c360.settings import Settings
from c360.storage import check_durability
from c360.storage.migrations import current_revision

app = typer.Typer(help="c360: an open-source Customer Data Platform.", no_args_is_help=True)
db_app = typer.Typer(help="The store: migrations and status.", no_args_is_help=True)
sources_app = typer.Typer(help="Sources: list and set rate limits.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(encryption_app, name="encryption")
app.add_typer(sources_app, name="sources")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(export_app, name="export")
app.command("import")(import_command)
app.command("quality")(quality_command)
app.add_typer(demo_app, name="demo")
app.add_typer(identity_app, name="identity")
app.add_typer(subscriptions_app, name="subscriptions")
app.add_typer(sync_app, name="sync")
app.add_typer(feedback_app, name="feedback")
app.add_typer(consent_app, name="consent")
app.add_typer(privacy_app, name="privacy")
app.add_typer(audit_app, name="audit")
app.add_typer(users_app, name="users")
app.add_typer(retention_app, name="retention")
app.add_typer(backup_app, name="backup")
app.add_typer(segments_app, name="segments")
app.add_typer(journeys_app, name="journeys")
app.add_typer(suppressions_app, name="suppressions")
app.command("resolve")(resolve_command)
app.add_typer(profile_app, name="profile")
app.add_typer(traits_app, name="traits")
app.add_typer(changes_app, name="changes")
export_app.command("links")(export_links)
export_app.command("profiles")(export_profiles)


@app.callback()
def each_command(context: typer.Context) -> None:
    """Runs before every command: the stores it opens are closed when it ends, however it ends."""
    context.call_on_close(close_stores)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Run the log processor in-process.")
    ] = True,
    unsafe_durability: Annotated[
        bool,
        typer.Option(help="Serve /v1 even if the store's durability settings are off."),
    ] = False,
) -> None:
    """Run the tracking API, the management API, the web app and (by default) a worker."""
    settings = load_settings()
    if unsafe_durability:
        settings = settings.model_copy(update={"unsafe_durability": True})
    engine = store_for(settings)
    refuse_without_keys(engine)
    serve_app(settings, engine, host or settings.host, port or settings.port, worker)


def refuse_without_keys(engine: Engine) -> None:
    """Stop before serving when the store holds values sealed with keys this process lacks:
    every read of them would fail (docs/encryption.md)."""
    from c360.storage.rekey import missing_keys

    problems = missing_keys(engine)
    if problems:
        err.print(
            "[red]error:[/red] the store is encrypted at rest with keys C360_ENCRYPTION_KEYS "
            "does not hold: " + "; ".join(problems) + ". Set the deployment's keys (the active "
            "one first, retired ones after it; docs/encryption.md)."
        )
        raise typer.Exit(2)


def serve_app(settings: Settings, engine: Engine, host: str, port: int, worker: bool) -> None:
    import uvicorn

    from c360.api import build_app
    from c360.privacy.logsafe import configure_logging

    log_config = configure_logging()
    report = check_durability(engine)
    err.print(
        f"c360 on http://{host}:{port}  store: {report.backend} "
        f"({', '.join(f'{k}={v}' for k, v in report.settings.items())})"
        + ("" if report.ok else f"  [red]NOT DURABLE: {'; '.join(report.problems)}[/red]")
    )
    app = build_app(settings, engine, run_worker=worker)
    tune_gc()
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=log_config,
        proxy_headers=False,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )


BUS_POLL_S = 2.0
"""A worker's poll of the log when the event bus wakes it (and C360_WORKER_POLL_S is unset)."""


@app.command("worker")
def worker_command() -> None:
    """Run a log processor alone (production: next to API processes started with
    --no-worker), with the webhook deliveries that follow the change feed, the journeys, the
    message dispatcher, two-way sync and the recommendation model."""
    from c360.changes.delivery import DeliveryThread
    from c360.compliance.backup import start_backup_loops
    from c360.compliance.retention import start_retention_loop
    from c360.privacy.logsafe import configure_logging
    from c360.workers import Processor
    from c360.workers.activation import ActivationLoops

    configure_logging()
    settings = load_settings()
    engine = store_for(settings)
    refuse_without_keys(engine)
    delivery = DeliveryThread(
        engine,
        retry_window_s=settings.webhook_retry_window_s,
        base_delay_s=settings.webhook_retry_base_delay_s,
        max_delay_s=settings.webhook_retry_max_delay_s,
        allowed_hosts=settings.webhook_allowed_hosts,
    ).start()
    activation = ActivationLoops(engine, settings).start()
    retention = start_retention_loop(engine, settings.retention_config)
    backups = start_backup_loops(
        engine,
        settings.backup_dir,
        settings.backup_keys,
        every_h=settings.backup_every_hours,
        keep_days=settings.backup_keep_days,
    )

    def applied() -> None:
        delivery.notify()
        activation.notify()

    bus = settings.event_bus
    # With the bus, notices wake the worker; the poll only finds what a lost notice left.
    poll_s = (
        settings.worker_poll_s
        if bus is None or "worker_poll_s" in settings.model_fields_set
        else BUS_POLL_S
    )
    processor = Processor(
        engine, batch_size=settings.worker_batch_size, poll_s=poll_s, on_applied=applied
    )
    consumer = None
    if bus is not None:
        from c360.eventlog.bus import BusNames, LogConsumer

        consumer = LogConsumer(
            bus,
            processor.wait_until,
            BusNames(
                stream=settings.event_bus_stream,
                subject=settings.event_bus_subject,
                consumer=settings.event_bus_consumer,
            ),
        ).start()
    signal.signal(signal.SIGTERM, lambda *_: processor.stop(0))
    tune_gc()
    err.print(
        "c360 worker: processing the log and delivering webhooks"
        + (f" (woken by the event bus, polling every {poll_s:g} s)" if bus else "")
        + " (Ctrl-C to stop)"
    )
    try:
        with contextlib.suppress(KeyboardInterrupt):
            processor.run_forever()
    finally:
        if consumer is not None:
            consumer.stop()
        delivery.stop()
        activation.stop()
        if retention is not None:
            retention.stop()
        for loop in backups:
            loop.stop()


@app.command()
def rebuild() -> None:
    """Recompute every derived view (profiles) from the event log."""
    from c360.workers import rebuild as run_rebuild

    settings = load_settings()
    engine = store_for(settings)
    with progress_bar(transient=False) as progress:
        task = progress.add_task("replaying the log", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        applied = run_rebuild(engine, batch_size=settings.worker_batch_size, progress=report)
    audit.record_cli(engine, "rebuild.run", detail={"log_entries": applied})
    out.print(f"rebuilt from {applied} log entries")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply any pending migrations (a new database is created)."""
    settings = load_settings()
    engine = store_for(settings)
    audit.record_cli(engine, "db.upgrade", detail={"revision": current_revision(engine)})
    out.print(f"database at revision {current_revision(engine)}")


@db_app.command("status")
def db_status() -> None:
    """Show the schema revision and the durability settings."""
    settings = load_settings()
    engine = store_for(settings)
    report = check_durability(engine)
    out.print(f"revision: {current_revision(engine)}")
    out.print(f"backend: {report.backend}")
    for name, value in report.settings.items():
        out.print(f"  {name} = {value}")
    out.print("durable: yes" if report.ok else f"durable: NO ({'; '.join(report.problems)})")


@sources_app.command("list")
def sources_list() -> None:
    """List sources and their rate limits."""
    engine = store_for(load_settings())
    with engine.connect() as conn:
        found = log_service.list_sources(conn)
    table = Table("id", "name", "rate limit (messages/s)")
    for s in found:
        table.add_row(
            str(s.id), s.name, "" if s.rate_limit_per_s is None else f"{s.rate_limit_per_s:g}"
        )
    out.print(table)


@sources_app.command("set-rate")
def sources_set_rate(
    name: Annotated[str, typer.Argument(help="Source name.")],
    per_second: Annotated[
        float | None, typer.Option(help="Messages per second; omit to remove the limit.")
    ] = None,
) -> None:
    """Limit how many messages per second a source may send (429 beyond it)."""
    engine = store_for(load_settings())
    with reported_errors(), engine.begin() as conn:
        source = log_service.set_rate_limit(conn, name, per_second)
    limit = "no limit" if source.rate_limit_per_s is None else f"{source.rate_limit_per_s:g}/s"
    out.print(f"source {source.name}: {limit}")


@sources_app.command("set-mapping")
def sources_set_mapping(
    name: Annotated[str, typer.Argument(help="Source name.")],
    mapping: Annotated[Path, typer.Argument(help="The mapping (YAML).")],
) -> None:
    """Give a source its mapping (webhooks use the newest; imports store theirs too)."""
    from c360.ingest.mapping import load_mapping
    from c360.ingest.records import register_mapping

    engine = store_for(load_settings())
    with reported_errors():
        parsed, text = load_mapping(mapping)
        if parsed.source is not None and parsed.source != name:
            raise InvalidInput(f"the mapping is for source {parsed.source!r}, not {name!r}")
        with engine.begin() as conn:
            source = log_service.ensure_source(conn, name)
            version = register_mapping(conn, source.id, parsed, text)
    out.print(f"source {name}: mapping version {version} ({parsed.kind.value} records)")


def main() -> None:  # pragma: no cover - console entry point
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
