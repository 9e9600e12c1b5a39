"""The interfaces the scoring write use cases run on (implemented in adapters/, faked in tests/unit/scoring).

Small on purpose: each names only what a use case asks of the database, the broker or the registry copy, so the
use cases can be unit-tested with hand-written fakes and the adapters never need to import a use case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from services.scoring.domain.apply import DossierChange, StoredDossier
from services.scoring.domain.counters import CounterKey
from services.scoring.domain.effective import TreeView
from services.scoring.domain.facts import FactRecord
from shared.contract import ErrorCode, EventRejection


class RawRecord(Protocol):
    """What scoring needs of a Kafka record (aiokafka's ConsumerRecord has it; so does a stored dead letter)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """A RawRecord held in memory: a dead letter read back from its table, or a record a bench builds."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


def dead_letter_status(rejection: EventRejection) -> str:
    """A record naming a unit not registered yet waits (`pending`, applied once the unit exists, SPEC §1); any
    other rejection is `dead` until an operator re-drives it."""
    return "pending" if rejection.error == ErrorCode.UNKNOWN_UNIT else "dead"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: RawRecord
    rejection: EventRejection
    unit_id: str | None = None
    """The unit a pending dead letter waits for (None for any other rejection)."""

    @property
    def status(self) -> str:
        return dead_letter_status(self.rejection)


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    """A dead letter read back from its table, with the Kafka record it was."""

    dead_letter_id: int
    record: RawRecord


Decoded = tuple[list[tuple[str, FactRecord]], list[tuple[RawRecord, EventRejection]]]
"""(dossier_id, record) of every valid record, in order; every invalid record with its rejection, in order."""


class RecordDecoder(Protocol):
    def decode(self, records: Sequence[RawRecord], unit_exists: Callable[[str], bool]) -> Decoded: ...

    def unit_named_in(self, record: RawRecord) -> str | None:
        """The unit_id a (valid but for its unit) record names."""
        ...


class UnitDirectoryView(Protocol):
    """The registry copy: answered from memory, re-read when a batch names a unit the copy does not know."""

    @property
    def view(self) -> TreeView: ...

    def exists(self, unit_id: str) -> bool: ...

    async def known_in_database(self, unit_ids: Sequence[str]) -> set[str]: ...

    async def load(self) -> bool: ...


class DossierCounterStore(Protocol):
    """Dossier rows (locked while a transaction holds them) and the own-counter table."""

    async def load_for_update(self, dossier_ids: Sequence[str]) -> dict[str, StoredDossier]: ...

    async def load_open_to_roll(self, month: str, limit: int) -> dict[str, StoredDossier]: ...

    async def write_changes(self, changes: Sequence[DossierChange]) -> set[str]:
        """Insert new dossiers, update the others; returns the new ones another transaction created meanwhile
        (always empty outside a `new_may_exist` transaction: NewDossiersExistError is raised instead)."""
        ...

    async def add_counter_delta(self, delta: Mapping[CounterKey, int]) -> None: ...


class DeadLetterStore(Protocol):
    async def insert_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Idempotent: a record already stored (same topic, partition, offset) is left as it is."""
        ...

    async def lock_dead_letters(
        self, *, pending_only: bool, ids: Sequence[int] | None, limit: int
    ) -> list[StoredDeadLetter]:
        """Dead letters to apply again, locked for this transaction and skipped by any other."""
        ...

    async def mark_applied(self, dead_letter_ids: Sequence[int]) -> None: ...

    async def mark_failed(self, failed: Sequence[tuple[int, EventRejection]]) -> None: ...


class FiguresNotifier(Protocol):
    async def months_changed(self, months: set[str]) -> None:
        """Tell every scoring process these months' figures changed (delivered when the transaction commits)."""
        ...


class WriteTransaction(DossierCounterStore, DeadLetterStore, FiguresNotifier, Protocol):
    """The three stores inside ONE database transaction: a batch's effect commits whole or not at all."""


class NewDossiersExistError(Exception):
    """A dossier the transaction inserts as new was created meanwhile by another transaction — two consumers
    applying the same records, as during a rebalance. The transaction is spoilt: roll it back and apply the batch
    again in a transaction that expects it (`WriteStore.transaction(new_may_exist=True)`)."""


class WriteStore(Protocol):
    def transaction(self, *, new_may_exist: bool = False) -> AbstractAsyncContextManager[WriteTransaction]:
        """One transaction. `new_may_exist=False`: `write_changes` inserts new dossiers without looking for rows
        another transaction created meanwhile, and raises NewDossiersExistError when one did (cheaper per row);
        True: it skips them and returns their ids (the caller merges into them)."""
        ...


class TableUpkeep(Protocol):
    """The dossiers table's maintenance after a back-fill (service/upkeep.py)."""

    async def dossiers_changed_since_vacuum(self) -> int:
        """Rows inserted or left dead in `dossiers` since its last vacuum (any: manual or autovacuum)."""
        ...

    async def dossiers_written(self) -> int:
        """Rows of `dossiers` inserted or updated so far by every process (cumulative statistics)."""
        ...

    async def vacuum_dossiers(self) -> bool:
        """VACUUM (ANALYZE) of `dossiers`, outside any transaction; False when another vacuum held it."""
        ...


class DeadLetterPublisher(Protocol):
    async def publish(self, letters: Sequence[DeadLetter]) -> None: ...


class BatchMetrics(Protocol):
    def observe_batch(
        self, records: int, applied: int, duplicates: int, dead_reasons: Sequence[str], seconds: float
    ) -> None: ...

    def observe_redrive(self, applied: int, still_rejected: int) -> None: ...


HotSection = Callable[[], AbstractContextManager[None]]
"""Wraps the CPU-bound part of applying a batch (the service pauses the cyclic GC there, adapters/gc.py)."""
