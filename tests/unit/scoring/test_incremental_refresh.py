"""The API process's incremental refresh (service/reading.py, domain/effective.py, entrypoints/read_bodies.py): a
committed batch that touched one unit gives new month figures, level-table rows and bodies for that unit and the
units its figures feed (and those whose rank it moved) — every other unit keeps its objects — and what is served
equals what a build from scratch gives."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from services.scoring.domain.effective import TreeView, patch_month_roll_up, roll_up_month
from services.scoring.domain.timebase import parse_month
from services.scoring.entrypoints.read_bodies import ReadBodies
from services.scoring.service.periods import resolve_period
from services.scoring.service.reading import ScoringReader
from tests.unit.scoring.read_fakes import NOW, FakeFigures, FakeProfiles, FakeUnits, city_registry, profile

pytestmark = pytest.mark.unit

SEPTEMBER = "2026-09"
GOOD = {"received": 30, "received_online": 30, "resolved": 20, "resolved_with_due": 20, "resolved_on_time": 20,
        "progress_total": 30, "progress_on_time": 29, "events": 10, "events_timely": 10}  # fmt: skip
POOR = {"received": 25, "received_online": 5, "resolved": 20, "resolved_with_due": 20, "resolved_on_time": 8,
        "progress_total": 25, "progress_on_time": 10, "events": 10, "events_timely": 4}  # fmt: skip


def reader_on(figures: FakeFigures, **options: float) -> ScoringReader:
    return ScoringReader(figures, FakeUnits(city_registry()), FakeProfiles(profile()), clock=lambda: NOW, **options)


def test_a_patched_roll_up_equals_a_full_one_and_keeps_the_figures_of_units_nothing_fed() -> None:
    view = TreeView(city_registry())
    month = parse_month(SEPTEMBER)
    before = {"D1.X": {"received": 2, "resolved": 1}, "D2": {"received": 5}}
    rolled = roll_up_month(before, view, month)
    after = {"D1.X": {"received": 3, "resolved": 1, "events": 1}, "D2": {"received": 5}}

    patched = patch_month_roll_up(before, rolled, after, view, month)
    assert patched is not None
    figures, changed = patched
    assert figures == roll_up_month(after, view, month)
    assert changed == {"D1.X", "D1", "C"}  # the commune, its district, the city
    assert figures["D2"] is rolled["D2"]  # untouched: the same object, so its rows and bodies are kept
    assert rolled["C"] == {"received": 7, "resolved": 1}  # the previous roll-up is not changed in place

    # A named unit or a counter gone is no addition: the caller rolls up in full.
    assert patch_month_roll_up(before, rolled, {"D2": {"received": 5}}, view, month) is None
    assert patch_month_roll_up(before, rolled, {**before, "D2": {"resolved": 1}}, view, month) is None


async def test_a_batch_touching_one_unit_rebuilds_its_rows_only_and_equals_a_build_from_scratch() -> None:
    figures = FakeFigures(months={SEPTEMBER: {"D1.X": POOR, "D2": GOOD}})
    reader = reader_on(figures)
    period = resolve_period(SEPTEMBER, NOW)
    districts = await reader.level_table("district", period)
    await reader.level_table("commune", period)  # built before the batch: the next one is patched from it
    month = await reader.month_figures(period)

    figures.months[SEPTEMBER]["D1.X"] = {**POOR, "received": 26}  # a batch received one more dossier in D1.X
    reader.figures_changed([SEPTEMBER])
    month_after = await reader.month_figures(period, fresh=True)
    districts_after = await reader.level_table("district", period, fresh=True)
    communes_after = await reader.level_table("commune", period, fresh=True)

    assert month_after["D2"] is month["D2"] and month_after["D1"] is not month["D1"]
    assert districts_after.details["D2"] is districts.details["D2"]  # same figures, same rank: the same row
    assert districts_after.details["D1"] is not districts.details["D1"]
    assert communes_after.details["D1.X"].counters["received"] == 26

    scratch = reader_on(FakeFigures(months={SEPTEMBER: dict(figures.months[SEPTEMBER])}))
    for level, table in (("district", districts_after), ("commune", communes_after)):
        fresh = await scratch.level_table(level, period)
        assert table.ranked == fresh.ranked and table.details == fresh.details


async def test_a_batch_rebuilds_the_bodies_of_the_units_it_touched_and_they_equal_bodies_built_from_scratch() -> None:
    figures = FakeFigures(months={SEPTEMBER: {"D1.X": POOR, "D2": GOOD}})
    reader, bodies = reader_on(figures, refresh_s=0.01), ReadBodies()
    registry = reader.directory.registry
    period = resolve_period(SEPTEMBER, NOW)
    units = [registry.get(unit_id) for unit_id in ("D1", "D2", "D1.X")]
    first = {unit.unit_id: await bodies.indicators(reader, unit, period) for unit in units}
    history = await bodies.history(reader, registry.get("D2"), 3)

    figures.months[SEPTEMBER]["D1.X"] = {**POOR, "received": 26}
    reader.figures_changed([SEPTEMBER])
    for _ in range(2):  # the first readers after the change are served the previous tables and bodies while the
        for unit in units:  # next ones are built
            await bodies.indicators(reader, unit, period)
        await asyncio.sleep(0.05)
        await bodies.idle()
    second = {unit.unit_id: await bodies.indicators(reader, unit, period) for unit in units}

    assert second["D2"] is first["D2"]  # untouched (figures and rank): not rebuilt
    assert await bodies.history(reader, registry.get("D2"), 3) is history
    assert second["D1"].digest != first["D1"].digest and second["D1.X"].digest != first["D1.X"].digest
    assert orjson.loads(second["D1.X"].body)["counters"]["received"] == 26

    scratch = reader_on(FakeFigures(months={SEPTEMBER: dict(figures.months[SEPTEMBER])}))
    scratch_bodies = ReadBodies()
    for unit in units:
        assert (await scratch_bodies.indicators(scratch, unit, period)).body == second[unit.unit_id].body


async def test_a_replaced_body_changes_the_token_and_token_changes_are_spaced_while_they_come_fast() -> None:
    figures = FakeFigures(months={SEPTEMBER: {"D1.X": POOR, "D2": GOOD}})
    reader, bodies = reader_on(figures, token_min_s=0.05, refresh_s=0.01), ReadBodies()
    period = resolve_period(SEPTEMBER, NOW)
    await bodies.rankings(reader, "commune", period)
    await asyncio.sleep(0.15)  # quiet: the tables' own changes announced
    start = reader.generation

    reader.bump()  # after a quiet spell: at once
    assert reader.generation == start + 1
    reader.bump()
    reader.bump()  # within token_min_s: one deferred change for both
    assert reader.generation == start + 1
    await asyncio.sleep(0.08)
    assert reader.generation == start + 2

    figures.months[SEPTEMBER]["D1.X"] = {**POOR, "received": 26}
    reader.figures_changed([SEPTEMBER])
    stale = await bodies.rankings(reader, "commune", period)  # the previous ranking, a new one being built
    await asyncio.sleep(0.05)
    await bodies.rankings(reader, "commune", period)
    await bodies.idle()
    await asyncio.sleep(0.08)
    fresh = await bodies.rankings(reader, "commune", period)
    assert fresh.digest != stale.digest and reader.generation >= start + 3  # the new body was announced
    assert orjson.loads(fresh.body)["items"][0]["unit_id"] == "D1.X"
