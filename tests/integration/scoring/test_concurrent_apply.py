"""Two consumers applying the same records at once (as during a rebalance) count each event once — also for
dossiers seen for the first time, which have no row to lock: the second consumer's insert waits for the first,
finds the row created and merges its own records into it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import orjson

from services.scoring.adapters.audit_store import PostgresCounterAudit
from services.scoring.service.recompute import Comparison, compare
from shared.db import create_pool
from tests.integration.conftest import unique
from tests.integration.registry import subtree_counter, subtree_counters
from tests.integration.scoring.harness import RawRecord, in_process_appliers, prepare_database

KINDS = {
    "received": {"channel": "online", "due_at": "2026-09-10T17:00:00+07:00"},
    "payment": {"method": "online", "amount": 1000},
    "resolved": {"outcome": "approved", "e_result": True},
}


def batch(prefix: str, dossiers: int, kinds: tuple[str, ...] = ("received", "payment")) -> list[RawRecord]:
    records: list[RawRecord] = []
    for n in range(dossiers):
        dossier = f"{prefix}-D{n}"
        for kind in kinds:
            extra = KINDS[kind]
            event = {"event_id": f"{dossier}-{kind}", "dossier_id": dossier, "unit_id": f"{prefix}.STP",
                     "type": kind, "occurred_at": "2026-09-02T09:00:00+07:00",
                     "ingested_at": "2026-09-02T02:00:00Z", **extra}  # fmt: skip
            records.append(RawRecord(orjson.dumps(event), dossier.encode(), len(records)))
    return records


async def test_two_appliers_racing_on_new_dossiers_count_every_event_once(fresh_database: str) -> None:
    prefix = unique("c").replace("-", "")
    await prepare_database(fresh_database, prefix)
    async with in_process_appliers(fresh_database, 2) as appliers:
        records = batch(prefix, 500)
        reports = await asyncio.gather(*(applier.apply(records) for applier in appliers))
        assert sorted(r.applied for r in reports) == [0, len(records)]

        conn = await asyncpg.connect(fresh_database)
        try:
            events = await subtree_counter(conn, f"{prefix}.H26", "2026-09", "events")
            placeholders = await conn.fetchval("SELECT count(*) FROM dossiers WHERE evaluated_month = ''")
        finally:
            await conn.close()
        assert events == len(records)
        assert placeholders == 0


async def test_two_appliers_with_different_events_of_the_same_new_dossiers_end_with_their_union(
    fresh_database: str,
) -> None:
    prefix = unique("u").replace("-", "")
    await prepare_database(fresh_database, prefix)
    async with in_process_appliers(fresh_database, 2) as appliers:
        # Both see the receipts; only one sees the payments, only the other the resolutions.
        first, second = batch(prefix, 400, ("received", "payment")), batch(prefix, 400, ("received", "resolved"))
        reports = await asyncio.gather(appliers[0].apply(first), appliers[1].apply(second))
        assert sum(r.applied for r in reports) == 400 * 3

        conn = await asyncpg.connect(fresh_database)
        try:
            counters = await subtree_counters(conn, f"{prefix}.H26", "2026-09")
        finally:
            await conn.close()
        assert counters["events"] == 1200
        assert counters["received"] == counters["payments"] == counters["resolved"] == 400
    pool = await create_pool(fresh_database, max_size=2)
    try:
        comparison = await compare(PostgresCounterAudit(pool), datetime.now(UTC))
    finally:
        await pool.close()
    assert comparison.dossiers == 400
    assert Comparison.differences(comparison.table, comparison.stored) == {}
    assert Comparison.differences(comparison.stored, comparison.rebuilt) == {}
