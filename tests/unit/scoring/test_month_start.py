"""The first moments of a month: the live correction bounded by what the month stores, and the roll-over timer
that runs right after the month starts (domain/live.py, entrypoints/background.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.scoring.domain.live import bounded_progress_correction
from services.scoring.entrypoints.background import ROLL_OVER_AFTER_MONTH_START_S, ROLL_OVER_CHECK_S, roll_over_delay

pytestmark = pytest.mark.unit

# 1 December 2026 00:00 in Vietnam.
DECEMBER_STARTS = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)


def test_the_correction_is_untouched_while_the_month_stores_that_many_late_dossiers() -> None:
    assert bounded_progress_correction({"progress_total": 30, "progress_on_time": 20}, 7) == 7
    assert bounded_progress_correction({"progress_total": 30, "progress_on_time": 20}, 10) == 10


def test_before_the_roll_over_the_correction_stops_at_the_late_dossiers_the_month_holds() -> None:
    assert bounded_progress_correction({"progress_total": 2, "progress_on_time": 1}, 40) == 1
    assert bounded_progress_correction({}, 40) == 0


@given(total=st.integers(0, 10_000), on_time=st.integers(0, 10_000), correction=st.integers(0, 10_000))
def test_progress_on_time_never_passes_progress_total(total: int, on_time: int, correction: int) -> None:
    on_time = min(on_time, total)
    bounded = bounded_progress_correction({"progress_total": total, "progress_on_time": on_time}, correction)
    assert 0 <= bounded <= correction and on_time + bounded <= total


def test_the_roll_over_runs_right_after_a_month_starts() -> None:
    assert roll_over_delay(DECEMBER_STARTS - timedelta(seconds=20)) == pytest.approx(20 + ROLL_OVER_AFTER_MONTH_START_S)
    assert roll_over_delay(DECEMBER_STARTS - timedelta(hours=3)) == ROLL_OVER_CHECK_S
    assert roll_over_delay(DECEMBER_STARTS + timedelta(seconds=1)) == ROLL_OVER_CHECK_S
