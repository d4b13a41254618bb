import datetime as dt

import pytest

from c360.standardize import EMPTY, date, datetime


@pytest.mark.parametrize(
    "raw",
    [
        "1987-03-15",
        "15/03/1987",
        "15-03-1987",
        "15.03.1987",
        "3/15/1987",  # only valid month first
        "15 Mar 1987",
        "15 march 1987",
        "March 15, 1987",
        "Sunday, March 15th, 1987",
        "1987 Mar 15",
        "15 มี.ค. 2530",
        "15 มีนาคม 2530",
        "15 มีค 2530",
        "วันที่ 15 มีนาคม พ.ศ. 2530",
        "วันอาทิตย์ที่ 15 มีนาคม 2530",
        "15 มี.ค. 30",  # two-digit year with a Thai month: Buddhist era
        "ngày 15 tháng 3 năm 1987",
        "Ngày 15 Tháng 03 Năm 1987",
        "15 tháng 3, 1987",
        "15/03/2530",
        "15/03/87",
        "1987/3/15",
        "19870315",
        "15031987",
        "๑๕/๐๓/๒๕๓๐",
        "15/03/1987 14:30",
        "1987-03-15T10:00:00Z",
        31851,
        31851.0,
        31851.75,
        "31851",
        dt.date(1987, 3, 15),
        dt.datetime(1987, 3, 15, 23, 59),
    ],
)
def test_spellings_of_one_date(raw: object) -> None:
    result = date(raw)
    assert result.value == "1987-03-15"
    assert result.extra == {}


@pytest.mark.parametrize(
    ("raw", "day_first", "expected"),
    [
        ("05/03/1987", True, "1987-03-05"),
        ("05/03/1987", False, "1987-05-03"),
        ("12/11/2024", True, "2024-11-12"),
    ],
)
def test_dates_valid_both_ways_are_read_day_first_and_marked(
    raw: str, day_first: bool, expected: str
) -> None:
    result = date(raw, day_first=day_first)
    assert result.value == expected
    assert result.extra == {"ambiguous": True}


def test_a_day_equal_to_its_month_is_not_ambiguous() -> None:
    assert date("12/12/2012").extra == {}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("05/03/40", "1940-03-05"), ("05/03/39", "2039-03-05"), ("1/2/00", "2000-02-01")],
)
def test_two_digit_years_pivot_at_40(raw: str, expected: str) -> None:
    assert date(raw).value == expected


@pytest.mark.parametrize(
    "raw",
    [
        "31/02/1990",
        "0000-01-01",
        "2023-02-29",
        "15/13/1987",
        "15/03/2700",  # 2157 after the Buddhist-era conversion
        "1799-12-31",
        "1987",  # a year alone
        60,  # Excel's phantom 1900-02-29
        0,
        -5,
        100000,
        "hello",
        "Mar 87",
        "15/03",
        "15 Mar 1987 then",
        "1/2/3/4",
        True,
    ],
)
def test_impossible_dates_are_flagged(raw: object) -> None:
    result = date(raw)
    assert result.value is None
    assert result.flag == "invalid_date"


def test_an_explicit_format_is_used_and_enforced() -> None:
    assert date("03-15-1987", format="%m-%d-%Y").value == "1987-03-15"
    assert date("15/03/2530", format="%d/%m/%Y").value == "1987-03-15"
    assert date("1987-03-15", format="%d/%m/%Y").flag == "invalid_date"


@pytest.mark.parametrize("raw", [None, "", "  ", float("nan")])
def test_empty_is_empty(raw: object) -> None:
    assert date(raw) == EMPTY
    assert datetime(raw) == EMPTY


@pytest.mark.parametrize(
    "raw",
    [
        "2024-03-15 09:30",
        "2024-03-15T09:30:00+07:00",
        "2024-03-15T02:30:00Z",
        "20240315T093000",
        "15/03/2024 09:30",
        "15/03/2567 09:30",
        "15/03/2024 9:30 am",
        "15/03/2024 9:30 AM",
        "March 15, 2024 9:30 AM",
        "15/03/2024 09.30 น.",
        "15 มีนาคม 2567 เวลา 09:30 น.",
        "15/03/2024 9h30",
        "15/03/2024 9 giờ 30",
        "15-03-2024 09:30 +0700",
        "15/03/2024 09:30 GMT+7",
        "15/03/2024 02:30 UTC",
        "15/03/2024 02:30Z",
        1710469800,
        1710469800000,
        1710469800000000,
        45366.395833333336,
        "1710469800",
        dt.datetime(2024, 3, 15, 9, 30),
        dt.datetime(2024, 3, 15, 2, 30, tzinfo=dt.UTC),
    ],
)
def test_spellings_of_one_instant(raw: object) -> None:
    result = datetime(raw)
    assert result.value == "2024-03-15T02:30:00Z"
    assert result.extra == {"local": "2024-03-15T09:30:00+07:00"}


def test_afternoon_markers() -> None:
    assert datetime("15/03/2024 2:30 pm").value == "2024-03-15T07:30:00Z"
    assert datetime("15/03/2024 2 pm").value == "2024-03-15T07:00:00Z"
    assert datetime("15/03/2024 12:15 am").value == "2024-03-14T17:15:00Z"
    assert datetime("15/03/2024 14h30").value == "2024-03-15T07:30:00Z"


def test_naive_values_are_local_to_the_configured_zone() -> None:
    result = datetime("2024-07-01 09:00", timezone="Europe/London")
    assert result.value == "2024-07-01T08:00:00Z"
    assert result.extra["local"] == "2024-07-01T09:00:00+01:00"
    assert datetime("2024-03-15 09:30", timezone="Asia/Ho_Chi_Minh").value == "2024-03-15T02:30:00Z"


def test_a_bare_date_is_local_midnight() -> None:
    result = datetime("15/03/2024")
    assert result.value == "2024-03-14T17:00:00Z"
    assert result.extra["local"] == "2024-03-15T00:00:00+07:00"


def test_fractions_of_a_second_are_kept() -> None:
    assert datetime("2024-03-15 09:30:00.123456").value == "2024-03-15T02:30:00.123456Z"


def test_an_ambiguous_date_part_is_marked() -> None:
    assert datetime("05/03/2024 10:00").extra["ambiguous"] is True


def test_an_explicit_datetime_format_is_used_and_enforced() -> None:
    assert datetime("15/03/2024 09:30", format="%d/%m/%Y %H:%M").value == "2024-03-15T02:30:00Z"
    assert datetime("2024-03-15", format="%d/%m/%Y %H:%M").flag == "invalid_datetime"


@pytest.mark.parametrize(
    "raw",
    [
        "garbage",
        "2024-13-01 10:00",
        "15/03/2024 25:00",
        "15/03/2024 10:61",
        "15/03/2024 10:00 +25:00",
        "31/02/2024 10:00",
        12345678,  # neither an Excel serial nor a plausible epoch
        1e25,
        True,
    ],
)
def test_invalid_times_are_flagged(raw: object) -> None:
    result = datetime(raw)
    assert result.value is None
    assert result.flag == "invalid_datetime"


def test_an_unknown_zone_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="unknown timezone"):
        datetime("2024-03-15 09:30", timezone="Mars/Olympus")
