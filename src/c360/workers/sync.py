"""Two-way sync with business apps: a cycle per destination reads the app's changes back
(as its source, through the incremental table import), queues the profiles the change feed
says changed, and pushes their golden values to the app's rows.

::

    app table ──pull──▶ screen (echo? owned?) ──▶ event log ──▶ golden record ──▶ change feed
        ▲                                                                          │
        └──────────── upsert by the app's key (crosswalk) ◀── sync_queue ◀──────────┘

A worker claims a destination with a lease (so two workers never sync one app at once), and
no transaction of c360's store is open while it talks to the app. See ``docs/sync.md``.
"""

import logging
import random
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine

from c360.activation.sync.model import (
    ConflictNote,
    Destination,
    Ownership,
    QueueItem,
    SyncFailed,
    SyncState,
    SyncTarget,
)
from c360.activation.sync.rules import (
    PushPlan,
    desired_values,
    plan_push,
    row_hash,
    screen_row,
    state_after_push,
)
from c360.activation.sync.service import (
    RetryPolicy,
    Withheld,
    claim,
    dead_letter,
    due_items,
    enqueue_profiles,
    finish_item,
    get_destination,
    goldens_of_keys,
    list_destinations,
    load_states,
    profiles_of_keys,
    push_context,
    record_conflicts,
    record_pull,
    record_push_success,
    release,
    retry_item,
    save_states,
    take_changes,
)
from c360.connectors.destinations import database_url, target_for
from c360.errors import C360Error
from c360.eventlog.service import append
from c360.ingest.database import open_table, read_rows, store_cursor
from c360.ingest.mapping import Mapping as SourceMapping
from c360.ingest.mapping import parse_mapping
from c360.ingest.records import (
    IncomingRow,
    MappingVersion,
    mapping_versions,
    prepare_batch,
    register_mapping,
)
from c360.kernel.background import BackgroundLoop
from c360.kernel.clock import Clock, system_clock
from c360.settings import Settings
from c360.storage.engine import reader
from c360.workers.processor import process_available

log = logging.getLogger(__name__)

FEED_BATCH = 500
SECRET_PREFIX = "C360_SYNC_SECRET_"  # noqa: S105 - the variables' prefix, not a secret


def sync_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """Destination secrets (database passwords, API tokens) from ``C360_SYNC_SECRET_<NAME>``
    variables, by upper-case name; entry points pass ``os.environ``."""
    return {
        name[len(SECRET_PREFIX) :].upper(): value
        for name, value in environ.items()
        if name.upper().startswith(SECRET_PREFIX) and len(name) > len(SECRET_PREFIX)
    }


@dataclass(slots=True)
class CycleReport:
    """What one pass over the destinations did."""

    destinations: int = 0
    read: int = 0
    """App rows read back."""
    unchanged: int = 0
    """Rows read back exactly as c360 last saw them (its own writes among them)."""
    logged: int = 0
    """Rows logged as the app's changes (new or changed records)."""
    conflicts: int = 0
    queued: int = 0
    written: int = 0
    """App rows written."""
    skipped: int = 0
    """App rows that already held every value (nothing written)."""
    retrying: int = 0
    dead_lettered: int = 0
    withheld: int = 0
    """Profiles not pushed: restricted, or without the destination's consent purpose."""
    errors: list[str] = field(default_factory=list)

    @property
    def quiet(self) -> bool:
        """Nothing moved in either direction."""
        return not (self.written or self.logged)


class SyncWorker:
    """Runs sync cycles; see the module docstring.

    ``secrets`` fills in passwords and tokens by name (``sync_secrets``); ``allowed_hosts``
    lists internal REST apps (as for webhooks). ``retry`` shapes back-off and dead letters.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        secrets: Mapping[str, str] | None = None,
        allowed_hosts: str = "",
        batch_size: int = 100,
        pull_batch_size: int = 2000,
        retry: RetryPolicy | None = None,
        lease_s: float = 300.0,
        clock: Clock = system_clock,
        rng: random.Random | None = None,
    ) -> None:
        self._engine = engine
        self._secrets = dict(secrets or {})
        self._allowed_hosts = allowed_hosts
        self._batch_size = batch_size
        self._pull_batch_size = pull_batch_size
        self._retry = retry or RetryPolicy()
        self._lease_us = int(lease_s * 1e6)
        self._clock = clock
        self._rng = rng or random.Random()
        # by destination id and configuration time: a destination added again is new
        self._targets: dict[tuple[int, int], SyncTarget] = {}
        self._mappings: dict[tuple[int, int], tuple[SourceMapping, MappingVersion]] = {}

    def close(self) -> None:
        for target in self._targets.values():
            target.close()
        self._targets.clear()

    def __enter__(self) -> "SyncWorker":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def run_once(
        self,
        names: Sequence[str] | None = None,
        *,
        now_us: int | None = None,
        stop: threading.Event | None = None,
    ) -> CycleReport:
        """One cycle of each destination (or those named) no other worker holds. ``now_us``
        (tests) stands for the clock when deciding what is due and when to retry."""
        report = CycleReport()
        with reader(self._engine).connect() as conn:
            found = [d for d in list_destinations(conn) if names is None or d.name in names]
        for destination in found:
            if stop is not None and stop.is_set():
                break
            now = self._clock() if now_us is None else now_us
            until = now + self._lease_us
            with self._engine.begin() as conn:
                if not claim(conn, destination.id, now, until):
                    continue
            try:
                report.destinations += 1
                self._cycle(destination.name, now, report)
            except Exception as exc:
                # One destination's trouble (a missing secret, the store busy) must not stop
                # the others; the type only, as database errors quote rows.
                log.error("sync %s: cycle failed (%s)", destination.name, type(exc).__name__)
                report.errors.append(f"{destination.name}: {type(exc).__name__}: {exc}"[:500])
            finally:
                with self._engine.begin() as conn:
                    release(conn, destination.id, until)
        return report

    def _cycle(self, name: str, now: int, report: CycleReport) -> None:
        """Queue what the feed says changed, push it, then read the app back.

        Pushing first means a row read back already holds the golden values c360 had to
        give it: a row logged as the app's change never carries a value c360 had replaced
        but not yet written (which, being the newest record, would win the golden record
        back)."""
        while True:
            with self._engine.begin() as conn:
                read, queued = take_changes(conn, get_destination(conn, name), FEED_BATCH)
            report.queued += queued
            if read < FEED_BATCH:
                break
        with reader(self._engine).connect() as conn:
            destination = get_destination(conn, name)
        if destination.next_attempt_us is None or destination.next_attempt_us <= now:
            self._push(destination, now, report)
        if destination.pulls and (
            destination.next_pull_us is None or destination.next_pull_us <= now
        ):
            self._pull_safely(destination, now, report)

    # --- pull: the app's changes back in, as its source ----------------------------------

    def _pull_safely(self, destination: Destination, now: int, report: CycleReport) -> None:
        try:
            self._pull(destination, now, report)
        except C360Error as exc:
            attempts = destination.pull_attempts + 1
            wait_s = self._retry.base_delay_s * 2 ** min(attempts - 1, 20)
            next_pull = now + int(min(wait_s, self._retry.max_delay_s) * 1e6)
            log.warning("sync %s: reading the app back failed (%s)", destination.name, exc)
            report.errors.append(f"{destination.name}: {exc}")
            with self._engine.begin() as conn:
                record_pull(conn, destination, now, error=str(exc), next_pull_us=next_pull)
            return
        with self._engine.begin() as conn:
            record_pull(conn, destination, now)

    def _pull(self, destination: Destination, now: int, report: CycleReport) -> None:
        """Read the app's table past the import cursor, as ``c360 import`` does, judging each
        row against what c360 knows of it: echoes are not logged, changes to fields c360 owns
        are recorded and not taken in."""
        assert destination.table is not None
        mapping, version = self._mapping(destination)
        url = database_url(destination, self._secrets)
        with self._engine.begin() as conn:
            opened = open_table(
                conn, destination.source_id, url, destination.table.table, destination.table.cursor
            )
        self._catch_up()
        logged_keys: list[str] = []
        for batch in _batches(read_rows(opened, self._pull_batch_size), self._pull_batch_size):
            cursors = [c for _, c in batch if c is not None]
            reached: Any = max(cursors) if cursors else None
            report.read += len(batch)
            with self._engine.begin() as conn:
                keyed = [(row, mapping.record_id_of(row.values)) for row, _ in batch]
                states = load_states(conn, destination.id, [k for _, k in keyed if k is not None])
                c360_values = self._c360_values(conn, destination, keyed, states)
                to_log: list[IncomingRow] = []
                changed: list[SyncState] = []
                push_keys: list[str] = []
                notes: list[ConflictNote] = []
                for row, key in keyed:
                    if key is None:
                        to_log.append(row)  # quarantined by prepare_batch: no record id
                        continue
                    screened = screen_row(
                        destination.rules,
                        key,
                        row.values,
                        states.get(key),
                        now,
                        c360_values.get(key),
                    )
                    if screened.echo:
                        report.unchanged += 1
                        continue
                    states[key] = screened.state
                    changed.append(screened.state)
                    notes.extend(screened.conflicts)
                    if screened.log is not None:
                        to_log.append(IncomingRow(screened.log, row.origin))
                        logged_keys.append(key)
                    if screened.needs_push:
                        push_keys.append(key)
                prepared = prepare_batch(
                    conn, destination.source_id, version, to_log, stage="import"
                )
                append(conn, prepared.rows, prepared.rejects)
                save_states(conn, destination.id, changed, now)
                owners = profiles_of_keys(conn, destination, sorted({n.app_key for n in notes}))
                for key in {n.app_key for n in notes}:
                    mine = [n for n in notes if n.app_key == key]
                    report.conflicts += record_conflicts(
                        conn, destination.id, owners.get(key), mine, now
                    )
                enqueue_profiles(
                    conn, destination.id, [owners[k] for k in push_keys if k in owners], now
                )
                store_cursor(conn, destination.source_id, opened, reached)
            report.logged += prepared.new + prepared.updated
            self._catch_up()
        if logged_keys:
            # Now that the log is applied, the crosswalk knows whose rows they are: their
            # profiles are pushed, so rows new to c360 get the golden values they lack.
            with self._engine.begin() as conn:
                owners = profiles_of_keys(conn, destination, logged_keys)
                enqueue_profiles(conn, destination.id, owners.values(), now)

    def _c360_values(
        self,
        conn: Connection,
        destination: Destination,
        keyed: list[tuple[IncomingRow, str | None]],
        states: dict[str, SyncState],
    ) -> dict[str, dict[str, Any]]:
        """For rows the app changed, what c360 says the fields it owns should hold."""
        if not any(r.owner is Ownership.C360 for r in destination.rules):
            return {}
        changed = [
            key
            for row, key in keyed
            if key is not None and key in states and states[key].seen_hash != row_hash(row.values)
        ]
        goldens = goldens_of_keys(conn, destination, changed)
        return {
            key: {c: d.value for c, d in desired_values(destination.rules, golden).items()}
            for key, golden in goldens.items()
        }

    def _mapping(self, destination: Destination) -> tuple[SourceMapping, MappingVersion]:
        """The destination's read-back mapping, registered with its source once per worker."""
        cached = self._mappings.get((destination.id, destination.updated_at_us))
        if cached is not None:
            return cached
        assert destination.mapping_text is not None
        mapping = parse_mapping(
            destination.mapping_text, origin=f"sync destination {destination.name}: mapping"
        )
        with self._engine.begin() as conn:
            number = register_mapping(
                conn, destination.source_id, mapping, destination.mapping_text
            )
            version = mapping_versions(conn, [(destination.source_id, number)])[
                (destination.source_id, number)
            ]
        self._mappings[(destination.id, destination.updated_at_us)] = (mapping, version)
        return mapping, version

    def _catch_up(self) -> None:
        """Apply everything logged so far (the same processor a server runs)."""
        while process_available(self._engine, 5000):
            pass

    # --- push: golden values out to the app's rows -----------------------------------------

    def _target(self, destination: Destination) -> SyncTarget:
        key = (destination.id, destination.updated_at_us)
        target = self._targets.get(key)
        if target is None:
            for old in [k for k in self._targets if k[0] == destination.id]:
                self._targets.pop(old).close()
            target = self._targets[key] = target_for(
                destination, secrets=self._secrets, allowed_hosts=self._allowed_hosts
            )
        return target

    def _push(self, destination: Destination, now: int, report: CycleReport) -> None:
        """Push due queued profiles, until the queue is empty or the app fails."""
        target = self._target(destination)
        budget = 20 * self._batch_size  # a pass ends; what is left waits for the next
        while budget > 0:
            with self._engine.begin() as conn:
                items = due_items(conn, destination.id, now, min(self._batch_size, budget))
            for item in items:
                if not self._push_item(destination, target, item, now, report):
                    return
            budget -= len(items)
            if len(items) < self._batch_size:
                return

    def _push_item(
        self,
        destination: Destination,
        target: SyncTarget,
        item: QueueItem,
        now: int,
        report: CycleReport,
    ) -> bool:
        """Push one profile to each of its rows; False when the app failed (the pass ends)."""
        with reader(self._engine).connect() as conn:
            context = push_context(conn, destination, item.profile_id)
        if isinstance(context, Withheld):  # restricted, or without the destination's consent
            with self._engine.begin() as conn:
                finish_item(conn, item)
            report.withheld += 1
            return True
        if context is None or isinstance(context, str):
            with self._engine.begin() as conn:
                if isinstance(context, str):  # merged away: the survivor holds its rows now
                    enqueue_profiles(conn, destination.id, [context], now)
                finish_item(conn, item)
            return True
        desired = desired_values(destination.rules, context.golden)
        keys, created = list(context.keys), set(context.created)
        if not keys and destination.create_missing and desired:
            # A new row, keyed by the profile id; kept in sync_state until it comes back.
            keys, created = [context.profile_id], {context.profile_id}
        for key in keys:
            state = context.states.get(key)
            plans: list[PushPlan] = []

            def decide(
                current: Mapping[str, Any] | None, key: str = key, plans: list[PushPlan] = plans
            ) -> dict[str, Any]:
                plan = plan_push(
                    destination.rules,
                    desired,
                    key=key,
                    source=destination.source,
                    current=current,
                    reads_rows=target.reads_rows,
                    state=context.states.get(key),
                    now_us=now,
                )
                plans.append(plan)
                return dict(plan.writes)

            try:
                upserted = target.upsert(
                    key,
                    decide,
                    create=key in created,
                    version=(state.version if state else 0) + 1,
                )
            except SyncFailed as exc:
                if exc.retryable:
                    return self._retry_later(destination, item, key, exc, now, report)
                with self._engine.begin() as conn:
                    dead_letter(
                        conn, destination.id, item.profile_id, key, item.attempts + 1, str(exc), now
                    )
                report.dead_lettered += 1
                continue
            plan = plans[-1] if plans else PushPlan()
            new_state = state_after_push(
                state,
                key=key,
                profile_id=context.profile_id,
                rules=destination.rules,
                plan=plan,
                upserted=upserted,
                now_us=now,
            )
            worth_keeping = state is not None or upserted.written or plan.app_changed_at
            with self._engine.begin() as conn:
                if new_state != state and worth_keeping:
                    save_states(conn, destination.id, [new_state], now)
                report.conflicts += record_conflicts(
                    conn, destination.id, context.profile_id, plan.conflicts, now
                )
            if upserted.written:
                report.written += 1
            else:
                report.skipped += 1
        with self._engine.begin() as conn:
            finish_item(conn, item)
            record_push_success(conn, get_destination(conn, destination.name))
        return True

    def _retry_later(
        self,
        destination: Destination,
        item: QueueItem,
        key: str,
        exc: SyncFailed,
        now: int,
        report: CycleReport,
    ) -> bool:
        """Back off the item and the destination, or dead-letter the item once it has failed
        for the whole retry window (then the pass goes on: the next item may fare better)."""
        with self._engine.begin() as conn:
            current = get_destination(conn, destination.name)
            since = min(item.failing_since_us or now, current.failing_since_us or now, now)
            if self._retry.exhausted(since, now):
                error = f"{exc}; still failing after {(now - since) / 1e6:.0f} s (the retry window)"
                dead_letter(
                    conn, destination.id, item.profile_id, key, item.attempts + 1, error, now
                )
                finish_item(conn, item)
                report.dead_lettered += 1
                return True
            next_attempt = self._retry.next_attempt_us(
                item.attempts + 1, now, since, exc.retry_after_s, self._rng
            )
            retry_item(
                conn,
                current,
                item,
                str(exc),
                now_us=now,
                since_us=since,
                next_attempt_us=next_attempt,
            )
        log.warning(
            "sync %s: pushing profile %s failed (%s); retrying",
            destination.name,
            item.profile_id,
            type(exc).__name__,
        )
        report.retrying += 1
        return False


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class SyncLoop(BackgroundLoop):
    """Runs a ``SyncWorker`` until stopped: a cycle that moved something is followed at once
    by another, else it waits ``poll_s`` (or until ``notify``). It closes the worker."""

    def __init__(self, worker: SyncWorker, *, poll_s: float = 1.0) -> None:
        self._worker = worker
        self._poll_s = poll_s
        self.cycles = 0
        super().__init__("c360-sync")

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    report = self._worker.run_once(stop=self._stop)
                    self.cycles += 1
                    busy = not report.quiet
                except Exception as exc:
                    self.errors += 1
                    # The type only: database errors quote rows, which hold personal data.
                    log.error("sync cycle failed (%s); retrying", type(exc).__name__)
                    busy = False
                if not busy:
                    self._wake.wait(self._poll_s)
                    self._wake.clear()
        finally:
            self._worker.close()


def worker_for(engine: Engine, settings: Settings, environ: Mapping[str, str]) -> SyncWorker:
    """A sync worker with the operator's secrets (from ``environ``), retry window and allowed
    internal hosts: for ``c360 sync run``, ``c360 serve`` and ``c360 worker``."""
    return SyncWorker(
        engine,
        secrets=sync_secrets(environ),
        allowed_hosts=settings.webhook_allowed_hosts,
        retry=RetryPolicy(
            window_s=settings.webhook_retry_window_s,
            base_delay_s=settings.webhook_retry_base_delay_s,
            max_delay_s=settings.webhook_retry_max_delay_s,
        ),
    )
