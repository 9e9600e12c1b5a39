"""Turning an incoming message into the one number a rule compares (an `Observation`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.alerts.domain.rules import NearDueRule, ThresholdRule
from shared.indicators import LIVE_COUNTER_NAMES, RATE_FRACTIONS, NearDueDossier, UnitIndicators, UnitNearDue


@dataclass(frozen=True)
class UnitRef:
    unit_id: str
    name: str
    level: str
    ancestors: tuple[str, ...] = ()

    @property
    def subtree_ids(self) -> frozenset[str]:
        return frozenset((self.unit_id, *self.ancestors))


@dataclass(frozen=True)
class Observation:
    """What one message says about one rule's target.

    `value` is None when there is nothing to judge: the rate, score or rank is null, or the denominator is
    below the rule's minimum (`no_data_reason` says which). For growth rules `value` is the raw counter;
    the lifecycle turns it into growth using the samples it keeps.
    """

    unit: UnitRef
    observed_at: datetime
    value: float | None
    period: str | None = None
    denominator: int | None = None
    rank: int | None = None
    rank_of: int | None = None
    no_data_reason: str | None = None
    items: tuple[NearDueDossier, ...] = field(default=())
    # Forecast rules: today's figure of the same target, and the dossiers the scenarios turn on.
    current: float | None = None
    due_this_month: int | None = None
    overdue_open: int | None = None
    # Scoring was applying events ingested long ago (a back-fill, a replay): live counters moved with the data
    # arriving, not with time. Growth rules take neither a sample nor a decision from it, and restart their history.
    catching_up: bool = False


def unit_of(message: UnitIndicators | UnitNearDue) -> UnitRef:
    return UnitRef(message.unit_id, message.name, message.level, tuple(message.ancestors))


def _target_value(rule: ThresholdRule, message: UnitIndicators) -> float | None:
    target = rule.target
    if target in RATE_FRACTIONS:
        return getattr(message.rates, target)
    if target in LIVE_COUNTER_NAMES:
        return float(getattr(message.live, target))
    if target == "score":
        return message.score
    if target == "score_change":
        if message.score is None or message.previous_score is None:
            return None
        return message.score - message.previous_score
    if message.rank is None or message.rank_of < message.rank:
        return None
    if target == "rank":
        return float(message.rank)
    # rank_from_bottom: 1 = last of the level, so "bottom N" is rank_from_bottom <= N (rank > rank_of − N).
    return float(message.rank_of - message.rank + 1)


def _denominator(rule: ThresholdRule, message: UnitIndicators) -> int | None:
    name = rule.denominator_counter
    if name is None:
        return None
    if name in LIVE_COUNTER_NAMES:
        return int(getattr(message.live, name))
    return int(getattr(message.counters, name))


def observe(rule: ThresholdRule, message: UnitIndicators) -> Observation:
    """The rule's target as found in a `unit-indicators` message."""
    value = _target_value(rule, message)
    denominator = _denominator(rule, message)
    reason = None
    if value is None:
        reason = "null_value"
    elif denominator is not None and denominator < rule.min_denominator:
        value, reason = None, "denominator_below_minimum"
    # Live counters are as of live.as_of; monthly figures as of computed_at. The later one orders messages.
    observed_at = max(message.computed_at, message.live.as_of)
    return Observation(
        unit=unit_of(message),
        observed_at=observed_at,
        value=value,
        period=message.period,
        denominator=denominator,
        rank=message.rank,
        rank_of=message.rank_of,
        no_data_reason=reason,
        catching_up=message.catching_up,
    )


def observe_near_due(rule: NearDueRule, snapshot: UnitNearDue) -> Observation:
    """Dossiers due in [as_of, as_of + horizon), soonest first; value = how many."""
    start = snapshot.as_of
    end = start + rule.horizon
    due = sorted(
        (d for d in snapshot.dossiers if start <= d.due_at < end),
        key=lambda d: (d.due_at, d.dossier_id),
    )
    return Observation(unit=unit_of(snapshot), observed_at=start, value=float(len(due)), items=tuple(due))
