"""Applying a batch of events to stored dossiers: the pure core of the scoring consumer.

For every dossier the batch touches: merge the new facts into the stored state (order-independent, idempotent by
event_id), recompute the dossier's contribution, and add ``new − stored`` to the counter table — expanded to every
ancestor, because a unit's figures cover its subtree (SPEC §1). A batch made only of duplicates changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from services.scoring.domain.counters import (
    Contribution,
    CounterKey,
    contribution,
    contribution_delta,
)
from services.scoring.domain.facts import EventFact
from services.scoring.domain.state import DossierState, merge
from services.scoring.domain.timebase import Instant, month_label, month_of, to_instant

ContributionRows = list[list[object]]
"""A contribution as stored (JSON): ``[[unit_id, month, counter, n], ...]`` sorted."""


def contribution_to_rows(table: Mapping[CounterKey, int]) -> ContributionRows:
    return [[unit, month, name, value] for (unit, month, name), value in sorted(table.items())]


def contribution_from_rows(rows: Iterable[list[object]]) -> Contribution:
    return {(str(unit), str(month), str(name)): int(value) for unit, month, name, value in rows}  # type: ignore[call-overload]


@dataclass(frozen=True, slots=True)
class StoredDossier:
    state: DossierState
    contribution: Contribution


@dataclass(frozen=True, slots=True)
class DossierChange:
    """A dossier whose state changed in this batch, with the contribution it now makes and the month it was
    evaluated in (open dossiers are rolled into each new month)."""

    state: DossierState
    contribution: Contribution
    evaluated_month: str


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
    for (unit, month, name), value in delta.items():
        for owner in ancestors.chain(unit):
            key = (owner, month, name)
            total = into.get(key, 0) + value
            if total:
                into[key] = total
            else:
                into.pop(key, None)


def _units_of(state: DossierState) -> set[str]:
    return {record.unit_id for record in state.records}


def apply_facts(
    facts: Iterable[EventFact],
    stored: Mapping[str, StoredDossier],
    *,
    now: datetime | Instant,
    ancestors: AncestorLookup,
) -> BatchOutcome:
    """Merge a batch of facts into the stored dossiers it touches (``stored`` holds those that exist)."""
    now_instant = now if isinstance(now, int) else to_instant(now)
    current_month = month_label(month_of(now_instant))
    by_dossier: dict[str, list[EventFact]] = {}
    count = 0
    for fact in facts:
        by_dossier.setdefault(fact.dossier_id, []).append(fact)
        count += 1

    outcome = BatchOutcome()
    own_delta: dict[CounterKey, int] = {}
    distinct_new = 0
    for dossier_id, dossier_facts in by_dossier.items():
        previous = stored.get(dossier_id)
        base = previous.state if previous is not None else None
        state = merge(dossier_facts, base)
        if previous is not None and state is base:
            continue
        distinct_new += len(state.records) - (len(base.records) if base is not None else 0)
        new_contribution = contribution(state, now_instant)
        delta = contribution_delta(previous.contribution if previous else None, new_contribution)
        for key, value in delta.items():
            total = own_delta.get(key, 0) + value
            if total:
                own_delta[key] = total
            else:
                own_delta.pop(key, None)
        outcome.changes.append(DossierChange(state, new_contribution, current_month))
        units = _units_of(state)
        if base is not None:
            units |= _units_of(base)
        for unit in units:
            outcome.touched_units.update(ancestors.chain(unit))
    expand(own_delta, ancestors, outcome.counter_delta)
    outcome.duplicates = count - distinct_new
    return outcome


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
        outcome.changes.append(DossierChange(previous.state, new_contribution, current_month))
        if delta and previous.state.home_unit is not None:
            outcome.touched_units.update(ancestors.chain(previous.state.home_unit))
    expand({k: v for k, v in own_delta.items() if v}, ancestors, outcome.counter_delta)
    return outcome
