"""The API process's refresh work under a commit storm (service/refresh_budget.py, service/reading.py): one CPU budget
for every background refresh, bounded staleness, and a back-fill of other months leaves the current month's tables,
bodies and the readers' token as they are."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from services.scoring.domain.effective import TreeView
from services.scoring.entrypoints.read_bodies import ReadBodies
from services.scoring.service.periods import resolve_period
from services.scoring.service.reading import ScoringReader
from services.scoring.service.refresh_budget import RefreshBudget, mark_background
from shared.units import Unit, UnitLevel, UnitRegistry
from tests.unit.scoring.read_fakes import NOW, FakeFigures, FakeProfiles, FakeUnits, city_registry, profile

pytestmark = pytest.mark.unit

OCTOBER, AUGUST = "2026-10", "2026-08"  # NOW is in October: the current month, and a closed one
FIGURES = {"received": 30, "received_online": 30, "resolved": 20, "resolved_with_due": 20, "resolved_on_time": 20,
           "progress_total": 30, "progress_on_time": 29, "events": 10, "events_timely": 10}  # fmt: skip


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_work_owes_rest_in_proportion_and_never_more_than_the_bound() -> None:
    clock = FakeClock()
    budget = RefreshBudget(rest_factor=2.0, max_rest_s=0.15, clock=clock)
    assert budget.wait_s() == 0.0
    budget.charge(0.02)
    assert budget.wait_s() == pytest.approx(0.04)
    clock.now += 0.01
    budget.charge(0.02)  # owed on top of what is still owed
    assert budget.wait_s() == pytest.approx(0.07)
    budget.charge(1.0)  # a huge piece of work: the wait it imposes is bounded (staleness)
    assert budget.wait_s() == pytest.approx(0.15)
    clock.now += 0.2
    assert budget.wait_s() == 0.0
    assert budget.spent_s == pytest.approx(1.04)


@pytest.mark.parametrize("work_s", [0.002, 0.02, 0.06, 0.3])
def test_under_a_commit_storm_refreshes_take_a_bounded_share_and_each_waits_a_bounded_time(work_s: float) -> None:
    """A storm: a refresh is always due; each starts when the budget allows and costs `work_s` of CPU. The share of
    time spent refreshing is at most 1 / (1 + rest_factor) while the rest fits under the bound, and no refresh
    waits longer than max_rest_s for its turn."""
    clock = FakeClock()
    budget = RefreshBudget(rest_factor=2.0, max_rest_s=0.15, clock=clock)
    start, busy, longest = clock.now, 0.0, 0.0
    while clock.now - start < 60.0:
        wait = budget.wait_s()
        longest = max(longest, wait)
        clock.now += wait + work_s  # waits its turn, then works
        busy += work_s
        budget.charge(work_s)
    share = busy / (clock.now - start)
    assert longest <= 0.15 + 1e-9
    assert share == pytest.approx(max(1 / 3, work_s / (work_s + 0.15)), rel=0.02)


async def test_charged_work_runs_in_a_thread_and_its_cpu_is_counted() -> None:
    clock = FakeClock()  # stands still: the rest owed is all still to come
    budget = RefreshBudget(rest_factor=2.0, max_rest_s=10.0, clock=clock)

    def burn() -> int:
        return sum(i * i for i in range(200_000))

    expected = burn()
    assert await budget.to_thread(burn) == expected
    assert budget.spent_s > 0.0 and budget.wait_s() == pytest.approx(2.0 * budget.spent_s)


async def test_background_work_woken_together_runs_one_at_a_time_each_after_the_rest_owed() -> None:
    """Refreshes made stale by one batch used to wake at the same "free at" and run side by side (session 6's
    review). Background work now takes one turn at a time and re-reads the rest owed when its turn comes; a reader's
    own computation (not marked) neither waits for the turn nor for the rest."""
    budget = RefreshBudget(rest_factor=2.0, max_rest_s=1.0)
    spans: list[tuple[float, float, float]] = []  # (started, ended, thread CPU) of each piece of background work
    running = 0

    def work() -> None:
        nonlocal running
        running += 1
        assert running == 1, "two pieces of background work ran at once"
        started, cpu = time.monotonic(), time.thread_time()
        while time.thread_time() - cpu < 0.01:  # 10 ms of CPU
            pass
        running -= 1
        spans.append((started, time.monotonic(), time.thread_time() - cpu))

    async def background() -> None:
        mark_background()
        await budget.to_thread(work)

    await asyncio.wait_for(asyncio.gather(*(asyncio.create_task(background()) for _ in range(4))), 10)
    spans.sort()
    for (_, ended, cpu), (next_start, _, _) in itertools.pairwise(spans):
        assert next_start - ended >= 2.0 * cpu * 0.9  # the rest the previous one earned (timer slack aside)

    budget.charge(0.5)  # a second of rest owed: a reader's computation still runs at once
    started = time.monotonic()
    assert await asyncio.wait_for(budget.to_thread(lambda: 42), 0.5) == 42
    assert time.monotonic() - started < 0.5


async def test_a_queue_of_background_work_delays_a_piece_at_most_max_rest_and_never_a_readers_task() -> None:
    """Turn and rest together never longer than max_rest_s (a long queue ran side by side past it, hot keys stayed
    stale without bound otherwise); a reader's refresh task started from inside a background one (a table's refresh
    reading its month) is marked anew and does not queue (session 7's review: a reader waited 1.2 s for 0.02 s)."""
    budget = RefreshBudget(rest_factor=50.0, max_rest_s=0.1)  # each piece owes the whole 0.1 s of rest
    waited: list[float] = []

    def work() -> None:
        cpu = time.thread_time()
        while time.thread_time() - cpu < 0.002:
            pass

    async def background() -> None:
        mark_background()
        asked = time.monotonic()
        await budget.to_thread(lambda: waited.append(time.monotonic() - asked) or work())

    async def readers_task() -> float:
        mark_background(False)  # as RefreshingCache._run says for a reader's refresh
        asked = time.monotonic()
        await budget.to_thread(lambda: None)
        return time.monotonic() - asked

    async def background_reading_another_key() -> float:
        mark_background()
        return await asyncio.create_task(readers_task())  # the child copies this task's context

    queue = [asyncio.create_task(background()) for _ in range(8)]
    await asyncio.sleep(0)  # the queue has formed: the first piece holds the turn
    reader_waited = await asyncio.wait_for(background_reading_another_key(), 5)
    await asyncio.wait_for(asyncio.gather(*queue), 10)
    assert reader_waited < 0.09  # no turn, no rest: only the thread hop and the GIL beside the running piece
    # 8 pieces of 2 ms, each owing 0.1 s: one at a time they would need 0.8 s; none waited much past 0.1 s (the
    # event loop wakes a little late on a busy machine).
    assert len(waited) == 8 and max(waited) < 0.1 + 0.09


async def test_a_back_fill_of_a_closed_month_keeps_the_current_tables_bodies_and_token() -> None:
    figures = FakeFigures(months={OCTOBER: {"D1.X": FIGURES}, AUGUST: {"D2": FIGURES}})
    reader = ScoringReader(
        figures, FakeUnits(city_registry()), FakeProfiles(profile()), clock=lambda: NOW, refresh_s=0.01
    )
    bodies = ReadBodies()
    current, closed = resolve_period(OCTOBER, NOW), resolve_period(AUGUST, NOW)
    table = await reader.level_table("commune", current)
    ranking = await bodies.rankings(reader, "commune", current)
    closed_table = await reader.level_table("commune", closed)
    snapshot = await reader.live_snapshot()
    await asyncio.sleep(0.05)
    await bodies.idle()
    token = reader.token()

    figures.months[AUGUST]["D2"] = {**FIGURES, "received": 31}  # a back-filled batch of August
    reader.figures_changed([AUGUST])  # the current month is invalidated with every batch
    for _ in range(3):
        await reader.level_table("commune", current)
        await bodies.rankings(reader, "commune", current)
        await asyncio.sleep(0.03)
        await bodies.idle()

    assert await reader.level_table("commune", current) is table  # recomputed: the same figures, the same object
    assert await reader.live_snapshot() is snapshot
    assert await bodies.rankings(reader, "commune", current) is ranking
    assert reader.generation == token[0] + 1  # the invalidation announced once; no table or body replaced since
    assert await reader.level_table("commune", closed, fresh=True) is not closed_table  # August did change


def test_home_units_are_kept_per_registry_view_and_follow_a_new_registry() -> None:
    units = FakeUnits(city_registry())
    reader = ScoringReader(FakeFigures(), units, FakeProfiles(profile()), clock=lambda: NOW)
    assert sorted(reader.home_units_of("D1")) == ["D1", "D1.X"]
    reader.home_units_of("D1").append("changed by a caller")  # a copy: what is kept is not changed
    assert sorted(reader.home_units_of("D1")) == ["D1", "D1.X"]

    moved = [Unit("C", "Thành phố Hà Nội", UnitLevel.CITY, None), Unit("D1", "Quận Ba Đình", UnitLevel.DISTRICT, "C"),
             Unit("D2", "Quận Đống Đa", UnitLevel.DISTRICT, "C"),
             Unit("D1.X", "Phường Phúc Xá", UnitLevel.COMMUNE, "D2")]  # fmt: skip
    units.registry = UnitRegistry(moved)
    units.view = TreeView(units.registry)  # a registry change gives a new view
    assert reader.home_units_of("D1") == ["D1"] and sorted(reader.home_units_of("D2")) == ["D1.X", "D2"]
