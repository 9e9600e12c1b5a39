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

from services.scoring.adapters import store
from services.scoring.adapters.metrics import METRICS
from services.scoring.adapters.units import UnitDirectory
from services.scoring.domain.apply import BatchApplication, group_by_dossier, roll_over
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

    def _decode(self, records: Sequence[RawRecord]) -> Decoded:
        return decode_batch(records, self._directory.exists)

    async def apply(self, records: Sequence[RawRecord]) -> ApplyReport:
        with cyclic_gc_paused():
            return await self._apply(records)

    async def _apply(self, records: Sequence[RawRecord]) -> ApplyReport:
        started = time.perf_counter()
        facts, rejected = self._decode(records)
        # A unit registered a moment ago may not be in our copy yet: re-read the registry once and retry those.
        if any(r.error == ErrorCode.UNKNOWN_UNIT for _, r in rejected) and await self._directory.refresh_if_stale():
            retry = [record for record, r in rejected if r.error == ErrorCode.UNKNOWN_UNIT]
            rejected = [(record, r) for record, r in rejected if r.error != ErrorCode.UNKNOWN_UNIT]
            more_facts, more_rejected = self._decode(retry)
            facts.extend(more_facts)
            rejected.extend(more_rejected)

        report = ApplyReport(dead=[DeadLetter(record, rejection) for record, rejection in rejected])
        now = self._clock()
        by_dossier, count = group_by_dossier(facts)
        async with self._pool.acquire() as conn, conn.transaction():
            ancestors = await self._directory.hold_tree(conn)
            stored = await store.load_for_update(conn, sorted(by_dossier))
            application = BatchApplication(stored, now=now, ancestors=ancestors, events=count)
            # In id order, the order new dossiers are inserted in: two consumers inserting the same new ids wait
            # for each other in one direction only.
            dossiers = sorted(by_dossier.items())
            conflicts = await _apply_in_parts(conn, application, dossiers, self._part_dossiers)
            if conflicts:
                await _reapply_created_meanwhile(conn, application, conflicts)
            outcome = application.outcome()
            await store.add_counter_delta(conn, outcome)
            await store.insert_dead_letters(conn, [_dlq_row(d) for d in report.dead])
        if report.dead:
            await self._publish_dead_letters(report.dead)
        report.applied = len(facts) - outcome.duplicates
        report.duplicates = outcome.duplicates
        report.touched_units = outcome.touched_units
        METRICS.observe_batch(
            len(records), report.applied, report.duplicates, report.dead, time.perf_counter() - started
        )
        return report

    async def roll_over_open_dossiers(self, chunk: int = 2000) -> int:
        """Bring every open dossier's contribution into the current month; returns how many were rolled."""
        month = month_label(month_of(to_instant(self._clock())))
        rolled = 0
        while True:
            async with self._pool.acquire() as conn, conn.transaction():
                ancestors = await self._directory.hold_tree(conn)
                stored = await store.load_open_to_roll(conn, month, chunk)
                if not stored:
                    return rolled
                outcome = roll_over(stored, now=self._clock(), ancestors=ancestors)
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
    return (
        record.topic,
        record.partition,
        record.offset,
        record.key,
        record.value,
        rejection.event_id,
        str(rejection.error),
        rejection.detail,
    )
