"""The scoring consumer after its batch: a partition revoked mid-batch is skipped for lag and commit (INFO, no
error); the partitions kept across a rebalance read on after the batch instead of replaying it; failing batches are
logged once per state change. Hand-written fakes of aiokafka's consumer."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from services.scoring.entrypoints.consumer import Rebalances, process_batch
from shared.outages import DependencyState

TOPIC = "dossier-events"


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int


class FakeConsumer:
    """Behaves like AIOKafkaConsumer where it matters: asking about a partition it does not own fails."""

    def __init__(self, partitions: set[int], commit_error: Exception | None = None) -> None:
        self.owned = {TopicPartition(TOPIC, p) for p in partitions}
        self.commits: list[dict[TopicPartition, int]] = []
        self.commit_error = commit_error
        self.seeks: dict[TopicPartition, int] = {}

    def assignment(self) -> frozenset[TopicPartition]:
        return frozenset(self.owned)

    def highwater(self, tp: TopicPartition) -> int:
        assert tp in self.owned, "Partition is not assigned"
        return 1000

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        for tp in offsets:
            if tp not in self.owned:
                raise IllegalStateError(f"Partition {tp} is not assigned")
        if self.commit_error is not None:
            raise self.commit_error
        self.commits.append(dict(offsets))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        if tp not in self.owned:
            raise IllegalStateError(f"Partition {tp} is not assigned")
        self.seeks[tp] = offset


@dataclass
class RevokingApplier:
    """Applies the batch; meanwhile a rebalance takes `revoke` away from the consumer."""

    consumer: FakeConsumer
    revoke: set[int] = field(default_factory=set)
    failures: int = 0
    calls: int = 0
    rebalances: Rebalances | None = None
    """Told of a whole rebalance (revocation, then assignment) during the batch."""

    async def apply(self, records: tuple[Any, ...]) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionRefusedError("database down")
        self.consumer.owned -= {TopicPartition(TOPIC, p) for p in self.revoke}
        if self.rebalances is not None:
            await self.rebalances.on_partitions_revoked(set())
            await self.rebalances.on_partitions_assigned(self.consumer.assignment())
        return SimpleNamespace(touched_units={"H26"}, months={"2026-11"}, catching_up=None)


@dataclass
class FakePublisher:
    marked: list[set[str]] = field(default_factory=list)

    def mark(self, units: set[str], months: set[str] | None = None, *, catching_up: bool | None = None) -> None:
        self.marked.append(set(units))


def _batch() -> tuple[Record, ...]:
    return (Record(TOPIC, 0, 10), Record(TOPIC, 1, 20), Record(TOPIC, 0, 11), Record(TOPIC, 1, 21))


def _state() -> DependencyState:
    return DependencyState("applying batches", down="fails", up="works again")


async def test_partition_revoked_mid_batch_is_skipped_at_info(caplog: pytest.LogCaptureFixture) -> None:
    consumer = FakeConsumer({0, 1})
    publisher = FakePublisher()
    with caplog.at_level(logging.DEBUG):
        handled = await process_batch(_batch(), consumer, RevokingApplier(consumer, {1}), publisher, _state())
    assert handled is True
    assert consumer.commits == [{TopicPartition(TOPIC, 0): 12}]
    assert publisher.marked == [{"H26"}]
    revoked = [r for r in caplog.records if "revoked during the batch" in r.getMessage()]
    assert len(revoked) == 1 and revoked[0].levelno == logging.INFO
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_every_partition_revoked_commits_nothing() -> None:
    consumer = FakeConsumer({0, 1})
    assert await process_batch(_batch(), consumer, RevokingApplier(consumer, {0, 1}), FakePublisher(), _state())
    assert consumer.commits == []


async def test_commit_refused_by_a_rebalance_is_info(caplog: pytest.LogCaptureFixture) -> None:
    consumer = FakeConsumer({0, 1}, commit_error=CommitFailedError("group rebalanced"))
    with caplog.at_level(logging.DEBUG):
        assert await process_batch(_batch(), consumer, RevokingApplier(consumer), FakePublisher(), _state())
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("rebalancing" in r.getMessage() for r in caplog.records)


async def test_all_assigned_commits_every_partition() -> None:
    consumer = FakeConsumer({0, 1})
    assert await process_batch(_batch(), consumer, RevokingApplier(consumer), FakePublisher(), _state())
    assert consumer.commits == [{TopicPartition(TOPIC, 0): 12, TopicPartition(TOPIC, 1): 22}]


async def test_failing_batches_log_once_per_state_change(caplog: pytest.LogCaptureFixture) -> None:
    consumer = FakeConsumer({0, 1})
    applier = RevokingApplier(consumer, failures=5)
    state = _state()
    with caplog.at_level(logging.DEBUG, logger="tthc.outages"):
        for _ in range(5):
            with pytest.raises(ConnectionRefusedError):
                await process_batch(_batch(), consumer, applier, FakePublisher(), state, retry_pause_s=0.0)
        assert await process_batch(_batch(), consumer, applier, FakePublisher(), state)
    lines = [r.getMessage() for r in caplog.records if r.name == "tthc.outages"]
    assert len(lines) == 2, lines
    assert lines[0].startswith("applying batches fails") and "works again" in lines[1] and "5 failures" in lines[1]


async def test_partitions_kept_across_a_rebalance_read_on_after_the_batch(caplog: pytest.LogCaptureFixture) -> None:
    """aiokafka sends every partition of a new assignment back to its committed offset: without the seek, this
    process would apply its own batch again on the partitions it kept."""
    consumer, rebalances = FakeConsumer({0, 1}), Rebalances()
    applier = RevokingApplier(consumer, {1}, rebalances=rebalances)
    with caplog.at_level(logging.INFO):
        assert await process_batch(_batch(), consumer, applier, FakePublisher(), _state(), rebalances=rebalances)
    assert consumer.commits == [{TopicPartition(TOPIC, 0): 12}]
    assert consumer.seeks == {TopicPartition(TOPIC, 0): 12}  # partition 1 is replayed by its new owner
    assert any("kept, read on after the batch" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_rebalance_giving_back_the_same_partitions_keeps_them_all() -> None:
    consumer, rebalances = FakeConsumer({0, 1}), Rebalances()
    applier = RevokingApplier(consumer, rebalances=rebalances)
    assert await process_batch(_batch(), consumer, applier, FakePublisher(), _state(), rebalances=rebalances)
    assert consumer.seeks == {TopicPartition(TOPIC, 0): 12, TopicPartition(TOPIC, 1): 22}


async def test_no_rebalance_no_seek() -> None:
    """A seek drops what the fetcher read ahead: never done when the group did not move."""
    consumer, rebalances = FakeConsumer({0, 1}), Rebalances()
    assert await process_batch(_batch(), consumer, RevokingApplier(consumer), FakePublisher(), _state(),
                               rebalances=rebalances)  # fmt: skip
    assert consumer.seeks == {}
    assert consumer.commits == [{TopicPartition(TOPIC, 0): 12, TopicPartition(TOPIC, 1): 22}]


async def test_a_batch_ending_mid_rebalance_moves_nothing() -> None:
    """Revoked, not yet assigned: nothing is ours; the new assignment starts from the committed offsets."""
    consumer, rebalances = FakeConsumer({0, 1}), Rebalances()

    @dataclass
    class HalfRebalance(RevokingApplier):
        async def apply(self, records: tuple[Any, ...]) -> Any:
            self.consumer.owned = set()
            await rebalances.on_partitions_revoked(set())
            return SimpleNamespace(touched_units=set(), months=set(), catching_up=None)

    assert await process_batch(_batch(), consumer, HalfRebalance(consumer), FakePublisher(), _state(),
                               rebalances=rebalances)  # fmt: skip
    assert consumer.seeks == {} and consumer.commits == []
