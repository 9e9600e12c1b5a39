"""The to-do list (service/actions.py) and the unit-indicators publisher (service/publisher.py) on hand-written fakes
of their interfaces: dossiers in a list, figures in memory, a message sink that keeps what it is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import orjson
import pytest

from services.scoring.domain.live import LiveFigures
from services.scoring.service.actions import ActionsReader
from services.scoring.service.publisher import PUBLISH_LOAD_FACTOR, IndicatorsPublisher
from services.scoring.service.reading import ScoringReader
from services.scoring.service.unit_gauges import UnitGaugeExporter
from shared.indicators import UnitIndicators
from tests.unit.scoring.read_fakes import (
    NOW,
    Dossier,
    FakeDossiers,
    FakeFigures,
    FakeGauges,
    FakeProfiles,
    FakeSink,
    FakeUnits,
    city_registry,
    profile,
)

pytestmark = pytest.mark.unit

IN_PLAY = {"received": 30, "progress_total": 30, "progress_on_time": 25, "events": 5, "events_timely": 5}


def reader_on(figures: FakeFigures) -> ScoringReader:
    return ScoringReader(figures, FakeUnits(city_registry()), FakeProfiles(profile()), clock=lambda: NOW)


def dossiers() -> FakeDossiers:
    return FakeDossiers(
        [
            Dossier("late", "D1.X", NOW - timedelta(days=1)),
            Dossier("today", "D1.X", NOW + timedelta(hours=3)),
            Dossier("tomorrow", "D1", NOW + timedelta(days=1)),
            Dossier("later", "D1.X", NOW + timedelta(days=6)),
            Dossier("held", "D1.X", NOW + timedelta(hours=2), on_hold=True),
            Dossier("elsewhere", "D2", NOW + timedelta(hours=1)),
        ]
    )


async def test_the_to_do_list_buckets_a_units_subtree_by_urgency_and_pages_with_a_cursor() -> None:
    reader = reader_on(FakeFigures(months={"2026-10": {"D1.X": IN_PLAY}}))
    actions = ActionsReader(reader, dossiers())
    d1 = reader.directory.registry.get("D1")

    page = await actions.todo(d1, "all", 2, None)
    assert page["totals"] == {"due_today": 1, "due_tomorrow": 1, "due_this_month": 1, "overdue": 1}
    assert page["total"] == 4 and page["progress_total"] == 30
    assert [(item["dossier_id"], item["bucket"]) for item in page["items"]] == [
        ("today", "due_today"),
        ("tomorrow", "due_tomorrow"),
    ]
    assert page["items"][0]["unit_name"] == "Phường Phúc Xá"
    assert page["items"][0]["progress_points"] > 0

    rest = await actions.todo(d1, "all", 2, page["next_cursor"])
    assert [(item["dossier_id"], item["bucket"]) for item in rest["items"]] == [
        ("later", "due_this_month"),
        ("late", "overdue"),
    ]
    assert rest["items"][1]["score_gain"] is None  # an overdue dossier cannot be on time any more

    overdue = await actions.todo(d1, "overdue", 10, None)
    assert [item["dossier_id"] for item in overdue["items"]] == ["late"] and overdue["total"] == 1


async def test_a_level_forecast_is_computed_once_per_version_of_the_read_tables() -> None:
    figures = FakeFigures(months={"2026-10": {"D1.X": IN_PLAY}})
    reader = reader_on(figures)
    actions = ActionsReader(reader, dossiers(), forecast_refresh_s=0)  # no stale answers (sourced.py's tests)
    unit = reader.directory.registry.get("D1.X")

    first = await actions.level_forecast("commune")
    assert await actions.level_forecast("commune") is first  # nothing changed: the same computation
    assert (await actions.forecast(unit))["current"] == actions.forecast_of(unit, first)["current"]

    figures.months["2026-10"]["D1.X"] = {**IN_PLAY, "received": 31}
    reader.figures_changed(["2026-10"])  # a committed batch: the month's figures are read again
    await reader.month_figures(first.period, fresh=True)  # what the background refresh does (read_cache.py)
    generation = reader.generation
    changed = await actions.level_forecast("commune")
    assert reader.generation > generation  # a new forecast: responses kept under the old token are not served
    assert changed is not first and changed.computed["D1.X"].current.counters["received"] == 31
    assert await actions.level_forecast("commune") is changed


async def test_open_dossiers_say_which_are_held_late_or_due_soon() -> None:
    actions = ActionsReader(reader_on(FakeFigures()), dossiers())
    page = await actions.open_dossiers(actions.reader.directory.registry.get("D1"), 10, None)
    assert (page["total"], page["on_hold"]) == (5, 1)
    assert {item["dossier_id"]: item["status"] for item in page["items"]} == {
        "late": "overdue",
        "held": "on_hold",
        "today": "due_soon",
        "tomorrow": "in_time",
        "later": "in_time",
    }
    assert page["next"] is None


async def test_publishing_sends_one_valid_message_per_unit_keyed_by_unit_id() -> None:
    figures = FakeFigures(
        months={"2026-10": {"D1.X": IN_PLAY, "D2": IN_PLAY}, "2026-09": {"D2": {"progress_total": 10}}},
        live={"D1.X": LiveFigures(open=3, overdue_open=1)},
    )
    reader = reader_on(figures)
    sink = FakeSink()
    publisher = IndicatorsPublisher(reader, sink, interval_s=0.0)

    await publisher.publish_units(["D1.X", "D2", "NO.SUCH.UNIT"])

    assert sorted(key for key, _ in sink.sent) == ["D1.X", "D2"]
    messages = {key: UnitIndicators.model_validate_json(value) for key, value in sink.sent}
    commune, district = messages["D1.X"], messages["D2"]
    assert commune.ancestors == ["D1", "C"] and district.ancestors == ["C"]
    assert (commune.live.open, commune.live.overdue_open, commune.period) == (3, 1, "2026-10")
    assert commune.counters.received == 30 and commune.rank == 1 and commune.rank_of == 1
    assert district.previous_score is not None and commune.previous_score is None
    assert publisher.published == 2

    # The gauges of /metrics come from the read tables, not from what was published: every unit with figures.
    gauges = FakeGauges()
    assert await UnitGaugeExporter(reader, gauges).refresh() == len(gauges.rows)
    assert gauges.rows["D1.X"].score == commune.score and gauges.rows["D2"].score == district.score
    assert dict(gauges.rows["D1.X"].live) == {"open": 3, "overdue_open": 1, "due_soon": commune.live.due_soon}
    assert gauges.rows["D1.X"].level == "commune" and gauges.rows["D2"].level == "district"
    # The message's JSON carries the timestamps as RFC 3339 (alerts parse them back).
    assert orjson.loads(sink.sent[0][1])["computed_at"].endswith("Z")


async def test_messages_say_catching_up_and_the_units_are_published_again_once_caught_up() -> None:
    figures = FakeFigures(months={"2026-10": {"D1.X": IN_PLAY, "D2": IN_PLAY}})
    sink = FakeSink()
    publisher = IndicatorsPublisher(reader_on(figures), sink, interval_s=0.0)

    publisher.mark({"D1.X", "D2"}, {"2026-10"}, catching_up=True)  # a batch of events ingested long ago
    await publisher.publish_units(["D1.X", "D2"])
    assert {key: UnitIndicators.model_validate_json(value).catching_up for key, value in sink.sent} == {
        "D1.X": True,
        "D2": True,
    }

    sink.sent.clear()
    publisher.mark({"D2"}, catching_up=None)  # a re-driven dead letter: the state is unchanged
    assert publisher.catching_up is True
    publisher.mark(set(), catching_up=False)  # a batch of fresh events: caught up
    assert publisher.catching_up is False
    assert publisher._dirty == {"D1.X", "D2"}  # both are due their settled figures, not only the one marked
    await publisher.publish_units(sorted(publisher._dirty))
    assert {key: UnitIndicators.model_validate_json(value).catching_up for key, value in sink.sent} == {
        "D1.X": False,
        "D2": False,
    }


class SlowSink(FakeSink):
    """A producer that takes `delay_s` per publication, recording when each one started."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.started: list[float] = []
        self.published = asyncio.Event()

    async def publish(self, messages: Sequence[tuple[str, bytes]]) -> None:
        self.started.append(asyncio.get_running_loop().time())
        await asyncio.sleep(self.delay_s)
        await super().publish(messages)
        self.published.set()


async def test_publications_that_take_long_are_spaced_by_twice_their_duration() -> None:
    """Under a continuous stream of commits, publishing (the live figures re-read over every open dossier) must not
    run back to back: the next starts no sooner than twice the last one's duration after it, interval or not."""
    figures = FakeFigures(months={"2026-10": {"D1.X": IN_PLAY, "D2": IN_PLAY}})
    sink = SlowSink(delay_s=0.05)
    publisher = IndicatorsPublisher(reader_on(figures), sink, interval_s=0.0)
    publisher.start()
    try:
        for unit in ("D1.X", "D2"):
            publisher.mark({unit}, {"2026-10"})
            await asyncio.wait_for(sink.published.wait(), timeout=5)
            sink.published.clear()
    finally:
        await publisher.stop()
    assert [key for key, _ in sink.sent] == ["D1.X", "D2"]
    assert sink.started[1] - sink.started[0] >= PUBLISH_LOAD_FACTOR * sink.delay_s * 0.99


async def publish_twice(
    publisher: IndicatorsPublisher, sink: SlowSink, figures: FakeFigures, second_catching_up: bool | None
) -> float:
    """Two publications, the first of a catching-up batch; the second unit marked right after it with the given
    state. The seconds between the two publications' starts: their live reads, where the publisher's spacing is
    counted from (the sink is called after the figures are built, which under load takes longer the first time)."""
    publisher.start()
    try:
        publisher.mark({"D1.X"}, {"2026-10"}, catching_up=True)
        await asyncio.wait_for(sink.published.wait(), timeout=5)
        sink.published.clear()
        publisher.mark({"D2"}, {"2026-10"}, catching_up=second_catching_up)
        await asyncio.wait_for(sink.published.wait(), timeout=5)
    finally:
        await publisher.stop()
    assert len(figures.live_read_at) >= 2
    return figures.live_read_at[-1] - figures.live_read_at[-2]


async def test_while_catching_up_publications_are_spaced_by_the_catching_up_interval() -> None:
    """A back-fill's publications (each a scan of every open dossier) at most every `catching_up_interval_s`, not
    every `interval_s`; a batch of fresh events (caught up) is published without waiting for it."""
    figures = FakeFigures(months={"2026-10": {"D1.X": IN_PLAY, "D2": IN_PLAY}})
    sink = SlowSink(delay_s=0.0)
    still = IndicatorsPublisher(reader_on(figures), sink, interval_s=0.0, catching_up_interval_s=0.5)
    assert await publish_twice(still, sink, figures, second_catching_up=True) >= 0.5 * 0.99

    sink = SlowSink(delay_s=0.0)
    caught_up = IndicatorsPublisher(reader_on(figures), sink, interval_s=0.0, catching_up_interval_s=5.0)
    assert await publish_twice(caught_up, sink, figures, second_catching_up=False) < 2.0
    # The second publication carries the settled figures of both units (D1.X was published as catching up).
    settled = {key: UnitIndicators.model_validate_json(value).catching_up for key, value in sink.sent[1:]}
    assert settled == {"D1.X": False, "D2": False}


async def test_while_catching_up_publications_are_spaced_by_their_duration_times_the_load_factor() -> None:
    """A CPU budget for a back-fill's publications: when a publication takes long (the live figures' read over a
    large table), the next catching-up one waits `catching_up_load_factor` times as long, not just the fixed
    interval; a caught-up batch still cuts the wait short."""
    figures = FakeFigures(months={"2026-10": {"D1.X": IN_PLAY, "D2": IN_PLAY}})
    sink = SlowSink(delay_s=0.05)
    budgeted = IndicatorsPublisher(
        reader_on(figures), sink, interval_s=0.0, catching_up_interval_s=0.01, catching_up_load_factor=10.0
    )
    assert await publish_twice(budgeted, sink, figures, second_catching_up=True) >= 10.0 * 0.05 * 0.99

    sink = SlowSink(delay_s=0.05)
    caught_up = IndicatorsPublisher(
        reader_on(figures), sink, interval_s=0.0, catching_up_interval_s=0.01, catching_up_load_factor=200.0
    )
    assert await publish_twice(caught_up, sink, figures, second_catching_up=False) < 2.0


async def test_while_catching_up_the_budgets_spacing_has_a_ceiling() -> None:
    """`took` is wall time (a stalled database lengthens it): the budget never spaces publications more than
    `catching_up_max_spacing_s` apart."""
    figures = FakeFigures(months={"2026-10": {"D1.X": IN_PLAY, "D2": IN_PLAY}})
    sink = SlowSink(delay_s=0.05)
    capped = IndicatorsPublisher(
        reader_on(figures), sink, interval_s=0.0, catching_up_interval_s=0.01, catching_up_load_factor=1000.0,
        catching_up_max_spacing_s=0.2,
    )  # fmt: skip
    assert 0.2 * 0.99 <= await publish_twice(capped, sink, figures, second_catching_up=True) < 5.0
