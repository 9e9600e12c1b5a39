"""Apply one consumed batch of `dossier-events` records: decode, dead-letter the invalid, merge, persist; re-apply
pending dead letters once their unit exists; roll open dossiers into a new month.

The order is what makes the effect exactly-once: (1) one database transaction writes the dossiers, the counter
deltas and the dead-letter rows; (2) the dead letters are published to `dossier-events-dlq`; (3) only then does the
caller commit the Kafka offsets. A crash anywhere replays the batch, and the event_id idempotency of the merge (plus
the dead-letter store ignoring a record it already holds) absorbs the replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.scoring.domain.apply import AncestorLookup, BatchApplication, BatchOutcome, group_by_dossier, roll_over
from services.scoring.domain.catch_up import CATCHING_UP_AFTER_S, is_catching_up, newest_ingested_at
from services.scoring.domain.effective import touched_owners
from services.scoring.domain.facts import FactRecord
from services.scoring.domain.timebase import month_label, month_of, to_instant
from services.scoring.service.ports import (
    BatchMetrics,
    DeadLetter,
    DeadLetterPublisher,
    Decoded,
    HotSection,
    NewDossiersExistError,
    RawRecord,
    RecordDecoder,
    UnitDirectoryView,
    WriteStore,
    WriteTransaction,
    dead_letter_status,
)
from services.scoring.service.upkeep import BatchActivity
from shared.contract import ErrorCode, EventRejection
from shared.indicators import VIETNAM_TZ

log = logging.getLogger(__name__)
# Dossiers per part of a batch (see _apply_in_parts): about 3 MB of upsert parameters, which the loopback socket
# buffers take whole, so PostgreSQL can start on a part while the next one is computed.
PART_DOSSIERS = 2500
# Facts are counted for the unit they name only: the stored counters are own counters (migration 0007).
OWN_UNIT_ONLY = AncestorLookup({})


@dataclass
class ApplyReport:
    applied: int = 0
    duplicates: int = 0
    dead: list[DeadLetter] = field(default_factory=list)
    touched_units: set[str] = field(default_factory=set)
    """Units whose current figures may have changed: the named units' chains and their effective units'."""
    months: set[str] = field(default_factory=set)
    """Months whose stored counters changed."""
    catching_up: bool | None = None
    """The batch's newest event was ingested long ago (domain/catch_up.py); None: no event to judge by."""


@dataclass
class RedriveReport(ApplyReport):
    still_rejected: int = 0


class BatchApplier:
    def __init__(
        self,
        store: WriteStore,
        directory: UnitDirectoryView,
        decoder: RecordDecoder,
        dead_letters: DeadLetterPublisher,
        metrics: BatchMetrics,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        hot_section: HotSection = contextlib.nullcontext,
        part_dossiers: int = PART_DOSSIERS,
        catching_up_after_s: float = CATCHING_UP_AFTER_S,
    ) -> None:
        self._store = store
        self._directory = directory
        self._decoder = decoder
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._clock = clock
        self._hot_section = hot_section
        self._part_dossiers = part_dossiers
        self._catching_up_after_s = catching_up_after_s
        self.activity = BatchActivity()
        """The batches applied, for the upkeep after a back-fill (service/upkeep.py)."""

    async def _decode(self, records: Sequence[RawRecord]) -> Decoded:
        """Decode against the registry as committed: a unit our copy does not know is looked up in the database
        (and the copy re-read) before any record is dead-lettered for it (SPEC §1)."""
        decode, unit_named_in = self._decoder.decode, self._decoder.unit_named_in
        facts, rejected = decode(records, self._directory.exists)
        waiting = [(record, unit_named_in(record)) for record, r in rejected if r.error == ErrorCode.UNKNOWN_UNIT]
        if not waiting:
            return facts, rejected
        known = await self._directory.known_in_database(sorted({unit for _, unit in waiting if unit is not None}))
        if not known:
            return facts, rejected
        await self._directory.load()
        retry = [record for record, unit in waiting if unit in known]
        retried = {id(record) for record in retry}
        rejected = [(record, r) for record, r in rejected if id(record) not in retried]
        more_facts, more_rejected = decode(retry, self._directory.exists)
        return facts + more_facts, rejected + more_rejected

    async def apply(self, records: Sequence[RawRecord]) -> ApplyReport:
        with self._hot_section():
            return await self._apply(records)

    async def _apply(self, records: Sequence[RawRecord]) -> ApplyReport:
        started = time.perf_counter()
        facts, rejected = await self._decode(records)
        report = ApplyReport(dead=[self._dead_letter(record, rejection) for record, rejection in rejected])
        try:
            outcome = await self._write(facts, report.dead, new_may_exist=False)
        except NewDossiersExistError:
            # Another consumer holds the same records (a rebalance) and created some of the batch's new dossiers
            # first: this transaction is rolled back; again, merging into their rows.
            log.info("new dossiers of this batch were created meanwhile by another consumer: applying it again")
            outcome = await self._write(facts, report.dead, new_may_exist=True)
        if report.dead:
            await self._dead_letters.publish(report.dead)
        self._fill_report(report, facts, outcome)
        newest = newest_ingested_at(fact.ingested_at for _, fact in facts)
        report.catching_up = is_catching_up(newest, to_instant(self._clock()), self._catching_up_after_s)
        self.activity.batch_applied(report.catching_up, time.monotonic())
        reasons = [str(letter.rejection.error) for letter in report.dead]
        self._metrics.observe_batch(
            len(records), report.applied, report.duplicates, reasons, time.perf_counter() - started
        )
        return report

    async def _write(
        self, facts: list[tuple[str, FactRecord]], dead: list[DeadLetter], *, new_may_exist: bool
    ) -> BatchOutcome:
        """The batch's one transaction: dossiers, counters, dead letters."""
        async with self._store.transaction(new_may_exist=new_may_exist) as tx:
            outcome = await self._apply_facts(tx, facts)
            await tx.insert_dead_letters(dead)
        return outcome

    def _dead_letter(self, record: RawRecord, rejection: EventRejection) -> DeadLetter:
        pending = dead_letter_status(rejection) == "pending"
        return DeadLetter(record, rejection, self._decoder.unit_named_in(record) if pending else None)

    def _fill_report(self, report: ApplyReport, facts: Sequence[object], outcome: BatchOutcome) -> None:
        report.applied = len(facts) - outcome.duplicates
        report.duplicates = outcome.duplicates
        today = self._clock().astimezone(VIETNAM_TZ).date()
        report.touched_units = touched_owners(outcome.touched_units, self._directory.view, today)
        report.months = {month for _, month, _ in outcome.counter_delta}

    async def _apply_facts(self, tx: WriteTransaction, facts: list[tuple[str, FactRecord]]) -> BatchOutcome:
        """Merge decoded facts into their dossiers and add the deltas to the OWN counters of the units named on
        the facts (subtrees and successors are summed when read), inside the caller's transaction."""
        by_dossier, count = group_by_dossier(facts)
        ids = sorted(by_dossier)  # sorted once (tens of thousands of ids a batch): the lock order and the parts'
        stored = await tx.load_for_update(ids)
        application = BatchApplication(stored, now=self._clock(), ancestors=OWN_UNIT_ONLY, events=count)
        # In id order, the order new dossiers are inserted in: two consumers inserting the same new ids wait
        # for each other in one direction only.
        dossiers = [(dossier_id, by_dossier[dossier_id]) for dossier_id in ids]
        conflicts = await _apply_in_parts(tx, application, dossiers, self._part_dossiers)
        if conflicts:
            await _reapply_created_meanwhile(tx, application, conflicts)
        outcome = application.outcome()
        await tx.add_counter_delta(outcome.counter_delta)
        if outcome.changes:
            await tx.months_changed({month for _, month, _ in outcome.counter_delta})
        return outcome

    async def redrive(
        self, *, pending_only: bool, ids: Sequence[int] | None = None, limit: int = 5000
    ) -> RedriveReport:
        """Apply dead letters again, exactly once: the pending ones whose unit is now registered (`pending_only`,
        what the service runs every second), or the given ids whatever their reason (an operator, once the cause
        is fixed). Rows are locked (two processes never take the same row), applied and marked in one
        transaction; a record that is still invalid keeps its row, with the reason of this attempt."""
        with self._hot_section():
            async with self._store.transaction(new_may_exist=True) as tx:  # rare: the careful insert
                letters = await tx.lock_dead_letters(pending_only=pending_only, ids=ids, limit=limit)
                if not letters:
                    return RedriveReport()
                id_of = {id(letter.record): letter.dead_letter_id for letter in letters}
                facts, rejected = await self._decode([letter.record for letter in letters])
                outcome = await self._apply_facts(tx, facts)
                still = {id_of[id(record)]: rejection for record, rejection in rejected}
                applied = [letter.dead_letter_id for letter in letters if letter.dead_letter_id not in still]
                await tx.mark_applied(applied)
                await tx.mark_failed(list(still.items()))
        report = RedriveReport(applied=len(applied), still_rejected=len(still))
        self._fill_report(report, facts, outcome)
        self._metrics.observe_redrive(report.applied, report.still_rejected)
        if report.applied:
            log.info("re-applied %d dead letters (%d events new); %d still rejected", report.applied,
                     report.applied - report.duplicates, report.still_rejected)  # fmt: skip
        return report

    async def roll_over_open_dossiers(self, chunk: int = 2000) -> int:
        """Bring every open dossier's contribution into the current month; returns how many were rolled."""
        month = month_label(month_of(to_instant(self._clock())))
        rolled = 0
        while True:
            async with self._store.transaction() as tx:
                stored = await tx.load_open_to_roll(month, chunk)
                if not stored:
                    return rolled
                outcome = roll_over(stored, now=self._clock(), ancestors=OWN_UNIT_ONLY)
                await tx.write_changes(outcome.changes)
                await tx.add_counter_delta(outcome.counter_delta)
            rolled += len(stored)


async def _apply_in_parts(
    tx: WriteTransaction,
    application: BatchApplication,
    dossiers: list[tuple[str, list[FactRecord]]],
    part_size: int,
) -> set[str]:
    """Merge and count the batch part by part, writing each part's changes while the next part is computed;
    returns the ids of new dossiers that another transaction created meanwhile (see DossierCounterStore).

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
                writing = asyncio.ensure_future(tx.write_changes(changes))
                await asyncio.sleep(0)  # let the task send the statement before the next part's computation
        if writing is not None:
            conflicts |= await writing
            writing = None
        return conflicts
    finally:
        if writing is not None:  # a part failed to compute: let the statement in flight end before rolling back
            with contextlib.suppress(Exception):
                await writing


async def _reapply_created_meanwhile(tx: WriteTransaction, application: BatchApplication, conflicts: set[str]) -> None:
    """New dossiers of this batch that another consumer inserted first (its transaction has committed: the insert
    waited for it). Lock those rows now and merge this batch's records into them."""
    found = await tx.load_for_update(sorted(conflicts))
    if set(found) != conflicts:  # a row can only vanish if someone deletes dossiers: refuse to guess
        raise RuntimeError(f"dossiers vanished during the batch: {sorted(conflicts - set(found))[:5]}")
    log.info("%d new dossiers of this batch were created meanwhile by another consumer: merged", len(found))
    remaining = await tx.write_changes(application.reapply_existing(found))
    assert not remaining  # updates only
