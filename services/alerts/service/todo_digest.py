"""The morning to-do digest (domain/todo_digest.py): on each pass inside the morning window, ask scoring for the
to-do of every unit owed a digest today and not yet given one, and freeze each e-mail in the outbox.

Exactly once per (receiver, unit, day), across restarts and across processes: the message's delivery id hashes
those three and the outbox keeps one row per (receiver, delivery id) — the second process's insert does nothing.
Units already queued today are not asked about again, so a pass after the morning's is one query and no request
to scoring. The outbox's sender delivers the e-mails (retries, backoff, dead letters) like any alert message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date

from services.alerts.domain.links import unit_url
from services.alerts.domain.messages import build_email
from services.alerts.domain.todo_digest import DigestSchedule, DigestTarget, TodoList, digest_targets, render_digest
from services.alerts.service.ports import Clock, DigestOutbox, NearDueStore, NewMessage, TodoSource
from services.alerts.service.receivers import ReceiverRegistry


class MorningDigest:
    def __init__(
        self,
        units: NearDueStore,
        outbox: DigestOutbox,
        source: TodoSource,
        receivers: ReceiverRegistry,
        clock: Clock,
        schedule: DigestSchedule,
        dashboard_url: str,
        max_items: int = 20,
        on_queued: Callable[[int], None] = lambda count: None,
        concurrency: int = 8,
    ) -> None:
        self.units = units
        self.outbox = outbox
        self.source = source
        self.receivers = receivers
        self.clock = clock
        self.schedule = schedule
        self.dashboard_url = dashboard_url
        self.max_items = max_items
        self.on_queued = on_queued
        self.concurrency = concurrency

    async def owed(self, day: date) -> list[DigestTarget]:
        """Targets of `day` with no message in the outbox yet."""
        async with self.units.reader() as reader:
            live = await reader.units_live()
        known = [(u.unit_id, u.level, u.ancestors) for u in live]
        targets = digest_targets(self.receivers.current, known, day)
        if not targets:
            return []
        queued = await self.outbox.queued([t.delivery_id for t in targets])
        return [t for t in targets if t.delivery_id not in queued]

    async def run(self) -> int:
        """Digests put in the outbox by this pass (0 outside the morning window or when all are queued)."""
        day = self.schedule.day_due(self.clock())
        if day is None:
            return 0
        targets = await self.owed(day)
        if not targets:
            return 0
        slots = asyncio.Semaphore(self.concurrency)

        async def todo_of(unit_id: str) -> TodoList | None:
            async with slots:
                return await self.source.todo(unit_id, self.max_items)

        unit_ids = sorted({t.unit_id for t in targets})
        lists = dict(zip(unit_ids, await asyncio.gather(*(todo_of(u) for u in unit_ids)), strict=True))
        smtp = self.receivers.current.document.smtp
        queued = 0
        for target in targets:
            todo = lists[target.unit_id]
            if todo is None or not todo.has_work_today or smtp is None:
                continue  # scoring did not answer: asked again at the next pass; no work today: nothing to send
            content = render_digest(todo, day, self.max_items, unit_url(self.dashboard_url, target.unit_id))
            now = self.clock()
            payload = build_email(smtp, target.recipients, content, target.delivery_id, now)
            message = NewMessage(target.receiver.name, target.delivery_id, f"todo-digest/{target.unit_id}", "email",
                                 payload, target.recipients, [], now)  # fmt: skip
            queued += await self.outbox.queue(message)
        if queued:
            self.on_queued(queued)
        return queued
