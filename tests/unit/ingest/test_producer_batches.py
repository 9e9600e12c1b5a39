"""The producer adapter's batch sharing (`EventProducer._append`) on aiokafka's real accumulator, no broker: requests
in flight together fill one batch per partition; a drained batch is never appended to."""

from __future__ import annotations

from aiokafka.producer.message_accumulator import MessageAccumulator
from aiokafka.record.default_records import DefaultRecordBatch
from aiokafka.structs import TopicPartition

from services.ingest.adapters.producer import EventProducer, ProducerConfig, murmur2

TOPIC = "events"


class _Producer:
    """Stands in for AIOKafkaProducer: `_append` reads only its accumulator (aiokafka's own class)."""

    def __init__(self) -> None:
        self._message_accumulator = MessageAccumulator(None, 1024 * 1024, 0, 30)  # 0: no compression


def _adapter(partitions: int) -> EventProducer:
    adapter = EventProducer(ProducerConfig("127.0.0.1:1", TOPIC, timeout_s=1))
    adapter._partitions = list(range(partitions))
    return adapter


def _records(prefix: str, count: int) -> list[tuple[bytes, bytes]]:
    return [(f"{prefix}-{number % 7}".encode(), f"{prefix}:{number}".encode()) for number in range(count)]


async def test_requests_in_flight_share_one_batch_per_partition() -> None:
    adapter, producer = _adapter(3), _Producer()
    first = adapter._append(producer, _records("a", 40))
    second = adapter._append(producer, _records("b", 40))
    queued = producer._message_accumulator._batches
    assert {len(batches) for batches in queued.values()} == {1}  # one open batch per partition, shared
    shared = {id(batches[0]) for batches in queued.values()}
    assert {id(batch) for batch in first} <= shared and {id(batch) for batch in second} <= shared
    assert sum(batch.record_count for batches in queued.values() for batch in batches) == 80
    for key, _ in _records("b", 7):  # every key's records are in the partition the default partitioner names
        assert TopicPartition(TOPIC, (murmur2(key) & 0x7FFFFFFF) % 3) in queued


async def test_a_drained_batch_takes_no_more_records() -> None:
    adapter, producer = _adapter(1), _Producer()
    accumulator = producer._message_accumulator
    (drained,) = adapter._append(producer, _records("a", 5))
    assert accumulator._pop_batch(TopicPartition(TOPIC, 0)) is drained  # the sender took it
    (fresh,) = adapter._append(producer, _records("b", 5))
    assert fresh is not drained and drained.record_count == 5 and fresh.record_count == 5


async def test_batches_hold_exactly_the_records_appended_with_their_offsets() -> None:
    """`_append` writes through the compiled record builder (not aiokafka's wrapper): what a batch's bytes decode to
    — keys, values, offsets 0…n-1 within each batch, the record count the idempotent sequence uses — is exactly what
    went in, also across batches that filled up (a 2 KiB batch size forces several)."""
    adapter, producer = _adapter(1), _Producer()
    producer._message_accumulator = MessageAccumulator(None, 2048, 0, 30)
    records = [(f"k{number}".encode(), bytes([number % 256]) * 100) for number in range(60)]
    batches = adapter._append(producer, records)
    assert len(batches) > 1
    decoded = []
    for batch in batches:
        built = DefaultRecordBatch(bytes(batch.get_data_buffer()))
        rows = [(record.offset, record.key, record.value) for record in built]
        assert [offset for offset, _, _ in rows] == list(range(batch.record_count)) == list(range(len(rows)))
        decoded += [(key, value) for _, key, value in rows]
    assert decoded == records
