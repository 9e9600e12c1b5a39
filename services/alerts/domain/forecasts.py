"""A unit's month-end forecast as scoring's `GET /v1/forecasts?level=…` gives it, and the one number a forecast
rule compares (an `Observation`). Scoring computes the scenarios (services/scoring/domain/forecast.py); the alerts
only read them."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.alerts.domain.observations import Observation, UnitRef
from services.alerts.domain.rules import ForecastRule
from shared.indicators import UnitId


class ForecastFigures(BaseModel):
    """One scenario's month-end figures (scoring's `ForecastScenario`; extra fields ignored)."""

    model_config = ConfigDict(frozen=True)

    score: float | None = Field(None, description="Score out of 100 at the month's end (null: no data)")
    progress_rate: float | None = Field(None, description="Progress rate at the month's end, a fraction")
    rank: int | None = Field(None, description="Rank among the units of the level in the same scenario; 1 is best")
    rank_of: int = Field(0, description="Ranked units of the level in this scenario")
    counters: dict[str, int] = Field(default_factory=dict, description="The month's counters in this scenario")

    @property
    def progress_total(self) -> int:
        return int(self.counters.get("progress_total", 0))

    def value_of(self, target: str) -> float | None:
        if target == "score":
            return self.score
        if target == "progress_rate":
            return self.progress_rate
        if self.rank is None or self.rank_of < self.rank:
            return None
        # rank_from_bottom: 1 = last of the level, so "bottom N" is rank_from_bottom <= N.
        return float(self.rank if target == "rank" else self.rank_of - self.rank + 1)


class UnitForecast(BaseModel):
    """Input of the forecast rules for one unit."""

    model_config = ConfigDict(frozen=True)

    unit_id: UnitId = Field(description="Unit")
    name: str = Field(min_length=1, description="Unit name")
    level: str = Field(description="Unit level; ranks are forecast among the units of this level")
    ancestors: list[UnitId] = Field(default_factory=list, description="Ancestor unit_ids, nearest first")
    period: str = Field(description="The current month, YYYY-MM")
    as_of: AwareDatetime = Field(description="Instant of the figures the forecast starts from")
    due_this_month: int = Field(0, description="Open dossiers due before the month's end (late in the worst case)")
    overdue_open: int = Field(0, description="Open dossiers already overdue")
    current: ForecastFigures = Field(description="Today's figures")
    worst: ForecastFigures = Field(description="Month end if nothing more is done")
    best: ForecastFigures = Field(description="Month end if every dossier due this month is finished on time")


def observe_forecast(rule: ForecastRule, forecast: UnitForecast) -> Observation:
    """The rule's scenario and target; no value while the unit has fewer dossiers in play than `min_dossiers`."""
    figures: ForecastFigures = getattr(forecast, rule.scenario)
    value = figures.value_of(rule.target)
    reason = None
    if value is None:
        reason = "null_value"
    elif figures.progress_total < rule.min_dossiers:
        value, reason = None, "denominator_below_minimum"
    return Observation(
        unit=UnitRef(forecast.unit_id, forecast.name, forecast.level, tuple(forecast.ancestors)),
        observed_at=forecast.as_of,
        value=value,
        period=forecast.period,
        denominator=figures.progress_total,
        rank=figures.rank,
        rank_of=figures.rank_of,
        no_data_reason=reason,
        current=forecast.current.value_of(rule.target),
        due_this_month=forecast.due_this_month,
        overdue_open=forecast.overdue_open,
    )
