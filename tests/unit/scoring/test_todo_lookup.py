"""Today's to-do buckets and gains, and the one-dossier lookup (domain/todo.py, domain/lookup.py)."""

from __future__ import annotations

from datetime import date

import pytest

from services.scoring.domain.forecast import best_counters
from services.scoring.domain.lookup import (
    NO_RECEIPT,
    OPEN,
    RESOLVED,
    WITHDRAWN,
    hold_periods,
    live_view,
    memberships,
    status_of,
)
from services.scoring.domain.profile import ScoreProfile
from services.scoring.domain.timebase import to_instant
from services.scoring.domain.todo import (
    DUE_THIS_MONTH,
    DUE_TODAY,
    DUE_TOMORROW,
    OVERDUE,
    bucket_of,
    gain_for,
    gain_of,
    horizon,
)
from tests.unit.scoring.builders import fact, received, vn
from tests.unit.scoring.events import merge
from tests.unit.scoring.test_forecast import NOW, month_input, profile, x_dossiers  # noqa: F401 (fixture)


def at(text: str) -> int:
    return to_instant(vn(text))


def test_horizon_is_vietnam_midnight() -> None:
    h = horizon(at("2026-11-20 10:00"))
    assert h.today_end == at("2026-11-21 00:00")
    assert h.tomorrow_end == at("2026-11-22 00:00")
    assert h.month_end == at("2026-12-01 00:00")
    # 23:30 in Hà Nội is 16:30 UTC: still the same Vietnam day.
    assert horizon(at("2026-11-20 23:30")).today_end == at("2026-11-21 00:00")
    assert horizon(at("2026-11-21 00:00")).today_end == at("2026-11-22 00:00")


@pytest.mark.parametrize(
    ("due", "bucket"),
    [
        ("2026-11-19 17:00", OVERDUE),
        ("2026-11-20 09:59", OVERDUE),
        ("2026-11-20 10:00", DUE_TODAY),
        ("2026-11-20 23:59", DUE_TODAY),
        ("2026-11-21 00:00", DUE_TOMORROW),
        ("2026-11-21 23:59", DUE_TOMORROW),
        ("2026-11-22 00:00", DUE_THIS_MONTH),
        ("2026-11-30 23:59", DUE_THIS_MONTH),
        ("2026-12-01 00:00", None),
    ],
)
def test_buckets(due: str, bucket: str | None) -> None:
    assert bucket_of(at(due), horizon(at("2026-11-20 10:00"))) == bucket


def test_on_the_last_day_tomorrow_is_next_month() -> None:
    h = horizon(at("2026-11-30 12:00"))
    assert bucket_of(at("2026-12-01 09:00"), h) == DUE_TOMORROW
    assert bucket_of(at("2026-12-02 09:00"), h) is None
    assert h.list_end == at("2026-12-02 00:00")


def test_gains_of_the_hand_computed_month(profile: ScoreProfile) -> None:  # noqa: F811
    best = best_counters(month_input(x_dossiers()))
    inside = gain_of(best, profile, due_before_end=True)
    # Without B: progress 3/5 and no e-result → the worst case, 41.2 / 72; with it the best case, 49.2 / 72.
    assert inside.progress_points == pytest.approx(20.0)
    assert inside.score_gain == pytest.approx(100 * (49.2 - 41.2) / 72)
    outside = gain_of(best, profile, due_before_end=False)
    # D finished now: progress unchanged (4/5), resolved 3 with 2 e-results, 9/9 events:
    # 18 + 16 + 9.6 + 1.6 + 8 × 2/3 = 50.5333… vs 49.2.
    assert outside.progress_points == 0.0
    assert outside.score_gain == pytest.approx(100 * (50.2 + 1 / 3 - 49.2) / 72)
    h = horizon(NOW)
    assert gain_for(at("2026-11-25 17:00"), h, inside, outside) is inside
    assert gain_for(at("2026-12-05 17:00"), h, inside, outside) is outside
    assert gain_for(at("2026-11-10 17:00"), h, inside, outside) is None


def test_gain_is_null_without_a_score(profile: ScoreProfile) -> None:  # noqa: F811
    gain = gain_of({}, profile, due_before_end=False)
    assert gain.score_gain is None  # without it the unit has no data at all: no score to compare with
    empty = gain_of({"progress_total": 0}, profile, due_before_end=True)
    assert empty.score_gain is None and empty.progress_points == 0.0


def test_status_and_holds() -> None:
    open_one = merge([
        received("r", "2026-11-03 09:00", "2026-11-12 17:00"),
        fact("h1", "supplement_requested", "2026-11-05 09:00"),
        fact("h2", "supplement_received", "2026-11-07 09:00", due_at="2026-11-20 17:00"),
        fact("h3", "paused", "2026-11-10 09:00"),
    ])  # fmt: skip
    assert status_of(open_one) == OPEN
    assert hold_periods(open_one) == [
        (at("2026-11-05 09:00"), at("2026-11-07 09:00")),
        (at("2026-11-10 09:00"), None),
    ]
    view = live_view(open_one, at("2026-11-25 09:00"))
    assert view.on_hold_now and view.correction == 0 and view.live["open"] == 1 and view.month == "2026-11"
    resolved = merge([received("r", "2026-11-03 09:00", "2026-11-12 17:00"),
                      fact("s", "resolved", "2026-11-04 09:00", outcome="approved"),
                      fact("w", "withdrawn", "2026-11-05 09:00")])  # fmt: skip
    assert status_of(resolved) == RESOLVED
    withdrawn = merge([received("r", "2026-11-03 09:00", "2026-11-12 17:00"), fact("w", "withdrawn", "2026-11-04")])
    assert status_of(withdrawn) == WITHDRAWN
    assert status_of(merge([fact("p", "payment", "2026-11-04 09:00", method="online")])) == NO_RECEIPT


def test_memberships_follow_the_effective_unit() -> None:
    state = merge([received("r", "2026-10-28 09:00", "2026-11-25 17:00", unit="OLD", channel="online"),
                   fact("p", "payment", "2026-11-02 09:00", unit="OLD", method="online")])  # fmt: skip
    seen: list[tuple[str, date]] = []

    def effective(unit: str, day: date) -> str:
        seen.append((unit, day))
        return "NEW" if day >= date(2026, 11, 1) else unit

    rows = memberships(state, at("2026-11-20 10:00"), effective)
    table = {(m.month, m.counter): (m.named_unit, m.counts_for, m.value) for m in rows}
    assert table[("2026-10", "received")] == ("OLD", "OLD", 1)
    assert table[("2026-10", "received_online")] == ("OLD", "OLD", 1)
    assert table[("2026-10", "progress_on_time")] == ("OLD", "OLD", 1)  # due after the end of October
    assert table[("2026-11", "payments_online")] == ("OLD", "NEW", 1)
    assert table[("2026-11", "progress_total")] == ("OLD", "NEW", 1)
    assert ("2026-11", "progress_on_time") not in table  # stored as at the month's end: late by then
    assert live_view(state, at("2026-11-20 10:00")).correction == 1  # …but on time now
    assert [m.month for m in rows] == sorted(m.month for m in rows)
    assert (("OLD", date(2026, 11, 30)) in seen) and (("OLD", date(2026, 10, 31)) in seen)
