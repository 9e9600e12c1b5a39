"""Garbage-collector tuning for the consumer's hot path."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is applied.

    A batch allocates about a million short-lived container objects (decoded events, states, contribution keys)
    that form no reference cycles and are freed by reference counting. Left on, the collector would traverse them
    again and again — measured at about half of the consumer's CPU time (bench/scoring_hotpath.py). Garbage cycles
    made meanwhile (asyncio internals) are simply collected after the batch.
    """
    with _paused(lambda: None):
        yield


@contextlib.contextmanager
def _paused(after: Callable[[], None]) -> Iterator[None]:
    """The collector off inside; `after` runs before it is switched on again."""
    if not gc.isenabled():  # someone else paused it: leave it to them
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        try:
            after()
        finally:
            gc.enable()


class PausedThenFrozen:
    """The applying process's hot section: the collector paused during a batch (as `cyclic_gc_paused`), then the
    young generations collected once and what survives frozen (gc.freeze).

    What survives a batch lives long: the dossiers kept in memory (adapters/dossier_cache.py), the registry, the
    read tables. Left to the collector, every full collection traversed all of them again — between batches, while
    aiokafka builds the next 40,000 record objects with the collector on: gen2 pauses of about a second each and
    gen1 pauses of tens of milliseconds in a 300 k-event run (tthc_scoring_gc_pause_seconds, docs/benchmarks.md).
    Frozen objects are still freed by reference counting (an evicted dossier, a replaced table); a garbage cycle
    frozen while alive is only found by the full collection made every `unfreeze_s`, everything unfrozen.

    Sections overlap (the once-a-second dead-letter re-drive runs while a batch awaits PostgreSQL): the collector
    stays paused until the last one ends, and only then are the survivors collected and frozen — never a batch's
    objects while it is still applying them.
    """

    def __init__(self, unfreeze_s: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._unfreeze_s = unfreeze_s
        self._clock = clock
        self._frozen_since = clock()
        self._active = 0

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        if self._active == 0 and not gc.isenabled():  # someone else paused it: leave it to them
            yield
            return
        self._active += 1
        gc.disable()
        try:
            yield
        finally:
            self._active -= 1
            if self._active == 0:
                try:
                    self._freeze_survivors()
                finally:
                    gc.enable()

    def _freeze_survivors(self) -> None:
        now = self._clock()
        if now - self._frozen_since > self._unfreeze_s:
            gc.unfreeze()
            gc.collect()  # one full collection per interval: cycles that became garbage while frozen go
            self._frozen_since = now
        else:
            gc.collect(1)  # cycles among the objects made since the last freeze go now (the batch's own: a few)
        gc.freeze()


# One per process: the collector is process-wide, so every applier of the process (tests build several) shares the
# count of active sections and the unfreeze interval.
BATCH_SECTIONS = PausedThenFrozen()
