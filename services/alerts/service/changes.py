"""A wake-up call for everything that waits on new history or outbox rows (the sender loop, event streams)."""

from __future__ import annotations

import asyncio
import contextlib


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
