"""Grouping notifications per receiver, like Alertmanager's group_by / group_wait / group_interval.

`plan_groups` is pure: given the notifications waiting in the outbox for one receiver, when each group was last
flushed, and the time, it says which group messages are due now and when to look again. One district whose 12
rules fire in the same batch gets ONE message, not 12.

Timing (as Alertmanager): a group that was not flushed within the last group_interval waits `group_wait` from
its oldest waiting notification (to collect the rest of a burst); a group flushed recently waits until
`last flush + group_interval`. Each message carries only what changed since the last one, and when one alert has
several waiting notifications (firing, then resolved) only the newest is sent — all are reported as consumed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from services.alerts.domain.notifications import Notification
from services.alerts.domain.rules import Duration
from services.alerts.domain.webhook import group_key

# Alertmanager's special value: group by all labels, i.e. every alert on its own.
GROUP_BY_ALL = "..."


class GroupingPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    receiver: str = Field(min_length=1, max_length=100, description="Receiver name (webhook, e-mail, …)")
    group_by: tuple[str, ...] = Field(("unit_id",), description="Labels forming a group; ['...'] = all labels")
    group_wait: Duration = Field(timedelta(seconds=30), description="Wait for a new group to fill")
    group_interval: Duration = Field(timedelta(minutes=5), description="Minimum gap between messages of a group")
    max_alerts: int = Field(0, ge=0, description="Alerts per message, 0 = unlimited (rest counted as truncated)")


@dataclass(frozen=True)
class DueGroup:
    receiver: str
    group_key: str
    group_labels: dict[str, str]
    notifications: tuple[Notification, ...]
    consumed_ids: tuple[str, ...]


@dataclass(frozen=True)
class GroupPlan:
    due: list[DueGroup]
    flushed_at: dict[str, datetime]
    next_check_at: datetime | None


def group_labels_of(policy: GroupingPolicy, labels: Mapping[str, str]) -> dict[str, str]:
    if GROUP_BY_ALL in policy.group_by:
        return dict(labels)
    return {name: labels.get(name, "") for name in policy.group_by}


def _newest_per_alert(notifications: Sequence[Notification]) -> tuple[Notification, ...]:
    newest: dict[tuple[str, str], Notification] = {}
    for n in notifications:
        key = (n.rule_id, n.unit_id)
        current = newest.get(key)
        if current is None or (n.starts_at, n.sequence) > (current.starts_at, current.sequence):
            newest[key] = n
    return tuple(sorted(newest.values(), key=lambda n: (n.unit_id, n.rule_id)))


def _due_at(policy: GroupingPolicy, oldest_waiting: datetime, last_flush: datetime | None) -> datetime:
    if last_flush is not None and oldest_waiting < last_flush + policy.group_interval:
        return last_flush + policy.group_interval
    return oldest_waiting + policy.group_wait


def plan_groups(
    policy: GroupingPolicy,
    waiting: Sequence[Notification],
    last_flushed: Mapping[str, datetime],
    now: datetime,
) -> GroupPlan:
    """Which group messages are due at `now`. Notification.created_at is the time it entered the queue."""
    groups: dict[str, tuple[dict[str, str], list[Notification]]] = {}
    for notification in waiting:
        labels = group_labels_of(policy, notification.labels)
        key = group_key(policy.receiver, labels)
        groups.setdefault(key, (labels, []))[1].append(notification)
    due: list[DueGroup] = []
    flushed: dict[str, datetime] = {}
    next_check: datetime | None = None
    for key in sorted(groups):
        labels, members = groups[key]
        due_at = _due_at(policy, min(n.created_at for n in members), last_flushed.get(key))
        if due_at <= now:
            due.append(
                DueGroup(
                    receiver=policy.receiver,
                    group_key=key,
                    group_labels=labels,
                    notifications=_newest_per_alert(members),
                    consumed_ids=tuple(sorted(n.id for n in members)),
                )
            )
            flushed[key] = now
        elif next_check is None or due_at < next_check:
            next_check = due_at
    return GroupPlan(due=due, flushed_at=flushed, next_check_at=next_check)
