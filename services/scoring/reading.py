"""What the scoring API and the indicators publisher read: counters, live figures, rates, points, score and rank.

Queries come from adapters/queries.py; the arithmetic (rates, points, score, rank) from the pure domain.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from services.scoring.adapters import queries
from services.scoring.adapters.queries import LiveFigures
from services.scoring.adapters.units import UnitDirectory
from services.scoring.domain.effective import (
    TreeView,
    month_first_day,
    roll_up_by_home,
    roll_up_month,
    units_of_level_in_month,
)
from services.scoring.domain.rank import RankedUnit, RankEntry, rank_units
from services.scoring.domain.score import ScoreCard, score_counters
from services.scoring.domain.timebase import month_end, month_label, month_of, parse_month, to_datetime, to_instant
from services.scoring.profile_store import ProfileStore
from services.scoring.read_cache import RefreshingCache
from shared.indicators import COUNTER_NAMES, UNIT_LEVELS, VIETNAM_TZ
from shared.units import Unit

log = logging.getLogger(__name__)
# A read table nobody waits for is recomputed at most once per this many seconds (read_cache.py): figures served
# are then at most about this old after a change, and a back-fill's many commits a second cost one recomputation.
BACKGROUND_REFRESH_S = 1.0


@dataclass(frozen=True, slots=True)
class Period:
    label: str
    month: int
    end: datetime
    is_current: bool

    @property
    def start(self) -> datetime:
        return to_datetime(month_end(self.month - 1))


def current_month(now: datetime) -> int:
    return month_of(to_instant(now))


def resolve_period(label: str | None, now: datetime) -> Period:
    """A period label (YYYY-MM) or None for the current month; ValueError when malformed."""
    month = current_month(now) if label is None else parse_month(label)
    return Period(month_label(month), month, to_datetime(month_end(month)), month == current_month(now))


def counters_with_live(stored: dict[str, int], live: LiveFigures, period: Period) -> dict[str, int]:
    counters = {name: int(stored.get(name, 0)) for name in COUNTER_NAMES}
    if period.is_current:
        counters["progress_on_time"] += live.progress_correction
    return counters


def live_json(live: LiveFigures, now: datetime) -> dict[str, Any]:
    return {"open": live.open, "overdue_open": live.overdue_open, "due_soon": live.due_soon, "as_of": now.isoformat()}


def roll_up_live(by_home_unit: Mapping[str, LiveFigures], view: TreeView, day: date) -> dict[str, LiveFigures]:
    """Each unit's live figures including its subtree and the units retired into it (SPEC §1), from the figures
    of the dossiers' home units, resolved on `day`."""
    rolled = roll_up_by_home(
        {home: (f.open, f.overdue_open, f.due_soon, f.progress_correction) for home, f in by_home_unit.items()},
        view,
        day,
    )
    return {unit_id: LiveFigures(*figures) for unit_id, figures in rolled.items()}


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """Live figures of every unit (subtree included) at one instant."""

    now: datetime
    by_unit: dict[str, LiveFigures]
    received_today: int = 0
    """Dossiers received city-wide since the start of `now`'s day (Vietnam time)."""


def groups_json(card: ScoreCard) -> dict[str, Any]:
    """SPEC §6: a group none of whose indicators has a rate has points null."""
    return {key: {"points": group.points, "max": group.max} for key, group in card.groups.items()}


LevelTable = tuple[list[RankedUnit], dict[str, "UnitFigures"]]
"""A level's units in rank order (those that exist in the period), and every unit's figures."""


class _Table(tuple):  # type: ignore[type-arg]
    """A LevelTable that knows the instant of the live figures in it (`as_of`), shown as `live.as_of`."""

    as_of: datetime


def table_as_of(table: LevelTable, default: datetime) -> datetime:
    return getattr(table, "as_of", default)


@dataclass(frozen=True, slots=True)
class UnitFigures:
    """One unit's figures for a period: counters (live correction included), score card, live counters, rank."""

    counters: dict[str, int]
    card: ScoreCard
    live: LiveFigures
    ranked: RankedUnit | None
    """None when the unit does not exist in the period (it is then not listed in the period's rankings)."""


class ScoringReader:
    def __init__(
        self,
        pool: asyncpg.Pool,
        directory: UnitDirectory,
        profiles: ProfileStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ranking_ttl_s: float = 30.0,
        live_tick_s: float = 5.0,
    ) -> None:
        self.pool = pool
        self.directory = directory
        self.profiles = profiles
        self.clock = clock
        # Read tables (read_cache.py): a month's figures of every unit, a level's ranked table per period, the live
        # figures. Invalidated by committed batches (this process's and, through NOTIFY, the others'); served while
        # recomputed; `ranking_ttl_s` bounds the age of a table nothing invalidated.
        self._months: RefreshingCache[str, dict[str, dict[str, int]]] = RefreshingCache(
            self._compute_month, max_age_s=ranking_ttl_s, background_interval_s=BACKGROUND_REFRESH_S
        )
        self._tables: RefreshingCache[tuple[str, str], LevelTable] = RefreshingCache(
            self._compute_table, max_age_s=ranking_ttl_s, background_interval_s=BACKGROUND_REFRESH_S
        )
        # Live figures (overdue, due soon) depend on the time: they are computed as of the start of a tick of
        # `live_tick_s` seconds, so that every process shows the same figures (and ETags) for the same tick.
        self._tick_s = live_tick_s
        self._tick: int | None = None
        self._live: RefreshingCache[str, LiveSnapshot] = RefreshingCache(
            self._compute_live, max_age_s=min(ranking_ttl_s, 60.0), background_interval_s=BACKGROUND_REFRESH_S
        )
        directory.on_change.append(self.figures_changed)  # a new registry: no table built on the old one is served

    def figures_changed(self, months: Iterable[str] | None = None) -> None:
        """Committed figures changed: of `months` (labels), or of everything (None: after a registry change, when
        the tables are dropped rather than served stale). Live figures and the current month's tables change with
        any batch."""
        current = month_label(current_month(self.clock()))
        if months is None:  # the registry (names, tree, successors) may have changed: nothing old is served
            for cache in (self._months, self._tables, self._live):
                cache.clear()
            return
        self._live.invalidate(eager=False)  # recomputed when read (the publisher reads it every interval)
        labels = {*months, current}
        self._months.invalidate(labels, eager=False)  # the tables' refresh waits for their month's
        # The current month's tables are what most readers ask for: recomputed now (at most once a second); a past
        # month's when next read (a back-fill touches many months with every batch).
        computed = self._tables.computed_keys()
        self._tables.invalidate([key for key in computed if key[1] == current])
        self._tables.invalidate([key for key in computed if key[1] in labels and key[1] != current], eager=False)

    async def _compute_month(self, label: str) -> dict[str, dict[str, int]]:
        view = self.directory.view
        async with self.pool.acquire() as conn:
            own = await queries.month_own_counters(conn, label)
        return roll_up_month(own, view, parse_month(label))

    def _advance_tick(self) -> None:
        """At a new tick, the live figures and the current month's tables are recomputed (served stale meanwhile)."""
        tick = int(self.clock().timestamp() // self._tick_s)
        if tick == self._tick:
            return
        first, self._tick = self._tick is None, tick
        if not first:
            current = month_label(current_month(self.clock()))
            self._live.invalidate()
            self._tables.invalidate([key for key in self._tables.computed_keys() if key[1] == current])

    async def _compute_live(self, _: str) -> LiveSnapshot:
        now = self.clock()
        tick_start = now.timestamp() // self._tick_s * self._tick_s
        return await self._compute_live_at(datetime.fromtimestamp(tick_start, UTC))

    async def _compute_live_at(self, now: datetime) -> LiveSnapshot:
        view = self.directory.view
        local = now.astimezone(VIETNAM_TZ)
        async with self.pool.acquire() as conn:
            by_home = await queries.live_by_home_unit(conn, now, to_datetime(month_end(current_month(now))))
            day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
            received_today = await queries.received_since(conn, day_start)
        return LiveSnapshot(now, roll_up_live(by_home, view, local.date()), received_today)

    async def month_figures(self, period: Period, *, fresh: bool = False) -> dict[str, dict[str, int]]:
        """Every unit's stored counters for the period, subtrees and successors included (domain/effective.py)."""
        if fresh:
            self._months.invalidate([period.label], eager=False)
        return await self._months.get(period.label, wait=fresh)

    async def live_snapshot(self, *, fresh: bool = False) -> LiveSnapshot:
        """Live figures of all units from one pass over the open dossiers: as of the current tick from the read
        cache, or (`fresh`) computed now for the caller (a publication, a notice)."""
        if fresh:
            return await self._compute_live_at(self.clock())
        self._advance_tick()
        return await self._live.get("live")

    async def warm_up(self, months: int = 13) -> None:
        """Compute the tables of every level for the last `months` months (start-up, in the background)."""
        last = current_month(self.clock())
        try:
            for month in range(last, last - months, -1):
                for level in UNIT_LEVELS:
                    await self._tables.get((level, month_label(month)), reader=False)
        except Exception as error:  # tables are then computed on first read
            log.warning("warming up the read tables failed: %s", error)

    async def unit(self, unit_id: str) -> Unit | None:
        found = self.directory.registry.get(unit_id)
        if found is None and await self.directory.refresh_if_stale():
            found = self.directory.registry.get(unit_id)
        return found

    def home_units_of(self, unit_id: str) -> list[str]:
        """Home units whose open dossiers count for `unit_id` today: its subtree and the units retired into it."""
        view = self.directory.view
        today = self.clock().astimezone(VIETNAM_TZ).date()
        return [u.unit_id for u in self.directory.registry if unit_id in view.owners(u.unit_id, today)]

    async def level_table(
        self, level: str, period: Period, *, fresh: bool = False, live: LiveSnapshot | None = None
    ) -> LevelTable:
        """Every unit of a level with its figures for a period; the ones that exist in the period ranked (SPEC §5).

        From the read cache; `fresh=True` waits for a table computed from the database as it is now (the publisher
        right after its own batch, the monthly notice), on the `live` snapshot given (one snapshot for every table
        of a publication or a notice) — such a table is computed for the caller, not cached.
        """
        key = (level, period.label)
        if fresh and live is not None:
            return await self._compute_table(key, live)
        if fresh:
            self._tables.invalidate([key], eager=False)
        else:
            self._advance_tick()
        return await self._tables.get(key, wait=fresh)

    async def _compute_table(self, key: tuple[str, str], live: LiveSnapshot | None = None) -> LevelTable:
        level, label = key
        period = resolve_period(label, self.clock())
        registry = self.directory.registry
        month = await self._months.get(label, wait=True)  # current as of the last invalidation
        live_by_unit: Mapping[str, LiveFigures] = {}
        as_of = self.clock()
        if period.is_current:
            snapshot = live if live is not None else await self._live.get("live", wait=True)
            live_by_unit, as_of = snapshot.by_unit, snapshot.now
        profile = self.profiles.current()
        existing = set(units_of_level_in_month(registry, level, period.month))
        computed: dict[str, tuple[dict[str, int], ScoreCard, LiveFigures]] = {}
        for unit in registry:
            if str(unit.level) != level:
                continue
            unit_live = live_by_unit.get(unit.unit_id, LiveFigures())
            counters = counters_with_live(month.get(unit.unit_id, {}), unit_live, period)
            computed[unit.unit_id] = (counters, score_counters(counters, profile), unit_live)
        ranked = rank_units(
            (
                RankEntry(uid, card.score, card.rates.get("progress_rate"), counters["progress_total"])
                for uid, (counters, card, _) in computed.items()
                if uid in existing
            ),
            min_dossiers=profile.min_dossiers,
        )
        by_id = {entry.unit_id: entry for entry in ranked}
        details = {
            uid: UnitFigures(counters, card, unit_live, by_id.get(uid))
            for uid, (counters, card, unit_live) in computed.items()
        }
        table = _Table((ranked, details))
        table.as_of = as_of
        return table

    async def indicator_sources(self, unit: Unit, period: Period) -> tuple[LevelTable, LiveSnapshot]:
        """What a unit's indicators are built from: its level's table and the live snapshot (both read tables)."""
        table = await self.level_table(str(unit.level), period)
        if unit.unit_id not in table[1]:  # the registry changed since the table was built
            table = await self.level_table(str(unit.level), period, fresh=True)
        return table, await self.live_snapshot()

    async def indicators(
        self, unit: Unit, period: Period, sources: tuple[LevelTable, LiveSnapshot] | None = None
    ) -> dict[str, Any]:
        table, snapshot = sources if sources is not None else await self.indicator_sources(unit, period)
        ranked, details = table
        mine = details[unit.unit_id]
        if period.is_current:  # the table's live figures, of the instant they were computed for
            live, now = mine.live, table_as_of(table, snapshot.now)
        else:
            live, now = snapshot.by_unit.get(unit.unit_id, LiveFigures()), snapshot.now
        entry = mine.ranked
        return {
            "unit_id": unit.unit_id,
            "name": unit.name,
            "level": str(unit.level),
            "period": period.label,
            "counters": mine.counters,
            "live": live_json(live, now),
            "rates": mine.card.rates,
            "groups": groups_json(mine.card),
            "points": mine.card.points,
            "score": mine.card.score,
            "rank": entry.rank if entry else None,
            "rank_of": entry.rank_of if entry else sum(1 for r in ranked if r.rank is not None),
            "unranked_reason": (entry.unranked_reason if entry else "not_in_period"),
            "exists_in_period": entry is not None,
        }

    async def rankings(self, level: str, period: Period, *, table: LevelTable | None = None) -> dict[str, Any]:
        ranked, details = table if table is not None else await self.level_table(level, period)
        items = []
        for entry in ranked:
            unit = self.directory.registry.get(entry.unit_id)
            figures = details[entry.unit_id]
            items.append(
                {
                    "rank": entry.rank,
                    "unit_id": entry.unit_id,
                    "name": unit.name if unit else entry.unit_id,
                    "score": figures.card.score,
                    "rates": figures.card.rates,
                    "groups": groups_json(figures.card),
                    "progress_total": figures.counters["progress_total"],
                    "unranked_reason": entry.unranked_reason,
                    "overdue_open": figures.live.overdue_open if period.is_current else None,
                }
            )
        rank_of = sum(1 for entry in ranked if entry.rank is not None)
        return {"level": level, "period": period.label, "rank_of": rank_of,
                "min_dossiers": self.profiles.current().min_dossiers, "items": items}  # fmt: skip

    async def history_sources(self, months: int) -> tuple[Any, ...]:
        """What a history is built from: the live snapshot, the score profile and each month's figures."""
        snapshot = await self.live_snapshot()
        last = current_month(snapshot.now)
        figures = [await self.month_figures(resolve_period(month_label(m), snapshot.now))
                   for m in range(last - months + 1, last + 1)]  # fmt: skip
        return (snapshot, self.profiles.current(), *figures)

    async def history(self, unit: Unit, months: int, sources: tuple[Any, ...] | None = None) -> dict[str, Any]:
        snapshot, profile, *figures_by_month = sources if sources is not None else await self.history_sources(months)
        now = snapshot.now
        last = current_month(now)
        live = snapshot.by_unit.get(unit.unit_id, LiveFigures())
        items = []
        for month, figures in zip(range(last - months + 1, last + 1), figures_by_month, strict=True):
            period = resolve_period(month_label(month), now)
            counters = counters_with_live(figures.get(unit.unit_id, {}), live, period)
            card = score_counters(counters, profile)
            first, end = month_first_day(month), month_first_day(month + 1)
            items.append({"period": period.label, "counters": counters, "rates": card.rates, "score": card.score,
                          "groups": groups_json(card), "exists": unit.exists_during(first, end)})  # fmt: skip
        return {"unit_id": unit.unit_id, "name": unit.name, "months": items}

    async def summary(self, period: Period, sources: tuple[LevelTable, LiveSnapshot] | None = None) -> dict[str, Any]:
        city = self.directory.registry.city
        if city is None:
            return {"period": period.label, "unit_id": None}
        if sources is None:
            sources = await self.indicator_sources(city, period)
        figures = await self.indicators(city, period, sources)
        counters = figures["counters"]
        figures["dashboard"] = {
            "received_today": sources[1].received_today,
            "received_this_month": counters["received"],
            "in_progress": figures["live"]["open"],
            "resolved_this_month": counters["resolved"],
            "overdue": figures["live"]["overdue_open"],
            "due_soon": figures["live"]["due_soon"],
        }
        return figures
