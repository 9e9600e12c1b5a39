"""The near-due digest: ONE alert per (rule, unit) listing the unit's near-due dossiers, most urgent first."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.alerts.domain.engine import evaluate_unit
from services.alerts.domain.notifications import format_left, items_text
from services.alerts.domain.observations import observe_near_due
from services.alerts.domain.rules import RuleSet
from services.alerts.domain.state import AlertState
from shared.indicators import NearDueDossier, UnitNearDue
from tests.unit.alerts.factories import T0, Runner, minutes, near_due_rule


def dossier(dossier_id: str, hours: float) -> NearDueDossier:
    return NearDueDossier(dossier_id=dossier_id, unit_id="quan-ba-dinh", due_at=T0 + timedelta(hours=hours))


def snapshot(*dossiers: NearDueDossier, at_minutes: float = 0) -> UnitNearDue:
    return UnitNearDue(
        unit_id="quan-ba-dinh", name="Quận Ba Đình", level="district", ancestors=["ha-noi"],
        as_of=T0 + minutes(at_minutes), dossiers=list(dossiers),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("left", "vi", "en"),
    [
        (timedelta(hours=3, minutes=5), "còn 3 giờ 05 phút", "3 h 05 min left"),
        (timedelta(minutes=42, seconds=59), "còn 42 phút", "42 min left"),
        (timedelta(hours=23, minutes=59), "còn 23 giờ 59 phút", "23 h 59 min left"),
        (timedelta(seconds=30), "đã đến hạn", "due now"),
        (timedelta(0), "đã đến hạn", "due now"),
        (-timedelta(minutes=5), "đã đến hạn", "due now"),
    ],
)
def test_time_left_is_to_the_minute_rounded_down(left: timedelta, vi: str, en: str) -> None:
    assert format_left(T0 + left, T0, "vi") == vi
    assert format_left(T0 + left, T0, "en") == en


def test_time_left_is_empty_without_an_observation_time() -> None:
    assert format_left(T0, None, "vi") == ""
    assert items_text([dossier("HS-1", 1)], 1, "vi") == "- HS-1 — hạn 09:00 15/07/2024"


def test_items_text_lists_the_first_n_and_counts_the_rest_in_both_languages() -> None:
    items = [dossier("HS-1", 1.5), dossier("HS-2", 20)]
    assert items_text(items, 7, "vi", T0) == (
        "- HS-1 — hạn 09:30 15/07/2024 (còn 1 giờ 30 phút)\n"
        "- HS-2 — hạn 04:00 16/07/2024 (còn 20 giờ 00 phút)\n"
        "… và 5 hồ sơ khác"
    )
    assert items_text(items, 2, "en", T0) == (
        "- HS-1 — due 2024-07-15 09:30 (UTC+7) (1 h 30 min left)\n"
        "- HS-2 — due 2024-07-16 04:00 (UTC+7) (20 h 00 min left)"
    )


def test_forty_near_due_dossiers_make_one_alert_listing_the_most_urgent_and_counting_all() -> None:
    rule = near_due_rule(
        max_listed=5,
        summary="$unit_name: $count hồ sơ sắp quá hạn, sớm nhất $earliest_left",
        summary_en="$unit_name: $count dossiers near due, first $earliest_left",
    )
    due = [dossier(f"HS-{n:02d}", 23 - n * 0.5) for n in range(40)]  # HS-39 is the most urgent (3.5 h)
    results = evaluate_unit(RuleSet((rule,)), {}, snapshot(*due), T0)
    assert len(results) == 1  # one (rule, unit) alert, not one per dossier
    [note] = results[0].notifications
    assert note.kind == "firing" and note.labels["alertname"] == "near-due"
    assert note.labels["unit_id"] == "quan-ba-dinh" and "dossier_id" not in note.labels
    assert [d.dossier_id for d in note.items] == ["HS-39", "HS-38", "HS-37", "HS-36", "HS-35"]
    assert note.annotations["dossier_count"] == "40"
    assert note.annotations["summary"] == "Quận Ba Đình: 40 hồ sơ sắp quá hạn, sớm nhất còn 3 giờ 30 phút"
    assert note.annotations["summary_en"] == "Quận Ba Đình: 40 dossiers near due, first 3 h 30 min left"
    lines = note.annotations["description"].splitlines()
    assert lines[1] == "- HS-39 — hạn 11:30 15/07/2024 (còn 3 giờ 30 phút)"
    assert lines[-1] == "… và 35 hồ sơ khác"


def test_the_digest_follows_dossiers_coming_and_going_then_resolves_when_none_are_left() -> None:
    rule = near_due_rule(refresh_interval="1h", max_listed=10)
    run = Runner(rule)
    run.step(observe_near_due(rule, snapshot(dossier("A", 5), dossier("B", 6))), T0)
    # A is finished, C comes in: one refresh with the new list (after the refresh interval), same alert.
    run.step(observe_near_due(rule, snapshot(dossier("B", 6), dossier("C", 7), at_minutes=90)), T0 + minutes(90))
    assert run.kinds() == ["firing", "refresh"]
    refreshed = run.notifications[-1]
    assert [d.dossier_id for d in refreshed.items] == ["B", "C"]
    assert refreshed.labels == run.notifications[0].labels and refreshed.starts_at == run.notifications[0].starts_at
    assert "(còn 4 giờ 30 phút)" in refreshed.annotations["description"]  # counted from the new observation
    run.step(observe_near_due(rule, snapshot(dossier("C", 7), at_minutes=100)), T0 + minutes(100))
    run.step(observe_near_due(rule, snapshot(at_minutes=200)), T0 + minutes(200))
    assert run.kinds() == ["firing", "refresh", "resolved"]
    assert run.state.state == "resolved" and run.state.item_count == 0


def test_a_dossier_that_reached_its_due_leaves_the_digest() -> None:
    rule = near_due_rule()
    seen = observe_near_due(rule, snapshot(dossier("DUE", 0.5), dossier("LATER", 3), at_minutes=31))
    assert [d.dossier_id for d in seen.items] == ["LATER"]


def test_min_dossiers_keeps_a_unit_with_fewer_quiet_and_hysteresis_free_resolution_below_it() -> None:
    rule = near_due_rule(min_dossiers=3)
    rules = RuleSet((rule,))
    quiet = evaluate_unit(rules, {}, snapshot(dossier("A", 1), dossier("B", 2)), T0)
    assert all(r.state.state == "inactive" for r in quiet) and not any(r.notifications for r in quiet)
    [fired] = evaluate_unit(rules, {}, snapshot(dossier("A", 1), dossier("B", 2), dossier("C", 3)), T0)
    assert fired.state.state == "firing"
    states: dict[str, AlertState] = {rule.id: fired.state}
    [resolved] = evaluate_unit(rules, states, snapshot(dossier("A", 1), at_minutes=10), T0 + minutes(10))
    assert resolved.state.state == "resolved" and [n.kind for n in resolved.notifications] == ["resolved"]
