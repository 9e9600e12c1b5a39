"""Background loops of the alerts service: the evaluation tick, the near-due pass, the outbox sender."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

import httpx

from services.alerts.adapters.near_due import near_due_pass
from services.alerts.adapters.outbox import Dispatcher
from services.alerts.entrypoints.context import AlertsContext

log = logging.getLogger(__name__)


async def _forever(name: str, interval_s: float, step: Callable[[], Awaitable[float | None]],
                   wake: Callable[[float], Awaitable[None]] | None = None) -> None:  # fmt: skip
    """Run `step` again and again; a failure is logged and retried after the interval (never kills the loop).
    `step` may return how long until it has work again (shorter than the interval)."""
    while True:
        delay = interval_s
        try:
            sooner = await step()
            if sooner is not None:
                delay = max(0.05, min(interval_s, sooner))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; retrying in %.1fs", name, interval_s)
        if wake is None:
            await asyncio.sleep(delay)
        else:
            await wake(delay)


def start_loops(ctx: AlertsContext, dispatcher: Dispatcher, scoring: httpx.AsyncClient) -> list[asyncio.Task[None]]:
    settings = ctx.settings
    metrics = ctx.metrics

    async def tick() -> None:
        evaluator = await ctx.ready_evaluator()
        started = time.perf_counter()
        await evaluator.tick()
        metrics.evaluation_seconds.labels(trigger="tick").observe(time.perf_counter() - started)
        return None

    async def near_due() -> None:
        evaluator = await ctx.ready_evaluator()
        started = time.perf_counter()
        await near_due_pass(ctx.db(), evaluator, scoring, metrics)
        metrics.evaluation_seconds.labels(trigger="near_due").observe(time.perf_counter() - started)
        return None

    async def send() -> float | None:
        next_at: datetime | None = await dispatcher.run_once()
        if next_at is None:
            return None
        return (next_at - ctx.clock()).total_seconds()

    return [
        asyncio.create_task(_forever("tick", settings.tick_interval_s, tick), name="alerts-tick"),
        asyncio.create_task(_forever("near-due", settings.near_due_interval_s, near_due), name="alerts-near-due"),
        asyncio.create_task(
            _forever("sender", settings.sender_interval_s, send, wake=ctx.changed.wait), name="alerts-sender"
        ),
    ]
