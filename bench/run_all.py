"""Every benchmark in one run, with a generated section in docs/benchmarks.md.

Runs each script of bench/ as its own process (its ``--json`` file is the result), one after
the other, and writes what it found between ``<!-- run_all:begin -->`` and
``<!-- run_all:end -->`` of docs/benchmarks.md; the hand-written sections stay as they are.
The anchors are measured in the same run: the raw JSON parse ceiling (``orjson.loads`` on one
core, bench/ingest.py) for ingestion, and Splink (bench/identity.py, via identity_splink.py)
for identity resolution. The identity, latency, profile-read and segment benchmarks run at each
customer count of the series, which gives the table of how cost grows with customers.

    .venv/bin/python bench/run_all.py --quick      # small sizes: minutes
    .venv/bin/python bench/run_all.py              # 10,000 / 100,000 / 1,000,000: many hours

A benchmark that fails does not stop the others: the report names it, with the end of its
error output. Logs and JSON of every step stay in ``--workdir`` (a temporary directory unless
given). The exit status is 1 when any step failed.
"""

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- run_all:begin -->"
END = "<!-- run_all:end -->"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

FULL_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 3_000)
"""Quick mode's series, below the full one: the identity benchmark imports the sample company
file by file, a process each, which takes most of an hour at 10,000 customers on a busy
2-core machine."""

console = Console(stderr=True)


@dataclass
class Step:
    """One benchmark process: its script, arguments and where its result goes."""

    name: str
    script: str
    args: list[str]
    json_path: Path
    customers: int | None = None
    timeout_s: float = 6 * 3600.0
    needs: str | None = None  # a step whose success this one needs
    before: Callable[[], None] | None = None
    returncode: int | None = None
    seconds: float = 0.0
    error: str = ""
    result: Any = None
    resumed: bool = False  # the result of an earlier invocation (--resume)

    @property
    def command(self) -> list[str]:
        return [
            ".venv/bin/python",
            f"bench/{self.script}",
            *self.args,
            "--json",
            str(self.json_path),
        ]

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.result is not None


@dataclass
class Plan:
    quick: bool
    sizes: tuple[int, ...]
    workdir: Path
    steps: list[Step] = field(default_factory=list)


def build_plan(quick: bool, sizes: tuple[int, ...], workdir: Path) -> Plan:
    plan = Plan(quick, sizes, workdir)
    out = workdir / "json"
    out.mkdir(parents=True, exist_ok=True)

    def add(name: str, script: str, args: list[str], **kw: Any) -> Step:
        step = Step(name, script, args, out / f"{name}.json", **kw)
        plan.steps.append(step)
        return step

    add("feedback_analysis", "feedback_analysis.py", ["--split", "test"])
    ingest = ["--store", "both", "--mode", "both", "--payload", "server"]
    ingest += ["--connections", "16", "--single-connections", "32"]
    if quick:
        ingest += ["--no-worker", "--runs", "1", "--duration", "4", "--warmup", "1"]
    else:
        ingest += ["--runs", "3", "--duration", "8"]
    add("ingest", "ingest.py", ingest)
    import_size = sizes[0] if quick else 100_000
    add(
        "import",
        "import.py",
        ["--customers", str(import_size), "--data", str(company(workdir, import_size))],
    )
    for n in sizes:
        run_dir = workdir / f"identity-{n}"
        add(
            f"identity_{n}",
            "identity.py",
            ["--customers", str(n), "--data", str(company(workdir, n)), "--keep", str(run_dir)],
            customers=n,
        )
        copy = workdir / f"latency-{n}.db"
        add(
            f"identity_latency_{n}",
            "identity_latency.py",
            [
                "--store-url",
                f"sqlite:///{copy}",
                *(["--records", "200", "--warmup", "20"] if quick else ["--records", "1000"]),
            ],
            customers=n,
            needs=f"identity_{n}",
            before=lambda src=run_dir / "identity.db", dst=copy: copy_sqlite(src, dst),
        )
        add(
            f"profiles_{n}",
            "profiles.py",
            [
                "--store-url",
                f"sqlite:///{run_dir / 'identity.db'}",
                *(
                    ["--requests", "300", "--warmup", "50", "--events", "50"]
                    if quick
                    else ["--requests", "2000", "--events", "300"]
                ),
            ],
            customers=n,
            needs=f"identity_{n}",
        )
        add(
            f"segments_{n}",
            "segments.py",
            [
                "--customers",
                str(n),
                "--store",
                "both",
                *(["--runs", "3", "--samples", "50"] if quick else []),
            ],
            customers=n,
        )
    add(
        "activation",
        "activation.py",
        ["--store", "both", *(["--people", "5000", "--samples", "30"] if quick else [])],
    )
    add(
        "personalize",
        "personalize.py",
        [
            "--store",
            "both",
            *(
                ["--profiles", "2000", "--lines", "20000", "--products", "500", "--samples", "100"]
                if quick
                else []
            ),
        ],
    )
    return plan


def company(workdir: Path, customers: int) -> Path:
    return workdir / f"company-{customers}"


def copy_sqlite(src: Path, dst: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
        if Path(f"{src}{suffix}").exists():
            shutil.copyfile(f"{src}{suffix}", f"{dst}{suffix}")


# ---------------------------------------------------------------------------------------------
# Running


def run_step(step: Step, logs: Path, progress: Progress, task: Any, done: dict[str, Step]) -> None:
    run(step, logs, progress, task, done)
    meta = {"seconds": step.seconds, "returncode": step.returncode, "error": step.error}
    meta_path(step).write_text(json.dumps(meta))


def meta_path(step: Step) -> Path:
    return step.json_path.with_suffix(".step.json")


def resume(step: Step) -> bool:
    """Take the result of an earlier run in the same work directory, if that step succeeded."""
    try:
        meta = json.loads(meta_path(step).read_text())
        result = json.loads(step.json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if meta["returncode"] != 0:
        return False
    step.seconds, step.returncode, step.result = meta["seconds"], 0, result
    step.resumed = True
    return True


def run(step: Step, logs: Path, progress: Progress, task: Any, done: dict[str, Step]) -> None:
    if step.needs is not None and not done[step.needs].ok:
        step.returncode = -1
        step.error = f"not run: {step.needs} failed"
        return
    out_log, err_log = logs / f"{step.name}.out", logs / f"{step.name}.err"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")) if p
    )
    argv = [sys.executable, str(ROOT / "bench" / step.script), *step.command[2:]]
    started = time.perf_counter()
    try:
        if step.before is not None:
            step.before()
        with out_log.open("wb") as out, err_log.open("wb") as err:
            proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=err)
            while proc.poll() is None:
                elapsed = time.perf_counter() - started
                if elapsed > step.timeout_s:
                    proc.kill()
                    proc.wait()
                    step.error = f"timed out after {step.timeout_s:.0f} s"
                    break
                progress.update(task, status=last_line(err_log) or last_line(out_log))
                time.sleep(0.5)
        step.returncode = proc.returncode
    except Exception as exc:  # a step that cannot even start is reported like a failed one
        step.returncode = -1
        step.error = f"{type(exc).__name__}: {exc}"
    step.seconds = time.perf_counter() - started
    if step.json_path.exists():
        try:
            step.result = json.loads(step.json_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            step.error = step.error or f"unreadable JSON: {exc}"
    if step.returncode != 0 and not step.error:
        step.error = tail(err_log) or tail(out_log) or f"exit status {step.returncode}"
    elif step.result is None and not step.error:
        step.error = "no JSON result written"


def last_line(path: Path) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - 2000))
            lines = [s for s in f.read().decode("utf-8", "replace").splitlines() if s.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:70] if lines else ""


def tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    kept = [s.rstrip() for s in text.splitlines() if s.strip()]
    return "\n".join(kept[-lines:])


# ---------------------------------------------------------------------------------------------
# The machine


def machine() -> dict[str, str]:
    info: dict[str, str] = {}
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["CPU"] = f"{cpu}, {os.cpu_count()} cores (`os.cpu_count()`)"
    try:
        kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        info["RAM"] = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        info["RAM"] = "unknown"
    try:
        release = platform.freedesktop_os_release().get("PRETTY_NAME", platform.system())
    except OSError:
        release = platform.system()
    info["OS"] = f"{release}, kernel {platform.release()}"
    info["Python"] = platform.python_version()
    info["PostgreSQL"] = postgres_version()
    try:
        import sqlite3

        info["SQLite"] = sqlite3.sqlite_version
    except ImportError:
        pass
    info["commit"] = git_state()
    return info


def postgres_version() -> str:
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            version = str(conn.execute(text("SHOW server_version")).scalar())
            sync = {
                name: str(conn.execute(text(f"SHOW {name}")).scalar())
                for name in ("fsync", "synchronous_commit", "shared_buffers")
            }
        engine.dispose()
        return f"{version} ({', '.join(f'{k} {v}' for k, v in sync.items())})"
    except Exception as exc:
        return f"not reachable at 127.0.0.1:5432 ({type(exc).__name__})"


def git_state() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src", "bench"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return commit + (" (src/ or bench/ modified)" if dirty else "")


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


# ---------------------------------------------------------------------------------------------
# The report


def num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return str(value)


def table(header: list[str], rows: list[list[str]], right_from: int = 1) -> list[str]:
    align = ["---" if i < right_from else "--:" for i in range(len(header))]
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(align) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def dig(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


class Steps(dict[str, Step]):
    """The plan's steps by name; a step left out (``--only``) reads as not run."""

    def __missing__(self, name: str) -> Step:
        return Step(name, "", [], Path(), returncode=-1, error="not run (left out)")


def by_name(plan: Plan) -> Steps:
    return Steps({s.name: s for s in plan.steps})


def ingest_section(step: Step) -> list[str]:
    ceilings = dig(step.result, "ceilings") or {}
    rows = []
    for r in dig(step.result, "summary") or []:
        ceiling = dig(ceilings, r["mode"], "orjson_events_s")
        rows.append(
            [
                r["store"],
                r["mode"],
                "yes" if r["worker"] else "no",
                f"{r['runs']}",
                num(r["events_s"]),
                num(r["p99_ms"], 1),
                "yes" if r["rows_ok"] and r["non_200"] == 0 else "**no**",
                num(r["events_per_server_core"]),
                num(ceiling),
                f"{r['ratio_to_ceiling']:.3f}",
            ]
        )
    lines = table(
        [
            "store",
            "mode",
            "worker",
            "runs",
            "events/s (median)",
            "p99 ms",
            "every ack stored",
            "events/s per server core",
            "anchor: orjson.loads events/s, one core",
            "x anchor",
        ],
        rows,
        right_from=3,
    )
    lines += [
        "",
        "The anchor is the raw JSON parse ceiling of the same bodies, measured in the same "
        "invocation before the runs (`c360 decode+validate` alone: "
        + ", ".join(
            f"{mode} {num(dig(c, 'c360_decode_events_s'))} events/s" for mode, c in ceilings.items()
        )
        + ").",
    ]
    return lines


def identity_rows(plan: Plan) -> list[list[str]]:
    steps = by_name(plan)
    rows = []
    for n in plan.sizes:
        step = steps[f"identity_{n}"]
        if not step.ok:
            rows.append([num(n), *["failed"] * 7])
            continue
        results = step.result["results"]

        def f1(label: str, results: dict[str, Any] = results) -> str:
            return num(dig(results, label, "scores", "pairwise_f1"), 4)

        c360_s = dig(results, "c360", "wall_s")
        splink_s = dig(results, "Splink", "wall_s")
        ratio = c360_s / splink_s if c360_s and splink_s else None
        rows.append(
            [
                num(n),
                num(dig(step.result, "context", "ground_truth_records")),
                f1("c360"),
                f1("Splink"),
                f1("Splink + ID rules"),
                num(c360_s, 1),
                num(splink_s, 1),
                num(ratio, 2),
            ]
        )
    return rows


def segments_median(step: Step, store: str) -> float | None:
    previews = dig(step.result, store, "previews") or {}
    values = [p["median_ms"] for p in previews.values() if "median_ms" in p]
    return statistics.median(values) if values else None


def growth_rows(plan: Plan) -> list[list[str]]:
    steps = by_name(plan)
    rows = []
    for n in FULL_SIZES if not plan.quick else sorted({*plan.sizes, *FULL_SIZES}):
        if n not in plan.sizes:
            rows.append([num(n), "not run (quick mode)", *[""] * 7])
            continue
        ident = steps[f"identity_{n}"]
        latency = steps[f"identity_latency_{n}"]
        profiles = steps[f"profiles_{n}"]
        segments = steps[f"segments_{n}"]
        context = dig(ident.result, "context") if ident.ok else None
        rows.append(
            [
                num(n),
                num(dig(context, "import_s"), 1),
                num(dig(context, "web_events_applied_s"), 1),
                num(dig(ident.result, "results", "c360", "wall_s"), 1) if ident.ok else "failed",
                num(dig(ident.result, "results", "Splink", "wall_s"), 1) if ident.ok else "failed",
                num(dig(latency.result, "per_kind", "all", "p99_ms"), 1)
                if latency.ok
                else "failed",
                num(dig(profiles.result, "reads", "profile_by_identifier", "p99_ms"), 1)
                if profiles.ok
                else "failed",
                num(segments_median(segments, "sqlite"), 1) if segments.ok else "failed",
                num(segments_median(segments, "postgresql"), 1) if segments.ok else "failed",
            ]
        )
    return rows


def latency_rows(name: str, data: Any, prefix: str = "") -> list[list[str]]:
    """Every {p50_ms|median_ms, p99_ms} found in a result, one row each, by its path."""
    rows: list[list[str]] = []
    if isinstance(data, dict):
        if "p99_ms" in data:
            median = data.get("p50_ms", data.get("median_ms"))
            n = data.get("n", data.get("samples", ""))
            rows.append([name, prefix or "–", num(median, 1), num(data["p99_ms"], 1), num(n)])
        else:
            for key, value in data.items():
                if key in ("sample_answer",):
                    continue
                rows += latency_rows(name, value, f"{prefix}/{key}" if prefix else key)
    return rows


def other_sections(plan: Plan) -> list[str]:
    steps = by_name(plan)
    lines: list[str] = []
    step = steps["import"]
    if step.ok:
        r = step.result
        lines += [
            "#### Import (`bench/import.py`, SQLite)",
            "",
            f"{num(r['rows'])} source rows of the {num(r['customers'])}-customer sample in "
            f"{num(r['seconds'], 1)} s: **{num(r['rows_per_s'])} rows/s** end to end (read, "
            "log, standardize, resolve, store).",
            "",
        ]
    step = steps["activation"]
    if step.ok:
        rows = []
        for store, r in step.result.items():
            t = r.get("throughput", {})
            rows.append(
                [
                    store,
                    num(t.get("people")),
                    num(t.get("engine_per_cpu_s")),
                    num(t.get("dispatch_per_cpu_s")),
                    num(t.get("journey_per_s")),
                    num(dig(r, "latency", "median_ms"), 1),
                    num(dig(r, "latency", "p99_ms"), 1),
                ]
            )
        lines += [
            "#### Activation (`bench/activation.py`)",
            "",
            *table(
                [
                    "store",
                    "people",
                    "engine /CPU s",
                    "dispatch /CPU s",
                    "end to end /s",
                    "event to send median ms",
                    "p99 ms",
                ],
                rows,
            ),
            "",
        ]
    step = steps["feedback_analysis"]
    if step.ok:
        rows = [
            [
                language,
                num(r["items"]),
                num(r["sentiment_macro_f1"], 2),
                num(r["topic_macro_f1"], 2),
                num(r["urgent_recall"], 2),
                num(r["ms_per_item"], 2),
            ]
            for language, r in step.result["languages"].items()
        ]
        lines += [
            "#### Feedback analysis (`bench/feedback_analysis.py`, test sets)",
            "",
            *table(
                [
                    "language",
                    "items",
                    "sentiment macro-F1",
                    "topic macro-F1",
                    "urgent recall",
                    "ms per item",
                ],
                rows,
            ),
            "",
        ]
    latency: list[list[str]] = []
    for name in ["personalize", *(f"profiles_{n}" for n in plan.sizes)]:
        if steps[name].ok:
            latency += latency_rows(name, steps[name].result)
    for n in plan.sizes:
        for name in (f"identity_latency_{n}", f"segments_{n}", "activation"):
            if steps[name].ok and name != "activation":
                data = steps[name].result
                if name.startswith("segments"):
                    data = {
                        f"{k}: event to segment_entered": dig(v, "event_to_segment_entered")
                        for k, v in data.items()
                    }
                latency += latency_rows(name, data)
    if latency:
        lines += [
            "#### Latencies (every median and p99 the benchmarks reported)",
            "",
            *table(["benchmark", "what", "median ms", "p99 ms", "samples"], latency, 2),
            "",
        ]
    return lines


def render(plan: Plan, info: dict[str, str], started: str, load: tuple[str, str]) -> str:
    steps = plan.steps
    failed = [s for s in steps if not s.ok]
    mode = "quick" if plan.quick else "full"
    lines = [
        BEGIN,
        "## Every benchmark in one run (generated by `bench/run_all.py`)",
        "",
        "This section is written by `bench/run_all.py`; edit the script, not the text.",
        "",
        f"**{mode.capitalize()} run**, started {started}"
        + (
            ": small sizes, to see that every benchmark works and how costs move, not to "
            "judge the goals (the hand-written sections above are the measured verdicts)."
            if plan.quick
            else "."
        )
        + f" {len(steps) - len(failed)} of {len(steps)} steps succeeded.",
        "",
        "### Machine",
        "",
        *table(["", ""], [[k, v] for k, v in info.items()], right_from=2),
        "",
        f"Load average (1/5/15 min) at the start {load[0]}, at the end {load[1]}. "
        "The machine was **shared** with other work during the run (2 cores: benchmarks, "
        "tests and builds competed for them), so timings are noisy: compare the ratios to "
        "the anchors, which were measured in the same run, more than absolute figures.",
        "",
        "### Commands",
        "",
        "```sh",
        f".venv/bin/python bench/run_all.py{' --quick' if plan.quick else ''}",
        *(
            shlex.join(s.command).replace(str(plan.workdir), "$WORK") + f"   # {s.seconds:,.0f} s"
            for s in steps
        ),
        "```",
        "",
        f"`$WORK` is the run's work directory. Customer counts of the series: "
        f"{', '.join(num(n) for n in plan.sizes)}. The steps took "
        f"{sum(s.seconds for s in steps) / 60:,.0f} minutes in all."
        + (
            f" Kept from an earlier invocation in the same work directory (`--resume`): "
            f"{', '.join(s.name for s in steps if s.resumed)}."
            if any(s.resumed for s in steps)
            else ""
        ),
        "",
        "### Ingestion against the parse ceiling (`bench/ingest.py`)",
        "",
    ]
    ingest = by_name(plan)["ingest"]
    lines += ingest_section(ingest) if ingest.ok else ["Failed or not run: see below.", ""]
    lines += [
        "",
        "### Identity resolution against Splink (`bench/identity.py`)",
        "",
        "Pairwise F1 against the sample's ground truth, and wall time: `c360 resolve` end to end "
        "against Splink 5 (train, predict, cluster) on the same records in the same run.",
        "",
        *table(
            [
                "customers",
                "ground-truth records",
                "c360 F1",
                "Splink F1",
                "Splink + ID rules F1",
                "c360 resolve s",
                "Splink s",
                "c360 time / Splink time",
            ],
            identity_rows(plan),
        ),
        "",
        "### How cost grows with customers",
        "",
        *table(
            [
                "customers",
                "import of the sample's files s",
                "web events sent and applied s",
                "c360 resolve s",
                "Splink s",
                "one new record p99 ms",
                "profile by identifier p99 ms (HTTP)",
                "segment preview, median of conditions ms (SQLite)",
                "(PostgreSQL)",
            ],
            growth_rows(plan),
        ),
        "",
        "From `bench/identity.py` (SQLite): `c360 import` of every file, a process each, with "
        "the log processor resolving as it goes; then the web/app events through `c360 serve` "
        "until the worker has applied them. The record latency (`bench/identity_latency.py`) "
        "and profile reads (`bench/profiles.py`) are measured on the store that run leaves; "
        "segment previews (`bench/segments.py`) on a store of as many customers built directly."
        + (
            " At quick sizes fixed costs (process starts, model training) dominate, and the "
            "load of a shared machine changes between steps: this table then shows that every "
            "step works, not how cost grows, which the full run's 10,000 to 1,000,000 does."
            if plan.quick
            else ""
        ),
        "",
        "### Other benchmarks",
        "",
        *other_sections(plan),
        "### Failed or not run",
        "",
    ]
    if not failed:
        lines += ["None.", ""]
    for s in failed:
        lines += [f"- **{s.name}** (exit status {s.returncode}, {s.seconds:,.0f} s):", ""]
        lines += ["  ```text", *(f"  {x}" for x in s.error.splitlines()), "  ```", ""]
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_doc(doc: Path, section: str) -> None:
    text = doc.read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail_text = rest.split(END, 1)[1]
        text = head + section.rstrip("\n") + tail_text
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.write_text(text, encoding="utf-8")


def rerender(saved: Path, doc: Path, no_doc: bool) -> int:
    data = json.loads(saved.read_text(encoding="utf-8"))
    plan = build_plan(data["quick"], tuple(data["sizes"]), Path(data["workdir"]))
    found = {s["name"]: s for s in data["steps"]}
    plan.steps = [s for s in plan.steps if s.name in found]
    for step in plan.steps:
        saved_step = found[step.name]
        step.seconds = saved_step["seconds"]
        step.returncode = saved_step["returncode"]
        step.error = saved_step["error"]
        step.result = saved_step["result"]
        step.resumed = saved_step.get("resumed", False)
    section = render(plan, data["machine"], data["started"], tuple(data["load"]))
    if no_doc:
        print(section)
    else:
        write_doc(doc, section)
    return 0


# ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: minutes, not hours")
    parser.add_argument(
        "--sizes",
        help="customer counts of the series, comma-separated (default 10000,100000,1000000; "
        "quick: 1000,10000)",
    )
    parser.add_argument("--only", help="run only these steps (comma-separated names)")
    parser.add_argument("--skip", help="do not run these steps; the report lists them as not run")
    parser.add_argument("--workdir", type=Path, help="keep logs, JSON and stores here")
    parser.add_argument("--doc", type=Path, default=DOC, help="the Markdown file to update")
    parser.add_argument("--no-doc", action="store_true", help="print the section instead")
    parser.add_argument("--json", type=Path, help="write every step's result here too")
    parser.add_argument("--list", action="store_true", help="print the steps and stop")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the results of steps that succeeded in an earlier run in --workdir",
    )
    parser.add_argument(
        "--render", type=Path, help="write the section again from a --json file, running nothing"
    )
    args = parser.parse_args()
    if args.render is not None:
        return rerender(args.render, args.doc, args.no_doc)

    sizes = (
        tuple(int(x) for x in args.sizes.split(","))
        if args.sizes
        else (QUICK_SIZES if args.quick else FULL_SIZES)
    )
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="c360-bench-all-"))
    workdir.mkdir(parents=True, exist_ok=True)
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)
    plan = build_plan(args.quick, sizes, workdir)
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {s.name for s in plan.steps}
        if unknown:
            parser.error(f"unknown steps: {', '.join(sorted(unknown))}")
        plan.steps = [s for s in plan.steps if s.name in wanted]
    skipped = set(args.skip.split(",")) if args.skip else set()
    if skipped - {s.name for s in plan.steps}:
        parser.error(f"unknown steps: {', '.join(sorted(skipped - {s.name for s in plan.steps}))}")
    if args.list:
        for s in plan.steps:
            print(f"{s.name:28} {shlex.join(s.command)}")
        return 0

    info = machine()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_start = load_average()
    first = workdir / "started.json"
    if args.resume and first.exists():  # the report dates the run from its first start
        started, load_start = json.loads(first.read_text())
    else:
        first.write_text(json.dumps([started, load_start]))
    console.print(f"c360 benchmarks ({'quick' if args.quick else 'full'}), work in {workdir}")
    done: dict[str, Step] = {}
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description:<26}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}", style="dim"),
        console=console,
    ) as progress:
        overall = progress.add_task("all", total=len(plan.steps), status="")
        for step in plan.steps:
            task = progress.add_task(step.name, total=1, status="starting")
            if step.name in skipped:
                step.returncode, step.error = -1, "not run (--skip)"
                progress.update(task, status="skipped")
            elif args.resume and resume(step):
                progress.update(task, status="earlier result kept")
            else:
                run_step(step, logs, progress, task, done)
            done[step.name] = step
            status = f"{step.seconds:,.0f} s" if step.ok else f"FAILED: {step.error[-60:]}"
            progress.update(task, completed=1, status=status.replace("\n", " "))
            progress.advance(overall)
    load = (load_start, load_average())
    section = render(plan, info, started, load)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "started": started,
                    "load": load,
                    "workdir": str(workdir),
                    "quick": args.quick,
                    "sizes": sizes,
                    "steps": [
                        {
                            "name": s.name,
                            "command": s.command,
                            "seconds": s.seconds,
                            "returncode": s.returncode,
                            "error": s.error,
                            "result": s.result,
                            "resumed": s.resumed,
                        }
                        for s in plan.steps
                    ],
                },
                indent=2,
                default=str,
            )
        )
    if args.no_doc or args.only:
        print(section)
    else:
        write_doc(args.doc, section)
        console.print(f"wrote the generated section of {args.doc}")
    failed = [s.name for s in plan.steps if not s.ok]
    if failed:
        console.print(f"[red]failed:[/red] {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
