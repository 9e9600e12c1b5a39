"""Garbage-collector tuning for the consumer's hot path."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator


class PausedSections:
    """The cyclic collector paused while any section is open, switched on again when the LAST one closes.

    Sections overlap: the once-a-second dead-letter re-drive opens one while a batch awaits
    PostgreSQL, and a batch may start while the re-drive awaits. Paused by whoever came first and resumed by
    whoever left first, the collector ran in the middle of batches — each collection then traversing the batch's
    hundreds of thousands of live objects (py-spy of an applying process during scoring_bench, issue 14: 17 % of
    its samples in `gc_collect_main`, two thirds of them inside a batch). Counting the open sections closes that.

    When the last section ends, the young generations are collected once and what survives is frozen (gc.freeze):
    between batches aiokafka builds the next batch's record objects with the collector on, and each full collection
    then traversed everything long-lived again (the registry, the read tables, the previous batch's records still
    referenced) — 4 % of the process's samples after the fix above, all in aiokafka's record building. Frozen
    objects are still freed by reference counting; a garbage cycle frozen while alive is found by the full
    collection made every `unfreeze_s`, everything unfrozen first (as gc_pauses.FreezeAfterChanges does for the
    read tables of a reading process).
    """

    def __init__(self, unfreeze_s: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._open = 0
        self._owned = False  # whether the first section paused it (else someone outside did: left to them)
        self._unfreeze_s = unfreeze_s
        self._clock = clock
        self._frozen_since = clock()

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        if self._open == 0:
            self._owned = gc.isenabled()
            gc.disable()
        self._open += 1
        try:
            yield
        finally:
            self._open -= 1
            if self._open == 0 and self._owned:
                try:
                    self._freeze_survivors()
                finally:
                    gc.enable()

    def _freeze_survivors(self) -> None:
        now = self._clock()
        if now - self._frozen_since > self._unfreeze_s:
            gc.unfreeze()
            gc.collect()  # cycles that became garbage while frozen
            self._frozen_since = now
        else:
            gc.collect(1)  # the young generations only: what the sections made and is garbage already
        gc.freeze()

    @property
    def open_sections(self) -> int:
        return self._open


# One per process: the collector is process-wide, so every applier of the process (tests build several) shares it.
BATCH_SECTIONS = PausedSections()


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is applied (process-wide, see PausedSections).

    A batch allocates about a million short-lived container objects (decoded events, states, contribution keys)
    that form no reference cycles and are freed by reference counting. Left on, the collector would traverse them
    again and again — measured at about half of the consumer's CPU time (bench/scoring_hotpath.py). Garbage cycles
    made meanwhile (asyncio internals) are simply collected after the batch.
    """
    with BATCH_SECTIONS():
        yield
