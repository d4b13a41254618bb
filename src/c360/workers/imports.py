"""``c360 import`` and ``c360 quarantine retry``: rows in through the log, then processed.

Each batch is appended (with any quarantined rows, and for a database the cursor it reached)
in one transaction, then the log processor, the same one the server runs, applies it. A run
cut short resumes cleanly: committed batches are unchanged rows the second time.
"""

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, insert, select, update

from c360.errors import InvalidInput, NotFound
from c360.eventlog.service import (
    append,
    ensure_source,
    get_source_by_name,
)
from c360.ingest.database import count_rows, open_table, read_rows, store_cursor
from c360.ingest.files import Row, open_source_file
from c360.ingest.mapping import Mapping
from c360.ingest.records import (
    BadInput,
    IncomingRow,
    MappingVersion,
    latest_mapping,
    mapping_versions,
    prepare_batch,
    register_mapping,
)
from c360.kernel.clock import system_clock
from c360.standardize.parallel import PooledStandardizer
from c360.standardize.service import INLINE, Standardizer
from c360.storage.tables import import_runs, rejects
from c360.workers.processor import process_available

Progress = Callable[[int, int | None], None]
"""Called with (units done, units in all or None): bytes for files, rows for tables."""


@dataclass(slots=True)
class ImportSummary:
    source: str
    location: str
    mapping_version: int
    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    elapsed_s: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        return self.new + self.updated + self.unchanged


def import_file(
    engine: Engine,
    path: Path,
    *,
    source: str,
    mapping: Mapping,
    mapping_text: str,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    file_format: str | None = None,
    batch_size: int = 5000,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import one file (CSV, JSON Lines, Parquet, Excel) as records of ``source``."""
    started = time.perf_counter()
    version = _register(engine, source, mapping, mapping_text)
    read = mapping.read
    with open_source_file(
        path,
        format=file_format or read.format,
        encoding=encoding or read.encoding,
        delimiter=delimiter or read.delimiter,
        sheet=sheet or read.sheet,
    ) as file:
        summary = ImportSummary(source, str(path), version.version)
        summary.details = {"format": file.format, "encoding": file.encoding}
        name = path.name
        run = _RunRecord(engine, version, "file", summary)

        def items() -> Iterator[IncomingRow | BadInput]:
            for item in file.rows():
                if isinstance(item, Row):
                    yield IncomingRow(item.values, f"{name}:{item.line}")
                else:
                    yield BadInput(item.reason, item.detail, f"{name}:{item.line}", item.raw)

        with run, _applier(engine, parallel=file.size_bytes >= PARALLEL_FROM_BYTES) as apply:
            for batch in _batches(items(), batch_size):
                _commit(engine, version, batch, summary, stage="import", also=run.counted)
                apply.apply(engine)
                if progress is not None:
                    progress(file.position(), file.size_bytes)
    summary.elapsed_s = time.perf_counter() - started
    return summary


def import_table(
    engine: Engine,
    url: str,
    *,
    table: str,
    source: str,
    mapping: Mapping,
    mapping_text: str,
    cursor_column: str | None = None,
    batch_size: int = 5000,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import a table of another application's database, from where the last run stopped."""
    started = time.perf_counter()
    version = _register(engine, source, mapping, mapping_text)
    with engine.begin() as conn:
        opened = open_table(conn, version.source_id, url, table, cursor_column)
    summary = ImportSummary(source, opened.location, version.version)
    summary.details = {"cursor": cursor_column, "from": opened.after}
    total = count_rows(opened)
    reached: Any = None
    run = _RunRecord(engine, version, "table", summary)
    with run, _applier(engine, parallel=(total or 0) >= PARALLEL_FROM_ROWS) as apply:
        for batch in _batches(read_rows(opened, batch_size), batch_size):
            rows = [row for row, _ in batch]
            cursors = [c for _, c in batch if c is not None]
            if cursors:
                reached = max(cursors)

            def remember(conn: Connection, value: Any = reached) -> None:
                store_cursor(conn, version.source_id, opened, value)
                run.counted(conn)

            _commit(engine, version, rows, summary, stage="import", also=remember)
            apply.apply(engine)
            if progress is not None:
                progress(summary.read, total)
    summary.details["to"] = reached
    run.finish_details(summary.details)
    summary.elapsed_s = time.perf_counter() - started
    return summary


def _register(engine: Engine, source: str, mapping: Mapping, text: str) -> MappingVersion:
    if mapping.source is not None and mapping.source != source:
        raise InvalidInput(
            f"the mapping is for source {mapping.source!r}, not {source!r} "
            "(change --source or the mapping's 'source')"
        )
    with engine.begin() as conn:
        found = ensure_source(conn, source)
        version = register_mapping(conn, found.id, mapping, text)
        return mapping_versions(conn, [(found.id, version)])[(found.id, version)]


def _commit(
    engine: Engine,
    version: MappingVersion,
    batch: list[IncomingRow | BadInput] | list[IncomingRow],
    summary: ImportSummary,
    *,
    stage: str,
    also: Callable[[Connection], None] | None = None,
) -> None:
    """Log one batch (and what ``also`` writes, which sees the summary counting the batch)
    in one transaction."""
    before = (summary.read, summary.new, summary.updated, summary.unchanged, summary.quarantined)
    try:
        with engine.begin() as conn:
            prepared = prepare_batch(conn, version.source_id, version, batch, stage=stage)
            append(conn, prepared.rows, prepared.rejects)
            summary.read += len(batch)
            summary.new += prepared.new
            summary.updated += prepared.updated
            summary.unchanged += prepared.unchanged
            summary.quarantined += len(prepared.rejects)
            if also is not None:
                also(conn)
    except BaseException:
        (summary.read, summary.new, summary.updated, summary.unchanged, summary.quarantined) = (
            before
        )
        raise


class _RunRecord:
    """One row of ``import_runs``: written as the run starts, its counts updated in each
    batch's transaction, and marked done, or failed with the error, as the run ends."""

    def __init__(
        self, engine: Engine, version: MappingVersion, kind: str, summary: ImportSummary
    ) -> None:
        self.engine = engine
        self.summary = summary
        self.details: dict[str, Any] = dict(summary.details)
        with engine.begin() as conn:
            self.id = conn.execute(
                insert(import_runs)
                .values(
                    source_id=version.source_id,
                    kind=kind,
                    location=summary.location,
                    mapping_version=version.version,
                    status="running",
                    started_at_us=system_clock(),
                    read=0,
                    new=0,
                    updated=0,
                    unchanged=0,
                    quarantined=0,
                    details=self.details,
                )
                .returning(import_runs.c.id)
            ).scalar_one()

    def _counts(self) -> dict[str, int]:
        s = self.summary
        return {
            "read": s.read,
            "new": s.new,
            "updated": s.updated,
            "unchanged": s.unchanged,
            "quarantined": s.quarantined,
        }

    def counted(self, conn: Connection) -> None:
        conn.execute(
            update(import_runs).where(import_runs.c.id == self.id).values(**self._counts())
        )

    def finish_details(self, details: dict[str, Any]) -> None:
        self.details = {k: v for k, v in details.items() if _jsonable(v)}

    def __enter__(self) -> "_RunRecord":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: Any
    ) -> None:
        values: dict[str, Any] = {
            **self._counts(),
            "finished_at_us": system_clock(),
            "status": "done" if error is None else "failed",
            "details": self.details,
        }
        if error is not None:
            values["error"] = f"{type(error).__name__}: {error}"[:1000]
        with self.engine.begin() as conn:
            conn.execute(update(import_runs).where(import_runs.c.id == self.id).values(**values))


def _jsonable(value: Any) -> bool:
    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return True


PARALLEL_FROM_BYTES = 16 * 1024 * 1024
PARALLEL_FROM_ROWS = 50_000
"""Imports this large standardize in two worker processes (starting them costs about a
second, so smaller imports standardize in line)."""


class _Applier:
    """Applies each logged batch before the next is prepared, so the next batch sees every
    record as it now stands (a record changed twice in one file gets two versions)."""

    def __init__(self, engine: Engine, parallel: bool) -> None:
        _catch_up(engine)  # what earlier runs or the server logged counts as current
        self._standardizer: Standardizer = INLINE
        self._pool: PooledStandardizer | None = None
        if parallel:
            self._pool = PooledStandardizer(2)
            self._standardizer = self._pool

    def apply(self, engine: Engine) -> None:
        _catch_up(engine, standardizer=self._standardizer)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


@contextmanager
def _applier(engine: Engine, *, parallel: bool) -> Iterator[_Applier]:
    applier = _Applier(engine, parallel)
    try:
        yield applier
    finally:
        applier.close()


def _catch_up(engine: Engine, batch_size: int = 5000, standardizer: Standardizer = INLINE) -> None:
    """Apply everything logged so far (the same processor a server runs)."""
    while process_available(engine, batch_size, standardizer):
        pass


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass(slots=True)
class RetrySummary:
    tried: int = 0
    accepted: int = 0
    still_quarantined: int = 0
    not_replayable: int = 0


REPLAYABLE_STAGES = ("import", "webhook")


def retry_quarantine(
    engine: Engine,
    *,
    source: str,
    mapping: Mapping | None = None,
    mapping_text: str | None = None,
    ids: list[int] | None = None,
) -> RetrySummary:
    """Read quarantined rows of ``source`` again (with a fixed mapping, if given).

    A row that now has a record id is logged like an imported row and its quarantine entry is
    marked resolved; one that still fails stays as it was. Rows that were never readable
    (undecodable bytes) cannot be replayed from here: fix the file and import it again.
    """
    with engine.begin() as conn:
        found = get_source_by_name(conn, source)
        if found is None:
            raise NotFound(f"no source {source!r}")
        if mapping is not None and mapping_text is not None:
            register_mapping(conn, found.id, mapping, mapping_text)
        version = latest_mapping(conn, found.id)
        if version is None:
            raise InvalidInput(f"source {source!r} has no mapping yet: give --mapping")
        query = select(rejects.c.id, rejects.c.payload, rejects.c.origin, rejects.c.stage).where(
            rejects.c.source_id == found.id,
            rejects.c.resolved_at_us.is_(None),
            rejects.c.stage.in_(REPLAYABLE_STAGES),
        )
        if ids:
            query = query.where(rejects.c.id.in_(ids))
        pending = conn.execute(query.order_by(rejects.c.id)).all()
    summary = RetrySummary()
    counts = ImportSummary(source, "quarantine", version.version)
    with _RunRecord(engine, version, "retry", counts) as run:
        for entry in pending:
            summary.tried += 1
            counts.read += 1
            try:
                values = orjson.loads(entry.payload)
            except orjson.JSONDecodeError:
                values = None
            if not isinstance(values, dict):
                summary.not_replayable += 1
                counts.quarantined += 1
                continue
            row = IncomingRow(values, entry.origin or f"quarantine {entry.id}")
            with engine.begin() as conn:
                prepared = prepare_batch(conn, found.id, version, [row], stage=entry.stage)
                if prepared.rejects:
                    summary.still_quarantined += 1
                    counts.quarantined += 1
                    continue
                append(conn, prepared.rows, [])
                conn.execute(
                    update(rejects)
                    .where(rejects.c.id == entry.id)
                    .values(resolved_at_us=system_clock())
                )
                summary.accepted += 1
                counts.new += prepared.new
                counts.updated += prepared.updated
                counts.unchanged += prepared.unchanged
                run.counted(conn)
    _catch_up(engine)
    return summary
