"""Whether an applied batch was catching up: its events were ingested long before they were applied.

A back-fill written as a trusted replay (its `ingested_at` in the past), the topic replayed from an earlier
offset, or the backlog left by an outage all make the live counters move with the data arriving rather than with
time. The `unit-indicators` messages published meanwhile say so (`catching_up`), and the alerts service takes no
growth samples from them (docs/alerts.md §2.1). The batch's NEWEST `ingested_at` decides: a batch that reaches
data ingested a moment ago has caught up, whatever older records it also holds (late-synced events are normal
traffic, judged by `occurred_at`, not by this).
"""

from __future__ import annotations

from collections.abc import Iterable

from services.scoring.domain.timebase import SECOND_US, Instant

CATCHING_UP_AFTER_S = 300.0
"""Default bound: live traffic is applied within seconds of its ingestion; five minutes behind is a backlog."""


def newest_ingested_at(ingested: Iterable[Instant]) -> Instant | None:
    """The latest ingestion instant of a batch's events; None for a batch without events."""
    return max(ingested, default=None)


def is_catching_up(newest: Instant | None, now: Instant, after_s: float) -> bool | None:
    """True when the newest event of the batch was ingested more than `after_s` before `now`; None when the batch
    held no event (it says nothing either way)."""
    if newest is None:
        return None
    return now - newest > after_s * SECOND_US
