"""The durable outbox: group waiting notifications into messages, send them, retry with backoff.

Two phases, each its own transaction, so a crash anywhere repeats work but never loses it:
1. plan — per receiver, the domain's `plan_groups` says which group messages are due; each is rendered ONCE
   (webhook body or MIME e-mail), stored in `alert_deliveries` with its delivery id, and the notifications it
   consumed are marked in the outbox.
2. send — pending messages whose time has come are sent; success marks them delivered, failure schedules the
   next attempt with the domain's backoff (full jitter, cap, Retry-After) or parks them as dead.

Within one (receiver, group) messages go out in order: a later message waits until the earlier one is delivered
or dead, so a receiver never sees "resolved" before the "firing" it closes.
A crash between a successful send and the commit that records it sends that message again with the same
`X-TTHC-Delivery` id (at-least-once); receivers drop it by that id.

The receivers can be replaced while the service runs (adapters/receivers_reload.py): each pass works on the set
in force when it began, and a message waits (is not sent, not dropped) while no receiver of its name and channel
exists. Finished messages are purged after OUTBOX_RETENTION_DAYS (`purge_finished_chunk`, domain/retention.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import httpx

from services.alerts.adapters.receivers import (
    AlertmanagerReceiver,
    AnyReceiver,
    Receivers,
    WebhookReceiver,
    email_recipients,
)
from services.alerts.adapters.transports import (
    SendResult,
    build_email,
    send_alertmanager,
    send_email,
    send_webhook,
)
from services.alerts.domain.alertmanager import postable_alerts
from services.alerts.domain.backoff import next_retry
from services.alerts.domain.grouping import DueGroup, plan_groups
from services.alerts.domain.mail import render_email
from services.alerts.domain.notifications import Notification
from services.alerts.domain.retention import Purged
from services.alerts.domain.signing import delivery_id
from services.alerts.domain.webhook import build_webhook_payload, encode_payload

log = logging.getLogger(__name__)

# Planning takes its own advisory lock: two processes must not group the same waiting rows.
PLANNING_LOCK = 0x7474_6863_2D6F_62

Clock = Callable[[], datetime]
OutcomeHook = Callable[[str, str], None]

# One chunk of the retention pass, one statement (hence one short transaction). Only finished messages go; a dead
# message's next_attempt_at is when it was given up (set by `_record`). The outbox rows are found through the
# message's own notification_ids (the primary key), and only those that point at this message. SKIP LOCKED: two
# processes purging at once take different rows instead of queueing behind each other.
PURGE_FINISHED_CHUNK = """
WITH doomed AS (
    SELECT receiver, delivery_id, notification_ids FROM alert_deliveries
    WHERE status IN ('delivered', 'dead') AND COALESCE(delivered_at, next_attempt_at) < $1
    ORDER BY seq LIMIT $2
    FOR UPDATE SKIP LOCKED
), outbox AS (
    DELETE FROM alert_outbox o USING doomed d, unnest(d.notification_ids) AS n (notification_id)
    WHERE o.notification_id = n.notification_id AND o.receiver = d.receiver AND o.delivery_id = d.delivery_id
    RETURNING 1
), messages AS (
    DELETE FROM alert_deliveries a USING doomed d
    WHERE a.receiver = d.receiver AND a.delivery_id = d.delivery_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM messages) AS messages, (SELECT count(*) FROM outbox) AS outbox_rows"""


def _channel_of(receiver: AnyReceiver) -> str:
    return receiver.type  # webhook, email or alertmanager: the kind of payload frozen in the outbox


async def purge_finished_chunk(pool: asyncpg.Pool, cutoff: datetime, limit: int) -> Purged:
    """Delete up to `limit` messages finished before `cutoff`, with their outbox rows."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(PURGE_FINISHED_CHUNK, cutoff, limit)
    assert row is not None
    return Purged(messages=row["messages"], outbox_rows=row["outbox_rows"])


@dataclass(frozen=True)
class _Pending:
    receiver: str
    delivery_id: str
    group_key: str
    channel: str
    payload: bytes
    recipients: list[str]
    notification_ids: list[str]
    attempts: int
    first_attempt_at: datetime | None


class Dispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        receivers: Receivers,
        clock: Clock,
        dashboard_url: str,
        http: httpx.AsyncClient,
        on_outcome: OutcomeHook = lambda receiver, outcome: None,
        concurrency: int = 8,
    ) -> None:
        self.pool = pool
        self.receivers = receivers
        self.clock = clock
        self.dashboard_url = dashboard_url
        self.http = http
        self.on_outcome = on_outcome
        self._slots = asyncio.Semaphore(concurrency)

    async def run_once(self) -> datetime | None:
        """Plan, then send what is due; returns the earliest time anything else becomes due (None = unknown)."""
        next_plan = await self.plan()
        next_send = await self.send_due()
        times = [t for t in (next_plan, next_send) if t is not None]
        return min(times) if times else None

    # --- plan ---------------------------------------------------------------------------------------------

    async def plan(self) -> datetime | None:
        next_check: datetime | None = None
        receivers = self.receivers  # a reload during the pass applies from the next pass
        for receiver in receivers.all:
            check = await self._plan_receiver(receivers, receiver)
            if check is not None and (next_check is None or check < next_check):
                next_check = check
        return next_check

    async def _plan_receiver(self, receivers: Receivers, receiver: AnyReceiver) -> datetime | None:
        policy = receivers.grouping_policy(receiver)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", PLANNING_LOCK)
            rows = await conn.fetch(
                """SELECT n.body, n.subtree FROM alert_outbox o JOIN alert_notifications n USING (notification_id)
                   WHERE o.receiver = $1 AND o.delivery_id IS NULL""",
                receiver.name,
            )
            if not rows:
                return None
            now = self.clock()
            waiting: list[Notification] = []
            subtrees: dict[str, list[str]] = {}
            for row in rows:
                notification = Notification.model_validate(row["body"])
                waiting.append(notification)
                subtrees[notification.id] = list(row["subtree"])
            flushed = {
                r["group_key"]: r["flushed_at"]
                for r in await conn.fetch(
                    "SELECT group_key, flushed_at FROM alert_group_flushes WHERE receiver = $1", receiver.name
                )
            }
            plan = plan_groups(policy, waiting, flushed, now)
            for group in plan.due:
                await self._store_message(conn, receivers, receiver, group, subtrees, now)
                await conn.execute(
                    """INSERT INTO alert_group_flushes (receiver, group_key, flushed_at) VALUES ($1, $2, $3)
                       ON CONFLICT (receiver, group_key) DO UPDATE SET flushed_at = EXCLUDED.flushed_at""",
                    receiver.name, group.group_key, plan.flushed_at[group.group_key],
                )  # fmt: skip
            return plan.next_check_at

    async def _store_message(
        self,
        conn: asyncpg.Connection,
        receivers: Receivers,
        receiver: AnyReceiver,
        group: DueGroup,
        subtrees: dict[str, list[str]],
        now: datetime,
    ) -> None:
        ids = list(group.consumed_ids)
        message_id = delivery_id(ids)
        recipients: list[str] = []
        channel = _channel_of(receiver)
        if isinstance(receiver, WebhookReceiver):
            body = build_webhook_payload(
                receiver.name, group.group_labels, group.notifications, self.dashboard_url, receiver.grouping.max_alerts
            )
            payload = encode_payload(body)
        elif isinstance(receiver, AlertmanagerReceiver):
            alerts = postable_alerts(group.notifications, self.dashboard_url, receiver.firing_ttl)
            payload = json.dumps(alerts, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        else:
            for notification in group.notifications:
                for address in email_recipients(receiver, subtrees.get(notification.id, [notification.unit_id])):
                    if address not in recipients:
                        recipients.append(address)
            assert receivers.document.smtp is not None
            content = render_email(group, self.dashboard_url)
            payload = build_email(receivers.document.smtp, recipients, content, message_id, now)
        await conn.execute(
            """INSERT INTO alert_deliveries (receiver, delivery_id, group_key, channel, payload, recipients,
                   notification_ids, created_at, next_attempt_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT DO NOTHING""",
            receiver.name, message_id, group.group_key, channel, payload, recipients, ids, now,
        )  # fmt: skip
        await conn.execute(
            """UPDATE alert_outbox SET delivery_id = $3
               WHERE receiver = $1 AND notification_id = ANY($2::text[]) AND delivery_id IS NULL""",
            receiver.name, ids, message_id,
        )  # fmt: skip

    # --- send ---------------------------------------------------------------------------------------------

    async def send_due(self) -> datetime | None:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT DISTINCT ON (receiver, group_key) receiver, delivery_id, group_key, channel, payload,
                       recipients, notification_ids, attempts, first_attempt_at, next_attempt_at
                   FROM alert_deliveries WHERE status = 'pending'
                   ORDER BY receiver, group_key, seq"""
            )
        now = self.clock()
        receivers = self.receivers  # one set for the whole pass, even if a reload lands meanwhile
        due: list[_Pending] = []
        later: datetime | None = None
        for r in rows:
            receiver = receivers.by_name(r["receiver"])
            if receiver is None or _channel_of(receiver) != r["channel"]:
                # Removed from the file (or now another kind of receiver under the same name): the message waits
                # in case it comes back; a webhook body is never sent as an e-mail.
                continue
            if r["next_attempt_at"] > now:
                later = r["next_attempt_at"] if later is None else min(later, r["next_attempt_at"])
                continue
            due.append(
                _Pending(
                    r["receiver"],
                    r["delivery_id"],
                    r["group_key"],
                    r["channel"],
                    bytes(r["payload"]),
                    list(r["recipients"]),
                    list(r["notification_ids"]),
                    r["attempts"],
                    r["first_attempt_at"],
                )
            )
        await asyncio.gather(*(self._attempt(receivers, p) for p in due))
        if due:
            return now  # a delivered message may unblock the next one of its group
        return later

    async def _attempt(self, receivers: Receivers, pending: _Pending) -> None:
        receiver = receivers.by_name(pending.receiver)
        assert receiver is not None
        async with self._slots:
            secret = receivers.secret_of(receiver.name)
            if isinstance(receiver, WebhookReceiver):
                if secret is None:  # excluded when receivers are loaded; never send an unsigned body
                    result = SendResult("retry", "no HMAC secret in force for this receiver")
                else:
                    result = await send_webhook(self.http, receiver, secret, pending.payload, pending.notification_ids)
            elif isinstance(receiver, AlertmanagerReceiver):
                result = await send_alertmanager(self.http, receiver, secret, pending.payload, pending.notification_ids)
            else:
                result = await send_email(receivers, receiver, pending.recipients, pending.payload)
        await self._record(receiver, pending, result)

    async def _record(self, receiver: AnyReceiver, pending: _Pending, result: SendResult) -> None:
        now = self.clock()
        attempts = pending.attempts + 1
        first = pending.first_attempt_at or now
        outcome = result.outcome
        next_at: datetime | None = None
        status = "pending"
        if outcome == "delivered":
            status = "delivered"
        elif outcome == "reject":
            status = "dead"
        else:
            decision = next_retry(receiver.retry, attempts, first, now, retry_after_seconds=result.retry_after_s)
            if decision.give_up:
                status, outcome = "dead", "reject"
            else:
                next_at = decision.retry_at
        async with self.pool.acquire() as conn:
            # A dead message keeps in next_attempt_at the time it was given up: its retention clock.
            await conn.execute(
                """UPDATE alert_deliveries SET status = $3, attempts = $4, first_attempt_at = $5,
                       next_attempt_at = CASE WHEN $3 = 'dead' THEN $8 ELSE COALESCE($6, next_attempt_at) END,
                       last_error = $7,
                       delivered_at = CASE WHEN $3 = 'delivered' THEN $8 ELSE delivered_at END
                   WHERE receiver = $1 AND delivery_id = $2""",
                pending.receiver, pending.delivery_id, status, attempts, first, next_at,
                None if status == "delivered" else result.detail, now,
            )  # fmt: skip
        label = {"delivered": "sent", "retry": "retrying", "reject": "failed"}[outcome]
        self.on_outcome(pending.receiver, label)
        if outcome != "delivered":
            wait = "" if next_at is None else f"; next attempt in {(next_at - now) / timedelta(seconds=1):.1f}s"
            log.warning(
                "delivery %s to %s: %s (%s)%s", pending.delivery_id, pending.receiver, label, result.detail, wait
            )
