"""Read tables computed once per change, served while the next one is computed (stale-while-revalidate).

A month's figures (every unit, subtrees and successors summed) and a level's ranking table cost tens of
milliseconds to compute; an API read must not pay that. Each key has a version, raised by `invalidate` when a
committed batch (this process's, or another's through PostgreSQL NOTIFY) touched it. A reader gets the newest
computed value at once — if it is stale, one background task recomputes it, and readers keep the previous value
meanwhile (figures are then at most one recomputation old, tens of milliseconds). Callers that must see the
database as it is now (the publisher after its own batch, the monthly notice) ask with `wait=True`.
`max_age_s` bounds how long a value is served without any invalidation (a lost notification).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    version: int
    built_at: float


class RefreshingCache(Generic[K, V]):
    def __init__(
        self,
        compute: Callable[[K], Awaitable[V]],
        *,
        max_age_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._compute = compute
        self._max_age_s = max_age_s
        self._clock = clock
        self._entries: dict[K, _Entry[V]] = {}
        self._versions: dict[K, int] = {}
        self._epoch = 0
        self._running: dict[K, tuple[int, asyncio.Task[V]]] = {}

    def _target(self, key: K) -> int:
        return self._epoch + self._versions.get(key, 0)

    def _current(self, key: K, entry: _Entry[V]) -> bool:
        return entry.version >= self._target(key) and self._clock() - entry.built_at < self._max_age_s

    def computed_keys(self) -> list[K]:
        return list(self._entries)

    def invalidate(self, keys: Iterable[K] | None = None, *, eager: bool = True) -> None:
        """Mark keys (None: every key) as changed; with `eager`, recompute those already computed now."""
        if keys is None:
            self._epoch += 1
            touched = list(self._entries)
        else:
            touched = list(keys)
            for key in touched:
                self._versions[key] = self._versions.get(key, 0) + 1
        if eager:
            for key in touched:
                if key in self._entries:
                    self._refresh(key, follow_up=True)

    async def get(self, key: K, *, wait: bool = False) -> V:
        """The value for `key`: the current one, else (unless `wait`) the previous one while it is recomputed."""
        entry = self._entries.get(key)
        if entry is not None and (self._current(key, entry) or (not wait and key in self._running)):
            return entry.value
        task = self._refresh(key, follow_up=not wait)
        if entry is not None and not wait:
            return entry.value
        return await asyncio.shield(task)

    def _refresh(self, key: K, *, follow_up: bool) -> asyncio.Task[V]:
        target = self._target(key)
        running = self._running.get(key)
        if running is not None and (running[0] >= target or follow_up):
            return running[1]  # a stale one re-runs when it ends (see _run)
        task = asyncio.get_running_loop().create_task(self._run(key, target), name=f"refresh-{key}")
        task.add_done_callback(_log_failure)  # eager refreshes have no reader; a reader awaiting one still gets it
        self._running[key] = (target, task)
        return task

    async def _run(self, key: K, target: int) -> V:
        try:
            value = await self._compute(key)
        finally:
            if (running := self._running.get(key)) is not None and running[1] is asyncio.current_task():
                del self._running[key]
        current = self._entries.get(key)
        if current is None or current.version <= target:
            self._entries[key] = _Entry(value, target, self._clock())
        if self._target(key) > target and key not in self._running:  # invalidated while computing
            self._refresh(key, follow_up=True)
        return value


def _log_failure(task: asyncio.Task[object]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        if (error := task.exception()) is not None:
            log.warning("refreshing a read table failed: %s", error)
