"""The scoring subscriber's wiring, on FastStream's in-memory broker with hand-written fakes (no Kafka, no DB):
records reach the applier raw (bytes, partition, offset) in one batch, and the units it touched are marked for the
unit-indicators publisher. The real broker and database are exercised in tests/integration/scoring."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.scoring.entrypoints.consumer import register_consumer
from services.scoring.settings import ScoringSettings


@dataclass
class FakeReport:
    touched_units: set[str]
    months: set[str] = field(default_factory=set)


@dataclass
class FakeApplier:
    batches: list[list[Any]] = field(default_factory=list)

    async def apply(self, records: Any) -> FakeReport:
        self.batches.append(list(records))
        return FakeReport({f"unit-{len(self.batches)}"})


@dataclass
class FakePublisher:
    marked: set[str] = field(default_factory=set)

    def mark(self, unit_ids: Any, months: Any = None) -> None:
        self.marked.update(unit_ids)


async def test_records_reach_the_applier_raw_and_touched_units_are_marked() -> None:
    settings = ScoringSettings(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        admin_token="a-real-random-admin-token-0123456789",
        events_topic="events-under-test",
    )
    broker = KafkaBroker("127.0.0.1:9")
    applier, publisher = FakeApplier(), FakePublisher()
    register_consumer(broker, settings, lambda: applier, lambda: publisher)  # type: ignore[arg-type,return-value]

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b'{"not": "decoded by FastStream"}', "events-under-test", key=b"dossier-1")

    assert len(applier.batches) == 1
    (record,) = applier.batches[0]
    assert record.value == b'{"not": "decoded by FastStream"}'
    assert record.key == b"dossier-1"
    assert publisher.marked == {"unit-1"}
