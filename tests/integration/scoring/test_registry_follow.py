"""A unit moved to another parent in the registry carries its counted history to its new ancestors, exactly as a
`recompute` from the dossiers would, and a consumer that still had the old tree in memory counts later events
on the new one."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import orjson

from services.scoring.adapters.units import UnitDirectory
from services.scoring.applier import BatchApplier
from services.scoring.recompute import Comparison, compare
from shared.db import create_pool
from tests.integration.conftest import unique
from tests.integration.scoring.harness import RawRecord, no_dead_letters, prepare_database


def receipts(unit: str, dossiers: list[str]) -> list[RawRecord]:
    return [
        RawRecord(
            orjson.dumps({"event_id": f"{d}-rcv", "dossier_id": d, "unit_id": unit, "type": "received",
                          "occurred_at": "2026-09-02T09:00:00+07:00", "ingested_at": "2026-09-02T02:00:00Z",
                          "channel": "online", "due_at": "2026-09-10T17:00:00+07:00"}),
            d.encode(),
            n,
        )
        for n, d in enumerate(dossiers)
    ]  # fmt: skip


async def received(conn: asyncpg.Connection, unit: str) -> int:
    value = await conn.fetchval(
        "SELECT value FROM unit_month_counters WHERE unit_id = $1 AND month = '2026-09' AND counter = 'received'", unit
    )
    return int(value or 0)


async def test_moving_a_commune_re_rolls_its_history_and_later_events_follow_the_new_tree(
    fresh_database: str,
) -> None:
    p = unique("m").replace("-", "")
    await prepare_database(fresh_database, p)
    pool = await create_pool(fresh_database, max_size=3)
    other_pool = await create_pool(fresh_database, max_size=2)
    conn = await asyncpg.connect(fresh_database)
    try:
        directory = UnitDirectory(pool)
        await directory.load()
        applier = BatchApplier(pool, directory, no_dead_letters)
        await applier.apply(receipts(f"{p}.BD.PX", [f"{p}-X{n}" for n in range(3)]))
        await applier.apply(receipts(f"{p}.BV.TT", [f"{p}-T{n}" for n in range(2)]))
        assert [await received(conn, u) for u in (f"{p}.BD", f"{p}.BV", f"{p}.H26")] == [3, 2, 5]

        # The registry moves Phúc Xá from Ba Đình to Ba Vì (as ingest's registry upsert writes it).
        await conn.execute(
            "UPDATE units SET parent_id = $2, path = $3 WHERE unit_id = $1",
            f"{p}.BD.PX", f"{p}.BV", [f"{p}.H26", f"{p}.BV", f"{p}.BD.PX"],
        )  # fmt: skip
        # Another scoring process notices first and re-rolls; this one still holds the old tree in memory.
        other = UnitDirectory(other_pool)
        assert await other.load() is True
        assert await other.load() is False  # nothing left to do
        assert [await received(conn, u) for u in (f"{p}.BD", f"{p}.BV", f"{p}.BD.PX", f"{p}.H26")] == [0, 5, 3, 5]
        assert directory.ancestors.chain(f"{p}.BD.PX")[1] == f"{p}.BD"  # stale, until its next batch

        await applier.apply(receipts(f"{p}.BD.PX", [f"{p}-Y0"]))
        assert [await received(conn, u) for u in (f"{p}.BD", f"{p}.BV", f"{p}.BD.PX", f"{p}.H26")] == [0, 6, 4, 6]

        comparison = await compare(pool, datetime.now(UTC))
        assert comparison.dossiers == 6
        assert Comparison.differences(comparison.table, comparison.stored) == {}
        assert Comparison.differences(comparison.stored, comparison.rebuilt) == {}
    finally:
        await conn.close()
        await pool.close()
        await other_pool.close()
