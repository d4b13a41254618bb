"""Identity resolution accuracy: c360's entity resolution and Splink on the same records.

One run generates the sample company (or reuses ``--data``), imports every file of its
manifest into a fresh store (SQLite or PostgreSQL) and sends the web/app events through the
tracking API, then:

* c360: times ``c360 resolve``, writes ``c360 export links`` and scores the links;
* Splink 5 (DuckDB): builds a flat table of the same records from the store and the raw event
  stream (bench/identity_splink.py), trains and runs Splink's documented workflow, and scores
  its clusters, alone (``Splink``) and with deterministic links on shared account ids added
  before clustering (``Splink + ID rules``).

Scores (bench/identity_eval.py) are against ``ground_truth.csv``: pairwise and B-cubed
precision/recall/F1, over-merged profiles, household fusions, split persons.

    .venv/bin/python bench/identity.py --customers 10000
    .venv/bin/python bench/identity.py --data /tmp/demo10k --skip-c360 --json splink.json
    .venv/bin/python bench/identity.py --store postgresql --keep /tmp/identity-run

The Markdown table goes to stdout, one progress line per step to stderr.
"""

import argparse
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import identity_splink  # noqa: E402
from bench.identity_eval import (  # noqa: E402
    GroundTruth,
    Key,
    Scores,
    away_by_source,
    evaluate,
    load_ground_truth,
    load_links,
)

PG_HOST = "postgresql+psycopg://postgres@127.0.0.1:5432"
DEFAULT_CUSTOMERS = 10_000

_STARTED = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# c360 through its command line.


def c360(url: str | None, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if url is not None:
        env["C360_DATABASE_URL"] = url
    done = subprocess.run(
        [sys.executable, "-m", "c360", *argv],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and done.returncode != 0:
        raise RuntimeError(
            f"c360 {' '.join(argv)} exited with {done.returncode}:\n{done.stderr[-3000:]}"
        )
    return done


def ensure_company(directory: Path, customers: int | None, seed: int) -> dict[str, Any]:
    manifest_path = directory / "manifest.json"
    if manifest_path.exists():
        manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
        if customers is None or (manifest.get("customers"), manifest.get("seed")) == (
            customers,
            seed,
        ):
            log(f"reusing the sample company in {directory} ({manifest['customers']:,} customers)")
            return manifest
    customers = customers or DEFAULT_CUSTOMERS
    log(f"generating {customers:,} customers (seed {seed}) into {directory}")
    directory.mkdir(parents=True, exist_ok=True)
    c360(
        None,
        "demo", "generate", "--out", str(directory),
        "--customers", str(customers), "--seed", str(seed),
    )  # fmt: skip
    return dict(json.loads(manifest_path.read_text(encoding="utf-8")))


class Store:
    """A fresh store: a SQLite file in the work directory, or a new PostgreSQL database."""

    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind = kind
        if kind == "sqlite":
            self.path = workdir / "identity.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self.url = f"sqlite:///{self.path}"
            self.dbname = ""
        else:
            self.dbname = f"c360_bench_identity_{os.getpid()}"
            _pg_admin(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
            _pg_admin(f'CREATE DATABASE "{self.dbname}"')
            self.url = f"{PG_HOST}/{self.dbname}"

    def drop(self) -> None:
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        else:
            _pg_admin(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')


def _pg_admin(sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"{PG_HOST}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def import_company(url: str, data: Path, manifest: dict[str, Any]) -> float:
    started = time.perf_counter()
    for entry in manifest["files"]:
        mark = time.perf_counter()
        c360(
            url,
            "import", str(data / entry["path"]),
            "--source", entry["source"], "--mapping", str(data / entry["mapping"]),
        )  # fmt: skip
        log(
            f"  imported {entry['path']} ({entry.get('rows', 0):,} rows, source "
            f"{entry['source']}) in {time.perf_counter() - mark:.1f} s"
        )
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def send_web_events(
    url: str, events: Path, workdir: Path, timeout_s: float = 1800
) -> tuple[float, float, int]:
    """Send the event stream through ``c360 serve`` (with its worker), then wait until the
    worker has applied the whole log or ``timeout_s`` passed.

    Returns (seconds to send, seconds to send and apply, log entries still pending). Pending
    entries are not lost: ``c360 resolve`` applies them first (inside its timed run).
    """
    from c360.cli.demo import send_web_events as send
    from c360.storage import open_store
    from c360.workers.processor import lag

    started = time.perf_counter()
    key = c360(url, "keys", "create", "--name", "bench", "--role", "writer", "--source", "web")
    write_key = key.stdout.strip().splitlines()[-1].strip()
    port = free_port()
    env = dict(os.environ, C360_DATABASE_URL=url)
    pending = 0
    with (workdir / "serve.log").open("ab") as server_log:
        server = subprocess.Popen(
            [sys.executable, "-m", "c360", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(server, port, workdir / "serve.log")
            send("127.0.0.1", port, write_key, events)
            sent_s = time.perf_counter() - started
            log(f"  sent in {sent_s:.1f} s; waiting for the worker to apply the log")
            engine = open_store(url)
            try:
                deadline = time.monotonic() + timeout_s
                next_report = time.monotonic() + 30
                while (pending := lag(engine)[0]) > 0 and time.monotonic() < deadline:
                    if time.monotonic() >= next_report:
                        log(f"  the worker has {pending:,} log entries left")
                        next_report += 30
                    time.sleep(0.5)
            finally:
                engine.dispose()
            if pending:
                log(
                    f"  gave up waiting after {timeout_s:.0f} s with {pending:,} entries left: "
                    "c360 resolve applies them first, inside its timed run"
                )
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    return sent_s, time.perf_counter() - started, pending


def _wait_ready(server: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"c360 serve exited with {server.returncode}; see {log_path}")
        try:
            ready = f"http://127.0.0.1:{port}/readyz"
            with urllib.request.urlopen(ready, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"c360 serve did not become ready; see {log_path}")
        time.sleep(0.2)


def resolve_available() -> bool:
    done = c360(None, "resolve", "--help", check=False)
    return done.returncode == 0


def run_c360(url: str, workdir: Path) -> tuple[dict[Key, str], dict[str, float]]:
    started = time.perf_counter()
    c360(url, "resolve")
    resolve_s = time.perf_counter() - started
    log(f"c360 resolve took {resolve_s:.1f} s (wall clock, including process start)")
    path = workdir / "c360_links.csv"
    mark = time.perf_counter()
    c360(url, "export", "links", "--output", str(path))
    export_s = time.perf_counter() - mark
    log(f"c360 export links took {export_s:.1f} s -> {path}")
    return load_links(path), {"resolve_s": resolve_s, "export_s": export_s}


# --------------------------------------------------------------------------------------------
# Report.

ROWS: list[tuple[str, str, str]] = [
    # (label, Scores field or timing, format)
    ("records scored", "records", "int"),
    ("true persons", "true_persons", "int"),
    ("predicted profiles", "predicted_profiles", "int"),
    ("records missing from the links", "missing_links", "int"),
    ("link rows outside the ground truth", "extra_links", "int"),
    ("pairwise precision", "pairwise_precision", "ratio"),
    ("pairwise recall", "pairwise_recall", "ratio"),
    ("pairwise F1", "pairwise_f1", "ratio"),
    ("B-cubed precision", "bcubed_precision", "ratio"),
    ("B-cubed recall", "bcubed_recall", "ratio"),
    ("B-cubed F1", "bcubed_f1", "ratio"),
    ("over-merged profiles", "over_merged_profiles", "int"),
    ("household fusions", "household_fusions", "int"),
    ("false pairs within a household", "household_false_pairs", "int"),
    ("false pairs", "false_pairs", "int"),
    ("split persons", "split_persons", "int"),
    ("largest profile (records)", "largest_profile", "int"),
]


def _cell(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "ratio":
        return f"{value:.4f}"
    return f"{value:.1f}"


def markdown(results: dict[str, dict[str, Any]], context: dict[str, Any]) -> str:
    names = list(results)
    lines = [
        f"## Identity resolution: {context['customers']:,} customers, {context['store']}",
        "",
        f"{context['source_state']}; splink {context['splink_version']}; "
        f"{context['ground_truth_records']:,} ground-truth records.",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for label, name, kind in ROWS:
        cells = [_cell(results[n]["scores"].get(name), kind) for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cells = [_cell(results[n].get("wall_s"), "s") for n in names]
    lines.append("| wall time (s) | " + " | ".join(cells) + " |")
    lines.append("")
    for n in names:
        if results[n].get("wall_note"):
            lines.append(f"- {n} wall time: {results[n]['wall_note']}")
    sources = sorted({s for n in names for s in results[n].get("away_by_source", {})})
    if sources:
        lines += [
            "",
            "Records away from their person's main profile (the profile holding most of the "
            "person's records), by source:",
            "",
            "| source | records | " + " | ".join(names) + " |",
            "|---|---:|" + "---:|" * len(names),
        ]
        for source in sources:
            total = next(
                results[n]["away_by_source"][source][0]
                for n in names
                if source in results[n].get("away_by_source", {})
            )
            cells = []
            for n in names:
                got = results[n].get("away_by_source", {}).get(source)
                cells.append(f"{got[1]:,} ({got[1] / got[0]:.1%})" if got else "-")
            lines.append(f"| {source} | {total:,} | " + " | ".join(cells) + " |")
        lines.append("")
    if "splink" in context:
        sp = context["splink"]
        t = sp["timings"]
        lines += [
            f"- Splink input table built in {sp['table_s']:.1f} s (not in the wall time); "
            f"training {t['train_s']:.1f} s, predict {t['predict_s']:.1f} s, clustering "
            f"{t['cluster_s']:.1f} s; ID rules + clustering {t['id_rules_s']:.1f} s.",
            f"- Splink: prior (probability two random records match) "
            f"{sp['details']['probability_two_random_records_match']:.3g} from deterministic "
            f"rules at recall {sp['details']['prior_recall']}; "
            f"{sp['details']['pairs_scored_above_predict_threshold']:,} pairs scored at match "
            f"probability >= {sp['details']['predict_threshold']}, "
            f"{sp['details']['pairs_at_or_above_cluster_threshold']:,} at >= "
            f"{sp['details']['cluster_threshold']} (the clustering threshold); ID rules add "
            f"{sp['details']['id_rule_pairs']:,} pairs sharing a customer_id or user_id.",
            "",
            "### Splink's input table",
            "",
            "| source | records |",
            "|---|---:|",
        ]
        for source, count in sorted(sp["table"]["per_source"].items()):
            lines.append(f"| {source} | {count:,} |")
        lines += ["", "| column | non-empty |", "|---|---:|"]
        for column, count in sp["table"]["filled"].items():
            lines.append(f"| {column} | {count:,} |")
        lines += ["", "```text", identity_splink.TABLE_DESCRIPTION.rstrip(), "```"]
    for note in context.get("notes", []):
        lines.append(f"- {note}")
    return "\n".join(lines) + "\n"


def source_state() -> str:
    """The commit under test and whether src/ differs from it (others may be editing)."""

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    head = git("log", "-1", "--format=%h %ci")
    if not git("diff", "HEAD", "--stat", "--", "src"):
        return f"commit {head}, src/ clean"
    return f"commit {head}, src/ modified"


# --------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--customers",
        type=int,
        default=None,
        help=f"customers to generate ({DEFAULT_CUSTOMERS:,}; with --data, what it holds)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--data", type=Path, help="the sample company: reuse it, or generate it there"
    )
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--store-url",
        help="use this already imported store instead of a fresh one (nothing is imported or "
        "sent, nothing dropped; c360 resolve still writes to it)",
    )
    parser.add_argument("--skip-c360", action="store_true", help="do not run c360 resolve")
    parser.add_argument("--skip-splink", action="store_true")
    parser.add_argument(
        "--links",
        type=Path,
        action="append",
        default=[],
        help="also score this links CSV (source,record_id,profile_id); repeatable",
    )
    parser.add_argument(
        "--splink-threshold",
        type=float,
        default=identity_splink.CLUSTER_THRESHOLD,
        help="match probability at which Splink's pairs are clustered (%(default)s)",
    )
    parser.add_argument(
        "--splink-max-pairs",
        type=float,
        default=identity_splink.U_MAX_PAIRS,
        help="estimate_u_using_random_sampling max_pairs (%(default)s)",
    )
    parser.add_argument(
        "--no-web-user-is-shop-customer",
        dest="web_user_is_shop_customer",
        action="store_false",
        help="do not give Splink's web userId rows the shop customer id shop:<userId>",
    )
    parser.add_argument(
        "--worker-timeout",
        type=float,
        default=1800,
        help="seconds to wait for c360's worker to apply the web events before resolving",
    )
    parser.add_argument("--splink-verbose", action="store_true", help="Splink's INFO logging")
    parser.add_argument("--json", type=Path, help="write every number here")
    parser.add_argument(
        "--keep",
        type=Path,
        help="work in this directory and keep it (store, links, Splink model, server log); a "
        "PostgreSQL database is kept too",
    )
    args = parser.parse_args()

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="c360-bench-identity-"))
    workdir.mkdir(parents=True, exist_ok=True)
    data = args.data or workdir / "company"
    store: Store | None = None
    results: dict[str, dict[str, Any]] = {}
    context: dict[str, Any] = {"store": args.store, "notes": []}
    try:
        import splink

        context["splink_version"] = splink.__version__
        context["source_state"] = source_state()
        manifest = ensure_company(data, args.customers, args.seed)
        context["customers"] = int(manifest["customers"])
        truth: GroundTruth = load_ground_truth(data / manifest["ground_truth"])
        context["ground_truth_records"] = len(truth.person)
        web_events = data / manifest["web_events"]

        run_c360_side = not args.skip_c360
        if run_c360_side and not resolve_available():
            note = "c360 skipped: this c360 has no `resolve` command yet"
            log(note)
            context["notes"].append(note)
            run_c360_side = False

        if args.store_url:
            url = args.store_url
            context["store"] = url.split("://", 1)[0] + " (existing store)"
            log(f"using the existing store {url}")
        else:
            store = Store(args.store, workdir)
            url = store.url
            log(f"fresh {args.store} store: {url}")
            import_s = import_company(url, data, manifest)
            context["import_s"] = import_s
            log(f"imported every file in {import_s:.1f} s")
            if run_c360_side:
                log(
                    f"sending {web_events.name} through c360 serve (/v1/batch) and waiting "
                    "for the worker"
                )
                sent_s, applied_s, pending = send_web_events(
                    url, web_events, workdir, timeout_s=args.worker_timeout
                )
                context["web_events_sent_s"] = sent_s
                context["web_events_applied_s"] = applied_s
                context["log_pending_before_resolve"] = pending
                log(f"web events sent and applied in {applied_s:.1f} s")
                if pending:
                    context["notes"].append(
                        f"the worker had {pending:,} log entries left when c360 resolve started "
                        "(resolve applies them first, inside its timed run)"
                    )

        if run_c360_side:
            log("running c360 resolve")
            links, timings = run_c360(url, workdir)
            scores = evaluate(truth, links)
            results["c360"] = {
                "scores": scores.as_dict(),
                "away_by_source": away_by_source(truth, links),
                "timings": timings,
                "wall_s": timings["resolve_s"],
                "wall_note": "`c360 resolve`, wall clock including process start",
            }
            log(_summary("c360", scores))

        for path in args.links:
            given = load_links(path)
            scores = evaluate(truth, given)
            results[f"links: {path.name}"] = {
                "scores": scores.as_dict(),
                "away_by_source": away_by_source(truth, given),
                "path": str(path),
            }
            log(_summary(path.name, scores))

        if not args.skip_splink:
            log("building Splink's input table from the store and the event stream")
            mark = time.perf_counter()
            table = identity_splink.build_table(
                url, web_events, web_user_is_shop_customer=args.web_user_is_shop_customer
            )
            table_s = time.perf_counter() - mark
            log(f"  {table.stats['records']:,} records in {table_s:.1f} s")
            run = identity_splink.run_splink(
                table,
                cluster_threshold=args.splink_threshold,
                u_max_pairs=args.splink_max_pairs,
                seed=args.seed,
                model_path=workdir / "splink_model.json",
                log=log,
                splink_log_level=logging.INFO if args.splink_verbose else logging.WARNING,
            )
            if args.keep is None:
                (workdir / "splink_model.json").unlink(missing_ok=True)
            context["splink"] = {
                "table_s": table_s,
                "timings": run.timings,
                "details": run.details,
                "table": table.stats,
                "web_user_is_shop_customer": args.web_user_is_shop_customer,
            }
            for name, label, wall, note in (
                ("splink", "Splink", run.timings["total_s"], "train + predict + cluster"),
                (
                    "splink_ids",
                    "Splink + ID rules",
                    run.timings["total_with_id_rules_s"],
                    "train + predict + deterministic_link on customer_id/user_id + cluster",
                ),
            ):
                scores = evaluate(truth, run.links[name])
                results[label] = {
                    "scores": scores.as_dict(),
                    "away_by_source": away_by_source(truth, run.links[name]),
                    "wall_s": wall,
                    "wall_note": note,
                }
                log(_summary(label, scores))

        if not results:
            log("nothing was scored (--skip-c360 and --skip-splink, or c360 unavailable)")
        print(markdown(results, context), end="")
        if args.json:
            context["description"] = identity_splink.TABLE_DESCRIPTION
            args.json.write_text(
                json.dumps({"context": context, "results": results}, indent=2, default=str),
                encoding="utf-8",
            )
            log(f"wrote {args.json}")
        return 0
    finally:
        if store is not None and args.keep is None:
            store.drop()
        elif store is not None:
            log(f"kept the store: {store.url}")
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"kept {workdir}")


def _summary(name: str, s: Scores) -> str:
    return (
        f"{name}: pairwise P {s.pairwise_precision:.4f} R {s.pairwise_recall:.4f} "
        f"F1 {s.pairwise_f1:.4f}; B-cubed F1 {s.bcubed_f1:.4f}; {s.predicted_profiles:,} "
        f"profiles for {s.true_persons:,} persons"
    )


if __name__ == "__main__":
    sys.exit(main())
