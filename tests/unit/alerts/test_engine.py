from __future__ import annotations

from datetime import timedelta

from services.alerts.domain.engine import evaluate_unit, tick
from services.alerts.domain.rules import RuleSet
from tests.unit.alerts.factories import T0, indicators, minutes, threshold_rule


def _rules() -> RuleSet:
    return RuleSet(
        (
            threshold_rule(id="pay", **{"for": "0s"}),
            threshold_rule(id="pay-slow"),
            threshold_rule(id="communes-only", scope={"levels": ["commune"]}),
            threshold_rule(id="off", enabled=False, **{"for": "0s"}),
            threshold_rule(
                id="bottom",
                target="rank_from_bottom",
                comparison="<=",
                threshold=5,
                clear_threshold=6,
                **{"for": "0s"},
                summary="$unit_name $rank/$rank_of",
            ),
        )
    )


def test_a_message_evaluates_every_rule_in_scope() -> None:
    rules = _rules()
    results = evaluate_unit(rules, {}, indicators(), T0)
    assert sorted(r.state.rule_id for r in results) == ["bottom", "pay", "pay-slow"]
    by_rule = {r.state.rule_id: r for r in results}
    assert by_rule["pay"].state.state == "firing"
    assert by_rule["pay-slow"].state.state == "pending"
    assert by_rule["bottom"].notifications[0].annotations["summary"] == "Quận Ba Đình 28/30"

    states = {r.state.rule_id: r.state for r in results}
    later = indicators(computed_at=(T0 + minutes(5)).isoformat())
    again = {r.state.rule_id: r for r in evaluate_unit(rules, states, later, T0 + minutes(5))}
    assert again["pay"].state.state == "firing"
    assert again["pay"].notifications == [] and again["pay"].transitions == []
    # The same message redelivered changes nothing at all, so the adapter writes nothing.
    assert evaluate_unit(rules, states, indicators(), T0 + minutes(6)) == []


def test_tick_advances_pending_and_repeats_but_skips_quiet_and_unknown_states() -> None:
    rules = _rules()
    results = evaluate_unit(rules, {}, indicators(), T0)
    states = [r.state for r in results]
    orphan = states[0].model_copy(update={"rule_id": "deleted-rule"})
    ticked = tick(rules, [*states, orphan], T0 + timedelta(hours=1))
    assert [r.state.rule_id for r in ticked] == ["pay-slow"]
    assert ticked[0].state.state == "firing"
    assert tick(rules, [*states, orphan], T0 + minutes(1)) == []


def test_a_texts_month_is_written_as_vietnamese_texts_write_it() -> None:
    """'(tháng 07/2024)', as the dashboard and the city's notices write a month — not '(tháng 2024-07)'."""
    rule = threshold_rule(id="pay", **{"for": "0s"}, summary="$unit_name (tháng $period)")
    fired = evaluate_unit(RuleSet((rule,)), {}, indicators(), T0)[0]
    assert fired.notifications[0].annotations["summary"] == "Quận Ba Đình (tháng 07/2024)"
