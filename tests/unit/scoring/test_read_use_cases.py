"""The figures/rankings reader (service/reading.py + read_views.py) on hand-written fakes of its interfaces: figures
summed into subtrees, live counters at the table's instant, rank order, and a change read after it is announced."""

from __future__ import annotations

import pytest

from services.scoring.domain.live import LiveFigures
from services.scoring.service.periods import resolve_period
from services.scoring.service.read_views import (
    RankingsBuilder,
    history_view,
    indicators_view,
    rankings_view,
    summary_view,
)
from services.scoring.service.reading import ScoringReader
from tests.unit.scoring.read_fakes import NOW, FakeFigures, FakeProfiles, FakeUnits, city_registry, profile

pytestmark = pytest.mark.unit

GOOD = {"received": 30, "received_online": 30, "resolved": 20, "resolved_with_due": 20, "resolved_on_time": 20,
        "progress_total": 30, "progress_on_time": 29, "events": 10, "events_timely": 10}  # fmt: skip
POOR = {"received": 25, "received_online": 5, "resolved": 20, "resolved_with_due": 20, "resolved_on_time": 8,
        "progress_total": 25, "progress_on_time": 10, "events": 10, "events_timely": 4}  # fmt: skip


def reader_on(figures: FakeFigures) -> ScoringReader:
    return ScoringReader(figures, FakeUnits(city_registry()), FakeProfiles(profile()), clock=lambda: NOW)


async def test_a_level_table_sums_subtrees_ranks_units_and_shows_the_live_counters_of_its_instant() -> None:
    figures = FakeFigures(
        months={"2026-10": {"D1.X": GOOD, "D2": POOR}},
        live={"D1.X": LiveFigures(open=4, overdue_open=1, due_soon=2, progress_correction=1)},
        received_today=7,
    )
    reader = reader_on(figures)
    period = resolve_period(None, NOW)
    table = await reader.level_table("district", period)
    snapshot = await reader.live_snapshot()

    d1 = indicators_view(reader.directory.registry.get("D1"), period, table, snapshot)
    assert d1.counters.received == 30  # the commune's dossiers count for its district
    assert d1.counters.progress_on_time == 30  # 29 stored + 1 on time now (the live correction, current month)
    assert (d1.live.open, d1.live.overdue_open, d1.live.due_soon, d1.live.as_of) == (4, 1, 2, table.as_of)
    assert (d1.rank, d1.rank_of, d1.exists_in_period) == (1, 2, True)

    rankings = rankings_view("district", period, table, reader.directory.registry, profile().min_dossiers)
    assert [(item.unit_id, item.rank) for item in rankings.items] == [("D1", 1), ("D2", 2)]
    assert rankings.items[0].overdue_open == 1 and rankings.items[1].overdue_open == 0

    summary = summary_view(reader.directory.registry.city, period, await reader.level_table("city", period), snapshot)
    assert summary.counters.received == 55
    assert (summary.dashboard.received_today, summary.dashboard.in_progress, summary.dashboard.overdue) == (7, 4, 1)


async def test_a_past_month_has_no_live_correction_and_no_live_column_in_its_rankings() -> None:
    figures = FakeFigures(months={"2026-09": {"D1": POOR, "D2": GOOD}}, live={"D2": LiveFigures(progress_correction=5)})
    reader = reader_on(figures)
    september = resolve_period("2026-09", NOW)
    table = await reader.level_table("district", september)
    d2 = indicators_view(reader.directory.registry.get("D2"), september, table, await reader.live_snapshot())
    assert d2.counters.progress_on_time == 29 and d2.rank == 1
    rankings = rankings_view("district", september, table, reader.directory.registry, 20)
    assert [item.overdue_open for item in rankings.items] == [None, None]


async def test_at_a_months_start_before_the_roll_over_no_rate_passes_one() -> None:
    """Vietnam's midnight on 1 December: the new month stores two dossiers (one late at the month's end), while the
    live correction, read from every open dossier, counts 40 still on time now — 39 of them not rolled into the new
    month yet. The correction is bounded by what the month holds, so the rate is 1, not 20.5 (the API answered
    500 then, and the indicators publication failed)."""
    just_started = {"received": 2, "progress_total": 2, "progress_on_time": 1}
    figures = FakeFigures(months={"2026-10": {"D1.X": just_started}},
                          live={"D1.X": LiveFigures(open=40, progress_correction=40)})  # fmt: skip
    reader = reader_on(figures)
    period = resolve_period(None, NOW)
    table = await reader.level_table("district", period)
    d1 = indicators_view(reader.directory.registry.get("D1"), period, table, await reader.live_snapshot())
    assert (d1.counters.progress_total, d1.counters.progress_on_time) == (2, 2)
    assert d1.rates.progress_rate == 1.0
    summary = summary_view(reader.directory.registry.city, period, await reader.level_table("city", period),
                           await reader.live_snapshot())  # fmt: skip
    assert summary.rates.progress_rate == 1.0


async def test_a_change_announced_for_a_month_is_read_by_the_next_fresh_table() -> None:
    figures = FakeFigures(months={"2026-10": {"D1": POOR, "D2": GOOD}})
    reader = reader_on(figures)
    period = resolve_period(None, NOW)
    before = await reader.level_table("district", period)
    assert [entry.unit_id for entry in before.ranked] == ["D2", "D1"]

    figures.months["2026-10"] = {"D1": GOOD, "D2": POOR}
    reader.figures_changed(["2026-10"])
    after = await reader.level_table("district", period, fresh=True)
    assert after is not before
    assert [entry.unit_id for entry in after.ranked] == ["D1", "D2"]


async def test_a_history_lists_each_month_oldest_first_with_its_score() -> None:
    figures = FakeFigures(months={"2026-09": {"D2": POOR}, "2026-10": {"D2": GOOD}})
    reader = reader_on(figures)
    history = history_view(reader.directory.registry.get("D2"), 3, await reader.history_sources(3))
    assert [month.period for month in history.months] == ["2026-08", "2026-09", "2026-10"]
    assert [month.counters.received for month in history.months] == [0, 25, 30]
    assert history.months[0].score is None and history.months[2].score > history.months[1].score


async def test_rankings_rebuilt_after_a_change_reuse_the_items_of_the_units_that_did_not_change() -> None:
    figures = FakeFigures(months={"2026-10": {"D1": POOR, "D2": GOOD}})
    reader = reader_on(figures)
    period = resolve_period(None, NOW)
    builder = RankingsBuilder()
    first, body = builder.build(
        "district", period, await reader.level_table("district", period), reader.directory.registry, 20
    )
    assert body == first.model_dump()

    figures.months["2026-10"] = {"D1": {**POOR, "received": 26}, "D2": GOOD}
    reader.figures_changed(["2026-10"])
    table = await reader.level_table("district", period, fresh=True)
    second, _ = builder.build("district", period, table, reader.directory.registry, 20)
    by_unit = {item.unit_id: item for item in second.items}
    assert by_unit["D2"] is first.items[0]  # D2 (ranked first) did not change: its item is reused
    assert by_unit["D1"] is not first.items[1] and by_unit["D1"].rates.online_rate == pytest.approx(5 / 26)
