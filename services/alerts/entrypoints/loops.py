"""Background loops of the alerts service: the evaluation tick, the near-due pass, the forecast pass, the morning
to-do digest, the outbox sender, the outbox retention pass, the poll of receivers managed through the API and (when
the receivers come from a file) the receivers file check."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

import httpx

from services.alerts.adapters.scoring_client import scoring_alive
from services.alerts.bootstrap import Container
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


def start_loops(container: Container) -> list[asyncio.Task[None]]:
    settings = container.settings
    metrics = container.metrics
    health = container.health

    async def timed(trigger: str, step: Callable[[], Awaitable[object]]) -> None:
        started = time.perf_counter()
        await step()
        metrics.evaluation_seconds.labels(trigger=trigger).observe(time.perf_counter() - started)

    async def tick() -> None:
        await timed("tick", container.evaluator.tick)

    async def scoring_is_ours() -> bool:
        if health.scoring_peer.state == "unknown":
            await check_scoring()
        # Another service or another stack's scoring: its lists are not ours (logged once).
        return not health.scoring_peer.refused

    async def near_due() -> None:
        if await scoring_is_ours():
            await timed("near_due", container.near_due.run)

    async def forecast() -> None:
        if await scoring_is_ours():
            await timed("forecast", container.forecast.run)

    async def digest() -> None:
        if await scoring_is_ours():
            await container.digest.run()
            metrics.digest_checked.set(container.clock().timestamp())

    async def send() -> float | None:
        next_at: datetime | None = await container.dispatcher.run_once()
        if next_at is None:
            return None
        return (next_at - container.clock()).total_seconds()

    async def purge() -> float | None:
        result = await container.retention.run()
        metrics.outbox_purged.labels(table="alert_deliveries").inc(result.purged.messages)
        metrics.outbox_purged.labels(table="alert_outbox").inc(result.purged.outbox_rows)
        if result.purged.messages:
            log.info("outbox retention: %d finished messages, %d outbox rows deleted",
                     result.purged.messages, result.purged.outbox_rows)  # fmt: skip
        return 1.0 if result.more else None  # a backlog is worked off in passes a second apart

    async def check_receivers_file() -> None:
        assert container.watcher is not None
        container.receivers.follow_file(container.watcher)

    async def follow_api_receivers() -> None:
        if await container.receivers.follow_api(container.receiver_store):
            names = [r.name for r in container.receivers.current.api]
            log.info("Người nhận qua API / API receivers in force: %s", ", ".join(names) or "-")

    async def check_scoring() -> None:
        try:
            identity = await scoring_alive(container.scoring_http)
        except httpx.HTTPError as error:
            health.scoring.failed(error)
        else:
            health.scoring.succeeded()
            health.scoring_peer.observe(identity)

    def loop(name: str, interval_s: float, step: Callable[[], Awaitable[float | None]],
             wake: Callable[[float], Awaitable[None]] | None = None) -> asyncio.Task[None]:  # fmt: skip
        return asyncio.create_task(
            _forever(name, interval_s, step, wake, on_outage=health.database_failed), name=f"alerts-{name}"
        )

    tasks = [
        loop("tick", settings.tick_interval_s, tick),
        loop("near-due", settings.near_due_interval_s, near_due),
        loop("forecast", settings.forecast_interval_s, forecast),
        loop("todo-digest", settings.todo_digest_interval_s, digest),
        loop("sender", settings.sender_interval_s, send, wake=container.changed.wait),
        loop("outbox-retention", settings.outbox_retention_interval_s, purge),
        loop("scoring-check", settings.scoring_check_interval_s, check_scoring),
        loop("receivers-api", settings.receivers_poll_interval_s, follow_api_receivers),
    ]
    if container.watcher is not None:
        tasks.append(loop("receivers-file", settings.receivers_check_interval_s, check_receivers_file))
    return tasks
