"""Plain-text e-mail for one group message: Vietnamese subject and body, the English version below."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.alerts.domain.grouping import DueGroup
from services.alerts.domain.links import message_url
from services.alerts.domain.notifications import Notification, format_due
from services.alerts.domain.templates import SEVERITY_NAMES, Language

_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
_KIND_VI = {"firing": "MỚI", "repeat": "NHẮC LẠI", "refresh": "CẬP NHẬT", "resolved": "ĐÃ HẾT"}
_KIND_EN = {"firing": "NEW", "repeat": "REMINDER", "refresh": "UPDATED", "resolved": "RESOLVED"}


@dataclass(frozen=True)
class EmailContent:
    subject: str
    body: str


def _ordered(notifications: Sequence[Notification]) -> list[Notification]:
    return sorted(
        notifications,
        key=lambda n: (n.status != "firing", _SEVERITY_ORDER.get(n.severity, 9), n.unit_id, n.rule_id),
    )


def _where(notifications: Sequence[Notification]) -> str:
    names = sorted({n.annotations.get("unit_name") or n.unit_id for n in notifications})
    return names[0] if len(names) == 1 else f"{len(names)} đơn vị"


def _subject(notifications: Sequence[Notification]) -> str:
    firing = [n for n in notifications if n.status == "firing"]
    resolved = len(notifications) - len(firing)
    worst = min((n.severity for n in firing), key=lambda s: _SEVERITY_ORDER.get(s, 9), default=None)
    parts: list[str] = []
    if firing:
        parts.append(f"{len(firing)} cảnh báo đang kích hoạt")
    if resolved:
        parts.append(f"{resolved} cảnh báo đã hết")
    tag = f"[{SEVERITY_NAMES[worst]['vi'].upper()}] " if worst else ""
    return f"[TTHC Pulse] {tag}{', '.join(parts)} — {_where(notifications)}"


def _section(notifications: Sequence[Notification], language: Language, link: str) -> str:
    kinds = _KIND_VI if language == "vi" else _KIND_EN
    lines: list[str] = []
    for n in notifications:
        summary = n.annotations.get(f"summary_{language}") if language == "en" else None
        description = n.annotations.get(f"description_{language}") if language == "en" else None
        severity = SEVERITY_NAMES[n.severity][language]
        lines.append(f"[{kinds[n.kind]}] [{severity}] {summary or n.annotations.get('summary', n.rule_id)}")
        text = description or n.annotations.get("description", "")
        lines.extend(f"    {line}" for line in text.splitlines())
        # Why an alert ended when it was not its condition (e.g. its rule was removed from the rule set).
        reason = n.annotations.get("resolved_reason" if language == "vi" else "resolved_reason_en")
        if reason:
            lines.append(f"    {reason}")
        if language == "vi":
            lines.append(f"    Bắt đầu: {format_due(n.starts_at, 'vi')}")
            if n.ends_at is not None:
                lines.append(f"    Kết thúc: {format_due(n.ends_at, 'vi')}")
        else:
            lines.append(f"    Started: {format_due(n.starts_at, 'en')}")
            if n.ends_at is not None:
                lines.append(f"    Ended: {format_due(n.ends_at, 'en')}")
        lines.append("")
    if language == "vi":
        lines.append(f"Xem chi tiết và xác nhận đã tiếp nhận (acknowledge): {link}")
    else:
        lines.append(f"Details and acknowledgement: {link}")
    return "\n".join(lines)


def render_email(group: DueGroup, dashboard_url: str) -> EmailContent:
    notifications = _ordered(group.notifications)
    if not notifications:
        raise ValueError("an e-mail needs at least one notification")
    link = message_url(dashboard_url, group.group_labels)
    body = "\n".join(
        (
            "Hệ thống giám sát TTHC Pulse thông báo:",
            "",
            _section(notifications, "vi", link),
            "",
            "— English —",
            "",
            "TTHC Pulse monitoring notice:",
            "",
            _section(notifications, "en", link),
            "",
        )
    )
    return EmailContent(subject=_subject(notifications), body=body)
