from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from services.alerts.domain.silences import Matcher, silencing
from tests.unit.alerts.factories import T0, Runner, minutes, obs, silence, threshold_rule

LABELS = {"alertname": "online-payment-low", "unit_id": "quan-ba-dinh", "severity": "warning", "level": "district"}
SUBTREE = frozenset({"quan-ba-dinh", "ha-noi"})


@pytest.mark.parametrize(
    ("matcher", "expected"),
    [
        ({"name": "unit_id", "value": "quan-ba-dinh"}, True),
        ({"name": "unit_id", "op": "!=", "value": "quan-ba-dinh"}, False),
        ({"name": "severity", "op": "=~", "value": "warn.*|critical"}, True),
        ({"name": "severity", "op": "=~", "value": "warn"}, False),  # anchored, like Alertmanager
        ({"name": "alertname", "op": "!~", "value": "online-.*"}, False),
        ({"name": "team", "value": ""}, True),  # a missing label reads as ""
        ({"name": "team", "op": "!=", "value": "ops"}, True),
        ({"name": "rule_id", "value": "online-payment-low"}, True),
        ({"name": "subtree", "value": "ha-noi"}, True),
        ({"name": "subtree", "value": "quan-hoan-kiem"}, False),
        ({"name": "subtree", "op": "!=", "value": "quan-hoan-kiem"}, True),
    ],
)
def test_matcher_semantics(matcher: dict[str, str], expected: bool) -> None:
    assert Matcher.model_validate(matcher).matches(LABELS, SUBTREE) is expected


def test_invalid_matchers_and_silences_are_rejected() -> None:
    with pytest.raises(ValidationError, match="invalid regular expression"):
        Matcher(name="unit_id", op="=~", value="(")
    with pytest.raises(ValidationError, match="subtree matcher"):
        Matcher(name="subtree", op="=~", value=".*")
    with pytest.raises(ValidationError, match="ends_at"):
        silence([{"name": "unit_id", "value": "x"}], T0, T0)
    with pytest.raises(ValidationError):
        silence([], T0, T0 + minutes(5))


def test_silencing_lists_only_active_matching_silences() -> None:
    active = silence([{"name": "unit_id", "value": "quan-ba-dinh"}], T0, T0 + minutes(60), "b")
    other_unit = silence([{"name": "unit_id", "value": "quan-tay-ho"}], T0, T0 + minutes(60), "c")
    expired = silence([{"name": "subtree", "value": "ha-noi"}], T0 - minutes(60), T0, "a")
    assert silencing([active, other_unit, expired], LABELS, SUBTREE, T0) == ["b"]
    assert silencing([active], LABELS, SUBTREE, T0 + minutes(60)) == []


def test_silenced_firing_is_recorded_not_notified_and_goes_out_when_the_silence_ends() -> None:
    mute = silence([{"name": "subtree", "value": "ha-noi"}], T0 - minutes(1), T0 + timedelta(hours=2))
    run = Runner(threshold_rule(**{"for": "0s", "repeat_interval": "4h"}))
    run.step(obs(0.5, T0), T0, (mute,))
    run.step(None, T0 + minutes(30), (mute,))
    assert run.state.state == "firing"
    assert run.notifications == []
    assert run.transitions[-1].to_state == "firing"
    assert run.transitions[-1].silenced_by == ["s1"]

    run.step(None, T0 + timedelta(hours=2), (mute,))  # the silence has just expired
    assert run.kinds() == ["firing"]
    assert run.notifications[0].starts_at == T0  # the alert's real start, not the delivery time
    run.step(None, T0 + timedelta(hours=3), (mute,))
    run.step(None, T0 + timedelta(hours=6), (mute,))
    assert run.kinds() == ["firing", "repeat"]


def test_repeats_pause_under_a_silence_and_resume_after() -> None:
    run = Runner(threshold_rule(**{"for": "0s", "repeat_interval": "1h"}))
    run.step(obs(0.5, T0), T0)
    mute = silence([{"name": "alertname", "value": "online-payment-low"}], T0 + minutes(10), T0 + minutes(200))
    for m in (60, 120, 180):
        run.step(None, T0 + minutes(m), (mute,))
    assert run.kinds() == ["firing"]
    run.step(None, T0 + minutes(200), (mute,))
    assert run.kinds() == ["firing", "repeat"]


def test_resolution_is_sent_under_a_silence_only_if_receivers_knew_of_the_firing() -> None:
    mute = silence([{"name": "unit_id", "value": "quan-ba-dinh"}], T0 + minutes(5), T0 + minutes(500))
    known = Runner(threshold_rule(**{"for": "0s"}))
    known.step(obs(0.5, T0), T0, (mute,))
    known.step(obs(0.9, T0 + minutes(10)), T0 + minutes(10), (mute,))
    assert known.kinds() == ["firing", "resolved"]

    unknown = Runner(threshold_rule(**{"for": "0s"}))
    unknown.step(obs(0.5, T0 + minutes(6)), T0 + minutes(6), (mute,))
    unknown.step(obs(0.9, T0 + minutes(10)), T0 + minutes(10), (mute,))
    unknown.step(None, T0 + minutes(600), (mute,))
    assert unknown.state.state == "resolved"
    assert unknown.notifications == []
    assert [t.to_state for t in unknown.transitions] == ["pending", "firing", "resolved"]
    assert all(t.silenced_by == ["s1"] for t in unknown.transitions)
