"""How many alerts the default rules fire on a demo day: `python -m bench.alert_volume [--scale 0.05]`.

Runs the demo's simulator (60 days of history at the demo's scale as `make demo` back-fills, then 15 minutes of
its live feed at 3 events/s) through
scoring's own pure functions (merge, contribution, live counters, rates) and evaluates the conditions of every
rule in config/alert_rules.yaml at the end instant, per unit, with scopes and minimum denominators/dossiers.
Pending durations are not simulated (the monthly rates barely move within a `for` of 1–6 h), so the result is
what is firing a few hours into a steady demo day. score-drop needs the previous month's scores: not evaluated.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.alerts.domain.rules import NearDueRule, ThresholdRule, condition_holds, load_rules
from services.scoring.adapters.wire import record_of_event
from services.scoring.domain.counters import (
    contribution,
    current_month_progress_correction,
    expand_to_ancestors,
    live_counters,
)
from services.scoring.domain.rates import compute_rates
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
    """History at `scale`, then `live_minutes` of the demo's live feed (3 events/s) up to `now`."""
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
    return units, {dossier_id: merge(events) for dossier_id, events in facts.items()}


def measure(rules_path: Path, scale: float, days: int, live_minutes: int, now: datetime) -> dict[str, int]:
    rules = load_rules(rules_path.read_text("utf-8"), str(rules_path))
    units, states = simulate(scale, days, live_minutes, now)
    parent_of = {u.unit_id: u.parent_id for u in units}

    def ancestors(unit_id: str) -> list[str]:
        out, current = [], parent_of.get(unit_id)
        while current is not None:
            out.append(current)
            current = parent_of.get(current)
        return out

    instant = to_instant(now)
    label = month_label(month_of(instant))
    own: Counter = Counter()
    for state in states.values():
        own.update(contribution(state, instant))
    own.update(current_month_progress_correction(states.values(), instant))
    counters: dict[str, dict[str, int]] = defaultdict(dict)
    for (unit, month, name), value in expand_to_ancestors(own, parent_of).items():
        if month == label:
            counters[unit][name] = value
    live: dict[str, Counter] = defaultdict(Counter)
    live_before: dict[str, Counter] = defaultdict(Counter)
    near_due: dict[str, int] = Counter()
    horizon = max((r.horizon for r in rules.rules if isinstance(r, NearDueRule)), default=timedelta(hours=24))
    for state in states.values():
        home = state.home_unit
        if home is None:
            continue
        for target, at in ((live, instant), (live_before, to_instant(now - timedelta(hours=24)))):
            counts = live_counters(state, at)
            for unit in [home, *ancestors(home)]:
                target[unit].update({k: v for k, v in counts.items() if k in LIVE_COUNTER_NAMES})
        due = state.effective_due
        open_now = state.is_open and due is not None and not state.on_hold_at(instant)
        if open_now and instant <= due < to_instant(now + horizon):
            near_due[home] += 1

    fired: dict[str, int] = {}
    for rule in rules.rules:
        if not rule.enabled:
            continue
        hits = 0
        for unit in units:
            if unit.valid_to is not None or not rule.covers(unit.unit_id, unit.level, ancestors(unit.unit_id)):
                continue
            if isinstance(rule, NearDueRule):
                hits += near_due[unit.unit_id] >= rule.min_dossiers
                continue
            value = _value(rule, counters[unit.unit_id], live[unit.unit_id], live_before[unit.unit_id])
            if value is None:
                continue
            name = rule.denominator_counter
            if name is not None and rule.min_denominator:
                have = live[unit.unit_id][name] if name in LIVE_COUNTER_NAMES else counters[unit.unit_id].get(name, 0)
                if have < rule.min_denominator:
                    continue
            hits += condition_holds(value, rule.comparison, rule.threshold)
        fired[rule.id] = hits
    return fired


def _value(rule: ThresholdRule, counters: dict, live: Counter, before: Counter) -> float | None:
    if rule.target in LIVE_COUNTER_NAMES:
        if rule.growth_window is not None:
            return float(live[rule.target] - before[rule.target])
        return float(live[rule.target])
    rates = compute_rates(counters)
    if rule.target in rates:
        return rates[rule.target]
    return None  # score, score_change, ranks: need scoring's score table (see the module docstring)


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
