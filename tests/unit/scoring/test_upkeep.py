"""The dossiers vacuumed once after a back-fill: when it caught up or drained and the whole group is done with it,
only if enough changed."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from services.scoring.service.upkeep import MAX_TRIES, BatchActivity, UpkeepAfterCatchingUp

pytestmark = pytest.mark.unit


@dataclass
class FakeUpkeep:
    changed: int = 50_000
    held_by_another: bool = False
    written: int = 0
    vacuums: list[int] = field(default_factory=list)

    async def dossiers_changed_since_vacuum(self) -> int:
        return self.changed

    async def dossiers_written(self) -> int:
        return self.written

    async def vacuum_dossiers(self) -> bool:
        if self.held_by_another:
            return False
        self.vacuums.append(self.changed)
        self.changed = 0
        return True


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def world(**upkeep: object) -> tuple[FakeUpkeep, BatchActivity, Clock, UpkeepAfterCatchingUp]:
    store, activity, clock = FakeUpkeep(**upkeep), BatchActivity(), Clock()  # type: ignore[arg-type]
    return (
        store,
        activity,
        clock,
        UpkeepAfterCatchingUp(store, activity, idle_s=5, min_changed_rows=10_000, clock=clock),
    )


async def steps(upkeep: UpkeepAfterCatchingUp, clock: Clock, seconds: int) -> list[bool]:
    """The timer's steps, one a second."""
    done = []
    for _ in range(seconds):
        clock.now += 1
        done.append(await upkeep.step())
    return done


async def test_a_drained_back_fill_is_vacuumed_once() -> None:
    store, activity, clock, upkeep = world()
    activity.batch_applied(True, clock.now)
    clock.now += 4.9
    assert not await upkeep.step()  # still within the idle time: more may come
    # Drained from here on; then the table written by nobody for 5 s (the statistics' own delay included): done.
    assert await steps(upkeep, clock, 6) == [False] * 5 + [True]
    assert store.vacuums == [50_000]
    store.changed = 40_000
    clock.now += 60
    assert not await upkeep.step()  # the same back-fill: once
    assert store.vacuums == [50_000]


async def test_a_back_fill_that_caught_up_is_vacuumed_at_once_and_live_traffic_alone_never() -> None:
    store, activity, clock, upkeep = world()
    for _ in range(3):
        activity.batch_applied(False, clock.now)  # live batches: nothing to do however much changed
        clock.now += 10
        assert not await upkeep.step()
    activity.batch_applied(True, clock.now)
    activity.batch_applied(False, clock.now)  # a fresh batch: caught up
    store.written += 5  # live traffic goes on: a few rows a second
    assert (await steps(upkeep, clock, 6))[-1]
    assert store.vacuums == [50_000]
    activity.batch_applied(None, clock.now)  # a batch of undecodable records says nothing either way
    assert activity.catching_up is False


async def test_no_vacuum_when_little_changed_since_the_last_one_or_another_process_is_vacuuming() -> None:
    store, activity, clock, upkeep = world(changed=9_999)  # e.g. the other applying process has just vacuumed
    activity.batch_applied(True, clock.now)
    assert not any(await steps(upkeep, clock, 20))
    assert store.vacuums == []
    store.changed, store.held_by_another = 20_000, True
    activity.batch_applied(True, clock.now)
    assert not any(await steps(upkeep, clock, 20))  # SKIP_LOCKED: the other one is at it
    assert store.vacuums == []


async def test_a_process_done_waits_for_the_other_still_catching_up() -> None:
    store, activity, clock, upkeep = world()
    activity.batch_applied(True, clock.now)  # this process's partitions are done ...
    for _ in range(30):  # ... the other one's not: the table is written thousands of rows a second
        store.written += 3_000
        clock.now += 1
        assert not await upkeep.step()
    assert await steps(upkeep, clock, 5) == [False] * 4 + [True]  # then nobody writes for 5 s
    assert store.vacuums == [50_000]


def test_the_applier_records_its_batches() -> None:
    activity = BatchActivity()
    activity.batch_applied(True, 1.0)
    activity.batch_applied(True, 2.0)
    activity.batch_applied(False, 3.0)
    assert (activity.catching_up_batches, activity.last_batch_at, activity.catching_up) == (2, 3.0, False)


async def test_a_vacuum_skipped_or_failed_is_tried_again_with_back_off_then_left_to_autovacuum() -> None:
    store, activity, clock, upkeep = world(held_by_another=True)  # an autovacuum holds the table at first
    activity.batch_applied(True, clock.now)
    assert not any(await steps(upkeep, clock, 10))  # drained, the group done: skipped (SKIP_LOCKED); again in 2 s
    store.held_by_another = False
    assert await steps(upkeep, clock, 2) == [False, True]  # the lock gone: vacuumed on the retry
    assert store.vacuums == [50_000]

    store.changed, store.held_by_another = 50_000, True  # a second back-fill, the table held each time
    activity.batch_applied(True, clock.now)
    assert not any(await steps(upkeep, clock, 120))
    store.held_by_another = False
    assert not any(await steps(upkeep, clock, 120))  # given up after MAX_TRIES: left to autovacuum
    assert store.vacuums == [50_000]

    class Failing(FakeUpkeep):
        async def vacuum_dossiers(self) -> bool:
            raise ConnectionResetError("the server went away")

    failing, activity, clock = Failing(), BatchActivity(), Clock()
    upkeep = UpkeepAfterCatchingUp(failing, activity, idle_s=5, min_changed_rows=10_000, clock=clock)
    activity.batch_applied(True, clock.now)
    errors = 0
    for _ in range(120):
        clock.now += 1
        try:
            await upkeep.step()
        except ConnectionResetError:
            errors += 1
    assert errors == MAX_TRIES  # raised to the timer (which logs it) each try, then given up


async def test_a_vacuum_by_another_session_meanwhile_ends_the_retries() -> None:
    store, activity, clock, upkeep = world(held_by_another=True)
    activity.batch_applied(True, clock.now)
    assert not any(await steps(upkeep, clock, 10))  # skipped once
    store.changed = 0  # the other process (or autovacuum) vacuumed it
    assert not any(await steps(upkeep, clock, 30))
    store.held_by_another, store.changed = False, 50_000
    assert not any(await steps(upkeep, clock, 30))  # this back-fill is done with: nothing more
    assert store.vacuums == []
