"""How many alerts the default rules fire on a demo day at steady state: `python -m bench.alert_volume [--scale 0.05]`.

Runs the demo's simulator (60 days of history at the demo's scale as `make demo` back-fills, then 15 minutes of
its live feed at 3 events/s) through scoring's own pure functions (merge, contribution, live counters, rates,
score, ranks, the month-end forecast) and evaluates the condition of every rule in config/alert_rules.yaml per
unit, with scopes and minimum denominators/dossiers, at the end instant AND at the end instant minus the rule's
pending duration (`for`), each from the events ingested by then. An alert counts as firing at steady state when
its condition held at both: what is firing once the `for` durations have passed on a normal demo day (a condition
that flickers in between is not caught; hysteresis would keep a few more firing: these are lower bounds by rule,
exact for conditions that hold steadily, which the monthly rates do within hours). score-drop compares with the
previous month's score from the same history.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.alerts.domain.rule_documents import load_rules
from services.alerts.domain.rules import ForecastRule, NearDueRule, Rule, ThresholdRule, condition_holds
from services.scoring.adapters.wire import record_of_event
from services.scoring.domain.counters import (
    contribution,
    current_month_progress_correction,
    expand_to_ancestors,
    live_counters,
)
from services.scoring.domain.forecast import ForecastInput, forecast_level
from services.scoring.domain.profile import ScoreProfile, parse_profile
from services.scoring.domain.rank import RankEntry, rank_units
from services.scoring.domain.rates import compute_rates
from services.scoring.domain.score import score_counters
from services.scoring.domain.state import merge
from services.scoring.domain.timebase import month_label, month_of, to_instant
from shared.contract import DossierEvent
from shared.indicators import LIVE_COUNTER_NAMES
from simulator.params import SimConfig, scale_for_rate
from simulator.registry import load_units
from simulator.stream import Simulator
from simulator.worktime import Rfc3339

REPO = Path(__file__).resolve().parent.parent
# A Wednesday, 10:00 in Hanoi, in the middle of a month: a normal working morning.
DEMO_NOW = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)


def simulate(scale: float, days: int, live_minutes: int, now: datetime) -> tuple[list, dict]:
    """History at `scale`, then `live_minutes` of the demo's live feed (3 events/s) up to `now`: every dossier's
    records, each with its ingested_at (states at an earlier instant merge the records ingested by then)."""
    units = load_units(REPO / "data" / "hanoi_registry.csv")
    end = int(now.timestamp())
    live_start = end - live_minutes * 60
    runs = [SimConfig(start=live_start - days * 86_400, end=live_start, seed=42, scale=scale, run_id="H")]
    if live_minutes:
        runs.append(SimConfig(start=live_start, end=end, seed=43, scale=scale_for_rate(3.0), run_id="L", backlog=False))
    fmt = Rfc3339()
    facts: dict[str, list] = defaultdict(list)
    for config in runs:
        for delivery in Simulator(config, units):
            if delivery.deliver_at >= end:
                continue
            event = DossierEvent.model_validate({**delivery.event, "ingested_at": fmt.utc(delivery.deliver_at)})
            facts[event.dossier_id].append(record_of_event(event))
    return units, facts


@dataclass
class Figures:
    """Every unit's figures at one instant, as scoring would publish them."""

    counters: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    previous: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    live: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    live_before: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    near_due: Counter = field(default_factory=Counter)
    score: dict[str, float | None] = field(default_factory=dict)
    previous_score: dict[str, float | None] = field(default_factory=dict)
    rank: dict[str, tuple[int | None, int]] = field(default_factory=dict)
    forecast: dict[str, object] = field(default_factory=dict)


class Demo:
    def __init__(self, units: list, facts: dict, profile: ScoreProfile) -> None:
        self.units = [u for u in units if u.valid_to is None]
        self.facts = facts
        self.profile = profile
        self.parent_of = {u.unit_id: u.parent_id for u in units}

    def ancestors(self, unit_id: str) -> list[str]:
        out, current = [], self.parent_of.get(unit_id)
        while current is not None:
            out.append(current)
            current = self.parent_of.get(current)
        return out

    def figures(self, now: datetime, horizon: timedelta) -> Figures:
        instant = to_instant(now)
        states = [merge(kept) for kept in ([r for r in records if r[1].ingested_at <= instant]
                                           for records in self.facts.values()) if kept]  # fmt: skip
        label = month_label(month_of(instant))
        previous_label = month_label(month_of(to_instant(now.replace(day=1) - timedelta(days=1))))
        own: Counter = Counter()
        for state in states:
            own.update(contribution(state, instant))
        correction = Counter(current_month_progress_correction(states, instant))
        out = Figures()
        stored: dict[str, dict[str, int]] = defaultdict(dict)
        for (unit, month, name), value in expand_to_ancestors(own, self.parent_of).items():
            if month == label:
                stored[unit][name] = value
            elif month == previous_label:
                out.previous[unit][name] = value
        due_this_month: Counter = Counter()
        for (unit, _, _), value in expand_to_ancestors(correction, self.parent_of).items():
            due_this_month[unit] += value
        for unit, values in stored.items():
            out.counters[unit] = {**values, "progress_on_time": values.get("progress_on_time", 0)
                                  + due_this_month[unit]}  # fmt: skip
        for state in states:
            home = state.home_unit
            if home is None:
                continue
            for target, at in ((out.live, instant), (out.live_before, to_instant(now - timedelta(hours=24)))):
                counts = live_counters(state, at)
                for unit in [home, *self.ancestors(home)]:
                    target[unit].update({k: v for k, v in counts.items() if k in LIVE_COUNTER_NAMES})
            due = state.effective_due
            open_now = state.is_open and due is not None and not state.on_hold_at(instant)
            if open_now and instant <= due < to_instant(now + horizon):
                out.near_due[home] += 1
        self._scores(out, stored, due_this_month)
        return out

    def _scores(self, out: Figures, stored: dict, due_this_month: Counter) -> None:
        for level in ("city", "department", "district", "commune"):
            ids = [u.unit_id for u in self.units if u.level == level]
            cards = {uid: score_counters(out.counters.get(uid, {}), self.profile) for uid in ids}
            for uid in ids:
                out.score[uid] = cards[uid].score
                out.previous_score[uid] = score_counters(out.previous.get(uid, {}), self.profile).score
            ranked = rank_units((RankEntry(uid, cards[uid].score, cards[uid].rates.get("progress_rate"),
                                           out.counters.get(uid, {}).get("progress_total", 0)) for uid in ids),
                                min_dossiers=self.profile.min_dossiers)  # fmt: skip
            out.rank.update({r.unit_id: (r.rank, r.rank_of) for r in ranked})
            inputs = {uid: ForecastInput(stored.get(uid, {}), due_this_month[uid]) for uid in ids}
            out.forecast.update(forecast_level(inputs, set(ids), self.profile))

    def holding(self, rule: Rule, figures: Figures) -> set[str]:
        """Units whose condition of `rule` holds in `figures` (scope, minimum denominator or dossiers)."""
        found = set()
        for unit in self.units:
            uid = unit.unit_id
            if not rule.covers(uid, unit.level, self.ancestors(uid)):
                continue
            if isinstance(rule, NearDueRule):
                if figures.near_due[uid] >= rule.min_dossiers:
                    found.add(uid)
                continue
            value = _forecast_value(rule, figures.forecast[uid]) if isinstance(rule, ForecastRule) else (
                _value(rule, uid, figures))  # fmt: skip
            if value is not None and condition_holds(value, rule.comparison, rule.threshold):
                found.add(uid)
        return found


def _forecast_value(rule: ForecastRule, forecast: object) -> float | None:
    scenario = getattr(forecast, rule.scenario)
    if scenario.counters.get("progress_total", 0) < rule.min_dossiers:
        return None
    if rule.target == "score":
        return scenario.card.score
    if rule.target == "progress_rate":
        return scenario.card.rates.get("progress_rate")
    ranked = scenario.ranked
    if ranked is None or ranked.rank is None:
        return None
    return float(ranked.rank if rule.target == "rank" else ranked.rank_of - ranked.rank + 1)


def _value(rule: ThresholdRule, uid: str, figures: Figures) -> float | None:
    counters, live = figures.counters.get(uid, {}), figures.live[uid]
    name = rule.denominator_counter
    if name is not None and rule.min_denominator:
        have = live[name] if name in LIVE_COUNTER_NAMES else counters.get(name, 0)
        if have < rule.min_denominator:
            return None
    if rule.target in LIVE_COUNTER_NAMES:
        if rule.growth_window is not None:
            return float(live[rule.target] - figures.live_before[uid][rule.target])
        return float(live[rule.target])
    score, previous = figures.score.get(uid), figures.previous_score.get(uid)
    if rule.target == "score":
        return score
    if rule.target == "score_change":
        return None if score is None or previous is None else score - previous
    if rule.target in ("rank", "rank_from_bottom"):
        rank, rank_of = figures.rank.get(uid, (None, 0))
        if rank is None:
            return None
        return float(rank if rule.target == "rank" else rank_of - rank + 1)
    return compute_rates(counters).get(rule.target)


def measure(rules_path: Path, scale: float, days: int, live_minutes: int, now: datetime) -> dict[str, int]:
    """Per rule: units whose condition holds at `now` and at `now - for` (steady-state firing)."""
    rules = load_rules(rules_path.read_text("utf-8"), str(rules_path))
    profile = parse_profile((REPO / "config" / "score_profile.yaml").read_text("utf-8"))
    units, facts = simulate(scale, days, live_minutes, now)
    demo = Demo(units, facts, profile)
    horizon = max((r.horizon for r in rules.rules if isinstance(r, NearDueRule)), default=timedelta(hours=24))
    cache: dict[datetime, Figures] = {}

    def at(moment: datetime) -> Figures:
        if moment not in cache:
            cache[moment] = demo.figures(moment, horizon)
        return cache[moment]

    fired: dict[str, int] = {}
    for rule in rules.rules:
        if not rule.enabled:
            continue
        holding = demo.holding(rule, at(now))
        pending = getattr(rule, "for_", timedelta(0))
        if pending > timedelta(0):
            holding &= demo.holding(rule, at(now - pending))
        fired[rule.id] = len(holding)
    return fired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=Path, default=REPO / "config" / "alert_rules.yaml")
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--live-minutes", type=int, default=15)
    args = parser.parse_args()
    fired = measure(args.rules, args.scale, args.days, args.live_minutes, DEMO_NOW)
    for rule_id, hits in fired.items():
        print(f"{rule_id:24} {hits:5}")
    print(f"{'total':24} {sum(fired.values()):5}")


if __name__ == "__main__":
    main()
