from c360.workers.backlog import ProcessingRate, retry_after_s


def test_rate_is_unknown_until_two_readings_apart() -> None:
    rate = ProcessingRate(window_s=10)
    assert rate.add(0.0, 100) is None
    assert rate.add(0.1, 150) is None  # too close to measure
    assert rate.add(1.0, 300) == 200.0


def test_rate_spans_the_last_window_only() -> None:
    rate = ProcessingRate(window_s=10)
    rate.add(0.0, 0)
    for second in range(1, 11):
        rate.add(float(second), 1000 * second)  # fast for ten seconds
    for second in range(11, 31):
        measured = rate.add(float(second), 10_000 + 10 * (second - 10))  # then slow
    assert measured is not None and 10 <= measured < 12


def test_a_stopped_worker_measures_zero() -> None:
    rate = ProcessingRate(window_s=10)
    rate.add(0.0, 500)
    assert rate.add(5.0, 500) == 0.0


def test_a_checkpoint_going_back_starts_the_measure_again() -> None:
    rate = ProcessingRate(window_s=10)
    rate.add(0.0, 0)
    rate.add(1.0, 1000)
    assert rate.add(2.0, 0) is None  # a rebuild reset it
    assert rate.add(3.0, 50) == 50.0


def test_rate_readings_polled_fast_keep_little() -> None:
    rate = ProcessingRate(window_s=10, min_span_s=0.25)
    for tick in range(100_000):
        rate.add(tick * 0.001, tick)  # a reading every millisecond for 100 s
    assert len(rate._seen) <= 10 / 0.25 + 2


def test_retry_after_is_the_time_to_drain_to_the_limit_within_1_to_60_s() -> None:
    assert retry_after_s(lag=1_300, max_lag=1_000, rate_per_s=100.0) == 3
    assert retry_after_s(lag=1_001, max_lag=1_000, rate_per_s=100.0) == 1
    assert retry_after_s(lag=10**9, max_lag=1_000, rate_per_s=100.0) == 60
    assert retry_after_s(lag=1_300, max_lag=1_000, rate_per_s=0.0) == 60
    assert retry_after_s(lag=1_300, max_lag=1_000, rate_per_s=None) == 60
