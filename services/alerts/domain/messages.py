"""Rendering one due group into the message frozen in the outbox: a webhook body, Alertmanager's postable alerts, or
a whole MIME e-mail. Rendered ONCE, before any attempt, so every retry sends the very same bytes."""

from __future__ import annotations

import email.utils
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from services.alerts.domain.alertmanager import postable_alerts
from services.alerts.domain.grouping import DueGroup
from services.alerts.domain.mail import EmailContent, render_email
from services.alerts.domain.receivers import (
    AlertmanagerReceiver,
    AnyReceiver,
    Receivers,
    SmtpServer,
    WebhookReceiver,
    email_recipients,
)
from services.alerts.domain.signing import DELIVERY_HEADER
from services.alerts.domain.webhook import build_webhook_payload, encode_payload


@dataclass(frozen=True)
class Rendered:
    channel: str  # webhook, email or alertmanager: the kind of payload frozen in the outbox
    payload: bytes
    recipients: list[str]


def channel_of(receiver: AnyReceiver) -> str:
    return receiver.type


def build_email(
    smtp: SmtpServer, recipients: list[str], content: EmailContent, delivery_id: str, created_at: datetime
) -> bytes:
    """The whole MIME message: a retry sends the same Message-ID (receivers' mail systems drop the duplicate)."""
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = content.subject
    message["Date"] = email.utils.format_datetime(created_at)
    domain = smtp.sender.rsplit("@", 1)[-1].strip("> ") or "tthc-pulse.local"
    message["Message-ID"] = f"<{delivery_id}@{domain}>"
    message[DELIVERY_HEADER] = delivery_id
    message.set_content(content.body, charset="utf-8")
    return message.as_bytes()


def render_message(
    receivers: Receivers,
    receiver: AnyReceiver,
    group: DueGroup,
    subtrees: Mapping[str, Sequence[str]],
    dashboard_url: str,
    message_id: str,
    now: datetime,
) -> Rendered:
    """`subtrees`: per notification id, its unit and the unit's ancestors (who gets an e-mail about it)."""
    recipients: list[str] = []
    if isinstance(receiver, WebhookReceiver):
        body = build_webhook_payload(
            receiver.name, group.group_labels, group.notifications, dashboard_url, receiver.grouping.max_alerts
        )
        payload = encode_payload(body)
    elif isinstance(receiver, AlertmanagerReceiver):
        alerts = postable_alerts(group.notifications, dashboard_url, receiver.firing_ttl)
        payload = json.dumps(alerts, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    else:
        for notification in group.notifications:
            for address in email_recipients(receiver, subtrees.get(notification.id, [notification.unit_id])):
                if address not in recipients:
                    recipients.append(address)
        assert receivers.document.smtp is not None
        content = render_email(group, dashboard_url)
        payload = build_email(receivers.document.smtp, recipients, content, message_id, now)
    return Rendered(channel_of(receiver), payload, recipients)
