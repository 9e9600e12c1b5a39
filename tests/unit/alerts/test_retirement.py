"""A rule removed from the active set closes its alerts like an ordinary resolution would (domain/retirement.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.alerts.domain.grouping import GroupingPolicy, plan_groups
from services.alerts.domain.lifecycle import acknowledge, close, evaluate
from services.alerts.domain.mail import render_email
from services.alerts.domain.notifications import notification_id
from services.alerts.domain.retirement import Removal, close_without_rule, retire_orphans
from services.alerts.domain.rule_documents import RuleFileError, load_rules, rule_definitions
from services.alerts.domain.rules import RuleSet
from services.alerts.domain.state import AlertState
from services.alerts.domain.webhook import fingerprint
from shared.indicators import NearDueDossier
from tests.unit.alerts.factories import T0, Runner, minutes, near_due_rule, notification, obs, silence, threshold_rule

RULE = threshold_rule(**{"for": "0s", "labels": {"team": "mot-cua"}})
LATER = T0 + timedelta(hours=3)
NO_RULES = RuleSet(())


def _firing() -> Runner:
    run = Runner(RULE)
    run.see(0.40, T0)
    assert run.state.state == "firing" and run.kinds() == ["firing"]
    return run


def test_a_firing_alert_resolves_with_the_labels_it_fired_with_and_says_why_in_both_languages() -> None:
    run = _firing()
    [result] = retire_orphans([run.state], NO_RULES, 7, LATER, {RULE.id: RULE})

    assert result.state.state == "resolved" and result.state.resolved_at == LATER
    [transition] = result.transitions
    assert (transition.from_state, transition.to_state, transition.reason) == ("firing", "resolved", "rule_removed")
    assert transition.at == LATER and transition.value == 0.40
    vietnamese, english = transition.comment.split(" / ")  # type: ignore[union-attr]
    assert vietnamese.startswith("Quy tắc online-payment-low đã bị gỡ khỏi bộ quy tắc đang áp dụng (bộ số 7)")
    assert english.startswith("Rule online-payment-low was removed from the active rule set (set 7)")

    [resolved] = result.notifications
    firing = run.notifications[0]
    assert resolved.kind == "resolved" and resolved.status == "resolved"
    assert resolved.labels == firing.labels and fingerprint(resolved.labels) == fingerprint(firing.labels)
    assert resolved.starts_at == firing.starts_at and resolved.ends_at == LATER
    assert resolved.id == notification_id(RULE.id, "quan-ba-dinh", T0, "resolved", 1)
    assert resolved.annotations["summary"] == firing.annotations["summary"]
    assert resolved.annotations["resolved_reason"] == vietnamese
    assert resolved.annotations["resolved_reason_en"] == english


def test_closing_is_exact_a_rerun_gives_the_same_ids_and_a_closed_alert_is_never_closed_again() -> None:
    run = _firing()
    first = retire_orphans([run.state], NO_RULES, 7, LATER, {RULE.id: RULE})
    # The transaction was lost (crash before commit) and the activation runs again, later: same message id.
    again = retire_orphans([run.state], NO_RULES, 7, LATER + minutes(5), {RULE.id: RULE})
    assert [n.id for n in again[0].notifications] == [n.id for n in first[0].notifications]
    # Committed: the state is no longer live, so a later activation (or the same one) leaves it alone.
    assert retire_orphans([first[0].state], NO_RULES, 8, LATER + minutes(10), {RULE.id: RULE}) == []


def test_a_pending_alert_just_ends_and_sends_nothing() -> None:
    run = Runner(threshold_rule(**{"for": "2h"}))
    run.see(0.40, T0)
    assert run.state.state == "pending"
    [result] = retire_orphans([run.state], NO_RULES, 3, T0 + minutes(30), {run.rule.id: run.rule})
    assert result.state.state == "inactive" and result.state.pending_since is None
    assert result.state.active_since is None and result.notifications == []
    [transition] = result.transitions
    assert (transition.from_state, transition.to_state, transition.reason) == ("pending", "inactive", "rule_removed")


def test_only_live_states_of_rules_outside_the_set_or_disabled_are_touched() -> None:
    kept = _firing().state  # its rule stays in the set, enabled
    quiet = AlertState.new("gone", "quan-ba-dinh")
    resolved = kept.model_copy(update={"rule_id": "gone", "state": "resolved"})
    disabled_quiet = AlertState.new("disabled-rule", "quan-ba-dinh")
    rules = RuleSet((RULE, threshold_rule(id="disabled-rule", enabled=False)))
    assert retire_orphans([kept, quiet, resolved, disabled_quiet], rules, 9, LATER, {"gone": RULE}) == []


def test_a_rule_disabled_in_the_new_set_closes_its_firing_alert_with_its_own_labels() -> None:
    run = _firing()
    disabled = RULE.model_copy(update={"enabled": False})
    [result] = retire_orphans([run.state], RuleSet((disabled,)), 11, LATER, {})

    assert result.state.state == "resolved"
    [transition] = result.transitions
    assert (transition.from_state, transition.to_state, transition.reason) == ("firing", "resolved", "rule_disabled")
    vietnamese, english = transition.comment.split(" / ")  # type: ignore[union-attr]
    assert vietnamese.startswith("Quy tắc online-payment-low đã bị tắt trong bộ quy tắc số 11")
    assert english.startswith("Rule online-payment-low was disabled in rule set 11")
    [resolved] = result.notifications
    assert resolved.kind == "resolved" and resolved.labels == run.notifications[0].labels
    assert resolved.annotations["resolved_reason_en"] == english


def test_firing_under_a_silence_since_the_start_resolves_without_a_message() -> None:
    muted = silence([{"name": "unit_id", "value": "quan-ba-dinh"}], T0 - minutes(1), LATER + minutes(1))
    run = Runner(RULE)
    run.step(obs(0.40, T0), T0, (muted,))
    assert run.state.state == "firing" and run.notifications == []
    [result] = retire_orphans([run.state], NO_RULES, 4, LATER, {RULE.id: RULE}, silences=[muted])
    assert result.state.state == "resolved" and result.notifications == []
    assert result.transitions[0].silenced_by == ["s1"]


def test_a_silence_or_an_acknowledgement_does_not_keep_the_resolved_message_from_receivers() -> None:
    run = _firing()
    acked, _ = acknowledge(run.state, "chuyen-vien-a", T0 + minutes(5))
    muted = silence([{"name": "team", "value": "mot-cua"}], T0 + minutes(10), LATER + minutes(1))
    [result] = retire_orphans([acked], NO_RULES, 5, LATER, {RULE.id: RULE}, silences=[muted])
    assert [n.kind for n in result.notifications] == ["resolved"]
    assert result.transitions[0].silenced_by == ["s1"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([0.30, 0.50, 0.56, 0.60, None]), st.integers(0, 3)), max_size=10),
    st.booleans(),
    st.booleans(),
)
def test_removal_sends_exactly_what_an_ordinary_resolution_would(
    steps: list[tuple[float | None, int]], silenced: bool, acked: bool
) -> None:
    rule = threshold_rule(**{"for": "30m", "repeat_interval": "1h"})
    muted = silence([{"name": "alertname", "value": rule.id}], T0, T0 + timedelta(days=1))
    silences = (muted,) if silenced else ()
    run = Runner(rule)
    now = T0
    for value, gap in steps:
        now += minutes(20 * gap + 1)
        run.step(obs(value, now), now, silences)
    if acked and run.state.state == "firing":
        run.state, _ = acknowledge(run.state, "ai-do", now)
    end = now + minutes(1)
    ordinary = evaluate(run.state, obs(0.90, end), end, rule, silences)  # clears: 90 % ≥ 57 %
    removed = close(run.state, rule, end, "rule_removed", silences, comment="x")
    assert [n.id for n in removed.notifications] == [n.id for n in ordinary.notifications]
    assert [n.labels for n in removed.notifications] == [n.labels for n in ordinary.notifications]
    assert [t.to_state for t in removed.transitions] == [t.to_state for t in ordinary.transitions]
    assert removed.state.state in ("inactive", "resolved")


def test_a_near_due_list_is_closed_with_its_dossiers() -> None:
    rule = near_due_rule()
    dossier = NearDueDossier(dossier_id="HS-1", unit_id="quan-ba-dinh", due_at=T0 + timedelta(hours=5))
    run = Runner(rule)
    run.step(obs(1.0, T0, items=(dossier,), period=None), T0)
    [result] = retire_orphans([run.state], NO_RULES, 2, LATER, {rule.id: rule})
    [resolved] = result.notifications
    assert resolved.items == [dossier] and resolved.annotations["dossier_count"] == "1"


def test_without_any_definition_left_the_last_message_gives_the_labels() -> None:
    run = _firing()
    last = run.notifications[-1]
    [result] = retire_orphans([run.state], NO_RULES, 6, LATER, {}, {(RULE.id, "quan-ba-dinh"): last})
    assert result.state.state == "resolved" and result.transitions[0].reason == "rule_removed"
    [resolved] = result.notifications
    assert resolved.id == notification_id(RULE.id, "quan-ba-dinh", T0, "resolved", 1)
    assert resolved.labels == last.labels and resolved.status == "resolved" and resolved.ends_at == LATER
    assert resolved.annotations["resolved_reason"] == Removal(RULE.id, 6).text_vi
    assert result.state.sequence == run.state.sequence + 1

    # No message of this episode (none at all, or one of an older episode): the state still closes.
    bare = close_without_rule(run.state, Removal(RULE.id, 6), LATER, None)
    assert bare.state.state == "resolved" and bare.notifications == [] and len(bare.transitions) == 1
    older = last.model_copy(update={"starts_at": T0 - timedelta(days=2)})
    assert close_without_rule(run.state, Removal(RULE.id, 6), LATER, older).notifications == []


def test_close_refuses_a_state_of_another_rule() -> None:
    with pytest.raises(ValueError):
        close(AlertState.new("other", "quan-ba-dinh"), RULE, T0, "rule_removed")


def test_definitions_are_read_rule_by_rule_from_a_stored_document() -> None:
    document = """
version: 1
rules:
  - {id: too-strict-now, name: A, target: online_rate, comparison: "<", threshold: 55, summary: s, description: d}
  - {id: kept, name: B, target: online_rate, comparison: "<", threshold: 0.6, summary: s, description: d}
  - not a rule
"""
    with pytest.raises(RuleFileError):
        load_rules(document)
    found = rule_definitions(document, {"too-strict-now", "kept", "never-there"})
    assert list(found) == ["kept"] and found["kept"].threshold == 0.6  # type: ignore[union-attr]
    assert rule_definitions("rules: [unclosed", {"kept"}) == {}
    assert rule_definitions("- just a list", {"kept"}) == {}


def test_the_e_mail_says_why_the_alert_ended() -> None:
    removal = Removal("online-payment-low", 7)
    resolved = notification(status="resolved", **removal.annotations)
    group = plan_groups(GroupingPolicy(receiver="mail", group_wait="0s"), [resolved], {}, T0).due[0]
    vietnamese, english = render_email(group, "https://pulse.example").body.split("— English —")
    assert removal.text_vi in vietnamese and removal.text_en not in vietnamese
    assert removal.text_en in english
