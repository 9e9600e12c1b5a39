"""Retention of the delivery bookkeeping: which finished group messages may go, and in what bites.

Only bookkeeping of finished deliveries is ever removed (`alert_deliveries` rows that are `delivered` or `dead`,
and the `alert_outbox` rows that point at them). Notifications and transitions stay: the API, the event stream
and the closing of a removed rule's alerts read them, and a notification row is what keeps a replayed step from
queueing the same notification twice (its outbox rows are written only when the notification is new).

Deleting in chunks, each its own short transaction, keeps locks brief: the sender and the planner never wait
behind one long purge, and a large backlog (the first pass after an upgrade) is spread over several passes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Purged:
    messages: int = 0  # alert_deliveries rows
    outbox_rows: int = 0  # alert_outbox rows that pointed at them

    def __add__(self, other: Purged) -> Purged:
        return Purged(self.messages + other.messages, self.outbox_rows + other.outbox_rows)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    max_age: timedelta
    chunk_size: int = 500
    # Per pass: past this many chunks the pass stops and asks to run again soon, so one pass never monopolises
    # the pool or the loop it runs in.
    max_chunks: int = 50

    def __post_init__(self) -> None:
        if self.max_age <= timedelta(0) or self.chunk_size < 1 or self.max_chunks < 1:
            raise ValueError("retention needs a positive age, chunk size and chunk count")

    def cutoff(self, now: datetime) -> datetime:
        """Messages finished (delivered or given up) before this instant are purged."""
        return now - self.max_age


DeleteChunk = Callable[[datetime, int], Awaitable[Purged]]


@dataclass(frozen=True, slots=True)
class PassResult:
    purged: Purged
    more: bool  # stopped at max_chunks with full chunks: more is probably waiting


async def purge_finished(policy: RetentionPolicy, now: datetime, delete_chunk: DeleteChunk) -> PassResult:
    """Delete chunk after chunk until a chunk comes back short (nothing older left) or the pass budget is spent.
    The cutoff is fixed for the whole pass, so a pass always ends."""
    cutoff = policy.cutoff(now)
    total = Purged()
    for _ in range(policy.max_chunks):
        chunk = await delete_chunk(cutoff, policy.chunk_size)
        total += chunk
        if chunk.messages < policy.chunk_size:
            return PassResult(total, more=False)
    return PassResult(total, more=True)
