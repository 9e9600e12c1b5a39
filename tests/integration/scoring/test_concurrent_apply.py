"""Two consumers applying the same records at once (as during a rebalance) count each event once — also for
dossiers seen for the first time, which have no row to lock: the second consumer's insert waits for the first,
finds the row created and merges its own records into it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import orjson

from services.scoring.adapters.units import UnitDirectory
from services.scoring.applier import BatchApplier
from services.scoring.recompute import Comparison, compare
from shared.db import create_pool
from tests.integration.conftest import unique
from tests.integration.scoring.harness import prepare_database


@dataclass
class Record:
    value: bytes
    key: bytes
    offset: int
    topic: str = "dossier-events"
    partition: int = 0
    timestamp: int = 1_790_000_000_000


KINDS = {
    "received": {"channel": "online", "due_at": "2026-09-10T17:00:00+07:00"},
    "payment": {"method": "online", "amount": 1000},
    "resolved": {"outcome": "approved", "e_result": True},
}


def batch(prefix: str, dossiers: int, kinds: tuple[str, ...] = ("received", "payment")) -> list[Record]:
    records: list[Record] = []
    for n in range(dossiers):
        dossier = f"{prefix}-D{n}"
        for kind in kinds:
            extra = KINDS[kind]
            event = {"event_id": f"{dossier}-{kind}", "dossier_id": dossier, "unit_id": f"{prefix}.STP",
                     "type": kind, "occurred_at": "2026-09-02T09:00:00+07:00",
                     "ingested_at": "2026-09-02T02:00:00Z", **extra}  # fmt: skip
            records.append(Record(orjson.dumps(event), dossier.encode(), len(records)))
    return records


async def test_two_appliers_racing_on_new_dossiers_count_every_event_once(fresh_database: str) -> None:
    prefix = unique("c").replace("-", "")
    await prepare_database(fresh_database, prefix)
    pools = [await create_pool(fresh_database, max_size=2) for _ in range(2)]
    try:
        appliers = []
        for pool in pools:
            directory = UnitDirectory(pool)
            await directory.load()

            async def no_dead_letters(_: object) -> None:
                raise AssertionError("no record here is invalid")

            appliers.append(BatchApplier(pool, directory, no_dead_letters))
        records = batch(prefix, 500)
        reports = await asyncio.gather(*(applier.apply(records) for applier in appliers))
        assert sorted(r.applied for r in reports) == [0, len(records)]

        conn = await asyncpg.connect(fresh_database)
        try:
            events = await conn.fetchval(
                "SELECT value FROM unit_month_counters WHERE unit_id = $1 AND month = '2026-09' AND counter = 'events'",
                f"{prefix}.H26",
            )
            placeholders = await conn.fetchval("SELECT count(*) FROM dossiers WHERE evaluated_month = ''")
        finally:
            await conn.close()
        assert events == len(records)
        assert placeholders == 0
    finally:
        for pool in pools:
            await pool.close()


async def test_two_appliers_with_different_events_of_the_same_new_dossiers_end_with_their_union(
    fresh_database: str,
) -> None:
    prefix = unique("u").replace("-", "")
    await prepare_database(fresh_database, prefix)
    pools = [await create_pool(fresh_database, max_size=2) for _ in range(2)]
    try:
        appliers = []
        for pool in pools:
            directory = UnitDirectory(pool)
            await directory.load()

            async def no_dead_letters(_: object) -> None:
                raise AssertionError("no record here is invalid")

            appliers.append(BatchApplier(pool, directory, no_dead_letters))
        # Both see the receipts; only one sees the payments, only the other the resolutions.
        first, second = batch(prefix, 400, ("received", "payment")), batch(prefix, 400, ("received", "resolved"))
        reports = await asyncio.gather(appliers[0].apply(first), appliers[1].apply(second))
        assert sum(r.applied for r in reports) == 400 * 3

        conn = await asyncpg.connect(fresh_database)
        try:
            rows = await conn.fetch(
                "SELECT counter, value FROM unit_month_counters WHERE unit_id = $1 AND month = '2026-09'",
                f"{prefix}.H26",
            )
        finally:
            await conn.close()
        counters = {row["counter"]: row["value"] for row in rows}
        assert counters["events"] == 1200
        assert counters["received"] == counters["payments"] == counters["resolved"] == 400
        comparison = await compare(pools[0], datetime.now(UTC))
        assert comparison.dossiers == 400
        assert Comparison.differences(comparison.table, comparison.stored) == {}
        assert Comparison.differences(comparison.stored, comparison.rebuilt) == {}
    finally:
        for pool in pools:
            await pool.close()
