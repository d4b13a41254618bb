"""Rate limits: a token bucket per source (or per caller), refilled at the configured rate."""

import math
from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_s: float
    per_s: float


class RateLimiter:
    """Admits messages while a source's bucket is not in debt.

    A request may take more tokens than the bucket holds (a batch of 100 against a limit of 50
    per second) and leave it in debt; the source then waits until the debt is paid back. Over
    time no source exceeds its rate by more than ``burst_s`` seconds' worth.
    """

    def __init__(self, burst_s: float) -> None:
        self._burst_s = burst_s
        self._buckets: dict[Hashable, _Bucket] = {}

    def admit(self, source_id: Hashable, per_s: float | None, count: int, now_s: float) -> float:
        """0.0 if ``count`` messages may pass now, else the seconds to wait (for Retry-After)."""
        if per_s is None:
            return 0.0
        capacity = per_s * self._burst_s
        bucket = self._buckets.get(source_id)
        if bucket is None:
            bucket = self._buckets[source_id] = _Bucket(capacity, now_s, per_s)
        bucket.tokens = min(capacity, bucket.tokens + (now_s - bucket.updated_s) * per_s)
        bucket.updated_s = now_s
        bucket.per_s = per_s
        if bucket.tokens <= 0:
            return max(1.0, math.ceil(-bucket.tokens / per_s + 1.0 / per_s))
        bucket.tokens -= count
        return 0.0

    def __len__(self) -> int:
        return len(self._buckets)

    def forget_idle(self, now_s: float) -> None:
        """Drop the buckets that have been idle long enough to be full again: forgetting them
        changes nothing, and keeps memory bounded when many callers come and go."""
        idle = [
            key
            for key, b in self._buckets.items()
            if b.tokens + (now_s - b.updated_s) * b.per_s >= b.per_s * self._burst_s
        ]
        for key in idle:
            del self._buckets[key]
