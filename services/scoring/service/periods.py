"""The values the read use cases pass around: a period, a live snapshot, a level's table of unit figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.scoring.domain.live import LiveFigures, bounded_progress_correction
from services.scoring.domain.rank import RankedUnit
from services.scoring.domain.score import ScoreCard
from services.scoring.domain.timebase import month_end, month_label, month_of, parse_month, to_datetime, to_instant
from shared.indicators import COUNTER_NAMES


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
        counters["progress_on_time"] += bounded_progress_correction(counters, live.progress_correction)
    return counters


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """Live figures of every unit (subtree included) at one instant."""

    now: datetime
    by_unit: dict[str, LiveFigures]
    received_today: int = 0
    """Dossiers received city-wide since the start of `now`'s day (Vietnam time)."""


@dataclass(frozen=True, slots=True)
class UnitFigures:
    """One unit's figures for a period: counters (live correction included), score card, live counters, rank."""

    counters: dict[str, int]
    card: ScoreCard
    live: LiveFigures
    ranked: RankedUnit | None
    """None when the unit does not exist in the period (it is then not listed in the period's rankings)."""


class LevelTable(tuple[list[RankedUnit], dict[str, UnitFigures]]):
    """A level's units in rank order (those that exist in the period) and every unit's figures, as of the instant
    of the live figures in it (`as_of`, shown as `live.as_of`). A tuple, so `ranked, details = table` reads it.
    Never changed once built: a new table replaces it (the read bodies are cached by its identity)."""

    as_of: datetime

    def __new__(cls, ranked: list[RankedUnit], details: dict[str, UnitFigures], as_of: datetime) -> LevelTable:
        table = super().__new__(cls, (ranked, details))
        table.as_of = as_of
        return table

    @property
    def ranked(self) -> list[RankedUnit]:
        return self[0]

    @property
    def details(self) -> dict[str, UnitFigures]:
        return self[1]


def table_as_of(table: tuple[list[RankedUnit], dict[str, UnitFigures]], default: datetime) -> datetime:
    return getattr(table, "as_of", default)
