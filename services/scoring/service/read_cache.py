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

from services.scoring.service.refresh_budget import RefreshBudget, mark_background

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
log = logging.getLogger(__name__)


# A key read within this many seconds is recomputed as soon as it changes; others when next read.
HOT_S = 60.0
# A key's background recomputations start at least this many times their last duration apart (see __init__).
LOAD_FACTOR = 2.0


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
        background_interval_s: float = 0.0,
        on_store: Callable[[], None] | None = None,
        on_fresh: Callable[[float], None] | None = None,
        budget: RefreshBudget | None = None,
    ) -> None:
        self._compute = compute
        # The process's one account of background refresh work (refresh_budget.py): a background recomputation
        # also waits for its turn there, whatever key it is for.
        self._budget = budget
        self._on_store = on_store  # told whenever a new value replaces one (what readers are served changed)
        # Told, for each stored value, how long after the first change it covers was announced (s): the read
        # path's freshness inside this process (announced → recomputed and served), interval waits included.
        self._on_fresh = on_fresh
        self._stale_since: dict[K, float] = {}
        self._max_age_s = max_age_s
        self._clock = clock
        # Recomputations nobody waits for (eager ones, and those a reader of a stale value starts) run at most once
        # per this interval per key: a back-fill commits a batch many times a second, and a table recomputed after
        # each would cost more than applying the batches.
        self._background_interval_s = background_interval_s
        # ... and, for a key whose recomputation took d seconds, at most once per LOAD_FACTOR × d: when commits
        # come faster than a table is recomputed (a back-fill, a busy machine), the refreshes are coalesced so
        # that they take at most about 1 / (1 + LOAD_FACTOR) of the time, and readers keep the rest of the CPU.
        self._last_took: dict[K, float] = {}
        self._last_started: dict[K, float] = {}
        self._delayed: dict[K, asyncio.TimerHandle] = {}
        # Keys readers asked for lately: only those are recomputed eagerly (nobody reading, nothing to precompute).
        self._last_read: dict[K, float] = {}
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

    def clear(self) -> None:
        """Forget every value (a registry change: a table built on the old registry must not be served, even
        while a new one is computed); readers then wait for a fresh computation."""
        self._epoch += 1
        self._entries.clear()

    def invalidate(self, keys: Iterable[K] | None = None, *, eager: bool = True) -> None:
        """Mark keys (None: every key) as changed; with `eager`, recompute those already computed now."""
        if keys is None:
            self._epoch += 1
            touched = list(self._entries)
        else:
            touched = list(keys)
            for key in touched:
                self._versions[key] = self._versions.get(key, 0) + 1
        now = asyncio.get_running_loop().time()
        for key in touched:
            self._stale_since.setdefault(key, now)
        if eager:
            for key in touched:
                if key in self._entries and now - self._last_read.get(key, float("-inf")) < HOT_S:
                    self._schedule(key)

    async def get(self, key: K, *, wait: bool = False, reader: bool = True) -> V:
        """The value for `key` as of the last change. A key readers asked for within `HOT_S` is served stale while
        it is recomputed (it is recomputed eagerly on every change anyway); any other stale key is computed now, so
        a read never returns figures older than a change that happened before it unless the key is hot.
        `reader`: a request asked (keeps the key hot); False for warm-ups."""
        now = asyncio.get_running_loop().time()
        hot = now - self._last_read.get(key, float("-inf")) < HOT_S
        if reader and not wait:
            self._last_read[key] = now
        entry = self._entries.get(key)
        if entry is not None and self._current(key, entry):
            return entry.value
        if entry is not None and not wait and hot:
            self._schedule(key)
            return entry.value
        return await asyncio.shield(self._refresh(key, follow_up=False))

    def _schedule(self, key: K) -> None:
        """A background recomputation of `key`, now or when its interval has passed (one pending at a time)."""
        if key in self._running or key in self._delayed:
            return  # a running one re-runs if it ends stale; a delayed one will run
        loop = asyncio.get_running_loop()
        gap = max(self._background_interval_s, LOAD_FACTOR * self._last_took.get(key, 0.0))
        wait = self._last_started.get(key, float("-inf")) + gap - loop.time()
        if self._budget is not None:
            wait = max(wait, self._budget.wait_s())
        if wait <= 0:
            self._refresh(key, follow_up=True)
        else:
            self._delayed[key] = loop.call_later(wait, self._run_delayed, key)

    def _run_delayed(self, key: K) -> None:
        self._delayed.pop(key, None)
        entry = self._entries.get(key)
        if entry is None or not self._current(key, entry):
            self._refresh(key, follow_up=True)

    def _refresh(self, key: K, *, follow_up: bool) -> asyncio.Task[V]:
        target = self._target(key)
        running = self._running.get(key)
        if running is not None and (running[0] >= target or follow_up):
            return running[1]  # a stale one re-runs when it ends (see _run)
        loop = asyncio.get_running_loop()
        self._last_started[key] = loop.time()
        task = loop.create_task(self._run(key, target, background=follow_up), name=f"refresh-{key}")
        task.add_done_callback(_log_failure)  # eager refreshes have no reader; a reader awaiting one still gets it
        self._running[key] = (target, task)
        return task

    async def _run(self, key: K, target: int, *, background: bool = False) -> V:
        # Its CPU work waits for the budget's background turn or not (refresh_budget.py) — said either way: the task
        # copied the context of whoever started it, a background refresh's reading of another key included.
        mark_background(background)
        stale_since = self._stale_since.pop(key, None)  # what this computation will cover (it reads after now)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            value = await self._compute(key)
            self._last_took[key] = loop.time() - started
        except BaseException:
            if stale_since is not None:
                self._stale_since.setdefault(key, stale_since)  # still not covered
            raise
        finally:
            if (running := self._running.get(key)) is not None and running[1] is asyncio.current_task():
                del self._running[key]
        current = self._entries.get(key)
        if current is None or current.version <= target:
            self._entries[key] = _Entry(value, target, self._clock())
            # The same object again (recomputed, nothing changed: ScoringReader keeps it): readers are served what
            # they were, so their token stays and nothing built from it is rebuilt.
            if self._on_store is not None and (current is None or current.value is not value):
                self._on_store()
            if stale_since is not None and self._on_fresh is not None:
                self._on_fresh(asyncio.get_running_loop().time() - stale_since)
        if self._target(key) > target:  # invalidated while computing
            self._schedule(key)
        return value


def _log_failure(task: asyncio.Task[object]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        if (error := task.exception()) is not None:
            log.warning("refreshing a read table failed: %s", error)
