"""The dossiers vacuumed once after a back-fill: when it caught up or drained, only if enough changed."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from services.scoring.service.upkeep import BatchActivity, UpkeepAfterCatchingUp

pytestmark = pytest.mark.unit


@dataclass
class FakeUpkeep:
    changed: int = 50_000
    held_by_another: bool = False
    vacuums: list[int] = field(default_factory=list)

    async def dossiers_changed_since_vacuum(self) -> int:
        return self.changed

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


async def test_a_drained_back_fill_is_vacuumed_once() -> None:
    store, activity, clock, upkeep = world()
    activity.batch_applied(True, clock.now)
    assert not await upkeep.step()  # still within the idle time: more may come
    clock.now += 4.9
    assert not await upkeep.step()
    clock.now += 0.2
    assert await upkeep.step()
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
    assert await upkeep.step()
    assert store.vacuums == [50_000]
    activity.batch_applied(None, clock.now)  # a batch of undecodable records says nothing either way
    assert activity.catching_up is False


async def test_no_vacuum_when_little_changed_since_the_last_one_or_another_process_is_vacuuming() -> None:
    store, activity, clock, upkeep = world(changed=9_999)  # e.g. the other applying process has just vacuumed
    activity.batch_applied(True, clock.now)
    clock.now += 6
    assert not await upkeep.step()
    assert store.vacuums == []
    store.changed, store.held_by_another = 20_000, True
    activity.batch_applied(True, clock.now)
    clock.now += 6
    assert not await upkeep.step()  # SKIP_LOCKED: the other one is at it
    assert store.vacuums == []


def test_the_applier_records_its_batches() -> None:
    activity = BatchActivity()
    activity.batch_applied(True, 1.0)
    activity.batch_applied(True, 2.0)
    activity.batch_applied(False, 3.0)
    assert (activity.catching_up_batches, activity.last_batch_at, activity.catching_up) == (2, 3.0, False)
