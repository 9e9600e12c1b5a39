"""A scoring process's role (SCORING_ROLE): which timers it runs, and what the container says it does."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from pydantic import ValidationError

from services.scoring.bootstrap import Container
from services.scoring.entrypoints.background import Timers, settled_or_drained
from services.scoring.service.upkeep import BatchActivity
from services.scoring.settings import ScoringSettings
from shared.outages import DependencyState

pytestmark = pytest.mark.unit


@dataclass
class WarmUpReader:
    warmed: list[bool] = field(default_factory=list)
    warmed_once: asyncio.Event = field(default_factory=asyncio.Event)

    async def warm_up(self) -> None:
        self.warmed.append(True)
        self.warmed_once.set()


@dataclass
class SettlingPublisher:
    settled: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class ActivityOnly:
    activity: BatchActivity = field(default_factory=BatchActivity)


@dataclass
class RoleOnly:
    """What Timers.start reads of the container: the role's two answers, the reader to warm and whether the
    batches still catch up."""

    applies: bool
    serves_readers: bool
    reader: WarmUpReader = field(default_factory=WarmUpReader)
    publisher: SettlingPublisher = field(default_factory=SettlingPublisher)
    applier: ActivityOnly = field(default_factory=ActivityOnly)


def settings(role: str) -> ScoringSettings:
    return ScoringSettings(
        database_url="postgresql://u:p@127.0.0.1:5432/db",
        admin_token="an-admin-token-of-thirty-two-chars",
        scoring_role=role,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("role", "applies", "serves_readers"),
    [("all", True, True), ("api", False, True), ("consumer", True, False)],
)
def test_each_role_says_whether_it_applies_and_whether_readers_are_sent_to_it(
    role: str, applies: bool, serves_readers: bool
) -> None:
    container = cast(Any, Container).__new__(Container)
    container.settings = settings(role)
    assert (container.applies, container.serves_readers) == (applies, serves_readers)


def test_an_unknown_role_stops_the_service_at_start() -> None:
    with pytest.raises(ValidationError, match="scoring_role"):
        settings("reader")


APPLYING = {"month-roll-over", "pending-dead-letters", "upkeep-after-catching-up"}


@pytest.mark.parametrize(
    ("applies", "serves_readers", "expected"),
    [
        (True, True, {"registry-follower", "read-tables-warm-up", "loop-lag-probe", *APPLYING}),
        (False, True, {"registry-follower", "read-tables-warm-up", "loop-lag-probe"}),  # api: nothing that applies
        (True, False, {"registry-follower", *APPLYING}),  # consumer: no warm-up
    ],
)
async def test_timers_run_what_the_role_needs(applies: bool, serves_readers: bool, expected: set[str]) -> None:
    container = RoleOnly(applies, serves_readers)
    tasks = Timers(cast(Container, container), DependencyState("database"), lambda: None).start()
    try:
        assert {task.get_name() for task in tasks} == expected
        if serves_readers and not applies:  # an api process warms its tables at once
            await asyncio.wait_for(container.reader.warmed_once.wait(), timeout=5)
        # A process that applies warms its tables once its batches no longer catch up (or after IDLE_S, 5 s).
        assert container.reader.warmed == ([True] if serves_readers and not applies else [])
        container.publisher.settled.set()
        if serves_readers:
            await asyncio.wait_for(container.reader.warmed_once.wait(), timeout=5)
        await asyncio.sleep(0.05)
        assert container.reader.warmed == ([True] if serves_readers else [])  # once
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_an_applying_process_warms_once_its_batches_drain_or_when_none_come() -> None:
    """FastStream never hands the handler an empty batch: a back-fill that drains with no live traffic behind it, or
    an empty topic, never sets `settled` — the wait ends after `idle_s` without a batch instead."""
    now = [100.0]
    container = RoleOnly(applies=True, serves_readers=True)
    empty_topic = asyncio.create_task(settled_or_drained(cast(Container, container), idle_s=5.0, clock=lambda: now[0]))
    await asyncio.sleep(0.05)
    assert not empty_topic.done()
    now[0] += 5.0
    await asyncio.wait_for(empty_topic, timeout=5)

    activity = container.applier.activity
    drained = asyncio.create_task(settled_or_drained(cast(Container, container), idle_s=5.0, clock=lambda: now[0]))
    for _ in range(3):  # batches still coming, each catching up: no end
        activity.batch_applied(True, now[0])
        now[0] += 4.0
        await asyncio.sleep(0.05)
        assert not drained.done()
    now[0] += 1.0  # 5 s since the last batch
    await asyncio.wait_for(drained, timeout=5)

    container.publisher.settled.set()  # a batch of fresh events: no wait at all
    await asyncio.wait_for(settled_or_drained(cast(Container, container), idle_s=5.0, clock=lambda: now[0]), 1)
