"""A level's month-end forecast recomputed for the units whose figures changed only (the API process, issue 15).

A level's forecast (domain/forecast.forecast_level) scores three scenarios of every unit of the level: ~100 ms of
CPU for the communes, the largest piece of the API process's refresh work once the live feed changes the current
month every second (a third of its GIL time during a back-fill, py-spy, docs/benchmarks.md). A batch of the live
feed changes a handful of units; so the next forecast takes the previous one's scenarios (counters and score card)
of every unit whose input is equal, computes the changed units' with forecast_level, and ranks each scenario again
over the whole level (a sort): the same result as forecast_level from scratch, tested against it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from services.scoring.domain.forecast import SCENARIOS, ForecastInput, Scenario, UnitForecast, forecast_level
from services.scoring.domain.profile import ScoreProfile
from services.scoring.domain.rank import RankEntry, rank_units

FULL_SHARE = 0.25
"""More changed units than this share of the level: computed from scratch (patching would save little)."""


@dataclass(frozen=True, slots=True)
class ForecastBasis:
    """What a level's forecast was computed from, and the forecast (the next one is patched from it)."""

    inputs: Mapping[str, ForecastInput]
    existing: Collection[str]
    profile: ScoreProfile
    computed: dict[str, UnitForecast]


def refresh_forecast(
    inputs: Mapping[str, ForecastInput],
    existing: Collection[str],
    profile: ScoreProfile,
    previous: ForecastBasis | None,
) -> ForecastBasis:
    """The level's forecast, patched from `previous` when only some units' inputs changed (same profile, same
    units existing), else computed in full."""
    if previous is None or previous.profile is not profile or set(previous.existing) != set(existing):
        return ForecastBasis(inputs, existing, profile, forecast_level(inputs, existing, profile))
    changed = {uid: item for uid, item in inputs.items() if previous.inputs.get(uid) != item}
    if not changed and inputs.keys() == previous.inputs.keys():
        return ForecastBasis(inputs, existing, profile, previous.computed)
    if len(changed) > FULL_SHARE * len(inputs) or not inputs.keys() <= previous.inputs.keys():
        return ForecastBasis(inputs, existing, profile, forecast_level(inputs, existing, profile))
    fresh = forecast_level(changed, (), profile)  # the changed units' scenarios; ranks are redone below
    mine = {uid: fresh[uid] if uid in fresh else previous.computed[uid] for uid in inputs}
    in_level = set(existing)
    ranks = {}
    for name in SCENARIOS:
        entries = []
        for uid in inputs:
            if uid in in_level:
                scenario: Scenario = getattr(mine[uid], name)
                card, in_play = scenario.card, scenario.counters["progress_total"]
                entries.append(RankEntry(uid, card.score, card.rates.get("progress_rate"), in_play))
        ranks[name] = {entry.unit_id: entry for entry in rank_units(entries, min_dossiers=profile.min_dossiers)}
    computed = {}
    for uid, forecast in mine.items():
        scenarios = [getattr(forecast, name) for name in SCENARIOS]
        new_ranks = [ranks[name].get(uid) for name in SCENARIOS]
        if uid not in fresh and all(s.ranked == r for s, r in zip(scenarios, new_ranks, strict=True)):
            computed[uid] = forecast  # nothing of it changed: the same object
            continue
        current, worst, best = (Scenario(s.counters, s.card, r) for s, r in zip(scenarios, new_ranks, strict=True))
        computed[uid] = UnitForecast(current, worst, best, forecast.due_this_month)
    return ForecastBasis(inputs, existing, profile, computed)
