"""A fetched partition's Kafka record batches → record objects, in one compiled loop (no driver imported).

aiokafka turns every fetched record into a `ConsumerRecord` through an interpreted generator, a method call and a
dataclass `__init__` of eleven fields (≈ 1.5–2 µs a record, with the fetch result's own loop around it). The
consumer's hook (`adapters/kafka_fetch.py`) hands the partition's `MemoryRecords` here instead: the same walk
over its batches (CRC checked, control batches skipped, records before the fetch position skipped) and, per
record, one `FetchedRecord` built in C — a named tuple with `ConsumerRecord`'s fields, in its order, holding the
same values (tests/unit/scoring/test_kafka_fetch.py compares them field by field).
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple


class FetchedRecord(NamedTuple):
    """What aiokafka's `ConsumerRecord` holds (same names, same order, same values) as a named tuple."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    checksum: int | None
    serialized_key_size: int
    serialized_value_size: int
    headers: tuple[Any, ...]


# The named tuple's own __new__ is a Python function; tuple.__new__ with every field is one C call.
_new: Final = tuple.__new__
_NO_HEADERS: Final[tuple[Any, ...]] = ()

MORE: Final = 0
"""`unpack_batches` stopped because `into` holds enough records; more batches may follow."""
DONE: Final = 1
"""Every batch was walked."""
CORRUPT: Final = 2
"""A batch's CRC does not match: it and those after it were not read."""


def unpack_batches(
    memory_records: Any,
    topic: str,
    partition: int,
    position: int,
    check_crcs: bool,
    into: list[FetchedRecord],
    enough: int,
) -> tuple[int, int]:
    """Append to `into` the records of the next batches of `memory_records` (aiokafka's `MemoryRecords` of one
    fetched partition, read from where the last call stopped) at or after `position`, as aiokafka's
    `PartitionRecords._unpack_records` yields them with isolation level read_uncommitted and no deserializers —
    whole batches, until `into` holds at least `enough` records. Returns (the offset after the last batch walked,
    MORE, DONE or CORRUPT). Records not asked for stay in the fetched bytes, compact, as aiokafka leaves them."""
    while len(into) < enough:
        if not memory_records.has_next():
            return position, DONE
        batch = memory_records.next_batch()
        if check_crcs and not batch.validate_crc():
            return position, CORRUPT
        if batch.is_control_batch:  # skipped whatever the isolation level, as aiokafka does
            position = batch.next_offset
            continue
        for record in batch:
            offset: int = record.offset
            if offset < position:  # a compressed message set may start before the fetch position
                continue
            key = record.key
            value = record.value
            headers = record.headers
            into.append(_new(FetchedRecord, (
                topic, partition, offset, record.timestamp, record.timestamp_type, key, value, record.checksum,
                -1 if key is None else len(key), -1 if value is None else len(value),
                tuple(headers) if headers else _NO_HEADERS)))  # fmt: skip
            position = offset + 1
        # A v2 batch keeps its last offset even when compaction removed its last records: continue after it.
        position = batch.next_offset
    return position, MORE
