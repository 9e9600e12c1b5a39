"""Notifications produced by the lifecycle, ready for the outbox: labels, rendered texts, a stable id."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.alerts.domain.templates import (
    LEVEL_NAMES,
    SEVERITY_NAMES,
    Language,
    format_value,
    render,
)
from shared.indicators import VIETNAM_TZ, NearDueDossier

NotificationKind = Literal["firing", "repeat", "refresh", "resolved"]


class Notification(BaseModel):
    """One message about one alert. Grouping and delivery (webhook, e-mail, SSE) work from these."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Stable id: the same evaluation re-run after a restart gives the same id")
    kind: NotificationKind = Field(description="firing, repeat (still firing), refresh (list changed), resolved")
    status: Literal["firing", "resolved"] = Field(description="Alertmanager status of the alert")
    rule_id: str = Field(description="Rule that produced it")
    unit_id: str = Field(description="Unit it is about")
    severity: Literal["info", "warning", "critical"] = Field(description="Severity of the rule")
    labels: dict[str, str] = Field(description="Identifying labels incl. alertname, unit_id, severity, level")
    annotations: dict[str, str] = Field(description="summary, description (+ _en variants), unit_name, value")
    starts_at: AwareDatetime = Field(description="When the alert started firing")
    ends_at: AwareDatetime | None = Field(None, description="When it resolved; null while firing")
    created_at: AwareDatetime = Field(description="When this notification was produced")
    value: float | None = Field(None, description="The compared value at that moment")
    sequence: int = Field(ge=0, description="Position of this notification within the alert's episode")
    items: list[NearDueDossier] = Field(default_factory=list, description="Near-due rule: dossiers listed")


def notification_id(rule_id: str, unit_id: str, fired_at: datetime, kind: str, sequence: int) -> str:
    """Hex id from what identifies the message, never from the clock of the evaluation run."""
    material = "\x1f".join((rule_id, unit_id, fired_at.isoformat(), kind, str(sequence)))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def alert_labels(
    rule_id: str, unit_id: str, severity: str, level: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Labels identify the alert (and give its fingerprint); system labels win over rule labels."""
    labels = dict(extra or {})
    labels.update({"alertname": rule_id, "unit_id": unit_id, "severity": severity, "level": level})
    return labels


def format_due(instant: datetime, language: Language) -> str:
    local = instant.astimezone(VIETNAM_TZ)
    return local.strftime("%H:%M %d/%m/%Y") if language == "vi" else local.strftime("%Y-%m-%d %H:%M (UTC+7)")


def format_left(due_at: datetime, as_of: datetime | None, language: Language) -> str:
    """Time left before `due_at` as seen at `as_of`, to the minute: 'còn 3 giờ 05 phút' / '3 h 05 min left'.

    Empty when `as_of` is unknown; 'đã đến hạn' / 'due now' once nothing is left."""
    if as_of is None:
        return ""
    minutes = int((due_at - as_of).total_seconds() // 60)
    if minutes <= 0:
        return "đã đến hạn" if language == "vi" else "due now"
    hours, rest = divmod(minutes, 60)
    if language == "vi":
        return f"còn {hours} giờ {rest:02d} phút" if hours else f"còn {rest} phút"
    return f"{hours} h {rest:02d} min left" if hours else f"{rest} min left"


def items_text(items: list[NearDueDossier], total: int, language: Language, as_of: datetime | None = None) -> str:
    """Lines 'HS-123 (thủ tục 1.00123) — hạn 14:00 03/08/2024 (còn 3 giờ 05 phút)', most urgent first as given,
    then a count of the ones not listed. The time left is counted from `as_of` (the list's observation)."""
    lines: list[str] = []
    for item in items:
        due = format_due(item.due_at, language)
        left = format_left(item.due_at, as_of, language)
        left = f" ({left})" if left else ""
        if language == "vi":
            procedure = f" (thủ tục {item.procedure_id})" if item.procedure_id else ""
            lines.append(f"- {item.dossier_id}{procedure} — hạn {due}{left}")
        else:
            procedure = f" (procedure {item.procedure_id})" if item.procedure_id else ""
            lines.append(f"- {item.dossier_id}{procedure} — due {due}{left}")
    hidden = total - len(items)
    if hidden > 0:
        lines.append(f"… và {hidden} hồ sơ khác" if language == "vi" else f"… and {hidden} more")
    return "\n".join(lines)


def common_values(
    rule_id: str, rule_name: str, severity: str, unit_id: str, unit_name: str, level: str, language: Language
) -> dict[str, str]:
    return {
        "rule_name": rule_name,
        "rule_id": rule_id,
        "severity": severity,
        "severity_name": SEVERITY_NAMES[severity][language],
        "unit_id": unit_id,
        "unit_name": unit_name,
        "level": level,
        "level_name": LEVEL_NAMES.get(level, {}).get(language, level),
    }


def rendered_annotations(
    summary: str,
    description: str,
    summary_en: str | None,
    description_en: str | None,
    values_vi: dict[str, str],
    values_en: dict[str, str],
) -> dict[str, str]:
    """Vietnamese first; English copies only when the rule has English templates."""
    annotations = {"summary": render(summary, values_vi), "description": render(description, values_vi)}
    if summary_en is not None:
        annotations["summary_en"] = render(summary_en, values_en)
    if description_en is not None:
        annotations["description_en"] = render(description_en, values_en)
    return annotations


__all__ = [
    "Notification",
    "NotificationKind",
    "alert_labels",
    "common_values",
    "format_due",
    "format_left",
    "format_value",
    "items_text",
    "notification_id",
    "rendered_annotations",
]
