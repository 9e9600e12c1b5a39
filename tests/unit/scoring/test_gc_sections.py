"""The applying process's hot sections: the collector stays paused until the LAST overlapping section ends."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from services.scoring.adapters.gc import PausedSections
from services.scoring.adapters.gc_pauses import FreezeAfterChanges


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_overlapping_sections_keep_the_collector_paused_until_the_last_ends(collector_on: None) -> None:
    sections = PausedSections()

    async def batch(started: asyncio.Event, release: asyncio.Event, seen: list[bool]) -> None:
        with sections():
            started.set()
            await release.wait()
            seen.append(gc.isenabled())

    async def scenario() -> list[bool]:
        seen: list[bool] = []
        redrive_started, batch_started = asyncio.Event(), asyncio.Event()
        end_redrive, end_batch = asyncio.Event(), asyncio.Event()
        # The re-drive opens the first section, a batch starts while it awaits, and the re-drive ends first.
        redriving = asyncio.create_task(batch(redrive_started, end_redrive, seen))
        await redrive_started.wait()
        applying = asyncio.create_task(batch(batch_started, end_batch, seen))
        await batch_started.wait()
        end_redrive.set()
        await redriving
        seen.append(gc.isenabled())
        end_batch.set()
        await applying
        return seen

    seen = asyncio.run(scenario())
    # Inside the re-drive, after it while the batch still runs, and inside the batch: paused every time (before,
    # the re-drive's exit switched it on in the middle of the batch).
    assert seen == [False, False, False]
    assert gc.isenabled()
    assert sections.open_sections == 0


def test_a_collector_paused_by_someone_else_is_left_paused(collector_on: None) -> None:
    sections = PausedSections()
    gc.disable()
    with sections():
        assert not gc.isenabled()
    assert not gc.isenabled()
    gc.enable()


def test_a_failing_section_switches_the_collector_on_again(collector_on: None) -> None:
    sections = PausedSections()
    with pytest.raises(RuntimeError), sections():
        assert not gc.isenabled()
        raise RuntimeError("the batch failed")
    assert gc.isenabled()
    assert sections.open_sections == 0


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_survivors_are_frozen_after_the_last_section_and_unfrozen_after_the_interval(collector_on: None) -> None:
    now = [0.0]
    sections = PausedSections(unfreeze_s=600.0, clock=lambda: now[0])
    try:
        with sections():
            kept = Cycle()
            garbage = weakref.ref(Cycle())  # a cycle that is garbage when the section ends
        assert garbage() is None  # collected then, not frozen
        assert not any(obj is kept for obj in gc.get_objects())  # frozen: out of every generation
        dropped = weakref.ref(kept)
        del kept  # garbage now, but frozen: no ordinary collection finds it
        gc.collect()
        assert dropped() is not None
        now[0] = 601.0
        with sections():
            pass
        assert dropped() is None  # the interval passed: everything unfrozen and collected once
        assert gc.get_freeze_count() > 0  # and what lives frozen again
    finally:
        gc.unfreeze()


def test_the_read_tables_freezer_skips_its_collection_while_a_batch_is_applied(
    collector_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step during a batch would traverse every object the batch holds (the young generation, the collector being
    paused): it waits for a step outside the batch, which then sees the changed tables."""
    collections: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda generation=2: collections.append(generation) or 0)
    monkeypatch.setattr(gc, "freeze", lambda: None)
    sections = PausedSections()
    freezer = FreezeAfterChanges(busy=lambda: sections.open_sections > 0)
    with sections():
        freezer.step(1)  # the tables changed while the batch runs: nothing now
        assert collections == []
    freezer.step(1)  # the next step outside the batch collects for that change, once
    freezer.step(1)
    assert collections[-1:] == [1] and len(collections) == 2  # the section's own end, then the step
