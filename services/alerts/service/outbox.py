"""Dispatching the durable outbox: group waiting notifications into messages, send them, retry with backoff.

Two phases, each its own transaction, so a crash anywhere repeats work but never loses it:
1. plan — per receiver, the domain's `plan_groups` says which group messages are due; each is rendered ONCE
   (webhook body or MIME e-mail, domain/messages.py), stored with its delivery id, and the notifications it
   consumed are marked in the outbox.
2. send — pending messages whose time has come are sent; success marks them delivered, failure schedules the
   next attempt with the domain's backoff (full jitter, cap, Retry-After) or parks them as dead.

Within one (receiver, group) messages go out in order: a later message waits until the earlier one is delivered
or dead (`OutboxStore.pending_heads`), so a receiver never sees "resolved" before the "firing" it closes.
A crash between a successful send and the commit that records it sends that message again with the same
`X-TTHC-Delivery` id (at-least-once); receivers drop it by that id.

The receivers can be replaced while the service runs (service/receivers.py): each pass works on the set in force
when it began, and a message waits (is not sent, not dropped) while no receiver of its name and channel exists.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from services.alerts.domain.backoff import next_retry
from services.alerts.domain.grouping import plan_groups
from services.alerts.domain.messages import channel_of, render_message
from services.alerts.domain.receivers import AnyReceiver, Receivers
from services.alerts.domain.signing import delivery_id
from services.alerts.service.ports import (
    Attempt,
    Clock,
    DeliveryStatus,
    NewMessage,
    OutboxStore,
    PendingMessage,
    SendResult,
    Transport,
)
from services.alerts.service.receivers import ReceiverRegistry

log = logging.getLogger(__name__)

OutcomeHook = Callable[[str, str], None]  # (receiver, sent | retrying | failed)


class Dispatcher:
    def __init__(
        self,
        store: OutboxStore,
        transport: Transport,
        receivers: ReceiverRegistry,
        clock: Clock,
        dashboard_url: str,
        on_outcome: OutcomeHook = lambda receiver, outcome: None,
        concurrency: int = 8,
    ) -> None:
        self.store = store
        self.transport = transport
        self.receivers = receivers
        self.clock = clock
        self.dashboard_url = dashboard_url
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
        receivers = self.receivers.current  # a reload during the pass applies from the next pass
        for receiver in receivers.all:
            check = await self._plan_receiver(receivers, receiver)
            if check is not None and (next_check is None or check < next_check):
                next_check = check
        return next_check

    async def _plan_receiver(self, receivers: Receivers, receiver: AnyReceiver) -> datetime | None:
        policy = receivers.grouping_policy(receiver)
        async with self.store.planning(receiver.name) as session:
            waiting = await session.waiting()
            if not waiting:
                return None
            now = self.clock()
            subtrees = {w.notification.id: w.subtree for w in waiting}
            plan = plan_groups(policy, [w.notification for w in waiting], await session.flushed(), now)
            for group in plan.due:
                ids = list(group.consumed_ids)
                message_id = delivery_id(ids)
                rendered = render_message(receivers, receiver, group, subtrees, self.dashboard_url, message_id, now)
                await session.store_message(
                    NewMessage(receiver.name, message_id, group.group_key, rendered.channel, rendered.payload,
                               rendered.recipients, ids, now)
                )  # fmt: skip
                await session.record_flush(group.group_key, plan.flushed_at[group.group_key])
            return plan.next_check_at

    # --- send ---------------------------------------------------------------------------------------------

    async def send_due(self) -> datetime | None:
        heads = await self.store.pending_heads()
        now = self.clock()
        receivers = self.receivers.current  # one set for the whole pass, even if a reload lands meanwhile
        due: list[tuple[AnyReceiver, PendingMessage]] = []
        later: datetime | None = None
        for message in heads:
            receiver = receivers.by_name(message.receiver)
            if receiver is None or channel_of(receiver) != message.channel:
                # Removed (or now another kind of receiver under the same name): the message waits in case it
                # comes back; a webhook body is never sent as an e-mail.
                continue
            if message.next_attempt_at > now:
                later = message.next_attempt_at if later is None else min(later, message.next_attempt_at)
                continue
            due.append((receiver, message))
        await asyncio.gather(*(self._attempt(receivers, receiver, message) for receiver, message in due))
        if due:
            return now  # a delivered message may unblock the next one of its group
        return later

    async def _attempt(self, receivers: Receivers, receiver: AnyReceiver, message: PendingMessage) -> None:
        async with self._slots:
            result = await self.transport.send(receivers, receiver, message)
        await self._record(receiver, message, result)

    async def _record(self, receiver: AnyReceiver, message: PendingMessage, result: SendResult) -> None:
        now = self.clock()
        attempts = message.attempts + 1
        first = message.first_attempt_at or now
        outcome = result.outcome
        next_at: datetime | None = None
        status: DeliveryStatus = "pending"
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
        error = None if status == "delivered" else result.detail
        await self.store.record_attempt(message, Attempt(status, attempts, first, next_at, error, now))
        label = {"delivered": "sent", "retry": "retrying", "reject": "failed"}[outcome]
        self.on_outcome(message.receiver, label)
        if outcome != "delivered":
            wait = "" if next_at is None else f"; next attempt in {(next_at - now) / timedelta(seconds=1):.1f}s"
            log.warning("delivery %s to %s: %s (%s)%s", message.delivery_id, message.receiver, label, result.detail,
                        wait)  # fmt: skip
