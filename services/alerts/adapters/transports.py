"""Sending one frozen group message: an HTTP POST (webhook, Alertmanager) or an SMTP transaction (e-mail).

`HttpSmtpTransport` is the `Transport` the outbox use case (service/outbox.py) sends through."""

from __future__ import annotations

import email.utils

import aiosmtplib
import httpx

from services.alerts.domain.alertmanager import alerts_endpoint
from services.alerts.domain.backoff import DeliveryOutcome, classify_http_status
from services.alerts.domain.receivers import (
    AlertmanagerReceiver,
    AnyReceiver,
    EmailReceiver,
    Receivers,
    WebhookReceiver,
)
from services.alerts.domain.signing import DELIVERY_HEADER, delivery_id, webhook_headers
from services.alerts.service.ports import PendingMessage, SendResult
from shared.http_retry import parse_retry_after

NOTIFICATIONS_HEADER = "X-TTHC-Notification-Ids"


async def send_webhook(
    client: httpx.AsyncClient,
    receiver: WebhookReceiver,
    secret: str,
    payload: bytes,
    notification_ids: list[str],
) -> SendResult:
    headers = webhook_headers(payload, secret, notification_ids)
    headers[NOTIFICATIONS_HEADER] = ",".join(notification_ids)
    return await _post(client, str(receiver.url), payload, headers, receiver.timeout.total_seconds())


async def send_alertmanager(
    client: httpx.AsyncClient,
    receiver: AlertmanagerReceiver,
    token: str | None,
    payload: bytes,
    notification_ids: list[str],
) -> SendResult:
    """POST the postable alerts; Alertmanager answers 200 (400 for a malformed alert: not retried)."""
    headers = {"Content-Type": "application/json; charset=utf-8", DELIVERY_HEADER: delivery_id(notification_ids)}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return await _post(client, alerts_endpoint(str(receiver.url)), payload, headers, receiver.timeout.total_seconds())


async def _post(
    client: httpx.AsyncClient, url: str, payload: bytes, headers: dict[str, str], timeout_s: float
) -> SendResult:
    try:
        response = await client.post(url, content=payload, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as error:
        return SendResult("retry", f"no response: {type(error).__name__}: {error}")
    outcome = classify_http_status(response.status_code)
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    return SendResult(outcome, f"HTTP {response.status_code}", retry_after)


async def send_email(
    receivers: Receivers, receiver: EmailReceiver, recipients: list[str], payload: bytes
) -> SendResult:
    smtp = receivers.document.smtp
    if smtp is None:  # excluded when the file is loaded
        return SendResult("reject", "no smtp server configured")
    try:
        await aiosmtplib.send(
            payload,
            sender=email.utils.parseaddr(smtp.sender)[1],
            recipients=recipients,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=receivers.smtp_password,
            use_tls=smtp.security == "tls",
            start_tls=smtp.security == "starttls",
            timeout=smtp.timeout.total_seconds(),
        )
    except aiosmtplib.SMTPResponseException as error:
        # 5xx is permanent (mailbox unknown, message refused); 4xx is "try again later".
        outcome: DeliveryOutcome = "reject" if 500 <= error.code < 600 else "retry"
        return SendResult(outcome, f"SMTP {error.code}: {error.message}")
    except aiosmtplib.SMTPRecipientsRefused as error:
        return SendResult("reject", f"recipients refused: {error}")
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        return SendResult("retry", f"{type(error).__name__}: {error}")
    return SendResult("delivered", "SMTP accepted")


class HttpSmtpTransport:
    """Picks the channel by the receiver's kind; the secret is the one in force for that receiver now."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def send(self, receivers: Receivers, receiver: AnyReceiver, message: PendingMessage) -> SendResult:
        secret = receivers.secret_of(receiver.name)
        if isinstance(receiver, WebhookReceiver):
            if secret is None:  # excluded when receivers are loaded; never send an unsigned body
                return SendResult("retry", "no HMAC secret in force for this receiver")
            return await send_webhook(self.http, receiver, secret, message.payload, message.notification_ids)
        if isinstance(receiver, AlertmanagerReceiver):
            return await send_alertmanager(self.http, receiver, secret, message.payload, message.notification_ids)
        return await send_email(receivers, receiver, message.recipients, message.payload)
