"""The typed views of the read tables (read_model.py): a unit's indicators, a level's rankings, a unit's history,
the city's summary, the unit tree. Pure: built from a level table, a live snapshot and the registry, once per
version of those (the read bodies that show them are cached by their identity, entrypoints/read_bodies.py), never
per request. The models are validated when built, as the `unit-indicators` message built from them always was; a
level's rankings reuse the items of the units that did not change (RankingsBuilder).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from services.scoring.domain.effective import month_first_day
from services.scoring.domain.live import LiveFigures
from services.scoring.domain.profile import ScoreProfile
from services.scoring.domain.score import ScoreCard, score_counters
from services.scoring.domain.timebase import month_label
from services.scoring.service.periods import (
    LevelTable,
    LiveSnapshot,
    Period,
    counters_with_live,
    current_month,
    resolve_period,
    table_as_of,
)
from services.scoring.service.read_model import (
    Dashboard,
    GroupPoints,
    History,
    HistoryMonth,
    Indicators,
    RankingItem,
    Rankings,
    Summary,
    UnitNode,
    UnitTree,
)
from shared.indicators import Counters, LiveCounters, Rates
from shared.units import Unit, UnitRegistry


def groups_of(card: ScoreCard) -> dict[str, GroupPoints]:
    """SPEC §6: a group none of whose indicators has a rate has points null."""
    return {key: GroupPoints(points=group.points, max=group.max) for key, group in card.groups.items()}


def live_counters(live: LiveFigures, now: datetime) -> LiveCounters:
    return LiveCounters(open=live.open, overdue_open=live.overdue_open, due_soon=live.due_soon, as_of=now)


def indicators_view(unit: Unit, period: Period, table: LevelTable, snapshot: LiveSnapshot) -> Indicators:
    """A unit's figures for a period from its level's table; the live counters of a past month are today's."""
    ranked, details = table
    mine = details[unit.unit_id]
    if period.is_current:  # the table's live figures, of the instant they were computed for
        live, now = mine.live, table_as_of(table, snapshot.now)
    else:
        live, now = snapshot.by_unit.get(unit.unit_id, LiveFigures()), snapshot.now
    entry = mine.ranked
    card = mine.card
    return Indicators(
        unit_id=unit.unit_id,
        name=unit.name,
        level=str(unit.level),
        period=period.label,
        counters=Counters(**mine.counters),
        live=live_counters(live, now),
        rates=Rates(**card.rates),
        groups=groups_of(card),
        points=card.points,
        score=card.score,
        rank=entry.rank if entry else None,
        rank_of=entry.rank_of if entry else sum(1 for r in ranked if r.rank is not None),
        unranked_reason=entry.unranked_reason if entry else "not_in_period",
        exists_in_period=entry is not None,
    )


RankingsBody = dict[str, Any]
"""A Rankings model's dumped form (what the API serialises, and pages)."""


class RankingsBuilder:
    """Builds a level's Rankings, reusing a unit's item — the model and its dumped form — while its values stay
    the same. A table is rebuilt on every change of its month, a change touches few units, and building hundreds
    of pydantic models each time would cost several times what building the plain values costs."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], dict[tuple[object, ...], tuple[RankingItem, dict[str, Any]]]] = {}

    def build(
        self, level: str, period: Period, table: LevelTable, registry: UnitRegistry, min_dossiers: int
    ) -> tuple[Rankings, RankingsBody]:
        ranked, details = table
        previous = self._items.get((level, period.label), {})
        kept: dict[tuple[object, ...], tuple[RankingItem, dict[str, Any]]] = {}
        for entry in ranked:
            unit = registry.get(entry.unit_id)
            figures = details[entry.unit_id]
            card = figures.card
            values = (
                entry.unit_id,
                entry.rank,
                entry.unranked_reason,
                unit.name if unit else entry.unit_id,
                card.score,
                tuple(card.rates.items()),
                tuple((key, group.points, group.max) for key, group in card.groups.items()),
                figures.counters["progress_total"],
                figures.live.overdue_open if period.is_current else None,
            )
            found = previous.get(values)
            if found is None:
                item = _ranking_item(values)
                found = (item, item.model_dump())
            kept[values] = found
        self._items[(level, period.label)] = kept
        items = [kept_item for kept_item, _ in kept.values()]
        rank_of = sum(1 for entry in ranked if entry.rank is not None)
        # The items are validated models already: the list is assembled, not validated again.
        rankings = Rankings.model_construct(
            level=level, period=period.label, rank_of=rank_of, min_dossiers=min_dossiers, items=items, next_cursor=None
        )
        head = rankings.model_dump(exclude={"items"})
        dumped = [item_body for _, item_body in kept.values()]
        body = {name: dumped if name == "items" else head[name] for name in Rankings.model_fields}
        return rankings, body


def _ranking_item(values: tuple[object, ...]) -> RankingItem:
    unit_id, rank, unranked_reason, name, score, rates, groups, progress_total, overdue_open = values
    return RankingItem(
        rank=rank,
        unit_id=unit_id,
        name=name,
        score=score,
        rates=Rates(**dict(rates)),  # type: ignore[call-overload]
        groups={key: GroupPoints(points=points, max=maximum) for key, points, maximum in groups},  # type: ignore[attr-defined]
        progress_total=progress_total,
        unranked_reason=unranked_reason,
        overdue_open=overdue_open,
    )  # type: ignore[arg-type]


def rankings_view(level: str, period: Period, table: LevelTable, registry: UnitRegistry, min_dossiers: int) -> Rankings:
    """A level's units in rank order: the ranked ones, then the unranked ones (SPEC §5)."""
    return RankingsBuilder().build(level, period, table, registry, min_dossiers)[0]


def history_view(unit: Unit, months: int, sources: tuple[object, ...]) -> History:
    """The unit's last `months` months from ScoringReader.history_sources (snapshot, profile, figures by month)."""
    snapshot, profile, *figures_by_month = sources
    assert isinstance(snapshot, LiveSnapshot) and isinstance(profile, ScoreProfile)
    now = snapshot.now
    last = current_month(now)
    live = snapshot.by_unit.get(unit.unit_id, LiveFigures())
    items = []
    for month, figures in zip(range(last - months + 1, last + 1), figures_by_month, strict=True):
        period = resolve_period(month_label(month), now)
        counters = counters_with_live(figures.get(unit.unit_id, {}), live, period)  # type: ignore[attr-defined]
        card = score_counters(counters, profile)
        first, end = month_first_day(month), month_first_day(month + 1)
        items.append(
            HistoryMonth(
                period=period.label,
                counters=Counters(**counters),
                rates=Rates(**card.rates),
                score=card.score,
                groups=groups_of(card),
                exists=unit.exists_during(first, end),
            )
        )
    return History(unit_id=unit.unit_id, name=unit.name, months=items)


def summary_view(city: Unit, period: Period, table: LevelTable, snapshot: LiveSnapshot) -> Summary:
    """The city's indicators with the counts a live dashboard shows."""
    figures = indicators_view(city, period, table, snapshot)
    counters, live = figures.counters, figures.live
    dashboard = Dashboard(
        received_today=snapshot.received_today,
        received_this_month=counters.received,
        in_progress=live.open,
        resolved_this_month=counters.resolved,
        overdue=live.overdue_open,
        due_soon=live.due_soon,
    )
    return Summary(**dict(figures), dashboard=dashboard)


def unit_tree(registry: UnitRegistry, units: Iterable[Unit] | None = None) -> UnitTree:
    return UnitTree(
        items=[
            UnitNode(
                unit_id=u.unit_id,
                name=u.name,
                level=str(u.level),
                parent_id=u.parent_id,
                children=registry.children(u.unit_id),
                valid_from=u.valid_from,
                valid_to=u.valid_to,
                successor_id=u.successor_id,
                predecessors=registry.predecessors(u.unit_id),
            )
            for u in (registry if units is None else units)
        ]
    )
