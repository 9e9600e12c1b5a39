"""Today's to-do (việc cần làm hôm nay): which open dossiers to finish first, and what finishing each one saves.

A unit's to-do holds its open dossiers that are not on hold, in the order of urgency:

1. ``due_today`` — effective due from now until midnight tonight (Vietnam time);
2. ``due_tomorrow`` — due tomorrow (Vietnam calendar day);
3. ``due_this_month`` — due later, before the end of the current month;

and, listed apart, 4. ``overdue`` — already past their due: they are late this month whatever is done now (and in
every later month they stay open: overdue is cumulative, SPEC §4). Dossiers due after tomorrow and after the
month's end are not on the list (nothing this month depends on them yet).

What finishing one dossier on time saves is measured against the month-end best case (domain/forecast.py): the
unit's figures with every dossier due this month finished on time, with this dossier, minus the same without it
(it stays open: late at the month's end if due before it, still on time otherwise). Two numbers:
``progress_points`` — the percentage points of the progress rate it protects — and ``score_gain``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.scoring.domain.forecast import finish_on_time
from services.scoring.domain.profile import ScoreProfile
from services.scoring.domain.score import score_counters
from services.scoring.domain.timebase import DAY_US, HOUR_US, Instant, month_end, month_of

DUE_TODAY = "due_today"
DUE_TOMORROW = "due_tomorrow"
DUE_THIS_MONTH = "due_this_month"
OVERDUE = "overdue"
BUCKETS: tuple[str, ...] = (DUE_TODAY, DUE_TOMORROW, DUE_THIS_MONTH, OVERDUE)
"""In list order: the three to-do buckets by urgency, then the overdue ones, listed apart."""

_VN_OFFSET_US = 7 * HOUR_US


@dataclass(frozen=True, slots=True)
class Horizon:
    """The boundaries that sort an open dossier into a bucket, at one instant."""

    now: Instant
    today_end: Instant
    """Midnight tonight, Vietnam time."""
    tomorrow_end: Instant
    month_end: Instant
    """E of the current month."""

    @property
    def list_end(self) -> Instant:
        """Dossiers due before this are on the to-do list (after tomorrow they must also be due this month)."""
        return max(self.tomorrow_end, self.month_end)


def horizon(now: Instant) -> Horizon:
    local_day_start = (now + _VN_OFFSET_US) // DAY_US * DAY_US - _VN_OFFSET_US
    today_end = local_day_start + DAY_US
    return Horizon(now, today_end, today_end + DAY_US, month_end(month_of(now)))


def bucket_of(due: Instant, at: Horizon) -> str | None:
    """The bucket of an open dossier not on hold, or None when it is not on today's list."""
    if due < at.now:
        return OVERDUE
    if due < at.today_end:
        return DUE_TODAY
    if due < at.tomorrow_end:
        return DUE_TOMORROW
    if due < at.month_end:
        return DUE_THIS_MONTH
    return None


@dataclass(frozen=True, slots=True)
class Gain:
    progress_points: float
    """Percentage points of the month-end progress rate the dossier protects (0 when due after the month)."""
    score_gain: float | None
    """Score of the best case with the dossier finished on time minus without it; None when a score is null."""


def gain_of(best: Mapping[str, int], profile: ScoreProfile, *, due_before_end: bool) -> Gain:
    """What one dossier finished on time is worth, given the unit's best-case counters (forecast.best_counters).

    A dossier due before the month's end is part of the best case: without it, one on-time resolution fewer and
    one late dossier more. A dossier due later is not: with it, one on-time resolution more, progress unchanged.
    """
    if due_before_end:
        with_it, without = dict(best), finish_on_time(best, -1)
    else:
        with_it, without = finish_on_time(best, 1, due_before_end=False), dict(best)
    card_with, card_without = score_counters(with_it, profile), score_counters(without, profile)
    rate_with, rate_without = card_with.rates["progress_rate"], card_without.rates["progress_rate"]
    points = 100.0 * (rate_with - rate_without) if rate_with is not None and rate_without is not None else 0.0
    if card_with.score is None or card_without.score is None:
        return Gain(points, None)
    return Gain(points, card_with.score - card_without.score)


def gain_for(due: Instant, at: Horizon, inside: Gain, outside: Gain) -> Gain | None:
    """The gain of one dossier from the two precomputed cases (due before / after the month's end)."""
    if due < at.now:
        return None
    return inside if due < at.month_end else outside
