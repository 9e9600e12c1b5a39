"""How long the cyclic garbage collector stops the process (gc.callbacks), by generation: the read path's tail.

A cached read costs ~0.2 ms of CPU, yet some requests wait tens to hundreds of milliseconds (docs/benchmarks.md).
One cause inside the API process is a full (generation 2) collection: it traverses every tracked object — the
registry, the read tables, the rankings' item dicts — while the event loop and the threads wait. This measures each
collection into a histogram, so a stall can be told from CPU contention; `freeze_long_lived` takes the objects that
live as long as the process (built at start) out of every later collection.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5)


class GcPauses:
    """Observes every collection's duration (perf_counter between gc's start and stop callbacks)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.seconds = Histogram(
            "tthc_scoring_gc_pause_seconds",
            "Time the cyclic garbage collector held the process, per collection, by generation",
            ["generation"],
            buckets=BUCKETS,
            registry=registry,
        )
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds.labels(generation=str(info["generation"])).observe(time.perf_counter() - self._started)

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)


def freeze_long_lived() -> None:
    """Collect once, then move every object alive now out of the collector's reach (gc.freeze): what was built at
    start — modules, the registry, the warmed tables — is never traversed again by a collection. Objects made later
    are collected as before; the frozen ones are still freed by reference counting when dropped."""
    gc.collect()
    gc.freeze()


class FreezeAfterChanges:
    """Keeps the read tables out of the collector's reach in a process that serves readers.

    Each refresh of the read tables allocates hundreds of thousands of container objects (a level's figures, the
    rankings' item dicts) that live until the next refresh; promoted to the oldest generation, they make every full
    collection traverse all of them: 22 full collections of 127 ms on average (wall) in two minutes of readers
    with the live feed, and generation-1 collections of 12 ms (docs/benchmarks.md). So after the tables changed,
    the young generations are collected (garbage cycles among new objects go now) and the survivors frozen: later
    collections traverse only what was made since. Frozen objects are still freed by reference counting when a
    table is replaced; a cycle that becomes garbage after it was frozen would only be found after `unfreeze_s`,
    when everything is handed back to the collector once (one full collection's pause per that interval).
    """

    def __init__(self, unfreeze_s: float = 600.0, busy: Callable[[], bool] = lambda: False) -> None:
        self._unfreeze_s = unfreeze_s
        # While `busy()` (a batch is being applied: adapters/gc.BATCH_SECTIONS open), a step does nothing. Its
        # collection would traverse every object the batch holds — the collector is paused during a batch, so they
        # all sit in the young generation — and, in a process that both applies and serves readers, that was ≈ 19 %
        # of its busy samples during a back-fill (docs/benchmarks.md, session 9). The batch's end collects the young
        # generations and freezes the survivors itself, read tables made meanwhile included.
        self._busy = busy
        self._seen: object = None
        self._frozen_at = time.monotonic()

    def step(self, version: object) -> None:
        """Called periodically with the tables' version (ScoringReader.generation); a step made while busy is
        skipped, and the version is looked at again at the next step."""
        if self._busy():
            return
        if time.monotonic() - self._frozen_at > self._unfreeze_s:
            gc.unfreeze()
            self._frozen_at = time.monotonic()
        if version != self._seen:
            self._seen = version
            gc.collect(1)
            gc.freeze()
