"""``c360 demo``: the sample company generated, imported and served; ``c360 demo generate``."""

import base64
import http.client
import json
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskID, TimeElapsedColumn
from sqlalchemy import Connection, Engine

from c360.cli.common import err, load_settings, out, progress_bar, reported_errors, store_for
from c360.ingest.mapping import load_mapping
from c360.privacy.keys import Role, create_key
from c360.workers.imports import import_file

if TYPE_CHECKING:
    from c360.demo.generate import Manifest

demo_app = typer.Typer(
    help="The sample company: generate it, or (without a subcommand) import it and serve.",
    invoke_without_command=True,
)

DEFAULT_DATA = Path("c360-demo-data")


def _generate(out_dir: Path, customers: int, seed: int) -> "Manifest":
    from c360.demo.generate import generate_company

    with progress_bar(transient=False) as progress:
        task = progress.add_task("generating customers", total=customers)
        return generate_company(
            out_dir,
            customers=customers,
            seed=seed,
            progress=lambda done: progress.update(task, completed=done),
        )


@demo_app.command("generate")
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write to.")] = DEFAULT_DATA,
    customers: Annotated[int, typer.Option(help="How many customers.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 42,
) -> None:
    """Write the sample retailer's source files, their mappings and the ground truth."""
    if customers < 1:
        err.print("[red]error:[/red] --customers must be at least 1")
        raise typer.Exit(2)
    manifest = _generate(out_dir, customers, seed)
    for entry in manifest.files:
        out.print(
            f"  {entry.path:28} {entry.rows:>9,} rows  source {entry.source:10} "
            f"{entry.kind:16} {entry.format} {entry.encoding or ''}"
        )
    out.print(f"  {manifest.web_events:28} {manifest.web_event_count:>9,} events for /v1/batch")
    out.print(f"ground truth (never imported): {out_dir / manifest.ground_truth}")


@demo_app.callback()
def demo(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data: Annotated[Path, typer.Option(help="Where the sample company lives.")] = DEFAULT_DATA,
    customers: Annotated[int, typer.Option(help="Customers to generate.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
) -> None:
    """Generate the sample company (once), import every source, print keys, and serve."""
    if ctx.invoked_subcommand is not None:
        return
    from c360.cli.main import serve_app
    from c360.demo.generate import Manifest

    settings = load_settings()
    engine = store_for(settings)
    host, port = host or settings.host, port or settings.port
    manifest = Manifest.load(data) if (data / "manifest.json").exists() else None
    if manifest is None or (manifest.customers, manifest.seed) != (customers, seed):
        manifest = _generate(data, customers, seed)
    import_company(engine, data, manifest)
    resolve_company(engine)
    with engine.begin() as conn:
        _, write_key = create_key(conn, name="demo web", role=Role.WRITER, source="web")
        _, admin_key = create_key(conn, name="demo admin", role=Role.ADMIN, source=None)
        web_password = _demo_user(conn)
    base = f"http://{host}:{port}"
    out.print(f"[bold]c360 demo[/bold]  store: {settings.database_url}")
    out.print(f"web app:                  [green]{base}/[/green]", soft_wrap=True)
    if web_password is not None:
        out.print(f"  sign in as [green]demo[/green] with password [green]{web_password}[/green]")
    else:
        out.print("  sign in with a user you created (c360 users list)")
    out.print(f"write key (source 'web'): [green]{write_key}[/green]")
    out.print(f"admin key:                [green]{admin_key}[/green]")
    out.print("try:")
    out.print(f"  curl -H 'Authorization: Bearer {admin_key}' {base}/api/quality", soft_wrap=True)
    out.print(
        f"  curl -u {write_key}: {base}/v1/identify -H 'Content-Type: application/json' "
        '-d \'{"userId":"u-1","traits":{"name":"สมชาย ใจดี","email":"somchai@example.co.th"}}\'',
        soft_wrap=True,
    )
    auth = f"-H 'Authorization: Bearer {admin_key}'"
    for path in (
        "/api/profiles?query=somchai",
        "/api/changes/stream",
    ):
        out.print(f"  curl -N {auth} '{base}{path}'", soft_wrap=True, markup=False)
    out.print(
        "  (a profile's timeline and briefing: /api/profiles/ID/timeline, "
        "/api/profiles/ID/briefing; in a terminal: c360 profile find NAME, c360 profile show ID)",
        markup=False,
    )
    sys.stdout.flush()
    sender = threading.Thread(
        target=send_web_events,
        args=(host, port, write_key, data / manifest.web_events),
        name="c360-demo-web-events",
        daemon=True,
    )
    sender.start()
    serve_app(settings, engine, host, port, worker=True)


def _demo_user(conn: Connection) -> str | None:
    """A first web user, ``demo`` (admin), with a new random password, when the store has no
    user yet (a fresh install never has a default account: the password is printed once)."""
    from c360.privacy import audit
    from c360.privacy.users import count_users, create_user

    if count_users(conn):
        return None
    password = secrets.token_urlsafe(12)
    create_user(
        conn,
        "demo",
        password,
        Role.ADMIN,
        actor=audit.cli_actor(),
        display_name="Demo administrator",
    )
    return password


def resolve_company(engine: Engine) -> None:
    """Train the match model on the company's records and resolve them (``c360 resolve``);
    events sent afterwards are resolved as they arrive, with that model."""
    from c360.identity.service import Resolver
    from c360.workers.resolve import resolve_everything

    with engine.connect() as conn:
        config = Resolver.load(conn).config
    with Progress(
        "[progress.description]{task.description}", TimeElapsedColumn(), console=err, transient=True
    ) as progress:
        task = progress.add_task("resolving identities", total=None)
        report = resolve_everything(
            engine,
            config,
            progress=lambda step, _d, _t: progress.update(task, description=step),
        )
    out.print(
        f"  resolved {report.nodes:,} records into {report.profiles:,} profiles "
        f"({report.reviews:,} pairs in the review queue: c360 identity review)",
        soft_wrap=True,
    )


def import_company(engine: Engine, data: Path, manifest: "Manifest") -> None:
    """Import every file of the manifest (unchanged rows cost a lookup, not a write)."""
    for entry in manifest.files:
        with reported_errors():
            mapping, text = load_mapping(data / entry.mapping)
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            ) as progress:
                task = progress.add_task(f"importing {entry.path}", total=None)

                def advance(done: int, total: int | None, task: TaskID = task) -> None:
                    progress.update(task, completed=done, total=total)

                summary = import_file(
                    engine,
                    data / entry.path,
                    source=entry.source,
                    mapping=mapping,
                    mapping_text=text,
                    progress=advance,
                )
        out.print(
            f"  {entry.path:28} → {entry.source:10} {summary.read:>9,} rows: "
            f"{summary.new:,} new, {summary.updated:,} updated, {summary.unchanged:,} unchanged, "
            f"{summary.quarantined:,} quarantined",
            soft_wrap=True,
        )


def send_web_events(host: str, port: int, write_key: str, path: Path, batch: int = 200) -> None:
    """Send the web/app event stream through the tracking API once the server answers."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _request(host, port, "GET", "/healthz", None, {})[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode(),
    }
    sent = failed = 0
    pending: list[Any] = []
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                pending.append(json.loads(line))
            if len(pending) >= batch:
                status = _post(host, port, pending, headers)
                sent, failed = (
                    (sent + len(pending), failed) if status == 200 else (sent, failed + 1)
                )
                pending = []
    if pending:
        status = _post(host, port, pending, headers)
        sent, failed = (sent + len(pending), failed) if status == 200 else (sent, failed + 1)
    note = f" ({failed} batches refused)" if failed else ""
    err.print(f"demo: sent {sent:,} web/app events through /v1/batch{note}")


def _post(host: str, port: int, items: list[Any], headers: dict[str, str]) -> int:
    body = json.dumps({"batch": items}, ensure_ascii=False).encode()
    return _request(host, port, "POST", "/v1/batch", body, headers)[0]


def _request(
    host: str, port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
