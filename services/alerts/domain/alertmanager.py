"""Postable alerts for an existing Prometheus Alertmanager (`POST <url>/api/v2/alerts`, a JSON array).

Each alert carries labels, annotations, startsAt, endsAt and generatorURL (Alertmanager's `postableAlert`). A
resolved alert has its real endsAt. A firing alert gets endsAt = when the notification was made + `firing_ttl`:
Alertmanager resolves an alert on its own at endsAt (or after its resolve_timeout when endsAt is missing), so a
rule's repeat_interval shorter than the receiver's firing_ttl keeps a long episode open (docs/alerts.md §5c).
Alertmanager does its own grouping, dedup (by label set) and routing; what we send is the alert state.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from services.alerts.domain.links import alert_url
from services.alerts.domain.notifications import Notification
from services.alerts.domain.webhook import rfc3339

ALERTS_PATH = "/api/v2/alerts"


def postable_alert(notification: Notification, dashboard_url: str, firing_ttl: timedelta) -> dict[str, Any]:
    ends = notification.ends_at if notification.ends_at is not None else notification.created_at + firing_ttl
    return {
        "labels": dict(sorted(notification.labels.items())),
        "annotations": dict(sorted(notification.annotations.items())),
        "startsAt": rfc3339(notification.starts_at),
        "endsAt": rfc3339(ends),
        "generatorURL": alert_url(dashboard_url, notification.unit_id, notification.rule_id),
    }


def postable_alerts(
    notifications: Sequence[Notification], dashboard_url: str, firing_ttl: timedelta
) -> list[dict[str, Any]]:
    """One entry per alert (label set): the latest notification of each wins, in a stable order."""
    if not notifications:
        raise ValueError("an Alertmanager message needs at least one notification")
    latest: dict[tuple[str, ...], Notification] = {}
    for n in sorted(notifications, key=lambda n: (n.created_at, n.sequence)):
        latest[tuple(sorted(n.labels.items()))] = n  # type: ignore[arg-type]
    ordered = sorted(latest.values(), key=lambda n: (n.status != "firing", n.unit_id, n.rule_id))
    return [postable_alert(n, dashboard_url, firing_ttl) for n in ordered]


def alerts_endpoint(base_url: str) -> str:
    """`http://am:9093` or `http://am:9093/` → `http://am:9093/api/v2/alerts` (a full endpoint is kept)."""
    base = base_url.rstrip("/")
    return base if base.endswith(ALERTS_PATH) else base + ALERTS_PATH
