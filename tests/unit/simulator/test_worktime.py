from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.worktime import (
    VN_TZ,
    Rfc3339,
    WorkCalendar,
    day_start,
    local_day,
    parse_cli_time,
    vietnam_holidays,
    weekday,
)

CAL = WorkCalendar()
SECONDS_2024_2029 = st.integers(min_value=1_704_067_200, max_value=1_893_456_000)


def vn(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


@settings(deadline=None, max_examples=300)
@given(SECONDS_2024_2029)
def test_local_formatting_matches_datetime(ts: int) -> None:
    assert Rfc3339().local(ts) == datetime.fromtimestamp(ts, VN_TZ).isoformat()


@settings(deadline=None, max_examples=200)
@given(SECONDS_2024_2029, st.integers(min_value=0, max_value=999))
def test_utc_formatting_matches_datetime(ts: int, ms: int) -> None:
    expected = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ms:03d}Z"
    assert Rfc3339().utc(ts + ms / 1000 + 0.0001) == expected


def test_local_days_and_weekdays() -> None:
    ts = vn("2026-08-03T00:30:00+07:00")  # a Monday, still Sunday in UTC
    assert weekday(local_day(ts)) == 0
    assert day_start(local_day(ts)) == vn("2026-08-03T00:00:00+07:00")


def test_due_dates_count_working_days_only() -> None:
    friday_morning = vn("2026-08-07T10:00:00+07:00")
    assert CAL.due_at(friday_morning, 1) == vn("2026-08-10T17:00:00+07:00")  # Monday
    assert CAL.due_at(friday_morning, 5) == vn("2026-08-14T17:00:00+07:00")
    saturday_online = vn("2026-08-08T23:00:00+07:00")
    assert CAL.due_at(saturday_online, 1) == vn("2026-08-10T17:00:00+07:00")
    before_national_day = vn("2026-09-01T09:00:00+07:00")  # 2 September is a holiday
    assert CAL.due_at(before_national_day, 1) == vn("2026-09-03T17:00:00+07:00")


@settings(deadline=None, max_examples=300)
@given(SECONDS_2024_2029, st.integers(min_value=1, max_value=20))
def test_due_is_later_and_on_a_working_day(ts: int, days: int) -> None:
    due = CAL.due_at(ts, days)
    assert due > ts
    assert CAL.is_working_day(local_day(due))


def test_holidays_include_tet_and_fixed_days() -> None:
    holidays = vietnam_holidays(range(2026, 2027))
    assert local_day(vn("2026-02-17T12:00:00+07:00")) in holidays  # Tết 2026
    assert local_day(vn("2026-04-30T12:00:00+07:00")) in holidays
    assert local_day(vn("2026-05-04T12:00:00+07:00")) not in holidays


@settings(deadline=None, max_examples=300)
@given(SECONDS_2024_2029, st.integers(min_value=0, max_value=5399))
def test_snapping_lands_in_office_hours_not_earlier(ts: int, jitter: int) -> None:
    snapped = CAL.snap_to_office(ts, jitter)
    assert snapped >= ts
    day = local_day(snapped)
    assert CAL.is_working_day(day)
    assert 8 * 3600 <= snapped - day_start(day) < 17 * 3600


def test_snapping_keeps_office_moments() -> None:
    inside = vn("2026-08-04T10:00:00+07:00")
    assert CAL.snap_to_office(inside, 999) == inside
    evening = vn("2026-08-04T19:00:00+07:00")
    assert CAL.snap_to_office(evening, 60) == vn("2026-08-05T08:01:00+07:00")


def test_cli_times_default_to_vietnam() -> None:
    assert parse_cli_time("2026-08-01") == vn("2026-08-01T00:00:00+07:00")
    assert parse_cli_time("2026-08-01T00:00:00Z") == vn("2026-08-01T07:00:00+07:00")
