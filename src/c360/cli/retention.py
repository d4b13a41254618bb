"""``c360 retention``: the retention policies, what they would remove now, a run (or a dry
run), and past runs."""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from c360.cli.common import err, load_settings, out, progress_bar, reported_errors, store_for
from c360.kernel.clock import isoformat_us, system_clock
from c360.storage.engine import reader

if TYPE_CHECKING:
    from c360.compliance.retention import Policy, RetentionReport

# The retention module (and the profile machinery under it) is imported by the commands that
# use it: every c360 command starts faster for it.

retention_app = typer.Typer(
    help="Retention: the policies, what they remove, runs and past runs.", no_args_is_help=True
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="Policies (YAML) to use instead of C360_RETENTION_CONFIG.", exists=True
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _policies(config: Path | None) -> tuple["list[Policy]", Path | None]:
    from c360.compliance.retention import load_policies

    path = config or load_settings().retention_config
    with reported_errors():
        return load_policies(path), path


def _dump(data: Any) -> None:
    out.print_json(json.dumps(data, ensure_ascii=False, default=str))


def _report_table(report: "RetentionReport", verb: str) -> Table:
    table = Table("policy", "applies to", "keep", "older than", verb, "by source", "kept")
    for o in report.outcomes:
        kept = []
        if o.kept_as_identity:
            kept.append(f"{o.kept_as_identity} as identity")
        if o.kept_as_consent_proof:
            kept.append(f"{o.kept_as_consent_proof} as consent proof")
        if o.deferred:
            kept.append(f"{o.deferred} not processed yet")
        table.add_row(
            o.policy.name,
            o.policy.describe(),
            str(o.policy.keep),
            isoformat_us(o.cutoff_us)[:10],
            str(o.removed),
            ", ".join(f"{s}: {n}" for s, n in sorted(o.by_source.items())),
            "; ".join(kept),
        )
    return table


def _run(config: Path | None, dry_run: bool) -> "RetentionReport | None":
    from c360.compliance.retention import apply_retention
    from c360.privacy.audit import cli_actor

    policies, path = _policies(config)
    if not policies:
        err.print(
            "no retention policies configured (set C360_RETENTION_CONFIG to a YAML file, "
            "docs/retention.md): nothing is purged"
            if path is None
            else f"{path} holds no policies: nothing is purged"
        )
        return None
    engine = store_for(load_settings())
    with progress_bar() as progress:
        task = progress.add_task("applying policies", total=len(policies))

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        with reported_errors():
            return apply_retention(
                engine,
                policies,
                now_us=system_clock(),
                dry_run=dry_run,
                progress=step,
                actor=cli_actor(),
            )


@retention_app.command("show")
def show_command(config: ConfigOption = None, as_json: AsJson = False) -> None:
    """The policies, and what each would remove if it ran now (nothing is changed)."""
    report = _run(config, dry_run=True)
    if report is None:
        if as_json:
            _dump({"policies": []})
        return
    if as_json:
        _dump(report.as_json())
        return
    out.print(_report_table(report, "would remove"))


@retention_app.command("run")
def run_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would go; change nothing.")
    ] = False,
    config: ConfigOption = None,
    as_json: AsJson = False,
) -> None:
    """Apply the policies now (the worker does it once a day); recorded in the audit log."""
    report = _run(config, dry_run=dry_run)
    if report is None:
        return
    if as_json:
        _dump(report.as_json())
        return
    out.print(_report_table(report, "would remove" if dry_run else "removed"))
    if dry_run:
        out.print(f"dry run: {report.removed} would be removed; nothing was changed")
    else:
        out.print(f"run {report.run_id}: {report.removed} removed")


@retention_app.command("runs")
def runs_command(
    limit: Annotated[int, typer.Option(help="How many runs, newest first.", min=1)] = 20,
    as_json: AsJson = False,
) -> None:
    """Past runs, with what each removed per policy and source."""
    from c360.compliance.retention import list_runs

    engine = store_for(load_settings())
    with reader(engine).connect() as conn:
        runs = list_runs(conn, limit)
    if as_json:
        _dump(runs)
        return
    if not runs:
        out.print("no retention runs yet")
        return
    table = Table("run", "started", "finished", "removed", "by source")
    for r in runs:
        report = r["report"] or {}
        by_source = report.get("by_source") or {}
        table.add_row(
            str(r["id"]),
            isoformat_us(r["started_at_us"]),
            isoformat_us(r["finished_at_us"]) if r["finished_at_us"] else "",
            str(report.get("removed", "")),
            ", ".join(f"{s}: {n}" for s, n in sorted(by_source.items())),
        )
    out.print(table)
