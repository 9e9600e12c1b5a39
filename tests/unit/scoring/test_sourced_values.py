"""Values kept per version of their sources (scoring/service/sourced.py): computed once per version of the read
tables, shared by concurrent readers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from services.scoring.service.sourced import SourcedValues

pytestmark = pytest.mark.unit


async def test_a_value_is_kept_while_its_sources_are_the_same_objects_and_recomputed_when_one_is_replaced() -> None:
    values: SourcedValues[str, list[int]] = SourcedValues()
    table, profile_v1 = {"a": 1}, object()
    calls: list[int] = []

    def compute() -> list[int]:
        calls.append(1)
        return [table["a"]]

    first = await values.get("k", (table, profile_v1), compute)
    assert await values.get("k", (table, profile_v1), compute) is first and len(calls) == 1
    assert values.peek("k", (table, profile_v1)) is first
    # Equal but not the same object: a replaced table is a new version, even with the same contents.
    replaced = {"a": 1}
    assert await values.get("k", (replaced, profile_v1), compute) is not first and len(calls) == 2
    assert values.peek("k", (table, profile_v1)) is None


async def test_concurrent_readers_of_one_key_and_sources_share_one_computation_off_the_event_loop() -> None:
    values: SourcedValues[str, int] = SourcedValues()
    sources = (object(),)
    release = threading.Event()
    threads: list[int] = []

    def compute() -> int:
        threads.append(threading.get_ident())
        assert release.wait(5)
        return 42

    readers = [asyncio.create_task(values.get("k", sources, compute)) for _ in range(5)]
    await asyncio.sleep(0.05)
    assert len(threads) == 1 and threads[0] != threading.get_ident()  # one computation, in a worker thread
    release.set()
    assert await asyncio.gather(*readers) == [42] * 5 and len(threads) == 1


async def test_with_stale_s_a_changed_key_answers_its_previous_value_while_one_newer_is_computed() -> None:
    values: SourcedValues[str, int] = SourcedValues(stale_s=0.05)
    v1, v2, v3 = (object(),), (object(),), (object(),)
    release = threading.Event()
    calls: list[int] = []

    def compute(n: int) -> Callable[[], int]:
        def run() -> int:
            calls.append(n)
            assert release.wait(5)
            return n

        return run

    release.set()
    assert await values.get("k", v1, compute(1)) == 1
    await asyncio.sleep(0.06)  # the interval since the last computation started has passed
    release.clear()
    assert await values.get("k", v2, compute(2)) == 1  # the previous value at once; 2 computed meanwhile
    assert await values.get("k", v3, compute(3)) == 1  # one background computation at a time
    release.set()
    await asyncio.wait_for(values.idle(), 5)
    assert calls == [1, 2] and values.peek("k", v2) == 2
    assert await values.get("k", v2, compute(2)) == 2


async def test_a_stale_answer_within_the_interval_still_brings_a_newer_value_when_the_interval_has_passed() -> None:
    """The reader answered stale may never ask again (its response is kept until the value changes): a newer
    value must come anyway."""
    stored: list[int] = []
    values: SourcedValues[str, int] = SourcedValues(stale_s=0.05, on_store=lambda: stored.append(1))
    v1, v2 = (object(),), (object(),)
    assert await values.get("k", v1, lambda: 1) == 1
    assert await values.get("k", v2, lambda: 2) == 1  # within the interval: stale, and a computation scheduled
    await asyncio.wait_for(values.idle(), 5)
    assert values.peek("k", v2) == 2 and len(stored) == 2
