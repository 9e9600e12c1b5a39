"""The fetched records without a ConsumerRecord per record (adapters/kafka_fetch.py): aiokafka's internals as the
hook relies on them, and the same records, order and positions as aiokafka's own path, slice by slice.

If aiokafka changes its fetcher, `test_aiokafka_still_has_what_the_hook_relies_on` fails here first (at run time
the hook then leaves aiokafka alone and logs a warning).
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka.consumer import fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import calc_crc32c
from aiokafka.structs import TopicPartition

from services.scoring.adapters import kafka_fetch
from services.scoring.adapters.fetched import FetchedRecord
from services.scoring.adapters.kafka_fetch import FastFetchResult, FastPartitionRecords

TP = TopicPartition("dossier-events", 3)
GZIP = 1
_ATTRIBUTES = 21  # where a v2 batch's attributes start; its CRC covers them and everything after
_CONTROL = 0x20


def batch(base: int, count: int, *, compression: int = 0, headers: bool = False, control: bool = False) -> bytes:
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=compression, is_transactional=0, producer_id=-1,
                                        producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)  # fmt: skip
    for delta in range(count):
        key = None if delta % 5 == 4 else f"dossier-{base + delta}".encode()
        value = None if delta % 7 == 6 else b'{"event_id":"%d"}' % (base + delta)
        builder.append(delta, timestamp=1_764_547_200_000 + base + delta, key=key, value=value,
                       headers=[("h", b"v"), ("n", None)] if headers and delta % 2 == 0 else [])  # fmt: skip
    data = bytearray(builder.build())
    data[0:8] = struct.pack(">q", base)
    if control:
        data[_ATTRIBUTES + 1] |= _CONTROL
        data[17:21] = struct.pack(">I", calc_crc32c(bytes(data[_ATTRIBUTES:])))
    return bytes(data)


def fetch_bytes(fetch_offset: int = 100) -> bytes:
    """Batches as a fetch at `fetch_offset` returns them (from the one holding that offset): plain, with headers,
    gzip-compressed, a control batch, one more."""
    batches = [(112, batch(100, 12)), (121, batch(112, 9, headers=True)), (151, batch(121, 30, compression=GZIP)),
               (152, batch(151, 1, control=True)), (160, batch(152, 8))]  # fmt: skip
    return b"".join(data for end, data in batches if end > fetch_offset)


@dataclasses.dataclass
class TpState:
    position: int
    paused: bool = False

    def consumed_to(self, position: int) -> None:
        self.position = position


class Assignment:
    """What FetchResult asks of the subscription's assignment."""

    def __init__(self, position: int) -> None:
        self.active = True
        self.state = TpState(position)

    def state_value(self, tp: TopicPartition) -> TpState:
        return self.state


def fetch_result(fast: bool, data: bytes, fetch_offset: int, **options: Any) -> tuple[Any, Assignment]:
    settings: dict[str, Any] = {"key_deserializer": None, "value_deserializer": None, "check_crcs": True,
                                "isolation_level": fetcher.READ_UNCOMMITTED, **options}  # fmt: skip
    records_class = FastPartitionRecords if fast else kafka_fetch._PLAIN_PARTITION_RECORDS
    result_class = FastFetchResult if fast else kafka_fetch._PLAIN_FETCH_RESULT
    given = (settings[name] for name in kafka_fetch._PARTITION_RECORDS_PARAMS[5:])  # deserializers, crc, isolation
    records = records_class(TP, MemoryRecords(data), [], fetch_offset, *given)
    assignment = Assignment(fetch_offset)
    return result_class(TP, assignment=assignment, partition_records=records, backoff=0), assignment


def drained(
    result: Any, assignment: Assignment, max_records: int | None
) -> Iterator[tuple[list[tuple[Any, ...]], int, bool]]:
    """Each getall's records (as tuples of ConsumerRecord's fields), the position after it, whether more remain."""
    while result.has_more():
        records = result.getall(max_records)
        yield [fields(record) for record in records], assignment.state.position, result.has_more()


def fields(record: Any) -> tuple[Any, ...]:
    if isinstance(record, FetchedRecord):
        return tuple(record)
    return tuple(getattr(record, field.name) for field in dataclasses.fields(record))


def test_aiokafka_still_has_what_the_hook_relies_on() -> None:
    assert kafka_fetch.incompatibilities() == []


def test_fetched_record_has_consumer_records_fields_in_their_order() -> None:
    from aiokafka.structs import ConsumerRecord

    assert FetchedRecord._fields == tuple(field.name for field in dataclasses.fields(ConsumerRecord))


@pytest.mark.parametrize("max_records", [None, 1, 7, 12, 21, 50, 60, 1000])
@pytest.mark.parametrize("fetch_offset", [100, 105, 121, 130, 152])
def test_the_same_records_and_positions_as_aiokafka(max_records: int | None, fetch_offset: int) -> None:
    """Mid-batch fetch positions (a compressed set starts before them), slices ending inside and at the end of a
    batch, a control batch skipped, keys, values and headers absent or present."""
    plain = list(drained(*fetch_result(False, fetch_bytes(fetch_offset), fetch_offset), max_records))
    fast = list(drained(*fetch_result(True, fetch_bytes(fetch_offset), fetch_offset), max_records))
    records = [record for chunk, _, _ in plain for record in chunk]
    assert records and records[0][2] == fetch_offset and records[-1][2] == 159
    # aiokafka may end with an empty getall that only finishes the result: the slices and positions are the same.
    assert [(chunk, position) for chunk, position, _ in fast if chunk] == [
        (chunk, position) for chunk, position, _ in plain if chunk
    ]
    assert [record for chunk, _, _ in fast for record in chunk] == records
    assert fast[-1][1] == plain[-1][1] == 160


def test_a_control_batch_at_the_end_moves_the_position_past_it() -> None:
    data = batch(10, 3) + batch(13, 1, control=True)
    for fast in (False, True):
        result, assignment = fetch_result(fast, data, 10)
        chunks = list(drained(result, assignment, None))
        assert [record[2] for chunk, _, _ in chunks for record in chunk] == [10, 11, 12]
        assert assignment.state.position == 14


def test_getone_hands_out_the_same_records_one_at_a_time() -> None:
    for fast in (False, True):
        result, assignment = fetch_result(fast, fetch_bytes(120), 120)
        seen = []
        while (record := result.getone()) is not None:
            seen.append(fields(record))
        assert [record[2] for record in seen] == list(range(120, 151)) + list(range(152, 160))
        assert assignment.state.position == 160


def test_a_corrupt_batch_hands_out_the_records_before_it_then_raises_and_is_fetched_again() -> None:
    data = bytearray(fetch_bytes())
    second = len(batch(100, 12))
    data[second + 70] ^= 0xFF  # inside the second batch's records: its CRC no longer matches
    result, assignment = fetch_result(True, bytes(data), 100)
    assert [record.offset for record in result.getall(None)] == list(range(100, 112))
    assert assignment.state.position == 112
    with pytest.raises(CorruptRecordException):
        result.getall(None)
    assert result.getall(None) == [] and not result.has_more()  # done: the partition is fetched again from 112
    assert assignment.state.position == 112
    plain, _ = fetch_result(False, bytes(data), 100)
    with pytest.raises(CorruptRecordException):  # aiokafka raises too (dropping the batch's records it had read)
        plain.getall(None)


def test_a_batch_that_cannot_be_read_drops_the_rest_of_the_fetch_and_keeps_the_position() -> None:
    """Not decompressible (CRCs unchecked, so the CRC cannot catch it): the iteration raises inside the walk. The
    records after the last one handed out are never skipped: the position stays, the partition is fetched again."""
    broken = bytearray(batch(112, 9, compression=GZIP))
    broken[70:90] = b"\x00" * 20  # inside the compressed records
    data = batch(100, 12) + bytes(broken) + batch(121, 5)
    result, assignment = fetch_result(True, data, 100, check_crcs=False)
    assert [record.offset for record in result.getall(5)] == [100, 101, 102, 103, 104]
    assert assignment.state.position == 105
    with pytest.raises(Exception):  # noqa: B017 - whatever aiokafka's decompression raises
        result.getall(None)
    assert result.getall(None) == []
    assert assignment.state.position == 105  # not past the unread batch: fetched again from 105
    assert not result.has_more()


def test_deserializers_or_read_committed_take_aiokafkas_own_path() -> None:
    for options in (
        {"value_deserializer": lambda value: value and value.upper()},
        {"isolation_level": fetcher.READ_COMMITTED},
    ):
        plain = list(drained(*fetch_result(False, fetch_bytes(), 100, **options), 10))
        fast_result, assignment = fetch_result(True, fetch_bytes(), 100, **options)
        assert not fast_result._partition_records.fast
        assert list(drained(fast_result, assignment, 10)) == plain


def test_install_swaps_the_fetchers_classes_and_uninstall_puts_them_back() -> None:
    try:
        assert kafka_fetch.install()
        assert fetcher.PartitionRecords is FastPartitionRecords and fetcher.FetchResult is FastFetchResult
        assert kafka_fetch.install()  # idempotent
    finally:
        kafka_fetch.uninstall()
    assert fetcher.PartitionRecords is kafka_fetch._PLAIN_PARTITION_RECORDS


def test_install_leaves_a_changed_aiokafka_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_fetch, "incompatibilities", lambda: ["FetchResult.getone missing"])
    assert not kafka_fetch.install()
    assert fetcher.PartitionRecords is kafka_fetch._PLAIN_PARTITION_RECORDS


def test_records_not_asked_for_stay_in_the_fetched_bytes() -> None:
    """Batches are read as far as the slice needs: a partial take builds the rest of one batch at most."""
    result, assignment = fetch_result(True, fetch_bytes(100), 100)
    assert [record.offset for record in result.getall(5)] == list(range(100, 105))
    records = result._partition_records
    assert len(records._pending) - records._start == 7 and records._walked_to == 112  # the first batch only
    assert [record.offset for record in result.getall(10)] == list(range(105, 115))
    assert records._walked_to == 121 and assignment.state.position == 115


def test_a_fetched_partitions_records_are_freed_by_reference_counting() -> None:
    """No reference cycle: the fetched bytes go as soon as the fetch result is dropped, collector paused or not
    (a cycle would be frozen at a batch's end and kept until the next unfreeze)."""
    import gc
    import weakref

    result, _ = fetch_result(True, fetch_bytes(100), 100)
    records = weakref.ref(result._partition_records)
    result.getall(5)
    was = gc.isenabled()
    gc.disable()
    try:
        del result
        assert records() is None
    finally:
        if was:
            gc.enable()
