from __future__ import annotations

from datetime import timedelta

from services.alerts.domain.grouping import GroupingPolicy, plan_groups
from tests.unit.alerts.factories import T0, minutes, notification

POLICY = GroupingPolicy(receiver="ops", group_by=("unit_id",), group_wait="30s", group_interval="5m")


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def test_one_districts_twelve_alerts_become_one_message_after_group_wait() -> None:
    waiting = [notification("quan-ba-dinh", f"rule-{i:02d}", created_at=T0 + seconds(i)) for i in range(12)]
    early = plan_groups(POLICY, waiting, {}, T0 + seconds(29))
    assert early.due == []
    assert early.next_check_at == T0 + seconds(30)

    plan = plan_groups(POLICY, waiting, {}, T0 + seconds(30))
    assert len(plan.due) == 1
    group = plan.due[0]
    assert group.group_labels == {"unit_id": "quan-ba-dinh"}
    assert len(group.notifications) == 12
    assert len(group.consumed_ids) == 12
    assert plan.flushed_at == {group.group_key: T0 + seconds(30)}
    assert plan.next_check_at is None


def test_groups_are_independent_per_label_value() -> None:
    waiting = [notification("quan-ba-dinh"), notification("quan-tay-ho", created_at=T0 + seconds(20))]
    plan = plan_groups(POLICY, waiting, {}, T0 + seconds(30))
    assert [g.group_labels["unit_id"] for g in plan.due] == ["quan-ba-dinh"]
    assert plan.next_check_at == T0 + seconds(50)


def test_after_a_flush_new_notifications_wait_for_group_interval() -> None:
    first = plan_groups(POLICY, [notification()], {}, T0 + seconds(30))
    flushed = first.flushed_at
    later = [notification(rule_id="satisfaction-low", created_at=T0 + minutes(1))]
    assert plan_groups(POLICY, later, flushed, T0 + minutes(2)).due == []
    assert plan_groups(POLICY, later, flushed, T0 + minutes(2)).next_check_at == T0 + seconds(30) + minutes(5)
    assert len(plan_groups(POLICY, later, flushed, T0 + seconds(30) + minutes(5)).due) == 1


def test_a_group_quiet_for_longer_than_group_interval_waits_group_wait_again() -> None:
    flushed = {plan_groups(POLICY, [notification()], {}, T0 + seconds(30)).due[0].group_key: T0 + seconds(30)}
    later = [notification(rule_id="satisfaction-low", created_at=T0 + timedelta(hours=3))]
    assert plan_groups(POLICY, later, flushed, T0 + timedelta(hours=3)).due == []
    assert len(plan_groups(POLICY, later, flushed, T0 + timedelta(hours=3) + seconds(30)).due) == 1


def test_only_the_newest_notification_of_an_alert_is_sent_but_all_are_consumed() -> None:
    waiting = [
        notification(sequence=0),
        notification(sequence=1, created_at=T0 + seconds(5)),
        notification(status="resolved", sequence=2, created_at=T0 + seconds(10)),
    ]
    group = plan_groups(POLICY, waiting, {}, T0 + minutes(1)).due[0]
    assert [n.status for n in group.notifications] == ["resolved"]
    assert len(group.consumed_ids) == 3


def test_group_by_all_labels_sends_each_alert_alone() -> None:
    policy = GroupingPolicy(receiver="pager", group_by=("...",), group_wait="0s")
    waiting = [notification(rule_id="a"), notification(rule_id="b")]
    assert len(plan_groups(policy, waiting, {}, T0).due) == 2
