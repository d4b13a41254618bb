from datetime import UTC, datetime, timedelta, timezone

import pytest

from c360.kernel.clock import from_us, isoformat_us, parse_timestamp, to_us


def test_timestamps_with_offsets_and_z_name_the_same_instant() -> None:
    assert parse_timestamp("2026-11-23T10:00:00+07:00") == parse_timestamp("2026-11-23T03:00:00Z")


def test_milli_micro_and_nanosecond_fractions_are_read_to_the_microsecond() -> None:
    base = parse_timestamp("2026-11-23T03:00:00Z")
    assert parse_timestamp("2026-11-23T03:00:00.123Z") == base + 123_000
    assert parse_timestamp("2026-11-23T03:00:00.123456Z") == base + 123_456
    assert parse_timestamp("2026-11-23T03:00:00.123456789Z") == base + 123_456


def test_naive_timestamps_are_utc() -> None:
    assert parse_timestamp("2026-11-23T03:00:00") == parse_timestamp("2026-11-23T03:00:00Z")


@pytest.mark.parametrize("value", ["", "yesterday", "2026-13-01T00:00:00Z", 1700000000, None])
def test_anything_else_is_refused(value: object) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(value)


def test_microseconds_round_trip_through_datetimes() -> None:
    moment = datetime(2026, 11, 23, 10, 0, 0, 654321, tzinfo=timezone(timedelta(hours=7)))
    us = to_us(moment)
    assert from_us(us) == moment.astimezone(UTC)
    assert isoformat_us(us) == "2026-11-23T03:00:00.654321Z"
