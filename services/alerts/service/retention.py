"""Outbox retention: finished group messages (and their outbox rows) go after OUTBOX_RETENTION_DAYS, in chunks
(domain/retention.py says which and how many)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from services.alerts.domain.retention import PassResult, Purged, RetentionPolicy, purge_finished
from services.alerts.service.ports import Clock


class FinishedMessages(Protocol):
    async def purge_finished_chunk(self, cutoff: datetime, limit: int) -> Purged: ...


class OutboxRetention:
    def __init__(self, store: FinishedMessages, policy: RetentionPolicy, clock: Clock) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock

    async def run(self) -> PassResult:
        return await purge_finished(self.policy, self.clock(), self.store.purge_finished_chunk)
