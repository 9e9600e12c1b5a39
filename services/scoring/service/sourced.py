"""Values computed once per version of the read tables they come from, in a worker thread, one at a time per key.

The read tables (reading.py) are replaced, never changed in place, when their figures change: a value computed
from some of them (a level's month-end forecast, a ready-made body) stays right while those are the SAME objects,
and is recomputed the first time one of them was replaced. Readers asking meanwhile await the computation already
running for the same key and sources instead of starting another (at a change, every concurrent reader of a hot
key would otherwise pay for it at once); a computation for other sources runs on its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Generic, TypeVar

from services.scoring.domain.live import LiveFigures
from services.scoring.service.refresh_budget import RefreshBudget, mark_background

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
Sources = tuple[object, ...]


BY_VALUE: tuple[type, ...] = (datetime, int, str, LiveFigures)
"""Small immutable values a source tuple may hold and that are compared by value: an instant, a count, one unit's
live figures — new objects with the same value each time a table is rebuilt, which must not rebuild a body."""


def same_sources(kept: Sources, sources: Sources) -> bool:
    """Whether two source tuples are the same objects, one by one (the small values of BY_VALUE: equal)."""
    return len(kept) == len(sources) and all(
        a is b or (isinstance(a, BY_VALUE) and type(a) is type(b) and a == b)
        for a, b in zip(kept, sources, strict=True)
    )


class OneAtATime(Generic[K, V]):
    """Computations in a worker thread (CPU work off the event loop: readers of ready values are served meanwhile),
    one per key and sources at a time: a reader asking for the same key and sources awaits the running one."""

    def __init__(self) -> None:
        self._running: dict[K, tuple[Sources, asyncio.Future[V]]] = {}

    async def run(self, key: K, sources: Sources, compute: Callable[[], V], budget: RefreshBudget | None = None) -> V:
        """`compute()` in a worker thread (its CPU charged to `budget` if given), or the same one running."""
        running = self._running.get(key)
        if running is not None and same_sources(running[0], sources):
            return await asyncio.shield(running[1])
        work = asyncio.to_thread(compute) if budget is None else budget.to_thread(compute)
        future: asyncio.Future[V] = asyncio.ensure_future(work)
        self._running[key] = (sources, future)
        try:
            return await asyncio.shield(future)
        finally:
            if (current := self._running.get(key)) is not None and current[1] is future:
                del self._running[key]


class SourcedValues(Generic[K, V]):
    """The newest value of each key with the sources it was computed from (at most `max_entries` keys).

    `stale_s` > 0: a key whose sources changed is answered with its previous value at once while ONE newer value is
    computed in the background, at most once per `stale_s` seconds — for values that cost far more than the reads
    they answer (a level's forecast: ~100 ms of CPU, invalidated by every committed batch of the live feed)."""

    def __init__(
        self,
        max_entries: int = 1024,
        stale_s: float = 0.0,
        on_store: Callable[[], None] | None = None,
        *,
        tell_background_only: bool = False,
        wait_s: float = 0.0,
    ) -> None:
        # Told whenever a value is kept: a reader may have been answered the previous one (`stale_s`) and must be
        # able to tell that what it would be served changed (ScoringReader.bump: the responses' token).
        # `tell_background_only`: only when a background computation replaced a value readers were served (a
        # reader that waited for its value was given it; nobody else holds an older one of that key), and only
        # when the value is a new object (a body rebuilt with the same bytes is kept as it was).
        self._on_store = on_store
        self._tell_background_only = tell_background_only
        # With `stale_s`: a reader waits this long for the newer value before it is answered the previous one —
        # a quick computation is then served at once (not one token change later), a slow one never holds it.
        self._wait_s = wait_s
        self._values: OrderedDict[K, tuple[Sources, V]] = OrderedDict()
        self._computing: OneAtATime[K, V] = OneAtATime()
        self._max = max_entries
        self._stale_s = stale_s
        self._started: dict[K, float] = {}
        self._background: dict[K, asyncio.Task[V]] = {}
        self.budget: RefreshBudget | None = None
        """The process's refresh budget (refresh_budget.py): every computation is charged to it, and a background
        one also waits for its turn there (set by the owner once it knows the reader)."""

    def peek(self, key: K, sources: Sources) -> V | None:
        found = self._values.get(key)
        return found[1] if found is not None and same_sources(found[0], sources) else None

    async def get(self, key: K, sources: Sources, compute: Callable[[], V]) -> V:
        """The value kept for `key` if computed from `sources`, else `compute()` run (OneAtATime) and kept — or,
        with `stale_s`, the previous value while a newer one is computed."""
        found = self._values.get(key)
        if found is not None and same_sources(found[0], sources):
            return found[1]
        if found is not None and self._stale_s > 0:
            if key not in self._background:
                # Always one computation to come, at once or when the interval has passed: a reader answered the
                # previous value may not ask again (its response is kept until `on_store` says it changed).
                delay = self._started.get(key, float("-inf")) + self._stale_s - time.monotonic()
                if self.budget is not None:
                    delay = max(delay, self.budget.wait_s())
                task = asyncio.ensure_future(
                    self._compute(key, sources, compute, after_s=max(0.0, delay), background=True)
                )
                self._background[key] = task
                task.add_done_callback(lambda done, key=key: self._finished(key, done))  # type: ignore[misc]
            if self._wait_s > 0:
                task = self._background[key]
                done, _ = await asyncio.wait({task}, timeout=self._wait_s)
                if done and not task.cancelled() and task.exception() is None:
                    return task.result()
            return found[1]
        return await self._compute(key, sources, compute)

    async def idle(self) -> None:
        """Until no background computation runs."""
        while self._background:
            await asyncio.gather(*self._background.values(), return_exceptions=True)

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        if self._background.get(key) is task:
            del self._background[key]
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("computing a kept value failed (the previous one is served): %s", error)

    def previous(self, key: K) -> V | None:
        """The value kept for `key`, whatever it was computed from."""
        found = self._values.get(key)
        return found[1] if found is not None else None

    async def _compute(
        self, key: K, sources: Sources, compute: Callable[[], V], after_s: float = 0.0, background: bool = False
    ) -> V:
        if background:  # its own task (ensure_future in get): its computation waits for the background turn
            mark_background()
        if after_s > 0:
            await asyncio.sleep(after_s)
        self._started[key] = time.monotonic()
        value = await self._computing.run(key, sources, compute, self.budget)
        replaced = self._values.get(key)
        tell = not self._tell_background_only or (background and (replaced is None or replaced[1] is not value))
        self._values[key] = (sources, value)
        self._values.move_to_end(key)
        while len(self._values) > self._max:
            evicted, _ = self._values.popitem(last=False)
            self._started.pop(evicted, None)
        if self._on_store is not None and tell:
            self._on_store()
        return value
