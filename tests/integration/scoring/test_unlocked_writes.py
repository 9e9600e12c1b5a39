"""A batch's dossiers are loaded without row locks and each is updated only at the version loaded (its xmin;
services/scoring/adapters/store.py): two transactions interleaved on the real database, as two consumers holding
the same records during a rebalance. The one that writes second is refused (WriteConflict) — whether the other had
committed before it wrote or it had to wait for the other's commit — and is not refused when the other rolled back;
the use case then applies its batch again with row locks and every event counts once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg
import orjson
import pytest

from services.scoring.adapters.audit_store import PostgresCounterAudit
from services.scoring.adapters.store import PostgresWriteStore
from services.scoring.domain.apply import AncestorLookup, DossierChange, StoredDossier, apply_records
from services.scoring.domain.facts import PAYMENT, RESOLVED, FactRecord, make_record
from services.scoring.domain.state import DossierState
from services.scoring.service.ports import WriteConflict
from services.scoring.service.recompute import Comparison, compare
from shared.db import create_pool
from tests.integration.conftest import unique
from tests.integration.registry import subtree_counters
from tests.integration.scoring.harness import in_process_appliers, prepare_database
from tests.integration.scoring.test_concurrent_apply import batch

NOW = datetime(2026, 9, 20, 3, tzinfo=UTC)
OCCURRED = 1_788_400_000_000_000  # 2026-09-03, after the receipts of test_concurrent_apply.batch


def merged(stored: dict[str, StoredDossier], kind: str, unit: str) -> Sequence[DossierChange]:
    """The changes of one more event (a payment or a resolution) for every stored dossier."""
    facts: list[tuple[str, FactRecord]] = []
    for dossier_id in stored:
        fields = {"method": "online", "amount": 1000} if kind == PAYMENT else {"outcome": "approved"}
        facts.append((dossier_id, make_record(f"{dossier_id}-{kind}", kind, unit, OCCURRED, OCCURRED + 10, None,
                                              None, None, None, None, fields.get("outcome"), None,
                                              fields.get("method"), fields.get("amount"), None)))  # fmt: skip
    changes = apply_records(facts, stored, now=NOW, ancestors=AncestorLookup({})).changes
    assert len(changes) == len(stored)
    return changes


async def stored_events(url: str, ids: list[str]) -> dict[str, set[str]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT dossier_id, state FROM dossiers WHERE dossier_id = ANY($1::text[])", ids)
    finally:
        await conn.close()
    return {r[0]: {f.event_id for f in DossierState.from_dict(orjson.loads(r[1])).records} for r in rows}


async def prepared(url: str, dossiers: int) -> tuple[str, list[str]]:
    """A database whose dossiers have their receipts (written by the applier); their ids."""
    prefix = unique("x").replace("-", "")
    await prepare_database(url, prefix)
    async with in_process_appliers(url, 1) as (applier,):
        await applier.apply(batch(prefix, dossiers, ("received",)))
    return prefix, [f"{prefix}-D{n}" for n in range(dossiers)]


# A payment changes the state alone (UPDATE_STATES), a resolution the small columns too (UPDATE_DOSSIERS).
@pytest.mark.parametrize(("their_kind", "my_kind"), [(PAYMENT, RESOLVED), (RESOLVED, PAYMENT)])
async def test_an_update_after_another_transaction_committed_the_same_dossiers_is_refused(
    fresh_database: str, their_kind: str, my_kind: str
) -> None:
    prefix, ids = await prepared(fresh_database, 5)
    pool = await create_pool(fresh_database, max_size=3)
    store = PostgresWriteStore(pool)
    try:
        with pytest.raises(WriteConflict):
            async with store.transaction() as mine:
                loaded = await mine.load(ids)
                async with store.transaction() as theirs:  # commits between our load and our update
                    await theirs.write_changes(merged(await theirs.load(ids), their_kind, f"{prefix}.STP"))
                await mine.write_changes(merged(loaded, my_kind, f"{prefix}.STP"))
    finally:
        await pool.close()
    events = await stored_events(fresh_database, ids)
    assert events == {i: {f"{i}-received", f"{i}-{their_kind}"} for i in ids}  # theirs, whole; nothing of ours


@pytest.mark.parametrize("theirs_end", ["commit", "rollback"])
@pytest.mark.parametrize(("their_kind", "my_kind"), [(PAYMENT, RESOLVED), (RESOLVED, PAYMENT)])
async def test_an_update_that_waited_for_another_writer_is_refused_only_if_that_writer_committed(
    fresh_database: str, theirs_end: str, their_kind: str, my_kind: str
) -> None:
    prefix, ids = await prepared(fresh_database, 5)
    unit = f"{prefix}.STP"
    pool = await create_pool(fresh_database, max_size=3)
    store = PostgresWriteStore(pool)
    try:

        async def mine_and_theirs() -> None:
            async with store.transaction() as mine:
                loaded = await mine.load(ids)
                theirs_context = store.transaction()
                theirs = await theirs_context.__aenter__()
                await theirs.write_changes(merged(await theirs.load(ids), their_kind, unit))  # locked, not committed
                writing = asyncio.ensure_future(mine.write_changes(merged(loaded, my_kind, unit)))
                await asyncio.sleep(0.5)
                assert not writing.done()  # our update waits for their row locks
                if theirs_end == "commit":
                    await theirs_context.__aexit__(None, None, None)
                else:
                    await theirs_context.__aexit__(RuntimeError, RuntimeError("theirs failed"), None)
                await writing

        if theirs_end == "commit":
            with pytest.raises(WriteConflict):
                await mine_and_theirs()
        else:
            await mine_and_theirs()  # their rows back as loaded: ours is written
    finally:
        await pool.close()
    events = await stored_events(fresh_database, ids)
    winner = their_kind if theirs_end == "commit" else my_kind
    assert events == {i: {f"{i}-received", f"{i}-{winner}"} for i in ids}


async def test_two_appliers_racing_on_existing_dossiers_end_with_their_union_counted_once(fresh_database: str) -> None:
    prefix = unique("r").replace("-", "")
    await prepare_database(fresh_database, prefix)
    async with in_process_appliers(fresh_database, 2) as appliers:
        await appliers[0].apply(batch(prefix, 600, ("received",)))
        # Each round, both appliers hold records of the same 600 existing dossiers: one the payments, the other the
        # resolutions (and the receipts again: duplicates); whoever writes second merges into the other's rows.
        first, second = batch(prefix, 600, ("received", "payment")), batch(prefix, 600, ("received", "resolved"))
        reports = await asyncio.gather(appliers[0].apply(first), appliers[1].apply(second))
        assert sorted(r.applied for r in reports) == [600, 600]
        conn = await asyncpg.connect(fresh_database)
        try:
            counters = await subtree_counters(conn, f"{prefix}.H26", "2026-09")
        finally:
            await conn.close()
        assert counters["events"] == 1800
        assert counters["received"] == counters["payments"] == counters["resolved"] == 600
    pool = await create_pool(fresh_database, max_size=2)
    try:
        comparison = await compare(PostgresCounterAudit(pool), datetime.now(UTC))
    finally:
        await pool.close()
    assert comparison.dossiers == 600
    assert Comparison.differences(comparison.table, comparison.stored) == {}
    assert Comparison.differences(comparison.stored, comparison.rebuilt) == {}
