"""The connections every service holds: one asyncpg pool and one FastStream Kafka broker.

Built inside a service's lifespan (never at import time) and closed when the lifespan ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from shared.db import create_pool, database_reachable
from shared.http import ReadinessCheck
from shared.kafka import broker_reachable
from shared.settings import ServiceSettings


@dataclass
class Resources:
    pool: asyncpg.Pool
    broker: KafkaBroker

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        async def database() -> bool:
            return await database_reachable(self.pool)

        async def kafka() -> bool:
            return await broker_reachable(self.broker)

        return {"database": database, "kafka": kafka}


@contextlib.asynccontextmanager
async def open_resources(
    settings: ServiceSettings,
    broker: KafkaBroker,
    before_broker_start: Callable[[asyncpg.Pool], Awaitable[None]] | None = None,
) -> AsyncIterator[Resources]:
    """Open the pool and start the broker (with whatever subscribers the service registered on it).

    `before_broker_start` builds what the subscribers need (it gets the pool), so no message arrives before it.
    """
    pool = await create_pool(settings.database_url, max_size=settings.db_pool_max)
    try:
        if before_broker_start is not None:
            await before_broker_start(pool)
        await broker.start()
        try:
            yield Resources(pool=pool, broker=broker)
        finally:
            await broker.stop()
    finally:
        await pool.close()


def readiness_of(app: FastAPI) -> dict[str, ReadinessCheck]:
    """The readiness checks of the resources a lifespan put on `app.state.resources` (none before start)."""
    resources: Resources | None = getattr(app.state, "resources", None)
    return resources.readiness_checks() if resources is not None else {}
