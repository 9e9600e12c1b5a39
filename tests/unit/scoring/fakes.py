"""Hand-written fakes of the scoring write use cases' interfaces (services/scoring/service/ports.py and
service/recompute.py): in-memory tables with the behaviour the PostgreSQL adapters guarantee — a transaction
commits whole or not at all, a dead letter already stored is ignored, a new dossier created by someone else
meanwhile comes back as a conflict, locked dead letters are only pending ones whose unit is registered."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.scoring.domain.apply import DossierChange, StoredDossier, StoredDossierLoader
from services.scoring.domain.counters import CounterKey
from services.scoring.domain.effective import TreeView
from services.scoring.domain.state import DossierState
from services.scoring.service.ports import DeadLetter, NewDossiersExistError, StoredDeadLetter, dead_letter_status
from shared.contract import EventRejection
from shared.units import Unit, UnitLevel, UnitRegistry

SEPTEMBER = datetime(2026, 9, 20, 3, tzinfo=UTC)
OCTOBER = datetime(2026, 10, 2, 3, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Record:
    """A consumed Kafka record."""

    value: bytes | None
    offset: int
    topic: str = "dossier-events"
    partition: int = 0
    timestamp: int = 1_790_000_000_000
    key: bytes | None = None


def registry_of(unit_ids: Iterable[str]) -> UnitRegistry:
    """A city, one district, and the given units as its communes."""
    units = [Unit("CITY", "Thành phố", UnitLevel.CITY, None), Unit("D1", "Quận 1", UnitLevel.DISTRICT, "CITY")]
    units += [Unit(unit_id, unit_id, UnitLevel.COMMUNE, "D1") for unit_id in sorted(set(unit_ids) - {"CITY", "D1"})]
    return UnitRegistry(units)


class FakeDirectory:
    """The registry as committed (`committed`, what the database says) and this process's copy of it."""

    def __init__(self, units: Iterable[str]) -> None:
        self.committed: set[str] = {"CITY", "D1", *units}
        self._copy: set[str] = set(self.committed)
        self.view = TreeView(registry_of(self._copy))
        self.loads = 0

    def exists(self, unit_id: str) -> bool:
        return unit_id in self._copy

    async def known_in_database(self, unit_ids: Sequence[str]) -> set[str]:
        return set(unit_ids) & self.committed

    async def load(self) -> bool:
        self.loads += 1
        if self._copy == self.committed:
            return False
        self._copy = set(self.committed)
        self.view = TreeView(registry_of(self._copy))
        return True


@dataclass
class DeadLetterRow:
    record: Any
    rejection: EventRejection
    status: str
    unit_id: str | None
    attempts: int = 0


@dataclass
class Tables:
    dossiers: dict[str, tuple[DossierState, str]] = field(default_factory=dict)
    counters: dict[CounterKey, int] = field(default_factory=dict)
    dead_letters: dict[int, DeadLetterRow] = field(default_factory=dict)
    notified: list[set[str]] = field(default_factory=list)


class FakeTransaction:
    def __init__(self, tables: Tables, store: FakeWriteStore, new_may_exist: bool) -> None:
        self.tables = tables
        self._store = store
        self._directory = store.directory
        self._created_meanwhile = store.created_meanwhile
        self._down = store.down
        self._new_may_exist = new_may_exist

    def _stored(self, rows: Iterable[tuple[str, tuple[DossierState, str]]]) -> dict[str, StoredDossier]:
        loader = StoredDossierLoader()
        return {dossier_id: loader.load(state, month) for dossier_id, (state, month) in sorted(rows)}

    async def load_for_update(self, dossier_ids: Sequence[str]) -> dict[str, StoredDossier]:
        dossiers = self.tables.dossiers
        return self._stored((i, dossiers[i]) for i in dossier_ids if i in dossiers)

    async def load_open_to_roll(self, month: str, limit: int) -> dict[str, StoredDossier]:
        rows = [
            (i, (state, evaluated))
            for i, (state, evaluated) in sorted(self.tables.dossiers.items())
            if state.receipt is not None and state.ended_at is None and evaluated < month
        ]
        return self._stored(rows[:limit])

    async def write_changes(self, changes: Sequence[DossierChange]) -> set[str]:
        conflicts: set[str] = set()
        for change in changes:
            dossier_id = change.state.dossier_id
            if change.created and dossier_id in self._created_meanwhile:  # another consumer's committed insert
                theirs = (self._created_meanwhile.pop(dossier_id), change.evaluated_month)
                if not self._new_may_exist:  # the plain insert waited for their commit, then failed
                    self._store.tables.dossiers[dossier_id] = theirs
                    raise NewDossiersExistError(dossier_id)
                self.tables.dossiers[dossier_id] = theirs
                conflicts.add(dossier_id)
                continue
            if change.created and dossier_id in self.tables.dossiers:
                if not self._new_may_exist:
                    raise NewDossiersExistError(dossier_id)
                conflicts.add(dossier_id)
                continue
            self.tables.dossiers[dossier_id] = (change.state, change.evaluated_month)
        return conflicts

    async def add_counter_delta(self, delta: Mapping[CounterKey, int]) -> None:
        if self._down:
            raise ConnectionError("database away")
        counters = self.tables.counters
        for key, value in delta.items():
            counters[key] = counters.get(key, 0) + value

    async def months_changed(self, months: set[str]) -> None:
        self.tables.notified.append(set(months))

    async def insert_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        stored = {
            (row.record.topic, row.record.partition, row.record.offset) for row in self.tables.dead_letters.values()
        }
        for letter in letters:
            record = letter.record
            if (record.topic, record.partition, record.offset) not in stored:
                row = DeadLetterRow(record, letter.rejection, letter.status, letter.unit_id)
                self.tables.dead_letters[len(self.tables.dead_letters) + 1] = row

    async def lock_dead_letters(
        self, *, pending_only: bool, ids: Sequence[int] | None, limit: int
    ) -> list[StoredDeadLetter]:
        rows = self.tables.dead_letters
        if pending_only:
            chosen = [
                i for i, row in rows.items() if row.status == "pending" and row.unit_id in self._directory.committed
            ]
        else:
            chosen = [i for i in ids or () if i in rows and rows[i].status in ("pending", "dead")]
        return [StoredDeadLetter(i, rows[i].record) for i in sorted(chosen)[:limit]]

    async def mark_applied(self, dead_letter_ids: Sequence[int]) -> None:
        for i in dead_letter_ids:
            row = self.tables.dead_letters[i]
            row.status, row.attempts = "applied", row.attempts + 1

    async def mark_failed(self, failed: Sequence[tuple[int, EventRejection]]) -> None:
        for i, rejection in failed:
            row = self.tables.dead_letters[i]
            row.rejection, row.status, row.attempts = rejection, dead_letter_status(rejection), row.attempts + 1


class FakeWriteStore:
    """Committed tables; a transaction works on a copy that replaces them only when it ends without error."""

    def __init__(self, directory: FakeDirectory) -> None:
        self.tables = Tables()
        self.directory = directory
        self.transactions = 0
        self.created_meanwhile: dict[str, DossierState] = {}
        """Dossiers another consumer inserts while the next transaction runs (a rebalance race)."""
        self.down = False
        """The database fails the transaction's counter statement."""
        self.modes: list[bool] = []
        """`new_may_exist` of every transaction begun, committed or not."""

    @contextlib.asynccontextmanager
    async def transaction(self, *, new_may_exist: bool = False) -> AsyncIterator[FakeTransaction]:
        self.modes.append(new_may_exist)
        working = copy.deepcopy(self.tables)
        yield FakeTransaction(working, self, new_may_exist)
        self.tables = working
        self.transactions += 1


@dataclass
class FakeDeadLetterPublisher:
    published: list[DeadLetter] = field(default_factory=list)
    fail: bool = False

    async def publish(self, letters: Sequence[DeadLetter]) -> None:
        if self.fail:
            raise ConnectionError("broker away")
        self.published.extend(letters)


@dataclass
class FakeMetrics:
    batches: list[tuple[int, int, int, list[str]]] = field(default_factory=list)
    redrives: list[tuple[int, int]] = field(default_factory=list)

    def observe_batch(
        self, records: int, applied: int, duplicates: int, dead_reasons: Sequence[str], seconds: float
    ) -> None:
        self.batches.append((records, applied, duplicates, list(dead_reasons)))

    def observe_redrive(self, applied: int, still_rejected: int) -> None:
        self.redrives.append((applied, still_rejected))
