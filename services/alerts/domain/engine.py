"""Applying a whole rule set to one message or one timer tick (what the entrypoints call).

States are keyed by rule id for one unit (`evaluate_unit`) or by (rule_id, unit_id)
for ticks. A missing state means "inactive so far". Only results that changed something are returned, so the
adapter writes nothing for the (usual) quiet case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from services.alerts.domain.forecasts import UnitForecast, observe_forecast
from services.alerts.domain.lifecycle import EvaluationResult, evaluate
from services.alerts.domain.observations import Observation, observe, observe_near_due
from services.alerts.domain.rules import Rule, RuleSet
from services.alerts.domain.silences import Silence
from services.alerts.domain.state import AlertState
from shared.indicators import UnitIndicators, UnitNearDue


def _changed(before: AlertState, result: EvaluationResult) -> bool:
    return bool(result.transitions or result.notifications or result.state != before)


def _evaluate_rules(
    rules: Iterable[Rule],
    states: Mapping[str, AlertState],
    unit_id: str,
    observation_of: Callable[[Rule], Observation],
    now: datetime,
    silences: Iterable[Silence],
) -> list[EvaluationResult]:
    active_silences = tuple(silences)
    results: list[EvaluationResult] = []
    for rule in rules:
        before = states.get(rule.id) or AlertState.new(rule.id, unit_id)
        result = evaluate(before, observation_of(rule), now, rule, active_silences)
        if _changed(before, result):
            results.append(result)
    return results


def evaluate_unit(
    rules: RuleSet,
    states: Mapping[str, AlertState],
    item: UnitIndicators | UnitNearDue | UnitForecast,
    now: datetime,
    silences: Iterable[Silence] = (),
) -> list[EvaluationResult]:
    """Every enabled rule of the item's kind whose scope covers its unit: threshold rules for a `unit-indicators`
    message, near-due rules for a unit's near-due list, forecast rules for its month-end forecast."""
    if isinstance(item, UnitForecast):
        forecast = rules.forecast_rules_for(item.unit_id, item.level, item.ancestors)
        return _evaluate_rules(forecast, states, item.unit_id, lambda rule: observe_forecast(rule, item), now, silences)
    if isinstance(item, UnitNearDue):
        near_due = rules.near_due_rules_for(item.unit_id, item.level, item.ancestors)
        return _evaluate_rules(near_due, states, item.unit_id, lambda rule: observe_near_due(rule, item), now, silences)
    threshold = rules.threshold_rules_for(item.unit_id, item.level, item.ancestors)
    return _evaluate_rules(threshold, states, item.unit_id, lambda rule: observe(rule, item), now, silences)


def tick(
    rules: RuleSet, states: Iterable[AlertState], now: datetime, silences: Iterable[Silence] = ()
) -> list[EvaluationResult]:
    """The clock alone: pending alerts whose `for` elapsed fire; firing ones repeat or get delivered once a
    silence ends. Only pending and firing states can change on a tick. States of disabled rules are left as
    they are; those of removed rules are closed when the rule set that drops them is activated (retirement)."""
    active_silences = tuple(silences)
    results: list[EvaluationResult] = []
    for before in states:
        rule = rules.by_id(before.rule_id)
        if rule is None or not rule.enabled or before.state not in ("pending", "firing"):
            continue
        result = evaluate(before, None, now, rule, active_silences)
        if _changed(before, result):
            results.append(result)
    return results
