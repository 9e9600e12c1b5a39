"""The counter audit (services/scoring/service/recompute.py) on a hand-written fake of its store."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime

import pytest

from services.scoring.domain.counters import CounterKey, add_into, contribution
from services.scoring.domain.state import DossierState
from services.scoring.domain.timebase import to_instant
from services.scoring.service.recompute import compare, fix
from tests.unit.scoring.builders import fact, received
from tests.unit.scoring.events import merge
from tests.unit.scoring.fakes import OCTOBER, SEPTEMBER

pytestmark = pytest.mark.unit


class FakeSnapshot:
    def __init__(self, store: FakeAuditStore) -> None:
        self._store = store

    async def counter_table(self) -> dict[CounterKey, int]:
        return {key: value for key, value in self._store.table.items() if value}

    async def dossiers(self) -> AsyncIterator[tuple[str, DossierState, str]]:
        for dossier_id, (state, month) in sorted(self._store.dossiers.items()):
            yield dossier_id, state, month


class FakeAuditStore:
    def __init__(self, dossiers: dict[str, tuple[DossierState, str]], table: dict[CounterKey, int]) -> None:
        self.dossiers = dossiers
        self.table = table
        self.rewrites = 0

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[FakeSnapshot]:
        yield FakeSnapshot(self)

    async def rewrite(self, counters: Mapping[CounterKey, int], stale_dossiers: Sequence[str], month: str) -> None:
        self.rewrites += 1
        self.table = dict(counters)
        for dossier_id in stale_dossiers:
            self.dossiers[dossier_id] = (self.dossiers[dossier_id][0], month)


def open_and_closed() -> dict[str, tuple[DossierState, str]]:
    open_one = merge([received("a", "2026-09-02 09:00", "2026-09-30 17:00", dossier="A")])
    closed = merge([received("b", "2026-09-02 09:00", "2026-09-10 17:00", dossier="B"),
                    fact("b2", "resolved", "2026-09-05 09:00", dossier="B", outcome="approved")])  # fmt: skip
    return {"A": (open_one, "2026-09"), "B": (closed, "2026-09")}


def table_of(dossiers: dict[str, tuple[DossierState, str]], now: datetime) -> dict[CounterKey, int]:
    out: dict[CounterKey, int] = {}
    for state, _ in dossiers.values():
        add_into(out, contribution(state, to_instant(now)))
    return out


async def test_a_table_kept_by_the_consumer_agrees_with_both_rebuilt_views() -> None:
    dossiers = open_and_closed()
    result = await compare(FakeAuditStore(dossiers, table_of(dossiers, SEPTEMBER)), SEPTEMBER)
    assert result.dossiers == 2 and result.consistent
    assert result.stale == []


async def test_a_lost_increment_shows_between_the_table_and_the_stored_contributions() -> None:
    dossiers = open_and_closed()
    table = table_of(dossiers, SEPTEMBER)
    table[("U1", "2026-09", "received")] -= 1
    result = await compare(FakeAuditStore(dossiers, table), SEPTEMBER)
    assert result.lost() == {("U1", "2026-09", "received"): (1, 2)}
    assert result.stale_keys() == {} and not result.consistent


async def test_an_open_dossier_not_rolled_over_is_stale_and_fix_moves_it_and_rewrites_the_table() -> None:
    dossiers = open_and_closed()
    store = FakeAuditStore(dossiers, table_of(dossiers, SEPTEMBER))
    result = await compare(store, OCTOBER)  # the roll-over has not run yet
    assert result.lost() == {}
    assert [dossier_id for dossier_id, _, _ in result.stale] == ["A"]
    await fix(store, result, OCTOBER)
    assert store.rewrites == 1
    assert store.dossiers["A"][1] == "2026-10" and store.dossiers["B"][1] == "2026-09"
    assert (await compare(store, OCTOBER)).consistent
