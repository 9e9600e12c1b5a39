"""The scoring subscriber's wiring, on FastStream's in-memory broker with hand-written fakes (no Kafka, no DB):
records reach the applier raw (bytes, partition, offset) in one batch, and the units it touched are marked for the
unit-indicators publisher. The real broker and database are exercised in tests/integration/scoring.

The in-memory broker is not aiokafka: its batch message holds a list of records and its consumer can neither say
which partitions it owns nor commit. `in_memory_batch` gives the handler the batch in aiokafka's shape, with a
consumer that owns every partition, so the production handler runs unchanged."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker

from services.scoring.entrypoints.consumer import ConsumedBatch, register_consumer
from services.scoring.settings import ScoringSettings
from shared.bootstrap import CONTEXT_KEY


@dataclass
class FakeReport:
    touched_units: set[str]
    months: set[str] = field(default_factory=set)
    catching_up: bool | None = None


@dataclass
class FakeApplier:
    batches: list[list[Any]] = field(default_factory=list)

    async def apply(self, records: Any) -> FakeReport:
        self.batches.append(list(records))
        return FakeReport({f"unit-{len(self.batches)}"})


@dataclass
class FakePublisher:
    marked: set[str] = field(default_factory=set)

    def mark(self, unit_ids: Any, months: Any = None, *, catching_up: bool | None = None) -> None:
        self.marked.update(unit_ids)


@dataclass
class FakeContainer:
    applier: FakeApplier
    publisher: FakePublisher


@dataclass
class OwnsEverything:
    """The committing consumer the in-memory broker lacks: owns the partitions it is asked about."""

    records: tuple[Any, ...]
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(r.topic, r.partition) for r in self.records}

    def highwater(self, tp: TopicPartition) -> int:
        return max(r.offset + 1 for r in self.records if r.partition == tp.partition)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)


def in_memory_batch(msg: KafkaMessage) -> ConsumedBatch:
    records = tuple(msg.raw_message)  # a list here, aiokafka's getmany gives a tuple
    return ConsumedBatch(records, OwnsEverything(records))


async def test_records_reach_the_applier_raw_and_touched_units_are_marked() -> None:
    settings = ScoringSettings(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        admin_token="a-real-random-admin-token-0123456789",
        events_topic="events-under-test",
    )
    broker = KafkaBroker("127.0.0.1:9")
    applier, publisher = FakeApplier(), FakePublisher()
    register_consumer(broker, settings, batch_of=in_memory_batch)
    broker.context.set_global(CONTEXT_KEY, FakeContainer(applier, publisher))

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b'{"not": "decoded by FastStream"}', "events-under-test", key=b"dossier-1")

    assert len(applier.batches) == 1
    (record,) = applier.batches[0]
    assert record.value == b'{"not": "decoded by FastStream"}'
    assert record.key == b"dossier-1"
    assert publisher.marked == {"unit-1"}
