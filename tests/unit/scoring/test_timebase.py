"""Instants and Vietnam-time months."""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.domain.timebase import (
    month_end,
    month_from_parts,
    month_label,
    month_label_of,
    month_of,
    month_start,
    month_table,
    parse_month,
    to_datetime,
    to_instant,
)


def test_instants_are_exact_microseconds() -> None:
    moment = datetime(2024, 7, 31, 16, 59, 59, 999_999, tzinfo=UTC)
    assert to_datetime(to_instant(moment)) == moment
    same_in_hanoi = moment.astimezone(timezone(timedelta(hours=7)))
    assert to_instant(same_in_hanoi) == to_instant(moment)
    with pytest.raises(ValueError):
        to_instant(datetime(2024, 7, 1))


def test_month_boundaries_in_vietnam_time() -> None:
    july = month_from_parts(2024, 7)
    assert month_of(to_instant(datetime(2024, 7, 31, 16, 59, 59, 999_999, tzinfo=UTC))) == july
    assert month_of(to_instant(datetime(2024, 7, 31, 17, 0, tzinfo=UTC))) == july + 1
    assert to_datetime(month_start(july)) == datetime(2024, 6, 30, 17, 0, tzinfo=UTC)
    assert month_end(july) == month_start(july + 1)
    assert month_label(month_from_parts(2024, 12) + 1) == "2025-01"


@pytest.mark.parametrize("year", [1900, 2024, 2350])
def test_months_outside_the_precomputed_table_agree(year: int) -> None:
    month = month_from_parts(year, 3)
    start = month_start(month)
    assert month_of(start) == month
    assert month_of(start - 1) == month - 1
    assert month_label(month) == f"{year}-03"


def test_parse_month() -> None:
    assert parse_month("2024-07") == month_from_parts(2024, 7)
    for bad in ("2024-7", "2024-13", "2024-00", "24-07", "2024-07\n", "２０２４-07", ""):
        with pytest.raises(ValueError, match="YYYY-MM"):
            parse_month(bad)


@pytest.mark.parametrize("year", [1900, 2024, 2350])
def test_month_label_of_agrees_with_month_of(year: int) -> None:
    start = month_start(month_from_parts(year, 1))
    assert month_label_of(start) == f"{year}-01"
    assert month_label_of(start - 1) == f"{year - 1}-12"


def _month_by_bisect(instant: int) -> int:
    """month_of as it was: the month whose start is the last one at or before the instant, in the table."""
    base, starts = month_table()
    return base + bisect_right(starts, instant) - 1


def test_month_of_equals_the_table_at_every_month_boundary() -> None:
    base, starts = month_table()
    for index, start in enumerate(starts[:-1]):
        for instant in (start - 1, start, start + 1, start + 7 * 3_600_000_000):
            if starts[0] <= instant < starts[-1]:
                assert month_of(instant) == _month_by_bisect(instant) == (base + index - (instant < start))
    assert month_of(starts[-1]) == base + len(starts) - 1  # past the table: the datetime path
    assert month_of(starts[0] - 1) == base - 1


@settings(max_examples=2000, deadline=None)
@given(st.integers(min_value=month_table()[1][0], max_value=month_table()[1][-1] - 1))
def test_month_of_equals_the_table_anywhere_in_it(instant: int) -> None:
    local = to_datetime(instant).astimezone(timezone(timedelta(hours=7)))
    assert month_of(instant) == _month_by_bisect(instant) == month_from_parts(local.year, local.month)
