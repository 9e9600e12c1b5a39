"""Applying a batch of events to stored dossiers: the pure core of the scoring consumer.

For every dossier the batch touches: merge the new facts into the stored state (order-independent, idempotent by
event_id), recompute the dossier's contribution, and add ``new − stored`` to the counter table — expanded to every
ancestor, because a unit's figures cover its subtree (SPEC §1). A batch made only of duplicates changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.scoring.domain.counters import (
    ALL_PARTS,
    Contribution,
    CounterKey,
    add_record_counts,
    add_state_counts,
    changed_parts,
    contribution,
    contribution_delta,
)
from services.scoring.domain.facts import FactRecord
from services.scoring.domain.state import DossierState, merge_changes
from services.scoring.domain.tally import CounterTally
from services.scoring.domain.timebase import Instant, month_label, month_of, month_start, parse_month, to_instant


class StoredDossier:
    """A dossier as stored: its state and the instant its contribution to the counter table was evaluated at (the
    start of its evaluated month). The contribution itself is computed when asked for: applying a batch needs only
    the part its new events change (see BatchApplication._apply_one)."""

    __slots__ = ("_contribution", "evaluated_at", "state", "stored_form")

    def __init__(self, state: DossierState, evaluated_at: Instant, stored_form: str | None = None) -> None:
        self.state = state
        self.evaluated_at = evaluated_at
        # The state as the row holds it (the adapter's encoding), when loaded from one: a change that only appends
        # records is written by extending it rather than encoding every record again (DossierChange.appended).
        self.stored_form = stored_form
        self._contribution: Contribution | None = None

    @property
    def contribution(self) -> Contribution:
        """What this dossier added to the counter table when its row was written."""
        if self._contribution is None:
            self._contribution = contribution(self.state, self.evaluated_at)
        return self._contribution


class StoredDossierLoader:
    """Rebuilds stored dossiers from (state, evaluated month): the row does not carry its contribution, because
    ``contribution`` depends on now only through month(now) — evaluated in the same month, the same state gives
    back exactly what was added when the row was written."""

    def __init__(self) -> None:
        self._month_instants: dict[str, Instant] = {}

    def load(self, state: DossierState, evaluated_month: str, stored_form: str | None = None) -> StoredDossier:
        instant = self._month_instants.get(evaluated_month)
        if instant is None:
            instant = self._month_instants[evaluated_month] = month_start(parse_month(evaluated_month))
        return StoredDossier(state, instant, stored_form)


class DossierChange:
    """A dossier whose state changed in this batch, the month it was evaluated in (open dossiers are rolled into
    each new month) and, computed when asked for, the contribution it now makes."""

    __slots__ = ("_contribution", "_evaluated_at", "appended", "created", "evaluated_month", "state", "stored_form")

    def __init__(
        self,
        state: DossierState,
        evaluated_month: str,
        evaluated_at: Instant,
        *,
        created: bool = False,
        contribution: Contribution | None = None,
        stored_form: str | None = None,
        appended: int = 0,
    ) -> None:
        self.state = state
        self.evaluated_month = evaluated_month
        # When ``appended`` > 0: the state's records are those of ``stored_form`` (the row as loaded) followed by
        # its last ``appended`` records, so the adapter may extend the stored form instead of encoding it anew.
        self.stored_form = stored_form
        self.appended = appended
        # created: no stored row was known when the batch was loaded, so the adapter inserts it (if another
        # consumer created the row meanwhile, ``BatchApplication.reapply_existing`` merges into that one instead).
        self.created = created
        self._evaluated_at = evaluated_at
        self._contribution = contribution

    @property
    def contribution(self) -> Contribution:
        if self._contribution is None:
            self._contribution = contribution(self.state, self._evaluated_at)
        return self._contribution


@dataclass
class BatchOutcome:
    changes: list[DossierChange] = field(default_factory=list)
    counter_delta: dict[CounterKey, int] = field(default_factory=dict)
    """What to add to the stored (unit, month, counter) sums, ancestors included; no zero entries."""
    touched_units: set[str] = field(default_factory=set)
    """Units (ancestors included) whose monthly or live figures may have changed."""
    duplicates: int = 0
    """Events that changed nothing (an event_id already applied with an earlier or equal ingested_at)."""


class AncestorLookup:
    """Caches each unit's chain up to the city; unknown units map to themselves only."""

    def __init__(self, parent_of: Mapping[str, str | None]) -> None:
        self._parent_of = parent_of
        self._chains: dict[str, tuple[str, ...]] = {}

    def chain(self, unit_id: str) -> tuple[str, ...]:
        """The unit itself, then its parent, … up to the city."""
        cached = self._chains.get(unit_id)
        if cached is not None:
            return cached
        chain: list[str] = []
        current: str | None = unit_id
        while current is not None and current not in chain:
            chain.append(current)
            current = self._parent_of.get(current)
        result = tuple(chain)
        self._chains[unit_id] = result
        return result


def expand(delta: Mapping[CounterKey, int], ancestors: AncestorLookup, into: dict[CounterKey, int]) -> None:
    """Add every non-zero entry of ``delta`` to its unit and the unit's ancestors in ``into``; entries of ``into``
    that reach zero are removed."""
    chain = ancestors.chain
    get = into.get
    for (unit, month, name), value in delta.items():
        if not value:
            continue
        for owner in chain(unit):
            key = (owner, month, name)
            total = get(key, 0) + value
            if total:
                into[key] = total
            else:
                del into[key]


def apply_records(
    records: Iterable[tuple[str, FactRecord]],
    stored: Mapping[str, StoredDossier],
    *,
    now: datetime | Instant,
    ancestors: AncestorLookup,
) -> BatchOutcome:
    """Merge a batch of (dossier_id, record) pairs into the stored dossiers it touches (``stored`` holds those
    that exist)."""
    by_dossier, count = group_by_dossier(records)
    application = BatchApplication(stored, now=now, ancestors=ancestors, events=count)
    application.apply(by_dossier.items())
    return application.outcome()


def group_by_dossier(records: Iterable[tuple[str, FactRecord]]) -> tuple[dict[str, list[FactRecord]], int]:
    """The records of each dossier (in arrival order), and how many records there were."""
    by_dossier: dict[str, list[FactRecord]] = {}
    count = 0
    for dossier_id, record in records:
        by_dossier.setdefault(dossier_id, []).append(record)
        count += 1
    return by_dossier, count


class BatchApplication:
    """One batch applied in as many parts as the caller likes (the consumer writes each part's changes while it
    computes the next); the outcome is the same as applying the whole batch at once.

    Every dossier must come in exactly one part (with all its records of the batch); ``events`` is the number
    of records in the whole batch.
    """

    def __init__(
        self, stored: Mapping[str, StoredDossier], *, now: datetime | Instant, ancestors: AncestorLookup, events: int
    ) -> None:
        self._stored = stored
        self._now = now if isinstance(now, int) else to_instant(now)
        self._month = month_label(month_of(self._now))
        self._month_start = month_start(month_of(self._now))
        self._ancestors = ancestors
        self._events = events
        self._distinct_new = 0
        # Per changed dossier, its new contribution is added and its stored one subtracted, as rows of sums
        # (domain/tally.py); ``outcome`` adds them into the own delta, whose zeros ``expand`` drops once — the
        # same table as dropping them after every dossier.
        self._tally = CounterTally()
        self._own_delta: dict[CounterKey, int] = {}
        self._units_seen: set[str] = set()
        self._changes: list[DossierChange] = []
        self._touched: set[str] = set()
        self._created: dict[str, DossierChange] = {}
        self._superseded: set[int] = set()  # ids of changes replaced by reapply_existing

    def apply(self, part: Iterable[tuple[str, Sequence[FactRecord]]]) -> list[DossierChange]:
        """Merge and count the dossiers of one part; returns the changes to write for it."""
        stored, apply_one, created = self._stored, self._apply_one, self._created
        changes: list[DossierChange] = []
        for dossier_id, dossier_records in part:
            change = apply_one(dossier_id, dossier_records, stored.get(dossier_id))
            if change is not None:
                changes.append(change)
                if change.created:
                    created[dossier_id] = change
        self._changes.extend(changes)
        return changes

    def reapply_existing(self, found: Mapping[str, StoredDossier]) -> list[DossierChange]:
        """Dossiers this batch took for new exist after all: another consumer created them after the batch was
        loaded (during a rebalance two consumers can hold the same records). Undo what was counted for each as a
        new dossier and merge the same records into the row that exists (``found``, locked by the caller).
        Returns the changes to write for them (all updates of existing rows)."""
        tally = self._tally
        changes: list[DossierChange] = []
        for dossier_id, previous in found.items():
            assumed = self._created.pop(dossier_id)
            self._superseded.add(id(assumed))
            # Taken back exactly as _apply_one counted it for a new dossier: every record, every part, at now.
            add_record_counts(tally, assumed.state.records, -1)
            add_state_counts(tally, assumed.state, self._now, -1)
            self._distinct_new -= len(assumed.state.records)
            # The winning copies of this batch's records merge into the row exactly as the records would.
            change = self._apply_one(dossier_id, assumed.state.records, previous)
            if change is not None:
                changes.append(change)
        self._changes.extend(changes)
        return changes

    def _apply_one(
        self, dossier_id: str, dossier_records: Sequence[FactRecord], previous: StoredDossier | None
    ) -> DossierChange | None:
        """Merge one dossier and add ``new − stored`` contribution to the own delta, counting only what changed:
        the records gained minus the copies they replaced (a record's own counts depend on it alone), and the
        state's derived counts only when their inputs or the evaluated month differ."""
        merged = merge_changes(dossier_id, dossier_records, previous.state if previous is not None else None)
        if merged is None:
            return None
        state, gained, replaced = merged
        tally, now = self._tally, self._now
        add_record_counts(tally, gained, 1)
        units_seen = self._units_seen
        # A batch touches each unit many times; its ancestors need adding once (a membership test per record is
        # cheaper than building the dossier's set of units).
        for record in state.records:
            if record.unit_id not in units_seen:
                self._see(record.unit_id)
        if previous is None:
            self._distinct_new += len(gained)
            add_state_counts(tally, state, now, 1, ALL_PARTS)
        else:
            self._distinct_new += len(gained) - len(replaced)
            if replaced:
                add_record_counts(tally, replaced, -1)
                for record in replaced:
                    if record.unit_id not in units_seen:
                        self._see(record.unit_id)
            stored = previous.state
            parts = changed_parts(stored, state, previous.evaluated_at == self._month_start)
            if parts:
                add_state_counts(tally, state, now, 1, parts)
                add_state_counts(tally, stored, previous.evaluated_at, -1, parts)
        if previous is None:
            return DossierChange(state, self._month, now, created=True)
        return DossierChange(state, self._month, now, stored_form=previous.stored_form,
                             appended=_appended(previous.state, state, replaced))  # fmt: skip

    def _see(self, unit: str) -> None:
        self._units_seen.add(unit)
        self._touched.update(self._ancestors.chain(unit))

    def outcome(self) -> BatchOutcome:
        """Everything applied so far: all changes, the counter delta expanded to ancestors, touched units."""
        superseded = self._superseded
        changes = [change for change in self._changes if id(change) not in superseded] if superseded else self._changes
        outcome = BatchOutcome(changes=list(changes), touched_units=set(self._touched))
        self._tally.add_into(self._own_delta)
        expand(self._own_delta, self._ancestors, outcome.counter_delta)
        outcome.duplicates = self._events - self._distinct_new
        return outcome


def _appended(stored: DossierState, state: DossierState, replaced: Sequence[FactRecord]) -> int:
    """How many records ``state`` adds after all of ``stored``'s, kept in place — 0 when a merge replaced a copy or
    put a record before a stored one. Records are distinct and sorted: the stored last record still sits at its old
    index only when no new record sorts before it."""
    kept = len(stored.records)
    if replaced or not kept or state.records[kept - 1] is not stored.records[-1]:
        return 0
    return len(state.records) - kept


def roll_over(
    stored: Mapping[str, StoredDossier], *, now: datetime | Instant, ancestors: AncestorLookup
) -> BatchOutcome:
    """Re-evaluate open dossiers in the month of ``now`` (run when the calendar month changes)."""
    now_instant = now if isinstance(now, int) else to_instant(now)
    current_month = month_label(month_of(now_instant))
    outcome = BatchOutcome()
    own_delta: dict[CounterKey, int] = {}
    for previous in stored.values():
        new_contribution = contribution(previous.state, now_instant)
        delta = contribution_delta(previous.contribution, new_contribution)
        for key, value in delta.items():
            own_delta[key] = own_delta.get(key, 0) + value
        outcome.changes.append(DossierChange(previous.state, current_month, now_instant, contribution=new_contribution))
        if delta and previous.state.home_unit is not None:
            outcome.touched_units.update(ancestors.chain(previous.state.home_unit))
    expand({k: v for k, v in own_delta.items() if v}, ancestors, outcome.counter_delta)
    return outcome
