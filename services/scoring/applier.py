"""Applies one consumed batch of `dossier-events` records: decode, dead-letter the invalid, merge, persist.

The order is what makes the effect exactly-once: (1) one PostgreSQL transaction writes the dossiers, the counter
deltas and the dead-letter rows; (2) the dead letters are published to `dossier-events-dlq`; (3) only then does the
caller commit the Kafka offsets. A crash anywhere replays the batch, and the event_id idempotency of the merge (plus
ON CONFLICT on the dead-letter table) absorbs the replay.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg

from services.scoring.adapters import store
from services.scoring.adapters.metrics import METRICS
from services.scoring.adapters.units import UnitDirectory
from services.scoring.domain.apply import apply_facts, roll_over
from services.scoring.domain.facts import EventFact
from services.scoring.domain.timebase import month_label, month_of, to_instant
from shared.contract import DossierEvent, ErrorCode, EventRejection, decode_record

log = logging.getLogger(__name__)


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


PublishDeadLetters = Callable[[Sequence[DeadLetter]], Awaitable[None]]


class BatchApplier:
    def __init__(
        self,
        pool: asyncpg.Pool,
        directory: UnitDirectory,
        publish_dead_letters: PublishDeadLetters,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = pool
        self._directory = directory
        self._publish_dead_letters = publish_dead_letters
        self._clock = clock

    def _decode(self, records: Sequence[RawRecord]) -> tuple[list[EventFact], list[tuple[RawRecord, EventRejection]]]:
        facts: list[EventFact] = []
        rejected: list[tuple[RawRecord, EventRejection]] = []
        for record in records:
            if record.value is None:
                rejected.append((record, EventRejection(ErrorCode.INVALID_JSON, "Bản ghi rỗng / empty record")))
                continue
            result = decode_record(record.value, record.timestamp, unit_exists=self._directory.exists)
            if isinstance(result, EventRejection):
                rejected.append((record, result))
            else:
                facts.append(to_fact(result))
        return facts, rejected

    async def apply(self, records: Sequence[RawRecord]) -> ApplyReport:
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
        async with self._pool.acquire() as conn, conn.transaction():
            stored = await store.load_for_update(conn, sorted({f.dossier_id for f in facts}))
            outcome = apply_facts(facts, stored, now=now, ancestors=self._directory.ancestors)
            await store.write_changes(conn, outcome.changes)
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
                stored = await store.load_open_to_roll(conn, month, chunk)
                if not stored:
                    return rolled
                outcome = roll_over(stored, now=self._clock(), ancestors=self._directory.ancestors)
                await store.write_changes(conn, outcome.changes)
                await store.add_counter_delta(conn, outcome)
            rolled += len(stored)


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
