"""Standardizing over several processes, for large imports.

Standardizing is most of an import's work and pure Python, so threads cannot share it out. The
log entries go to worker processes as the JSON text they are stored as (cheap to send), and the
records come back as one JSON document per chunk.
"""

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import orjson

from c360.ingest.mapping import Mapping
from c360.ingest.records import MappingVersion
from c360.standardize.records import StandardizedRecord, standardize_row
from c360.standardize.service import INLINE

SMALLEST_SHARED = 400
"""Fewer entries than this are standardized in line: sending them costs more than it saves."""


class PooledStandardizer:
    """A ``Standardizer`` backed by ``workers`` processes; close it when done."""

    def __init__(self, workers: int = 2) -> None:
        self._workers = workers
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

    def standardize(self, items: Sequence[tuple[MappingVersion, str]]) -> list[StandardizedRecord]:
        if len(items) < SMALLEST_SHARED:
            return INLINE.standardize(items)
        size = -(-len(items) // (self._workers * 2))
        futures = []
        for start in range(0, len(items), size):
            chunk = items[start : start + size]
            mappings = {m.fingerprint: m.mapping for m, _ in chunk}
            work = [(m.fingerprint, payload) for m, payload in chunk]
            futures.append(self._pool.submit(standardize_chunk, mappings, work))
        records: list[StandardizedRecord] = []
        for future in futures:
            for fields, raw, flags, extra, identifiers in orjson.loads(future.result()):
                records.append(
                    StandardizedRecord(fields, raw, flags, extra, [tuple(i) for i in identifiers])
                )
        return records

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def standardize_chunk(mappings: dict[str, Mapping], work: list[tuple[str, str]]) -> bytes:
    """In a worker process: standardize a chunk of logged rows."""
    out: list[Any] = []
    for fingerprint, payload in work:
        record = standardize_row(mappings[fingerprint], fingerprint, orjson.loads(payload)["row"])
        out.append((record.fields, record.raw, record.flags, record.extra, record.identifiers))
    return orjson.dumps(out)
