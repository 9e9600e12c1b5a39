from __future__ import annotations

from datetime import timedelta

from services.alerts.domain.engine import evaluate_unit
from services.alerts.domain.observations import observe_near_due
from services.alerts.domain.rules import RuleSet
from shared.indicators import NearDueDossier, UnitNearDue
from tests.unit.alerts.factories import T0, Runner, minutes, near_due_rule


def dossier(dossier_id: str, hours: float, procedure: str | None = "1.000123") -> NearDueDossier:
    return NearDueDossier(
        dossier_id=dossier_id, procedure_id=procedure, unit_id="quan-ba-dinh", due_at=T0 + timedelta(hours=hours)
    )


def snapshot(*dossiers: NearDueDossier, at_minutes: float = 0) -> UnitNearDue:
    return UnitNearDue(
        unit_id="quan-ba-dinh",
        name="Quận Ba Đình",
        level="district",
        ancestors=["ha-noi"],
        as_of=T0 + minutes(at_minutes),
        dossiers=list(dossiers),
    )


def test_only_dossiers_within_the_horizon_are_listed_soonest_first() -> None:
    rule = near_due_rule(horizon="24h")
    seen = observe_near_due(rule, snapshot(dossier("B", 5), dossier("A", 2), dossier("late", 24), dossier("C", 5)))
    assert [d.dossier_id for d in seen.items] == ["A", "B", "C"]
    assert seen.value == 3


def test_one_alert_per_unit_listing_dossiers_with_procedure_and_due() -> None:
    rule = near_due_rule(max_listed=2)
    run = Runner(rule)
    run.step(observe_near_due(rule, snapshot(dossier("HS-1", 2), dossier("HS-2", 3, None), dossier("HS-3", 4))), T0)
    assert run.kinds() == ["firing"]
    note = run.notifications[0]
    assert note.annotations["summary"] == "Quận Ba Đình: 3 hồ sơ sắp quá hạn"
    assert note.annotations["description"] == (
        "Trong 24 giờ tới:\n"
        "- HS-1 (thủ tục 1.000123) — hạn 10:00 15/07/2024 (còn 2 giờ 00 phút)\n"
        "- HS-2 — hạn 11:00 15/07/2024 (còn 3 giờ 00 phút)\n"
        "… và 1 hồ sơ khác"
    )
    assert note.annotations["dossier_count"] == "3"
    assert [d.dossier_id for d in note.items] == ["HS-1", "HS-2"]


def test_refreshed_when_the_list_changes_at_most_every_refresh_interval_and_resolved_when_empty() -> None:
    rule = near_due_rule(refresh_interval="1h")
    run = Runner(rule)
    run.step(observe_near_due(rule, snapshot(dossier("HS-1", 5))), T0)
    # Same list later: nothing. Changed list 10 min later: held back until the refresh interval.
    run.step(observe_near_due(rule, snapshot(dossier("HS-1", 5), at_minutes=30)), T0 + minutes(30))
    run.step(observe_near_due(rule, snapshot(dossier("HS-1", 5), dossier("HS-9", 6), at_minutes=40)), T0 + minutes(40))
    assert run.kinds() == ["firing"]
    run.step(None, T0 + minutes(61))
    assert run.kinds() == ["firing", "refresh"]
    assert [d.dossier_id for d in run.notifications[-1].items] == ["HS-1", "HS-9"]
    run.step(None, T0 + minutes(200))
    assert run.kinds() == ["firing", "refresh"]
    run.step(observe_near_due(rule, snapshot(at_minutes=300)), T0 + minutes(300))
    assert run.state.state == "resolved"
    assert run.kinds() == ["firing", "refresh", "resolved"]


def test_acknowledged_near_due_alert_stops_refreshing() -> None:
    from services.alerts.domain.lifecycle import acknowledge

    rule = near_due_rule(refresh_interval="1h")
    run = Runner(rule)
    run.step(observe_near_due(rule, snapshot(dossier("HS-1", 5))), T0)
    run.state, _ = acknowledge(run.state, "to-mot-cua", T0 + minutes(1))
    run.step(observe_near_due(rule, snapshot(dossier("HS-2", 5), at_minutes=90)), T0 + minutes(90))
    run.step(None, T0 + minutes(200))
    assert run.kinds() == ["firing"]


def test_engine_applies_near_due_rules_in_scope_only() -> None:
    rules = RuleSet((near_due_rule(scope={"levels": ["commune"]}), near_due_rule(id="all-units")))
    results = evaluate_unit(rules, {}, snapshot(dossier("HS-1", 1)), T0)
    assert [r.state.rule_id for r in results] == ["all-units"]
    assert results[0].state.state == "firing"
