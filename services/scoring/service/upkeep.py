"""After a back-fill: the dossiers table vacuumed and analysed once, so the live figures are an index-only scan.

The live figures (every `unit-indicators` publication, every read table's live snapshot) read the open dossiers
through the open-dossier index (migration 0012). That read is index-only only for the heap pages the visibility map
marks all-visible, which only VACUUM does; and the planner chooses it only with statistics of the table as it is.
A back-fill rewrites most pages and may end under autovacuum's thresholds (20 % of the table changed; a large
table's last fifth of a back-fill does not reach it, and autovacuum visits a database at most once a minute), and
then every live read until the next autovacuum — days away at live traffic's pace — paid a sequential scan of the
whole table or a heap fetch per open dossier (1.5 s a read after a 5 M-event back-fill; 20-30 ms once vacuumed; issue
14, helpers "live" of session 9 and "pg" of session 10 in docs/benchmarks.md).

So an applying process that applied batches catching up (domain/catch_up.py) and then either caught up (a batch of
fresh events) or found nothing more to apply for `idle_s` runs VACUUM (ANALYZE) of `dossiers` — once per such
back-fill, once the whole group is done with it (fewer than `quiet_rows` rows of the table written in the last
`idle_s`, by any process: the other applying process may still be catching up on its partitions), and only when
enough rows changed since the table's last vacuum (whoever ran it: the other applying process, autovacuum): a second
process finding the table just vacuumed does nothing, and one finding it being vacuumed skips it (SKIP_LOCKED).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from services.scoring.service.ports import TableUpkeep

log = logging.getLogger(__name__)
IDLE_S = 5.0
"""No batch applied for this long after batches catching up: the back-fill has drained."""
MIN_CHANGED_ROWS = 1_000
"""Rows inserted or left dead since the table's last vacuum below which a vacuum is not worth its passes. Low on
purpose: an autovacuum that ran near the end of a back-fill leaves the pages written after it not all-visible with
few dead rows counted (pruning takes them off the count): 9,956 dead rows, 10,837 pages not all-visible and 35,768
heap fetches a live read after a 5 M back-fill."""
MAX_TRIES = 6
"""VACUUMs skipped (SKIP_LOCKED) or failed before a back-fill's upkeep is left to autovacuum (≈ 1 min of retries)."""
QUIET_ROWS = 1_000
"""Rows of the table written (inserted, updated) in the last `idle_s` by every process together under which the
back-fill is over: live traffic writes a few a second, a back-fill thousands."""


@dataclass
class BatchActivity:
    """What the applier records of the batches it applies (service/apply_batch.py), read by the upkeep step."""

    catching_up_batches: int = 0
    """Batches applied so far whose newest event was ingested long ago."""
    last_batch_at: float | None = None
    """`time.monotonic()` when the last batch was applied."""
    catching_up: bool | None = None
    """The last batch's state (None: it held no event)."""

    def batch_applied(self, catching_up: bool | None, now: float) -> None:
        self.last_batch_at = now
        if catching_up is not None:
            self.catching_up = catching_up
        if catching_up:
            self.catching_up_batches += 1


class UpkeepAfterCatchingUp:
    """The timer's step: VACUUM (ANALYZE) of the dossiers once a back-fill has caught up or drained."""

    def __init__(
        self,
        upkeep: TableUpkeep,
        activity: BatchActivity,
        *,
        idle_s: float = IDLE_S,
        min_changed_rows: int = MIN_CHANGED_ROWS,
        quiet_rows: int = QUIET_ROWS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._upkeep = upkeep
        self._activity = activity
        self._idle_s = idle_s
        self._min_changed_rows = min_changed_rows
        self._quiet_rows = quiet_rows
        self._clock = clock
        self._handled = 0
        self._tries = 0
        self._next_try_at = 0.0
        self._written: deque[tuple[float, int]] = deque()
        """(when, rows of the table written so far) while waiting for the group to be done."""

    async def step(self) -> bool:
        """True when it vacuumed the table."""
        activity = self._activity
        if activity.catching_up_batches == self._handled or activity.last_batch_at is None:
            return False  # no back-fill since the last time
        now = self._clock()
        drained = now - activity.last_batch_at >= self._idle_s
        if not (drained or activity.catching_up is False):
            self._written.clear()
            return False
        if now < self._next_try_at or not await self._group_done(now):
            return False
        changed = await self._upkeep.dossiers_changed_since_vacuum()
        if changed < self._min_changed_rows:
            self._done()  # vacuumed meanwhile (the other process, autovacuum), or too little to do
            return False
        started = self._clock()
        try:
            vacuumed = await self._upkeep.vacuum_dossiers()
        except Exception:
            self._failed(now, "failed")
            raise
        if not vacuumed:  # SKIP_LOCKED: another session held the table (an autovacuum, the other process)
            self._failed(now, "skipped: another session held the table")
            return False
        log.info("back-fill %s: dossiers vacuumed and analysed (%d rows changed since the last vacuum) in %.1f s",
                 "drained" if drained else "caught up", changed, self._clock() - started)  # fmt: skip
        self._done()
        return True

    def _done(self) -> None:
        self._handled = self._activity.catching_up_batches
        self._written.clear()
        self._tries, self._next_try_at = 0, 0.0

    def _failed(self, now: float, why: str) -> None:
        """Try again after 2, 4, 8 … s (the table is re-checked first: a vacuum by another session ends it); after
        MAX_TRIES, leave it to autovacuum for this back-fill."""
        self._tries += 1
        if self._tries >= MAX_TRIES:
            log.warning("back-fill: VACUUM of the dossiers %s, %d times; left to autovacuum", why, self._tries)
            self._done()
        else:
            log.info("back-fill: VACUUM of the dossiers %s; trying again", why)
            self._next_try_at = now + 2.0**self._tries

    async def _group_done(self, now: float) -> bool:
        """Fewer than `quiet_rows` rows written to the table over the last `idle_s` (the statistics are at most
        about a second late)."""
        written = self._written
        written.append((now, await self._upkeep.dossiers_written()))
        while len(written) > 1 and written[1][0] <= now - self._idle_s:
            written.popleft()
        then, before = written[0]
        return now - then >= self._idle_s and written[-1][1] - before < self._quiet_rows
