"""Alert rules: the models and their validation (loading them from YAML documents: `rule_documents`).

Three kinds of rule:
- `threshold`: compare one indicator of a unit (a rate, a live counter or its growth, the score, the score's
  change on last month, the rank) with a threshold, with hysteresis, a minimum denominator, a pending duration
  and a repeat interval (SPEC §8).
- `near_due`: warn a unit about its dossiers that become overdue within a horizon, listing them.
- `forecast`: compare one figure of the unit's month-end forecast (worst case "if nothing more is done" or best
  case "every dossier due this month finished on time": score, progress rate, rank) with a threshold, with the
  same hysteresis, pending duration and repeats as `threshold`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

from services.alerts.domain.durations import format_duration, parse_duration
from services.alerts.domain.templates import (
    FORECAST_PLACEHOLDERS,
    NEAR_DUE_PLACEHOLDERS,
    THRESHOLD_PLACEHOLDERS,
    ValueKind,
    template_problems,
)
from shared.indicators import COUNTER_NAMES, LIVE_COUNTER_NAMES, RATE_FRACTIONS, UnitId, UnitLevel

Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, when_used="json")]
Comparison = Literal["<", "<=", ">", ">="]
Severity = Literal["info", "warning", "critical"]
RuleId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
ThresholdTarget = Literal[
    "progress_rate",
    "on_time_rate",
    "online_rate",
    "digitization_rate",
    "data_reuse_rate",
    "e_result_rate",
    "online_payment_rate",
    "satisfaction_rate",
    "timely_sync_rate",
    "open",
    "overdue_open",
    "due_soon",
    "score",
    "score_change",
    "rank",
    "rank_from_bottom",
]
DenominatorName = Literal[COUNTER_NAMES + LIVE_COUNTER_NAMES]  # type: ignore[valid-type]
ForecastScenarioName = Literal["worst", "best"]
ForecastTarget = Literal["score", "progress_rate", "rank", "rank_from_bottom"]


def target_value_kind(target: str) -> ValueKind:
    if target in RATE_FRACTIONS:
        return "rate"
    if target in ("score", "score_change"):
        return target  # type: ignore[return-value]
    if target in ("rank", "rank_from_bottom"):
        return "rank"
    return "count"


def condition_holds(value: float, comparison: Comparison, threshold: float) -> bool:
    if comparison == "<":
        return value < threshold
    if comparison == "<=":
        return value <= threshold
    if comparison == ">":
        return value > threshold
    return value >= threshold


class RuleFieldErrors(ValueError):
    """Cross-field problems of one rule, each tied to a field so the loader can print a precise path."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))


class Scope(BaseModel):
    """Which units a rule watches. Both lists empty = every unit; when both are given a unit must satisfy both
    (e.g. levels [commune] + subtrees [ba-vi] = the communes of Ba Vì)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    levels: list[UnitLevel] = Field(default_factory=list, description="Unit levels watched; empty = all")
    subtrees: list[UnitId] = Field(
        default_factory=list, description="Units whose whole subtree (themselves included) is watched"
    )

    def covers(self, unit_id: str, level: str, ancestors: list[str] | tuple[str, ...]) -> bool:
        if self.levels and level not in self.levels:
            return False
        return not self.subtrees or bool({unit_id, *ancestors} & set(self.subtrees))


class _RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: RuleId = Field(description="Stable identifier; also the `alertname` label")
    name: str = Field(min_length=1, max_length=200, description="Vietnamese name shown to people")
    name_en: str | None = Field(None, max_length=200, description="English name")
    enabled: bool = Field(True, description="A disabled rule is loaded and validated but never evaluated")
    severity: Severity = Field("warning", description="info, warning or critical")
    scope: Scope = Field(default_factory=Scope, description="Units the rule watches")
    repeat_interval: Duration | None = Field(
        timedelta(hours=24), description="Re-notify while firing and unacknowledged; null = never"
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Extra labels on every alert of the rule")
    summary: str = Field(min_length=1, max_length=300, description="One-line Vietnamese summary template")
    description: str = Field(min_length=1, max_length=2000, description="Vietnamese description template")
    summary_en: str | None = Field(None, max_length=300, description="English summary template")
    description_en: str | None = Field(None, max_length=2000, description="English description template")

    def _template_problems(self, allowed: frozenset[str]) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        for field in ("summary", "description", "summary_en", "description_en"):
            text = getattr(self, field)
            if text is not None:
                problems.extend((field, message) for message in template_problems(text, allowed))
        reserved = {"alertname", "unit_id", "severity", "level"} & set(self.labels)
        if reserved:
            problems.append(("labels", f"{', '.join(sorted(reserved))} are set by the system; remove them"))
        if self.repeat_interval is not None and self.repeat_interval < timedelta(minutes=5):
            problems.append(("repeat_interval", "must be at least 5m (or null for no repeats)"))
        return problems

    def covers(self, unit_id: str, level: str, ancestors: list[str] | tuple[str, ...]) -> bool:
        return self.enabled and self.scope.covers(unit_id, level, ancestors)


class ComparedRule(_RuleBase):
    """A value compared with a threshold: hysteresis, a pending duration, what no data does (threshold, forecast)."""

    comparison: Comparison = Field(description="<, <=, > or >=")
    threshold: float = Field(description="Fires when `value comparison threshold` holds")
    clear_threshold: float | None = Field(
        None, description="Hysteresis: stays firing while `value comparison clear_threshold` holds"
    )
    for_: Duration = Field(timedelta(0), alias="for", description="Pending duration before firing")
    on_no_data: Literal["keep", "resolve"] = Field(
        "keep", description="What a firing alert does when the value is null or the denominator too small"
    )

    @property
    def value_kind(self) -> ValueKind:
        raise NotImplementedError

    @property
    def effective_clear_threshold(self) -> float:
        return self.threshold if self.clear_threshold is None else self.clear_threshold

    def _comparison_problems(self, allowed: frozenset[str], what: str) -> list[tuple[str, str]]:
        problems = self._template_problems(allowed)
        if self.clear_threshold is not None:
            low_is_bad = self.comparison in ("<", "<=")
            if low_is_bad and self.clear_threshold < self.threshold:
                problems.append(
                    ("clear_threshold", f"with '{self.comparison}' it must be ≥ threshold ({self.threshold})")
                )
            if not low_is_bad and self.clear_threshold > self.threshold:
                problems.append(
                    ("clear_threshold", f"with '{self.comparison}' it must be ≤ threshold ({self.threshold})")
                )
        if self.value_kind == "rate":
            for field in ("threshold", "clear_threshold"):
                number = getattr(self, field)
                if number is not None and not 0.0 <= number <= 1.0:
                    problems.append((field, f"{what} is a fraction: write 0.55 for 55 %, not {number}"))
        return problems


class ThresholdRule(ComparedRule):
    """Fire while `target comparison threshold` holds; clear once `target comparison clear_threshold` stops."""

    kind: Literal["threshold"] = Field("threshold", description="Rule kind")
    target: ThresholdTarget = Field(description="Indicator compared: a rate, live counter, score, rank …")
    growth_window: Duration | None = Field(
        None, description="Live counters only: compare the increase over this window instead of the level"
    )
    min_denominator: int = Field(0, ge=0, description="No evaluation while the denominator is below this")
    denominator: DenominatorName | None = Field(
        None, description="Counter checked against min_denominator; defaults to the rate's denominator"
    )

    @property
    def value_kind(self) -> ValueKind:
        return "count" if self.growth_window is not None else target_value_kind(self.target)

    @property
    def denominator_counter(self) -> str | None:
        if self.denominator is not None:
            return self.denominator
        fraction = RATE_FRACTIONS.get(self.target)
        return fraction[1] if fraction else None

    @model_validator(mode="after")
    def _consistent(self) -> ThresholdRule:
        problems = self._comparison_problems(THRESHOLD_PLACEHOLDERS, self.target)
        if self.growth_window is not None and self.target not in LIVE_COUNTER_NAMES:
            problems.append(("growth_window", "only live counters (open, overdue_open, due_soon) have growth"))
        if self.growth_window is not None and self.growth_window <= timedelta(0):
            problems.append(("growth_window", "must be longer than 0s"))
        if self.min_denominator > 0 and self.denominator_counter is None:
            problems.append(("denominator", f"{self.target} has no natural denominator; name a counter"))
        if problems:
            raise RuleFieldErrors(problems)
        return self


class ForecastRule(ComparedRule):
    """Fire while a figure of the unit's month-end forecast (scoring's `/v1/forecasts`) crosses a threshold:
    `scenario` worst = "if nothing more is done", best = "every dossier due this month finished on time"."""

    kind: Literal["forecast"] = Field(description="Rule kind")
    scenario: ForecastScenarioName = Field("worst", description="worst (nothing more done) or best (all on time)")
    target: ForecastTarget = Field(description="score, progress_rate, rank or rank_from_bottom (1 = last)")
    min_dossiers: int = Field(
        0, ge=0, description="No evaluation while the unit has fewer dossiers in play this month (progress_total)"
    )

    @property
    def value_kind(self) -> ValueKind:
        return target_value_kind(self.target)

    @model_validator(mode="after")
    def _consistent(self) -> ForecastRule:
        problems = self._comparison_problems(FORECAST_PLACEHOLDERS, f"{self.scenario}.{self.target}")
        if problems:
            raise RuleFieldErrors(problems)
        return self


class NearDueRule(_RuleBase):
    """One alert per unit listing its open dossiers due within `horizon`; refreshed when the list changes."""

    kind: Literal["near_due"] = Field(description="Rule kind")
    horizon: Duration = Field(timedelta(hours=24), description="How far ahead to look")
    min_dossiers: int = Field(1, ge=1, description="Fire when at least this many dossiers are near due")
    refresh_interval: Duration = Field(
        timedelta(hours=1), description="Minimum time between two refreshes of a changed list"
    )
    max_listed: int = Field(20, ge=1, le=500, description="Dossiers listed in the text; the rest are counted")

    @model_validator(mode="after")
    def _consistent(self) -> NearDueRule:
        problems = self._template_problems(NEAR_DUE_PLACEHOLDERS)
        if self.horizon <= timedelta(0):
            problems.append(("horizon", "must be longer than 0s"))
        if problems:
            raise RuleFieldErrors(problems)
        return self


Rule = ThresholdRule | NearDueRule | ForecastRule
RULE_KINDS: dict[str, type[ThresholdRule] | type[NearDueRule] | type[ForecastRule]] = {
    "threshold": ThresholdRule,
    "near_due": NearDueRule,
    "forecast": ForecastRule,
}


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]

    def by_id(self, rule_id: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.id == rule_id), None)

    def threshold_rules_for(self, unit_id: str, level: str, ancestors: list[str]) -> list[ThresholdRule]:
        return [r for r in self.rules if isinstance(r, ThresholdRule) and r.covers(unit_id, level, ancestors)]

    def near_due_rules_for(self, unit_id: str, level: str, ancestors: list[str]) -> list[NearDueRule]:
        return [r for r in self.rules if isinstance(r, NearDueRule) and r.covers(unit_id, level, ancestors)]

    def forecast_rules_for(self, unit_id: str, level: str, ancestors: list[str]) -> list[ForecastRule]:
        return [r for r in self.rules if isinstance(r, ForecastRule) and r.covers(unit_id, level, ancestors)]

    @property
    def forecast_rules(self) -> list[ForecastRule]:
        return [r for r in self.rules if isinstance(r, ForecastRule) and r.enabled]
