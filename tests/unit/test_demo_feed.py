"""`make demo`'s live feed: its warm-up never reaches into the previous month (infra/demo.py)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from infra.demo import history_start, live_warm_up_days
from simulator.worktime import VN_TZ


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 12, 15, 10, 0, tzinfo=VN_TZ), 0.25),  # mid-month: the whole warm-up
        (datetime(2026, 12, 1, 3, 0, tzinfo=VN_TZ), 0.125),  # three hours into the month: three hours
        (datetime(2026, 12, 1, 0, 0, tzinfo=VN_TZ), 0.0),  # at midnight on the 1st: none
    ],
)
def test_the_live_warm_up_starts_no_earlier_than_the_month(now: datetime, expected: float) -> None:
    assert live_warm_up_days(now, 0.25) == pytest.approx(expected)


def test_history_starts_on_the_first_day_of_a_month() -> None:
    assert history_start(date(2026, 11, 30), 18) == "2025-05-01"
    assert history_start(date(2026, 1, 5), 1) == "2025-12-01"
