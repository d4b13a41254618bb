from c360.ingest.ratelimit import RateLimiter


def test_unlimited_sources_always_pass() -> None:
    limiter = RateLimiter(burst_s=1)
    assert all(limiter.admit(1, None, 10_000, now_s=0.0) == 0 for _ in range(100))


def test_a_source_over_its_rate_waits_until_its_debt_is_paid() -> None:
    limiter = RateLimiter(burst_s=1)
    assert limiter.admit(1, 100, 150, now_s=0.0) == 0  # burst of 100, then 50 in debt
    assert limiter.admit(1, 100, 1, now_s=0.0) >= 1  # Retry-After of at least a second
    assert limiter.admit(1, 100, 1, now_s=0.4) > 0  # still 10 in debt
    assert limiter.admit(1, 100, 1, now_s=0.6) == 0  # paid back


def test_sources_have_separate_buckets() -> None:
    limiter = RateLimiter(burst_s=1)
    limiter.admit(1, 10, 1000, now_s=0.0)
    assert limiter.admit(1, 10, 1, now_s=0.0) > 0
    assert limiter.admit(2, 10, 1, now_s=0.0) == 0


def test_a_batch_larger_than_the_bucket_still_passes_once() -> None:
    limiter = RateLimiter(burst_s=1)
    assert limiter.admit(1, 50, 100, now_s=0.0) == 0
    assert limiter.admit(1, 50, 100, now_s=0.5) > 0
