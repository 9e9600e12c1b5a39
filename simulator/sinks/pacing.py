"""Batching and pacing: as fast as possible, or in real time (an event goes out when the wall clock reaches its
simulated delivery time; in real-time mode the simulated clock *is* the wall clock)."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable

from simulator.sinks.base import Sink, SinkResult
from simulator.stream import Delivery


class Pacer:
    """`realtime=False`: never waits. `realtime=True`: waits until the wall clock reaches each delivery time."""

    def __init__(self, realtime: bool, clock: Callable[[], float] = time.time) -> None:
        self.realtime = realtime
        self._clock = clock

    def seconds_until(self, deliver_at: int) -> float:
        return max(0.0, deliver_at - self._clock()) if self.realtime else 0.0


async def paced_batches(
    deliveries: Iterable[Delivery], pacer: Pacer, max_size: int, max_wait: float = 0.25
) -> AsyncIterator[list[Delivery]]:
    """Groups deliveries into batches of ≤ max_size; in real time a batch also closes when the next event is due
    later and the batch has waited `max_wait` seconds, so events go out at most that much behind schedule."""
    batch: list[Delivery] = []
    opened = time.monotonic()
    for delivery in deliveries:
        wait = pacer.seconds_until(delivery.deliver_at)
        if wait > 0:
            if batch and (wait >= max_wait or time.monotonic() - opened >= max_wait):
                yield batch
                batch = []
            await asyncio.sleep(wait)
        if not batch:
            opened = time.monotonic()
        batch.append(delivery)
        if len(batch) >= max_size:
            yield batch
            batch = []
        elif not pacer.realtime and len(batch) % 1000 == 0:
            await asyncio.sleep(0)  # let concurrent senders progress while we generate
    if batch:
        yield batch


async def run(
    deliveries: Iterable[Delivery],
    sink: Sink,
    pacer: Pacer,
    batch_size: int,
    progress_every: float = 10.0,
    log: Callable[[str], None] | None = None,
) -> SinkResult:
    """Feeds a sink until the stream ends (or the task is cancelled); always closes the sink."""
    say = log or (lambda line: print(line, file=sys.stderr))
    started = last = time.monotonic()
    try:
        async for batch in paced_batches(deliveries, pacer, batch_size):
            await sink.send(batch)
            now = time.monotonic()
            if now - last >= progress_every:
                last = now
                say(
                    f"simulator: {sink.result.sent} events sent in {now - started:.0f} s "
                    f"({sink.result.sent / (now - started):.0f}/s; {sink.result.accepted} accepted, "
                    f"{sink.result.rejected} rejected), last delivery {batch[-1].event['occurred_at']}"
                )
    finally:
        await sink.close()
    return sink.result
