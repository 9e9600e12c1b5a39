"""Applies one consumed batch of `dossier-events` records: decode, dead-letter the invalid, merge, persist.

The order is what makes the effect exactly-once: (1) one PostgreSQL transaction writes the dossiers, the counter
deltas and the dead-letter rows; (2) the dead letters are published to `dossier-events-dlq`; (3) only then does the
caller commit the Kafka offsets. A crash anywhere replays the batch, and the event_id idempotency of the merge (plus
ON CONFLICT on the dead-letter table) absorbs the replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
import orjson

from services.scoring.adapters import store
from services.scoring.adapters.figures_notify import notify_months
from services.scoring.adapters.metrics import METRICS
from services.scoring.adapters.units import UnitDirectory
from services.scoring.domain.apply import AncestorLookup, BatchApplication, BatchOutcome, group_by_dossier, roll_over
from services.scoring.domain.effective import touched_owners
from services.scoring.domain.facts import EventFact, FactRecord, make_record
from services.scoring.domain.timebase import month_label, month_of, to_instant
from shared.contract import (
    Channel,
    DossierEvent,
    ErrorCode,
    EventRejection,
    EventType,
    Outcome,
    PaymentMethod,
    RatingLevel,
    decode_record_fields,
)
from shared.indicators import VIETNAM_TZ

log = logging.getLogger(__name__)
# Dossiers per part of a batch (see _apply_in_parts): about 3 MB of upsert parameters, which the loopback socket
# buffers take whole, so PostgreSQL can start on a part while the next one is computed.
PART_DOSSIERS = 2500


class RawRecord(Protocol):
    """What scoring needs of a Kafka record (aiokafka's ConsumerRecord has it)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: RawRecord
    rejection: EventRejection


@dataclass
class ApplyReport:
    applied: int = 0
    duplicates: int = 0
    dead: list[DeadLetter] = field(default_factory=list)
    touched_units: set[str] = field(default_factory=set)
    """Units whose current figures may have changed: the named units' chains and their effective units'."""
    months: set[str] = field(default_factory=set)
    """Months whose stored counters changed."""


@dataclass
class RedriveReport(ApplyReport):
    still_rejected: int = 0


# Facts are counted for the unit they name only: the stored counters are own counters (migration 0007).
OWN_UNIT_ONLY = AncestorLookup({})


def to_fact(event: DossierEvent) -> EventFact:
    assert event.ingested_at is not None  # decode_record always sets it
    return EventFact(
        event_id=event.event_id,
        dossier_id=event.dossier_id,
        unit_id=event.unit_id,
        type=event.type.value,
        occurred_at=event.occurred_at,
        ingested_at=event.ingested_at,
        procedure_id=event.procedure_id,
        channel=event.channel.value if event.channel is not None else None,
        due_at=event.due_at,
        digitized=bool(event.digitized),
        reused_data=bool(event.reused_data),
        outcome=event.outcome.value if event.outcome is not None else None,
        e_result=bool(event.e_result),
        method=event.method.value if event.method is not None else None,
        amount=event.amount,
        level=event.level.value if event.level is not None else None,
    )


# Enum members of the contract → the plain strings the domain keeps (a dict lookup is cheaper than `.value`).
_PLAIN: dict[Any, str] = {
    member: member.value for enum in (EventType, Channel, Outcome, PaymentMethod, RatingLevel) for member in enum
}
_EMPTY = EventRejection(ErrorCode.INVALID_JSON, "Bản ghi rỗng / empty record")

Decoded = tuple[list[tuple[str, FactRecord]], list[tuple["RawRecord", EventRejection]]]


def decode_batch(records: Sequence[RawRecord], unit_exists: Callable[[str], bool]) -> Decoded:
    """Decode records straight to (dossier_id, FactRecord): `decode_record`'s rules (through the same checker,
    without building the pydantic model), then `record_from_fact`'s conversion. Invalid records come back with
    their rejection, in order."""
    facts: list[tuple[str, FactRecord]] = []
    rejected: list[tuple[RawRecord, EventRejection]] = []
    plain = _PLAIN
    for record in records:
        value = record.value
        if value is None:
            rejected.append((record, _EMPTY))
            continue
        fields = decode_record_fields(value, record.timestamp, unit_exists=unit_exists)
        if isinstance(fields, EventRejection):
            rejected.append((record, fields))
            continue
        get = fields.get
        due = get("due_at")
        channel, outcome, method, level = get("channel"), get("outcome"), get("method"), get("level")
        facts.append(
            (
                fields["dossier_id"],
                make_record(
                    fields["event_id"],
                    plain[fields["type"]],
                    fields["unit_id"],
                    to_instant(fields["occurred_at"]),
                    to_instant(fields["ingested_at"]),
                    to_instant(due) if due is not None else None,
                    get("procedure_id"),
                    plain[channel] if channel is not None else None,
                    get("digitized"),
                    get("reused_data"),
                    plain[outcome] if outcome is not None else None,
                    get("e_result"),
                    plain[method] if method is not None else None,
                    get("amount"),
                    plain[level] if level is not None else None,
                ),
            )
        )
    return facts, rejected


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is applied.

    A batch allocates about a million short-lived container objects (decoded events, states, contribution keys)
    that form no reference cycles and are freed by reference counting. Left on, the collector would traverse them
    again and again — measured at about half of the consumer's CPU time (bench/scoring_hotpath.py). Garbage cycles
    made meanwhile (asyncio internals) are simply collected after the batch.
    """
    if not gc.isenabled():  # someone else paused it: leave it to them
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


PublishDeadLetters = Callable[[Sequence[DeadLetter]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A dead letter read back from `dlq_records`, in the shape of the Kafka record it was (RawRecord)."""

    dead_letter_id: int
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


def unit_named_in(value: bytes | None) -> str | None:
    """The unit_id a (valid but for its unit) record names: what a pending dead letter waits for."""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        unit_id = orjson.loads(value or b"null").get("unit_id")
        return unit_id if isinstance(unit_id, str) else None
    return None


class BatchApplier:
    def __init__(
        self,
        pool: asyncpg.Pool,
        directory: UnitDirectory,
        publish_dead_letters: PublishDeadLetters,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        part_dossiers: int = PART_DOSSIERS,
    ) -> None:
        self._part_dossiers = part_dossiers
        self._pool = pool
        self._directory = directory
        self._publish_dead_letters = publish_dead_letters
        self._clock = clock

    async def _decode(self, records: Sequence[RawRecord]) -> Decoded:
        """Decode against the registry as committed: a unit our copy does not know is looked up in the database
        (and the copy re-read) before any record is dead-lettered for it (SPEC §1)."""
        facts, rejected = decode_batch(records, self._directory.exists)
        waiting = [(record, unit_named_in(record.value)) for record, r in rejected if r.error == ErrorCode.UNKNOWN_UNIT]
        if not waiting:
            return facts, rejected
        known = await self._directory.known_in_database(sorted({unit for _, unit in waiting if unit is not None}))
        if not known:
            return facts, rejected
        await self._directory.load()
        retry = [record for record, unit in waiting if unit in known]
        retried = {id(record) for record in retry}
        rejected = [(record, r) for record, r in rejected if id(record) not in retried]
        more_facts, more_rejected = decode_batch(retry, self._directory.exists)
        return facts + more_facts, rejected + more_rejected

    async def apply(self, records: Sequence[RawRecord]) -> ApplyReport:
        with cyclic_gc_paused():
            return await self._apply(records)

    async def _apply(self, records: Sequence[RawRecord]) -> ApplyReport:
        started = time.perf_counter()
        facts, rejected = await self._decode(records)
        report = ApplyReport(dead=[DeadLetter(record, rejection) for record, rejection in rejected])
        async with self._pool.acquire() as conn, conn.transaction():
            outcome = await self._apply_facts(conn, facts)
            await store.insert_dead_letters(conn, [_dlq_row(d) for d in report.dead])
        if report.dead:
            await self._publish_dead_letters(report.dead)
        self._fill_report(report, facts, outcome)
        METRICS.observe_batch(
            len(records), report.applied, report.duplicates, report.dead, time.perf_counter() - started
        )
        return report

    def _fill_report(self, report: ApplyReport, facts: Sequence[object], outcome: BatchOutcome) -> None:
        report.applied = len(facts) - outcome.duplicates
        report.duplicates = outcome.duplicates
        today = self._clock().astimezone(VIETNAM_TZ).date()
        report.touched_units = touched_owners(outcome.touched_units, self._directory.view, today)
        report.months = {month for _, month, _ in outcome.counter_delta}

    async def _apply_facts(self, conn: asyncpg.Connection, facts: list[tuple[str, FactRecord]]) -> BatchOutcome:
        """Merge decoded facts into their dossiers and add the deltas to the OWN counters of the units named on
        the facts (subtrees and successors are summed when read), inside the caller's transaction."""
        by_dossier, count = group_by_dossier(facts)
        stored = await store.load_for_update(conn, sorted(by_dossier))
        application = BatchApplication(stored, now=self._clock(), ancestors=OWN_UNIT_ONLY, events=count)
        # In id order, the order new dossiers are inserted in: two consumers inserting the same new ids wait
        # for each other in one direction only.
        dossiers = sorted(by_dossier.items())
        conflicts = await _apply_in_parts(conn, application, dossiers, self._part_dossiers)
        if conflicts:
            await _reapply_created_meanwhile(conn, application, conflicts)
        outcome = application.outcome()
        await store.add_counter_delta(conn, outcome)
        if outcome.changes:
            await notify_months(conn, {month for _, month, _ in outcome.counter_delta})
        return outcome

    async def redrive(
        self, *, pending_only: bool, ids: Sequence[int] | None = None, limit: int = 5000
    ) -> RedriveReport:
        """Apply dead letters again, exactly once: the pending ones whose unit is now registered (`pending_only`,
        what the service runs every second), or the given ids whatever their reason (an operator, once the cause
        is fixed). Rows are locked (SKIP LOCKED: two processes never take the same row), applied and marked in
        one transaction; a record that is still invalid keeps its row, with the reason of this attempt."""
        with cyclic_gc_paused():
            async with self._pool.acquire() as conn, conn.transaction():
                rows = await store.lock_dead_letters(conn, pending_only=pending_only, ids=ids, limit=limit)
                if not rows:
                    return RedriveReport()
                records = [StoredRecord(*row) for row in rows]
                facts, rejected = await self._decode(records)
                outcome = await self._apply_facts(conn, facts)
                still = {record.dead_letter_id: rejection for record, rejection in rejected}  # type: ignore[attr-defined]
                applied = [record.dead_letter_id for record in records if record.dead_letter_id not in still]
                await store.mark_dead_letters_applied(conn, applied)
                await store.mark_dead_letters_failed(
                    conn,
                    [(i, str(r.error), r.detail, "pending" if r.error == ErrorCode.UNKNOWN_UNIT else "dead")
                     for i, r in still.items()],
                )  # fmt: skip
        report = RedriveReport(applied=len(applied), still_rejected=len(still))
        self._fill_report(report, facts, outcome)
        METRICS.observe_redrive(report.applied, report.still_rejected)
        if report.applied:
            log.info("re-applied %d dead letters (%d events new); %d still rejected", report.applied,
                     report.applied - report.duplicates, report.still_rejected)  # fmt: skip
        return report

    async def roll_over_open_dossiers(self, chunk: int = 2000) -> int:
        """Bring every open dossier's contribution into the current month; returns how many were rolled."""
        month = month_label(month_of(to_instant(self._clock())))
        rolled = 0
        while True:
            async with self._pool.acquire() as conn, conn.transaction():
                stored = await store.load_open_to_roll(conn, month, chunk)
                if not stored:
                    return rolled
                outcome = roll_over(stored, now=self._clock(), ancestors=OWN_UNIT_ONLY)
                await store.write_changes(conn, outcome.changes)
                await store.add_counter_delta(conn, outcome)
            rolled += len(stored)


async def _apply_in_parts(
    conn: asyncpg.Connection,
    application: BatchApplication,
    dossiers: list[tuple[str, list[FactRecord]]],
    part_size: int,
) -> set[str]:
    """Merge and count the batch part by part, writing each part's changes while the next part is computed;
    returns the ids of new dossiers that another transaction created meanwhile (see store.write_changes).

    One connection runs one statement at a time, but PostgreSQL executes it on the other core: handing it the
    upsert of part n before computing part n + 1 overlaps the two instead of leaving one idle. Same transaction,
    same rows, same statements as writing everything at the end.
    """
    writing: asyncio.Future[set[str]] | None = None
    conflicts: set[str] = set()
    try:
        for start in range(0, len(dossiers), part_size):
            changes = application.apply(dossiers[start : start + part_size])
            if writing is not None:
                conflicts |= await writing
                writing = None
            if changes:
                writing = asyncio.ensure_future(store.write_changes(conn, changes))
                await asyncio.sleep(0)  # let the task send the statement before the next part's computation
        if writing is not None:
            conflicts |= await writing
            writing = None
        return conflicts
    finally:
        if writing is not None:  # a part failed to compute: let the statement in flight end before rolling back
            with contextlib.suppress(Exception):
                await writing


async def _reapply_created_meanwhile(
    conn: asyncpg.Connection, application: BatchApplication, conflicts: set[str]
) -> None:
    """New dossiers of this batch that another consumer inserted first (its transaction has committed: the insert
    waited for it). Lock those rows now and merge this batch's records into them."""
    found = await store.load_for_update(conn, sorted(conflicts))
    if set(found) != conflicts:  # a row can only vanish if someone deletes dossiers: refuse to guess
        raise RuntimeError(f"dossiers vanished during the batch: {sorted(conflicts - set(found))[:5]}")
    log.info("%d new dossiers of this batch were created meanwhile by another consumer: merged", len(found))
    remaining = await store.write_changes(conn, application.reapply_existing(found))
    assert not remaining  # updates only


def _dlq_row(dead: DeadLetter) -> tuple[Any, ...]:
    record, rejection = dead.record, dead.rejection
    pending = rejection.error == ErrorCode.UNKNOWN_UNIT
    return (
        record.topic,
        record.partition,
        record.offset,
        record.key,
        record.value,
        rejection.event_id,
        str(rejection.error),
        rejection.detail,
        "pending" if pending else "dead",
        unit_named_in(record.value) if pending else None,
        record.timestamp,
    )
