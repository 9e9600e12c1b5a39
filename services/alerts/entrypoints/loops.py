"""Background loops of the alerts service: the evaluation tick, the near-due pass, the outbox sender, the outbox
retention pass, the poll of receivers managed through the API and (when the receivers come from a file) the
receivers file check."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import httpx

from services.alerts.adapters.near_due import near_due_pass
from services.alerts.adapters.outbox import Dispatcher, purge_finished_chunk
from services.alerts.adapters.receivers_reload import ReceiversWatcher
from services.alerts.adapters.scoring_client import scoring_alive
from services.alerts.domain.retention import RetentionPolicy, purge_finished
from services.alerts.entrypoints.context import AlertsContext
from shared.outages import is_database_outage

log = logging.getLogger(__name__)


async def _forever(name: str, interval_s: float, step: Callable[[], Awaitable[float | None]],
                   wake: Callable[[float], Awaitable[None]] | None = None,
                   on_outage: Callable[[BaseException], None] | None = None) -> None:  # fmt: skip
    """Run `step` again and again; a failure is logged and retried after the interval (never kills the loop).
    `step` may return how long until it has work again (shorter than the interval). A database outage goes to
    `on_outage` (one line per outage for the whole service) instead of one traceback per step."""
    while True:
        delay = interval_s
        try:
            sooner = await step()
            if sooner is not None:
                delay = max(0.05, min(interval_s, sooner))
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if on_outage is not None and is_database_outage(error):
                on_outage(error)
            else:
                log.exception("%s failed; retrying in %.1fs", name, interval_s)
        if wake is None:
            await asyncio.sleep(delay)
        else:
            await wake(delay)


def start_loops(
    ctx: AlertsContext, dispatcher: Dispatcher, scoring: httpx.AsyncClient, watcher: ReceiversWatcher | None = None
) -> list[asyncio.Task[None]]:
    settings = ctx.settings
    metrics = ctx.metrics
    retention = RetentionPolicy(max_age=timedelta(days=settings.outbox_retention_days))

    async def tick() -> None:
        evaluator = await ctx.ready_evaluator()
        started = time.perf_counter()
        await evaluator.tick()
        metrics.evaluation_seconds.labels(trigger="tick").observe(time.perf_counter() - started)
        return None

    async def near_due() -> None:
        evaluator = await ctx.ready_evaluator()
        if ctx.scoring_peer.state == "unknown":
            await check_scoring()
        if ctx.scoring_peer.refused:
            return None  # another service or another stack's scoring: its lists are not ours (logged once)
        started = time.perf_counter()
        await near_due_pass(ctx.db(), evaluator, scoring, metrics, scoring=ctx.scoring)
        metrics.evaluation_seconds.labels(trigger="near_due").observe(time.perf_counter() - started)
        return None

    async def send() -> float | None:
        next_at: datetime | None = await dispatcher.run_once()
        if next_at is None:
            return None
        return (next_at - ctx.clock()).total_seconds()

    async def purge() -> float | None:
        result = await purge_finished(
            retention, ctx.clock(), lambda cutoff, limit: purge_finished_chunk(ctx.db(), cutoff, limit)
        )
        metrics.outbox_purged.labels(table="alert_deliveries").inc(result.purged.messages)
        metrics.outbox_purged.labels(table="alert_outbox").inc(result.purged.outbox_rows)
        if result.purged.messages:
            log.info("outbox retention: %d finished messages, %d outbox rows deleted",
                     result.purged.messages, result.purged.outbox_rows)  # fmt: skip
        return 1.0 if result.more else None  # a backlog is worked off in passes a second apart

    async def check_receivers() -> None:
        assert watcher is not None
        fresh = watcher.check()
        if fresh is not None:
            ctx.apply_receivers(fresh.with_api(ctx.receivers.api, ctx.receivers.api_secrets))
        return None

    async def follow_api_receivers() -> None:
        if await ctx.follow_api_receivers():
            names = [r.name for r in ctx.receivers.api]
            log.info("Người nhận qua API / API receivers in force: %s", ", ".join(names) or "-")
        return None

    async def check_scoring() -> None:
        try:
            identity = await scoring_alive(scoring)
        except httpx.HTTPError as error:
            ctx.scoring.failed(error)
        else:
            ctx.scoring.succeeded()
            ctx.scoring_peer.observe(identity)
        return None

    def loop(name: str, interval_s: float, step: Callable[[], Awaitable[float | None]],
             wake: Callable[[float], Awaitable[None]] | None = None) -> asyncio.Task[None]:  # fmt: skip
        return asyncio.create_task(
            _forever(name, interval_s, step, wake, on_outage=ctx.database_failed), name=f"alerts-{name}"
        )

    tasks = [
        loop("tick", settings.tick_interval_s, tick),
        loop("near-due", settings.near_due_interval_s, near_due),
        loop("sender", settings.sender_interval_s, send, wake=ctx.changed.wait),
        loop("outbox-retention", settings.outbox_retention_interval_s, purge),
        loop("scoring-check", settings.scoring_check_interval_s, check_scoring),
        loop("receivers-api", settings.receivers_poll_interval_s, follow_api_receivers),
    ]
    if watcher is not None:
        tasks.append(loop("receivers-file", settings.receivers_check_interval_s, check_receivers))
    return tasks
