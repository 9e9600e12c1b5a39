"""The applying process's hot section (adapters/gc.PausedThenFrozen): the collector is paused during a batch; after
it, cycles the batch made are collected and the survivors frozen; everything is handed back once per interval."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from services.scoring.adapters.gc import PausedThenFrozen

pytestmark = pytest.mark.unit


class Node:
    """A container object the collector tracks."""

    def __init__(self) -> None:
        self.other: object = None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # leave the test process's collector as it was


def test_a_batch_pauses_the_collector_then_collects_its_cycles_and_freezes_the_survivors(unfrozen: None) -> None:
    section = PausedThenFrozen(clock=Clock())
    kept = Node()
    with section():
        assert not gc.isenabled()
        cycle = Node()
        cycle.other = cycle
        gone = weakref.ref(cycle)
        del cycle
        kept.other = Node()
        assert gone() is not None  # paused: the cycle waits for the end of the batch
    assert gc.isenabled()
    assert gone() is None
    assert gc.get_freeze_count() > 0
    assert kept.other is not None


def test_everything_is_handed_back_to_the_collector_once_per_interval(unfrozen: None) -> None:
    clock = Clock()
    section = PausedThenFrozen(unfreeze_s=600, clock=clock)
    with section():
        pass
    frozen = gc.get_freeze_count()
    cycle = Node()
    cycle.other = cycle
    gone = weakref.ref(cycle)
    with section():
        pass  # the cycle is alive: frozen with the rest
    del cycle
    gc.collect()
    assert gone() is not None  # frozen garbage is not collected ...
    clock.now = 601
    with section():
        pass
    gc.collect()
    assert gone() is None  # ... until the interval hands it back
    assert frozen > 0 and gc.get_freeze_count() > 0


def test_a_section_inside_a_paused_collector_leaves_it_alone(unfrozen: None) -> None:
    gc.disable()
    try:
        with PausedThenFrozen(clock=Clock())():
            pass
        assert not gc.isenabled()
        assert gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_overlapping_sections_keep_the_collector_paused_until_the_last_ends(unfrozen: None) -> None:
    section = PausedThenFrozen(clock=Clock())
    batch, redrive = section(), section()
    batch.__enter__()
    redrive.__enter__()
    redrive.__exit__(None, None, None)  # the re-drive ends while the batch still applies
    assert not gc.isenabled()
    assert gc.get_freeze_count() == 0
    batch.__exit__(None, None, None)
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
