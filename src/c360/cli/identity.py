"""Identity commands: ``resolve``, ``identity explain|split|review|simulate``, ``export links``
and ``export profiles``."""

import csv
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, TextIO

import orjson
import typer
from rich.table import Table

from c360.cli.common import err, load_settings, out, progress_bar, reported_errors, store_for
from c360.identity.config import load_config
from c360.workers.resolve import resolve_everything

identity_app = typer.Typer(
    help="Why records are one person; undo a merge; the review queue; try a configuration.",
    no_args_is_help=True,
)


def resolve_command(
    config: Annotated[
        Path | None,
        typer.Option(help="Identity configuration (YAML); the one in effect if omitted."),
    ] = None,
    keep_model: Annotated[
        bool,
        typer.Option(
            "--keep-model", help="Use the stored match model instead of training it again."
        ),
    ] = False,
) -> None:
    """Resolve every record and tracked identity into profiles (train, score, cluster)."""
    settings = load_settings()
    engine = store_for(settings)
    with reported_errors():
        from c360.identity.service import Resolver

        if config is None:
            with engine.connect() as conn:
                chosen = Resolver.load(conn).config
        else:
            chosen = load_config(config)
        started = time.monotonic()
        with progress_bar() as progress:
            tasks: dict[str, Any] = {}

            def report(step: str, done: int, total: int | None) -> None:
                if step not in tasks:
                    tasks[step] = progress.add_task(step, total=total)
                progress.update(tasks[step], completed=done, total=total)

            result = resolve_everything(
                engine,
                chosen,
                train=not keep_model,
                batch_size=settings.worker_batch_size,
                progress=report,
            )
        elapsed = time.monotonic() - started
    table = Table(title=f"resolved in {elapsed:.1f} s", show_header=False)
    table.add_row("nodes (records and tracked identities)", f"{result.nodes:,}")
    table.add_row("candidate pairs scored", f"{result.pairs:,}")
    table.add_row("profiles", f"{result.profiles:,}")
    table.add_row(
        "merges / splits (changes to the profiles before)",
        f"{result.changes.merges:,} / {result.changes.splits:,}",
    )
    table.add_row("review queue (c360 identity review)", f"{result.reviews:,}")
    table.add_row("blocking keys over the cap (no pairs)", f"{result.skipped_keys:,}")
    table.add_row(
        "match model",
        f"version {result.model_version}"
        + (f", EM converged in {result.em_iterations} iterations" if result.em_iterations else ""),
    )
    out.print(table)


def export_links(
    output: Annotated[Path, typer.Option(help="CSV file to write ('-' for stdout).")],
) -> None:
    """The crosswalk ``source,record_id,profile_id`` of every source record and tracked
    identity."""
    from c360.identity.queries import iter_links

    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), engine.connect() as conn:
        target: Any = (
            nullcontext(sys.stdout)
            if str(output) == "-"
            else output.open("w", encoding="utf-8", newline="")
        )
        count = 0
        with target as handle:
            writer = csv.writer(handle)
            writer.writerow(["source", "record_id", "profile_id"])
            for row in iter_links(conn):
                writer.writerow(row)
                count += 1
    if str(output) != "-":
        err.print(f"wrote {count:,} links to {output}")


def export_profiles(
    output: Annotated[Path, typer.Option(help="File to write ('-' for stdout).")],
    file_format: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
) -> None:
    """Every live profile: id, household, traits and golden record (JSON Lines or CSV)."""
    from c360.profiles.export import iter_profiles

    if file_format not in ("jsonl", "csv"):
        err.print("[red]error:[/red] --format must be jsonl or csv")
        raise typer.Exit(2)
    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), engine.connect() as conn:
        target: Any = (
            nullcontext(sys.stdout)
            if str(output) == "-"
            else output.open("w", encoding="utf-8", newline="")
        )
        with target as handle:
            count = _write_profiles(handle, iter_profiles(conn), file_format)
    if str(output) != "-":
        err.print(f"wrote {count:,} profiles to {output}")


def _write_profiles(handle: TextIO, rows: Any, file_format: str) -> int:
    count = 0
    if file_format == "jsonl":
        for row in rows:
            handle.write(orjson.dumps(row).decode() + "\n")
            count += 1
    else:
        columns = [
            "id",
            "household_id",
            "created_seq",
            "updated_seq",
            "records",
            "name",
            "email",
            "phone",
            "birth_date",
            "address",
            "traits",
        ]
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            golden = row.get("golden") or {}
            values = golden.get("values", {}) if isinstance(golden, dict) else {}

            def value(name: str, values: dict[str, Any] = values) -> str:
                v = values.get(name, {})
                return "" if not v else str(v.get("value", ""))

            writer.writerow(
                [
                    row["id"],
                    row.get("household_id") or "",
                    row["created_seq"],
                    row["updated_seq"],
                    row["records"],
                    " ".join(x for x in (value("first_name"), value("last_name")) if x),
                    value("email"),
                    value("phone"),
                    value("birth_date"),
                    value("address"),
                    orjson.dumps(row.get("traits") or {}).decode(),
                ]
            )
            count += 1
    return count


@identity_app.command("explain")
def explain_command(
    profile_id: Annotated[str, typer.Argument(help="A profile id (a merged one works too).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Why these records are one person: each edge in words, the merges, the open questions."""
    from c360.identity.decisions import explain

    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), engine.connect() as conn:
        found = explain(conn, profile_id)
    if as_json:
        out.print_json(orjson.dumps(found).decode())
        return
    out.print(
        f"[bold]profile {found['profile_id']}[/bold]"
        + (
            f" (asked for {found['requested_id']}, merged into it)"
            if found["requested_id"] != found["profile_id"]
            else ""
        )
    )
    if found["merged_ids"]:
        out.print("earlier ids that resolve here: " + ", ".join(found["merged_ids"]))
    table = Table(
        "source", "record", "kind", title=f"{len(found['records'])} records and identities"
    )
    for record in found["records"]:
        table.add_row(record["source"], record["label"], record["kind"])
    out.print(table)
    out.print("[bold]why they are one person[/bold]")
    for edge in found["edges"]:
        a, b = edge["a"], edge["b"]
        out.print(f"  {a['source']}:{a['label']} ~ {b['source']}:{b['label']}: {edge['because']}")
        for part in edge.get("comparisons", []):
            out.print(f"      {part['field']}: {part['level']} ({part['weight']:+.1f})")
        if "comparisons" in edge:
            out.print(
                f"      prior ({edge['prior']:+.1f}); match probability {edge['probability']:.4f}"
            )
    if found["history"]:
        out.print("[bold]history[/bold]")
        for item in found["history"]:
            out.print(
                f"  {item['action']} at log entry {item['seq']}: "
                f"{item['survivor']} / {item['other']}: {item['reason']}"
            )
    if found["open_questions"]:
        out.print(
            f"[bold]{len(found['open_questions'])} open questions[/bold] (c360 identity review)"
        )


@identity_app.command("split")
def split_command(
    profile_id: Annotated[str, typer.Argument(help="The profile to split.")],
    record: Annotated[
        list[str],
        typer.Option("--record", help="source:record_id to move out (repeat the option)."),
    ],
    reason: Annotated[str, typer.Option(help="Why (kept with the decision).")],
) -> None:
    """Move records out of a profile into their own; the matcher never joins them again."""
    from c360.eventlog.service import get_checkpoint
    from c360.identity.decisions import split
    from c360.privacy import audit
    from c360.profiles.service import follow_resolution
    from c360.workers.processor import PROFILES_CHECKPOINT

    pairs = []
    for item in record:
        source, sep, record_id = item.partition(":")
        if not sep or not source or not record_id:
            err.print(f"[red]error:[/red] --record {item!r}: write source:record_id")
            raise typer.Exit(2)
        pairs.append((source, record_id))
    settings = load_settings()
    engine = store_for(settings)
    with reported_errors(), engine.begin() as conn:
        seq = get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)
        result, parts = split(conn, profile_id, pairs, actor="cli", reason=reason, seq=seq)
        follow_resolution(conn, result, seq)
        audit.record_operator(conn, "identity.split", "profile", profile_id, {"into": parts})
    out.print(f"split: the records are now in {len(parts)} profiles: " + ", ".join(parts))


@identity_app.command("review")
def review_command(
    limit: Annotated[int, typer.Option(help="How many items to show.")] = 20,
    decide: Annotated[
        str | None, typer.Option(help="An item id (12-34) to decide on, with --decision.")
    ] = None,
    decision: Annotated[
        str | None, typer.Option(help="same (one person) or apart (never merge).")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (kept with the decision).")] = "",
) -> None:
    """The review queue: record pairs a person should decide on; decide with --decide."""
    from c360.eventlog.service import get_checkpoint
    from c360.identity.decisions import decide_review, review_items
    from c360.privacy import audit
    from c360.profiles.service import follow_resolution
    from c360.workers.processor import PROFILES_CHECKPOINT

    settings = load_settings()
    engine = store_for(settings)
    if decide is not None:
        if decision not in ("same", "apart"):
            err.print("[red]error:[/red] --decide needs --decision same or --decision apart")
            raise typer.Exit(2)
        with reported_errors(), engine.begin() as conn:
            seq = get_checkpoint(conn, PROFILES_CHECKPOINT, lock=True)
            result = decide_review(conn, decide, decision, actor="cli", reason=reason, seq=seq)
            follow_resolution(conn, result, seq)
            done = {"decision": decision, "merges": result.merges}
            audit.record_operator(conn, "identity.review", "identity_review", decide, done)
        out.print(f"decided {decide}: {decision} ({result.merges} merges, {result.splits} splits)")
        return
    with reported_errors(), engine.connect() as conn:
        items, total = review_items(conn, limit=limit)
    if not items:
        out.print("the review queue is empty")
        return
    table = Table(
        "id",
        "record",
        "profile",
        "record",
        "profile",
        "p(match)",
        "why",
        title=f"{total:,} open items",
    )
    for item in items:
        data = item.as_json()
        table.add_row(
            data["id"],
            f"{data['a']['source']}:{data['a']['label']}",
            (data["a"]["profile_id"] or "")[:8],
            f"{data['b']['source']}:{data['b']['label']}",
            (data["b"]["profile_id"] or "")[:8],
            f"{data['probability']:.3f}",
            data["reason"],
        )
    out.print(table)
    out.print("decide: c360 identity review --decide ID --decision same|apart --reason TEXT")


@identity_app.command("simulate")
def simulate_command(
    config: Annotated[Path, typer.Option(help="The configuration to try (YAML).")],
    keep_model: Annotated[
        bool, typer.Option("--keep-model", help="Score with the stored model instead of training.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What a configuration would merge and split compared with today; nothing is kept."""
    from c360.identity.decisions import simulate

    settings = load_settings()
    engine = store_for(settings)
    with reported_errors():
        chosen = load_config(config)
        with engine.begin() as conn:
            result = simulate(conn, chosen, train=not keep_model)
    data = {
        "profiles_before": result.profiles_before,
        "profiles_after": result.profiles_after,
        "records_changing_profile": result.nodes_moved,
        "merges": result.merge_count,
        "splits": result.split_count,
        "merge_examples": result.merges,
        "split_examples": result.splits,
    }
    if as_json:
        out.print_json(orjson.dumps(data).decode())
        return
    table = Table(show_header=False, title=f"simulating {config}")
    table.add_row(
        "profiles today / with the new configuration",
        f"{result.profiles_before:,} / {result.profiles_after:,}",
    )
    table.add_row("records that would change profile", f"{result.nodes_moved:,}")
    table.add_row("groups of today's profiles that would merge", f"{result.merge_count:,}")
    table.add_row("today's profiles that would split", f"{result.split_count:,}")
    out.print(table)
    for group in result.merges[:10]:
        out.print("  would merge: " + ", ".join(group))
    for parts in result.splits[:10]:
        out.print(
            "  would split into: "
            + " | ".join(", ".join(f"{r['source']}:{r['label']}" for r in part) for part in parts)
        )
    out.print("nothing was changed; apply with: c360 resolve --config " + str(config))
