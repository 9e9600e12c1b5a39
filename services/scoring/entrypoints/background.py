"""The scoring service's timers: each step takes the container and calls a use case (started by app.py).

- the month roll-over (open dossiers counted in the new month once it starts);
- the registry follower (a renamed, moved, merged or retired unit reaches this process's figures);
- pending dead letters (records that named a unit before it was registered) applied once the unit exists (SPEC §1:
  exactly once, automatically);
- the read tables' warm-up, once at start (in an applying process, once its batches stop catching up), then the
  long-lived objects frozen out of the collector's reach;
- the dossiers table vacuumed and analysed once a back-fill has caught up or drained (service/upkeep.py).

Which run depends on the process's role (SCORING_ROLE): the roll-over, the pending dead letters and the upkeep
after a back-fill are applying, so only processes that apply run them; an `api` process follows the registry for
its read tables only (the applying processes publish the units' new figures) and warms its tables; a `consumer`
process does not warm tables nobody reads there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from services.scoring.adapters.gc import BATCH_SECTIONS
from services.scoring.adapters.gc_pauses import FreezeAfterChanges, freeze_long_lived
from services.scoring.adapters.metrics import METRICS
from services.scoring.bootstrap import Container
from services.scoring.domain.timebase import month_end, month_of, to_datetime, to_instant
from services.scoring.service.upkeep import IDLE_S
from shared.outages import DependencyState, is_database_outage

log = logging.getLogger(__name__)
ROLL_OVER_CHECK_S = 60.0
# Past a month's start, the roll-over check runs this soon rather than up to ROLL_OVER_CHECK_S later.
ROLL_OVER_AFTER_MONTH_START_S = 0.05
# How soon a registry change reaches this process's figures; a batch that names a unit this process does not know
# yet reads the registry at once (adapters/units.py).
REGISTRY_SYNC_S = 2.0
# How often pending dead letters are checked for a unit that now exists, and applied.
REDRIVE_PENDING_S = 1.0
# How often an applying process that serves readers looks whether its batches have drained (the warm-up's wait).
SETTLED_CHECK_S = 1.0
# How often a reading process freezes the read tables built since (adapters/gc_pauses.py): each check collects the
# young generations once (a few ms) instead of letting the collector traverse every table again and again.
FREEZE_CHECK_S = 1.0
# How often an applying process looks whether a back-fill it applied has caught up or drained (service/upkeep.py).
UPKEEP_CHECK_S = 1.0

Step = Callable[[Container], Awaitable[None]]


def roll_over_delay(now: datetime) -> float:
    """Seconds until the next roll-over check: every ROLL_OVER_CHECK_S, and right after a month starts. Until the
    roll-over has counted the open dossiers in the new month, its progress holds only the dossiers already rolled
    (domain/live.py, bounded_progress_correction): that window is then the roll-over's own duration."""
    next_month_start = to_datetime(month_end(month_of(to_instant(now))))
    return min(ROLL_OVER_CHECK_S, (next_month_start - now).total_seconds() + ROLL_OVER_AFTER_MONTH_START_S)


async def roll_over(container: Container) -> None:
    rolled = await container.applier.roll_over_open_dossiers()
    if rolled:
        log.info("rolled %d open dossiers into the new month", rolled)


async def follow_registry(container: Container) -> None:
    if await container.directory.load():
        container.reader.figures_changed()  # names, the tree and successors may all have changed
        if container.applies:  # the applying processes publish; an api process would only duplicate them
            container.publisher.mark(unit.unit_id for unit in container.directory.registry)


async def redrive_pending(container: Container) -> None:
    report = await container.applier.redrive(pending_only=True)
    if report.applied:
        container.publisher.mark(report.touched_units, report.months)


async def upkeep_after_catching_up(container: Container) -> None:
    await container.upkeep.step()


async def warm_up_then_freeze(container: Container) -> None:
    """The read tables computed, then everything alive taken out of later collections (adapters/gc_pauses.py):
    a full collection no longer traverses the registry and the start-up objects while readers wait; then, every
    FREEZE_CHECK_S, the tables made since are (FreezeAfterChanges).

    A process that also applies warms them once its batches stop catching up (the publisher's `settled`): while it
    applies a back-fill or a backlog, every batch changes the figures of the tables warmed at start, and computing
    13 months of every level and the freeze took ≈ 0.45-0.6 s of CPU per process from the catch-up (docs/benchmarks.md,
    session 10 "startup"). A reader meanwhile gets a table computed when first asked (service/read_cache.py):
    the same figures, without the head start."""
    if container.applies:
        await settled_or_drained(container)
    await container.reader.warm_up()
    freeze_long_lived()
    freezer = FreezeAfterChanges(busy=lambda: BATCH_SECTIONS.open_sections > 0)  # a batch freezes at its end
    while True:
        await asyncio.sleep(FREEZE_CHECK_S)
        freezer.step(container.reader.generation)


async def settled_or_drained(
    container: Container, idle_s: float = IDLE_S, clock: Callable[[], float] = time.monotonic
) -> None:
    """Until this process's batches stop catching up: a batch of fresh events (the publisher's `settled`), or no batch
    applied for `idle_s` — a back-fill that drained with no live traffic behind it, or an empty topic. FastStream
    never hands the handler an empty batch, so without the second a quiet process would never warm its tables nor
    start the freezer."""
    publisher, activity = container.publisher, container.applier.activity
    started = clock()
    while not publisher.settled.is_set():
        last = activity.last_batch_at if activity.last_batch_at is not None else started
        if clock() - last >= idle_s:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(publisher.settled.wait(), min(idle_s, SETTLED_CHECK_S))


LOOP_PROBE_S = 0.05


async def probe_loop_lag() -> None:
    """Sleep LOOP_PROBE_S and record how late the loop woke (METRICS.loop_lag): the readers' share of the tail that
    is this process's (its loop busy or not scheduled), apart from the network's and the client's."""
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(LOOP_PROBE_S)
        METRICS.loop_lag.observe(max(0.0, loop.time() - start - LOOP_PROBE_S))


class Timers:
    """Runs the steps forever; a database outage is one log line per change (through `database`), not one per
    step, and `on_outage` starts the recovery probe."""

    def __init__(self, container: Container, database: DependencyState, on_outage: Callable[[], None]) -> None:
        self._container = container
        self._database = database
        self._on_outage = on_outage

    async def every(self, interval_s: float | Callable[[datetime], float], what: str, step: Step) -> None:
        """Run `step` every `interval_s` seconds (or as long as `interval_s(now)` says, each time)."""
        while True:
            await asyncio.sleep(interval_s(datetime.now(UTC)) if callable(interval_s) else interval_s)
            try:
                await step(self._container)
            except Exception as error:
                if is_database_outage(error):
                    self._database.failed(error)
                    self._on_outage()
                else:
                    log.exception("%s failed; will retry", what)

    def start(self) -> list[asyncio.Task[None]]:
        container = self._container
        tasks = [asyncio.create_task(self.every(REGISTRY_SYNC_S, "reading the registry", follow_registry),
                                     name="registry-follower")]  # fmt: skip
        if container.serves_readers:
            tasks.append(asyncio.create_task(warm_up_then_freeze(container), name="read-tables-warm-up"))
            tasks.append(asyncio.create_task(probe_loop_lag(), name="loop-lag-probe"))
        if container.applies:
            tasks += [
                asyncio.create_task(self.every(roll_over_delay, "month roll-over", roll_over),
                                    name="month-roll-over"),
                asyncio.create_task(self.every(REDRIVE_PENDING_S, "re-applying pending dead letters",
                                               redrive_pending), name="pending-dead-letters"),
                asyncio.create_task(self.every(UPKEEP_CHECK_S, "vacuuming the dossiers after a back-fill",
                                               upkeep_after_catching_up), name="upkeep-after-catching-up"),
            ]  # fmt: skip
        return tasks
