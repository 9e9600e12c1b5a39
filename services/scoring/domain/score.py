"""Points and score (SPEC §5) of one unit-month from its counters and a score profile."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.scoring.domain.profile import ScoreProfile
from services.scoring.domain.rates import compute_rates


@dataclass(frozen=True, slots=True)
class GroupScore:
    """A group's points out of its max.

    ``points`` sums the points of the group's indicators that have a rate; None when none has (SPEC §6: shown
    as "—", never 0 — the score is already re-weighted without the group);
    ``max`` is the sum of all the group's weights, reported even when rates are null; ``rated_max`` is the
    part of ``max`` whose indicators had a rate, so a client can tell "no data" (rated_max 0) from "0 points".
    """

    points: float | None
    max: float
    rated_max: float


@dataclass(frozen=True, slots=True)
class ScoreCard:
    rates: dict[str, float | None]
    """All nine rates, scored or not (on_time_rate is reported but not in the default profile)."""
    points: dict[str, float | None]
    """Points of each profile indicator; None when its rate is null."""
    groups: dict[str, GroupScore]
    score: float | None
    """100 × Σ points / Σ weight over indicators with a rate; None when every indicator's rate is null."""


def indicator_points(rate: float | None, weight: float, target: float) -> float | None:
    """weight × min(rate / target, 1): full points from the target up, proportional below it."""
    if rate is None:
        return None
    return weight * min(rate / target, 1.0)


def score_counters(counters: Mapping[str, int], profile: ScoreProfile) -> ScoreCard:
    """Rates, indicator points, group points and the score; all unrounded (clients round for display)."""
    rates = compute_rates(counters)
    points: dict[str, float | None] = {}
    groups: dict[str, GroupScore] = {}
    points_sum = 0.0
    rated_weight = 0.0
    for group in profile.groups:
        group_points = 0.0
        group_rated = 0.0
        for indicator in group.indicators:
            earned = indicator_points(rates[indicator.name], indicator.weight, indicator.target)
            points[indicator.name] = earned
            if earned is not None:
                group_points += earned
                group_rated += indicator.weight
        groups[group.key] = GroupScore(
            points=group_points if group_rated > 0 else None, max=group.max_points, rated_max=group_rated
        )
        points_sum += group_points
        rated_weight += group_rated
    score = 100.0 * points_sum / rated_weight if rated_weight > 0 else None
    return ScoreCard(rates=rates, points=points, groups=groups, score=score)
