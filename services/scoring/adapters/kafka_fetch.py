"""aiokafka's fetched records without a `ConsumerRecord` per record: the one place scoring reaches into its fetcher.

Per consumed record, aiokafka's `FetchResult.getall` resumes `PartitionRecords`' interpreted generator, which calls
`_consumer_record`, which runs `ConsumerRecord`'s dataclass `__init__` (eleven fields) — ≈ 1.5–2 µs a record
before the applier sees it, the largest per-record cost left outside scoring's own code (docs/benchmarks.md,
session 8's profile). `install()` swaps two classes of `aiokafka.consumer.fetcher` for subclasses that take a
partition's fetched records in compiled code (`adapters/fetched.py`: `FetchedRecord`, a named tuple with the
same fields and values), whole record batches at a time as the slices asked for need them.

Kept exactly as aiokafka behaves, and contained:
- same records, same order, same positions: the fetch result's `next_fetch_offset` after a slice is the offset
  after its last record (or, once all are handed out, after the last batch walked — control batches and compacted
  tails included), which is what `getall`/`getone` read to move the consumer's position;
- only read_uncommitted without deserializers takes the fast path (what the scoring consumer uses); anything else
  — read_committed's aborted-transaction filtering, a deserializer — runs aiokafka's own generator unchanged;
- a batch whose CRC fails: the records before it are handed out, then `CorruptRecordException` is raised (as
  aiokafka's iterator raises), and the partition is fetched again from that batch;
- `install()` checks the internals it relies on (names, constructor parameters, the globals `_proc_fetch_request`
  and `fetched_records` use) and, if aiokafka changed, logs a warning and leaves aiokafka alone (the plain path);
  tests/unit/scoring/test_kafka_fetch.py fails loudly on the same checks and compares both paths record by record.

The swap is process-wide (module globals), so every consumer of the process gets it — in the scoring service, the
`dossier-events` subscriber and the `unit-indicators` relay, which read `value`, `offset`, `timestamp`, `topic`,
`partition` and `headers` only (the same fields a `ConsumerRecord` has).
"""

from __future__ import annotations

import inspect
import logging
import sys
from typing import Any

import aiokafka.errors as errors
from aiokafka.consumer import fetcher

from services.scoring.adapters.fetched import CORRUPT, DONE, MORE, FetchedRecord, unpack_batches

log = logging.getLogger(__name__)

_PARTITION_RECORDS_PARAMS = (
    "self", "tp", "records", "aborted_transactions", "fetch_offset", "key_deserializer", "value_deserializer",
    "check_crcs", "isolation_level",
)  # fmt: skip
_FETCH_RESULT_PARAMS = ("self", "tp", "assignment", "partition_records", "backoff")
_PLAIN_PARTITION_RECORDS = fetcher.PartitionRecords
_PLAIN_FETCH_RESULT = fetcher.FetchResult


class FastPartitionRecords(_PLAIN_PARTITION_RECORDS):  # type: ignore[misc,valid-type]
    """aiokafka's `PartitionRecords`, plus `take`: the fetched records as `FetchedRecord`s, a slice at a time."""

    def __init__(
        self,
        tp: Any,
        records: Any,
        aborted_transactions: Any,
        fetch_offset: int,
        key_deserializer: Any,
        value_deserializer: Any,
        check_crcs: bool,
        isolation_level: int,
    ) -> None:
        super().__init__(tp, records, aborted_transactions, fetch_offset, key_deserializer, value_deserializer,
                         check_crcs, isolation_level)  # fmt: skip
        self.fast = (
            key_deserializer is None and value_deserializer is None and (isolation_level == fetcher.READ_UNCOMMITTED)
        )
        if self.fast:
            # aiokafka's generator, made by its __init__ and never run here, holds this object in its frame: a
            # reference cycle that only the cyclic collector would free — with the fetched bytes in it, frozen by the
            # batch's end (adapters/gc.py) until the next unfreeze. Dropped, the object goes by reference counting.
            self._records_iterator = None
        # Records built and not handed out yet: the tail of the last batch walked (from index `_start` on).
        self._pending: list[FetchedRecord] = []
        self._start = 0
        self._walked_to = fetch_offset  # the offset after the last batch walked
        self._walk = MORE

    def take(self, max_records: int | None) -> tuple[list[FetchedRecord], bool]:
        """The next records (at most `max_records`) and whether none are left; moves `next_fetch_offset`. Batches
        are read as far as the records asked for need, so the rest stays in the fetched bytes, as in aiokafka."""
        want = sys.maxsize if max_records is None else max_records
        pending, start = self._pending, self._start
        if len(pending) - start < want and self._walk == MORE:
            if start:
                pending, start = pending[start:], 0
            tp = self._tp
            try:
                self._walked_to, self._walk = unpack_batches(
                    self._records, tp.topic, tp.partition, self._walked_to, self._check_crcs, pending, want
                )
            except BaseException:
                # A batch that cannot be read (not decompressible, a broken record): the fetched bytes' cursor is
                # already past it. Hand out nothing more from this fetch and leave the position after the last
                # record handed out, so the partition is fetched again from there — as aiokafka's generator does
                # — instead of a later slice moving the position past records never applied.
                self._pending, self._start = [], 0
                self._walk, self._walked_to = DONE, self.next_fetch_offset
                raise
        stop = min(len(pending), start + want)
        out = pending[start:stop]
        if stop < len(pending):
            self._pending, self._start = pending, stop
        else:
            self._pending, self._start = [], 0  # let the handed-out records go with the caller's batch
        if stop < len(pending) or self._walk == MORE:
            self.next_fetch_offset = out[-1].offset + 1
            return out, False
        if self._walk == CORRUPT:
            if out:
                self.next_fetch_offset = out[-1].offset + 1  # the next call raises
                return out, False
            self._walk = DONE
            self.next_fetch_offset = self._walked_to  # the corrupt batch's offset: fetched again
            raise errors.CorruptRecordException(f"Invalid CRC - {self._tp}")
        self.next_fetch_offset = self._walked_to
        return out, True

    def __next__(self) -> Any:
        if not self.fast:
            return super().__next__()
        out, _ = self.take(1)
        if not out:
            raise StopIteration
        return out[0]


class FastFetchResult(_PLAIN_FETCH_RESULT):  # type: ignore[misc,valid-type]
    """aiokafka's `FetchResult` whose `getall` takes the records of a `FastPartitionRecords` as one slice."""

    def getall(self, max_records: int | None = None) -> list[Any]:
        records = self._partition_records
        if not (isinstance(records, FastPartitionRecords) and records.fast):
            return super().getall(max_records)  # type: ignore[no-any-return]
        if not self.check_assignment(self._topic_partition) or not self.has_more():
            return []
        out, done = records.take(max_records)
        self._update_position()
        if done:
            self._partition_records = None
        return out


def incompatibilities() -> list[str]:
    """What in aiokafka's fetcher differs from what this hook relies on (empty: it fits)."""
    try:
        return _incompatibilities()
    except Exception as exc:  # e.g. aiokafka installed without its sources (inspect), or its methods compiled
        return [f"its fetcher could not be inspected ({exc!r})"]


def _incompatibilities() -> list[str]:
    problems: list[str] = []

    def params(function: Any) -> tuple[str, ...]:
        return tuple(inspect.signature(function).parameters)

    if params(_PLAIN_PARTITION_RECORDS.__init__) != _PARTITION_RECORDS_PARAMS:
        problems.append(f"PartitionRecords.__init__{params(_PLAIN_PARTITION_RECORDS.__init__)}")
    if params(_PLAIN_FETCH_RESULT.__init__) != _FETCH_RESULT_PARAMS:
        problems.append(f"FetchResult.__init__{params(_PLAIN_FETCH_RESULT.__init__)}")
    for owner, name in ((_PLAIN_FETCH_RESULT, "check_assignment"), (_PLAIN_FETCH_RESULT, "has_more"),
                        (_PLAIN_FETCH_RESULT, "_update_position"), (_PLAIN_FETCH_RESULT, "getone")):  # fmt: skip
        if not callable(getattr(owner, name, None)):
            problems.append(f"{owner.__name__}.{name} missing")
    if not isinstance(getattr(fetcher, "READ_UNCOMMITTED", None), int):
        problems.append("fetcher.READ_UNCOMMITTED missing")
    # The fetcher builds both classes through the module's globals and tests a result's type against the global.
    build = fetcher.Fetcher._proc_fetch_request.__code__.co_names
    drain = fetcher.Fetcher.fetched_records.__code__.co_names
    if "PartitionRecords" not in build or "FetchResult" not in build or "FetchResult" not in drain:
        problems.append("Fetcher no longer builds PartitionRecords/FetchResult through its module's globals")
    plain = _PLAIN_PARTITION_RECORDS.__dict__
    for name in ("_records", "_tp", "_check_crcs", "next_fetch_offset"):
        if name not in inspect.getsource(plain["__init__"]):
            problems.append(f"PartitionRecords.{name} not set by __init__")
    return problems


def install() -> bool:
    """Swap the fetcher's classes for the fast ones (idempotent); False, with a warning, when aiokafka changed."""
    if fetcher.PartitionRecords is FastPartitionRecords:
        return True
    problems = incompatibilities()
    if problems:
        log.warning("aiokafka's fetcher changed (%s): consumed records stay ConsumerRecords", "; ".join(problems))
        return False
    fetcher.PartitionRecords = FastPartitionRecords
    fetcher.FetchResult = FastFetchResult
    return True


def uninstall() -> None:
    """Put aiokafka's own classes back (tests). Only with no consumer running: the fetcher tests a result's type
    against the module's global, so a result made before the swap back would be taken for an error."""
    fetcher.PartitionRecords = _PLAIN_PARTITION_RECORDS
    fetcher.FetchResult = _PLAIN_FETCH_RESULT
