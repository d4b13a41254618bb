"""``POST /v1/webhooks/{source}``: JSON from form tools and automations, read by the source's
mapping and logged like an imported row (the same record rules, quarantine and durability)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine

from c360.errors import InvalidInput
from c360.eventlog.service import append
from c360.ingest.records import BadInput, IncomingRow, latest_mapping, prepare_batch
from c360.kernel.clock import isoformat_us, system_clock

PREFIX = "/v1/webhooks/"


@dataclass(frozen=True, slots=True)
class WebhookResult:
    accepted: int
    quarantined: int


class NoMapping(InvalidInput):
    """The source has never been given a mapping."""


def parse_items(body: bytes) -> list[Any]:
    """The JSON body as a list of items (an array, or one object)."""
    value = orjson.loads(body)
    return value if isinstance(value, list) else [value]


class WebhookIntake:
    """Logs webhook items in one durable transaction per request (run off the event loop)."""

    def __init__(self, engine: Engine, on_commit: Callable[[], None] | None) -> None:
        self._engine = engine
        self._on_commit = on_commit

    def accept(self, source_id: int, source_name: str, items: list[Any]) -> WebhookResult:
        received = isoformat_us(system_clock())
        batch: list[IncomingRow | BadInput] = []
        for index, item in enumerate(items):
            origin = f"webhook {received} item {index}"
            if isinstance(item, dict):
                batch.append(IncomingRow(item, origin))
            else:
                raw = orjson.dumps(item)
                detail = (
                    f"{origin}: a webhook item must be a JSON object, not {type(item).__name__}"
                )
                batch.append(BadInput("not_an_object", detail, origin, raw))
        with self._engine.begin() as conn:
            mapping = latest_mapping(conn, source_id)
            if mapping is None:
                raise NoMapping(
                    f"source {source_name!r} has no mapping yet; give it one with "
                    f"`c360 sources set-mapping {source_name} MAPPING.yml`"
                )
            prepared = prepare_batch(conn, source_id, mapping, batch, stage="webhook")
            append(conn, prepared.rows, prepared.rejects)
        if self._on_commit is not None:
            self._on_commit()
        return WebhookResult(
            prepared.new + prepared.updated + prepared.unchanged, len(prepared.rejects)
        )
