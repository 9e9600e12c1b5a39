"""One CPU budget for all the background refresh work of a process that serves readers (issue 15).

A committed batch makes the API process recompute read tables (a month's roll-up, a level's ranked table, the live
figures) and rebuild the bodies built from them, in worker threads. Each key's refreshes are already spaced (at most
once per READ_REFRESH_S and per twice its last duration, read_cache.py; a body at most once per BODY_REFRESH_S), but
a back-fill invalidates dozens of keys at once, and their refreshes together kept the process busy: pure-Python
work in a worker thread holds the GIL, and the event loop — which gives the GIL up at every system call (epoll,
recv, send) — waits up to a switch interval to get it back each time, so a request that costs 0.2 ms of CPU took
tens of milliseconds (p99 2.7 s at 500 requests/s, docs/benchmarks.md).

So the process keeps one account: every piece of background work reports the CPU time its thread spent, and after
work costing t seconds no new background refresh starts before `rest_factor` × t seconds have passed — whatever key
it is for. Refresh work then takes at most about 1 / (1 + rest_factor) of the process's time while commits arrive
continuously; the rest is the readers'. Staleness stays bounded: the rest owed is never more than `max_rest_s`
ahead of now, so a refresh waits for the budget at most `max_rest_s` beyond its own spacing. Work a caller awaits
(a reader of a key never built, the publisher's fresh tables) is counted but never delayed.

Background work takes its turn where it starts, not where it was scheduled: a batch invalidates many keys at once,
and their delayed refreshes, all scheduled against the same "free at", used to wake together and run side by side
(a review of session 6 found it: the budget's promise did not hold). So a background task marks itself
(`mark_background`), and each piece of CPU work it hands to `to_thread` waits for the ONE background turn and then
for the rest owed — background refreshes run one at a time, each after the rest its predecessor earned — but for
max_rest_s at most, turn and rest together: a refresh is then late by at most max_rest_s per piece of its work (a
table has up to three: the month's roll-up, the live roll-up, the build), whatever the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

REST_FACTOR = 2.0
"""Seconds of rest owed per CPU second of background refresh work (1/3 of the time for refreshes at most)."""
MAX_REST_S = 0.15
"""The rest owed never reaches further ahead than this: the budget delays a refresh at most this long."""

_IN_BACKGROUND: ContextVar[bool] = ContextVar("tthc_refresh_in_background", default=False)


def mark_background(background: bool = True) -> None:
    """Called first thing in a refresh task: whether nobody awaits it (True), so that the CPU work it hands to
    `RefreshBudget.to_thread` waits for the background turn. A task copies its creator's context variables: a
    reader's refresh task started from inside a background one must say False, or the reader would queue."""
    _IN_BACKGROUND.set(background)


class RefreshBudget:
    """The process's background refresh work in CPU seconds, and the rest it owes the readers."""

    def __init__(
        self,
        rest_factor: float = REST_FACTOR,
        max_rest_s: float = MAX_REST_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rest_factor = rest_factor
        self._max_rest_s = max_rest_s
        self._clock = clock
        self._free_at = float("-inf")
        self._turn: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self.spent_s = 0.0
        """CPU seconds of refresh work counted so far (for /metrics and tests)."""

    def wait_s(self) -> float:
        """How long a background refresh asked for now must wait for its turn (0: at once)."""
        return max(0.0, self._free_at - self._clock())

    def charge(self, cpu_s: float) -> None:
        """Work that cost `cpu_s` CPU seconds was done: the rest it owes is added (never beyond max_rest_s ahead)."""
        now = self._clock()
        self.spent_s += cpu_s
        self._free_at = min(max(self._free_at, now) + self._rest_factor * cpu_s, now + self._max_rest_s)

    async def to_thread(self, work: Callable[[], T]) -> T:
        """`work()` in a worker thread (as asyncio.to_thread), its thread's CPU time charged when it ends. From a
        background task (`mark_background`): first the background turn, then the rest owed as it stands then — the
        two together never longer than max_rest_s, so a queue of background work cannot keep a hot key stale
        without bound (past that, pieces run side by side, as they did before the turn existed)."""
        if not _IN_BACKGROUND.get():
            return await self._timed_in_thread(work)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_rest_s
        lock = self._background_turn()
        held = await _acquire_until(lock, deadline)
        try:
            rest = min(self.wait_s(), deadline - loop.time())
            if rest > 0:
                await asyncio.sleep(rest)
            return await self._timed_in_thread(work)
        finally:
            if held:
                lock.release()

    async def _timed_in_thread(self, work: Callable[[], T]) -> T:
        value, cpu_s = await asyncio.to_thread(_timed, work)
        self.charge(cpu_s)
        return value

    def _background_turn(self) -> asyncio.Lock:
        """The one lock background work queues on (one per event loop: tests run lifespans on several)."""
        loop = asyncio.get_running_loop()
        if self._turn is None or self._turn[0] is not loop:
            self._turn = (loop, asyncio.Lock())
        return self._turn[1]


async def _acquire_until(lock: asyncio.Lock, deadline: float) -> bool:
    """Acquire `lock` unless the loop's clock passes `deadline` first; whether it is held."""
    if not lock.locked():
        return await lock.acquire()
    acquiring = asyncio.ensure_future(lock.acquire())
    await asyncio.wait({acquiring}, timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
    if not acquiring.done():
        acquiring.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await acquiring  # it may have been granted just now: then it is held after all
    return acquiring.done() and not acquiring.cancelled() and acquiring.result()


def _timed(work: Callable[[], T]) -> tuple[T, float]:
    started = time.thread_time()
    value = work()
    return value, time.thread_time() - started
