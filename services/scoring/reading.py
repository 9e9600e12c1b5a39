"""What the scoring API and the indicators publisher read: counters, live figures, rates, points, score and rank.

Queries come from adapters/queries.py; the arithmetic (rates, points, score, rank) from the pure domain.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from services.scoring.adapters import queries
from services.scoring.adapters.queries import LiveFigures
from services.scoring.adapters.units import UnitDirectory
from services.scoring.domain.profile import ScoreProfile, parse_profile
from services.scoring.domain.rank import RankedUnit, RankEntry, rank_units
from services.scoring.domain.score import ScoreCard, score_counters
from services.scoring.domain.timebase import month_end, month_label, month_of, parse_month, to_datetime, to_instant
from shared.indicators import COUNTER_NAMES, VIETNAM_TZ
from shared.units import Unit


class ProfileStore:
    """The score profile file, re-read when it changes on disk (checked at most once a second) or on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = -1.0
        self._checked = 0.0
        self.profile: ScoreProfile = self.reload()

    def reload(self) -> ScoreProfile:
        self._mtime = self.path.stat().st_mtime
        self.profile = parse_profile(self.path.read_text(encoding="utf-8"))
        return self.profile

    def current(self) -> ScoreProfile:
        now = time.monotonic()
        if now - self._checked >= 1.0:
            self._checked = now
            try:
                if self.path.stat().st_mtime != self._mtime:
                    self.reload()
            except (OSError, ValueError):
                pass  # keep serving the last good profile; /v1/admin/profile/reload reports the error
        return self.profile


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


def roll_up_live(
    by_home_unit: Mapping[str, LiveFigures], chain: Callable[[str], tuple[str, ...]]
) -> dict[str, LiveFigures]:
    """Each unit's live figures including its subtree (SPEC §1), from the figures of the dossiers' home units."""
    totals: dict[str, list[int]] = {}
    for home, live in by_home_unit.items():
        for unit_id in chain(home):
            total = totals.setdefault(unit_id, [0, 0, 0, 0])
            total[0] += live.open
            total[1] += live.overdue_open
            total[2] += live.due_soon
            total[3] += live.progress_correction
    return {unit_id: LiveFigures(*total) for unit_id, total in totals.items()}


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """Live figures of every unit (subtree included) at one instant."""

    now: datetime
    by_unit: dict[str, LiveFigures]


def groups_json(card: ScoreCard) -> dict[str, Any]:
    return {key: {"points": group.points, "max": group.max} for key, group in card.groups.items()}


class ScoringReader:
    def __init__(
        self,
        pool: asyncpg.Pool,
        directory: UnitDirectory,
        profiles: ProfileStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ranking_ttl_s: float = 2.0,
    ) -> None:
        self.pool = pool
        self.directory = directory
        self.profiles = profiles
        self.clock = clock
        self._ranking_ttl_s = ranking_ttl_s
        self._ranking_cache: dict[tuple[str, str], tuple[float, list[RankedUnit], dict[str, Any]]] = {}
        self._ranking_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._live: tuple[float, LiveSnapshot] | None = None
        self._live_lock = asyncio.Lock()

    def figures_changed(self) -> None:
        """Forget cached tables: this process just committed a batch (reads after it must see it). Another
        scoring process's commits are seen within `ranking_ttl_s`."""
        self._ranking_cache.clear()
        self._live = None

    async def live_snapshot(self, *, fresh: bool = False) -> LiveSnapshot:
        """Live figures of all units from one pass over the open dossiers; cached for `ranking_ttl_s` unless
        `fresh`. Every level table of one publisher run reads the same snapshot."""
        async with self._live_lock:
            cached = self._live
            if not fresh and cached is not None and time.monotonic() - cached[0] < self._ranking_ttl_s:
                return cached[1]
            now = self.clock()
            async with self.pool.acquire() as conn:
                by_home = await queries.live_by_home_unit(conn, now, to_datetime(month_end(current_month(now))))
            snapshot = LiveSnapshot(now, roll_up_live(by_home, self.directory.ancestors.chain))
            self._live = (time.monotonic(), snapshot)
            return snapshot

    async def unit(self, unit_id: str) -> Unit | None:
        found = self.directory.registry.get(unit_id)
        if found is None and await self.directory.refresh_if_stale():
            found = self.directory.registry.get(unit_id)
        return found

    async def level_table(
        self, level: str, period: Period, *, fresh: bool = False, live: LiveSnapshot | None = None
    ) -> tuple[list[RankedUnit], dict[str, Any]]:
        """Every unit of a level with its counters, score card and live figures for a period, ranked.

        Cached for `ranking_ttl_s` (API reads); `fresh=True` recomputes now and refreshes the cache (the
        publisher, right after a batch changed the figures, passing the `live` snapshot it took for the run).
        """
        key = (level, period.label)
        cached = self._ranking_cache.get(key)
        if not fresh and cached is not None and time.monotonic() - cached[0] < self._ranking_ttl_s:
            return cached[1], cached[2]
        lock = self._ranking_locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._ranking_cache.get(key)
            if not fresh and cached is not None and time.monotonic() - cached[0] < self._ranking_ttl_s:
                return cached[1], cached[2]
            unit_ids = [u.unit_id for u in self.directory.registry if str(u.level) == level]
            async with self.pool.acquire() as conn:
                stored = await queries.level_counters(conn, level, period.label)
            live_by_unit: Mapping[str, LiveFigures] = {}
            if period.is_current:
                live_by_unit = (live if live is not None else await self.live_snapshot(fresh=fresh)).by_unit
            profile = self.profiles.current()
            details: dict[str, Any] = {}
            for unit_id in unit_ids:
                unit_live = live_by_unit.get(unit_id, LiveFigures())
                counters = counters_with_live(stored.get(unit_id, {}), unit_live, period)
                details[unit_id] = (counters, score_counters(counters, profile), unit_live)
            ranked = rank_units(
                RankEntry(uid, card.score, card.rates.get("progress_rate")) for uid, (_, card, _) in details.items()
            )
            self._ranking_cache[key] = (time.monotonic(), ranked, details)
            return ranked, details

    async def indicators(self, unit: Unit, period: Period) -> dict[str, Any]:
        now = self.clock()
        async with self.pool.acquire() as conn:
            stored = (await queries.unit_counters(conn, unit.unit_id, [period.label]))[period.label]
            live = await queries.live_for_unit(conn, unit.unit_id, now, to_datetime(month_end(current_month(now))))
        counters = counters_with_live(stored, live, period)
        card = score_counters(counters, self.profiles.current())
        ranked, _ = await self.level_table(str(unit.level), period)
        mine = next((r for r in ranked if r.unit_id == unit.unit_id), None)
        return {
            "unit_id": unit.unit_id,
            "name": unit.name,
            "level": str(unit.level),
            "period": period.label,
            "counters": counters,
            "live": live_json(live, now),
            "rates": card.rates,
            "groups": groups_json(card),
            "points": card.points,
            "score": card.score,
            "rank": mine.rank if mine else None,
            "rank_of": mine.rank_of if mine else len(ranked),
        }

    async def rankings(self, level: str, period: Period) -> dict[str, Any]:
        ranked, details = await self.level_table(level, period)
        items = []
        for entry in ranked:
            unit = self.directory.registry.get(entry.unit_id)
            _counters, card, live = details[entry.unit_id]
            items.append(
                {
                    "rank": entry.rank,
                    "unit_id": entry.unit_id,
                    "name": unit.name if unit else entry.unit_id,
                    "score": card.score,
                    "rates": card.rates,
                    "groups": groups_json(card),
                    "overdue_open": live.overdue_open if period.is_current else None,
                }
            )
        return {"level": level, "period": period.label, "rank_of": len(ranked), "items": items}

    async def history(self, unit: Unit, months: int) -> dict[str, Any]:
        now = self.clock()
        last = current_month(now)
        labels = [month_label(m) for m in range(last - months + 1, last + 1)]
        async with self.pool.acquire() as conn:
            stored = await queries.unit_counters(conn, unit.unit_id, labels)
            live = await queries.live_for_unit(conn, unit.unit_id, now, to_datetime(month_end(last)))
        profile = self.profiles.current()
        items = []
        for label in labels:
            period = resolve_period(label, now)
            counters = counters_with_live(stored[label], live, period)
            card = score_counters(counters, profile)
            items.append({"period": label, "counters": counters, "rates": card.rates, "score": card.score,
                          "groups": groups_json(card)})  # fmt: skip
        return {"unit_id": unit.unit_id, "name": unit.name, "months": items}

    async def summary(self, period: Period) -> dict[str, Any]:
        city = self.directory.registry.city
        if city is None:
            return {"period": period.label, "unit_id": None}
        now = self.clock()
        local = now.astimezone(VIETNAM_TZ)
        start_of_day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        figures = await self.indicators(city, period)
        async with self.pool.acquire() as conn:
            received_today = await queries.received_since(conn, city.unit_id, start_of_day)
        counters = figures["counters"]
        figures["dashboard"] = {
            "received_today": received_today,
            "received_this_month": counters["received"],
            "in_progress": figures["live"]["open"],
            "resolved_this_month": counters["resolved"],
            "overdue": figures["live"]["overdue_open"],
            "due_soon": figures["live"]["due_soon"],
        }
        return figures
