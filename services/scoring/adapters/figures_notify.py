"""Tell every scoring process which months a committed batch changed (PostgreSQL LISTEN/NOTIFY).

Each process keeps read tables (reading.py); a batch committed by another process in the same consumer group must
invalidate them, or the two processes would answer differently until the tables age out. The batch's transaction
sends NOTIFY (delivered only if it commits, and only then), each process LISTENs on a connection of its own and
invalidates the months named. A notification lost while the listener reconnects is covered by the tables'
maximum age (READ_CACHE_TTL_S).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable

import asyncpg

log = logging.getLogger(__name__)

CHANNEL = "tthc_scoring_figures"
NOTIFY_FIGURES = "SELECT pg_notify('tthc_scoring_figures', $1)"
PING = "SELECT 1"
# Identifies this process's own notifications, which it has already acted on.
PROCESS_TOKEN = uuid.uuid4().hex[:12]


async def notify_months(conn: asyncpg.Connection, months: Iterable[str]) -> None:
    """Inside the batch's transaction: announce the months it changed (sent at commit)."""
    await conn.execute(NOTIFY_FIGURES, f"{PROCESS_TOKEN}:{','.join(sorted(months))}")


class FiguresListener:
    """Calls `on_change(months)` for every other process's committed batch; reconnects after an outage."""

    def __init__(self, database_url: str, on_change: Callable[[list[str] | None], None], check_s: float = 5.0):
        self._database_url = database_url
        self._on_change = on_change
        self._check_s = check_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="figures-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _received(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        token, _, months = payload.partition(":")
        if token != PROCESS_TOKEN:
            self._on_change([month for month in months.split(",") if month])

    async def _run(self) -> None:
        connected_before = False
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._database_url, timeout=10)
                await conn.add_listener(CHANNEL, self._received)
                if connected_before:
                    self._on_change(None)  # notifications may have been missed meanwhile
                connected_before = True
                while True:  # a silent connection may be dead: ask, so that a broken one is noticed
                    await asyncio.sleep(self._check_s)
                    await asyncio.wait_for(conn.fetchval(PING), timeout=self._check_s)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database is away: the service's other paths report it
                log.debug("figures listener reconnecting: %s", error)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(1.0)
