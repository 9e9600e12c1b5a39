"""Prometheus Alertmanager webhook payloads (version "4"), byte-for-byte reproducible.

Receivers written for Alertmanager (Grafana OnCall, PagerDuty/Opsgenie bridges, home-grown scripts) accept these
bodies unchanged. The fingerprint is Alertmanager's own: FNV-1a 64 over the sorted label names and values, each
followed by the 0xFF separator, printed as 16 lower-case hex digits — so the same alert has the same fingerprint
here and in a real Alertmanager.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from services.alerts.domain.links import alert_url, message_url
from services.alerts.domain.notifications import Notification

WEBHOOK_VERSION = "4"
# Alertmanager's Go zero time: what it sends as endsAt while an alert is firing.
ZERO_TIME = "0001-01-01T00:00:00Z"

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1
_SEPARATOR = 0xFF


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager/Prometheus label-set fingerprint (model.LabelSet.Fingerprint), 16 hex digits."""
    digest = _FNV_OFFSET
    for name in sorted(labels):
        for chunk in (name.encode("utf-8"), bytes([_SEPARATOR]), labels[name].encode("utf-8"), bytes([_SEPARATOR])):
            for byte in chunk:
                digest = ((digest ^ byte) * _FNV_PRIME) & _MASK
    return f"{digest:016x}"


def rfc3339(moment: datetime) -> str:
    """UTC with a Z, fractional seconds only when present (as Go's RFC3339Nano prints them)."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def label_set_string(labels: Mapping[str, str]) -> str:
    """Prometheus' LabelSet.String(): {a="1", b="2"} with sorted names and Go-style quoting."""
    return "{" + ", ".join(f"{name}={json.dumps(labels[name], ensure_ascii=False)}" for name in sorted(labels)) + "}"


def group_key(receiver: str, group_labels: Mapping[str, str]) -> str:
    """Alertmanager shape `<route key>:<group labels>`; our route is identified by the receiver."""
    return "{}/" + label_set_string({"receiver": receiver}) + ":" + label_set_string(group_labels)


def generator_url(dashboard_url: str, notification: Notification) -> str:
    """The alert on its unit's dashboard page (domain/links.py)."""
    return alert_url(dashboard_url, notification.unit_id, notification.rule_id)


def webhook_alert(notification: Notification, dashboard_url: str) -> dict[str, Any]:
    return {
        "status": notification.status,
        "labels": dict(sorted(notification.labels.items())),
        "annotations": dict(sorted(notification.annotations.items())),
        "startsAt": rfc3339(notification.starts_at),
        "endsAt": rfc3339(notification.ends_at) if notification.ends_at is not None else ZERO_TIME,
        "generatorURL": generator_url(dashboard_url, notification),
        "fingerprint": fingerprint(notification.labels),
    }


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {key: value for key, value in sorted(first.items()) if all(m.get(key) == value for m in maps[1:])}


def build_webhook_payload(
    receiver: str,
    group_labels: Mapping[str, str],
    notifications: Sequence[Notification],
    dashboard_url: str,
    max_alerts: int = 0,
) -> dict[str, Any]:
    """The v4 body for one group message. `max_alerts` > 0 truncates like Alertmanager's `max_alerts`."""
    if not notifications:
        raise ValueError("a webhook message needs at least one notification")
    # Firing first, then by unit and rule, so truncation drops resolved noise before live problems.
    ordered = sorted(notifications, key=lambda n: (n.status != "firing", n.unit_id, n.rule_id))
    kept = ordered[:max_alerts] if max_alerts > 0 else ordered
    return {
        "version": WEBHOOK_VERSION,
        "groupKey": group_key(receiver, group_labels),
        "truncatedAlerts": len(ordered) - len(kept),
        "status": "firing" if any(n.status == "firing" for n in ordered) else "resolved",
        "receiver": receiver,
        "groupLabels": dict(sorted(group_labels.items())),
        "commonLabels": _common([n.labels for n in ordered]),
        "commonAnnotations": _common([n.annotations for n in ordered]),
        "externalURL": message_url(dashboard_url, group_labels),
        "alerts": [webhook_alert(n, dashboard_url) for n in kept],
    }


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes that are signed and sent: compact UTF-8 JSON (Vietnamese stays readable)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
