"""What a unit can act on: the month-end forecast, today's to-do, its open dossiers, one dossier explained.

Reads through ScoringReader (month figures, live snapshot, registry) and a DossierRepository (ports.py); the
arithmetic is in domain/forecast.py, domain/todo.py and domain/lookup.py.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson

from services.scoring.domain import lookup
from services.scoring.domain.effective import units_of_level_in_month
from services.scoring.domain.forecast import (
    ASSUMPTIONS_EN,
    ASSUMPTIONS_VI,
    ForecastInput,
    Scenario,
    UnitForecast,
    best_counters,
)
from services.scoring.domain.live import LiveFigures, bounded_progress_correction
from services.scoring.domain.state import DossierState
from services.scoring.domain.timebase import Instant, to_datetime, to_instant
from services.scoring.domain.todo import OVERDUE, Horizon, bucket_of, gain_for, gain_of, horizon
from services.scoring.service.forecast_refresh import ForecastBasis, refresh_forecast
from services.scoring.service.periods import Period, resolve_period
from services.scoring.service.read_ports import DossierRepository
from services.scoring.service.reading import ScoringReader
from services.scoring.service.sourced import SourcedValues
from shared.indicators import VIETNAM_TZ
from shared.units import Unit

SECTIONS = ("all", "upcoming", "overdue")
FORECAST_REFRESH_S = 1.0
LiveByUnit = Mapping[str, LiveFigures]


def _scenario_json(scenario: Scenario) -> dict[str, Any]:
    entry = scenario.ranked
    return {
        "score": scenario.card.score,
        "progress_rate": scenario.card.rates.get("progress_rate"),
        "rank": entry.rank if entry else None,
        "rank_of": entry.rank_of if entry else 0,
        "unranked_reason": entry.unranked_reason if entry else "not_in_period",
        "counters": scenario.counters,
    }


def _forecast_inputs(
    registry: Iterable[Unit], level: str, stored: Mapping[str, dict[str, int]], live: LiveByUnit
) -> dict[str, ForecastInput]:
    """What the forecast starts from for each unit of the level: its stored counters and its live correction."""
    out: dict[str, ForecastInput] = {}
    for unit in registry:
        if str(unit.level) == level:
            counters = stored.get(unit.unit_id, {})
            correction = live.get(unit.unit_id, LiveFigures()).progress_correction
            out[unit.unit_id] = ForecastInput(counters, bounded_progress_correction(counters, correction))
    return out


@dataclass(frozen=True, slots=True)
class LevelForecast:
    """Every unit of a level forecast from one version of the read tables (ActionsReader.level_forecast)."""

    level: str
    period: Period
    now: datetime
    computed: dict[str, UnitForecast]
    existing: Collection[str]
    live: LiveByUnit


@dataclass(frozen=True, slots=True)
class TodoCursor:
    """Where a to-do page ends: pages after the first are evaluated at the first page's instant, so that a
    dossier does not move between buckets while someone pages through the list."""

    as_of: datetime
    section: str
    """upcoming or overdue: the part of the list the last item was in."""
    due: datetime
    dossier_id: str


class ActionsReader:
    """The to-do list, the month-end forecast, a unit's open dossiers and one dossier explained."""

    def __init__(
        self, reader: ScoringReader, dossiers: DossierRepository, forecast_refresh_s: float = FORECAST_REFRESH_S
    ) -> None:
        self.reader = reader
        self.dossiers = dossiers
        # A level's forecast costs ~100 ms of CPU and every committed batch of the live feed makes a new one: the
        # previous one is served while the next is computed, at most one computation per level and second.
        self._forecasts: SourcedValues[str, LevelForecast] = SourcedValues(
            stale_s=forecast_refresh_s, on_store=reader.bump
        )
        self._forecasts.budget = reader.budget  # ~100 ms of CPU per level: counted with the tables' refreshes
        self._bases: dict[str, ForecastBasis] = {}  # each level's last forecast, the next is patched from it

    def _names(self) -> dict[str, str]:
        return {u.unit_id: u.name for u in self.reader.directory.registry}

    async def _inputs(self, level: str) -> tuple[Any, dict[str, ForecastInput], datetime]:
        reader = self.reader
        snapshot = await reader.live_snapshot()
        period = resolve_period(None, snapshot.now)
        stored = await reader.month_figures(period)
        return period, _forecast_inputs(reader.directory.registry, level, stored, snapshot.by_unit), snapshot.now

    async def level_forecast(self, level: str) -> LevelForecast:
        """Every unit of the level in ONE computation (the ranks need them all anyway), kept while the read tables
        it comes from are the same objects: a forecast costs ~100 ms of CPU for the communes, a read of a kept one
        nothing (sourced.py); after a change the previous one is served until the next is computed (at most one
        second older than the tables). As of the live tick (the snapshot's instant)."""
        reader = self.reader
        snapshot = await reader.live_snapshot()
        period = resolve_period(None, snapshot.now)
        stored = await reader.month_figures(period)
        profile, registry = reader.profiles.current(), reader.directory.registry
        sources = (snapshot, stored, profile, registry)

        def compute() -> LevelForecast:
            inputs = _forecast_inputs(registry, level, stored, snapshot.by_unit)
            existing = units_of_level_in_month(registry, level, period.month)
            # Patched from the level's previous forecast: only the units whose figures changed are scored again
            # (forecast_refresh.py; the same result as forecast_level from scratch).
            basis = refresh_forecast(inputs, existing, profile, self._bases.get(level))
            self._bases[level] = basis
            return LevelForecast(level, period, snapshot.now, basis.computed, existing, snapshot.by_unit)

        return await self._forecasts.get(level, sources, compute)

    @staticmethod
    def _forecast_json(unit: Unit, mine: UnitForecast, period: Any, now: datetime, live: LiveByUnit) -> dict[str, Any]:
        return {
            "unit_id": unit.unit_id,
            "name": unit.name,
            "level": str(unit.level),
            "period": period.label,
            "as_of": now,
            "month_end": period.end,
            "due_this_month": mine.due_this_month,
            "overdue_open": live.get(unit.unit_id, LiveFigures()).overdue_open,
            "current": _scenario_json(mine.current),
            "worst": _scenario_json(mine.worst),
            "best": _scenario_json(mine.best),
            "assumptions": {"vi": ASSUMPTIONS_VI, "en": ASSUMPTIONS_EN},
        }

    async def forecast(self, unit: Unit) -> dict[str, Any]:
        return self.forecast_of(unit, await self.level_forecast(str(unit.level)))

    def forecast_of(self, unit: Unit, level: LevelForecast) -> dict[str, Any]:
        return self._forecast_json(unit, level.computed[unit.unit_id], level.period, level.now, level.live)

    async def forecasts(self, level: str) -> dict[str, Any]:
        """The forecast of every unit of a level that exists this month, by unit id, each with its ancestors
        (what the alerts' forecast rules read: one request per level instead of one per unit)."""
        return self.forecasts_of(await self.level_forecast(level))

    def forecasts_of(self, forecast: LevelForecast) -> dict[str, Any]:
        period, now, computed, live = forecast.period, forecast.now, forecast.computed, forecast.live
        registry = self.reader.directory.registry
        items = []
        for unit_id in sorted(set(computed) & set(forecast.existing)):
            unit = registry.get(unit_id)
            if unit is not None:
                body = self._forecast_json(unit, computed[unit_id], period, now, live)
                del body["assumptions"]  # once for the whole list
                items.append({**body, "ancestors": registry.ancestors(unit_id)})
        return {"level": forecast.level, "period": period.label, "as_of": now, "month_end": period.end, "items": items,
                "assumptions": {"vi": ASSUMPTIONS_VI, "en": ASSUMPTIONS_EN}}  # fmt: skip

    async def todo(self, unit: Unit, section: str, limit: int, cursor: TodoCursor | None) -> dict[str, Any]:
        reader = self.reader
        now = cursor.as_of if cursor is not None else reader.clock()
        at = horizon(to_instant(now))
        period, inputs, _ = await self._inputs(str(unit.level))
        best = best_counters(inputs[unit.unit_id])
        profile = reader.profiles.current()
        inside = gain_of(best, profile, due_before_end=True)
        outside = gain_of(best, profile, due_before_end=False)
        homes = reader.home_units_of(unit.unit_id)
        bounds = [to_datetime(x) for x in (at.today_end, at.tomorrow_end, at.month_end, at.list_end)]
        dossiers = self.dossiers
        totals = await dossiers.todo_counts(homes, now, bounds[0], bounds[1], bounds[2])
        rows: list[tuple[str, Any]] = []
        start = cursor.section if cursor is not None else ("overdue" if section == "overdue" else "upcoming")
        after = (cursor.due, cursor.dossier_id) if cursor is not None else None
        if start == "upcoming" and section in ("all", "upcoming"):
            found = await dossiers.todo_upcoming(homes, now, bounds[3], after, limit)
            rows.extend(("upcoming", r) for r in found)
            after = None
        if len(rows) < limit and section in ("all", "overdue"):
            found = await dossiers.todo_overdue(homes, now, after, limit - len(rows))
            rows.extend(("overdue", r) for r in found)
        names = self._names()
        items = [self._todo_item(r, at, inside, outside, names) for _, r in rows]
        upcoming_total = totals["due_today"] + totals["due_tomorrow"] + totals["due_this_month"]
        total = {"all": upcoming_total + totals["overdue"], "upcoming": upcoming_total, "overdue": totals["overdue"]}
        next_cursor = None
        if len(rows) == limit:
            last_section, last = rows[-1]
            next_cursor = TodoCursor(now, last_section, last["due_at"], last["dossier_id"])
        return {
            "unit_id": unit.unit_id,
            "name": unit.name,
            "period": period.label,
            "as_of": now,
            "today": _vn_day(at.now),
            "section": section,
            "totals": totals,
            "total": total[section],
            "progress_total": best["progress_total"],
            "items": items,
            "next_cursor": next_cursor,
        }

    def _todo_item(self, row: Any, at: Horizon, inside: Any, outside: Any, names: dict[str, str]) -> dict[str, Any]:
        due: Instant = to_instant(row["due_at"])
        bucket = bucket_of(due, at) or OVERDUE
        gain = gain_for(due, at, inside, outside)
        return {
            "dossier_id": row["dossier_id"],
            "procedure_id": row["procedure_id"],
            "unit_id": row["home_unit"],
            "unit_name": names.get(row["home_unit"], row["home_unit"]),
            "received_at": row["received_at"],
            "due_at": row["due_at"],
            "bucket": bucket,
            "hours_left": (due - at.now) / 3_600_000_000,
            "progress_points": gain.progress_points if gain is not None else 0.0,
            "score_gain": gain.score_gain if gain is not None else None,
        }

    async def open_dossiers(self, unit: Unit, limit: int, after: tuple[datetime, str] | None) -> dict[str, Any]:
        reader = self.reader
        now = reader.clock()
        homes = reader.home_units_of(unit.unit_id)
        total, on_hold = await self.dossiers.open_counts(homes, now)
        rows = await self.dossiers.open_dossiers(homes, now, after, limit)
        names = self._names()
        now_instant = to_instant(now)
        items = []
        for r in rows:
            due = to_instant(r["due_at"])
            if r["on_hold"]:
                status = "on_hold"
            elif due < now_instant:
                status = "overdue"
            elif due < now_instant + 86_400_000_000:
                status = "due_soon"
            else:
                status = "in_time"
            items.append({"dossier_id": r["dossier_id"], "procedure_id": r["procedure_id"], "unit_id": r["home_unit"],
                          "unit_name": names.get(r["home_unit"], r["home_unit"]), "received_at": r["received_at"],
                          "due_at": r["due_at"], "on_hold": r["on_hold"], "status": status,
                          "hours_left": (due - now_instant) / 3_600_000_000})  # fmt: skip
        last = (rows[-1]["due_at"], rows[-1]["dossier_id"]) if len(rows) == limit else None
        return {"unit_id": unit.unit_id, "name": unit.name, "as_of": now, "total": total, "on_hold": on_hold,
                "items": items, "next": last}  # fmt: skip

    async def dossier(self, dossier_id: str) -> dict[str, Any] | None:
        reader = self.reader
        row = await self.dossiers.dossier(dossier_id)
        if row is None:
            return None
        state = DossierState.from_dict(orjson.loads(row["state"]))
        now = reader.clock()
        now_instant = to_instant(now)
        registry, view = reader.directory.registry, reader.directory.view
        names = self._names()

        def unit_ref(unit_id: str | None) -> dict[str, Any] | None:
            return None if unit_id is None else {"unit_id": unit_id, "name": names.get(unit_id)}

        today = _vn_day(now_instant)
        home = state.home_unit
        counts_for = view.effective(home, today) if home is not None and home in registry else home
        live = lookup.live_view(state, now_instant)
        dt = to_datetime
        receipt, resolution, withdrawal, rating = state.receipt, state.resolution, state.withdrawal, state.rating
        return {
            "dossier_id": state.dossier_id,
            "procedure_id": state.procedure_id,
            "status": lookup.status_of(state),
            "as_of": now,
            "home_unit": unit_ref(home),
            "counts_for_today": unit_ref(counts_for),
            "receipt": None if receipt is None else {
                "event_id": receipt.event_id, "unit_id": receipt.unit_id, "received_at": dt(receipt.received_at),
                "channel": receipt.channel, "digitized": receipt.digitized, "reused_data": receipt.reused_data},
            "effective_due": None if state.effective_due is None else dt(state.effective_due),
            "resolution": None if resolution is None else {
                "event_id": resolution.event_id, "unit_id": resolution.unit_id,
                "resolved_at": dt(resolution.resolved_at), "outcome": resolution.outcome,
                "e_result": resolution.e_result,
                "on_time": state.effective_due is not None and resolution.resolved_at <= state.effective_due},
            "withdrawal": None if withdrawal is None else {
                "event_id": withdrawal.event_id, "unit_id": withdrawal.unit_id,
                "withdrawn_at": dt(withdrawal.withdrawn_at)},
            "holds": [{"start": dt(a), "end": None if b is None else dt(b)} for a, b in lookup.hold_periods(state)],
            "on_hold_now": live.on_hold_now,
            "rating": None if rating is None else {
                "event_id": rating.event_id, "unit_id": rating.unit_id, "rated_at": dt(rating.rated_at),
                "level": rating.level},
            "payments": [{"event_id": p.event_id, "unit_id": p.unit_id, "paid_at": dt(p.occurred_at),
                          "method": p.method, "amount": p.amount} for p in state.payments],
            "live": live.live,
            "events": [_event_json(r) for r in state.records],
            "counters": [{"month": m.month, "named_unit": m.named_unit, "counts_for": m.counts_for,
                          "counter": m.counter, "value": m.value}
                         for m in lookup.memberships(state, now_instant, view.effective)],
            "current_month": {"month": live.month, "progress_correction": live.correction},
        }  # fmt: skip


def _event_json(record: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"event_id": record.event_id, "type": record.type, "unit_id": record.unit_id,
                           "occurred_at": to_datetime(record.occurred_at),
                           "ingested_at": to_datetime(record.ingested_at)}  # fmt: skip
    if record.due_at is not None:
        out["due_at"] = to_datetime(record.due_at)
    for name in ("procedure_id", "channel", "outcome", "method", "amount", "level"):
        value = getattr(record, name)
        if value is not None:
            out[name] = value
    for name in ("digitized", "reused_data", "e_result"):
        if getattr(record, name):
            out[name] = True
    return out


def _vn_day(instant: Instant) -> date:
    return to_datetime(instant).astimezone(VIETNAM_TZ).date()
