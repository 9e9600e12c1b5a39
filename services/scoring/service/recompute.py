"""Rebuild every counter from the stored dossier states and compare it with the incrementally maintained table.

Three views are compared, key by key ((unit named on the facts, month, counter): the stored counters are each
unit's OWN, subtrees and successors are summed when read — domain/effective.py):
  table      — `unit_month_counters` as the consumer maintained it;
  stored     — the sum of every dossier's contribution evaluated in the month its row was written in (what the
               consumer added: the row keeps its state and that month, see migration 0005);
  rebuilt    — the sum of contributions recomputed from each dossier's merged events at `now`.
table ≠ stored means an increment was lost or doubled; stored ≠ rebuilt means a dossier's contribution is stale (for
open dossiers only before the month roll-over has run, or after a change of the counting rules). `fix` rewrites
the table from the rebuilt view and moves the stale dossiers to the current month, in one transaction.

Own counters do not depend on the registry, so a unit moved, merged or retired changes nothing here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from services.scoring.domain.apply import StoredDossierLoader
from services.scoring.domain.counters import CounterKey, add_into, contribution
from services.scoring.domain.state import DossierState
from services.scoring.domain.timebase import month_label, month_of, to_instant


class CounterSnapshot(Protocol):
    """One consistent (repeatable-read) view of the counter table and the dossiers."""

    async def counter_table(self) -> dict[CounterKey, int]:
        """The non-zero entries of the counter table."""
        ...

    def dossiers(self) -> AsyncIterator[tuple[str, DossierState, str]]:
        """(dossier_id, state, evaluated month) of every stored dossier."""
        ...


class CounterAuditStore(Protocol):
    def snapshot(self) -> AbstractAsyncContextManager[CounterSnapshot]: ...

    async def rewrite(self, counters: Mapping[CounterKey, int], stale_dossiers: Sequence[str], month: str) -> None:
        """In one transaction: replace the counter table by `counters`, move these dossiers to `month`."""
        ...


@dataclass
class Comparison:
    dossiers: int = 0
    table: dict[CounterKey, int] = field(default_factory=dict)
    stored: dict[CounterKey, int] = field(default_factory=dict)
    rebuilt: dict[CounterKey, int] = field(default_factory=dict)
    stale: list[tuple[str, str, dict[CounterKey, int]]] = field(default_factory=list)

    @staticmethod
    def differences(a: Mapping[CounterKey, int], b: Mapping[CounterKey, int]) -> dict[CounterKey, tuple[int, int]]:
        return {k: (a.get(k, 0), b.get(k, 0)) for k in set(a) | set(b) if a.get(k, 0) != b.get(k, 0)}

    def lost(self) -> dict[CounterKey, tuple[int, int]]:
        """Keys where the table differs from the stored contributions (an increment lost or doubled)."""
        return self.differences(self.table, self.stored)

    def stale_keys(self) -> dict[CounterKey, tuple[int, int]]:
        """Keys where the stored contributions differ from the ones rebuilt from the events."""
        return self.differences(self.stored, self.rebuilt)

    @property
    def consistent(self) -> bool:
        return not self.lost() and not self.stale_keys()


async def compare(store: CounterAuditStore, now: datetime) -> Comparison:
    result = Comparison()
    now_instant = to_instant(now)
    loader = StoredDossierLoader()
    async with store.snapshot() as snapshot:
        result.table = await snapshot.counter_table()
        async for dossier_id, state, evaluated_month in snapshot.dossiers():
            result.dossiers += 1
            stored = loader.load(state, evaluated_month).contribution
            fresh = contribution(state, now_instant)
            add_into(result.stored, stored)
            add_into(result.rebuilt, fresh)
            if stored != fresh:
                result.stale.append((dossier_id, state.dossier_id, fresh))
    return result


async def fix(store: CounterAuditStore, result: Comparison, now: datetime) -> None:
    """Rewrite the counters from the rebuilt view; the stale dossiers are now evaluated in the current month."""
    month = month_label(month_of(to_instant(now)))
    await store.rewrite(result.rebuilt, [dossier_id for dossier_id, _, _ in result.stale], month)
