from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.alerts.domain.lifecycle import AcknowledgementError, acknowledge, evaluate
from services.alerts.domain.rules import ThresholdRule
from services.alerts.domain.state import AlertState
from tests.unit.alerts.factories import T0, Runner, minutes, obs, threshold_rule


def test_condition_goes_pending_then_fires_after_for_on_a_tick() -> None:
    run = Runner(threshold_rule())
    run.see(0.50, T0)
    assert run.state.state == "pending"
    assert run.state.pending_since == T0
    assert run.notifications == []

    run.step(None, T0 + minutes(59))
    assert run.state.state == "pending"

    run.step(None, T0 + minutes(75))
    assert run.state.state == "firing"
    # The firing instant is when `for` elapsed, not when the (late) tick happened to run.
    assert run.state.fired_at == T0 + timedelta(hours=1)
    assert run.kinds() == ["firing"]
    firing = run.notifications[0]
    assert firing.status == "firing"
    assert firing.starts_at == T0 + timedelta(hours=1)
    assert firing.labels == {
        "alertname": "online-payment-low",
        "unit_id": "quan-ba-dinh",
        "severity": "warning",
        "level": "district",
    }
    assert firing.annotations["summary"] == "Quận Ba Đình: 50,0 % < 55,0 %"
    assert [t.to_state for t in run.transitions] == ["pending", "firing"]
    assert [t.reason for t in run.transitions] == ["condition_met", "for_elapsed"]


def test_message_arriving_after_for_fires_as_well() -> None:
    run = Runner(threshold_rule())
    run.see(0.50, T0)
    run.see(0.52, T0 + minutes(90))
    assert run.state.state == "firing"
    assert run.state.fired_at == T0 + timedelta(hours=1)
    assert run.kinds() == ["firing"]


def test_pending_drops_to_inactive_when_condition_stops_before_for() -> None:
    run = Runner(threshold_rule())
    run.see(0.50, T0)
    run.see(0.56, T0 + minutes(30))  # inside the band, but pending needs the strict condition
    assert run.state.state == "inactive"
    run.step(None, T0 + minutes(120))
    assert run.state.state == "inactive"
    assert run.notifications == []
    assert [t.reason for t in run.transitions] == ["condition_met", "condition_cleared"]


def test_zero_for_fires_immediately() -> None:
    run = Runner(threshold_rule(**{"for": "0s"}))
    run.see(0.40, T0)
    assert run.state.state == "firing"
    assert run.state.fired_at == T0
    assert run.kinds() == ["firing"]


def test_firing_stays_inside_hysteresis_band_and_resolves_past_clear_threshold() -> None:
    run = Runner(threshold_rule(**{"for": "0s"}))
    run.see(0.50, T0)
    for i, value in enumerate([0.555, 0.565, 0.549, 0.569, 0.56], start=1):
        run.see(value, T0 + minutes(i))
        assert run.state.state == "firing"
    assert run.kinds() == ["firing"]

    run.see(0.57, T0 + minutes(10))
    assert run.state.state == "resolved"
    assert run.state.resolved_at == T0 + minutes(10)
    assert run.state.resolved_value == 0.57
    assert run.kinds() == ["firing", "resolved"]
    resolved = run.notifications[-1]
    assert resolved.status == "resolved"
    assert resolved.ends_at == T0 + minutes(10)
    assert resolved.starts_at == T0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.5501, max_value=0.5699), min_size=1, max_size=40))
def test_values_flapping_inside_the_band_send_nothing_after_firing(values: list[float]) -> None:
    run = Runner(threshold_rule(**{"for": "0s", "repeat_interval": None}))
    run.see(0.50, T0)
    for i, value in enumerate(values, start=1):
        run.see(value, T0 + minutes(i))
    assert run.state.state == "firing"
    assert run.kinds() == ["firing"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.55, max_value=1.0), min_size=1, max_size=40))
def test_values_at_or_above_threshold_never_go_pending(values: list[float]) -> None:
    run = Runner(threshold_rule(**{"for": "0s"}))
    for i, value in enumerate(values):
        run.see(value, T0 + minutes(i))
    assert run.state.state == "inactive"
    assert run.transitions == [] and run.notifications == []


def test_resolved_behaves_like_inactive_and_a_new_episode_gets_new_ids() -> None:
    run = Runner(threshold_rule(**{"for": "0s"}))
    run.see(0.50, T0)
    run.see(0.60, T0 + minutes(5))
    run.see(0.60, T0 + minutes(6))
    assert run.state.state == "resolved"
    run.see(0.50, T0 + minutes(10))
    assert run.state.state == "firing"
    assert run.state.fired_at == T0 + minutes(10)
    assert run.kinds() == ["firing", "resolved", "firing"]
    ids = [n.id for n in run.notifications]
    assert len(set(ids)) == 3


def test_repeat_every_interval_until_acknowledged() -> None:
    run = Runner(threshold_rule(**{"for": "0s", "repeat_interval": "4h"}))
    run.see(0.50, T0)
    run.step(None, T0 + timedelta(hours=3, minutes=59))
    assert run.kinds() == ["firing"]
    run.step(None, T0 + timedelta(hours=4))
    run.step(None, T0 + timedelta(hours=5))
    run.step(None, T0 + timedelta(hours=8))
    assert run.kinds() == ["firing", "repeat", "repeat"]
    assert [n.sequence for n in run.notifications] == [0, 1, 2]

    state, transition = acknowledge(run.state, "chuyen-vien-a", T0 + timedelta(hours=9))
    run.state = state
    assert transition.reason == "acknowledged" and transition.actor == "chuyen-vien-a"
    for hours in (12, 16, 40):
        run.step(None, T0 + timedelta(hours=hours))
    assert run.kinds() == ["firing", "repeat", "repeat"]

    # Acknowledgement does not hide the resolution, and the next episode starts unacknowledged.
    run.see(0.90, T0 + timedelta(hours=41))
    assert run.kinds()[-1] == "resolved"
    run.see(0.10, T0 + timedelta(hours=42))
    assert run.state.acknowledged_at is None
    run.step(None, T0 + timedelta(hours=46))
    assert run.kinds()[-2:] == ["firing", "repeat"]


def test_no_repeats_when_repeat_interval_is_null() -> None:
    run = Runner(threshold_rule(**{"for": "0s", "repeat_interval": None}))
    run.see(0.50, T0)
    run.step(None, T0 + timedelta(days=10))
    assert run.kinds() == ["firing"]


def test_acknowledging_an_alert_that_is_not_firing_is_refused() -> None:
    with pytest.raises(AcknowledgementError):
        acknowledge(AlertState.new("r", "u"), "ai-do", T0)
    run = Runner(threshold_rule(**{"for": "0s"}))
    run.see(0.50, T0)
    with pytest.raises(AcknowledgementError):
        acknowledge(run.state, "  ", T0)
    first, _ = acknowledge(run.state, "a", T0 + minutes(1))
    second, _ = acknowledge(first, "b", T0 + minutes(2))
    assert second.acknowledged_by == "a" and second.acknowledged_at == T0 + minutes(1)


def test_insufficient_denominator_never_fires() -> None:
    run = Runner(threshold_rule(**{"for": "0s"}))
    for i in range(20):
        run.step(obs(None, T0 + minutes(i), no_data_reason="denominator_below_minimum"), T0 + minutes(i))
    assert run.state.state == "inactive"
    assert run.transitions == [] and run.notifications == []


def test_no_data_drops_pending_but_keeps_firing_unless_rule_says_resolve() -> None:
    pending = Runner(threshold_rule())
    pending.see(0.50, T0)
    pending.see(None, T0 + minutes(10))
    assert pending.state.state == "inactive"
    assert pending.transitions[-1].reason == "no_data"

    keep = Runner(threshold_rule(**{"for": "0s"}))
    keep.see(0.50, T0)
    keep.see(None, T0 + minutes(10))
    assert keep.state.state == "firing"
    assert keep.state.last_value == 0.50

    resolve = Runner(threshold_rule(**{"for": "0s", "on_no_data": "resolve"}))
    resolve.see(0.50, T0)
    resolve.see(None, T0 + minutes(10))
    assert resolve.state.state == "resolved"
    assert resolve.kinds() == ["firing", "resolved"]


def test_stale_and_older_period_messages_are_ignored() -> None:
    run = Runner(threshold_rule(**{"for": "0s"}))
    run.see(0.50, T0 + minutes(10))
    # An older message delivered late, and a recomputation of last month, must not resolve the alert.
    run.see(0.90, T0 + minutes(5))
    run.see(0.90, T0 + minutes(20), period="2024-06")
    assert run.state.state == "firing"
    assert run.kinds() == ["firing"]
    run.see(0.90, T0 + minutes(30))
    assert run.state.state == "resolved"


def test_observation_from_the_future_is_dated_now() -> None:
    run = Runner(threshold_rule(**{"for": "0s"}))
    run.step(obs(0.5, T0 + timedelta(hours=2)), T0)
    assert run.state.fired_at == T0


@pytest.mark.parametrize(
    ("comparison", "threshold", "clear", "fire_value", "band_value", "clear_value"),
    [
        ("<", 0.55, 0.57, 0.54, 0.56, 0.57),
        ("<=", 0.55, 0.57, 0.55, 0.57, 0.571),
        (">", 10, 5, 11, 6, 5),
        (">=", 10, 5, 10, 5, 4.9),
    ],
)
def test_every_comparison_with_its_band(
    comparison: str, threshold: float, clear: float, fire_value: float, band_value: float, clear_value: float
) -> None:
    target = "online_payment_rate" if threshold < 1 else "overdue_open"
    rule = threshold_rule(
        **{"for": "0s", "target": target, "comparison": comparison, "threshold": threshold, "clear_threshold": clear}
    )
    run = Runner(rule)
    run.see(fire_value, T0)
    run.see(band_value, T0 + minutes(1))
    assert run.state.state == "firing"
    run.see(clear_value, T0 + minutes(2))
    assert run.state.state == "resolved"


def test_growth_rule_compares_increase_over_window() -> None:
    rule = threshold_rule(
        **{
            "target": "overdue_open",
            "growth_window": "24h",
            "comparison": ">=",
            "threshold": 5,
            "clear_threshold": 1,
            "for": "0s",
            "summary": "$unit_name: +$value",
        }
    )
    run = Runner(rule)
    run.see(100, T0)
    assert run.state.last_value is None  # one sample is a baseline, not a growth
    run.see(103, T0 + timedelta(hours=6))
    assert run.state.state == "inactive" and run.state.last_value == 3
    run.see(106, T0 + timedelta(hours=12))
    assert run.state.state == "firing" and run.state.last_value == 6
    assert run.notifications[0].annotations["summary"] == "Quận Ba Đình: +6"
    # 30 h after start the baseline is the 6 h sample (103): still growing by 3 → stays firing (band ≥ 1).
    run.see(106, T0 + timedelta(hours=30))
    assert run.state.state == "firing" and run.state.last_value == 3
    # 36 h: baseline is the 12 h sample (106) → no growth → resolved.
    run.see(106, T0 + timedelta(hours=36))
    assert run.state.state == "resolved"
    assert len(run.state.samples) <= 26


def _overdue_growing() -> ThresholdRule:
    return threshold_rule(
        **{
            "target": "overdue_open",
            "growth_window": "24h",
            "comparison": ">=",
            "threshold": 5,
            "clear_threshold": 1,
            "for": "30m",
            "summary": "$unit_name: +$value",
        }
    )


def test_growth_takes_no_sample_and_no_decision_from_observations_made_while_scoring_catches_up() -> None:
    run = Runner(_overdue_growing())
    # Scoring publishes the unit's empty figures when the registry is loaded, then a year of history arrives: the
    # overdue count climbs with the data, minute by minute.
    run.see(0, T0 - minutes(1))
    for minute, overdue in enumerate((4, 19, 37, 58)):
        run.see(overdue, T0 + minutes(minute), catching_up=True)
    assert run.state.samples == () and run.state.state == "inactive" and run.transitions == []
    assert run.state.last_value is None  # nothing measured from the back-fill
    # Caught up: the first settled figure is the baseline, not the empty one before the back-fill.
    run.see(60, T0 + minutes(5))
    assert run.state.state == "inactive" and [s.value for s in run.state.samples] == [60]
    # Real growth afterwards is measured from there and still goes pending, then fires after `for`.
    run.see(66, T0 + timedelta(hours=2))
    assert run.state.state == "pending" and run.state.last_value == 6
    run.step(None, T0 + timedelta(hours=2, minutes=30))
    assert run.state.state == "firing"


def test_a_catch_up_restarts_the_growth_history_without_resolving_a_firing_alert() -> None:
    run = Runner(_overdue_growing())
    run.see(10, T0)
    run.see(16, T0 + timedelta(hours=1))
    run.step(None, T0 + timedelta(hours=1, minutes=30))
    assert run.state.state == "firing"
    # Scoring comes back from a long outage and applies the backlog: no decision, and the history is dropped (the
    # growth across the catch-up mixes late data with time).
    run.see(40, T0 + timedelta(hours=2), catching_up=True)
    assert run.state.state == "firing" and run.state.samples == ()
    # The first settled figure is a baseline only: nothing measured, the firing alert keeps firing (on_no_data).
    run.see(41, T0 + timedelta(hours=2, minutes=5))
    assert run.state.state == "firing" and len(run.state.samples) == 1
    # Growth since the catch-up decides again: +5 keeps it firing; a backlog that stopped growing resolves it.
    run.see(46, T0 + timedelta(hours=3, minutes=10))
    assert run.state.state == "firing" and run.state.last_value == 5
    run.see(46, T0 + timedelta(hours=28))
    assert run.state.state == "resolved"
    # Threshold rules on the same messages are unaffected (they read the current state).
    level = Runner(threshold_rule(**{"target": "overdue_open", "comparison": ">=", "threshold": 20, "for": "0s"}))
    level.see(40, T0, catching_up=True)
    assert level.state.state == "firing"


def test_state_and_rule_must_belong_together() -> None:
    rule = threshold_rule()
    with pytest.raises(ValueError, match="evaluated with rule"):
        evaluate(AlertState.new("other", "quan-ba-dinh"), None, T0, rule)
    with pytest.raises(ValueError, match="observation of unit"):
        evaluate(AlertState.new(rule.id, "quan-hoan-kiem"), obs(0.5, T0), T0, rule)
    with pytest.raises(ValueError, match="naive"):
        evaluate(AlertState.new(rule.id, "quan-ba-dinh"), None, datetime(2024, 7, 1), rule)


_STEP = st.one_of(
    st.none(),  # a timer tick
    st.just("no-data"),
    st.floats(min_value=0.3, max_value=0.8),
)


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(_STEP, st.integers(min_value=1, max_value=180)), min_size=1, max_size=40))
def test_any_sequence_keeps_the_lifecycle_invariants(steps: list[tuple[object, int]]) -> None:
    run = Runner(threshold_rule(**{"for": "30m", "repeat_interval": "2h"}))
    now = T0
    for value, gap in steps:
        now += minutes(gap)
        if value is None:
            run.step(None, now)
        else:
            run.see(None if value == "no-data" else float(value), now)  # type: ignore[arg-type]
        state = run.state
        assert (state.state in ("firing", "resolved")) == (state.fired_at is not None)
        assert (state.state == "pending") == (state.pending_since is not None)
    ids = [n.id for n in run.notifications]
    assert len(ids) == len(set(ids))
    episodes: dict[object, list[str]] = {}
    for n in run.notifications:
        episodes.setdefault(n.starts_at, []).append(n.kind)
    for kinds in episodes.values():
        assert kinds[0] == "firing"
        assert kinds.count("firing") == 1
        assert "resolved" not in kinds[:-1]
        assert set(kinds) <= {"firing", "repeat", "resolved"}
    for earlier, later in zip(run.transitions, run.transitions[1:], strict=False):
        assert earlier.to_state == later.from_state
