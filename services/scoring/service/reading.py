"""The read tables of the scoring API and the indicators publisher: counters, live figures, score and rank.

Figures come from a FiguresRepository (adapters/queries.py), the registry from a UnitsView (adapters/units.py);
the arithmetic (roll-ups, rates, points, score, rank) is the pure domain's. The tables are cached and refreshed
as figures change (read_cache.py); the typed views built from them are in read_views.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import NamedTuple

from services.scoring.domain.effective import (
    OwnCounters,
    TreeView,
    patch_month_roll_up,
    roll_up_month,
    units_of_level_in_month,
)
from services.scoring.domain.live import LiveFigures, roll_up_live
from services.scoring.domain.profile import ScoreProfile
from services.scoring.domain.rank import RankEntry, rank_units
from services.scoring.domain.score import ScoreCard, score_counters
from services.scoring.domain.timebase import month_end, month_label, parse_month, to_datetime
from services.scoring.service.periods import (
    LevelTable,
    LiveSnapshot,
    Period,
    UnitFigures,
    counters_with_live,
    current_month,
    resolve_period,
)
from services.scoring.service.read_cache import RefreshingCache
from services.scoring.service.read_ports import Clock, FiguresRepository, ProfileSource, UnitsView
from services.scoring.service.refresh_budget import RefreshBudget
from shared.indicators import UNIT_LEVELS, VIETNAM_TZ
from shared.units import Unit, UnitRegistry

log = logging.getLogger(__name__)
# A read table nobody waits for is recomputed at most once per this many seconds (read_cache.py): figures served
# are then at most about this old after a change, and a back-fill's many commits a second cost one recomputation.
# The default; READ_REFRESH_S sets it per process (the stack's API process refreshes faster, settings.py).
BACKGROUND_REFRESH_S = 1.0


class ScoringReader:
    """The read tables (a month's figures of every unit, a level's ranked table, the live figures) and what is
    read from them; the typed views of a unit or a level are built by service/read_views.py."""

    def __init__(
        self,
        figures: FiguresRepository,
        directory: UnitsView,
        profiles: ProfileSource,
        clock: Clock = lambda: datetime.now(UTC),
        ranking_ttl_s: float = 30.0,
        live_tick_s: float = 5.0,
        refresh_s: float = BACKGROUND_REFRESH_S,
        on_fresh: Callable[[str, float], None] | None = None,
        token_min_s: float = 0.0,
        budget: RefreshBudget | None = None,
    ) -> None:
        self.figures = figures
        # The CPU the background refreshes of this process's read tables and bodies may take (refresh_budget.py):
        # every table computation below, and the bodies built from them (read_bodies.py), are counted in it.
        self.budget = budget if budget is not None else RefreshBudget()
        self.directory = directory
        self.profiles = profiles
        self.clock = clock
        # Read tables (read_cache.py): a month's figures of every unit, a level's ranked table per period, the live
        # figures. Invalidated by committed batches (this process's and, through NOTIFY, the others'); served while
        # recomputed; `ranking_ttl_s` bounds the age of a table nothing invalidated.
        # Raised whenever what a reader may be served changes: a table stored, an invalidation, a new tick, a new
        # registry. A response kept with the token of its time (entrypoints/ready_responses.py) is current while
        # `token()` is the same.
        self.generation = 0
        # Changes of `generation` are spaced by `token_min_s` (READ_TOKEN_MIN_S): a change within that time of the
        # last one is deferred to its end (one deferred change for all of them), a change after a quiet spell is
        # immediate. What a reader is served is then at most `token_min_s` older than the tables.
        self._token_min_s = token_min_s
        self._last_bump = float("-inf")
        self._bump_pending: asyncio.TimerHandle | None = None

        def fresh(table: str) -> Callable[[float], None] | None:
            """`on_fresh` of one kind of table: announced change → recomputed table served (s), for /metrics."""
            return None if on_fresh is None else lambda seconds: on_fresh(table, seconds)

        self._months: RefreshingCache[str, dict[str, dict[str, int]]] = RefreshingCache(
            self._compute_month, max_age_s=ranking_ttl_s, background_interval_s=refresh_s, on_store=self.bump,
            on_fresh=fresh("month"), budget=self.budget,
        )  # fmt: skip
        self._tables: RefreshingCache[tuple[str, str], LevelTable] = RefreshingCache(
            self._compute_table, max_age_s=ranking_ttl_s, background_interval_s=refresh_s, on_store=self.bump,
            on_fresh=fresh("level"), budget=self.budget,
        )  # fmt: skip
        # Live figures (overdue, due soon) depend on the time: they are computed as of the start of a tick of
        # `live_tick_s` seconds, so that every process shows the same figures (and ETags) for the same tick.
        self._tick_s = live_tick_s
        self._tick: int | None = None
        self._live: RefreshingCache[str, LiveSnapshot] = RefreshingCache(
            self._compute_live, max_age_s=min(ranking_ttl_s, 60.0), background_interval_s=refresh_s,
            on_store=self.bump, on_fresh=fresh("live"), budget=self.budget,
        )  # fmt: skip
        # What the last month roll-up and level table of each key were built from: the next is patched from them.
        self._month_inputs: dict[str, tuple[OwnCounters, TreeView, dict[str, dict[str, int]]]] = {}
        self._last_tables: dict[tuple[str, str], tuple[_TableInputs, LevelTable]] = {}
        self._last_live: LiveSnapshot | None = None
        self._homes_of: tuple[object, object, dict[str, list[str]]] = (None, None, {})
        directory.on_change.append(self.figures_changed)  # a new registry: no table built on the old one is served

    def bump(self, *, at_once: bool = False) -> None:
        """What a reader may be served changed: a table stored, an invalidation, or a value computed from the
        tables in the background (a level's forecast, service/actions.py) — responses kept under the old token go
        (at once, or at the end of `token_min_s` after the last change)."""
        if self._bump_pending is not None:
            if not at_once:
                return  # a change is already due: it covers this one
            self._bump_pending.cancel()
            self._bump_pending = None
        now = time.monotonic()
        wait = self._last_bump + self._token_min_s - now
        if wait <= 0 or at_once:
            self._last_bump = now
            self.generation += 1
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): nothing would run the deferred change
            self._last_bump = now
            self.generation += 1
            return
        self._bump_pending = loop.call_later(wait, self._deferred_bump)

    def _deferred_bump(self) -> None:
        self._bump_pending = None
        self._last_bump = time.monotonic()
        self.generation += 1

    def token(self) -> tuple[int, int, object]:
        """What a response served now depends on beyond its request: the tables' generation, the live tick and the
        score profile in force. Equal tokens (the profile compared by identity): the same response."""
        return self.generation, int(self.clock().timestamp() // self._tick_s), self.profiles.current()

    def figures_changed(self, months: Iterable[str] | None = None) -> None:
        """Committed figures changed: of `months` (labels), or of everything (None: after a registry change, when
        the tables are dropped rather than served stale). Live figures and the current month's tables change with
        any batch."""
        self.bump(at_once=months is None)  # a registry change: nothing built on the old one is served from here on
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
        own = await self.figures.month_own_counters(label)
        previous = self._month_inputs.get(label)
        if previous is not None and previous[1] is view and own == previous[0]:
            # Nothing this month counts changed (a back-fill of other months invalidates the current one with every
            # batch): the same roll-up OBJECT, so nothing built from it is rebuilt and readers' token stays.
            return previous[2]
        if previous is not None and previous[1] is view:
            # Incremental: only the units a changed named unit feeds get new figures (dicts); the others keep
            # theirs, so the level tables reuse their rows (_build_table) and the bodies of units a batch did not
            # touch stay as they are (entrypoints/read_bodies.py). A batch names few units: this is cheap and
            # runs on the loop.
            patched = patch_month_roll_up(previous[0], previous[2], own, view, parse_month(label))
            if patched is not None:
                self._month_inputs[label] = (own, view, patched[0])
                return patched[0]
        # The arithmetic over every unit runs off the event loop (as every table build below): a reader whose body
        # is ready is served meanwhile (the interpreter switches threads every few ms) instead of waiting for it.
        rolled = await self.budget.to_thread(lambda: roll_up_month(own, view, parse_month(label)))
        self._month_inputs[label] = (own, view, rolled)
        return rolled

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
        day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        # Two queries side by side (received_since scans every dossier received today or earlier: no index on
        # received_at), so a change reaches the live figures after the longer one rather than after both.
        by_home, received_today = await asyncio.gather(
            self.figures.live_by_home_unit(now, to_datetime(month_end(current_month(now)))),
            self.figures.received_since(day_start),
        )
        rolled = await self.budget.to_thread(lambda: roll_up_live(by_home, view, local.date()))
        snapshot = LiveSnapshot(now, rolled, received_today)
        kept = self._last_live
        if kept is not None and kept.now == now and kept.received_today == received_today and kept.by_unit == rolled:
            return kept  # the same figures at the same instant: the same object (see _compute_month)
        self._last_live = snapshot
        return snapshot

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
        """Home units whose open dossiers count for `unit_id` today: its subtree and the units retired into it.
        Kept per tree view and day (a walk over the whole registry; a unit's dossier page is read again at every
        change of the readers' token)."""
        view = self.directory.view
        today = self.clock().astimezone(VIETNAM_TZ).date()
        if self._homes_of[0] is not view or self._homes_of[1] != today:
            self._homes_of = (view, today, {})
        found = self._homes_of[2].get(unit_id)
        if found is None:
            found = [u.unit_id for u in self.directory.registry if unit_id in view.owners(u.unit_id, today)]
            self._homes_of[2][unit_id] = found
        return list(found)

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
        live_by_unit: Mapping[str, LiveFigures] = {}
        as_of = self.clock()
        if period.is_current:
            # The month's figures and the live ones are read side by side (each a query, then a roll-up in a worker
            # thread): a committed batch's change reaches the table after the longer of the two, not their sum.
            month, snapshot = await asyncio.gather(
                self._months.get(label, wait=True),  # current as of the last invalidation
                self._live.get("live", wait=True) if live is None else _given(live),
            )
            live_by_unit, as_of = snapshot.by_unit, snapshot.now
        else:
            month = await self._months.get(label, wait=True)
        # Scoring and ranking every unit of a level is CPU work: off the event loop, so ready bodies keep being
        # served while it runs (its inputs are not changed in place: tables are replaced, never mutated).
        inputs = _TableInputs(period, month, live_by_unit, self.profiles.current(), self.directory.registry)
        previous = self._last_tables.get(key)
        if previous is not None and previous[1].as_of == as_of and _same_inputs(previous[0], inputs):
            return previous[1]  # built from the same objects at the same instant: the same table (_compute_month)
        table = await self.budget.to_thread(lambda: self._build_table(level, inputs, as_of, previous))
        self._last_tables[key] = (inputs, table)
        return table

    def _build_table(
        self,
        level: str,
        inputs: _TableInputs,
        as_of: datetime,
        previous: tuple[_TableInputs, LevelTable] | None = None,
    ) -> LevelTable:
        """The level's table; with the `previous` table of the same key, a unit whose month figures (dict object,
        see _compute_month) and live figures are those of then keeps its scored row, and its UnitFigures object
        when its rank is also the same — only what a batch touched is scored again (the ranking is redone: a
        sort)."""
        period, month, live_by_unit, profile, registry = inputs
        before = previous[0] if previous is not None else None
        same = before is not None and (before.profile, before.registry) == (profile, registry)
        old_rows = previous[1][1] if previous is not None and same and before.period == period else {}
        existing = set(units_of_level_in_month(registry, level, period.month))
        computed: dict[str, tuple[dict[str, int], ScoreCard, LiveFigures]] = {}
        for unit in registry:
            if str(unit.level) != level:
                continue
            uid = unit.unit_id
            old = old_rows.get(uid)
            if (old is not None and before is not None and month.get(uid) is before.month.get(uid)
                    and live_by_unit.get(uid) == before.live.get(uid)):  # fmt: skip
                computed[uid] = (old.counters, old.card, old.live)
                continue
            unit_live = live_by_unit.get(uid, LiveFigures())
            counters = counters_with_live(month.get(uid, {}), unit_live, period)
            computed[uid] = (counters, score_counters(counters, profile), unit_live)
        ranked = rank_units(
            (
                RankEntry(uid, card.score, card.rates.get("progress_rate"), counters["progress_total"])
                for uid, (counters, card, _) in computed.items()
                if uid in existing
            ),
            min_dossiers=profile.min_dossiers,
        )
        by_id = {entry.unit_id: entry for entry in ranked}
        details = {}
        for uid, (counters, card, unit_live) in computed.items():
            old = old_rows.get(uid)
            entry = by_id.get(uid)
            if old is not None and old.counters is counters and old.live is unit_live and old.ranked == entry:
                details[uid] = old  # the same row: the bodies built from it are kept (read_bodies.py)
            else:
                details[uid] = UnitFigures(counters, card, unit_live, entry)
        return LevelTable(ranked, details, as_of)

    async def indicator_sources(self, unit: Unit, period: Period) -> tuple[LevelTable, LiveSnapshot]:
        """What a unit's indicators are built from: its level's table and the live snapshot (both read tables)."""
        table = await self.level_table(str(unit.level), period)
        if unit.unit_id not in table[1]:  # the registry changed since the table was built
            table = await self.level_table(str(unit.level), period, fresh=True)
        return table, await self.live_snapshot()

    async def history_sources(self, months: int) -> tuple[object, ...]:
        """What a history is built from: the live snapshot, the score profile and each month's figures (flat: the
        read bodies compare each of them by identity, entrypoints/read_bodies.py)."""
        snapshot = await self.live_snapshot()
        last = current_month(snapshot.now)
        figures = [await self.month_figures(resolve_period(month_label(m), snapshot.now))
                   for m in range(last - months + 1, last + 1)]  # fmt: skip
        return (snapshot, self.profiles.current(), *figures)


class _TableInputs(NamedTuple):
    """What a level table is built from (compared by identity with the previous table's, see _build_table)."""

    period: Period
    month: Mapping[str, dict[str, int]]
    live: Mapping[str, LiveFigures]
    profile: ScoreProfile
    registry: UnitRegistry


def _same_inputs(kept: _TableInputs, inputs: _TableInputs) -> bool:
    """The same period (by value) and the same objects otherwise: a table built from them is the same table."""
    return kept.period == inputs.period and all(a is b for a, b in zip(kept[1:], inputs[1:], strict=True))


async def _given(snapshot: LiveSnapshot) -> LiveSnapshot:
    return snapshot
