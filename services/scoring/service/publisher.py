"""Publishes `unit-indicators`: after applied batches, one message per changed unit, coalesced.

Batches mark the units they touched; a single task wakes up, waits until at least `interval_s` (and twice the last
run's duration) has passed since its last run (so a burst of batches becomes one message per unit), computes each
dirty unit's current-month figures and publishes them keyed by unit_id. A unit touched again while publishing is
picked up by the next run.

While the applied batches are catching up (domain/catch_up.py) the messages say `catching_up`; when a batch
shows the process has caught up, every unit published in that state is published again, so the alerts service
gets each unit's settled figures at once instead of at the unit's next change. While catching up, publications are
at least CATCHING_UP_INTERVAL_S, and CATCHING_UP_LOAD_FACTOR times the last one's duration, apart (each reads the live
figures over every open dossier).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import datetime

from services.scoring.domain.timebase import month_label
from services.scoring.service.periods import current_month, resolve_period
from services.scoring.service.read_model import Indicators
from services.scoring.service.read_ports import MessagePublisher
from services.scoring.service.read_views import indicators_view
from services.scoring.service.reading import ScoringReader
from shared.indicators import UnitIndicators

log = logging.getLogger(__name__)

# Two publications start at least this many times the last one's duration apart (as read_cache.LOAD_FACTOR does for
# the API's tables): each reads the live figures over every open dossier, so when batches commit continuously (a
# back-fill, a busy machine) a short interval would keep this process and PostgreSQL publishing most of the time.
# With the live feed a publication takes tens of ms and the interval rules.
PUBLISH_LOAD_FACTOR = 2.0
# While the applied batches are catching up (a back-fill, a replay after an outage: events ingested long ago), two
# publications start at least this many seconds apart. Each reads the live figures over EVERY open dossier (a scan
# that grows with the open set: tenths of a second of PostgreSQL at 100 k open dossiers, docs/benchmarks.md), and
# the messages only say "catching up" (the alerts hold their growth rules on them); the settled figures follow at
# once when a batch shows the process has caught up. A batch of fresh events is not catching up, so live traffic
# keeps INDICATORS_INTERVAL_S (0.1 s in the stack) even while a back-fill runs beside it.
CATCHING_UP_INTERVAL_S = 2.0
# ... and at least this many times the last publication's duration apart: a budget of ≈ 1/20 of the time (5 % of a
# core, more with the query's parallel workers) whatever a publication costs. The live figures' read is an index-only
# scan of the open dossiers (migration 0012), but during a back-fill the open dossiers' index entries churn (every
# non-HOT update adds one, dead until the next vacuum) and the planner may fall back to scanning the whole table, whose
# pages grow with every dossier ever received: with a fixed 2 s, PostgreSQL's CPU per event then grew with the table
# (22 → 38 µs from the 1st to the 5th million, docs/benchmarks.md); with this factor the publications' share of the
# machine stays flat, and their spacing grows instead (≈ 5 s at 250 ms a publication).
CATCHING_UP_LOAD_FACTOR = 20.0
# ... but never more than this apart: `took` is wall time (a batch computed on the same loop or a stalled database
# lengthens it), and a catching-up dashboard should still move at least twice a minute.
CATCHING_UP_MAX_SPACING_S = 30.0


class IndicatorsPublisher:
    def __init__(
        self,
        reader: ScoringReader,
        sink: MessagePublisher,
        interval_s: float,
        catching_up_interval_s: float = CATCHING_UP_INTERVAL_S,
        catching_up_load_factor: float = CATCHING_UP_LOAD_FACTOR,
        catching_up_max_spacing_s: float = CATCHING_UP_MAX_SPACING_S,
    ) -> None:
        self._reader = reader
        self._sink = sink
        self._interval_s = interval_s
        self._catching_up_interval_s = catching_up_interval_s
        self._catching_up_load_factor = catching_up_load_factor
        self._catching_up_max_spacing_s = catching_up_max_spacing_s
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._caught_up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.catching_up = False
        self._published_catching_up: set[str] = set()
        self.settled = asyncio.Event()
        """Set by the first batch that is not catching up (domain/catch_up.py): the figures now move with time,
        not with a backlog being applied (what an applying process waits for before warming its read tables)."""

    def mark(
        self, unit_ids: Iterable[str], months: Iterable[str] | None = None, *, catching_up: bool | None = None
    ) -> None:
        """After a committed batch: these units' figures changed, in these months (None: any month).
        `catching_up` is the batch's state (None: unchanged, e.g. a re-driven dead letter)."""
        self._reader.figures_changed(months)
        before = len(self._dirty)
        self._dirty.update(unit_ids)
        if catching_up is False:
            self.settled.set()
        if catching_up is not None and catching_up != self.catching_up:
            self.catching_up = catching_up
            if not catching_up:  # caught up: the units last published as catching up get their settled figures
                self._dirty |= self._published_catching_up
                self._published_catching_up = set()
                self._caught_up.set()  # and without the catching-up interval's wait
        if len(self._dirty) != before:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="unit-indicators-publisher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            started = loop.time()
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            try:
                await self.publish_units(sorted(dirty))
            except Exception:
                log.exception("publishing unit-indicators failed; will retry")
                self.mark(dirty)
            await self._rest(started, loop.time() - started)

    async def _rest(self, started: float, took: float) -> None:
        """Until the next publication may start: `interval_s` or twice the last one's duration after it started,
        and while catching up `catching_up_interval_s` or `catching_up_load_factor` times the last one's duration —
        cut short when a batch shows the process caught up."""
        loop = asyncio.get_running_loop()
        if self.catching_up:
            self._caught_up.clear()
            spacing = max(
                self._catching_up_interval_s, min(self._catching_up_max_spacing_s, self._catching_up_load_factor * took)
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._caught_up.wait(), max(0.0, started + spacing - loop.time()))
        await asyncio.sleep(max(0.0, started + max(self._interval_s, PUBLISH_LOAD_FACTOR * took) - loop.time()))

    async def publish_units(self, unit_ids: list[str]) -> None:
        """One message per unit, computed level by level: two statements per level instead of several per unit."""
        reader = self._reader
        catching_up = self.catching_up  # the state of the batches applied before the figures are read
        snapshot = await reader.live_snapshot(fresh=True)
        now = snapshot.now
        period = resolve_period(None, now)
        previous = resolve_period(month_label(current_month(now) - 1), now)
        by_level: dict[str, list[str]] = {}
        for unit_id in unit_ids:
            unit = reader.directory.registry.get(unit_id)
            if unit is not None:
                by_level.setdefault(str(unit.level), []).append(unit_id)
        # Sent together once every message is built: one produce request per partition rather than one per unit
        # (each of which the broker, and every process relaying the topic, handled apart).
        messages: list[tuple[str, bytes]] = []
        for level, members in by_level.items():
            table = await reader.level_table(level, period, fresh=True, live=snapshot)
            _, previous_details = await reader.level_table(level, previous)
            for unit_id in members:
                unit = reader.directory.registry.get(unit_id)
                if unit is None or unit_id not in table.details or table.details[unit_id].ranked is None:
                    continue  # unknown, or retired before this month: it has no current figures to publish
                figures = indicators_view(unit, period, table, snapshot)
                previous_figures = previous_details.get(unit_id)
                message = build_message(
                    figures,
                    reader.directory.view.chain(unit_id)[1:],
                    previous_figures.card.score if previous_figures else None,
                    now,
                    catching_up=catching_up,
                )
                messages.append((unit_id, message.model_dump_json().encode()))
        if messages:
            await self._sink.publish(messages)
            self.published += len(messages)
        if catching_up:
            sent = {unit_id for unit_id, _ in messages}
            if self.catching_up:
                self._published_catching_up |= sent
            else:  # caught up while these were being published: publish them again, settled
                self.mark(sent)


MESSAGE_FIELDS = frozenset(
    {"unit_id", "name", "level", "period", "counters", "rates", "live", "score", "rank", "rank_of"}
)
"""What the message takes of a unit's indicators as the API shows them."""


def build_message(
    figures: Indicators,
    ancestors: Iterable[str],
    previous_score: float | None,
    now: datetime,
    *,
    catching_up: bool = False,
) -> UnitIndicators:
    """The `unit-indicators` message of a unit's current figures: the API's counters, rates and live counters
    (the same models), with its ancestors and the previous month's score for the alert rules. Validated: the
    message is a contract with the alerts service (shared/indicators.py)."""
    fields = figures.model_dump(include=MESSAGE_FIELDS)
    return UnitIndicators.model_validate(
        {
            **fields,
            "ancestors": list(ancestors),
            "previous_score": previous_score,
            "computed_at": now,
            "catching_up": catching_up,
        }
    )
