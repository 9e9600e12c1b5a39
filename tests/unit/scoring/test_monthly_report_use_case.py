"""The monthly publication (service/reports.py) and the city's notice (service/notice.py) read through the real
scoring reader over hand-written fakes: three months of every level, the city's late total, annex II."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.scoring.domain.live import LiveFigures
from services.scoring.service.notice import load_notice
from services.scoring.service.periods import resolve_period
from services.scoring.service.reading import ScoringReader
from services.scoring.service.reports import load_report
from tests.unit.scoring.read_fakes import (
    NOW,
    Dossier,
    FakeDossiers,
    FakeFigures,
    FakeProfiles,
    FakeUnits,
    city_registry,
)
from tests.unit.scoring.read_fakes import profile as score_profile

pytestmark = pytest.mark.unit

# Thirty dossiers in play each: enough to be ranked (the profile's min_dossiers).
LATE = {"progress_total": 30, "progress_on_time": 12, "events": 4, "events_timely": 4}
FINE = {"progress_total": 30, "progress_on_time": 27, "events": 4, "events_timely": 4}


def reader_on(figures: FakeFigures) -> ScoringReader:
    return ScoringReader(figures, FakeUnits(city_registry()), FakeProfiles(score_profile()), clock=lambda: NOW)


async def test_the_report_reads_three_months_of_every_level_and_the_city_late_total() -> None:
    figures = FakeFigures(months={"2026-10": {"D1": LATE, "D2": FINE}, "2026-09": {"D1": FINE, "D2": LATE}})
    reader = reader_on(figures)
    report = await load_report(reader, resolve_period("2026-10", NOW))

    assert {"2026-10", "2026-09", "2026-08"} <= set(figures.asked_months)
    assert (report.period, report.previous, report.before_previous) == ("2026-10", "2026-09", "2026-08")
    districts = [row for row in report.rows if row.level == "district"]
    assert [(r.unit_id, r.rank, r.rank_change_1, r.overdue) for r in districts] == [("D2", 1, 1, 3), ("D1", 2, -1, 18)]
    assert report.city_overdue == 21
    assert districts[1].overdue_share == pytest.approx(18 / 21)
    assert report.profile_name == score_profile().name


async def test_the_notice_lists_each_units_overdue_dossiers_in_annex_two() -> None:
    figures = FakeFigures(
        months={"2026-10": {"D1": LATE, "D2": FINE}},
        live={"D1": LiveFigures(open=2, overdue_open=1)},
    )
    dossiers = FakeDossiers(
        [Dossier("late-1", "D1", NOW - timedelta(days=2)), Dossier("fine-1", "D2", NOW + timedelta(days=2))]
    )
    notice = await load_notice(reader_on(figures), dossiers, resolve_period("2026-10", NOW))

    assert notice.city.name == "Thành phố Hà Nội" and notice.city.late == 21 and notice.city.overdue_open == 1
    (unit,) = notice.annex
    assert (unit.unit_id, unit.count) == ("D1", 1)
    assert [d.dossier_id for d in unit.dossiers] == ["late-1"]
    assert unit.dossiers[0].days_late == pytest.approx(2.0)
