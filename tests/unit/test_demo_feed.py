"""`make demo`'s live feed: its warm-up never reaches into the previous month, nor into a window an earlier feed
already filled (infra/demo.py)."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from infra.demo import history_start, last_fed, live_warm_up_days
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


@pytest.mark.parametrize(
    ("stopped_hours_ago", "expected"),
    [
        (0.0, 0.0),  # restarted at once: the earlier feed filled the whole window
        (2.0, 2 / 24),  # two hours after it stopped: those two hours
        (30.0, 0.25),  # the next day: the whole warm-up
    ],
)
def test_a_restarted_demo_warms_up_only_the_time_no_earlier_feed_covered(
    stopped_hours_ago: float, expected: float
) -> None:
    now = datetime(2026, 12, 15, 10, 0, tzinfo=VN_TZ)
    stopped = now - timedelta(hours=stopped_hours_ago)
    assert live_warm_up_days(now, 0.25, stopped) == pytest.approx(expected)


def test_an_earlier_feed_of_last_month_leaves_the_month_start_rule() -> None:
    now = datetime(2026, 12, 1, 3, 0, tzinfo=VN_TZ)
    assert live_warm_up_days(now, 0.25, now - timedelta(days=3)) == pytest.approx(0.125)


def test_the_earlier_feed_stopped_when_its_log_was_last_written(tmp_path: Path) -> None:
    log = tmp_path / "feed.log"
    assert last_fed(log) is None  # no earlier feed
    log.write_text("progress\n")
    stamp = datetime(2026, 12, 15, 9, 30, tzinfo=VN_TZ)
    os.utime(log, (stamp.timestamp(), stamp.timestamp()))
    assert last_fed(log) == stamp
