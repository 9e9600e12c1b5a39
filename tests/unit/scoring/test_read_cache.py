"""The read tables' cache (scoring/service/read_cache.py): computed once per change, served while recomputed."""

from __future__ import annotations

import asyncio

import pytest

from services.scoring.service.read_cache import RefreshingCache

pytestmark = pytest.mark.unit


class Source:
    """A value per key that the test changes, and a gate to hold computations mid-way."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {"a": 1}
        self.computed = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def compute(self, key: str) -> int:
        self.computed += 1
        value = self.values[key]  # read at the start, as a query would
        await self.gate.wait()
        return value


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_value_is_computed_once_until_invalidated() -> None:
    source = Source()
    cache = RefreshingCache(source.compute, max_age_s=60)
    assert await cache.get("a") == 1
    assert await cache.get("a") == 1
    assert source.computed == 1


async def test_after_an_invalidation_readers_get_the_previous_value_while_it_is_recomputed() -> None:
    source = Source()
    cache = RefreshingCache(source.compute, max_age_s=60)
    await cache.get("a")
    source.values["a"] = 2
    source.gate.clear()
    cache.invalidate(["a"])  # eager: the recomputation starts now
    assert await cache.get("a") == 1  # never waits for it
    assert await cache.get("a") == 1
    source.gate.set()
    await settle()
    assert await cache.get("a") == 2
    assert source.computed == 2


async def test_wait_gives_the_value_as_of_now() -> None:
    source = Source()
    cache = RefreshingCache(source.compute, max_age_s=60)
    await cache.get("a")
    source.values["a"] = 5
    cache.invalidate(["a"], eager=False)
    assert await cache.get("a", wait=True) == 5


async def test_an_invalidation_during_a_computation_computes_again() -> None:
    source = Source()
    cache = RefreshingCache(source.compute, max_age_s=60)
    await cache.get("a")
    source.gate.clear()
    source.values["a"] = 2
    cache.invalidate(["a"])  # computation 2 reads 2 and waits at the gate
    await settle()
    source.values["a"] = 3
    cache.invalidate(["a"])  # changed again while it runs: it must not be the last word
    source.gate.set()
    await settle()
    await settle()
    assert await cache.get("a") == 3
    assert await cache.get("a", wait=True) == 3


async def test_a_value_nothing_invalidated_is_recomputed_after_max_age() -> None:
    source, clock = Source(), Clock()
    cache = RefreshingCache(source.compute, max_age_s=10, clock=clock)
    await cache.get("a")
    source.values["a"] = 7
    clock.now = 11
    assert await cache.get("a") == 1  # stale, served while recomputed
    await settle()
    assert await cache.get("a") == 7


async def test_invalidating_everything_reaches_keys_computed_later_too() -> None:
    source = Source()
    source.values["b"] = 1
    cache = RefreshingCache(source.compute, max_age_s=60)
    await cache.get("a")
    cache.invalidate()
    source.values["a"] = 4
    assert await cache.get("a", wait=True) == 4
    assert await cache.get("b") == 1


async def test_a_failed_computation_keeps_the_previous_value_for_readers() -> None:
    source = Source()
    cache = RefreshingCache(source.compute, max_age_s=60)
    await cache.get("a")
    del source.values["a"]
    cache.invalidate(["a"])
    await settle()
    assert await cache.get("a") == 1
    with pytest.raises(KeyError):
        await cache.get("a", wait=True)


async def test_after_clear_readers_wait_for_a_fresh_value() -> None:
    source = Source()
    cache = RefreshingCache(source.compute, max_age_s=60)
    await cache.get("a")
    source.values["a"] = 9
    cache.clear()  # e.g. the registry changed: the old value must not be served
    assert await cache.get("a") == 9


async def test_each_recomputed_value_reports_how_long_after_its_first_announced_change_it_was_served() -> None:
    source = Source()
    fresh: list[float] = []
    cache = RefreshingCache(source.compute, max_age_s=60, on_fresh=fresh.append)
    await cache.get("a")
    assert fresh == []  # a first computation answers no announced change
    source.gate.clear()
    cache.invalidate(["a"])
    cache.invalidate(["a"])  # two changes before the recomputation: one staleness, from the first
    await asyncio.sleep(0.05)
    source.gate.set()
    await settle()
    assert await cache.get("a") == 1 and len(fresh) == 1 and fresh[0] >= 0.05
