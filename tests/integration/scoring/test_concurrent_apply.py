"""Two consumers applying the same records at once (as during a rebalance) count each event once — also for
dossiers seen for the first time, which have no row to lock until one of them claims it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg
import orjson

from services.scoring.adapters.units import UnitDirectory
from services.scoring.applier import BatchApplier
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


def batch(prefix: str, dossiers: int) -> list[Record]:
    records: list[Record] = []
    for n in range(dossiers):
        dossier = f"{prefix}-D{n}"
        for kind, extra in (("received", {"channel": "online", "due_at": "2026-09-10T17:00:00+07:00"}),
                            ("payment", {"method": "online", "amount": 1000})):  # fmt: skip
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
