"""What the routes, the subscriber and the background loops share; filled in by the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from services.alerts.adapters.evaluation import Evaluator
from services.alerts.adapters.metrics import AlertMetrics
from services.alerts.adapters.receivers import Receivers
from services.alerts.adapters.rule_store import RuleBook
from services.alerts.settings import AlertsSettings

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class Signal:
    """Wake every waiter once (new history rows, new outbox rows); a waiter that misses it wakes on timeout."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout_s: float) -> None:
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout_s)


@dataclass
class AlertsContext:
    settings: AlertsSettings
    receivers: Receivers
    clock: Clock = system_clock
    metrics: AlertMetrics = field(default_factory=AlertMetrics)
    changed: Signal = field(default_factory=Signal)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    pool: asyncpg.Pool | None = None
    rule_book: RuleBook | None = None
    evaluator: Evaluator | None = None

    async def ready_evaluator(self) -> Evaluator:
        await self.started.wait()
        assert self.evaluator is not None
        return self.evaluator

    def db(self) -> asyncpg.Pool:
        assert self.pool is not None, "the lifespan has not opened the pool"
        return self.pool

    def rules(self) -> RuleBook:
        assert self.rule_book is not None, "the lifespan has not loaded the rules"
        return self.rule_book
